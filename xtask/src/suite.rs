//! `cargo xtask test`: every test, as CI runs it.
//!
//! 1. `tidy`: every `#[inline]` in core and cli-min has its reason and bytes (fast, so
//!    first; its failure fails the run, but the other suites still run);
//! 2. build the host binary (and the cross binaries selected) with `dist`;
//! 3. `size`: the byte budget, static linking, no `core::fmt`, no allocator;
//! 4. unit tests: `cargo test --workspace --exclude imp --exclude imp-tests`
//!    (imp-core's parsers, xtask's own);
//! 5. the integration suite (`cargo test -p imp-tests`) against the host binary,
//!    `IMP_BIN=target/dist/<host>/imp`;
//! 6. the same suite against each cross binary, `IMP_BIN=<its binary>` and
//!    `IMP_RUNNER=qemu-<arch>` (a command prefix the tests' harness puts before imp),
//!    where qemu-user is installed.
//!
//! cargo's own output is streamed as it comes (its `test result:` lines included); a
//! summary of what ran, what was skipped and why closes the run. Exits non-zero if
//! any suite that ran failed.

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use crate::dist::{self, Outcome, Selection};
use crate::targets::{Target, TARGETS};
use crate::util::{self, table};

/// How one suite ended.
enum Status {
    Passed,
    Failed(String),
    Skipped(String),
}

struct Suite {
    name: String,
    status: Status,
    secs: f64,
    /// The `test result:` lines cargo printed.
    results: Vec<String>,
}

impl Suite {
    fn skipped(name: String, why: String) -> Suite {
        Suite {
            name,
            status: Status::Skipped(why),
            secs: 0.0,
            results: Vec::new(),
        }
    }

    fn failed(name: String, error: String) -> Suite {
        Suite {
            name,
            status: Status::Failed(error),
            secs: 0.0,
            results: Vec::new(),
        }
    }
}

/// Where a suite's output goes: straight to ours, or into a buffer printed in one
/// piece when the suite ends (suites running side by side).
#[derive(Clone)]
enum Sink {
    Live,
    Buffer(Arc<Mutex<Vec<u8>>>),
}

impl Sink {
    fn write(&self, bytes: &[u8], to_stderr: bool) {
        let _ = match self {
            Sink::Live if to_stderr => std::io::stderr().write_all(bytes),
            Sink::Live => {
                let mut out = std::io::stdout().lock();
                out.write_all(bytes).and_then(|()| out.flush())
            }
            Sink::Buffer(b) => b
                .lock()
                .map(|mut b| b.extend_from_slice(bytes))
                .map_err(|_| std::io::Error::other("poisoned")),
        };
    }

    fn say(&self, text: &str) {
        self.write(text.as_bytes(), true);
    }
}

/// Copies a child's output to the sink as it arrives, collecting `test result:` lines.
fn tee(
    mut from: impl Read + Send + 'static,
    sink: Sink,
    to_stderr: bool,
) -> mpsc::Receiver<Vec<String>> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        let mut line = Vec::new();
        let mut results = Vec::new();
        while let Ok(n) = from.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.write(&buf[..n], to_stderr);
            for &b in &buf[..n] {
                if b == b'\n' {
                    let l = String::from_utf8_lossy(&line);
                    if l.trim_start().starts_with("test result:") {
                        results.push(l.trim().to_string());
                    }
                    line.clear();
                } else {
                    line.push(b);
                }
            }
        }
        let _ = tx.send(results);
    });
    rx
}

/// The pids of every descendant of `pid`, from `/proc/*/stat`.
fn descendants(pid: u32) -> Vec<u32> {
    let mut parent = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(p) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else {
            continue;
        };
        // "pid (comm) state ppid ...": comm may hold spaces and parentheses.
        let Some(after) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
            continue;
        };
        if let Some(ppid) = after
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse::<u32>().ok())
        {
            parent.push((p, ppid));
        }
    }
    let mut out = vec![pid];
    let mut i = 0;
    while i < out.len() {
        let p = out[i];
        out.extend(parent.iter().filter(|(_, pp)| *pp == p).map(|(c, _)| *c));
        i += 1;
    }
    out.remove(0);
    out
}

