//! The targets imp is built for (SPEC §1.2), and the flags every build shares.
//!
//! Adding a board: add a row to [`TARGETS`]. If rustup ships the target's standard
//! library, use [`Toolchain::Stable`]; otherwise [`Toolchain::NightlyBuildStd`] builds
//! `core` from source. The binary's `_start` for a new architecture goes in
//! `rt/src/lib.rs`.

use std::process::Command;
use std::sync::OnceLock;

/// How the toolchain gets a target's `core`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Toolchain {
    /// The active toolchain, with the target's prebuilt std from `rustup target add`.
    Stable,
    /// The nightly toolchain, building `core` from `rust-src` (`-Zbuild-std=core`).
    NightlyBuildStd,
}

/// One row of the targets table.
#[derive(Debug)]
pub struct Target {
    /// The Rust target triple; also the folder under `target/dist/`.
    pub triple: &'static str,
    /// Where `core` comes from.
    pub toolchain: Toolchain,
    /// `target_arch` as `std::env::consts::ARCH` spells it: native when it matches the host.
    pub arch: &'static str,
    /// The qemu-user binary that runs it on another architecture (Debian `qemu-user`).
    pub qemu: &'static str,
    /// RUSTFLAGS on top of [`BASE_RUSTFLAGS`], each for a reason given in the table.
    pub rustflags: &'static [&'static str],
    /// Built only when asked for by name (`--target`) or with `--experimental`.
    pub experimental: bool,
    /// Needs rustix patched to allow its linux_raw backend (see `mipsbe.rs`).
    pub patch_rustix_big_endian_mips: bool,
    /// What runs it, for the tables.
    pub note: &'static str,
}

/// The flags of every build. No C toolchain is involved for any target.
pub const BASE_RUSTFLAGS: &[&str] = &[
    // rust-lld ships with rustc: the same linker for every architecture, no gcc needed.
    "-Clinker=rust-lld",
    // A fixed-address executable (ET_EXEC): no dynamic relocations, no loader.
    "-Crelocation-model=static",
    // The gnu and musl targets link statically; it is also what tells rustc not to
    // ask for a dynamic loader.
    "-Ctarget-feature=+crt-static",
    // Do not link musl's crt1.o/crti.o (they define `_start` and call libc's
    // `__libc_start_main`): rt/src/lib.rs has its own `_start`.
    "-Clink-self-contained=no",
    // ld.lld: no dynamic section, no PT_INTERP, even on the gnu host target.
    "-Clink-arg=-static",
    // panic=abort: nothing ever unwinds, so no unwind tables for imp's own code...
    "-Cforce-unwind-tables=no",
    // ...no .eh_frame_hdr lookup table...
    "-Clink-arg=--no-eh-frame-hdr",
    // Identical code folding: monomorphized copies that compile to the same bytes
    // (drop glue, closures) kept once (-96 B on x86_64, -108 B on aarch64).
    "-Clink-arg=--icf=all",
];

/// On top of [`BASE_RUSTFLAGS`] for the targets whose `core` is built from source.
pub const NIGHTLY_RUSTFLAGS: &[&str] = &[
    // A panic (always a bug: no input reaches one) traps where it happens instead of
    // calling the panic handler with a message and a source location; `core` is built
    // the same way, so the panic paths and their location records go
    // (mipsel -1.6 KB, armv7 and riscv64 -1.2 KB when measured). The binary then dies
    // by SIGILL/SIGTRAP rather than exiting 101. Stable has no such strategy.
    "-Zunstable-options",
    "-Cpanic=immediate-abort",
];

/// ...and no .eh_frame from the prebuilt `core` either: a linker script fragment
/// that discards it (see the file). Passed as `-Clink-arg=-T<path>`.
pub const DISCARD_UNWIND_SCRIPT: &str = "xtask/link/discard-unwind.ld";

