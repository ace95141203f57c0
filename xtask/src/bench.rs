//! `cargo xtask bench`: imp against Debian's start-stop-daemon, busybox's, daemonize
//! and a floor in C (`xtask/bench/floor.c`: fork, setsid, fork, lock, exec), on the
//! same work: start `sleep` as a daemon with a pidfile, stop it. Everything it needs is
//! in this repository; the incumbents are installed with apt-get as root.
//!
//! One run, interleaved cycle by cycle (the order rotates) so that a noisy machine
//! moves every tool alike. Per tool: start latency until the pidfile names a live pid
//! whose `/proc/PID/exe` is sleep; stop latency until that process is gone (or a
//! zombie); syscalls per start (until the daemon's execve) and per stop, at
//! `RLIMIT_NOFILE` 20,000 (`strace -f -b execve`); instructions of the control process
//! (valgrind callgrind, when installed); its peak RSS (`/usr/bin/time -f %M`); the
//! binary's size. Medians with min–max; ratios to the floor and to busybox. Writes
//! `target/bench/bench.md` and `target/bench/bench.svg`. Informational: no timed
//! assertion anywhere, and not part of `cargo xtask test`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::dist::{self, Outcome, Selection};
use crate::util::{self, thousands};

/// Programs the bench runs, and the Debian package of each.
const NEEDS: &[(&str, &str)] = &[
    ("gcc", "gcc"),
    ("musl-gcc", "musl-tools"),
    ("strace", "strace"),
    ("valgrind", "valgrind"),
    ("/usr/bin/time", "time"),
    ("busybox", "busybox-static"),
    ("daemonize", "daemonize"),
    ("/usr/sbin/start-stop-daemon", "dpkg"),
    ("prlimit", "util-linux"),
];

/// The daemon every tool starts.
const SLEEP: &str = "/bin/sleep";

/// One tool: how it starts and stops the daemon (`{P}` is the pidfile, `{PID}` the
/// daemon's pid), and the binary whose size is reported.
struct Tool {
    name: &'static str,
    start: Vec<String>,
    stop: Vec<String>,
    bin: PathBuf,
}

fn words(s: &str) -> Vec<String> {
    s.split_whitespace().map(str::to_string).collect()
}

fn tools(imp: &Path, floor: &Path) -> Vec<Tool> {
    let imp_s = imp.display();
    let floor_s = floor.display();
    vec![
        Tool {
            name: "imp",
            start: words(&format!("{imp_s} start -q -p {{P}} -- {SLEEP} 1000")),
            stop: words(&format!("{imp_s} stop -q -p {{P}}")),
            bin: imp.to_path_buf(),
        },
        Tool {
            name: "floor",
            start: words(&format!("{floor_s} start {{P}} {SLEEP} 1000")),
            stop: words(&format!("{floor_s} stop {{P}}")),
            bin: floor.to_path_buf(),
        },
        Tool {
            name: "busybox",
            start: words(&format!(
                "busybox start-stop-daemon -S -b -m -p {{P}} -x {SLEEP} -- 1000"
            )),
            stop: words("busybox start-stop-daemon -K -p {P}"),
            bin: util::which("busybox").unwrap_or_default(),
        },
        Tool {
            name: "debian",
            start: words(&format!(
                "/usr/sbin/start-stop-daemon --start --background --make-pidfile \
                 --pidfile {{P}} --exec {SLEEP} -- 1000"
            )),
            // dpkg's --stop returns at once without --retry; with it, it waits (and
            // polls): what an init script that must know the daemon is gone uses.
            stop: words(
                "/usr/sbin/start-stop-daemon --stop --pidfile {P} --retry TERM/5 --remove-pidfile",
            ),
            bin: PathBuf::from("/usr/sbin/start-stop-daemon"),
        },
        Tool {
            name: "daemonize",
            start: words(&format!("daemonize -p {{P}} {SLEEP} 1000")),
            // daemonize has no stop: the shell's `kill $(cat P)`, as its users write it.
            stop: words("kill -TERM {PID}"),
            bin: util::which("daemonize").unwrap_or_default(),
        },
    ]
}