/// Runs one command of a suite until `deadline`; returns its status and `test result:`
/// lines.
fn run_one(mut cmd: Command, sink: &Sink, deadline: Instant) -> (Result<(), String>, Vec<String>) {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            return (
                Err(format!(
                    "cannot run {}: {e}",
                    cmd.get_program().to_string_lossy()
                )),
                Vec::new(),
            )
        }
    };
    let outs: Vec<_> = [
        child.stdout.take().map(|o| tee(o, sink.clone(), false)),
        child.stderr.take().map(|e| tee(e, sink.clone(), true)),
    ]
    .into_iter()
    .flatten()
    .collect();
    let status = loop {
        match child.try_wait() {
            Ok(Some(st)) if st.success() => break Ok(()),
            Ok(Some(st)) => break Err(format!("{} {st}", cmd.get_program().to_string_lossy())),
            Ok(None) if Instant::now() > deadline => {
                let mut pids = descendants(child.id());
                pids.push(child.id());
                let _ = Command::new("kill")
                    .arg("-KILL")
                    .args(pids.iter().map(u32::to_string))
                    .status();
                let _ = child.wait();
                break Err("timed out (--timeout, --budget)".to_string());
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(100)),
            Err(e) => break Err(format!("wait: {e}")),
        }
    };
    // A daemon that inherited the pipe would keep it open forever: wait a little only.
    let mut results = Vec::new();
    for rx in outs {
        results.extend(rx.recv_timeout(Duration::from_secs(3)).unwrap_or_default());
    }
    (status, results)
}

/// Runs a suite's commands one after the other (all of them, even after a failure),
/// within `limit`.
fn run_suite(name: &str, cmds: Vec<Command>, limit: Duration, sink: Sink) -> Suite {
    let start = Instant::now();
    let deadline = start + limit;
    sink.say(&format!("\n=== {name}\n"));
    let mut results = Vec::new();
    let mut errors = Vec::new();
    for mut cmd in cmds {
        cmd.current_dir(
            cmd.get_current_dir()
                .map(|d| d.to_path_buf())
                .unwrap_or_else(util::root),
        );
        sink.say(&format!("$ {}\n", util::show(&cmd)));
        let (status, r) = run_one(cmd, &sink, deadline);
        results.extend(r);
        if let Err(e) = status {
            errors.push(e);
        }
    }
    let status = if errors.is_empty() {
        Status::Passed
    } else {
        Status::Failed(errors.join("; "))
    };
    Suite {
        name: name.into(),
        status,
        secs: start.elapsed().as_secs_f64(),
        results,
    }
}

/// Sums `test result:` lines into `passed, failed, ignored`.
/// Passed, failed, ignored, and filtered out (skipped for a missing tool, or by a
/// filter given after `--`).
fn counts(results: &[String]) -> (u64, u64, u64, u64) {
    let mut sum = (0, 0, 0, 0);
    for r in results {
        for part in r.split([';', '.']) {
            let mut w = part.split_whitespace();
            if let (Some(n), Some(what)) = (w.next().and_then(|n| n.parse::<u64>().ok()), w.next())
            {
                match what {
                    "passed" => sum.0 += n,
                    "failed" => sum.1 += n,
                    "ignored" => sum.2 += n,
                    "filtered" => sum.3 += n,
                    _ => {}
                }
            }
        }
    }
    sum
}

fn cargo_test() -> Command {
    let mut c = util::cargo(None);
    c.args(["test", "--no-fail-fast"])
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS");
    c
}

