//! SD — imp's start-stop-daemon personality (issue 10) against dpkg's own
//! `/usr/sbin/start-stop-daemon` (dpkg 1.21.22): every case runs once with dpkg's
//! binary and once with imp under the name `start-stop-daemon`, and the two outcomes
//! must be equal — except where dpkg is unsafe (tests/sd/dpkg-unsafe.txt, a reason per
//! entry), where imp is held to the safe outcome instead.
//!
//! * `sd_script_*`: a real Debian package's /etc/init.d script (fetched with `apt-get
//!   download` into `target/sd-debs`, never installed) driven through start, status,
//!   start again, restart, reload, stop, stop again and faults (kill -9, a stale pidfile
//!   naming an unrelated live process, a garbage pidfile), chrooted into an overlay of
//!   the machine's / with the package on top, in PID, mount and network namespaces of
//!   its own (tests/sd/root.sh, tests/sd/steps.sh), with the binary under test
//!   bind-mounted over /usr/sbin/start-stop-daemon.
//! * `ssd_*`: one invocation form each, side by side, with exact exit codes and the
//!   processes' real state from /proc.
//!
//! `IMP_SSD_BIN=/usr/sbin/start-stop-daemon` puts dpkg's binary on imp's side too (a
//! check of the cases themselves: every one must pass; the dpkg-unsafe entries then
//! check dpkg's side only).

use imp_tests::*;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// dpkg's start-stop-daemon.
const DPKG_SSD: &str = "/usr/sbin/start-stop-daemon";

/// The two sides, in the order they run and print (`dpkg.KEY`, `imp.KEY`).
const SIDES: [&str; 2] = ["dpkg", "imp"];

/// `$IMP_SSD_BIN` when set (dpkg's binary, to check the cases), else None: imp.
fn imp_side_override() -> Option<String> {
    std::env::var("IMP_SSD_BIN").ok().filter(|s| !s.is_empty())
}

/// True when imp's side is dpkg's binary too (`IMP_SSD_BIN`).
fn imp_side_is_dpkg() -> bool {
    imp_side_override()
        .is_some_and(|p| std::fs::canonicalize(&p).ok() == std::fs::canonicalize(DPKG_SSD).ok())
}

/// Shell lines that make `$H/ssd/start-stop-daemon`, the binary of imp's side: a
/// symlink to `$IMP_BIN` (imp answers to the name), a wrapper that runs it under
/// `$IMP_RUNNER` with that argv[0] (qemu-user's `-0`), or `$IMP_SSD_BIN`. The wrapper
/// names `/.sd/imp`, where tests/sd/root.sh binds imp inside a chroot too.
fn imp_side_setup() -> String {
    let mut s = String::from("mkdir -p $H/ssd\n");
    match imp_side_override() {
        Some(p) => s.push_str(&format!("ln -s '{p}' $H/ssd/start-stop-daemon\n")),
        None if emulated() => s.push_str(
            "printf '#!/bin/sh\\nif [ -e /.sd/imp ]; then B=/.sd/imp; else B=%s; fi\\n\
             exec %s -0 start-stop-daemon \"$B\" \"$@\"\\n' \"$IMP_BIN\" \"$IMP_RUNNER\" \
             > $H/ssd/start-stop-daemon\nchmod 755 $H/ssd/start-stop-daemon\n",
        ),
        None => s.push_str("ln -s \"$IMP_BIN\" $H/ssd/start-stop-daemon\n"),
    }
    s
}

// ---------------------------------------------------------------------------------
// dpkg's unsafe cases (tests/sd/dpkg-unsafe.txt)

/// One entry of tests/sd/dpkg-unsafe.txt.
#[derive(Debug)]
struct Unsafe {
    test: String,
    /// Without the side prefix; `sN+.KEY` entries are kept as step N and KEY.
    key: String,
    from_step: Option<usize>,
    safe: String,
    reason: String,
}

fn unsafe_list() -> Vec<Unsafe> {
    let path = workspace_root().join("tests/sd/dpkg-unsafe.txt");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut w = line.splitn(4, ' ');
        let (Some(test), Some(key), Some(safe), Some(reason)) =
            (w.next(), w.next(), w.next(), w.next())
        else {
            panic!(
                "{}:{}: want TEST KEY SAFE REASON: {line:?}",
                path.display(),
                n + 1
            );
        };
        let (key, from_step) = match key.split_once("+.") {
            Some((s, k)) => {
                let step = s
                    .strip_prefix('s')
                    .and_then(|s| s.parse().ok())
                    .unwrap_or_else(|| panic!("{}:{}: bad key {key:?}", path.display(), n + 1));
                (k.to_string(), Some(step))
            }
            None => (key.to_string(), None),
        };
        out.push(Unsafe {
            test: test.into(),
            key,
            from_step,
            safe: safe.into(),
            reason: reason.trim().into(),
        });
    }
    out
}

/// The entry for `key` (`sN.KEY` for step keys) of `test`, if dpkg is unsafe there.
fn unsafe_entry<'a>(list: &'a [Unsafe], test: &str, key: &str) -> Option<&'a Unsafe> {
    list.iter().find(|u| {
        u.test == test
            && match u.from_step {
                None => u.key == key,
                Some(from) => key
                    .split_once('.')
                    .and_then(|(s, k)| Some((s.strip_prefix('s')?.parse::<usize>().ok()?, k)))
                    .is_some_and(|(step, k)| step >= from && k == u.key),
            }
    })
}

/// Compares the two sides of an [`Outcome`], collecting every difference: [`Cmp::done`]
/// fails the test with all of them.
struct Cmp<'a> {
    o: &'a Outcome,
    list: Vec<Unsafe>,
    fails: std::cell::RefCell<Vec<String>>,
}

impl<'a> Cmp<'a> {
    fn new(o: &'a Outcome) -> Self {
        Cmp {
            o,
            list: unsafe_list(),
            fails: Default::default(),
        }
    }

    fn fail(&self, msg: String) {
        self.fails.borrow_mut().push(msg);
    }

    /// `key` on both sides: equal to `want` (or, with `want` None, equal to each other);
    /// where tests/sd/dpkg-unsafe.txt lists it, imp's is the safe value and dpkg's is not.
    fn key(&self, key: &str, want: Option<&str>, why: &str) {
        let o = self.o;
        let d = o.get(&format!("dpkg.{key}"));
        let i = o.get(&format!("imp.{key}"));
        if let Some(u) = unsafe_entry(&self.list, &o.name, key) {
            if d == u.safe {
                self.fail(format!(
                    "dpkg-unsafe.txt: `{} {key}`: dpkg's {key}={d:?} is the safe value now: the entry ({}) no longer holds",
                    u.test, u.reason
                ));
            }
            let imp_want = if imp_side_is_dpkg() {
                d
            } else {
                u.safe.as_str()
            };
            if i != imp_want {
                self.fail(format!(
                    "{why}: imp.{key}={i:?}, want the safe {imp_want:?} (dpkg: {d:?}; dpkg is unsafe here: {})",
                    u.reason
                ));
            }
            return;
        }
        if let Some(w) = want {
            if d != w {
                self.fail(format!(
                    "{why}: dpkg.{key}={d:?}, want {w:?} (the case's expectation of dpkg is wrong)"
                ));
            }
        }
        if i != d {
            self.fail(format!("{why}: imp.{key}={i:?}, dpkg.{key}={d:?}"));
        }
    }

    /// `NAME.rc` on both sides is `code` (dpkg-unsafe entries aside).
    fn rc(&self, name: &str, code: i32) {
        let why = format!(
            "`{name}` (dpkg stderr {:?}; imp stderr {:?})",
            self.o.opt(&format!("dpkg.{name}.err")).unwrap_or(""),
            self.o.opt(&format!("imp.{name}.err")).unwrap_or("")
        );
        self.key(&format!("{name}.rc"), Some(&code.to_string()), &why);
    }

    /// `key` on both sides is `want` (dpkg-unsafe entries aside).
    fn both(&self, key: &str, want: &str) {
        self.key(key, Some(want), key);
    }

    /// Fails the test with every difference found.
    fn done(self) {
        let fails = self.fails.into_inner();
        self.o.check(
            fails.is_empty(),
            &format!("{} difference(s):\n  {}", fails.len(), fails.join("\n  ")),
        );
    }
}

