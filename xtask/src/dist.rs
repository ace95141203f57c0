//! `cargo xtask dist`: the static, libc-free `imp` for each target, at
//! `target/dist/<triple>/imp` (stripped) next to `imp.unstripped` (with symbols, for
//! `cargo xtask size`), and its `--no-default-features` build beside them as
//! `imp-minimal` (SPEC §1.2: start, stop, restart, status, signal, run).
//!
//! Each build is `cargo build --release -p imp --target T` with the RUSTFLAGS of
//! [`crate::targets`], into its own target dir (`target/imp` for the stable toolchain,
//! `target/imp-nightly` for `-Zbuild-std`) so those flags never invalidate the
//! workspace's ordinary build. The release profile strips; here cargo is told not to
//! (`CARGO_PROFILE_RELEASE_STRIP=false`) and the copy in `dist/` is stripped with the
//! toolchain's own `rust-objcopy`, so one build gives both.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::targets::{Target, Toolchain, TARGETS};
use crate::util::{self, table, thousands, Build};

/// Which targets a command works on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// The host target only (fast).
    Host,
    /// Every non-experimental target (plus the experimental ones with `--experimental`).
    All { experimental: bool },
    /// These triples.
    List(Vec<String>),
}

impl Selection {
    /// The table rows selected, in table order.
    pub fn targets(&self) -> Result<Vec<&'static Target>, String> {
        match self {
            Selection::Host => Ok(vec![crate::targets::host()?]),
            Selection::All { experimental } => Ok(TARGETS
                .iter()
                .filter(|t| *experimental || !t.experimental)
                .collect()),
            Selection::List(list) => {
                let mut out = Vec::new();
                for name in list {
                    let t = match name.as_str() {
                        "host" => crate::targets::host()?,
                        _ => crate::targets::find(name).ok_or_else(|| {
                            let known: Vec<_> = TARGETS.iter().map(|t| t.triple).collect();
                            format!("unknown target `{name}`; known: host, {}", known.join(", "))
                        })?,
                    };
                    if !out.iter().any(|o: &&Target| o.triple == t.triple) {
                        out.push(t);
                    }
                }
                out.sort_by_key(|t| TARGETS.iter().position(|u| u.triple == t.triple));
                Ok(out)
            }
        }
    }
}

/// What became of one target.
pub enum Outcome {
    /// Built: the stripped binary in `target/dist`.
    Built(PathBuf),
    /// Not attempted: something the machine lacks, and the command that fixes it.
    Skipped { reason: String, fix: String },
    /// Attempted and failed (the compiler output is above).
    Failed(String),
}

/// The toolchain state, probed once per `dist`.
struct Probe {
    install: bool,
    rustup: bool,
    nightly: String,
    stable_sysroot: Option<PathBuf>,
    /// `None` until probed; then the nightly sysroot or why it is unusable.
    nightly_state: Option<Result<PathBuf, (String, String)>>,
}

fn sysroot(toolchain: Option<&str>) -> Option<PathBuf> {
    let mut c = Command::new("rustc");
    if let Some(t) = toolchain {
        c.arg(format!("+{t}"));
    }
    util::output(c.args(["--print", "sysroot"])).map(|s| PathBuf::from(s.trim()))
}

impl Probe {
    fn new() -> Probe {
        let install = std::env::var_os("IMP_XTASK_NO_INSTALL").is_none();
        let rustup = util::which("rustup").is_some();
        let nightly = std::env::var("IMP_NIGHTLY").unwrap_or_else(|_| "nightly".into());
        Probe {
            install,
            rustup,
            nightly,
            stable_sysroot: sysroot(None),
            nightly_state: None,
        }
    }

    /// Makes sure the target can be built, installing what is missing when allowed.
    fn ready(&mut self, t: &Target) -> Result<(), (String, String)> {
        match t.toolchain {
            Toolchain::Stable => self.ready_stable(t.triple),
            Toolchain::NightlyBuildStd => self.ready_nightly().map(|_| ()),
        }
    }

    fn ready_stable(&mut self, triple: &str) -> Result<(), (String, String)> {
        let fix = format!("rustup target add {triple}");
        let has = |p: &Probe| {
            p.stable_sysroot
                .as_ref()
                .is_some_and(|s| s.join("lib/rustlib").join(triple).join("lib").is_dir())
        };
        if has(self) {
            return Ok(());
        }
        if !self.rustup {
            return Err((format!("the standard library for {triple} is not installed and rustup is not available"), fix));
        }
        if !self.install {
            return Err((format!("the standard library for {triple} is not installed (IMP_XTASK_NO_INSTALL is set)"), fix));
        }
        eprintln!("xtask: {triple}: installing its standard library");
        if util::run(Command::new("rustup").args(["target", "add", triple])).is_err() || !has(self)
        {
            return Err((
                format!("`rustup target add {triple}` failed (offline?)"),
                fix,
            ));
        }
        Ok(())
    }