/// The integration test executables, built by `cargo test --no-run`: (name, path).
/// Cross suites run them directly, so several can run at once without cargo's lock.
fn test_executables() -> Result<Vec<(String, PathBuf)>, String> {
    let mut c = cargo_test();
    c.args([
        "-p",
        "imp-tests",
        "--no-run",
        "--message-format=json-render-diagnostics",
    ])
    .current_dir(util::root())
    .stderr(Stdio::inherit());
    eprintln!("$ {}", util::show(&c));
    let out = c.output().map_err(|e| format!("cargo: {e}"))?;
    if !out.status.success() {
        return Err("building the integration tests failed".into());
    }
    let field = |line: &str, key: &str| -> Option<String> {
        let start = line.find(key)? + key.len();
        let end = line[start..].find('"')?;
        Some(line[start..start + end].to_string())
    };
    let mut exes = Vec::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        if !line.contains(r#""reason":"compiler-artifact""#) || !line.contains(r#""test":true"#) {
            continue;
        }
        let (Some(exe), Some(target)) =
            (field(line, r#""executable":""#), line.find(r#""target":{"#))
        else {
            continue;
        };
        let name = field(&line[target..], r#""name":""#).unwrap_or_else(|| exe.clone());
        exes.push((name, PathBuf::from(exe)));
    }
    if exes.is_empty() {
        return Err("cargo built no integration test executables".into());
    }
    Ok(exes)
}

/// The integration suite against one binary: through `cargo test` (host), or by
/// running the test executables under the target's qemu.
fn integration(
    t: &Target,
    exes: Option<&[(String, PathBuf)]>,
    extra: &[String],
    limit: Duration,
    sink: Sink,
) -> Suite {
    let bin = util::dist_bin(t.triple);
    let runner = if t.native() {
        None
    } else {
        match util::which(t.qemu) {
            Some(q) => Some(q),
            None => {
                return Suite::skipped(
                    format!("integration {} ({})", t.triple, t.qemu),
                    format!("{} not found; fix: apt-get install qemu-user", t.qemu),
                )
            }
        }
    };
    let name = match runner {
        None => format!("integration {}", t.triple),
        Some(_) => format!("integration {} ({})", t.triple, t.qemu),
    };
    let setup = |c: &mut Command| {
        c.env("IMP_BIN", &bin)
            .env("IMP_TARGET", t.triple)
            .env("IMP_EXAMPLES", util::target_dir().join("release/examples"));
        match &runner {
            Some(q) => c.env("IMP_RUNNER", q),
            None => c.env_remove("IMP_RUNNER"),
        };
    };
    let cmds = match exes {
        None => {
            let mut c = cargo_test();
            c.args(["-p", "imp-tests"]);
            setup(&mut c);
            if !extra.is_empty() {
                c.arg("--").args(extra);
            }
            vec![c]
        }
        Some(exes) => exes
            .iter()
            .map(|(_, exe)| {
                let mut c = Command::new(exe);
                c.args(extra).current_dir(util::root().join("tests"));
                setup(&mut c);
                c
            })
            .collect(),
    };
    run_suite(&name, cmds, limit, sink)
}

/// The whole run's default time budget: CI allows about 15 minutes.
const BUDGET_SECS: u64 = 14 * 60;

/// What `cargo xtask test` was asked for: its arguments over the environment's defaults.
#[derive(Debug, PartialEq)]
struct Config {
    /// `--targets`: `host`, `all` or a list; `None`: the host and what is in target/dist.
    targets: Option<String>,
    /// `--timeout`: the most one suite may take.
    limit: Duration,
    /// `--budget`: the whole run's time; a cross suite is not started past it.
    budget: Duration,
    /// `--jobs`: how many cross suites run side by side.
    jobs: usize,
    /// After `--`: arguments for the test executables.
    extra: Vec<String>,
}

/// `cargo xtask test [--targets host|all|T,T...] [--timeout SECS] [--budget SECS]
/// [--jobs N] [-- ARGS]`.
pub fn main(args: &[String]) -> Result<(), String> {
    let mut config = parse(args, |k| std::env::var(k).ok())?;
    let started = Instant::now();
    let host = crate::targets::host()?.triple;
    let missing = prepare_tools();
    let skips = needing(&missing);
    if !skips.is_empty() {
        eprintln!(
            "xtask: test: skipping {} integration tests that need what is missing: {}",
            skips.len(),
            skips.join(" ")
        );
    }
    for name in skips {
        config.extra.extend(["--skip".to_string(), name]);
    }
    let tidy = tidy_suite();
    let outcomes = dist::build(&plan(config.targets.as_deref(), host).targets()?);
    dist::report(&outcomes);
    let built: Vec<&'static Target> = outcomes
        .iter()
        .filter(|(_, o)| matches!(o, Outcome::Built(_)))
        .map(|(t, _)| *t)
        .collect();
    if !built.iter().any(|t| t.triple == host) {
        dist::check(&outcomes, false)?;
        return Err("test: the host binary was not built".into());
    }
    let mut suites = vec![tidy];
    suites.extend(build_suites(&outcomes));
    suites.push(size_suite(&built));
    suites.push(unit_suite(config.limit));
    let (native, cross): (Vec<_>, Vec<_>) = built.into_iter().partition(|t| t.triple == host);
    for t in native {
        suites.push(host_suite(t, &config, started));
    }
    suites.extend(cross_suites(&cross, &config, started));
    for t in &missing {
        println!(
            "test: missing `{}` (for {}); fix (as root): apt-get install {}",
            t.bin, t.what, t.package
        );
    }
    summarize(&suites, started.elapsed())
}

/// A program the integration suite runs besides imp.
struct Tool {
    bin: &'static str,
    /// The Debian package that has it.
    package: &'static str,
    /// What needs it.
    what: &'static str,
    /// What a test's script says when it runs it: the words of tests/sh/prelude.sh's
    /// helpers and the command itself. None: every case needs it, nothing can be
    /// skipped for it.
    words: &'static [&'static str],
}

const TOOLS: &[Tool] = &[
    Tool {
        bin: "strace",
        package: "strace",
        what: "the syscall spies (`spy`)",
        words: &["spy ", "launch ", "strace "],
    },
    Tool {
        bin: "busybox",
        package: "busybox-static",
        what: "the --chroot case (a static busybox)",
        words: &["busybox"],
    },
    Tool {
        bin: "pgrep",
        package: "procps",
        what: "process counts (`nprocs`, `pgrep`, `ps`)",
        words: &["nprocs", "pgrep", "pkill", "ps -o"],
    },
    Tool {
        bin: "unshare",
        package: "util-linux",
        what: "every case's private PID and mount namespaces",
        words: &[],
    },
    Tool {
        bin: "setpriv",
        package: "util-linux",
        what: "the cases run as another user",
        words: &["asuser", "asnobody", "setpriv"],
    },
    Tool {
        bin: "prlimit",
        package: "util-linux",
        what: "the resource-limit cases",
        words: &["prlimit"],
    },
    Tool {
        bin: "qemu-aarch64",
        package: "qemu-user",
        what: "the cross suites (skipped as suites, with the fix)",
        words: &[],
    },
];

/// Whether `bin` is there and usable: busybox must be the static one (the chroot case
/// copies it into an empty root).
fn have(bin: &str) -> bool {
    match util::which(bin) {
        Some(p) if bin == "busybox" => crate::size::is_static(&p),
        Some(_) => true,
        None => false,
    }
}

/// Installs the missing [`TOOLS`] (see [`util::install_missing`]); returns those still
/// missing.
fn prepare_tools() -> Vec<&'static Tool> {
    let pairs: Vec<(&str, &str)> = TOOLS.iter().map(|t| (t.bin, t.package)).collect();
    util::install_missing(&pairs, "what the integration suite runs besides imp", have);
    TOOLS.iter().filter(|t| !have(t.bin)).collect()
}

