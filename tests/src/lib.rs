//! Harness for imp's integration tests (RELIABILITY.md "Harness conventions").
//!
//! Every test runs a bash script as root inside a private PID and mount namespace
//! (`unshare --pid --fork --mount-proc --propagation private`), in a private tmpfs `$T`
//! (root:root 0755) with a CANARY process started before the script; [`Sandbox::run`]
//! asserts that the canary survived, that the script ran to its end, and returns the
//! `key=value` lines the script printed as an [`Outcome`].
//!
//! Inside the script (see `tests/sh/prelude.sh` for the helpers):
//! * `$IMP` is `"$IMP_RUNNER $IMP_BIN"` (use it unquoted: `$IMP start -p $T/d.pid -- ...`),
//!   `$TDAEMON` the test helper program, `$T` the test directory, `$OUT` a 1777
//!   directory for dumps and markers, `$H` a harness-private tmpfs (never remounted by
//!   tests, so `r` and `spy` keep working when `$T` is read-only or full).
//! * `r NAME CMD...` runs CMD and prints `NAME.rc`, `NAME.out`, `NAME.err`, `NAME.ms`.
//! * `spy CMD...` runs CMD under strace (KILLSPY); the log comes back in [`Outcome::spy`].

use std::collections::BTreeMap;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Root of the cargo workspace (the parent of `tests/`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// The `imp` binary under test: `$IMP_BIN` (`cargo xtask test` always sets it), else
/// the one `cargo xtask dist` built for this machine ([`host_dist_bin`]).
pub fn imp_bin() -> PathBuf {
    let p = match std::env::var_os("IMP_BIN") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => host_dist_bin(),
    };
    if !p.is_file() {
        panic!(
            "imp binary not found at {}: run `cargo xtask dist` first or set IMP_BIN",
            p.display()
        );
    }
    reachable(&std::fs::canonicalize(&p).unwrap_or(p))
}

/// The `--no-default-features` build beside [`imp_bin`]'s (`imp-minimal`, which
/// `cargo xtask dist` builds with every `imp`).
pub fn imp_minimal_bin() -> PathBuf {
    beside_imp("imp-minimal")
}

/// The `--features full` build beside [`imp_bin`] (`imp-full`: the supervisor, the
/// container init, the hardening options), for the tests of those features.
pub fn imp_full_bin() -> PathBuf {
    beside_imp("imp-full")
}

/// imp-core's `tiny` example built for the target under test: beside [`imp_bin`]'s
/// (`cargo xtask dist` builds it with imp's flags), run through `$IMP_RUNNER`.
pub fn tiny_bin() -> PathBuf {
    beside_imp("tiny")
}

/// The file `name` that `cargo xtask dist` puts beside the `imp` under test.
fn beside_imp(name: &str) -> PathBuf {
    let p = match std::env::var_os("IMP_BIN") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => host_dist_bin(),
    };
    let p = p.with_file_name(name);
    if !p.is_file() {
        panic!(
            "{} not found: `cargo xtask dist` builds it beside imp",
            p.display()
        );
    }
    reachable(&std::fs::canonicalize(&p).unwrap_or(p))
}

/// One of imp-core's examples for the host, as `cargo build --release -p imp-core
/// --examples` builds it: in `$IMP_EXAMPLES` (`cargo xtask test` sets it), else in the
/// workspace's `target/release/examples`.
pub fn example_bin(name: &str) -> PathBuf {
    let dir = match std::env::var_os("IMP_EXAMPLES") {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => workspace_root().join("target/release/examples"),
    };
    let p = dir.join(name);
    if !p.is_file() {
        panic!(
            "{} not found: run `cargo build --release -p imp-core --examples` (or set IMP_EXAMPLES)",
            p.display()
        );
    }
    reachable(&std::fs::canonicalize(&p).unwrap_or(p))
}

