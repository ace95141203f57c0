//! Small helpers: the repository root, running and printing commands, PATH lookup.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The workspace root (the parent of `xtask/`).
pub fn root() -> PathBuf {
    let xtask = Path::new(env!("CARGO_MANIFEST_DIR"));
    xtask.parent().unwrap_or(xtask).to_path_buf()
}

/// `target/` of the workspace, unless `CARGO_TARGET_DIR` moved it.
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(d) if !d.is_empty() => root().join(d),
        _ => root().join("target"),
    }
}

/// `target/dist/<triple>/imp`.
pub fn dist_bin(triple: &str) -> PathBuf {
    target_dir().join("dist").join(triple).join("imp")
}

/// `target/dist/<triple>/imp.unstripped`: the same binary with its symbol table.
pub fn dist_unstripped(triple: &str) -> PathBuf {
    Build::Default.unstripped(triple)
}

/// Which build of imp (SPEC §1.2): the default one, with every cargo feature of
/// cli-min, or the `--no-default-features` one (start, stop, restart, status, signal,
/// run). Both are built by `dist` and measured by `size`; the tests run the default.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Build {
    Default,
    Minimal,
    /// `--features full`: every feature of cli-min (the supervisor, init, hardening).
    Full,
    /// imp-core's `tiny` example: a whole daemon on imp-rt, built with imp's flags.
    Tiny,
}

impl Build {
    /// Every build, in table order.
    pub const ALL: [Build; 4] = [Build::Default, Build::Minimal, Build::Full, Build::Tiny];

    /// The file name in `target/dist/<triple>/`.
    pub fn file(self) -> &'static str {
        match self {
            Build::Default => "imp",
            Build::Minimal => "imp-minimal",
            Build::Full => "imp-full",
            Build::Tiny => "tiny",
        }
    }

    /// What `cargo build --release` builds for it, and where it lands under
    /// `<target-dir>/<triple>/release/`.
    pub fn cargo_args(self) -> (&'static [&'static str], &'static str) {
        match self {
            Build::Default => (&["-p", "imp"], "imp"),
            Build::Minimal => (&["-p", "imp", "--no-default-features"], "imp"),
            Build::Full => (&["-p", "imp", "--features", "full"], "imp"),
            Build::Tiny => (&["-p", "imp-core", "--example", "tiny"], "examples/tiny"),
        }
    }

    /// The stripped binary.
    pub fn bin(self, triple: &str) -> PathBuf {
        target_dir().join("dist").join(triple).join(self.file())
    }

    /// The unstripped copy beside it.
    pub fn unstripped(self, triple: &str) -> PathBuf {
        target_dir()
            .join("dist")
            .join(triple)
            .join(format!("{}.unstripped", self.file()))
    }
}

/// `cargo`: the one that runs xtask (`$CARGO`, which cargo sets for `cargo run` and
/// its aliases such as `cargo xtask`), else `cargo` from `PATH`. With a toolchain,
/// `cargo +TOOLCHAIN` through rustup's proxy on `PATH`: only the proxy reads
/// `+toolchain`, and `$CARGO` is one toolchain's own cargo.
pub fn cargo(toolchain: Option<&str>) -> Command {
    match toolchain {
        Some(t) => {
            let mut c = Command::new("cargo");
            c.arg(format!("+{t}"));
            c
        }
        None => Command::new(
            std::env::var_os("CARGO")
                .filter(|c| !c.is_empty())
                .unwrap_or_else(|| "cargo".into()),
        ),
    }
}

/// The command line as a shell would show it (environment settings first).
pub fn show(cmd: &Command) -> String {
    let mut s = String::new();
    for (k, v) in cmd.get_envs() {
        if let Some(v) = v {
            s += &format!("{}={} ", k.to_string_lossy(), quote(v));
        }
    }
    s += &quote(cmd.get_program());
    for a in cmd.get_args() {
        s.push(' ');
        s += &quote(a);
    }
    s
}