/// The integration tests (names for `--skip`) that need one of the `missing` tools:
/// those whose source (or that of a helper function it calls, in the same file) uses
/// it, found in tests/tests/*.rs.
fn needing(missing: &[&Tool]) -> Vec<String> {
    let words: Vec<&str> = missing
        .iter()
        .flat_map(|t| t.words.iter().copied())
        .collect();
    if words.is_empty() {
        return Vec::new();
    }
    let mut out = Vec::new();
    let dir = util::root().join("tests/tests");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "rs"))
        .collect();
    files.sort();
    for f in files {
        let Ok(src) = std::fs::read_to_string(&f) else {
            continue;
        };
        out.extend(tests_using(&src, &words));
    }
    out
}

/// The `#[test]` functions of one file whose body, or the body of a function of the
/// file it names, contains one of `words`.
fn tests_using(src: &str, words: &[&str]) -> Vec<String> {
    // Each top-level `fn`: (name, is a test, body up to its closing `}` at column 0).
    let mut fns: Vec<(String, bool, &str)> = Vec::new();
    let starts: Vec<usize> = src
        .match_indices("\nfn ")
        .map(|(i, _)| i + 1)
        .chain(src.match_indices("\npub fn ").map(|(i, _)| i + 1))
        .collect();
    let mut starts = starts;
    starts.sort();
    for (k, &at) in starts.iter().enumerate() {
        let end = starts.get(k + 1).copied().unwrap_or(src.len());
        let body = &src[at..end];
        let body = body.find("\n}\n").map_or(body, |i| &body[..i + 2]);
        let name: String = body
            .trim_start_matches("pub ")
            .trim_start_matches("fn ")
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        let is_test = src[..at].trim_end().ends_with("#[test]");
        fns.push((name, is_test, body));
    }
    let uses = |body: &str| words.iter().any(|w| body.contains(w));
    let helpers: Vec<&str> = fns
        .iter()
        .filter(|(_, t, b)| !t && uses(b))
        .map(|(n, _, _)| n.as_str())
        .collect();
    fns.iter()
        .filter(|(_, t, b)| *t && (uses(b) || helpers.iter().any(|h| b.contains(&format!("{h}(")))))
        .map(|(n, _, _)| n.clone())
        .collect()
}

