//! Harness for imp's integration tests (RELIABILITY.md "Harness conventions").
//!
//! Every test runs a bash script as root inside a private PID and mount namespace
//! (`unshare --pid --fork --mount-proc --propagation private`), in a private tmpfs `$T`
//! (root:root 0755) with a CANARY process started before the script; [`Sandbox::run`]
//! asserts that the canary survived, that the script ran to its end, and returns the
//! `key=value` lines the script printed as an [`Outcome`].
//!
//! Inside the script (see `PRELUDE` below for the helpers):
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
    std::fs::canonicalize(&p).unwrap_or(p)
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
    if let Some(p) = std::env::var_os("TDAEMON_BIN") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().expect("current_exe");
    let mut dir = exe.parent().expect("exe dir").to_path_buf();
    for _ in 0..2 {
        let cand = dir.join("tdaemon");
        if cand.is_file() {
            return cand;
        }
        if !dir.pop() {
            break;
        }
    }
    panic!(
        "tdaemon not found near {}: build it with `cargo build -p imp-tests` or set TDAEMON_BIN",
        exe.display()
    );
}

/// Shell helpers available to every sandbox script.
const PRELUDE: &str = r#"
set -u
IMP="${IMP_RUNNER:+$IMP_RUNNER }$IMP_BIN"
OUT=$T/out
SPYLOG=$H/spy.log
SPYCALLS=kill,tkill,tgkill,pidfd_send_signal,rt_sigqueueinfo,rt_tgsigqueueinfo,pidfd_open

# esc FILE: the file on one line, newlines as \n (trailing newlines dropped).
esc() { local s; s=$(cat "$1" 2>>"$H/harness.err"); s=${s//\\/\\\\}; printf '%s' "${s//$'\n'/\\n}"; }

# hex FILE: the exact bytes of FILE as hex (e.g. 3132330a for "123\n").
hex() { od -An -tx1 -v "$1" 2>>"$H/harness.err" | tr -d ' \n'; }

# r NAME CMD...: run CMD, print NAME.rc / NAME.ms / NAME.out / NAME.err. Returns CMD's status.
r() {
    local name=$1 t0 t1 rc; shift
    t0=$(date +%s%N)
    "$@" >"$H/r.out" 2>"$H/r.err"; rc=$?
    t1=$(date +%s%N)
    echo "$name.rc=$rc"
    echo "$name.ms=$(( (t1 - t0) / 1000000 ))"
    echo "$name.out=$(esc "$H/r.out")"
    echo "$name.err=$(esc "$H/r.err")"
    return $rc
}

# spy CMD...: run CMD under strace (KILLSPY), appending to $SPYLOG. Detaches at execve so
# a daemon started by `imp start` is not traced (SPYNODETACH=1 to follow execs too).
# Traced calls: SPYTRACE (default: the signal calls); extra strace options: SPYOPTS.
spy() {
    # Each spy writes its own log, appended whole under a lock: strace's buffered
    # output from concurrent spies would otherwise interleave in the middle of lines.
    local detach="-b execve" log rc; [ "${SPYNODETACH:-}" = 1 ] && detach=""
    log=$(mktemp "$H/spy.one.XXXXXX")
    strace -f -qq -s 256 -o "$log" $detach -e signal=none \
        -e trace="${SPYTRACE:-$SPYCALLS}" ${SPYOPTS:-} "$@"
    rc=$?
    { flock 9; cat "$log" >> "$SPYLOG"; } 9>>"$SPYLOG.lock"
    rm -f "$log"
    return $rc
}

# state PID: the process state letter (R, S, D, Z, T...) or "gone".
state() {
    local s
    [ -n "${1:-}" ] || { echo gone; return; }
    s=$(cat /proc/$1/stat 2>>"$H/harness.err") || { echo gone; return; }
    s=${s##*) }; echo "${s%% *}"
}
# alive PID: yes if the process exists and is not a zombie.
alive() { case $(state "${1:-}") in gone|Z|X) echo no;; *) echo yes;; esac; }

# waitfile FILE [SECS]: wait until FILE exists (default 10 s).
waitfile() {
    local i=0 n=$(( ${2:-10} * 50 ))
    while [ ! -e "$1" ]; do
        i=$((i + 1)); [ $i -ge $n ] && { echo "waitfile_timeout=$1"; return 1; }
        sleep 0.02
    done
}
# waitdead PID [SECS]: wait until PID is gone or a zombie (default 10 s).
waitdead() {
    local i=0 n=$(( ${2:-10} * 50 ))
    while [ "$(alive "${1:-}")" = yes ]; do
        i=$((i + 1)); [ $i -ge $n ] && { echo "waitdead_timeout=$1"; return 1; }
        sleep 0.02
    done
}

# kv PREFIX FILE: print FILE's key=value lines as PREFIX.key=value.
kv() { sed "s/^/$1./" "$2" 2>>"$H/harness.err"; }

# lockholder FILE: pid holding a POSIX lock on FILE's inode ("TYPE PID"), or "none".
lockholder() {
    local d ino maj min id
    d=$(stat -c %d "$1" 2>>"$H/harness.err") || { echo none; return; }
    ino=$(stat -c %i "$1")
    maj=$(( (d >> 8) & 0xfff )); min=$(( (d & 0xff) | ((d >> 12) & 0xfff00) ))
    id=$(printf '%02x:%02x:%s' $maj $min $ino)
    awk -v id="$id" '$2 != "->" && $6 == id { print $2 "-" $4 " " $5; f=1 } END { if (!f) print "none" }' /proc/locks
}

# nprocs PATTERN: number of live processes whose command line contains PATTERN.
nprocs() { pgrep -f -c -- "$1" || true; }
# zombies: number of zombie processes in the sandbox.
zombies() { local n=0 p; for p in /proc/[0-9]*; do [ "$(state ${p#/proc/})" = Z ] && n=$((n+1)); done; echo $n; }

# launch NAME [TDAEMON ARGS]: imp start (under KILLSPY) a tdaemon with pidfile $T/NAME.pid, dump in
# $OUT/NAME.dump; prints NAME.start.rc/err and NAME.pid (the daemon's pid from the dump).
launch() {
    local name=$1; shift
    r "$name.start" spy $IMP start -p "$T/$name.pid" -- "$TDAEMON" --dump "$OUT/$name.dump" --sleep 1000 "$@"
    waitfile "$OUT/$name.dump" && echo "$name.pid=$(sed -n 's/^pid=//p' "$OUT/$name.dump")"
    echo "$name.ppid_now=$(ppid_now "$(dpid "$name")")"
}
# ppid_now PID: the parent now (the dump's ppid was taken when the program started,
# possibly before imp's intermediate child had exited; start returns after it has).
ppid_now() { local s; s=$(cat /proc/$1/stat 2>>"$H/harness.err") || return; s=${s##*) }; set -- $s; echo "$2"; }
# dpid NAME: the daemon pid recorded in NAME's dump.
dpid() { sed -n 's/^pid=//p' "$OUT/$1.dump" 2>>"$H/harness.err"; }

# Unprivileged callers.
asuser() { setpriv --reuid 1000 --regid 1000 --clear-groups "$@"; }
asnobody() { setpriv --reuid 65534 --regid 65534 --clear-groups "$@"; }

# Private copies of /etc/passwd and /etc/group (bind-mounted in this mount namespace only).
private_etc() {
    [ -e "$H/etc.passwd" ] && return 0
    cp /etc/passwd "$H/etc.passwd"; cp /etc/group "$H/etc.group"
    chmod 0644 "$H/etc.passwd" "$H/etc.group"
    mount --bind "$H/etc.passwd" /etc/passwd && mount --bind "$H/etc.group" /etc/group
}
# add_user NAME UID GID HOME; add_group NAME GID [MEMBERS]
add_user() { private_etc; echo "$1:x:$2:$3:test user:$4:/bin/sh" >> /etc/passwd; }
add_group() { private_etc; echo "$1:x:$2:${3:-}" >> /etc/group; }
# empty_etc: empty /etc/passwd and /etc/group (static initramfs).
empty_etc() { private_etc; : > /etc/passwd; : > /etc/group; }

# ro DIR: make DIR a read-only bind mount of itself.
ro() { mount --bind "$1" "$1" && mount -o remount,bind,ro "$1"; }
"#;

/// The PID-1 wrapper: mounts `$T` and `$H`, starts the CANARY, runs the script, reports.
const WRAPPER: &str = r#"
for f in /proc/self/fd/*; do
    n=${f##*/}
    case $n in 0|1|2) ;; *) eval "exec $n>&-" 2>/dev/null ;; esac