/// Every target of SPEC §1.2. Which row is the host's is asked of rustc ([`host`]).
pub const TARGETS: &[Target] = &[
    Target {
        triple: "x86_64-unknown-linux-gnu",
        toolchain: Toolchain::Stable,
        arch: "x86_64",
        qemu: "qemu-x86_64",
        rustflags: &[],
        experimental: false,
        patch_rustix_big_endian_mips: false,
        note: "host; still static and libc-free",
    },
    Target {
        triple: "x86_64-unknown-linux-musl",
        toolchain: Toolchain::Stable,
        arch: "x86_64",
        qemu: "qemu-x86_64",
        rustflags: &[],
        experimental: false,
        patch_rustix_big_endian_mips: false,
        note: "PCs, VMs, containers",
    },
    Target {
        triple: "aarch64-unknown-linux-musl",
        toolchain: Toolchain::Stable,
        arch: "aarch64",
        qemu: "qemu-aarch64",
        rustflags: &[],
        experimental: false,
        patch_rustix_big_endian_mips: false,
        note: "Raspberry Pi 3+, arm64 boards and routers",
    },
    Target {
        triple: "armv7-unknown-linux-musleabihf",
        toolchain: Toolchain::NightlyBuildStd,
        arch: "arm",
        qemu: "qemu-arm",
        // Thumb-2, as Debian's armhf is built: every ARMv7-A core runs it, and it is
        // about 30% smaller than A32 code (47,240 -> 33,772 bytes when measured).
        // rustix moves the syscall number out of r7 (Thumb's frame pointer) itself.
        rustflags: &["-Ctarget-feature=+thumb-mode"],
        experimental: false,
        patch_rustix_big_endian_mips: false,
        note: "32-bit ARM boards (Raspberry Pi 2, i.MX6); Thumb-2",
    },
    Target {
        triple: "riscv64gc-unknown-linux-musl",
        toolchain: Toolchain::NightlyBuildStd,
        arch: "riscv64",
        qemu: "qemu-riscv64",
        rustflags: &[],
        experimental: false,
        patch_rustix_big_endian_mips: false,
        note: "RISC-V boards (VisionFive, Milk-V)",
    },
    Target {
        triple: "mipsel-unknown-linux-musl",
        toolchain: Toolchain::NightlyBuildStd,
        arch: "mips",
        qemu: "qemu-mipsel",
        // rustix 0.38 uses its linux_raw backend on MIPS only when asked: its inline
        // asm for MIPS is behind the unstable `asm_experimental_arch` feature.
        rustflags: &["--cfg", "rustix_use_experimental_asm"],
        experimental: false,
        patch_rustix_big_endian_mips: false,
        note: "OpenWrt mipsel_24kc routers",
    },
    Target {
        triple: "mips-unknown-linux-musl",
        toolchain: Toolchain::NightlyBuildStd,
        arch: "mips",
        qemu: "qemu-mips",
        rustflags: &["--cfg", "rustix_use_experimental_asm"],
        experimental: true,
        patch_rustix_big_endian_mips: true,
        note: "OpenWrt ath79 (big-endian); experimental: patched rustix",
    },
];

/// Looks a triple up in [`TARGETS`].
pub fn find(triple: &str) -> Option<&'static Target> {
    TARGETS.iter().find(|t| t.triple == triple)
}

/// The host triple of the toolchain that builds: the `host:` line of `rustc -vV`
/// (`$RUSTC` when set), asked once.
pub fn host_triple() -> Result<&'static str, String> {
    static HOST: OnceLock<Result<String, String>> = OnceLock::new();
    HOST.get_or_init(|| {
        let rustc = std::env::var_os("RUSTC")
            .filter(|r| !r.is_empty())
            .unwrap_or_else(|| "rustc".into());
        let shown = rustc.to_string_lossy().into_owned();
        let out = crate::util::output(Command::new(&rustc).arg("-vV"))
            .ok_or_else(|| format!("`{shown} -vV` failed: is a Rust toolchain installed?"))?;
        host_line(&out)
            .map(str::to_string)
            .ok_or_else(|| format!("`{shown} -vV` printed no `host:` line"))
    })
    .as_deref()
    .map_err(Clone::clone)
}

/// The triple in the `host: ...` line of `rustc -vV` output.
fn host_line(verbose_version: &str) -> Option<&str> {
    verbose_version
        .lines()
        .find_map(|l| l.strip_prefix("host:"))
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

/// The row of this machine: the one [`for_host`] gives for rustc's host triple. Its
/// binary runs natively; `dist --host`, `test` and `size --top` start from it.
pub fn host() -> Result<&'static Target, String> {
    let triple = host_triple()?;
    for_host(triple).ok_or_else(|| {
        format!(
            "no row of the targets table (xtask/src/targets.rs) runs on this machine's {triple}"
        )
    })
}