// ---------------------------------------------------------------------------------
// Direct invocations: one body, run on both sides

/// Runs `body` twice in one sandbox, each time as its own PID 1's child in a fresh PID
/// namespace (its processes die with it), with its own directory `$D` (`$T/dpkg`,
/// `$T/imp`; cwd), `$SSD` the binary under test and `$SIDE` its name; a canary of its
/// own must survive each run. The lines it prints come back as `dpkg.KEY` / `imp.KEY`.
fn side_by_side(test: &str, body: &str) -> Outcome {
    let prelude = sh_dir().join("prelude.sh");
    let script = format!(
        r#"
{setup}
cat > $H/body.sh <<'SD_BODY_EOF'
{body}
SD_BODY_EOF
for side in {sides}; do
    case $side in dpkg) S={dpkg} ;; *) S=$H/ssd/start-stop-daemon ;; esac
    mkdir -p $T/$side
    SIDE=$side SSD=$S D=$T/$side PRELUDE='{prelude}' DIRECT='{direct}' unshare --pid --fork --kill-child --mount-proc \
        bash -c '. "$PRELUDE"; . "$DIRECT"; cd "$D"; sleep 100000 </dev/null >/dev/null 2>&1 & C2=$!
                 . $H/body.sh
                 echo "canary=$(alive $C2)"' </dev/null 2>$H/$side.stderr | sed "s/^/$side./"
    echo "$side.stderr=$(esc $H/$side.stderr)"
done
"#,
        setup = imp_side_setup(),
        sides = SIDES.join(" "),
        dpkg = DPKG_SSD,
        prelude = prelude.display(),
        direct = workspace_root().join("tests/sd/direct.sh").display(),
    );
    let o = sandbox(test).full().timeout(120).run(&script);
    o
}

// ---------------------------------------------------------------------------------
// Real init scripts

/// One package's init script and how it is driven.
struct Script {
    /// The test (its entries in dpkg-unsafe.txt).
    test: &'static str,
    /// The packages to unpack (the first has the script; others: libraries it lacks
    /// on this machine).
    debs: &'static [&'static str],
    /// /etc/init.d/NAME.
    script: &'static str,
    /// The daemon's command name (/proc/PID/comm).
    comm: &'static str,
    /// The pidfile the steps watch ("" for none).
    pidfile: &'static str,
    /// Shell lines run before the steps with `$R` the root: what the package's
    /// postinst or its admin would have done.
    setup: &'static str,
    /// tests/sd/steps.sh's steps.
    steps: &'static [&'static str],
}

/// What each step's outcome must agree on (tests/sd/steps.sh).
const STEP_KEYS: &[&str] = &[
    "act",
    "rc",
    "n",
    "pidrel",
    "pidfile",
    "uid",
    "nice",
    "bystander",
];

/// Where the .debs are kept: `$IMP_SD_DEBS`, else `sd-debs` in `$CARGO_TARGET_DIR` or
/// the workspace's target/.
fn deb_cache() -> PathBuf {
    if let Some(d) = std::env::var_os("IMP_SD_DEBS").filter(|d| !d.is_empty()) {
        return PathBuf::from(d);
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"));
    target.join("sd-debs")
}

fn cached_deb(dir: &Path, pkg: &str) -> Option<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(&format!("{pkg}_")) && n.ends_with(".deb"))
        })
        .collect();
    found.sort();
    found.pop()
}

/// One `apt-get` command in `dir`; Err(its output) when it fails.
fn apt_get(dir: &Path, args: &[&str]) -> Result<(), String> {
    let out = std::process::Command::new("apt-get")
        .args(args)
        .current_dir(dir)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| format!("apt-get: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "apt-get {}: {}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout).trim(),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// The .deb of each package: from the cache, else `apt-get download` (one `apt-get
/// update` first if apt knows no such package yet). Never installs anything. A package
/// that cannot be fetched fails the test with the reason: these tests need Debian's
/// package registry once; they never pass without their packages.
fn debs(test: &str, pkgs: &[&str]) -> Vec<PathBuf> {
    let mut out = fetch_all(test, pkgs);
    // What they need that this machine lacks (a minimal Debian has no libssl3 for
    // rsync, no libevent for inetd): unpacked beside them, never installed.
    let extra = missing_deps(pkgs);
    let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
    out.extend(fetch_all(test, &extra));
    out
}

/// The .deb of each of `pkgs`, from the cache or fetched (see [`debs`]).
fn fetch_all(test: &str, pkgs: &[&str]) -> Vec<PathBuf> {
    /// One fetch at a time; the first failure is remembered (apt-get retries take long:
    /// the other tests fail at once with the same reason).
    static FETCH: Mutex<Option<String>> = Mutex::new(None);
    let mut failed = FETCH.lock().unwrap_or_else(|e| e.into_inner());
    let dir = deb_cache();
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let mut out = Vec::new();
    for pkg in pkgs {
        if let Some(p) = cached_deb(&dir, pkg) {
            out.push(p);
            continue;
        }
        let got = match failed.as_ref() {
            Some(e) => Err(format!("not tried: an earlier fetch failed: {e}")),
            None => fetch(&dir, pkg),
        };
        match got {
            Ok(p) => out.push(p),
            Err(e) => {
                if failed.is_none() {
                    *failed = Some(e.clone());
                }
                panic!(
                    "{test}: NOT RUN: cannot fetch the Debian package `{pkg}` ({e}). The sd_script_* \
                     tests run real packages' init scripts and need Debian's package registry once \
                     (the .debs are then kept in {}, or $IMP_SD_DEBS); without it they cannot run \
                     and do not pass: skip them with `-- --skip sd_script_`",
                    dir.display()
                )
            }
        }
    }
    out
}

/// Whether dpkg says `pkg` is installed on this machine.
fn installed(pkg: &str) -> bool {
    std::process::Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", pkg])
        .stderr(std::process::Stdio::null())
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("install ok installed"))
}

/// The dependencies of `pkgs`, and theirs, that this machine does not have installed
/// (`apt-cache depends`): of an alternative (`a | b`) none is taken when one is
/// installed, else the first real package; an init system (systemd...) never.
fn missing_deps(pkgs: &[&str]) -> Vec<String> {
    let mut seen: Vec<String> = pkgs.iter().map(|p| p.to_string()).collect();
    let mut todo = seen.clone();
    let mut out = Vec::new();
    while let Some(pkg) = todo.pop() {
        let Ok(o) = std::process::Command::new("apt-cache")
            .args([
                "depends",
                "--no-recommends",
                "--no-suggests",
                "--no-conflicts",
                "--no-breaks",
                "--no-replaces",
                "--no-enhances",
                &pkg,
            ])
            .output()
        else {
            continue;
        };
        let text = String::from_utf8_lossy(&o.stdout).into_owned();
        let mut groups: Vec<Vec<String>> = Vec::new();
        let mut open = false;
        for line in text.lines().skip(1) {
            let l = line.trim();
            let (alt, l) = match l.strip_prefix('|') {
                Some(rest) => (true, rest),
                None => (false, l),
            };
            let Some(name) = l
                .strip_prefix("Depends: ")
                .or_else(|| l.strip_prefix("PreDepends: "))
            else {
                continue;
            };
            if !open {
                groups.push(Vec::new());
            }
            if let Some(g) = groups.last_mut() {
                g.push(name.trim().to_string());
            }
            open = alt;
        }
        for g in groups {
            if g.iter().any(|n| seen.contains(n) || installed(n)) {
                continue;
            }
            let Some(n) = g
                .iter()
                .find(|n| !n.starts_with('<') && !n.starts_with("systemd"))
            else {
                continue;
            };
            seen.push(n.clone());
            todo.push(n.clone());
            out.push(n.clone());
        }
    }
    out
}