/// `p`, or a copy of it that every user can run: the tests run imp and tdaemon as
/// other users (`-u`, setpriv), which cannot reach a checkout below a private
/// directory (`/root` is 0700). The copy goes to `<sandbox root>/bin/` under a name
/// made of the file's size and mtime, written to a temporary name and renamed, so that
/// test processes running side by side never see half a file.
pub fn reachable(p: &Path) -> PathBuf {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let open_to_all = p
        .ancestors()
        .skip(1)
        .all(|d| d.as_os_str().is_empty() || d.metadata().is_ok_and(|m| m.mode() & 0o001 != 0));
    if open_to_all {
        return p.to_path_buf();
    }
    let m = p
        .metadata()
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    let name = p.file_name().expect("a file name").to_string_lossy();
    // Under a directory named for the version, with the program's own name: the tests
    // match it (the supervisor's `NAME:` lines, `pgrep -x`).
    let bin = sandbox_root().join("bin");
    let dir = bin.join(format!("{}-{}.{}", m.size(), m.mtime(), m.mtime_nsec()));
    std::fs::create_dir_all(&dir).expect("create the sandbox's bin");
    for d in [&bin, &dir] {
        let _ = std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755));
    }
    let copy = dir.join(&*name);
    if !copy.is_file() {
        // Unique per process *and* per call: the tests of one binary are threads of
        // one process.
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let tmp = dir.join(format!(".{name}.{}.{n}", std::process::id()));
        std::fs::copy(p, &tmp).unwrap_or_else(|e| panic!("copy {}: {e}", p.display()));
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        std::fs::rename(&tmp, &copy).expect("rename the copy");
    }
    copy
}

/// `target/dist/<triple>/imp` for rustc's host triple (`rustc -vV`, `$RUSTC` when
/// set), or when that row does not exist (an aarch64 machine's `aarch64-unknown-linux-gnu`)
/// the first `target/dist/<arch>-*-linux-*/imp` of the same architecture, as xtask's
/// targets table picks the host row.
pub fn host_dist_bin() -> PathBuf {
    let dist = workspace_root().join("target/dist");
    let host = rustc_host().unwrap_or_else(|e| panic!("{e}; set IMP_BIN"));
    let own = dist.join(&host).join("imp");
    if own.is_file() {
        return own;
    }
    let arch = host.split('-').next().unwrap_or(&host).to_string();
    let mut same_arch: Vec<PathBuf> = std::fs::read_dir(&dist)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|t| t.split('-').next() == Some(arch.as_str()) && t.contains("-linux"))
        .map(|t| dist.join(t).join("imp"))
        .filter(|p| p.is_file())
        .collect();
    same_arch.sort();
    same_arch.into_iter().next().unwrap_or(own)
}

/// The `host:` line of `rustc -vV` (`$RUSTC` when set).
fn rustc_host() -> Result<String, String> {
    let rustc = std::env::var_os("RUSTC")
        .filter(|r| !r.is_empty())
        .unwrap_or_else(|| "rustc".into());
    let out = Command::new(&rustc)
        .arg("-vV")
        .stderr(Stdio::null())
        .output()
        .map_err(|e| format!("{}: {e}", rustc.to_string_lossy()))?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host:"))
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .ok_or_else(|| format!("`{} -vV` printed no host line", rustc.to_string_lossy()))
}

/// Where sandboxes live: `$IMP_SBX_DIR`, else `imp-sbx` in the system's temporary
/// directory (root-owned `/tmp`), not in the checkout: imp refuses pidfiles below a
/// directory another user owns, and a checkout is often in someone's home.
pub fn sandbox_root() -> PathBuf {
    let root = match std::env::var_os("IMP_SBX_DIR") {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => std::env::temp_dir().join("imp-sbx"),
    };
    std::fs::create_dir_all(&root).expect("create the sandbox root");
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o755));
    root
}

/// Optional command prefix for running imp (e.g. `qemu-aarch64` for cross binaries).
pub fn imp_runner() -> String {
    std::env::var("IMP_RUNNER").unwrap_or_default()
}

/// True when imp runs under an emulator (`IMP_RUNNER`, e.g. qemu-user): strace then
/// sees the emulator's own syscalls, and the emulator needs threads of its own, so
/// the few checks about raw syscalls or thread limits do not apply.
pub fn emulated() -> bool {
    !imp_runner().is_empty()
}

