//! Big-endian MIPS (`mips-unknown-linux-musl`, OpenWrt ath79): what blocks it and the
//! experimental way around it.
//!
//! rustix 0.38.44 refuses its linux_raw backend on big-endian MIPS in two places:
//! - `build.rs` counts `mips` + `target_endian = "big"` as an "unsupported ABI"
//!   (`is_mipseb`) and falls back to the libc backend — which needs a C library, and
//!   has no `rustix::runtime` (fork, execve, exit_group) at all;
//! - `Cargo.toml` selects the linux_raw dependencies (linux-raw-sys with `errno` and
//!   `elf`) only for `any(target_endian = "little", target_arch = "s390x")`.
//!
//! The linux_raw code itself already handles byte order where it matters (`hi`/`lo`
//! halves of 64-bit syscall arguments on 32-bit targets in `backend/linux_raw/conv.rs`,
//! `timespec`, `epoll`), and the MIPS o32 syscall convention does not depend on it. So
//! the experiment builds a copy of the registry's rustix under `target/mips-be/` with
//! those two checks widened, and points the build at it through `--config
//! patch.crates-io.rustix.path=...` and a separate lockfile (`resolver.lockfile-path`),
//! leaving the workspace's `Cargo.lock` untouched. Whether it is *correct* is what the
//! integration suite under `qemu-mips` says; until it passes there the target stays
//! experimental (built only on request: `cargo xtask dist --target
//! mips-unknown-linux-musl`, then `cargo xtask test --targets mips-unknown-linux-musl`).
//!
//! cargo warns "patch `rustix` was not used in the crate graph": that is the
//! `-Zbuild-std` resolve of the standard library, which has no rustix; imp's own
//! graph does use the patched copy (see `target/mips-be/Cargo.lock`, whose rustix
//! entry has no registry source).
//!
//! The lasting fix is upstream: rustix accepting linux_raw on big-endian MIPS (the
//! two conditions above), or imp moving to a rustix that does.

use std::path::PathBuf;

/// Where the patched rustix and its lockfile live.
fn dir() -> PathBuf {
    crate::util::target_dir().join("mips-be")
}

/// One textual patch: the exact text in the pristine file and its replacement, and
/// how many times it must occur.
struct Edit {
    file: &'static str,
    from: &'static str,
    to: &'static str,
    at_least: usize,
}

const EDITS: &[Edit] = &[
    Edit {
        file: "build.rs",
        from: r#"let is_mipseb = (arch == "mips" || arch == "mips32r6") && endian == "big";"#,
        to: r#"let is_mipseb = false && endian == "big"; // imp xtask: linux_raw on big-endian MIPS"#,
        at_least: 1,
    },
    Edit {
        file: "Cargo.toml",
        from: r#"any(target_endian = "little", target_arch = "s390x")"#,
        to: r#"any(target_endian = "little", target_arch = "s390x", target_arch = "mips")"#,
        at_least: 4,
    },
    // A path dependency's warnings are not capped like a registry crate's; keep the
    // build output about imp.
    Edit {
        file: "src/lib.rs",
        from: "//!",
        to: "#![allow(warnings)]\n//!",
        at_least: 1,
    },
];

/// The version of rustix in the workspace's `Cargo.lock`.
fn locked_rustix_version(lock: &str) -> Option<String> {
    let mut lines = lock.lines();
    while let Some(l) = lines.next() {
        if l.trim() == r#"name = "rustix""# {
            let v = lines
                .next()?
                .trim()
                .strip_prefix("version = \"")?
                .strip_suffix('"')?;
            return Some(v.to_string());
        }
    }
    None
}

/// The unpacked registry source of `rustix-<version>`, fetching it if needed.
fn registry_source(version: &str) -> Result<PathBuf, String> {
    let find = || -> Option<PathBuf> {
        let home = std::env::var_os("CARGO_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))?;
        std::fs::read_dir(home.join("registry/src"))
            .ok()?
            .flatten()
            .map(|e| e.path().join(format!("rustix-{version}")))
            .find(|p| p.join("Cargo.toml").is_file())
    };
    if let Some(p) = find() {
        return Ok(p);
    }
    let mut fetch = crate::util::cargo(None);
    fetch.arg("fetch").current_dir(crate::util::root());
    crate::util::run(&mut fetch)?;
    find().ok_or_else(|| {
        format!("rustix-{version} not found in the cargo registry after `cargo fetch`")
    })
}

/// Makes (once) the patched rustix and a fresh copy of the lockfile; returns the cargo
/// arguments that use them.
pub fn prepare() -> Result<Vec<String>, String> {
    let root = crate::util::root();
    let lock = std::fs::read_to_string(root.join("Cargo.lock"))
        .map_err(|e| format!("Cargo.lock: {e} (run a normal `cargo build` first)"))?;
    let version = locked_rustix_version(&lock).ok_or("no rustix in Cargo.lock")?;
    let patched = dir().join(format!("rustix-{version}"));
    let marker = patched.join(".imp-xtask-patched");
    if !marker.is_file() {
        let pristine = registry_source(&version)?;
        let _ = std::fs::remove_dir_all(&patched);
        crate::util::copy_tree(&pristine, &patched)?;
        for edit in EDITS {
            let path = patched.join(edit.file);
            let text =
                std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            let n = text.matches(edit.from).count();
            if n < edit.at_least {
                return Err(format!(
                    "rustix-{version}/{}: expected {} occurrence(s) of `{}`, found {n}: \
                     the big-endian MIPS patch no longer applies to this rustix",
                    edit.file, edit.at_least, edit.from
                ));
            }
            let text = if edit.file == "src/lib.rs" {
                text.replacen(edit.from, edit.to, 1)
            } else {
                text.replace(edit.from, edit.to)
            };
            std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
        }
        std::fs::write(&marker, "patched by cargo xtask (xtask/src/mipsbe.rs)\n")
            .map_err(|e| e.to_string())?;
        eprintln!(
            "xtask: patched rustix-{version} for big-endian MIPS at {}",
            patched.display()
        );
    }
    let lockfile = dir().join("Cargo.lock");
    std::fs::write(&lockfile, lock).map_err(|e| format!("{}: {e}", lockfile.display()))?;
    Ok(vec![
        "--config".into(),
        format!(
            "patch.crates-io.rustix.path={:?}",
            patched.display().to_string()
        ),
        "--config".into(),
        format!(
            "resolver.lockfile-path={:?}",
            lockfile.display().to_string()
        ),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_rustix_version() {
        let lock = "[[package]]\nname = \"ring\"\nversion = \"1\"\n\n[[package]]\nname = \"rustix\"\nversion = \"0.38.44\"\n";
        assert_eq!(locked_rustix_version(lock).as_deref(), Some("0.38.44"));
        assert_eq!(locked_rustix_version("").as_deref(), None);
    }
}
