//! `cargo xtask`: imp's build, release and test tasks, in plain Rust (the
//! cargo-xtask pattern: a cargo alias in `.cargo/config.toml`, `std::process::Command`,
//! two read-only dependencies for `size`: `object` reads the ELF files, `rustc-demangle`
//! the symbol names).
//!
//! ```text
//! cargo xtask dist [--host | --all | --target T[,T...]] [--experimental] [--strict]
//! cargo xtask size [--top N] [--target T]
//! cargo xtask test [--targets host|all|T[,T...]] [--timeout SECS] [--budget SECS] [-- TEST ARGS]
//! cargo xtask tidy
//! cargo xtask bench [-n CYCLES]
//! cargo xtask fuzz [SECONDS]
//! ```
//!
//! `tidy` is the check in code that no compiler makes: every `#[inline]`,
//! `#[inline(always)]` and `#[inline(never)]` in `core/src` and `cli-min/src` carries a
//! one-line `//` reason with its measured bytes (`#[inline(never)] // why: -96 B`, or
//! the comment on the line above); `test` runs it as a suite of its own, first.

mod bench;
mod dist;
mod fuzz;
mod mipsbe;
mod size;
mod suite;
mod targets;
mod tidy;
mod util;

const HELP: &str = "\
cargo xtask: build, check and test imp

  dist [--host|--all|--target T[,T..]] [--experimental] [--strict]
        build the static imp into target/dist/<triple>/imp, and its
        --no-default-features build as imp-minimal beside it, for every target this
        machine can build (default: all; --host: just the host, fast), installing
        missing rustup pieces; prints sizes and what was skipped and why.
        --experimental adds big-endian MIPS (patched rustix); --strict fails on skips.
  size [--top N] [--target T]
        size table of every binary in target/dist against SPEC §1.2's budgets
        (imp 48 KiB, 64 KiB on MIPS32; imp-minimal 36 KiB, 48 KiB on MIPS32); fails
        past one, or if a binary is not static or has core::fmt/allocator symbols.
        Then what each feature costs: code bytes per feature and target.
        --top N lists the N largest symbols of one target (default: host).
  test [--targets host|all|T[,T..]] [--timeout SECS] [--budget SECS] [-- ARGS]
        installs (as root, with apt-get) what the integration suite runs besides imp,
        or names it and skips the tests that need it; then
        tidy + dist + size + unit tests + the integration suite on the host binary
        and, under qemu-user, on each cross binary (default: those in target/dist).
        A suite is killed after --timeout (600 s); cross suites that would start
        after --budget (840 s from the start) are skipped, with the reason.
        A failed suite (tidy included) fails the run; the others still run.
  tidy
        every #[inline], #[inline(always)], #[inline(never)] in core/src and
        cli-min/src needs a one-line reason with its measured bytes, in a // comment
        on its line or the line above: `#[inline(never)] // why: -96 B`
        (a figure: optional sign, digits with optional commas, a space, B).
        Prints each offender as path:line and fails if there is one.
  bench [-n CYCLES]
        imp vs Debian's and busybox's start-stop-daemon, daemonize and a C floor
        (xtask/bench/floor.c), CYCLES (40) interleaved start/stop cycles of a sleep
        daemon: latency, syscalls, instructions, peak RSS, size; installs them as root.
        Writes target/bench/bench.md and bench.svg. Informational, never a test.
  fuzz [SECONDS]
        every cargo-fuzz target in fuzz/ (nightly libFuzzer) for SECONDS (60) each:
        pidfile content and value parsers, the whole argv, passwd/group lines, the
        environment builder.

environment: IMP_NIGHTLY (nightly toolchain name, default `nightly`),
IMP_XTASK_NO_INSTALL=1 (never run rustup or apt-get to install), IMP_XTASK_SUITE_TIMEOUT
and IMP_XTASK_BUDGET (the --timeout and --budget defaults).
";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (cmd, rest) = match args.split_first() {
        Some((c, r)) => (c.as_str(), r),
        None => ("help", &[][..]),
    };
    let result = match cmd {
        "dist" => dist::main(rest),
        "size" => size::main(rest),
        "test" => suite::main(rest),
        "tidy" => tidy::main(rest),
        "bench" => bench::main(rest),
        "fuzz" => fuzz::main(rest),
        "help" | "-h" | "--help" => {
            print!("{HELP}");
            Ok(())
        }
        other => Err(format!("unknown command `{other}`\n\n{HELP}")),
    };
    if let Err(e) = result {
        eprintln!("xtask: error: {e}");
        std::process::exit(1);
    }
}