    fn ready_nightly(&mut self) -> Result<PathBuf, (String, String)> {
        if self.nightly_state.is_none() {
            self.nightly_state = Some(self.probe_nightly());
        }
        self.nightly_state
            .clone()
            .unwrap_or_else(|| Err(("unreachable".into(), String::new())))
    }

    fn probe_nightly(&self) -> Result<PathBuf, (String, String)> {
        let n = &self.nightly;
        let fix_toolchain =
            format!("rustup toolchain install {n} --profile minimal --component rust-src");
        let fix_src = format!("rustup component add rust-src --toolchain {n}");
        if !self.rustup {
            return Err((
                "needs a nightly toolchain with rust-src, and rustup is not available".into(),
                fix_toolchain,
            ));
        }
        let mut root = sysroot(Some(n));
        if root.is_none() {
            if !self.install {
                return Err((
                    format!("no `{n}` toolchain (IMP_XTASK_NO_INSTALL is set)"),
                    fix_toolchain,
                ));
            }
            eprintln!("xtask: installing the `{n}` toolchain (minimal profile + rust-src) for -Zbuild-std targets");
            let _ = util::run(Command::new("rustup").args([
                "toolchain",
                "install",
                n,
                "--profile",
                "minimal",
                "--component",
                "rust-src",
            ]));
            root = sysroot(Some(n));
        }
        let root = root.ok_or_else(|| {
            (
                format!("no `{n}` toolchain and installing it failed (offline?)"),
                fix_toolchain,
            )
        })?;
        let has_src = |r: &Path| {
            r.join("lib/rustlib/src/rust/library/core/Cargo.toml")
                .is_file()
        };
        if !has_src(&root) {
            if !self.install {
                return Err((
                    format!("`{n}` has no rust-src (IMP_XTASK_NO_INSTALL is set)"),
                    fix_src,
                ));
            }
            eprintln!("xtask: adding rust-src to `{n}` for -Zbuild-std");
            let _ = util::run(Command::new("rustup").args([
                "component",
                "add",
                "rust-src",
                "--toolchain",
                n,
            ]));
            if !has_src(&root) {
                return Err((
                    format!("`{n}` has no rust-src and adding it failed (offline?)"),
                    fix_src,
                ));
            }
        }
        Ok(root)
    }

    fn sysroot_for(&mut self, t: &Target) -> Option<PathBuf> {
        match t.toolchain {
            Toolchain::Stable => self.stable_sysroot.clone(),
            Toolchain::NightlyBuildStd => self.ready_nightly().ok(),
        }
    }
}

/// The cargo target dir of a target's builds.
fn build_dir(t: &Target) -> PathBuf {
    let name = match (t.toolchain, t.patch_rustix_big_endian_mips) {
        (Toolchain::Stable, _) => "imp",
        (Toolchain::NightlyBuildStd, false) => "imp-nightly",
        (Toolchain::NightlyBuildStd, true) => "imp-mips-be",
    };
    util::target_dir().join(name)
}

/// One `cargo build` for targets that share toolchain, flags and target dir.
fn cargo_build(p: &Probe, targets: &[&Target], build: Build) -> Result<(), String> {
    let first = targets[0];
    let nightly = first.toolchain == Toolchain::NightlyBuildStd;
    let mut c = util::cargo(nightly.then_some(p.nightly.as_str()));
    c.args(["build", "--release"]).args(build.cargo_args().0);
    for t in targets {
        c.args(["--target", t.triple]);
    }
    c.arg("--target-dir").arg(build_dir(first));
    if nightly {
        // core (and compiler_builtins, without its `mem` feature: imp-rt has the
        // memory functions) from rust-src, for targets rustup has no std for.
        c.arg("-Zbuild-std=core");
    }
    if first.patch_rustix_big_endian_mips {
        c.args(crate::mipsbe::prepare()?);
    }
    let flags = first.rustflags();
    if flags.iter().any(|f| f.contains(char::is_whitespace)) {
        // A path with a space (the repository's): RUSTFLAGS would split it.
        c.env("CARGO_ENCODED_RUSTFLAGS", flags.join("\x1f"))
            .env_remove("RUSTFLAGS");
    } else {
        c.env("RUSTFLAGS", flags.join(" "))
            .env_remove("CARGO_ENCODED_RUSTFLAGS");
    }
    c.env("CARGO_PROFILE_RELEASE_STRIP", "false")
        .env_remove("CARGO_BUILD_RUSTFLAGS")
        .current_dir(util::root());
    util::run(&mut c)
}