/// Parses the arguments; `env` gives the defaults (`IMP_XTASK_SUITE_TIMEOUT`,
/// `IMP_XTASK_BUDGET`, `IMP_XTASK_JOBS`).
fn parse(args: &[String], env: impl Fn(&str) -> Option<String>) -> Result<Config, String> {
    let env_secs = |k: &str| env(k).and_then(|s| s.parse::<u64>().ok());
    let mut limit = env_secs("IMP_XTASK_SUITE_TIMEOUT").unwrap_or(600);
    let mut budget = env_secs("IMP_XTASK_BUDGET").unwrap_or(BUDGET_SECS);
    let mut jobs = env_secs("IMP_XTASK_JOBS").unwrap_or(2) as usize;
    let mut targets = None;
    let mut extra = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = |what: &str| it.next().cloned().ok_or(format!("{a} needs {what}"));
        match a.as_str() {
            "--targets" => targets = Some(value("host, all or a list")?),
            s if s.starts_with("--targets=") => targets = Some(s[10..].to_string()),
            "--timeout" => limit = number(value("seconds")?, "--timeout needs seconds")?,
            "--budget" => budget = number(value("seconds")?, "--budget needs seconds")?,
            "--jobs" | "-j" => jobs = number(value("a number")?, "--jobs needs a number")?,
            "--" => extra.extend(it.by_ref().cloned()),
            other => {
                return Err(format!(
                    "test: unknown argument `{other}` (see `cargo xtask help`)"
                ))
            }
        }
    }
    Ok(Config {
        targets,
        limit: Duration::from_secs(limit),
        budget: Duration::from_secs(budget),
        jobs,
        extra,
    })
}

/// A number argument, or `error`.
fn number<T: std::str::FromStr>(s: String, error: &str) -> Result<T, String> {
    s.parse().map_err(|_| error.to_string())
}

/// The targets to build and test: the host always; cross targets as asked, by default
/// those already in target/dist.
fn plan(targets: Option<&str>, host: &str) -> Selection {
    match targets {
        Some("host") => Selection::Host,
        Some("all") => Selection::All {
            experimental: false,
        },
        Some(list) => Selection::List(
            std::iter::once("host")
                .chain(list.split(','))
                .map(str::to_string)
                .collect(),
        ),
        None => Selection::List(
            TARGETS
                .iter()
                .filter(|t| t.triple == host || util::dist_bin(t.triple).is_file())
                .map(|t| t.triple.to_string())
                .collect(),
        ),
    }
}

