//! `cargo xtask bench`: imp in the shared bench harness (`../shared/bench`, see its
//! README), side by side with Debian's and busybox's start-stop-daemon and daemonize:
//! sizes, per-phase latency (`lat-interleave.py`), syscalls per start and stop
//! (`strace-counts.sh`) and peak RSS (`rss.sh`); then imp's ratios against busybox
//! and Debian. Informational: not part of `cargo xtask test`.
//!
//! The harness writes `bin/` and `raw/` next to itself and the shared folder may be
//! read-only, so it runs from a fresh copy in `target/bench/harness`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::dist::{self, Outcome, Selection};
use crate::util::{self, table};

/// Programs the harness runs, and the Debian package of each.
const NEEDS: &[(&str, &str)] = &[
    ("gcc", "gcc"),
    ("musl-gcc", "musl-tools"),
    ("python3", "python3"),
    ("strace", "strace"),
    ("/usr/bin/time", "time"),
    ("hyperfine", "hyperfine"),
    ("busybox", "busybox-static"),
    ("daemonize", "daemonize"),
    ("/usr/sbin/start-stop-daemon", "dpkg"),
];

/// Installs the missing packages with apt-get (as root), or says what to run.
fn ensure_tools() -> Result<(), String> {
    let mut missing: Vec<&str> = NEEDS
        .iter()
        .filter(|(p, _)| util::which(p).is_none())
        .map(|(_, pkg)| *pkg)
        .collect();
    missing.dedup();
    if missing.is_empty() {
        return Ok(());
    }
    let fix = format!("apt-get update && apt-get install -y {}", missing.join(" "));
    if !util::is_root() || util::which("apt-get").is_none() {
        return Err(format!(
            "bench: missing packages {}; fix: {fix}",
            missing.join(", ")
        ));
    }
    eprintln!("xtask: bench needs {}: installing", missing.join(", "));
    util::run(Command::new("apt-get").arg("update"))?;
    let mut install = Command::new("apt-get");
    install
        .args(["install", "-y", "--no-install-recommends"])
        .args(&missing)
        .env("DEBIAN_FRONTEND", "noninteractive");
    util::run(&mut install).map_err(|e| format!("{e}; fix: {fix}"))
}

/// A fresh, writable copy of the harness.
fn harness() -> Result<PathBuf, String> {
    let src = std::env::var_os("IMP_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| util::root().join("../shared/bench"));
    if !src.join("tools.sh").is_file() {
        return Err(format!(
            "bench: no harness at {} (set IMP_BENCH_DIR)",
            src.display()
        ));
    }
    let dst = util::target_dir().join("bench/harness");
    let _ = Command::new("chmod").args(["-R", "u+w"]).arg(&dst).status();
    let _ = std::fs::remove_dir_all(&dst);
    util::copy_tree(&src, &dst)?;
    util::run(Command::new("chmod").args(["-R", "u+w"]).arg(&dst))?;
    std::fs::create_dir_all(dst.join("raw")).map_err(|e| e.to_string())?;
    Ok(dst)
}

/// Runs a harness step, printing and returning its output; a failed step is reported
/// and the bench goes on.
fn step(dir: &Path, imp: &Path, title: &str, args: &[&str]) -> String {
    println!("\n### {title}");
    let mut c = Command::new(args[0]);
    c.args(&args[1..])
        .current_dir(dir)
        .env("PERF", dir)
        .env("IMP", imp);
    eprintln!("$ {}", util::show(&c));
    match c.output() {
        Ok(out) => {
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            print!("{text}");
            eprint!("{}", String::from_utf8_lossy(&out.stderr));
            if !out.status.success() {
                println!("(step failed: {})", out.status);
            }
            text
        }
        Err(e) => {
            println!("(step could not run: {e})");
            String::new()
        }
    }
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

/// Medians of (start until pid live, stop until gone, their sum) from `TOOL-r1.csv`.
fn latency(dir: &Path, tool: &str) -> Option<[f64; 3]> {
    let text = std::fs::read_to_string(dir.join(format!("{tool}-r1.csv"))).ok()?;
    let mut lines = text.lines();
    let head: Vec<&str> = lines.next()?.split(',').collect();
    let col = |name: &str| head.iter().position(|h| *h == name);
    let (ready, gone) = (col("start_ready_us")?, col("stop_gone_us")?);
    let (mut r, mut g, mut c) = (Vec::new(), Vec::new(), Vec::new());
    for l in lines {
        let f: Vec<f64> = l
            .split(',')
            .map(|x| x.trim().parse().unwrap_or(f64::NAN))
            .collect();
        if let (Some(&a), Some(&b)) = (f.get(ready), f.get(gone)) {
            if a.is_finite() && b.is_finite() {
                r.push(a);
                g.push(b);
                c.push(a + b);
            }
        }
    }
    Some([median(r)?, median(g)?, median(c)?])
}

/// Numbers after a keyword on the line of a tool, e.g. `start_maxrss_KiB 444`.
fn field(text: &str, tool: &str, phase: Option<&str>, key: &str) -> Option<f64> {
    text.lines()
        .filter(|l| l.split_whitespace().next() == Some(tool))
        .filter(|l| phase.is_none_or(|p| l.split_whitespace().nth(1) == Some(p)))
        .find_map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            w.iter()
                .position(|x| *x == key)
                .and_then(|i| w.get(i + 1))
                .and_then(|v| v.parse().ok())
        })
}