/// `apt-get download PKG` into `dir` (through a private directory, renamed in).
fn fetch(dir: &Path, pkg: &str) -> Result<PathBuf, String> {
    let tmp = dir.join(format!(".fetch-{pkg}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).map_err(|e| format!("{}: {e}", tmp.display()))?;
    let mut r = apt_get(&tmp, &["download", "-q", pkg]);
    if r.is_err() {
        // A fresh machine's apt has no package lists yet.
        r = apt_get(&tmp, &["update", "-q"]).and_then(|_| apt_get(&tmp, &["download", "-q", pkg]));
    }
    let got = r
        .and_then(|_| cached_deb(&tmp, pkg).ok_or_else(|| "no .deb downloaded".to_string()))
        .and_then(|p| {
            let dest = dir.join(p.file_name().expect("a file name"));
            std::fs::rename(&p, &dest).map_err(|e| format!("{}: {e}", dest.display()))?;
            Ok(dest)
        });
    let _ = std::fs::remove_dir_all(&tmp);
    got
}

/// Runs `s`'s steps with dpkg's binary and with imp's (side by side, each in its own
/// root and namespaces) and asserts every step's outcome is the same on both.
fn run_script(s: &Script) {
    let debs: Vec<String> = debs(s.test, s.debs)
        .iter()
        .map(|p| format!("'{}'", p.display()))
        .collect();
    let debs = debs.join(" ");
    let steps = s.steps.join(" ");
    let sd = workspace_root().join("tests/sd");
    let script = format!(
        r#"
{setup_imp}
SD_DIR='{sd}'
. $SD_DIR/root.sh
for side in dpkg imp; do
    case $side in dpkg) S={dpkg} ;; *) S=$H/ssd/start-stop-daemon ;; esac
    sd_root $side $S {debs} || continue
    [ "$side" = imp ] && [ -n "${{IMP_RUNNER:-}}" ] && {{ : > $R/.sd/imp; mount --bind "$IMP_BIN" $R/.sd/imp; }}
    ( :; {setup} ) || echo "$side.setup=package setup failed"
done
for side in dpkg imp; do
    sd_steps $side {script} {comm} '{pidfile}' {steps} > $H/$side.kv &
done
wait
cat $H/dpkg.kv $H/imp.kv
"#,
        setup_imp = imp_side_setup(),
        sd = sd.display(),
        dpkg = DPKG_SSD,
        setup = s.setup,
        script = s.script,
        comm = s.comm,
        pidfile = s.pidfile,
    );
    let o = sandbox(s.test).full().timeout(150).run(&script);
    for side in SIDES {
        o.expect_eq(&format!("{side}.setup"), "ok");
        o.expect_eq(&format!("{side}.steps"), &s.steps.len().to_string());
    }
    // The first step starts the daemon: with dpkg's binary it must run, else the
    // comparison is of two failures (a library or file this machine lacks).
    o.check(
        s.steps.first() != Some(&"start") || o.opt("dpkg.s1.n").is_some_and(|n| n != "0"),
        &format!(
            "{}: the daemon did not start with dpkg's start-stop-daemon (step 1: rc {:?}, \
             stderr {:?}): something it needs is missing on this machine",
            s.script,
            o.opt("dpkg.s1.rc"),
            o.opt("dpkg.s1.err")
        ),
    );
    let c = Cmp::new(&o);
    for u in c.list.iter().filter(|u| u.test == s.test) {
        if let Some(n) = u.from_step {
            o.check(
                n >= 1 && n <= s.steps.len(),
                &format!(
                    "dpkg-unsafe.txt: {} names step {n} of {}",
                    u.test,
                    s.steps.len()
                ),
            );
        }
    }
    for (i, act) in s.steps.iter().enumerate() {
        let n = i + 1;
        c.both(&format!("s{n}.act"), act);
        if *act == "reuse" {
            c.both(&format!("s{n}.reused"), "yes");
        }
        for k in STEP_KEYS {
            let key = format!("s{n}.{k}");
            let why = format!(
                "{} step {n} `{act}`: {k} (dpkg: rc {} out {:?} err {:?}; imp: rc {} out {:?} err {:?})",
                s.script,
                o.get(&format!("dpkg.s{n}.rc")),
                o.get(&format!("dpkg.s{n}.out")),
                o.get(&format!("dpkg.s{n}.err")),
                o.get(&format!("imp.s{n}.rc")),
                o.get(&format!("imp.s{n}.out")),
                o.get(&format!("imp.s{n}.err")),
            );
            c.key(&key, None, &why);
        }
    }
    c.done();
}

/// The full round of a script with a pidfile: start, status, start again, restart,
/// RELOADS..., stop, status, stop again; kill -9 then status and start; a stale
/// pidfile naming an unrelated live process then stop (it must survive), status, start;
/// the daemon killed and its pid reused by an unrelated process, then stop (it must
/// survive), status, start.
macro_rules! round {
    ($($reload:literal),*) => {
        &[
            "start", "status", "start", "restart", $($reload,)* "stop", "status", "stop",
            "start", "kill9", "status", "start", "stop",
            "stale", "stop", "status", "start",
            "reuse", "status", "stop", "status", "start", "stop",
        ]
    };
}

/// cron's: the round without reload's second name, and a garbage pidfile at the end.
#[rustfmt::skip]
const CRON_STEPS: &[&str] = &[
    "start", "status", "start", "restart", "reload", "stop", "status", "stop",
    "start", "kill9", "status", "start", "stop",
    "stale", "stop", "status", "start",
    "reuse", "status", "stop", "status", "start", "stop",
    "garbage", "status", "start", "status", "stop",
];

/// lighttpd's: the round with its three reloading actions, and a garbage pidfile.
#[rustfmt::skip]
const LIGHTTPD_STEPS: &[&str] = &[
    "start", "status", "start", "restart", "reload", "force-reload", "reopen-logs",
    "stop", "status", "stop",
    "start", "kill9", "status", "start", "stop",
    "stale", "stop", "status", "start",
    "reuse", "status", "stop", "status", "start", "stop",
    "garbage", "start", "status", "stop",
];

/// cron (cron 3.0pl1-162): the script goes through /lib/lsb/init-functions'
/// `start_daemon -p` (`--start --nicelevel 0 --quiet --oknodo --chdir / --exec
/// --pidfile`) and `killproc -p` (`--stop --retry 5 --quiet --name cron --pidfile`);
/// a garbage pidfile at the end.
#[test]
fn sd_script_cron() {
    run_script(&Script {
        test: "sd_script_cron",
        debs: &["cron"],
        script: "/etc/init.d/cron",
        comm: "cron",
        pidfile: "/run/crond.pid",
        // postinst: the crontab group and the spool directory.
        setup: "echo 'crontab:x:107:' >> $R/etc/group; mkdir -p $R/var/spool/cron/crontabs; \
                chgrp 107 $R/var/spool/cron/crontabs; chmod 1730 $R/var/spool/cron/crontabs",
        steps: CRON_STEPS,
    });
}

/// busybox-syslogd (1:1.35.0-4+deb12u1): `--start --verbose --name syslogd --exec
/// /sbin/syslogd` (a symlink to /bin/busybox) and `--stop --quiet --name syslogd`, no
/// pidfile. restart and
/// force-reload sleep DIETIME between stop and start: 0.2 s here (/etc/default).
#[test]
fn sd_script_busybox_syslogd() {
    run_script(&Script {
        test: "sd_script_busybox_syslogd",
        debs: &["busybox-syslogd"],
        script: "/etc/init.d/busybox-syslogd",
        comm: "syslogd",
        // The script has none; busybox's own /run/syslogd.pid is removed by the daemon
        // at exit, sometimes after the stop returned: not watched.
        pidfile: "",
        setup: "echo DIETIME=0.2 >> $R/etc/default/busybox-syslogd",
        steps: &[
            "start",
            "status",
            "start",
            "restart",
            "force-reload",
            "reload",
            "stop",
            "status",
            "stop",
            "start",
            "kill9",
            "status",
            "start",
            "stop",
        ],
    });
}

/// inetutils-syslogd (2:2.4-2+deb12u3): `--start --quiet --oknodo --pidfile --exec`,
/// `--stop --quiet --oknodo --pidfile --exec --retry 5`, reload `--stop --signal 1
/// --quiet --pidfile --exec`.
#[test]
fn sd_script_inetutils_syslogd() {
    run_script(&Script {
        test: "sd_script_inetutils_syslogd",
        debs: &["inetutils-syslogd"],
        script: "/etc/init.d/inetutils-syslogd",
        comm: "syslogd",
        pidfile: "/run/syslog.pid",
        setup: "",
        steps: round!("reload", "force-reload"),
    });
}