/// What the shipped binary loses: symbols and debug info, and the section headers with
/// everything outside the loaded segments (as OpenWrt's `sstrip` does; the kernel and
/// qemu-user read only program headers). 288 to 432 bytes per target when measured.
/// `imp.unstripped` beside it keeps everything for `xtask size`.
const STRIP_FLAGS: [&str; 2] = ["--strip-all", "--strip-sections"];

/// `rust-objcopy --strip-all --strip-sections` from the toolchain that built the binary (it needs the
/// toolchain's libLLVM on the library path), else `llvm-objcopy` or `llvm-strip` from PATH.
fn strip(sysroot: Option<&Path>, from: &Path, to: &Path) -> Result<(), String> {
    let mut tried = Vec::new();
    if let Some(root) = sysroot {
        let host_bin = crate::targets::host_triple()
            .ok()
            .map(|h| root.join("lib/rustlib").join(h).join("bin/rust-objcopy"));
        let any_bin = std::fs::read_dir(root.join("lib/rustlib"))
            .ok()
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path().join("bin/rust-objcopy"))
            .find(|p| p.is_file());
        for objcopy in [host_bin, any_bin]
            .into_iter()
            .flatten()
            .filter(|p| p.is_file())
        {
            let mut c = Command::new(&objcopy);
            c.args(STRIP_FLAGS)
                .arg(from)
                .arg(to)
                .env("LD_LIBRARY_PATH", root.join("lib"));
            if util::output(&mut c).is_some() {
                return Ok(());
            }
            tried.push(objcopy.display().to_string());
        }
    }
    for tool in ["llvm-objcopy", "llvm-strip"] {
        if util::which(tool).is_some() {
            let mut c = Command::new(tool);
            if tool == "llvm-strip" {
                c.args(STRIP_FLAGS).arg(from).arg("-o").arg(to);
            } else {
                c.args(STRIP_FLAGS).arg(from).arg(to);
            }
            if util::output(&mut c).is_some() {
                return Ok(());
            }
            tried.push(tool.to_string());
        }
    }
    Err(format!(
        "cannot strip {}: no working rust-objcopy (tried: {}); fix: `rustup component add llvm-tools` \
         or `apt-get install llvm`",
        from.display(),
        if tried.is_empty() { "none found".into() } else { tried.join(", ") }
    ))
}

/// Copies the fresh build into `target/dist/<triple>/`, stripped and unstripped.
fn publish(p: &mut Probe, t: &Target, build: Build) -> Result<PathBuf, String> {
    let built = build_dir(t)
        .join(t.triple)
        .join("release")
        .join(build.cargo_args().1);
    if !built.is_file() {
        return Err(format!(
            "cargo reported success but {} is missing",
            built.display()
        ));
    }
    let (bin, unstripped) = (build.bin(t.triple), build.unstripped(t.triple));
    if let Some(dir) = bin.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    std::fs::copy(&built, &unstripped).map_err(|e| format!("{}: {e}", unstripped.display()))?;
    let tmp = bin.with_extension("tmp");
    strip(p.sysroot_for(t).as_deref(), &unstripped, &tmp)?;
    // rename: a running `imp` (a test daemon) is never overwritten in place.
    std::fs::rename(&tmp, &bin).map_err(|e| format!("{}: {e}", bin.display()))?;
    Ok(bin)
}