/// The tdaemon helper: `$TDAEMON_BIN`, else next to the test executable
/// (`target/<profile>/tdaemon`; integration tests live in `target/<profile>/deps/`).
pub fn tdaemon_bin() -> PathBuf {
    helper_bin("tdaemon", "TDAEMON_BIN")
}

/// The tpanic helper (tests/tpanic: a std daemon on imp-core whose body panics;
/// host only, built by `cargo xtask test` into `target/debug/`): `$TPANIC_BIN`, else
/// next to the test executable.
pub fn tpanic_bin() -> PathBuf {
    helper_bin("tpanic", "TPANIC_BIN")
}

/// A helper program of this crate: `$VAR`, else `name` next to the test executable.
fn helper_bin(name: &str, var: &str) -> PathBuf {
    if let Some(p) = std::env::var_os(var) {
        return reachable(Path::new(&p));
    }
    let exe = std::env::current_exe().expect("current_exe");
    let mut dir = exe.parent().expect("exe dir").to_path_buf();
    for _ in 0..2 {
        let cand = dir.join(name);
        if cand.is_file() {
            return reachable(&cand);
        }
        if !dir.pop() {
            break;
        }
    }
    panic!(
        "{name} not found near {}: build it with `cargo build -p imp-tests` or set {var}",
        exe.display()
    );
}

/// `tests/sh/`: the shell side of the harness. `prelude.sh` holds the helpers every
/// sandbox script gets (`r`, `spy`, `launch`...); `sandbox.sh` is the sandbox's PID 1
/// (mounts `$T` and `$H`, starts the CANARY, runs the script, reports).
pub fn sh_dir() -> PathBuf {
    workspace_root().join("tests/sh")
}