/// The command of `argv` with `{P}` and `{PID}` filled in, run under `under` (a
/// measuring tool and its arguments; empty: as it is), its output discarded (a
/// measuring tool's stderr is kept, for `output()`).
fn command(under: &[&str], argv: &[String], pidfile: &Path, pid: u32) -> Command {
    let fill = |a: &String| {
        a.replace("{P}", &pidfile.display().to_string())
            .replace("{PID}", &pid.to_string())
    };
    let mut words = under
        .iter()
        .map(|w| w.to_string())
        .chain(argv.iter().map(fill));
    let mut c = Command::new(words.next().unwrap_or_default());
    c.args(words).stdin(Stdio::null()).stdout(Stdio::null());
    if under.is_empty() {
        c.stderr(Stdio::null());
    }
    c
}

/// The pidfile of tool `t` in `dir`, removed if a run before left it.
fn fresh_pidfile(t: &Tool, dir: &Path) -> PathBuf {
    let p = dir.join(format!("{}.pid", t.name));
    let _ = std::fs::remove_file(&p);
    p
}

/// The pid in `pidfile`, once it names a live process that runs sleep.
fn daemon(pidfile: &Path, sleep: &Path) -> Option<u32> {
    let pid: u32 = std::fs::read_to_string(pidfile).ok()?.trim().parse().ok()?;
    let exe = std::fs::read_link(format!("/proc/{pid}/exe")).ok()?;
    (exe == sleep && !gone(pid)).then_some(pid)
}

/// Whether `pid` has exited (no entry, or a zombie nobody reaped yet).
fn gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => s
            .rsplit(')')
            .next()
            .and_then(|r| r.split_whitespace().next())
            .is_none_or(|st| st == "Z" || st == "X"),
        Err(_) => true,
    }
}

/// Polls `f` every 20 µs for up to 5 s.
fn until<T>(mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(5) {
        if let Some(v) = f() {
            return Some(v);
        }
        std::thread::sleep(Duration::from_micros(20));
    }
    None
}

/// One start and stop: (start µs until sleep runs, stop µs until it is gone).
fn cycle(t: &Tool, dir: &Path, sleep: &Path) -> Option<(f64, f64)> {
    let p = fresh_pidfile(t, dir);
    let t0 = Instant::now();
    let ok = command(&[], &t.start, &p, 0).status().ok()?.success();
    let pid = until(|| daemon(&p, sleep));
    let start = t0.elapsed().as_secs_f64() * 1e6;
    let pid = match (ok, pid) {
        (true, Some(pid)) => pid,
        (_, pid) => {
            cleanup(&p, pid);
            return None;
        }
    };
    let t1 = Instant::now();
    let stopped = command(&[], &t.stop, &p, pid).status().ok()?.success();
    let gone_now = until(|| gone(pid).then_some(()));
    let stop = t1.elapsed().as_secs_f64() * 1e6;
    cleanup(&p, Some(pid));
    (stopped && gone_now.is_some()).then_some((start, stop))
}

fn cleanup(p: &Path, pid: Option<u32>) {
    if let Some(pid) = pid.filter(|&p| !gone(p)) {
        let _ = Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status();
    }
    let _ = std::fs::remove_file(p);
}

/// Syscalls of one start (every process, each until its execve of sleep) and of one
/// stop, at RLIMIT_NOFILE 20,000.
fn syscalls(t: &Tool, dir: &Path, sleep: &Path) -> Option<(u64, u64)> {
    let p = fresh_pidfile(t, dir);
    let traced = |argv: &[String], pid: u32, log: &Path| {
        let log = log.display().to_string();
        let under = [
            "prlimit",
            "--nofile=20000:20000",
            "strace",
            "-f",
            "-qq",
            "-b",
            "execve",
            "-o",
            &log,
        ];
        let mut c = command(&under, argv, &p, pid);
        c.stderr(Stdio::null());
        c.status().ok().filter(|s| s.success())
    };
    let (slog, tlog) = (
        dir.join(format!("{}.strace-start", t.name)),
        dir.join(format!("{}.strace-stop", t.name)),
    );
    traced(&t.start, 0, &slog)?;
    let pid = until(|| daemon(&p, sleep));
    let Some(pid) = pid else {
        cleanup(&p, None);
        return None;
    };
    let stop = traced(&t.stop, pid, &tlog);
    until(|| gone(pid).then_some(()));
    cleanup(&p, Some(pid));
    stop?;
    Some((count_calls(&slog)?, count_calls(&tlog)?))
}