/// Builds the selected targets and returns what became of each, in table order.
pub fn build(targets: &[&'static Target]) -> Vec<(&'static Target, Outcome)> {
    let mut p = Probe::new();
    let mut outcomes: Vec<(&'static Target, Option<Outcome>)> = Vec::new();
    for &t in targets {
        let o = p
            .ready(t)
            .err()
            .map(|(reason, fix)| Outcome::Skipped { reason, fix });
        outcomes.push((t, o));
    }
    // Group the ready targets by build dir and flags: one cargo run each, so cargo
    // builds them in parallel.
    let mut groups: Vec<Vec<&'static Target>> = Vec::new();
    for (t, o) in &outcomes {
        if o.is_some() {
            continue;
        }
        match groups
            .iter_mut()
            .find(|g| build_dir(g[0]) == build_dir(t) && g[0].rustflags() == t.rustflags())
        {
            Some(g) => g.push(t),
            None => groups.push(vec![t]),
        }
    }
    // The minimal build second: each build overwrites the one before in cargo's
    // target dir, so each is published before the next.
    for group in groups {
        for build in Build::ALL {
            let ok = cargo_build(&p, &group, build);
            for t in &group {
                let slot = outcomes.iter_mut().find(|(u, _)| u.triple == t.triple);
                let Some(slot) = slot else { continue };
                if matches!(slot.1, Some(Outcome::Failed(_))) {
                    continue;
                }
                // A failed group build is retried target by target, so each failure
                // is pinned on the target that has it.
                let result = match &ok {
                    Ok(()) => Ok(()),
                    Err(_) if group.len() > 1 => cargo_build(&p, &[t], build),
                    Err(e) => Err(e.clone()),
                };
                let outcome = match result.and_then(|()| publish(&mut p, t, build)) {
                    Ok(bin) if build == Build::Default => Outcome::Built(bin),
                    Ok(_) => continue,
                    Err(e) => Outcome::Failed(format!("{} build: {e}", build.file())),
                };
                slot.1 = Some(outcome);
            }
        }
    }
    outcomes
        .into_iter()
        .map(|(t, o)| (t, o.unwrap_or_else(|| Outcome::Failed("not built".into()))))
        .collect()
}

/// Prints the dist table and the skipped/failed targets with reasons and fixes.
pub fn report(outcomes: &[(&'static Target, Outcome)]) {
    let root = util::root();
    let mut rows = Vec::new();
    for (t, o) in outcomes {
        let (size, path) = match o {
            Outcome::Built(bin) => {
                let size = std::fs::metadata(bin)
                    .map(|m| thousands(m.len()))
                    .unwrap_or_default();
                (
                    size,
                    bin.strip_prefix(&root).unwrap_or(bin).display().to_string(),
                )
            }
            Outcome::Skipped { .. } => ("-".into(), "SKIPPED".into()),
            Outcome::Failed(_) => ("-".into(), "FAILED".into()),
        };
        rows.push(vec![t.triple.to_string(), t.how().to_string(), size, path]);
    }
    println!("\n{}", table(&["target", "how", "bytes", "binary"], &rows));
    for (t, o) in outcomes {
        match o {
            Outcome::Skipped { reason, fix } => {
                println!("skipped {}: {reason}\n    fix: {fix}", t.triple)
            }
            Outcome::Failed(e) => println!("FAILED  {}: {e}", t.triple),
            Outcome::Built(_) => {}
        }
    }
}

/// `cargo xtask dist [--host | --all | --target T...] [--experimental] [--strict]`.
pub fn main(args: &[String]) -> Result<(), String> {
    let mut list = Vec::new();
    let (mut host, mut experimental, mut strict) = (false, false, false);
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--host" => host = true,
            "--all" => {}
            "--experimental" => experimental = true,
            "--strict" => strict = true,
            "--target" => list.extend(
                it.next()
                    .ok_or("--target needs a triple")?
                    .split(',')
                    .map(str::to_string),
            ),
            s if s.starts_with("--target=") => list.extend(s[9..].split(',').map(str::to_string)),
            other => {
                return Err(format!(
                    "dist: unknown argument `{other}` (see `cargo xtask help`)"
                ))
            }
        }
    }
    let sel = if !list.is_empty() {
        Selection::List(list)
    } else if host {
        Selection::Host
    } else {
        Selection::All { experimental }
    };
    let outcomes = build(&sel.targets()?);
    report(&outcomes);
    check(&outcomes, strict)
}

/// Ok unless a target failed to build (or, with `strict`, was skipped).
pub fn check(outcomes: &[(&'static Target, Outcome)], strict: bool) -> Result<(), String> {
    let failed: Vec<_> = outcomes
        .iter()
        .filter(|(_, o)| {
            matches!(o, Outcome::Failed(_)) || (strict && matches!(o, Outcome::Skipped { .. }))
        })
        .map(|(t, _)| t.triple)
        .collect();
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!("dist: not built: {}", failed.join(", ")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selections() {
        let all = Selection::All {
            experimental: false,
        }
        .targets()
        .expect("all");
        assert!(all.iter().all(|t| !t.experimental));
        assert!(all.len() >= 6);
        let list = Selection::List(vec!["mipsel-unknown-linux-musl".into(), "host".into()]);
        let l = list.targets().expect("list");
        assert_eq!(
            l.iter().map(|t| t.triple).collect::<Vec<_>>(),
            [
                crate::targets::host().expect("host").triple,
                "mipsel-unknown-linux-musl"
            ]
        );
        assert!(Selection::List(vec!["sparc-sun-solaris".into()])
            .targets()
            .is_err());
    }

    #[test]
    fn build_dirs_keep_flags_apart() {
        let dirs: Vec<_> = TARGETS.iter().map(build_dir).collect();
        assert!(dirs[0].ends_with("imp"));
        assert_ne!(
            build_dir(&TARGETS[0]),
            build_dir(crate::targets::find("armv7-unknown-linux-musleabihf").expect("armv7"))
        );
    }
}