/// lighttpd (1.4.69-1): `--start --oknodo --quiet --pidfile --exec`, `--stop --retry
/// 30 --oknodo --quiet --pidfile --exec`, reload as `--stop --signal INT --quiet
/// --pidfile --exec --retry=TERM/60/KILL/5` then `--start`, reopen-logs `--stop
/// --signal HUP --oknodo`; it drops to www-data itself (port 80 in the namespace's own
/// network).
#[test]
fn sd_script_lighttpd() {
    run_script(&Script {
        test: "sd_script_lighttpd",
        debs: &["lighttpd"],
        script: "/etc/init.d/lighttpd",
        comm: "lighttpd",
        pidfile: "/run/lighttpd.pid",
        setup: "",
        steps: LIGHTTPD_STEPS,
    });
}

/// nscd (2.36-9+deb12u14): `--start --quiet --pidfile --exec --test` before `--start`,
/// `--stop --quiet --pidfile --name nscd --test`, and `--stop --quiet --oknodo
/// --retry=0/30/KILL/5 --exec` after `nscd --shutdown`.
#[test]
fn sd_script_nscd() {
    run_script(&Script {
        test: "sd_script_nscd",
        debs: &["nscd"],
        script: "/etc/init.d/nscd",
        comm: "nscd",
        pidfile: "/run/nscd/nscd.pid",
        setup: "",
        steps: round!("force-reload"),
    });
}

/// rsync (3.5.0+ds1-0+deb12u1, with libpopt0): `--start --quiet --background --pidfile
/// --make-pidfile --nicelevel 5 --exec /usr/bin/rsync -- --no-detach --daemon`, and
/// `--stop --quiet --oknodo --retry 30 --pidfile` alone — which makes dpkg kill an
/// unrelated process a stale pidfile names (dpkg-unsafe.txt). Enabled in
/// /etc/default/rsync with RSYNC_NICE=5, a one-module /etc/rsyncd.conf (port 873 in the
/// namespace's own network).
#[test]
fn sd_script_rsync() {
    run_script(&Script {
        test: "sd_script_rsync",
        debs: &["rsync", "libpopt0"],
        script: "/etc/init.d/rsync",
        comm: "rsync",
        pidfile: "/run/rsync.pid",
        setup: "printf 'RSYNC_ENABLE=true\\nRSYNC_NICE=5\\n' > $R/etc/default/rsync; \
                printf '[tmp]\\n  path = /tmp\\n  read only = yes\\n' > $R/etc/rsyncd.conf",
        steps: round!("reload"),
    });
}

/// openbsd-inetd (0.20221205-2~deb12u1, with libwrap0): inetd writes its own pidfile;
/// `--start --quiet --pidfile --oknodo --exec`, and stop, restart and reload by
/// `--stop --quiet --pidfile /var/run/inetd.pid --oknodo [--signal 1]` alone — the
/// counterpart of rsync's: a pidfile the daemon wrote, no matcher, which a safe stop
/// must still honour, while a stale one must not kill what it names (dpkg-unsafe.txt).
/// One internal service in /etc/inetd.conf (update-inetd's job), in the namespace's own
/// network.
#[test]
fn sd_script_openbsd_inetd() {
    run_script(&Script {
        test: "sd_script_openbsd_inetd",
        debs: &["openbsd-inetd", "libwrap0"],
        script: "/etc/init.d/openbsd-inetd",
        comm: "inetd",
        pidfile: "/run/inetd.pid",
        setup: "printf 'discard\\tstream\\ttcp\\tnowait\\troot\\tinternal\\n' > $R/etc/inetd.conf",
        steps: round!("reload", "force-reload"),
    });
}

// ---------------------------------------------------------------------------------
// Direct invocations

/// Start twice: the second finds the first (by pidfile and exec: 1, with --oknodo 0)
/// and runs nothing; by --exec alone too.
#[test]
fn ssd_start_twice() {
    let o = side_by_side(
        "ssd_start_twice",
        r#"
        bgtd a
        A=$(pidin $D/a.pid)
        r b $SSD -S -b -m -p $D/a.pid -x $D/td -- --marker $D/b.ran --sleep 1000
        r c $SSD -S -o -b -m -p $D/a.pid -x $D/td -- --marker $D/c.ran --sleep 1000
        r e $SSD -S -b -x $D/td -- --marker $D/e.ran --sleep 1000
        r f $SSD -S -q -b -x $D/td -- --marker $D/e.ran --sleep 1000
        sleep 0.3
        echo "n=$(count td)"
        echo "ran=$(exists $D/b.ran)$(exists $D/c.ran)$(exists $D/e.ran)"
        echo "same=$([ "$(pidin $D/a.pid)" = "$A" ] && [ "$(alive $A)" = yes ] && echo yes || echo no)"
        "#,
    );
    let c = Cmp::new(&o);
    c.both("canary", "yes");
    c.rc("b", 1);
    c.rc("c", 0);
    c.rc("e", 1);
    c.rc("f", 1);
    c.both("f.out", "");
    c.both("f.err", "");
    c.both("n", "1");
    c.both("ran", "nonono");
    c.both("same", "yes");
    c.done();
}

/// Stop with nothing running: 1, with --oknodo 0, whatever the matcher (pidfile
/// missing, exec, name, user); -q prints nothing.
#[test]
fn ssd_stop_nothing_running() {
    let o = side_by_side(
        "ssd_stop_nothing_running",
        r#"
        cp $TDAEMON $D/td
        r a $SSD -K -p $D/none.pid
        r b $SSD -K -o -p $D/none.pid
        r c $SSD -K -x $D/td
        r d $SSD -K -o -x $D/td
        r e $SSD -K -n td
        r f $SSD -K -u nobody
        r g $SSD -K -q -p $D/none.pid -x $D/td
        r h $SSD -K -R TERM/1/KILL/1 -p $D/none.pid
        "#,
    );
    let c = Cmp::new(&o);
    c.both("canary", "yes");
    for (n, code) in [
        ("a", 1),
        ("b", 0),
        ("c", 1),
        ("d", 0),
        ("e", 1),
        ("f", 1),
        ("g", 1),
        ("h", 1),
    ] {
        c.rc(n, code);
    }
    c.both("g.out", "");
    c.both("g.err", "");
    c.done();
}

/// --status: 0 running (by pidfile, by exec), 1 pidfile naming a dead pid, 3 no pidfile
/// (or nothing found by exec), 4 pidfile unreadable (EACCES as nobody), or garbage.
#[test]
fn ssd_status_codes() {
    let o = side_by_side(
        "ssd_status_codes",
        r#"
        bgtd run
        r run $SSD -T -p $D/run.pid
        r runx $SSD -T -x $D/td
        r runpx $SSD -T -p $D/run.pid -x $D/td
        sh -c 'exit 0' & wait $!; echo $! > $D/dead.pid
        r dead $SSD -T -p $D/dead.pid
        r none $SSD -T -p $D/none.pid
        cp $TDAEMON $D/other
        r nonex $SSD -T -x $D/other
        echo 1 > $D/unr.pid; chmod 600 $D/unr.pid
        r unr asnobody $SSD -T -p $D/unr.pid
        echo garbage > $D/garb.pid
        r garb $SSD -T -p $D/garb.pid
        : > $D/empty.pid
        r empty $SSD -T -p $D/empty.pid
        "#,
    );
    let c = Cmp::new(&o);
    c.both("canary", "yes");
    for (n, code) in [
        ("run", 0),
        ("runx", 0),
        ("runpx", 0),
        ("dead", 1),
        ("none", 3),
        ("nonex", 3),
        ("unr", 4),
        ("garb", 4),
        ("empty", 4),
    ] {
        c.rc(n, code);
    }
    c.done();
}

