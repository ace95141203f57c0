//! `cargo xtask fuzz [SECONDS]`: runs every cargo-fuzz target of `fuzz/` (libFuzzer,
//! nightly) for SECONDS each (default 60), installing cargo-fuzz when it is missing.
//! A crash stops the run with the target's name; its input is in
//! `fuzz/artifacts/<target>/` and becomes a regression test.

use std::process::Command;

use crate::util;

/// The targets in `fuzz/Cargo.toml`, and what each takes apart.
const TARGETS: &[(&str, &str)] = &[
    (
        "parsers",
        "pidfile content, signal, umask, duration, nice, fd, --retry schedule",
    ),
    ("args", "imp's whole argv"),
    (
        "passwd",
        "/etc/passwd and /etc/group lines: users, groups, supplementary groups",
    ),
];

pub fn main(args: &[String]) -> Result<(), String> {
    let secs: u64 = match args {
        [] => 60,
        [s] => s
            .parse()
            .map_err(|_| format!("fuzz: `{s}` is not a number of seconds"))?,
        _ => return Err("usage: cargo xtask fuzz [SECONDS]".into()),
    };
    let nightly = std::env::var("IMP_NIGHTLY").unwrap_or_else(|_| "nightly".into());
    if util::output(Command::new("cargo").args([&format!("+{nightly}"), "fuzz", "--version"]))
        .is_none()
    {
        eprintln!("xtask: fuzz: installing cargo-fuzz");
        util::run(Command::new("cargo").args(["install", "--locked", "cargo-fuzz"]))
            .map_err(|e| format!("{e}; fix: cargo install cargo-fuzz"))?;
    }
    let dir = util::root().join("fuzz");
    for (target, what) in TARGETS {
        eprintln!("xtask: fuzz: {target} ({what}) for {secs} s");
        let mut c = Command::new("cargo");
        c.args([&format!("+{nightly}"), "fuzz", "run", target, "--"])
            .arg(format!("-max_total_time={secs}"))
            .current_dir(&dir)
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_ENCODED_RUSTFLAGS");
        util::run(&mut c).map_err(|e| {
            format!(
                "fuzz: {target} found a failure ({e}); its input is in fuzz/artifacts/{target}/"
            )
        })?;
    }
    println!(
        "fuzz: {} targets ran {secs} s each with no finding",
        TARGETS.len()
    );
    Ok(())
}