/// `s` as one word for bash: in single quotes, each `'` as `'\''`.
fn sh_quote(s: &Path) -> String {
    format!("'{}'", s.to_string_lossy().replace('\'', "'\\''"))
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A test sandbox (private PID + mount namespace, private tmpfs, canary).
pub struct Sandbox {
    name: String,
    timeout_secs: u32,
    need_imp: bool,
    full: bool,
}

/// Start describing a sandbox; `name` shows up in the temp dir name and in messages.
pub fn sandbox(name: &str) -> Sandbox {
    Sandbox {
        name: name.to_string(),
        timeout_secs: 120,
        need_imp: true,
        full: false,
    }
}

impl Sandbox {
    /// Hard limit on the whole run (default 120 s); the namespace is killed after it.
    pub fn timeout(mut self, secs: u32) -> Self {
        self.timeout_secs = secs;
        self
    }

    /// `$IMP` is the `--features full` build ([`imp_full_bin`]): for the features that
    /// are not in the default build.
    pub fn full(mut self) -> Self {
        self.full = true;
        self
    }

    /// Harness self-tests only: do not require the imp binary (`$IMP` is `false`).
    pub fn without_imp(mut self) -> Self {
        self.need_imp = false;
        self
    }

    /// Run `script`; assert the canary survived, the script ran to its end, and no
    /// spied command ever signalled -1, 0 or 1 (or an unknown pidfd).
    pub fn run(&self, script: &str) -> Outcome {
        let o = self.run_unchecked(script);
        let never: Vec<Sent> = o
            .spy
            .sent()
            .into_iter()
            .filter(|s| s.target.is_none_or(|t| (-1..=1).contains(&t)))
            .collect();
        assert!(
            never.is_empty(),
            "[{}] KILLSPY: signals to -1, 0, 1 or an unknown pidfd: {never:?}\n{}",
            self.name,
            o.ctx()
        );
        assert_eq!(
            o.opt("__canary"),
            Some("alive"),
            "[{}] CANARY was killed: a stray signal hit an unrelated process\n{}",
            self.name,
            o.ctx()
        );
        assert_eq!(
            o.opt("__end"),
            Some("1"),
            "[{}] the script did not run to its end (killed by a stray signal, or timed out?)\n{}",
            self.name,
            o.ctx()
        );
        o
    }

    /// Run `script` without the canary / completion assertions.
    pub fn run_unchecked(&self, script: &str) -> Outcome {
        let imp = if self.full {
            imp_full_bin()
        } else if self.need_imp {
            imp_bin()
        } else {
            PathBuf::from("/bin/false")
        };
        let tdaemon = tdaemon_bin();
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let base = sandbox_root().join(format!("{}.{}.{}", self.name, std::process::id(), n));
        let _ = std::fs::remove_dir_all(&base);
        std::fs::create_dir_all(base.join("t")).expect("create sandbox dir");
        std::fs::create_dir_all(base.join("h")).expect("create sandbox dir");
        let prelude = sh_quote(&sh_dir().join("prelude.sh"));
        let run_sh = format!(
            ". {prelude}\ncd \"$T\"\n# ---- test script ----\n{script}\n# ---- end ----\n\
             echo __end=1\n"
        );
        std::fs::write(base.join("run.sh"), run_sh).expect("write run.sh");
        let mut cmd = Command::new("timeout");
        cmd.args(["-s", "KILL", &self.timeout_secs.to_string()])
            .args([
                "unshare",
                "--pid",
                "--fork",
                "--kill-child",
                "--mount-proc",
                "--propagation",
                "private",
                "setsid",
                "bash",
            ])
            .arg(sh_dir().join("sandbox.sh"))
            .env_clear()
            .env(
                "PATH",
                "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            )
            .env("HOME", "/root")
            .env("USER", "root")
            .env("LOGNAME", "root")
            .env("LC_ALL", "C")
            .env("IMP_BIN", &imp)
            .env("IMP_RUNNER", imp_runner())
            .env("TDAEMON", &tdaemon)
            .env("BASE", &base)
            .env("T", base.join("t"))
            .env("H", base.join("h"))
            .current_dir(&base)
            .stdin(Stdio::null());
        // A clean baseline: the namespace starts with every signal at SIG_DFL and
        // unblocked, whatever the test runner inherited (bash cannot undo ignored signals).
        // SAFETY: only async-signal-safe calls (signal, sigprocmask) between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                // Raw rt_sigaction: glibc's wrapper refuses its reserved signals 32 and 33.
                let dfl = [0u64; 4]; // handler SIG_DFL, flags 0, restorer 0, mask 0
                for sig in 1..=64 {
                    if sig != libc::SIGKILL && sig != libc::SIGSTOP {
                        libc::syscall(libc::SYS_rt_sigaction, sig, dfl.as_ptr(), 0usize, 8usize);
                    }
                }
                let mut set: libc::sigset_t = std::mem::zeroed();
                libc::sigemptyset(&mut set);
                libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
                Ok(())
            });
        }
        let out = cmd
            .output()
            .expect("run unshare (is util-linux installed?)");
        if std::env::var_os("IMP_TESTS_KEEP").is_none() {
            let _ = std::fs::remove_dir_all(&base);
        }
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let mut kv = BTreeMap::new();
        let mut spy_lines = Vec::new();
        for line in stdout.lines() {
            if let Some(s) = line.strip_prefix("__spy: ") {
                spy_lines.push(s.to_string());
            } else if let Some((k, v)) = line.split_once('=') {
                if !k.is_empty() && !k.contains(' ') {
                    kv.insert(k.to_string(), v.to_string());
                }
            }
        }
        let code = kv
            .get("__rc")
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| out.status.code().unwrap_or(-1));
        let o = Outcome {
            name: self.name.clone(),
            code,
            stdout,
            stderr,
            kv,
            spy: Spy::parse(&spy_lines),
        };
        if std::env::var_os("IMP_TESTS_VERBOSE").is_some() {
            eprintln!("{}", o.ctx());
        }
        o
    }
}

/// What a sandbox script printed.
pub struct Outcome {
    /// Sandbox name.
    pub name: String,
    /// Exit status of the script.
    pub code: i32,
    /// Everything the script printed on stdout (key=value lines and others).
    pub stdout: String,
    /// Everything the script printed on stderr.
    pub stderr: String,
    kv: BTreeMap<String, String>,
    /// Parsed KILLSPY log (all `spy` runs of the script).
    pub spy: Spy,
}

fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut it = s.chars();
    while let Some(c) = it.next() {
        if c == '\\' {
            match it.next() {
                Some('n') => out.push('\n'),
                Some('\\') => out.push('\\'),
                Some(o) => {
                    out.push('\\');
                    out.push(o)
                }
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

impl Outcome {
    /// Everything, for assertion messages.
    pub fn ctx(&self) -> String {
        format!(
            "---- sandbox {} (script exit {}) stdout ----\n{}\n---- stderr ----\n{}\n---- spy ({} calls) ----\n{}",
            self.name,
            self.code,
            self.stdout,
            self.stderr,
            self.spy.calls.len(),
            self.spy.raw.join("\n")
        )
    }

    /// The value printed for `key`, if any.
    pub fn opt(&self, key: &str) -> Option<&str> {
        self.kv.get(key).map(String::as_str)
    }

    /// The value printed for `key`; panics (with the whole output) if absent.
    pub fn get(&self, key: &str) -> &str {
        match self.kv.get(key) {
            Some(v) => v,
            None => panic!("[{}] key `{key}` missing\n{}", self.name, self.ctx()),
        }
    }

    /// `get(key)` parsed as an integer.
    pub fn int(&self, key: &str) -> i64 {
        let v = self.get(key);
        v.trim().parse().unwrap_or_else(|_| {
            panic!(
                "[{}] `{key}`={v:?} is not an integer\n{}",
                self.name,
                self.ctx()
            )
        })
    }

    /// Exit status of the command run as `r NAME ...`.
    pub fn rc(&self, name: &str) -> i32 {
        self.int(&format!("{name}.rc")) as i32
    }

    /// Stderr of `r NAME ...`.
    pub fn err(&self, name: &str) -> String {
        unescape(self.get(&format!("{name}.err")))
    }

    /// Stdout of `r NAME ...`.
    pub fn out(&self, name: &str) -> String {
        unescape(self.get(&format!("{name}.out")))
    }

    /// Wall time of `r NAME ...` in milliseconds.
    pub fn ms(&self, name: &str) -> u64 {
        self.int(&format!("{name}.ms")) as u64
    }

    /// Assert `r NAME` exited with `code` and its stderr contains every word.
    pub fn expect(&self, name: &str, code: i32, words: &[&str]) {
        let rc = self.rc(name);
        let err = self.err(name);
        assert_eq!(
            rc,
            code,
            "[{}] `{name}`: exit {rc}, expected {code}; stderr: {err:?}\n{}",
            self.name,
            self.ctx()
        );
        for w in words {
            assert!(
                err.contains(w),
                "[{}] `{name}`: stderr {err:?} lacks {w:?}\n{}",
                self.name,
                self.ctx()
            );
        }
    }

    /// Assert `r NAME` exited with `code` and its stdout contains every word.
    pub fn expect_out(&self, name: &str, code: i32, words: &[&str]) {
        let rc = self.rc(name);
        let out = self.out(name);
        assert_eq!(
            rc,
            code,
            "[{}] `{name}`: exit {rc}, expected {code}; stdout: {out:?} stderr: {:?}\n{}",
            self.name,
            self.err(name),
            self.ctx()
        );
        for w in words {
            assert!(
                out.contains(w),
                "[{}] `{name}`: stdout {out:?} lacks {w:?}\n{}",
                self.name,
                self.ctx()
            );
        }
    }

    /// Assert `key` has exactly `value`.
    pub fn expect_eq(&self, key: &str, value: &str) {
        let v = self.get(key);
        assert_eq!(
            v,
            value,
            "[{}] `{key}` = {v:?}, expected {value:?}\n{}",
            self.name,
            self.ctx()
        );
    }

    /// Assert a condition with the whole output in the message.
    pub fn check(&self, cond: bool, what: &str) {
        assert!(cond, "[{}] {what}\n{}", self.name, self.ctx());
    }
}

/// One syscall recorded by KILLSPY.
#[derive(Debug, Clone)]
pub struct Call {
    /// Calling pid (as seen in the sandbox).
    pub pid: i64,
    /// Syscall name.
    pub name: String,
    /// Raw arguments, split on top-level commas.
    pub args: Vec<String>,
    /// Return value, if the call returned.
    pub ret: Option<i64>,
}

/// One signal sent (signal 0 probes included, with `sig == "0"`).
#[derive(Debug, Clone, PartialEq)]
pub struct Sent {
    /// Sender pid.
    pub by: i64,
    /// Syscall used.
    pub via: String,
    /// Target pid (negative = process group) as passed; for pidfds, the pid given to
    /// `pidfd_open` (None if unknown).
    pub target: Option<i64>,
    /// Signal name as strace printed it (`SIGTERM`, `0`).
    pub sig: String,
    /// Return value.
    pub ret: Option<i64>,
}

/// Parsed KILLSPY log.
#[derive(Debug, Default, Clone)]
pub struct Spy {
    /// The log lines.
    pub raw: Vec<String>,
    /// Completed calls.
    pub calls: Vec<Call>,
}

fn split_args(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut in_str = false;
    let mut cur = String::new();
    let mut prev = ' ';
    for c in s.chars() {
        if in_str {
            cur.push(c);
            if c == '"' && prev != '\\' {
                in_str = false;
            }
        } else {
            match c {
                '"' => {
                    in_str = true;
                    cur.push(c)
                }
                '(' | '[' | '{' => {
                    depth += 1;
                    cur.push(c)
                }
                ')' | ']' | '}' => {
                    depth -= 1;
                    cur.push(c)
                }
                ',' if depth == 0 => {
                    out.push(cur.trim().to_string());
                    cur.clear()
                }
                _ => cur.push(c),
            }
        }
        prev = c;
    }
    if !cur.trim().is_empty() {
        out.push(cur.trim().to_string());
    }
    out
}

/// Parse `args) = ret ...` (strace pads with spaces before `=`) into (args, ret).
fn split_tail(s: &str) -> (String, Option<i64>) {
    let mut end = s.len();
    while let Some(i) = s[..end].rfind(" = ") {
        let head = s[..i].trim_end();
        if let Some(args) = head.strip_suffix(')') {
            let ret = s[i + 3..]
                .split_whitespace()
                .next()
                .and_then(|v| v.parse().ok());
            return (args.to_string(), ret);
        }
        end = i;
    }
    (s.trim_end().trim_end_matches(')').to_string(), None)
}

impl Spy {
    /// Parse strace -f output lines (`PID name(args) = ret`, with unfinished/resumed pairs).
    pub fn parse(lines: &[String]) -> Spy {
        let mut pending: BTreeMap<i64, (String, String)> = BTreeMap::new();
        let mut calls = Vec::new();
        for line in lines {
            let line = line.trim();
            let Some((pid, rest)) = line.split_once(char::is_whitespace) else {
                continue;
            };
            let Ok(pid) = pid.parse::<i64>() else {
                continue;
            };
            let rest = rest.trim_start();
            if let Some(r) = rest.strip_prefix("<... ") {
                // "<... kill resumed>, ...) = 0" or "<... kill resumed>) = 0"
                let Some((name, tail)) = r.split_once(" resumed>") else {
                    continue;
                };
                let (head, first) = pending
                    .remove(&pid)
                    .unwrap_or_else(|| (name.to_string(), String::new()));
                let (tailargs, ret) = split_tail(tail);
                let all = format!("{first}{tailargs}");
                calls.push(Call {
                    pid,
                    name: head,
                    args: split_args(&all),
                    ret,
                });
                continue;
            }
            let Some(open) = rest.find('(') else { continue };
            let name = rest[..open].to_string();
            if name.starts_with("---") || name.starts_with("+++") || name.contains(' ') {
                continue;
            }
            let body = &rest[open + 1..];
            if let Some(i) = body.find(" <unfinished ...>") {
                pending.insert(pid, (name, body[..i].to_string()));
                continue;
            }
            let (args, ret) = split_tail(body);
            calls.push(Call {
                pid,
                name,
                args: split_args(&args),
                ret,
            });
        }
        Spy {
            raw: lines.to_vec(),
            calls,
        }
    }

    /// Every signal-sending call, pidfds resolved to the pid given to `pidfd_open`.
    pub fn sent(&self) -> Vec<Sent> {
        let mut pidfds: BTreeMap<(i64, i64), i64> = BTreeMap::new();
        let mut out = Vec::new();
        let num = |s: &str| s.trim().parse::<i64>().ok();
        for c in &self.calls {
            match c.name.as_str() {
                "pidfd_open" => {
                    if let (Some(p), Some(fd)) = (c.args.first().and_then(|a| num(a)), c.ret) {
                        if fd >= 0 {
                            pidfds.insert((c.pid, fd), p);
                        }
                    }
                }
                "kill" | "tkill" | "rt_sigqueueinfo" => out.push(Sent {
                    by: c.pid,
                    via: c.name.clone(),
                    target: c.args.first().and_then(|a| num(a)),
                    sig: c.args.get(1).cloned().unwrap_or_default(),
                    ret: c.ret,
                }),
                "tgkill" | "rt_tgsigqueueinfo" => out.push(Sent {
                    by: c.pid,
                    via: c.name.clone(),
                    target: c.args.first().and_then(|a| num(a)),
                    sig: c.args.get(2).cloned().unwrap_or_default(),
                    ret: c.ret,
                }),
                "pidfd_send_signal" => {
                    let fd = c.args.first().and_then(|a| num(a));
                    out.push(Sent {
                        by: c.pid,
                        via: c.name.clone(),
                        target: fd.and_then(|fd| pidfds.get(&(c.pid, fd)).copied()),
                        sig: c.args.get(1).cloned().unwrap_or_default(),
                        ret: c.ret,
                    })
                }
                _ => {}
            }
        }
        out
    }

    /// Real signals (not the signal-0 probe).
    pub fn signals(&self) -> Vec<Sent> {
        self.sent().into_iter().filter(|s| s.sig != "0").collect()
    }

    /// Signals sent to `pid` (names, in order).
    pub fn signals_to(&self, pid: i64) -> Vec<String> {
        self.signals()
            .into_iter()
            .filter(|s| s.target == Some(pid))
            .map(|s| s.sig)
            .collect()
    }

    /// Targets that must never be signalled: pid <= 0 (process groups, "everyone") or 1,
    /// and pidfd signals whose pid is unknown. `allowed_groups` are negative targets
    /// explicitly allowed (e.g. `-pgid` for `--process-group`).
    pub fn unsafe_targets(&self, allowed_groups: &[i64]) -> Vec<Sent> {
        self.sent()
            .into_iter()
            .filter(|s| match s.target {
                None => true,
                Some(t) if allowed_groups.contains(&t) => false,
                Some(t) => t <= 1,
            })
            .collect()
    }
}

impl Outcome {
    /// KILLSPY: no kill() etc. with pid <= 0 or == 1, ever.
    pub fn assert_safe_signals(&self) {
        let bad = self.spy.unsafe_targets(&[]);
        assert!(
            bad.is_empty(),
            "[{}] signals sent to unsafe targets: {bad:?}\n{}",
            self.name,
            self.ctx()
        );
    }

    /// KILLSPY: no signal at all (signal-0 probes to pids >= 2 allowed).
    pub fn assert_no_signals(&self) {
        self.assert_safe_signals();
        let s = self.spy.signals();
        assert!(
            s.is_empty(),
            "[{}] expected no signal, got {s:?}\n{}",
            self.name,
            self.ctx()
        );
    }

    /// KILLSPY: every real signal went to one of `pids`.
    pub fn assert_signals_only_to(&self, pids: &[i64]) {
        self.assert_safe_signals();
        let bad: Vec<Sent> = self
            .spy
            .signals()
            .into_iter()
            .filter(|s| !s.target.is_some_and(|t| pids.contains(&t)))
            .collect();
        assert!(
            bad.is_empty(),
            "[{}] signals to unexpected targets (allowed {pids:?}): {bad:?}\n{}",
            self.name,
            self.ctx()
        );
    }
}

/// Whether the ELF file at `path` is a static executable: no `PT_INTERP` (no dynamic
/// loader) and no `PT_DYNAMIC` program header.
pub fn is_static_elf(path: &Path) -> bool {
    use object::read::elf::{FileHeader, ProgramHeader};
    fn no_loader<H: FileHeader<Endian = object::Endianness>>(data: &[u8]) -> bool {
        let Ok(h) = H::parse(data) else { return false };
        let Ok(e) = h.endian() else { return false };
        let Ok(phs) = h.program_headers(e, data) else {
            return false;
        };
        !phs.is_empty()
            && phs.iter().all(|p| {
                let t = p.p_type(e);
                t != object::elf::PT_INTERP && t != object::elf::PT_DYNAMIC
            })
    }
    let Ok(data) = std::fs::read(path) else {
        return false;
    };
    match object::FileKind::parse(&*data) {
        Ok(object::FileKind::Elf32) => {
            no_loader::<object::elf::FileHeader32<object::Endianness>>(&data)
        }
        Ok(object::FileKind::Elf64) => {
            no_loader::<object::elf::FileHeader64<object::Endianness>>(&data)
        }
        _ => false,
    }
}

/// The locks `lockholder` (tests/sh/prelude.sh) shows for a daemon imp started with pid
/// `pid`: a POSIX read lock on byte 0 (its identity) and an OFD read lock on byte 1
/// (its liveness), both through one read-only fd (docs/CLI-CONTRACT.md).
pub fn daemon_locks(pid: impl std::fmt::Display) -> String {
    format!("OFDLCK-READ -1 1-1,POSIX-READ {pid} 0-0")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_files_parse() {
        for f in ["prelude.sh", "sandbox.sh"] {
            let path = sh_dir().join(f);
            let st = Command::new("bash").arg("-n").arg(&path).status();
            assert!(st.is_ok_and(|s| s.success()), "bash -n {}", path.display());
        }
        assert_eq!(sh_quote(Path::new("/a b/it's")), r"'/a b/it'\''s'");
    }

    #[test]
    fn static_elf_check_can_fail() {
        // /bin/sh is dynamically linked on Debian; a text file is no ELF at all.
        assert!(!is_static_elf(Path::new("/bin/sh")));
        assert!(!is_static_elf(&sh_dir().join("prelude.sh")));
    }

    #[test]
    fn finds_the_host_binary_without_naming_it() {
        let host = rustc_host().expect("rustc -vV");
        assert!(host.contains('-'), "{host}");
        let bin = host_dist_bin();
        assert!(bin.starts_with(workspace_root().join("target/dist")));
        assert!(bin.ends_with("imp"));
    }

    #[test]
    fn spy_parses_strace_lines() {
        let lines: Vec<String> = [
            "12 pidfd_open(34, 0) = 3",
            "12 pidfd_send_signal(3, SIGTERM, NULL, 0) = 0",
            "12 kill(-1, SIGTERM) = 0",
            "13 kill(35, 0 <unfinished ...>",
            "12 tgkill(1, 2, SIGABRT) = 0",
            "13 <... kill resumed>)           = -1 ESRCH (No such process)",
            "14 kill(7, SIGTERM)                  = 0",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let spy = Spy::parse(&lines);
        assert_eq!(spy.calls.len(), 6);
        assert_eq!(spy.signals_to(7), vec!["SIGTERM".to_string()]);
        let sent = spy.sent();
        assert_eq!(sent[0].target, Some(34));
        assert_eq!(sent[0].sig, "SIGTERM");
        assert_eq!(sent[1].target, Some(-1));
        assert_eq!(spy.unsafe_targets(&[]).len(), 2);
        assert_eq!(spy.signals().len(), 4);
        let k = sent.iter().find(|s| s.by == 13).expect("resumed call");
        assert_eq!(k.target, Some(35));
        assert_eq!(k.sig, "0");
        assert_eq!(k.ret, Some(-1));
    }
}