/// --test: a start that would start says so (0) and runs nothing, no pidfile; a stop
/// that would stop (0) signals nothing; with nothing to stop 1, already running 1.
#[test]
fn ssd_test_mode_does_nothing() {
    let o = side_by_side(
        "ssd_test_mode_does_nothing",
        r#"
        cp $TDAEMON $D/td
        r a $SSD -S -t -b -m -p $D/t.pid -x $D/td -- --marker $D/a.ran --sleep 1000
        sleep 0.3
        echo "a.ran=$(exists $D/a.ran)"
        echo "a.pidfile=$(exists $D/t.pid)"
        echo "a.n=$(count td)"
        bgtd t
        P=$(pidin $D/t.pid)
        r b $SSD -K -t -p $D/t.pid -x $D/td
        r c $SSD -K -t -s KILL -p $D/t.pid
        sleep 0.2
        echo "b.alive=$(alive $P)"
        r d $SSD -S -t -p $D/t.pid -x $D/td -- --sleep 1
        r e $SSD -K -t -p $D/none.pid
        r f $SSD -K -t -o -p $D/none.pid
        "#,
    );
    let c = Cmp::new(&o);
    c.both("canary", "yes");
    c.rc("a", 0);
    c.both("a.ran", "no");
    c.both("a.pidfile", "no");
    c.both("a.n", "0");
    c.rc("b", 0);
    c.rc("c", 0);
    c.both("b.alive", "yes");
    c.rc("d", 1);
    c.rc("e", 1);
    c.rc("f", 0);
    c.done();
}

/// --retry on a daemon ignoring SIGTERM: TERM/1/KILL/1 kills it after 1 s (0); TERM/1
/// alone runs out (2) and leaves it running; `-R 1` is TERM/1/KILL/1 (0); a daemon that
/// obeys TERM is gone at once under TERM/5/KILL/1.
#[test]
fn ssd_retry_schedules() {
    let o = side_by_side(
        "ssd_retry_schedules",
        r#"
        bgtd i --ignore-term
        P=$(pidin $D/i.pid); waitign $P 15
        r a $SSD -K -R TERM/1/KILL/1 -p $D/i.pid -x $D/td
        echo "a.alive=$(alive $P)"
        rm -f $D/i.pid
        bgtd i --ignore-term
        P=$(pidin $D/i.pid); waitign $P 15
        r b $SSD -K -R TERM/1 -p $D/i.pid -x $D/td
        echo "b.alive=$(alive $P)"
        r c $SSD -K -R 1 -p $D/i.pid -x $D/td
        echo "c.alive=$(alive $P)"
        rm -f $D/i.pid
        bgtd n
        P=$(pidin $D/n.pid)
        r d $SSD -K -R TERM/5/KILL/1 -p $D/n.pid -x $D/td
        echo "d.alive=$(alive $P)"
        "#,
    );
    let c = Cmp::new(&o);
    c.both("canary", "yes");
    c.rc("a", 0);
    c.both("a.alive", "no");
    c.rc("b", 2);
    c.both("b.alive", "yes");
    c.rc("c", 0);
    c.both("c.alive", "no");
    c.rc("d", 0);
    c.both("d.alive", "no");
    for side in SIDES {
        for n in ["a", "b", "c"] {
            let ms = o.int(&format!("{side}.{n}.ms"));
            if !(900..8000).contains(&ms) {
                c.fail(format!("{side} `{n}` waits about 1 s: {ms} ms"));
            }
        }
        let ms = o.int(&format!("{side}.d.ms"));
        if ms >= 4000 {
            c.fail(format!(
                "{side} `d` returns when the daemon is gone: {ms} ms"
            ));
        }
    }
    c.done();
}

/// --exec matches the running binary's inode: a copy elsewhere does not match (the
/// daemon is left alone), a binary replaced in place (a new file renamed over it, as an
/// upgrade does) still matches the old process that runs the deleted file.
#[test]
fn ssd_exec_matching() {
    let o = side_by_side(
        "ssd_exec_matching",
        r#"
        bgtd x
        P=$(pidin $D/x.pid)
        cp $TDAEMON $D/copy
        r copy $SSD -K -x $D/copy
        r copyp $SSD -K -p $D/x.pid -x $D/copy
        r copyt $SSD -T -x $D/copy
        echo "copy.alive=$(alive $P)"
        cp $TDAEMON $D/td.new; mv -f $D/td.new $D/td
        echo "exe=$(readlink /proc/$P/exe | sed "s|^$D/||")"
        r upt $SSD -T -x $D/td
        r ups $SSD -S -b -x $D/td -- --marker $D/ups.ran --sleep 1000
        r upk $SSD -K -x $D/td
        waitdead $P
        echo "up.alive=$(alive $P)"
        echo "ups.ran=$(exists $D/ups.ran)"
        "#,
    );
    let c = Cmp::new(&o);
    c.both("canary", "yes");
    c.rc("copy", 1);
    c.rc("copyp", 1);
    c.rc("copyt", 3);
    c.both("copy.alive", "yes");
    c.both("exe", "td (deleted)");
    c.rc("upt", 0);
    c.rc("ups", 1);
    c.rc("upk", 0);
    c.both("up.alive", "no");
    c.both("ups.ran", "no");
    c.done();
}

/// --name matches the whole command name (the kernel keeps 15 characters): the
/// 15-character name matches, a shorter prefix or the full 23-character file name does
/// not (dpkg warns about the latter: the process is left alone).
#[test]
fn ssd_name_matching() {
    let o = side_by_side(
        "ssd_name_matching",
        r#"
        cp $TDAEMON $D/averyverylongdaemonname
        $SSD -S -b -m -p $D/n.pid -x $D/averyverylongdaemonname -- --sleep 1000
        waitcomm $D/n.pid averyverylongda
        P=$(pidin $D/n.pid)
        r t15 $SSD -K -t -n averyverylongda
        r st $SSD -T -n averyverylongda
        r s15 $SSD -S -b -n averyverylongda -a $D/averyverylongdaemonname -- --marker $D/s.ran --sleep 1000
        r prefix $SSD -K -n averyverylongd
        echo "prefix.alive=$(alive $P)"
        r full $SSD -K -n averyverylongdaemonname
        sleep 0.2
        echo "full.alive=$(alive $P)"
        if [ "$(alive $P)" = no ]; then
            $SSD -S -b -m -p $D/n.pid -x $D/averyverylongdaemonname -- --sleep 1000
            waitcomm $D/n.pid averyverylongda
            P=$(pidin $D/n.pid)
        fi
        r k15 $SSD -K -n averyverylongda
        waitdead $P
        echo "k15.alive=$(alive $P)"
        echo "s.ran=$(exists $D/s.ran)"
        "#,
    );
    let c = Cmp::new(&o);
    c.both("canary", "yes");
    c.rc("t15", 0);
    c.rc("st", 0);
    c.rc("s15", 1);
    c.both("s.ran", "no");
    c.rc("prefix", 1);
    c.both("prefix.alive", "yes");
    c.rc("full", 1);
    c.both("full.alive", "yes");
    c.rc("k15", 0);
    c.both("k15.alive", "no");
    c.done();
}

/// --user: only the processes of that user (by name or number) match; --chuid started
/// one of them.
#[test]
fn ssd_user_matching() {
    let o = side_by_side(
        "ssd_user_matching",
        r#"
        bgtd r
        R=$(pidin $D/r.pid)
        $SSD -S -b -m -p $D/n.pid -c nobody -x $D/td -- --sleep 1000
        waitcomm $D/n.pid td
        N=$(pidin $D/n.pid)
        echo "n.uid=$(status $N Uid)"
        r a $SSD -K -t -u nobody -x $D/td
        r b $SSD -K -u nobody -x $D/td
        waitdead $N
        echo "b.nobody=$(alive $N)"
        echo "b.root=$(alive $R)"
        r c $SSD -K -u nobody -x $D/td
        r d $SSD -K -u 65534 -x $D/td
        r e $SSD -K -u 0 -x $D/td
        waitdead $R
        echo "e.root=$(alive $R)"
        "#,
    );
    let c = Cmp::new(&o);
    c.both("canary", "yes");
    c.both("n.uid", "65534 65534 65534 65534");
    c.rc("a", 0);
    c.rc("b", 0);
    c.both("b.nobody", "no");
    c.both("b.root", "yes");
    c.rc("c", 1);
    c.rc("d", 1);
    c.rc("e", 0);
    c.both("e.root", "no");
    c.done();
}