/// The syscalls in an `strace -f -o` log: one per line that starts a call (an
/// `<... resumed>` line ends one), each process's up to and with its execve of sleep.
fn count_calls(log: &Path) -> Option<u64> {
    let text = std::fs::read_to_string(log).ok()?;
    let mut exec_seen: Vec<&str> = Vec::new();
    let mut n = 0;
    // The first execve is strace starting the command.
    let mut first = true;
    for line in text.lines() {
        let Some((pid, rest)) = line.split_once(char::is_whitespace) else {
            continue;
        };
        let rest = rest.trim_start();
        if exec_seen.contains(&pid)
            || rest.starts_with("<...")
            || rest.starts_with("+++")
            || rest.starts_with("---")
        {
            continue;
        }
        if rest.starts_with("execve(") {
            if first {
                first = false;
                continue;
            }
            if rest.contains(SLEEP) || rest.contains("/sleep\"") {
                exec_seen.push(pid);
            }
        }
        n += 1;
    }
    Some(n)
}

/// Instructions of the control process (valgrind callgrind, children not traced) for
/// one start and one stop.
fn instructions(t: &Tool, dir: &Path, sleep: &Path) -> Option<(u64, u64)> {
    let p = fresh_pidfile(t, dir);
    let counted = |argv: &[String], pid: u32| -> Option<u64> {
        let under = [
            "valgrind",
            "--tool=callgrind",
            "--trace-children=no",
            "--callgrind-out-file=/dev/null",
        ];
        let out = command(&under, argv, &p, pid).output().ok()?;
        let err = String::from_utf8_lossy(&out.stderr);
        err.lines()
            .find_map(|l| l.split("Collected :").nth(1))
            .and_then(|n| n.trim().parse().ok())
    };
    let start = counted(&t.start, 0);
    let pid = until(|| daemon(&p, sleep));
    let stop = pid.and_then(|pid| counted(&t.stop, pid));
    if let Some(pid) = pid {
        until(|| gone(pid).then_some(()));
    }
    cleanup(&p, pid);
    Some((start?, stop?))
}

/// Peak RSS (KiB) of the control process of one start.
fn peak_rss(t: &Tool, dir: &Path, sleep: &Path) -> Option<u64> {
    let p = fresh_pidfile(t, dir);
    let out = command(&["/usr/bin/time", "-f", "%M"], &t.start, &p, 0)
        .output()
        .ok()?;
    let pid = until(|| daemon(&p, sleep));
    cleanup(&p, pid);
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .last()?
        .trim()
        .parse()
        .ok()
}

/// Median, min and max.
fn stats(v: &[f64]) -> Option<(f64, f64, f64)> {
    if v.is_empty() {
        return None;
    }
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let med = if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    };
    Some((med, v[0], v[n - 1]))
}

/// What was measured of one tool.
struct Row {
    name: &'static str,
    size: u64,
    start: Option<(f64, f64, f64)>,
    stop: Option<(f64, f64, f64)>,
    failed: usize,
    calls: Option<(u64, u64)>,
    instr: Option<(u64, u64)>,
    rss: Option<u64>,
}

fn us(s: Option<(f64, f64, f64)>) -> String {
    s.map_or("-".into(), |(m, lo, hi)| {
        format!("{m:.0} ({lo:.0}–{hi:.0})")
    })
}

fn pair<T: ToString>(v: Option<(T, T)>, which: usize) -> String {
    v.map_or("-".into(), |(a, b)| {
        if which == 0 {
            a.to_string()
        } else {
            b.to_string()
        }
    })
}