/// `cargo xtask bench [-n CYCLES]`.
pub fn main(args: &[String]) -> Result<(), String> {
    let mut cycles = "60".to_string();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "-n" | "--cycles" => cycles = it.next().ok_or("-n needs a number")?.clone(),
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
    ensure_tools()?;
    let dir = harness()?;
    util::run(
        Command::new("./build.sh")
            .current_dir(&dir)
            .env("PERF", &dir),
    )?;
    let imp_s = imp.display().to_string();
    step(
        &dir,
        &imp,
        "sizes (bytes)",
        &[
            "./sizes.sh",
            &imp_s,
            "/usr/sbin/start-stop-daemon",
            "/usr/bin/busybox",
            "/usr/bin/daemonize",
        ],
    );
    let tools = ["imp", "busybox", "debian", "daemonize", "floor"];
    let mut lat = vec![
        "python3",
        "lat-interleave.py",
        "-n",
        &cycles,
        "-o",
        "raw/lat-imp",
    ];
    lat.extend(tools);
    step(&dir, &imp, "per-phase latency, interleaved (µs)", &lat);
    let strace = step(
        &dir,
        &imp,
        "syscalls per start and stop (strace -f)",
        &[
            "bin/reaper",
            "./strace-counts.sh",
            "imp",
            "debian",
            "busybox",
        ],
    );
    let _ = std::fs::remove_file(dir.join("raw/rss.txt"));
    let rss = step(
        &dir,
        &imp,
        "peak RSS (KiB)",
        &["bin/reaper", "./rss.sh", "11", "imp", "busybox", "debian"],
    );

    // imp against each baseline.
    let lat_dir = dir.join("raw/lat-imp");
    let imp_lat = latency(&lat_dir, "imp");
    let size = |p: &str| std::fs::metadata(p).map(|m| m.len() as f64).ok();
    let imp_size = size(&imp_s);
    let mut rows = Vec::new();
    let ratio = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) if b > 0.0 && a / b < 0.1 => format!("x{:.4}", a / b),
        (Some(a), Some(b)) if b > 0.0 => format!("x{:.2}", a / b),
        _ => "-".into(),
    };
    let bases: BTreeMap<&str, &str> = [
        ("busybox", "/usr/bin/busybox"),
        ("debian", "/usr/sbin/start-stop-daemon"),
    ]
    .into_iter()
    .collect();
    for (base, path) in &bases {
        let b = latency(&lat_dir, base);
        let st = |tool: &str, phase: &str| field(&strace, tool, Some(phase), "total");
        let rs = |tool: &str, key: &str| field(&rss, tool, None, key);
        rows.push(vec![
            format!("imp / {base}"),
            ratio(imp_size, size(path)),
            ratio(imp_lat.map(|l| l[0]), b.map(|l| l[0])),
            ratio(imp_lat.map(|l| l[1]), b.map(|l| l[1])),
            ratio(imp_lat.map(|l| l[2]), b.map(|l| l[2])),
            ratio(st("imp", "start"), st(base, "start")),
            ratio(st("imp", "stop"), st(base, "stop")),
            ratio(rs("imp", "start_maxrss_KiB"), rs(base, "start_maxrss_KiB")),
        ]);
    }
    println!("\n### imp against the baselines (below 1 = imp is smaller/faster)");
    print!(
        "{}",
        table(
            &[
                "ratio",
                "size",
                "start (pid live)",
                "stop (gone)",
                "cycle",
                "syscalls start",
                "syscalls stop",
                "RSS start"
            ],
            &rows
        )
    );
    if let Some(l) = imp_lat {
        println!(
            "imp medians: start {:.0} µs, stop {:.0} µs, cycle {:.0} µs",
            l[0], l[1], l[2]
        );
    }
    println!("raw outputs: {}", dir.join("raw").display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_harness_lines() {
        let rss = "imp start_maxrss_KiB 444 stop_maxrss_KiB 448 (median of 11)\n";
        assert_eq!(field(rss, "imp", None, "stop_maxrss_KiB"), Some(448.0));
        let st = "imp                start     total     21  procs 3\nimp                stop      total     11  procs 1\n";
        assert_eq!(field(st, "imp", Some("stop"), "total"), Some(11.0));
        assert_eq!(median(vec![3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(vec![]), None);
    }
}