/// A pidfile with garbage: status 4, stop 1 (nothing killed), start starts.
#[test]
fn ssd_pidfile_garbage() {
    let o = side_by_side(
        "ssd_pidfile_garbage",
        r#"
        cp $TDAEMON $D/td
        echo garbage > $D/g.pid
        r st $SSD -T -p $D/g.pid
        r k $SSD -K -p $D/g.pid
        r kx $SSD -K -p $D/g.pid -x $D/td
        r s $SSD -S -b -p $D/g.pid -x $D/td -- --sleep 1000
        sleep 0.3
        echo "s.n=$(count td)"
        echo "s.content=$(pidin $D/g.pid)"
        "#,
    );
    let c = Cmp::new(&o);
    c.both("canary", "yes");
    c.rc("st", 4);
    c.rc("k", 1);
    c.rc("kx", 1);
    c.rc("s", 0);
    c.both("s.n", "1");
    c.both("s.content", "garbage");
    c.done();
}

/// A stale pidfile (written an hour before) naming a live process that is not the
/// program — its pid reused: with --exec, --name or --user it is not signalled (1);
/// status with --exec says dead (1). Without a matcher dpkg signals it
/// (dpkg-unsafe.txt): imp must not.
#[test]
fn ssd_pidfile_names_another_program() {
    let o = side_by_side(
        "ssd_pidfile_names_another_program",
        r#"
        cp $TDAEMON $D/td
        sleep 100000 </dev/null >/dev/null 2>&1 & V=$!
        echo $V > $D/v.pid; touch -d '1 hour ago' $D/v.pid
        r withexec $SSD -K -p $D/v.pid -x $D/td
        r withname $SSD -K -p $D/v.pid -n td
        r withuser $SSD -K -p $D/v.pid -u nobody
        r st $SSD -T -p $D/v.pid -x $D/td
        echo "matched.victim=$(alive $V)"
        # A pidfile someone else wrote, naming a live process, by itself: the process
        # is signalled (as dpkg; nothing tells it from the daemon's own pidfile).
        r foreign $SSD -K -p $D/v.pid
        waitdead $V
        echo "foreign.victim=$(alive $V)"
        # The pidfile --make-pidfile made, left by a daemon killed with SIGKILL, and
        # its pid reused by an unrelated process (ns_last_pid: this PID namespace's).
        $SSD -S -b -m -p $D/m.pid -x $D/td -- --sleep 1000
        waitcomm $D/m.pid td
        P=$(pidin $D/m.pid)
        kill -9 $P
        for _ in $(seq 250); do [ -e /proc/$P ] || break; sleep 0.02; done
        echo $((P - 1)) > /proc/sys/kernel/ns_last_pid
        sleep 100000 </dev/null >/dev/null 2>&1 & R=$!
        echo "reused.pid=$([ "$R" = "$P" ] && echo same || echo "other ($R for $P)")"
        r reused $SSD -K -p $D/m.pid
        sleep 0.2
        echo "reused.victim=$(alive $R)"
        "#,
    );
    let c = Cmp::new(&o);
    c.both("canary", "yes");
    c.rc("withexec", 1);
    c.rc("withname", 1);
    c.rc("withuser", 1);
    c.rc("st", 1);
    c.both("matched.victim", "yes");
    c.rc("foreign", 0);
    c.both("foreign.victim", "no");
    c.both("reused.pid", "same");
    c.rc("reused", 0);
    c.both("reused.victim", "no");
    c.done();
}

/// --make-pidfile --background: the file holds the daemon's pid and a newline; stop
/// --remove-pidfile removes it, a plain stop leaves it.
#[test]
fn ssd_make_pidfile_background_remove() {
    let o = side_by_side(
        "ssd_make_pidfile_background_remove",
        r#"
        cp $TDAEMON $D/td
        r a $SSD -S -b -m -p $D/m.pid -x $D/td -- --sleep 1000
        waitcomm $D/m.pid td
        P=$(pidin $D/m.pid)
        echo "a.hex=$( [ "$(hex $D/m.pid)" = "$(printf '%s\n' $P | od -An -tx1 | tr -d ' \n')" ] && echo pid-newline || hex $D/m.pid)"
        echo "a.n=$(count td)"
        echo "a.ppid=$(ppid_now $P)"
        echo "a.sid=$( [ "$(ps -o sid= $P | tr -d ' ')" != "$(ps -o sid= $$ | tr -d ' ')" ] && echo own || echo callers)"
        echo "a.fd0=$(readlink /proc/$P/fd/0)"
        r b $SSD -K -p $D/m.pid --remove-pidfile
        waitdead $P
        echo "b.alive=$(alive $P)"
        echo "b.pidfile=$(exists $D/m.pid)"
        bgtd m
        P=$(pidin $D/m.pid)
        r c $SSD -K -p $D/m.pid
        waitdead $P
        echo "c.pidfile=$(exists $D/m.pid)"
        r d $SSD -K -o -p $D/m.pid --remove-pidfile
        echo "d.pidfile=$(exists $D/m.pid)"
        "#,
    );
    let c = Cmp::new(&o);
    c.both("canary", "yes");
    c.rc("a", 0);
    c.both("a.hex", "pid-newline");
    c.both("a.n", "1");
    c.both("a.ppid", "1");
    c.both("a.sid", "own");
    c.both("a.fd0", "/dev/null");
    c.rc("b", 0);
    c.both("b.alive", "no");
    c.both("b.pidfile", "no");
    c.rc("c", 0);
    c.both("c.pidfile", "yes");
    c.rc("d", 0);
    c.both("d.pidfile", "no");
    c.done();
}

/// --chuid USER:GROUP, USER alone (its primary group, initgroups), and --group over it:
/// /proc/PID/status Uid, Gid and Groups; the pidfile is written as root. An unknown user
/// or group is 2, also while the program runs.
#[test]
fn ssd_chuid_and_group() {
    let o = side_by_side(
        "ssd_chuid_and_group",
        r#"
        cp $TDAEMON $D/td
        for c in "a -c nobody:nogroup" "b -c nobody" "c -c nobody -g root" "d -c 65534:0"; do
            set -- $c; n=$1; shift
            r $n $SSD -S -b -m -p $D/$n.pid "$@" -x $D/td -- --sleep 1000
            waitcomm $D/$n.pid td
            P=$(pidin $D/$n.pid)
            echo "$n.uid=$(status $P Uid)"
            echo "$n.gid=$(status $P Gid)"
            echo "$n.groups=$(status $P Groups)"
            echo "$n.owner=$(stat -c %U:%G $D/$n.pid)"
        done
        r e $SSD -S -b -c nosuchuser -x $D/td -- --sleep 1000
        r f $SSD -S -b -c nobody:nosuchgroup -x $D/td -- --sleep 1000
        cp $TDAEMON $D/idle
        r g $SSD -S -b -c nosuchuser -x $D/idle -- --marker $D/g.ran --sleep 1000
        r h $SSD -S -b -c nobody:nosuchgroup -x $D/idle -- --marker $D/g.ran --sleep 1000
        sleep 0.2
        echo "g.ran=$(exists $D/g.ran)"
        "#,
    );
    let c = Cmp::new(&o);
    c.both("canary", "yes");
    let u = "65534 65534 65534 65534";
    for (n, gid, groups) in [
        ("a", "65534 65534 65534 65534", "65534"),
        ("b", "65534 65534 65534 65534", "65534"),
        ("c", "0 0 0 0", "0"),
        ("d", "0 0 0 0", "0"),
    ] {
        c.rc(n, 0);
        c.both(&format!("{n}.uid"), u);
        c.both(&format!("{n}.gid"), gid);
        c.both(&format!("{n}.groups"), groups);
        c.both(&format!("{n}.owner"), "root:root");
    }
    // dpkg looks the user up before it looks for the program: 2 even while it runs.
    c.rc("e", 2);
    c.rc("f", 2);
    c.rc("g", 2);
    c.rc("h", 2);
    c.both("g.ran", "no");
    c.done();
}