done
mount -t tmpfs -o mode=0755,size=512m imp-sbx "$T" || { echo "__setup=mount T failed"; exit 99; }
mount -t tmpfs -o mode=0755,size=64m imp-sbx-h "$H" || { echo "__setup=mount H failed"; exit 99; }
mkdir -m 1777 "$T/out"
sleep 100000 </dev/null >/dev/null 2>&1 &
CANARY=$!
echo "__canary_pid=$CANARY"
CANARY=$CANARY bash "$BASE/run.sh" </dev/null
rc=$?
echo "__rc=$rc"
if kill -0 $CANARY 2>/dev/null && ! grep -q '^[^)]*) Z' /proc/$CANARY/stat 2>/dev/null; then
    echo "__canary=alive"
else
    echo "__canary=dead"
fi
if [ -f "$H/spy.log" ]; then sed 's/^/__spy: /' "$H/spy.log"; fi
true
"#;

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A test sandbox (private PID + mount namespace, private tmpfs, canary).
pub struct Sandbox {
    name: String,
    timeout_secs: u32,
    need_imp: bool,
}

/// Start describing a sandbox; `name` shows up in the temp dir name and in messages.
pub fn sandbox(name: &str) -> Sandbox {
    Sandbox {
        name: name.to_string(),
        timeout_secs: 120,
        need_imp: true,
    }
}

impl Sandbox {
    /// Hard limit on the whole run (default 120 s); the namespace is killed after it.
    pub fn timeout(mut self, secs: u32) -> Self {
        self.timeout_secs = secs;
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
        let imp = if self.need_imp {
            imp_bin()
        } else {
            PathBuf::from("/bin/false")
        };
        let tdaemon = tdaemon_bin();
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let base = workspace_root().join("target/imp-sbx").join(format!(
            "{}.{}.{}",
            self.name,
            std::process::id(),
            n
        ));
        let _ = std::fs::remove_dir_all(&base);
        std::fs::create_dir_all(base.join("t")).expect("create sandbox dir");
        std::fs::create_dir_all(base.join("h")).expect("create sandbox dir");
        let run_sh = format!(
            "{PRELUDE}\ncd \"$T\"\n# ---- test script ----\n{script}\n# ---- end ----\necho __end=1\n"
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
                "-c",
                WRAPPER,
            ])
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

#[cfg(test)]
mod tests {
    use super::*;

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