fn quote(s: &OsStr) -> String {
    let s = s.to_string_lossy();
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:+,@%".contains(c))
    {
        s.into_owned()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// Prints and runs a command with inherited stdio; Ok when it exits 0.
pub fn run(cmd: &mut Command) -> Result<(), String> {
    eprintln!("$ {}", show(cmd));
    let status = cmd
        .status()
        .map_err(|e| format!("{}: {e}", cmd.get_program().to_string_lossy()))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{}` failed ({status})", show(cmd)))
    }
}

/// Runs a command quietly and returns its stdout when it exits 0.
pub fn output(cmd: &mut Command) -> Option<String> {
    let out = cmd
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Looks a program up in `PATH` (or checks an explicit path).
pub fn which(name: &str) -> Option<PathBuf> {
    if name.contains('/') {
        let p = PathBuf::from(name);
        return is_executable(&p).then_some(p);
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(name))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    p.metadata()
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// Installs with apt-get, as root and unless `IMP_XTASK_NO_INSTALL` is set, the
/// package of each (program, package) whose program `have` says is missing, saying
/// what it installs and `why`; an install that fails is retried after `apt-get
/// update`, then reported. The caller checks again what is still missing.
pub fn install_missing(tools: &[(&str, &str)], why: &str, have: impl Fn(&str) -> bool) {
    let mut packages: Vec<&str> = tools.iter().filter(|t| !have(t.0)).map(|t| t.1).collect();
    packages.sort();
    packages.dedup();
    if packages.is_empty()
        || !is_root()
        || which("apt-get").is_none()
        || std::env::var_os("IMP_XTASK_NO_INSTALL").is_some()
    {
        return;
    }
    eprintln!("xtask: installing {} ({why})", packages.join(" "));
    let install = || {
        let mut c = Command::new("apt-get");
        c.args(["install", "-y", "-qq", "--no-install-recommends"])
            .args(&packages)
            .env("DEBIAN_FRONTEND", "noninteractive");
        run(&mut c)
    };
    if install().is_err() {
        let _ = run(Command::new("apt-get").args(["update", "-qq"]));
        if let Err(e) = install() {
            eprintln!("xtask: {e}");
        }
    }
}

/// True when running as root (apt-get can install missing packages).
pub fn is_root() -> bool {
    output(Command::new("id").arg("-u")).is_some_and(|s| s.trim() == "0")
}

/// Bytes as `12,345`.
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A plain text table: columns padded to their widest cell.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut w: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            if i < w.len() {
                w[i] = w[i].max(c.chars().count());
            }
        }
    }
    let line = |cells: Vec<&str>| {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                s += c;
            } else {
                s += &format!("{c:<width$}  ", width = w[i]);
            }
        }
        s.trim_end().to_string() + "\n"
    };
    let mut out = line(header.to_vec());
    out += &line(
        w.iter()
            .map(|&n| "-".repeat(n))
            .collect::<Vec<_>>()
            .iter()
            .map(|s| s.as_str())
            .collect(),
    );
    for r in rows {
        out += &line(r.iter().map(|s| s.as_str()).collect());
    }
    out
}

/// Copies a directory tree (files and folders only).
pub fn copy_tree(from: &Path, to: &Path) -> Result<(), String> {
    std::fs::create_dir_all(to).map_err(|e| format!("{}: {e}", to.display()))?;
    for entry in std::fs::read_dir(from).map_err(|e| format!("{}: {e}", from.display()))? {
        let entry = entry.map_err(|e| e.to_string())?;
        let (src, dst) = (entry.path(), to.join(entry.file_name()));
        if entry.file_type().map_err(|e| e.to_string())?.is_dir() {
            copy_tree(&src, &dst)?;
        } else {
            std::fs::copy(&src, &dst).map_err(|e| format!("{}: {e}", src.display()))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(thousands(1234567), "1,234,567");
        assert_eq!(thousands(999), "999");
        let t = table(&["a", "bb"], &[vec!["xxx".into(), "y".into()]]);
        assert_eq!(t, "a    bb\n---  --\nxxx  y\n");
        let mut c = Command::new("echo");
        c.arg("a b").env("K", "v");
        assert_eq!(show(&c), "K=v echo 'a b'");
    }

    #[test]
    fn cargo_is_the_one_running_us() {
        // `cargo test` sets $CARGO as `cargo run` does.
        let own = std::env::var_os("CARGO").expect("cargo sets $CARGO");
        assert_eq!(cargo(None).get_program(), own);
        let c = cargo(Some("nightly"));
        assert_eq!(c.get_program(), "cargo");
        assert_eq!(c.get_args().collect::<Vec<_>>(), ["+nightly"]);
    }
}