/// --chdir and --umask: cwd from /proc/PID/cwd, Umask from /proc/PID/status; without
/// them the daemon runs in / with the caller's umask (077 here); --nicelevel.
#[test]
fn ssd_chdir_umask_nicelevel() {
    let o = side_by_side(
        "ssd_chdir_umask_nicelevel",
        r#"
        cp $TDAEMON $D/td
        mkdir $D/wd
        umask 077
        r a $SSD -S -b -m -p $D/a.pid -d $D/wd -k 027 -N 7 -x $D/td -- --sleep 1000
        waitcomm $D/a.pid td
        P=$(pidin $D/a.pid)
        echo "a.cwd=$(readlink /proc/$P/cwd | sed "s|^$D/||")"
        echo "a.umask=$(status $P Umask)"
        echo "a.nice=$(ps -o ni= $P | tr -d ' ')"
        r b $SSD -S -b -m -p $D/b.pid -x $D/td -- --sleep 1000
        waitcomm $D/b.pid td
        P=$(pidin $D/b.pid)
        echo "b.cwd=$(readlink /proc/$P/cwd)"
        echo "b.umask=$(status $P Umask)"
        echo "b.nice=$(ps -o ni= $P | tr -d ' ')"
        r c $SSD -S -b -m -p $D/c.pid -d $D/missing -x $D/td -- --marker $D/c.ran --sleep 1000
        sleep 0.3
        echo "c.ran=$(exists $D/c.ran)"
        "#,
    );
    let c = Cmp::new(&o);
    c.both("canary", "yes");
    c.rc("a", 0);
    c.both("a.cwd", "wd");
    c.both("a.umask", "0027");
    c.both("a.nice", "7");
    c.rc("b", 0);
    c.both("b.cwd", "/");
    c.both("b.umask", "0077");
    c.both("b.nice", "0");
    c.both("c.ran", "no");
    c.done();
}

/// --output FILE with --background: the program's stdout and stderr go to FILE.
#[test]
fn ssd_output_file() {
    let o = side_by_side(
        "ssd_output_file",
        r#"
        cp $TDAEMON $D/td
        echo before > $D/out.log
        r a $SSD -S -b -m -p $D/o.pid -O $D/out.log -x $D/td -- --say-hello --sleep 1000
        waitcomm $D/o.pid td
        P=$(pidin $D/o.pid)
        sleep 0.3
        echo "a.log=$(sort $D/out.log | paste -sd, -)"
        echo "a.fd1=$(readlink /proc/$P/fd/1 | sed "s|^$D/||")"
        echo "a.fd2=$(readlink /proc/$P/fd/2 | sed "s|^$D/||")"
        "#,
    );
    let c = Cmp::new(&o);
    c.both("canary", "yes");
    c.rc("a", 0);
    c.both("a.log", "before,hello,hello");
    c.both("a.fd1", "out.log");
    c.both("a.fd2", "out.log");
    c.done();
}

/// --startas a script with --name (its command name; /proc/PID/exe is the shell, so
/// --exec the script matches nothing): a second start finds it (1), stop by name and
/// pidfile stops it.
#[test]
fn ssd_startas_script_with_name() {
    let o = side_by_side(
        "ssd_startas_script_with_name",
        r#"
        printf '#!/bin/sh\nwhile :; do sleep 1; done\n' > $D/mydaemon; chmod 755 $D/mydaemon
        r a $SSD -S -b -m -p $D/s.pid -a $D/mydaemon -n mydaemon
        waitcomm $D/s.pid mydaemon
        P=$(pidin $D/s.pid)
        echo "a.exe=$(readlink /proc/$P/exe)"
        r b $SSD -S -b -m -p $D/s.pid -a $D/mydaemon -n mydaemon
        r c $SSD -K -x $D/mydaemon
        r d $SSD -K -p $D/s.pid -n mydaemon
        waitdead $P
        echo "d.alive=$(alive $P)"
        echo "n=$(count mydaemon)"
        "#,
    );
    let c = Cmp::new(&o);
    c.both("canary", "yes");
    c.rc("a", 0);
    c.both("a.exe", "/usr/bin/dash");
    c.rc("b", 1);
    c.rc("c", 1);
    c.rc("d", 0);
    c.both("d.alive", "no");
    c.both("n", "0");
    c.done();
}

/// --signal: a name or a number is what is sent (a HUP-ignoring daemon survives HUP
/// and 1, then TERM stops it); `SIGHUP` is no signal name to dpkg (3).
#[test]
fn ssd_signal_option() {
    let o = side_by_side(
        "ssd_signal_option",
        r#"
        cp $TDAEMON $D/td; cp $TDAEMON $D/wrap
        $SSD -S -b -m -p $D/h.pid -x $D/td -a $D/wrap -- --ignore HUP --exec $D/td --sleep 1000
        waitcomm $D/h.pid td
        P=$(pidin $D/h.pid)
        r a $SSD -K -s HUP -p $D/h.pid -x $D/td
        r b $SSD -K -s 1 -p $D/h.pid -x $D/td
        r c $SSD -K --signal=SIGHUP -p $D/h.pid -x $D/td
        sleep 0.2
        echo "hup.alive=$(alive $P)"
        r d $SSD -K -s TERM -p $D/h.pid -x $D/td
        waitdead $P
        echo "term.alive=$(alive $P)"
        "#,
    );
    let c = Cmp::new(&o);
    c.both("canary", "yes");
    c.rc("a", 0);
    c.rc("b", 0);
    c.rc("c", 3);
    c.both("hup.alive", "yes");
    c.rc("d", 0);
    c.both("term.alive", "no");
    c.done();
}

/// Usage: 3 for a bad or missing option (2 for an unknown user), 4 for --status,
/// --help and --version 0.
#[test]
fn ssd_usage_exit_codes() {
    let o = side_by_side(
        "ssd_usage_exit_codes",
        r#"
        r noaction $SSD -p $D/x.pid
        r k $SSD -K
        r t $SSD -T
        r bogus $SSD --bogus
        r noexec $SSD -S -p $D/x.pid
        r badretry $SSD -K -R bogus -p $D/x.pid
        r badsig $SSD -K -s NOPE -p $D/x.pid
        r baduser $SSD -S -c nosuchuser -x /bin/true
        r two $SSD -S -K -x /bin/true
        r help $SSD -H
        r version $SSD -V
        "#,
    );
    let c = Cmp::new(&o);
    c.both("canary", "yes");
    for (n, code) in [
        ("noaction", 3),
        ("k", 3),
        ("t", 4),
        ("bogus", 3),
        ("noexec", 3),
        ("badretry", 3),
        ("badsig", 3),
        ("baduser", 2),
        ("two", 3),
        ("help", 0),
        ("version", 0),
    ] {
        c.rc(n, code);
    }
    c.done();
}

/// A pidfile holding -1 or 0: dpkg signals every process (-1) or its own process
/// group (0) (dpkg-unsafe.txt); imp must signal neither.
#[test]
fn ssd_pidfile_minus_one_and_zero() {
    let o = side_by_side(
        "ssd_pidfile_minus_one_and_zero",
        r#"
        sleep 100000 </dev/null >/dev/null 2>&1 & V=$!
        echo -1 > $D/m.pid
        r m $SSD -K -p $D/m.pid
        sleep 0.2
        echo "m.victim=$(alive $V)"
        echo 0 > $D/z.pid
        setsid bash -c 'sleep 100000 </dev/null >/dev/null 2>&1 & echo $! > '$D'/z.victim; exec '$SSD' -K -p '$D'/z.pid' >/dev/null 2>&1
        echo "z.rc=$?"
        sleep 0.2
        echo "z.victim=$(alive $(cat $D/z.victim))"
        "#,
    );
    let c = Cmp::new(&o);
    c.both("canary", "yes");
    c.both("m.victim", "yes");
    c.both("z.victim", "yes");
    c.both("z.rc", "1");
    c.done();
}

/// Without --background the program is exec'd in place: its exit status is the
/// start's, and with --make-pidfile the pidfile names the caller's child itself.
#[test]
fn ssd_foreground_exec_in_place() {
    let o = side_by_side(
        "ssd_foreground_exec_in_place",
        r#"
        cp $TDAEMON $D/td
        r a $SSD -S -x /bin/sh -- -c 'exit 7'
        $SSD -S -m -p $D/f.pid -x $D/td -- --sleep 1000 </dev/null >/dev/null 2>&1 & J=$!
        waitcomm $D/f.pid td
        echo "b.same=$([ "$(pidin $D/f.pid)" = "$J" ] && echo yes || echo no)"
        echo "b.ppid=$([ "$(ppid_now $J)" = "$$" ] && echo caller || ppid_now $J)"
        r c $SSD -K -p $D/f.pid -x $D/td
        wait $J; echo "c.status=$?"
        "#,
    );
    let c = Cmp::new(&o);
    c.both("canary", "yes");
    c.rc("a", 7);
    c.both("b.same", "yes");
    c.both("b.ppid", "caller");
    c.rc("c", 0);
    c.both("c.status", "143");
    c.done();
}