/// The row that runs natively where rustc's host is `triple`: that triple's own row,
/// else the first Linux row of the same architecture (`aarch64-unknown-linux-gnu` ->
/// `aarch64-unknown-linux-musl`: imp links no libc, so any Linux row of the
/// architecture runs there).
pub fn for_host(triple: &str) -> Option<&'static Target> {
    let arch = |t: &'static str| t.split('-').next().unwrap_or(t);
    find(triple).or_else(|| {
        let (host_arch, rest) = triple.split_once('-')?;
        rest.contains("-linux")
            .then(|| TARGETS.iter().find(|t| arch(t.triple) == host_arch))
            .flatten()
    })
}

impl Target {
    /// True when the binary runs on this machine without qemu.
    pub fn native(&self) -> bool {
        self.arch == std::env::consts::ARCH && std::env::consts::OS == "linux"
    }

    /// The RUSTFLAGS of this target, one flag per item.
    pub fn rustflags(&self) -> Vec<String> {
        let script = crate::util::root().join(DISCARD_UNWIND_SCRIPT);
        BASE_RUSTFLAGS
            .iter()
            .map(|s| s.to_string())
            .chain(std::iter::once(format!(
                "-Clink-arg=-T{}",
                script.display()
            )))
            .chain(
                NIGHTLY_RUSTFLAGS
                    .iter()
                    .filter(|_| self.toolchain == Toolchain::NightlyBuildStd)
                    .map(|s| s.to_string()),
            )
            .chain(self.rustflags.iter().map(|s| s.to_string()))
            .collect()
    }

    /// `-C` flags as one short word for the tables.
    pub fn how(&self) -> &'static str {
        match (self.toolchain, self.patch_rustix_big_endian_mips) {
            (Toolchain::Stable, _) => "rustup target",
            (Toolchain::NightlyBuildStd, false) => "nightly build-std",
            (Toolchain::NightlyBuildStd, true) => "nightly build-std + rustix patch",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_rows() {
        let row = |h: &str| for_host(h).map(|t| t.triple);
        assert_eq!(
            row("x86_64-unknown-linux-gnu"),
            Some("x86_64-unknown-linux-gnu")
        );
        assert_eq!(
            row("x86_64-unknown-linux-musl"),
            Some("x86_64-unknown-linux-musl")
        );
        assert_eq!(
            row("aarch64-unknown-linux-gnu"),
            Some("aarch64-unknown-linux-musl")
        );
        assert_eq!(
            row("armv7-unknown-linux-gnueabihf"),
            Some("armv7-unknown-linux-musleabihf")
        );
        assert_eq!(
            row("riscv64gc-unknown-linux-gnu"),
            Some("riscv64gc-unknown-linux-musl")
        );
        assert_eq!(
            row("mipsel-unknown-linux-gnu"),
            Some("mipsel-unknown-linux-musl")
        );
        assert_eq!(
            row("mips-unknown-linux-gnu"),
            Some("mips-unknown-linux-musl")
        );
        assert_eq!(row("x86_64-apple-darwin"), None);
        assert_eq!(row("powerpc64le-unknown-linux-gnu"), None);
        // Every row is the host row of its own triple, so each can be the host.
        assert!(TARGETS.iter().all(|t| row(t.triple) == Some(t.triple)));
    }

    #[test]
    fn asks_rustc() {
        let vv = "rustc 1.95.0 (59807616e 2026-04-14)\nbinary: rustc\nhost: aarch64-unknown-linux-gnu\nrelease: 1.95.0\n";
        assert_eq!(host_line(vv), Some("aarch64-unknown-linux-gnu"));
        assert_eq!(host_line("rustc 1.95.0\n"), None);
        // This machine's own row runs here without qemu.
        let host = host().expect("rustc -vV names a host with a row");
        assert!(host.native(), "{}", host.triple);
    }

    #[test]
    fn table_is_consistent() {
        for (i, t) in TARGETS.iter().enumerate() {
            assert!(
                t.triple.starts_with(t.arch) || t.arch == "arm" || t.arch == "mips",
                "{}",
                t.triple
            );
            assert!(
                TARGETS[..i].iter().all(|u| u.triple != t.triple),
                "duplicate {}",
                t.triple
            );
            assert!(t.qemu.starts_with("qemu-"));
            assert!(!t.patch_rustix_big_endian_mips || t.experimental);
        }
        assert!(find("mipsel-unknown-linux-musl").is_some());
    }
}