/// `cargo xtask bench [-n CYCLES]`.
pub fn main(args: &[String]) -> Result<(), String> {
    let mut cycles = 40usize;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "-n" | "--cycles" => {
                cycles = it
                    .next()
                    .and_then(|n| n.parse().ok())
                    .ok_or("-n needs a number")?
            }
            other => return Err(format!("bench: unknown argument `{other}`")),
        }
    }
    let outcomes = dist::build(&Selection::Host.targets()?);
    let imp = match outcomes.first() {
        Some((_, Outcome::Built(bin))) => bin.clone(),
        _ => {
            dist::report(&outcomes);
            return Err("bench: the host binary did not build".into());
        }
    };
    let have = |p: &str| util::which(p).is_some();
    util::install_missing(NEEDS, "the tools imp is measured against", have);
    // valgrind (instructions) and musl-gcc (a leaner floor) are optional.
    let missing: Vec<&str> = NEEDS
        .iter()
        .filter(|t| !have(t.0) && !["valgrind", "musl-gcc"].contains(&t.0))
        .map(|t| t.1)
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "bench: missing {}; fix (as root): apt-get install {}",
            missing.join(", "),
            missing.join(" ")
        ));
    }
    let dir = util::target_dir().join("bench");
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let floor = dir.join("floor");
    // musl's static startup is what a floor should cost; glibc's when musl-gcc is not there.
    let cc = if have("musl-gcc") { "musl-gcc" } else { "gcc" };
    util::run(
        Command::new(cc)
            .args(["-O2", "-static", "-o"])
            .arg(&floor)
            .arg(util::root().join("xtask/bench/floor.c")),
    )?;
    // The measuring process runs under `floor reap`: daemons that reparent to it are
    // reaped at once, whatever this machine's PID 1 does.
    if std::env::var_os("IMP_BENCH_REAPED").is_none() {
        let me = std::env::current_exe().map_err(|e| e.to_string())?;
        let status = Command::new(&floor)
            .arg("reap")
            .arg(me)
            .arg("bench")
            .args(args)
            .env("IMP_BENCH_REAPED", "1")
            .status()
            .map_err(|e| format!("{}: {e}", floor.display()))?;
        return if status.success() {
            Ok(())
        } else {
            Err(format!("bench: {status}"))
        };
    }
    let sleep = std::fs::canonicalize(SLEEP).map_err(|e| format!("{SLEEP}: {e}"))?;
    // Where daemons' pidfiles live (imp walks every directory on the way, 4 syscalls
    // each): /run, else the target dir.
    let run_dir = [PathBuf::from("/run/imp-bench"), dir.join("run")]
        .into_iter()
        .find(|d| {
            let _ = std::fs::remove_dir_all(d);
            std::fs::create_dir_all(d).is_ok()
        })
        .ok_or("bench: no directory for the pidfiles")?;
    let tools = tools(&imp, &floor);
    eprintln!(
        "xtask: bench: {cycles} interleaved cycles of {}",
        tools.iter().map(|t| t.name).collect::<Vec<_>>().join(", ")
    );
    let mut lat: Vec<(Vec<f64>, Vec<f64>, usize)> =
        tools.iter().map(|_| (vec![], vec![], 0)).collect();
    for c in 0..cycles {
        for k in 0..tools.len() {
            let i = (c + k) % tools.len();
            match cycle(&tools[i], &run_dir, &sleep) {
                Some((s, t)) => {
                    lat[i].0.push(s);
                    lat[i].1.push(t);
                }
                None => lat[i].2 += 1,
            }
        }
    }
    let valgrind = have("valgrind");
    let rows: Vec<Row> = tools
        .iter()
        .zip(&lat)
        .map(|(t, (s, st, failed))| Row {
            name: t.name,
            size: std::fs::metadata(&t.bin).map_or(0, |m| m.len()),
            start: stats(s),
            stop: stats(st),
            failed: *failed,
            calls: syscalls(t, &run_dir, &sleep),
            instr: valgrind
                .then(|| instructions(t, &run_dir, &sleep))
                .flatten(),
            rss: peak_rss(t, &run_dir, &sleep),
        })
        .collect();
    let report = render(&rows, cycles, valgrind);
    print!("{report}");
    std::fs::write(dir.join("bench.md"), &report).map_err(|e| e.to_string())?;
    std::fs::write(dir.join("bench.svg"), svg(&rows)).map_err(|e| e.to_string())?;
    println!(
        "\nwritten: {} and {}",
        dir.join("bench.md").display(),
        dir.join("bench.svg").display()
    );
    Ok(())
}