/// A program that cannot be run: a missing --exec is 2 (`unable to stat`), in the
/// foreground a failed exec is 2; with --background dpkg's child fails after the parent
/// said 0 (imp waits for the exec: 2, dpkg-unsafe.txt).
#[test]
fn ssd_exec_failures() {
    let o = side_by_side(
        "ssd_exec_failures",
        r#"
        printf 'x' > $D/noexec; chmod 644 $D/noexec
        r miss $SSD -S -x $D/missing
        r fgmiss $SSD -S -a $D/missing -n missing
        r bgmiss $SSD -S -b -a $D/missing -n missing
        r bgnoexec $SSD -S -b -m -p $D/ne.pid -x $D/noexec
        sleep 0.3
        echo "left=$(ls /proc | grep -c '^[0-9]')"
        "#,
    );
    let c = Cmp::new(&o);
    c.both("canary", "yes");
    c.rc("miss", 2);
    c.rc("fgmiss", 2);
    c.rc("bgmiss", 0);
    c.rc("bgnoexec", 0);
    c.done();
}

/// --pid: only that process, if it runs (and matches the other options); `0` and `abc`
/// are usage errors.
#[test]
fn ssd_pid_matcher() {
    let o = side_by_side(
        "ssd_pid_matcher",
        r#"
        bgtd p
        P=$(pidin $D/p.pid)
        r x $SSD -K --pid $P -x /bin/true
        r t $SSD -K -t --pid $P
        r st $SSD -T --pid $P
        echo "t.alive=$(alive $P)"
        sh -c 'exit 0' & wait $!; G=$!
        r none $SSD -K --pid $G
        r stnone $SSD -T --pid $G
        r zero $SSD -K --pid 0
        r abc $SSD -K --pid abc
        r k $SSD -K --pid $P
        waitdead $P
        echo "k.alive=$(alive $P)"
        "#,
    );
    let c = Cmp::new(&o);
    c.both("canary", "yes");
    c.rc("x", 1);
    c.rc("t", 0);
    c.rc("st", 0);
    c.both("t.alive", "yes");
    c.rc("none", 1);
    c.rc("stnone", 3);
    c.rc("zero", 3);
    c.rc("abc", 3);
    c.rc("k", 0);
    c.both("k.alive", "no");
    c.done();
}

/// --no-close with --background: the caller's fds (7, stdout) stay open in the
/// daemon; without it the daemon has 0, 1, 2 on /dev/null and nothing else of the
/// caller's (imp's lock on its pidfile aside).
#[test]
fn ssd_no_close() {
    let o = side_by_side(
        "ssd_no_close",
        r#"
        cp $TDAEMON $D/td
        exec 7>$D/f7 8>$D/out
        $SSD -S -b -C -m -p $D/c.pid -x $D/td -- --sleep 1000 >&8
        waitcomm $D/c.pid td
        P=$(pidin $D/c.pid)
        echo "c.fd7=$(readlink /proc/$P/fd/7 | sed "s|^$D/||")"
        echo "c.fd1=$(readlink /proc/$P/fd/1 | sed "s|^$D/||")"
        $SSD -S -b -m -p $D/n.pid -x $D/td -- --sleep 1000 >&8
        waitcomm $D/n.pid td
        P=$(pidin $D/n.pid)
        echo "n.fd7=$(readlink /proc/$P/fd/7 || echo none)"
        # imp's daemon holds its --make-pidfile open (read-only, locked): not the caller's.
        echo "n.fds=$(for f in /proc/$P/fd/*; do readlink $f; done | sed "s|^$D/||" | grep -vx n.pid | paste -sd, -)"
        exec 7>&- 8>&-
        "#,
    );
    let c = Cmp::new(&o);
    c.both("canary", "yes");
    c.both("c.fd7", "f7");
    c.both("c.fd1", "out");
    c.both("n.fd7", "none");
    c.both("n.fds", "/dev/null,/dev/null,/dev/null");
    c.done();
}

/// --notify-await: the start returns once the program sent READY=1 to $NOTIFY_SOCKET
/// (0, not before); a program that never does: 2 after --notify-timeout.
#[test]
fn ssd_notify_await() {
    let o = side_by_side(
        "ssd_notify_await",
        r#"
        cp $TDAEMON $D/td
        r a $SSD -S -b -m -p $D/a.pid --notify-await --notify-timeout 5 -x $D/td -- --notify-ready --ready-after 0.5 --dump $D/a.dump --sleep 1000
        # Not compared: a path (dpkg) or an abstract name (@...) serve sd_notify alike.
        echo "a.env=$(sed -n 's/^env.NOTIFY_SOCKET=//p' $D/a.dump)"
        echo "a.alive=$(alive $(pidin $D/a.pid))"
        r b $SSD -S -b -m -p $D/b.pid --notify-await --notify-timeout 1 -x $D/td -- --sleep 1000
        "#,
    );
    let c = Cmp::new(&o);
    c.both("canary", "yes");
    c.rc("a", 0);
    c.both("a.alive", "yes");
    c.rc("b", 2);
    for side in SIDES {
        let a = o.int(&format!("{side}.a.ms"));
        if !(450..5000).contains(&a) {
            c.fail(format!(
                "{side}: `a` returns at READY=1, after 0.5 s: {a} ms"
            ));
        }
        let b = o.int(&format!("{side}.b.ms"));
        if !(900..5000).contains(&b) {
            c.fail(format!("{side}: `b` times out after 1 s: {b} ms"));
        }
    }
    c.done();
}

/// --chroot: the program runs with that root (a static busybox in it), --exec names the
/// path inside it, for start and stop.
#[test]
fn ssd_chroot() {
    let o = side_by_side(
        "ssd_chroot",
        r#"
        mkdir -p $D/root/bin; cp "$(command -v busybox)" $D/root/bin/busybox
        r a $SSD -S -b -m -p $D/c.pid -r $D/root -x /bin/busybox -- sleep 1000
        waitcomm $D/c.pid busybox
        P=$(pidin $D/c.pid)
        echo "a.root=$(readlink /proc/$P/root | sed "s|^$D/||")"
        echo "a.cwd=$(readlink /proc/$P/cwd | sed "s|^$D/||")"
        r again $SSD -S -b -m -p $D/c.pid -r $D/root -x /bin/busybox -- sleep 1000
        r k $SSD -K -p $D/c.pid -r $D/root -x /bin/busybox
        waitdead $P
        echo "k.alive=$(alive $P)"
        "#,
    );
    let c = Cmp::new(&o);
    c.both("canary", "yes");
    c.rc("a", 0);
    c.both("a.root", "root");
    c.both("a.cwd", "root");
    c.rc("again", 1);
    c.rc("k", 0);
    c.both("k.alive", "no");
    c.done();
}

/// tests/sd/debs.txt lists every package the script tests fetch (for a run that
/// prefetches them), dpkg-unsafe.txt parses and names existing tests, the shell files
/// parse.
#[test]
fn sd_data_files_agree() {
    let listed = std::fs::read_to_string(workspace_root().join("tests/sd/debs.txt"))
        .expect("tests/sd/debs.txt");
    let listed: Vec<&str> = listed
        .lines()
        .map(|l| l.split('#').next().unwrap_or("").trim())
        .filter(|l| !l.is_empty())
        .collect();
    let src = include_str!("sd.rs");
    for line in src
        .lines()
        .filter(|l| l.trim_start().starts_with("debs: &["))
    {
        for pkg in line.split('"').skip(1).step_by(2) {
            assert!(listed.contains(&pkg), "tests/sd/debs.txt lacks {pkg}");
        }
    }
    for f in ["root.sh", "steps.sh", "direct.sh"] {
        let path = workspace_root().join("tests/sd").join(f);
        let st = std::process::Command::new("bash")
            .arg("-n")
            .arg(&path)
            .status();
        assert!(st.is_ok_and(|s| s.success()), "bash -n {}", path.display());
    }
    let list = unsafe_list();
    assert!(!list.is_empty());
    for u in &list {
        assert!(
            src.contains(&format!("fn {}()", u.test)),
            "dpkg-unsafe.txt names {}, which is no test of sd.rs",
            u.test
        );
        assert!(!u.reason.is_empty());
    }
}