/// `cargo xtask tidy`, first: it takes milliseconds and needs no build. Its offenders
/// are printed here; a failure fails the run, after the other suites.
fn tidy_suite() -> Suite {
    let t0 = Instant::now();
    eprintln!("\n=== tidy");
    let status = match crate::tidy::check(&util::root()) {
        Ok(found) if found.is_empty() => Status::Passed,
        Ok(found) => {
            for line in &found {
                println!("{line}");
            }
            Status::Failed(format!(
                "{} #[inline] without a reason and measured bytes (cargo xtask tidy)",
                found.len()
            ))
        }
        Err(e) => Status::Failed(e),
    };
    Suite {
        name: "tidy: #[inline] reasons with bytes".into(),
        status,
        secs: t0.elapsed().as_secs_f64(),
        results: Vec::new(),
    }
}

/// Failed builds are failed suites; skipped ones are reported as such.
fn build_suites(outcomes: &[(&'static Target, Outcome)]) -> Vec<Suite> {
    outcomes
        .iter()
        .filter_map(|(t, o)| {
            let name = format!("dist {}", t.triple);
            match o {
                Outcome::Failed(e) => Some(Suite::failed(name, e.clone())),
                Outcome::Skipped { reason, fix } => {
                    Some(Suite::skipped(name, format!("{reason}; fix: {fix}")))
                }
                Outcome::Built(_) => None,
            }
        })
        .collect()
}

/// `cargo xtask size` on the binaries just built.
fn size_suite(built: &[&'static Target]) -> Suite {
    let t0 = Instant::now();
    eprintln!("\n=== size");
    let status = match crate::size::run(Some(built)) {
        Ok(_) => Status::Passed,
        Err(e) => Status::Failed(e),
    };
    Suite {
        name: "size: budget, static, no core::fmt, no allocator".into(),
        status,
        secs: t0.elapsed().as_secs_f64(),
        results: Vec::new(),
    }
}

/// The unit tests of every crate but the binary and the integration suite.
fn unit_suite(limit: Duration) -> Suite {
    let mut unit = cargo_test();
    unit.args(["--workspace", "--exclude", "imp", "--exclude", "imp-tests"]);
    // imp-core's features, off in the workspace build: `std` (a panicking daemon
    // body), `supervise` and `harden` (what imp-full has).
    let mut with_std = cargo_test();
    with_std.args([
        "-p",
        "imp-core",
        "--features",
        "std,supervise,harden,find",
        "--lib",
    ]);
    run_suite(
        "unit: cargo test --workspace (imp-core, xtask), imp-core --features std,supervise,harden,find",
        vec![unit, with_std],
        limit,
        Sink::Live,
    )
}

/// The host binary's suite through cargo, as a developer runs it; at least a minute
/// even when the budget is spent.
fn host_suite(t: &Target, config: &Config, started: Instant) -> Suite {
    let left = config.budget.saturating_sub(started.elapsed());
    let limit = config.limit.min(left.max(Duration::from_secs(60)));
    // imp-core's examples, built as their docs say (`cargo build --release -p imp-core
    // --example NAME`), for the tests that run them on the host.
    let mut c = util::cargo(None);
    c.args(["build", "--release", "-p", "imp-core", "--examples"])
        .current_dir(util::root());
    if let Err(e) = util::run(&mut c) {
        return Suite::failed(
            format!("integration {}", t.triple),
            format!("examples: {e}"),
        );
    }
    // tpanic (tests/tpanic, a workspace of its own: imp-core with `std`).
    let mut c = util::cargo(None);
    c.args([
        "build",
        "--quiet",
        "--manifest-path",
        "tests/tpanic/Cargo.toml",
        "--target-dir",
    ])
    .arg(util::target_dir())
    .current_dir(util::root());
    if let Err(e) = util::run(&mut c) {
        return Suite::failed(format!("integration {}", t.triple), format!("tpanic: {e}"));
    }
    integration(t, None, &config.extra, limit, Sink::Live)
}

/// The suites of the other binaries, `jobs` at a time (qemu suites mostly wait), in
/// table order.
fn cross_suites(cross: &[&'static Target], config: &Config, started: Instant) -> Vec<Suite> {
    if cross.is_empty() {
        return Vec::new();
    }
    let exes = match test_executables() {
        Ok(exes) => exes,
        Err(e) => return vec![Suite::failed("integration (cross targets)".into(), e)],
    };
    let queue = Mutex::new(cross.iter().copied().enumerate().collect::<VecDeque<_>>());
    let done = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..config.jobs.max(1) {
            scope.spawn(|| {
                // The guard is consumed inside `and_then`: the queue is not held while
                // a suite runs.
                while let Some((i, t)) = queue.lock().ok().and_then(|mut q| q.pop_front()) {
                    let suite = cross_suite(t, &exes, config, started);
                    if let Ok(mut d) = done.lock() {
                        d.push((i, suite));
                    }
                }
            });
        }
    });
    let mut done = done.into_inner().unwrap_or_default();
    done.sort_by_key(|(i, _)| *i);
    done.into_iter().map(|(_, s)| s).collect()
}

/// One cross binary's suite, with at most what is left of the budget; skipped when that
/// is under a minute, saying how to run it alone. Side by side with others, its output
/// comes in one piece when it ends.
fn cross_suite(t: &Target, exes: &[(String, PathBuf)], config: &Config, started: Instant) -> Suite {
    let remaining = config.budget.saturating_sub(started.elapsed());
    if remaining < Duration::from_secs(60) {
        return Suite::skipped(
            format!("integration {}", t.triple),
            format!(
                "time budget of {}s used up (--budget); run alone: cargo xtask test --targets {}",
                config.budget.as_secs(),
                t.triple
            ),
        );
    }
    let limit = config.limit.min(remaining);
    if config.jobs <= 1 {
        return integration(t, Some(exes), &config.extra, limit, Sink::Live);
    }
    let buf = Arc::new(Mutex::new(Vec::new()));
    eprintln!(
        "xtask: started integration {} (output follows when it ends)",
        t.triple
    );
    let suite = integration(
        t,
        Some(exes),
        &config.extra,
        limit,
        Sink::Buffer(buf.clone()),
    );
    if let Ok(b) = buf.lock() {
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(&b).and_then(|()| out.flush());
    }
    suite
}

/// Prints the table of suites and the totals; Err when a suite failed.
fn summarize(suites: &[Suite], elapsed: Duration) -> Result<(), String> {
    let rows: Vec<Vec<String>> = suites.iter().map(summary_row).collect();
    let failed = suites
        .iter()
        .filter(|s| matches!(s.status, Status::Failed(_)))
        .count();
    let skipped = suites
        .iter()
        .filter(|s| matches!(s.status, Status::Skipped(_)))
        .count();
    let ran = suites.len() - skipped;
    let total = suites
        .iter()
        .map(|s| counts(&s.results))
        .fold((0, 0, 0, 0), |a, c| {
            (a.0 + c.0, a.1 + c.1, a.2 + c.2, a.3 + c.3)
        });
    println!(
        "\n=== cargo xtask test: summary ({:.0}s)",
        elapsed.as_secs_f64()
    );
    print!("{}", table(&["suite", "result", "time", "detail"], &rows));
    println!(
        "\nxtask test: {ran} suites ran ({failed} failed), {skipped} skipped; \
         tests: {} passed, {} failed, {} ignored, {} skipped or filtered out",
        total.0, total.1, total.2, total.3
    );
    if failed > 0 {
        Err(format!("test: {failed} suite(s) failed"))
    } else {
        println!("xtask test: ok");
        Ok(())
    }
}

/// One row of the summary: suite, result, time, detail (test counts, error, why skipped).
fn summary_row(s: &Suite) -> Vec<String> {
    let (p, f, i, x) = counts(&s.results);
    let tests = match (s.results.is_empty(), x) {
        (true, _) => String::new(),
        (false, 0) => format!("{p} passed, {f} failed, {i} ignored"),
        (false, x) => format!("{p} passed, {f} failed, {i} ignored, {x} skipped"),
    };
    let secs = format!("{:.0}s", s.secs);
    let (verdict, secs, detail) = match &s.status {
        Status::Passed => ("ok", secs, tests),
        Status::Failed(e) if tests.is_empty() => ("FAILED", secs, e.clone()),
        Status::Failed(e) => ("FAILED", secs, format!("{tests}; {e}")),
        Status::Skipped(why) => ("skipped", String::new(), why.clone()),
    };
    vec![s.name.clone(), verdict.into(), secs, detail]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_test_results() {
        let r = vec![
            "test result: ok. 12 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; \
             finished in 0.01s"
                .into(),
            "test result: FAILED. 3 passed; 2 failed; 0 ignored; 0 measured; 4 filtered out; \
             finished in 1.20s"
                .into(),
        ];
        assert_eq!(counts(&r), (15, 2, 1, 4));
    }

    #[test]
    fn tests_that_use_a_tool() {
        let src = "use x;\n\nfn helper() {\n    run(\"spy $IMP\");\n}\n\n\
            /// Uses the helper.\n#[test]\nfn a_helped() {\n    helper();\n}\n\n\
            /// Says spy itself.\n#[test]\nfn b_direct() {\n    run(\"r x spy $IMP stop\");\n}\n\n\
            /// Neither (its doc says spy).\n#[test]\nfn c_plain() {\n    run(\"r x $IMP\");\n}\n";
        assert_eq!(tests_using(src, &["spy "]), ["a_helped", "b_direct"]);
        assert!(tests_using(src, &["busybox"]).is_empty());
    }

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn parses_arguments_over_the_environment() {
        let none = |_: &str| None;
        assert_eq!(
            parse(&[], none).expect("defaults"),
            Config {
                targets: None,
                limit: Duration::from_secs(600),
                budget: Duration::from_secs(BUDGET_SECS),
                jobs: 2,
                extra: Vec::new(),
            }
        );
        let env = |k: &str| (k == "IMP_XTASK_BUDGET").then(|| "100".to_string());
        let a = args(&[
            "--targets=host",
            "--timeout",
            "5",
            "-j",
            "1",
            "--",
            "pf",
            "--exact",
        ]);
        assert_eq!(
            parse(&a, env).expect("parses"),
            Config {
                targets: Some("host".into()),
                limit: Duration::from_secs(5),
                budget: Duration::from_secs(100),
                jobs: 1,
                extra: args(&["pf", "--exact"]),
            }
        );
        let bad = |a: &[&str]| parse(&args(a), none).expect_err("refused");
        assert_eq!(bad(&["--timeout", "soon"]), "--timeout needs seconds");
        assert_eq!(bad(&["--targets"]), "--targets needs host, all or a list");
        assert!(bad(&["--bogus"]).contains("unknown argument `--bogus`"));
    }

    #[test]
    fn plans_the_host_and_what_was_asked() {
        assert_eq!(plan(Some("host"), "h"), Selection::Host);
        assert_eq!(
            plan(Some("all"), "h"),
            Selection::All {
                experimental: false
            }
        );
        assert_eq!(
            plan(Some("a,b"), "h"),
            Selection::List(args(&["host", "a", "b"]))
        );
        let Selection::List(default) = plan(None, "mipsel-unknown-linux-musl") else {
            panic!("a list by default");
        };
        assert!(default.contains(&"mipsel-unknown-linux-musl".to_string()));
    }

    #[test]
    fn summary_rows() {
        let failed = Suite {
            name: "integration x".into(),
            status: Status::Failed("boom".into()),
            secs: 2.4,
            results: vec!["test result: FAILED. 3 passed; 2 failed; 0 ignored".into()],
        };
        assert_eq!(
            summary_row(&failed),
            [
                "integration x",
                "FAILED",
                "2s",
                "3 passed, 2 failed, 0 ignored; boom"
            ]
        );
        let skipped = Suite::skipped("dist y".into(), "no qemu".into());
        assert_eq!(summary_row(&skipped), ["dist y", "skipped", "", "no qemu"]);
        assert!(summarize(&[skipped], Duration::ZERO).is_ok());
        assert!(summarize(&[failed], Duration::ZERO).is_err());
    }

    #[test]
    fn finds_descendants() {
        let mut child = Command::new("sh")
            .args(["-c", "sleep 5 & wait"])
            .spawn()
            .expect("sh");
        std::thread::sleep(Duration::from_millis(200));
        let d = descendants(child.id());
        let _ = Command::new("kill")
            .arg("-KILL")
            .args(d.iter().map(u32::to_string))
            .status();
        let _ = child.kill();
        let _ = child.wait();
        assert_eq!(d.len(), 1, "sh has one child, sleep");
    }
}