/// The markdown report: the table and imp's ratios.
fn render(rows: &[Row], cycles: usize, valgrind: bool) -> String {
    let mut out = String::new();
    let date =
        util::output(Command::new("date").arg("-u").arg("+%Y-%m-%d %H:%M UTC")).unwrap_or_default();
    let kernel = util::output(Command::new("uname").arg("-r")).unwrap_or_default();
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    out.push_str(&format!(
        "cargo xtask bench, {}: {cycles} interleaved cycles, Linux {}, {cpus} CPUs; µs \
         median (min–max)\n\n",
        date.trim(),
        kernel.trim()
    ));
    let body: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.name.to_string(),
                thousands(r.size),
                us(r.start),
                us(r.stop),
                pair(r.calls, 0),
                pair(r.calls, 1),
                pair(r.instr.map(|(a, b)| (thousands(a), thousands(b))), 0),
                pair(r.instr.map(|(a, b)| (thousands(a), thousands(b))), 1),
                r.rss.map_or("-".into(), |k| k.to_string()),
                r.failed.to_string(),
            ]
        })
        .collect();
    let head = [
        "tool",
        "bytes",
        "start µs",
        "stop µs",
        "syscalls/start",
        "syscalls/stop",
        "instr/start",
        "instr/stop",
        "peak RSS KiB",
        "failed cycles",
    ];
    out.push_str(&markdown(&head, &body));
    if !valgrind {
        out.push_str("\n(instructions: valgrind is not installed)\n");
    }
    let find = |n: &str| rows.iter().find(|r| r.name == n);
    if let (Some(imp), Some(floor), Some(bb)) = (find("imp"), find("floor"), find("busybox")) {
        let ratio = |a: Option<(f64, f64, f64)>, b: Option<(f64, f64, f64)>| match (a, b) {
            (Some(a), Some(b)) if b.0 > 0.0 => format!("×{:.2}", a.0 / b.0),
            _ => "-".into(),
        };
        out.push_str(&format!(
            "\nimp's medians: start {} of the floor, {} of busybox; stop {} of the floor, {} of \
             busybox{}\n",
            ratio(imp.start, floor.start),
            ratio(imp.start, bb.start),
            ratio(imp.stop, floor.stop),
            ratio(imp.stop, bb.stop),
            find("debian").map_or(String::new(), |d| format!(
                ", {} of dpkg's `--retry TERM/5`",
                ratio(imp.stop, d.stop)
            )),
        ));
    }
    out.push_str(
        "\nrespawn latency (kill -9 to a new exec) and supervisor VmHWM against s6-supervise \
         and runsv: skipped until imp has --respawn.\n",
    );
    out.push_str(
        "\nstart: until the pidfile names a live process running sleep; stop: until it is \
         gone (busybox's and dpkg's stop without --retry return before that; daemonize has \
         no stop: `kill`). Syscalls: every process of the start until its execve of sleep, \
         at RLIMIT_NOFILE 20,000 (strace -f). Instructions and RSS: the control process.\n",
    );
    out
}

fn markdown(head: &[&str], rows: &[Vec<String>]) -> String {
    let mut s = format!(
        "| {} |\n|{}|\n",
        head.join(" | "),
        vec!["---"; head.len()].join("|")
    );
    for r in rows {
        s.push_str(&format!("| {} |\n", r.join(" | ")));
    }
    s
}

/// Bars of the median start and stop latency per tool.
fn svg(rows: &[Row]) -> String {
    let max = rows
        .iter()
        .flat_map(|r| [r.start.map(|s| s.0), r.stop.map(|s| s.0)])
        .flatten()
        .fold(1.0f64, f64::max);
    let (w, left, bar, gap) = (640.0, 90.0, 14.0, 12.0);
    let scale = (w - left - 80.0) / max;
    let h = 40.0 + rows.len() as f64 * (2.0 * bar + gap);
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" \
         font-family=\"sans-serif\" font-size=\"12\">\n\
         <text x=\"{left}\" y=\"16\">median µs: start (dark), stop (light)</text>\n"
    );
    for (i, r) in rows.iter().enumerate() {
        let y = 28.0 + i as f64 * (2.0 * bar + gap);
        s.push_str(&format!(
            "<text x=\"4\" y=\"{}\">{}</text>\n",
            y + bar + 4.0,
            r.name
        ));
        for (k, v) in [r.start, r.stop].iter().enumerate() {
            if let Some((m, _, _)) = v {
                let yy = y + k as f64 * bar;
                let color = if k == 0 { "#335577" } else { "#88aacc" };
                s.push_str(&format!(
                    "<rect x=\"{left}\" y=\"{yy}\" width=\"{:.1}\" height=\"{}\" fill=\"{color}\"/>\
                     <text x=\"{:.1}\" y=\"{}\">{m:.0}</text>\n",
                    m * scale,
                    bar - 2.0,
                    left + m * scale + 4.0,
                    yy + bar - 3.0
                ));
            }
        }
    }
    s.push_str("</svg>\n");
    s
}
