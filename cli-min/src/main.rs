//! `imp`: start, stop, restart, status, signal and run daemons through locked pidfiles.
//!
//! A static, libc-free binary. This file parses (see `args`), calls one imp-core
//! function, and turns its result into one line and an LSB exit code. It implements
//! no mechanism itself.
#![no_std]
#![no_main]

mod args;
#[cfg(feature = "ssd")]
mod ssd;

use args::{Action, Command, Usage};
use core::ffi::CStr;
use imp_core::control::{self, StopOptions, Stopped};
use imp_core::error::Reason;
use imp_core::log::{self, Line};
use imp_core::pidfile::State;
use imp_core::spawn::{self, Credentials, Spec, Started};
#[cfg(any(feature = "respawn", feature = "init"))]
use imp_core::supervise;
use imp_core::{CStrArray, Cause, Error, OnlyKeptFds, Op, Pid, SingleThreaded};

/// LSB exit codes (SPEC §2.1).
mod code {
    pub const OK: i32 = 0;
    pub const FAIL: i32 = 1;
    pub const USAGE: i32 = 2;
    pub const STATUS_STALE: i32 = 1;
    pub const STATUS_STOPPED: i32 = 3;
    pub const PRIVILEGE: i32 = 4;
    pub const STATUS_UNKNOWN: i32 = 4;
    pub const NOT_INSTALLED: i32 = 5;
    pub const REFUSED: i32 = 6;
    pub const NOT_RUNNING: i32 = 7;
}

/// `--help`: the usage lines, the options, the stop schedule and the exit codes; one
/// line without the `long-help` feature.
const HELP: &str = if cfg!(feature = "long-help") {
    concat!(
        usage_lines!(),
        "\
options: -u/--user USER[:GROUP] -g/--group GROUP -d/--chdir DIR (/) -r/--chroot DIR
  -m/--umask OCTAL (022) -o/--output FILE --stdout FILE --stderr FILE (/dev/null)
  -k/--keep-fd N -e/--env NAME=VALUE --clear-env -N/--nice N -n/--name NAME
  --dry-run -q/--quiet -v/--verbose
",
        ready_help!(),
        respawn_help!(),
        init_line!(),
        harden_help!(),
        "\
stop: -s TERM, then -t 10 s, then KILL and 5 s; -R as dpkg: TERM/30/KILL/5
exit: 0 ok/already running/not running, 1 failed, 2 usage, 4 no privilege,
  5 not executable, 6 unsafe pidfile, 7 not running; status: 0 running,
  1 stale pidfile, 3 stopped, 4 unknown
"
    )
} else {
    "usage: imp start|restart|run|stop|status|signal -p PIDFILE [OPTIONS] [-- PROGRAM [ARG]...]\n"
};

/// The `--help` line of readiness and `--syslog` (features `ready`, `notify`,
/// `syslog`).
#[cfg(all(feature = "ready", feature = "notify"))]
macro_rules! ready_help {
    () => {
        "  --ready-fd N | --notify, --ready-timeout SECS (30), --wait MS; --syslog\n"
    };
}
#[cfg(all(feature = "ready", not(feature = "notify")))]
macro_rules! ready_help {
    () => {
        "  --ready-fd N --ready-timeout SECS (30) --wait MS (start, restart) --syslog\n"
    };
}
#[cfg(not(feature = "ready"))]
macro_rules! ready_help {
    () => {
        ""
    };
}
use ready_help;

/// The `--help` lines of the supervisor (feature `respawn`).
#[cfg(feature = "respawn")]
macro_rules! respawn_help {
    () => {
        "  --respawn: a supervisor restarts the program; --respawn-delay SECS (1),
    --respawn-delay-max SECS (60), --respawn-max N (10), --respawn-period SECS (60)\n"
    };
}
#[cfg(not(feature = "respawn"))]
macro_rules! respawn_help {
    () => {
        ""
    };
}
use respawn_help;

/// The `--help` line of the `harden` options.
#[cfg(feature = "harden")]
macro_rules! harden_help {
    () => {
        "  --limit RES=SOFT[:HARD] (nofile, nproc, core, as...) --no-new-privs --caps LIST\n"
    };
}
#[cfg(not(feature = "harden"))]
macro_rules! harden_help {
    () => {
        ""
    };
}
use harden_help;

macro_rules! usage_lines {
    () => {
        "\
usage: imp start|restart -p PIDFILE [OPTIONS] -- PROGRAM [ARG]...
       imp stop -p PIDFILE [-s SIG] [-t SECS | -R SCHEDULE] [--no-kill] [--process-group]
       imp status -p PIDFILE [--format text|kv]
       imp signal -p PIDFILE SIGNAL
       imp run [-p PIDFILE] [OPTIONS] -- PROGRAM [ARG]...
"
    };
}
use usage_lines;

/// The `--help` line of `run --init` (feature `init`).
#[cfg(feature = "init")]
macro_rules! init_line {
    () => {
        "  --init (run): stay as PID 1/subreaper, forward signals, reap, exit as the program\n"
    };
}
#[cfg(not(feature = "init"))]
macro_rules! init_line {
    () => {
        ""
    };
}
use init_line;

imp_rt::main!(main);

/// Called by `_start` with the kernel's argv and envp; returns the exit code.
#[inline(always)] // folded into _start: -48 B
fn main(argv: CStrArray, envp: CStrArray) -> i32 {
    imp_core::log::survive_closed_output();
    #[cfg(feature = "ssd")]
    if let Some(first) = ssd_args(argv) {
        return ssd::main(argv, envp, first);
    }
    // Borrowed where it lies: the command is large and is never moved.
    let parsed = args::parse(argv);
    let cmd = match &parsed {
        Ok(c) => c,
        Err(u) => return usage(u),
    };
    #[cfg(feature = "syslog")]
    SYSLOG.store(cmd.syslog(), core::sync::atomic::Ordering::Relaxed);
    // Before the deep paths: `ulimit -s 16` is a message, not a fault (--help and
    // --version have none).
    if !matches!(cmd.action, Action::Help | Action::Version) {
        if let Err(e) = imp_core::spawn::check_stack() {
            return fail(cmd, &e);
        }
    }
    match cmd.action {
        Action::Help => {
            out(HELP.as_bytes());
            code::OK
        }
        Action::Version => {
            out(concat!("imp ", env!("CARGO_PKG_VERSION"), "\n").as_bytes());
            code::OK
        }
        Action::Status => status(cmd),
        Action::Stop => stop(cmd),
        Action::Signal => signal(cmd),
        Action::Start | Action::Run => start(cmd, envp),
        Action::Restart => match stop(cmd) {
            code::OK => start(cmd, envp),
            c => c,
        },
    }
}

/// Where start-stop-daemon's options start when imp is called as `start-stop-daemon`
/// (argv\[0\]'s base name, busybox-style) or as `imp ssd`.
#[cfg(feature = "ssd")]
fn ssd_args(argv: CStrArray) -> Option<usize> {
    let name = argv.get(0)?.to_bytes();
    let base = name.rsplit(|&b| b == b'/').next().unwrap_or(name);
    if base == b"start-stop-daemon" {
        return Some(1);
    }
    (argv.get(1)?.to_bytes() == b"ssd").then_some(2)
}

fn out(bytes: &[u8]) {
    let _ = log::write_all(log::stdout(), bytes);
}

/// Starts a stderr line: `imp: ACTION: `.
fn head(l: &mut Line, action: Action) -> &mut Line {
    l.str("imp: ").str(action.as_str()).str(": ")
}

/// Starts a stderr line about the daemon: `imp: ACTION: PIDFILE: ` (`-n NAME` in
/// place of the pidfile's path).
fn about<'l>(l: &'l mut Line, cmd: &Command) -> &'l mut Line {
    head(l, cmd.action)
        .path(cmd.name.unwrap_or(pidfile(cmd)).to_bytes())
        .str(": ")
}

/// `--syslog`: set once the command line is parsed; every stderr line is then sent to
/// syslog too (ident `imp`: the line names the daemon).
static SYSLOG: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);

/// Ends a stderr line with ` (pid N)` when there is a pid, and writes it.
fn finish(l: &mut Line, pid: Option<u32>) -> &mut Line {
    if let Some(pid) = pid {
        l.str(" (pid ").num(pid).str(")");
    }
    if cfg!(feature = "syslog") && SYSLOG.load(core::sync::atomic::Ordering::Relaxed) {
        to_syslog(l);
    }
    l.emit(log::stderr());
    l
}

/// Sends a message line to syslog, without its `imp: ` (the ident says it).
fn to_syslog(l: &Line) {
    use imp_core::syslog::{Facility, Level, Syslog};
    let b = l.as_bytes();
    Syslog::open(b"imp", Facility::Daemon)
        .send(Level::Notice, b.strip_prefix(b"imp: ").unwrap_or(b));
}

/// `imp: ACTION: PIDFILE: TEXT (pid N)` on stderr (the pid part when there is one).
fn say(cmd: &Command, text: &str, pid: Option<u32>) {
    let mut l = Line::new();
    finish(about(&mut l, cmd).str(text), pid);
}

/// A success line, unless `-q`.
fn note(cmd: &Command, text: &str, pid: Option<u32>) {
    if !cmd.quiet {
        say(cmd, text, pid);
    }
}

/// A pid as a number to print.
fn raw(pid: Pid) -> u32 {
    pid.as_raw_nonzero().get() as u32
}

/// A pid for the ` (pid N)` part of a line.
fn shown(pid: Pid) -> Option<u32> {
    Some(raw(pid))
}

#[inline(never)] // kept out of main: -32 B
fn usage(u: &Usage) -> i32 {
    let mut l = Line::new();
    l.str("imp: usage: ");
    if let Some(o) = u.opt {
        l.str("--").str(o).str(": ");
    }
    l.str(u.what);
    if let Some(a) = u.arg {
        let a = a.to_bytes();
        #[cfg(feature = "harden")]
        let a = u.item.unwrap_or(a);
        l.str(" '").path(a).str("'");
    }
    finish(l.str(" (see 'imp --help')"), None);
    code::USAGE
}

/// The path an error is about, from the command line.
fn subject(cmd: &Command, op: Op) -> Option<&'static CStr> {
    use imp_core::spawn::Stdio;
    let file = |s: Stdio<'static>| match s {
        Stdio::File(p) => Some(p),
        _ => None,
    };
    match op {
        Op::Open | Op::Create | Op::Lock | Op::Read | Op::Write | Op::Remove | Op::Kill => {
            cmd.pidfile
        }
        #[cfg(feature = "ready")]
        Op::Ready | Op::Watch => cmd.name.or(cmd.pidfile),
        Op::Chdir => cmd.chdir,
        Op::Chroot => cmd.chroot,
        Op::Stdout => file(cmd.stdout),
        Op::Stderr => file(cmd.stderr),
        Op::Exec => cmd.program,
        Op::User => cmd.user,
        Op::Group => cmd.group.or(cmd.user),
        _ => None,
    }
}

/// One line for a failure, and its exit code.
fn fail(cmd: &Command, e: &Error) -> i32 {
    let mut l = Line::new();
    // What failed: `kill pid N`, `chdir /x`, `user x` ...
    let (op, cause) = (e.op(), e.cause());
    let what = subject(cmd, op);
    match (cause, e.fd()) {
        // A --keep-fd that is not open is a usage error, reported as one.
        (_, Some(fd)) => {
            l.str("imp: usage: --keep-fd ").num(fd as u32);
        }
        (Cause::Errno(_), None) if op == Op::Kill => {
            about(&mut l, cmd)
                .str("kill pid ")
                .num(e.pid().map_or(0, raw));
        }
        (Cause::Errno(_), None) => {
            head(&mut l, cmd.action).str(op.as_str());
            if let Some(w) = what {
                l.str(" ").path(w.to_bytes());
            }
            #[cfg(feature = "harden")]
            if let Some(r) = e.resource() {
                l.str(" ").str(imp_core::parse::resource_name(r));
            }
        }
        (Cause::Reason(_), None) => {
            head(&mut l, cmd.action);
            if matches!(op, Op::User | Op::Group) {
                l.str(op.as_str()).str(" ");
            }
            match what {
                Some(w) => l.path(w.to_bytes()),
                None => l.str(op.as_str()),
            };
        }
    }
    // Why.
    l.str(": ");
    let mut pid = None;
    match cause {
        Cause::Reason(Reason::Survived) => {
            l.str(if cmd.no_kill && cmd.retry.is_none() {
                "still running after timeout"
            } else {
                "still running after SIGKILL"
            });
            pid = e.pid().map(raw);
        }
        Cause::Reason(r @ (Reason::Owner | Reason::DirOwner | Reason::LinkOwner)) => {
            l.str(r.as_str()).str(" ").num(e.uid().unwrap_or(0));
        }
        Cause::Reason(r @ Reason::HolderMismatch) => {
            l.str(r.as_str()).str(" ").num(e.pid().map_or(0, raw));
        }
        // `exited with status 7 before ready`, `killed by SIGTERM` (after `--wait`).
        #[cfg(feature = "ready")]
        Cause::Reason(r @ (Reason::ExitedWith | Reason::KilledBy | Reason::Gone)) => {
            l.str(r.as_str());
            match (e.status(), e.signal()) {
                (Some(n), _) => l.str(" ").num(n as u32),
                (_, Some(sig)) => signal_word(l.str(" "), sig),
                _ => &mut l,
            };
            if op == Op::Ready {
                l.str(" before ready");
            }
        }
        cause => {
            l.cause(cause);
        }
    }
    finish(&mut l, pid);
    exit_code(cmd.action, e)
}

#[inline(never)] // one copy: -32 B
fn exit_code(action: Action, e: &Error) -> i32 {
    let refusal = e.reason().is_some_and(Reason::is_pidfile_refusal);
    if action == Action::Status {
        return code::STATUS_UNKNOWN;
    }
    if refusal {
        return code::REFUSED;
    }
    match (e.op(), e.cause()) {
        (_, Cause::Reason(Reason::UnknownUser | Reason::UnknownGroup)) => code::USAGE,
        (Op::KeepFd, _) => code::USAGE,
        (Op::Exec, _) => code::NOT_INSTALLED,
        (_, Cause::Errno(imp_core::Errno::PERM | imp_core::Errno::ACCESS)) => code::PRIVILEGE,
        _ => code::FAIL,
    }
}

#[inline(never)] // one copy: -32 B
fn pidfile(cmd: &Command) -> &'static CStr {
    cmd.pidfile.unwrap_or(c"")
}

#[inline(never)] // kept out of main: -112 B
fn status(cmd: &Command) -> i32 {
    // One look at the pidfile: the supervisor's fields are read from the same probe.
    let probe = imp_core::pidfile::probe(pidfile(cmd));
    let (text, kv, code) = match probe.as_ref().map(|p| p.state) {
        Ok(State::Running(pid)) => {
            let mut l = Line::new();
            if cmd.kv() {
                l.str("state=running pid=");
            } else {
                l.str("running (pid ");
            }
            l.num(pid.as_raw_nonzero().get() as u32);
            if !cmd.kv() {
                l.str(")");
            } else {
                #[cfg(feature = "respawn")]
                if let Ok(p) = &probe {
                    supervision(&mut l, p, pid);
                }
            }
            l.emit(log::stdout());
            return code::OK;
        }
        Ok(State::Stale) => (
            "not running (stale pidfile)\n",
            "state=stale\n",
            code::STATUS_STALE,
        ),
        Ok(State::Absent) => ("not running\n", "state=stopped\n", code::STATUS_STOPPED),
        Err(e) => {
            if cmd.kv() {
                out(b"state=unknown\n");
            }
            return fail(cmd, e);
        }
    };
    out(if cmd.kv() { kv } else { text }.as_bytes());
    code
}

/// `status --format kv` of a supervisor: ` supervisor=PID program=PID restarts=N
/// last_exit=status:N|signal:NAME|none uptime=SECS` (`none` between runs).
#[cfg(feature = "respawn")]
fn supervision(l: &mut Line, probe: &imp_core::pidfile::Probe<'_>, pid: Pid) {
    let Some(s) = supervise::supervised(probe) else {
        return;
    };
    let opt = |l: &mut Line, v: Option<u32>| {
        match v {
            Some(n) => l.num(n),
            None => l.str("none"),
        };
    };
    l.str(" supervisor=").num(raw(pid)).str(" program=");
    opt(l, s.program.map(raw));
    l.str(" restarts=").num(s.restarts).str(" last_exit=");
    match s.last_exit {
        Some(supervise::Exit::Status(n)) => l.str("status:").num(n as u32),
        Some(supervise::Exit::Signal(sig)) => {
            l.str("signal:");
            match imp_core::parse::signal_name(sig) {
                Some(name) => l.str(name),
                None => l.num(sig.as_raw() as u32),
            }
        }
        None => l.str("none"),
    };
    l.str(" uptime=");
    opt(l, s.uptime_s.map(|t| t as u32));
}

fn stop(cmd: &Command) -> i32 {
    let p = pidfile(cmd);
    if cmd.dry_run() {
        let mut l = Line::new();
        l.str("would stop the daemon holding ")
            .path(p.to_bytes())
            .emit(log::stdout());
        return code::OK;
    }
    let schedule = cmd.schedule();
    let opts = StopOptions {
        schedule: &schedule,
        process_group: cmd.process_group,
        supervised: cfg!(any(feature = "respawn", feature = "init")),
    };
    match control::stop(p, &opts) {
        Ok(Stopped::Stopped(pid)) => note(cmd, "stopped", shown(pid)),
        Ok(Stopped::NotRunning) => note(cmd, "not running", None),
        Ok(Stopped::Stale(Ok(_))) => note(cmd, "not running (stale pidfile removed)", None),
        Ok(Stopped::Stale(Err(e))) => {
            if !cmd.quiet {
                let mut l = Line::new();
                about(&mut l, cmd).str("not running (stale pidfile, cannot remove: ");
                l.cause(e.cause());
                finish(l.str(")"), None);
            }
        }
        Err(e) => return fail(cmd, &e),
    }
    code::OK
}

#[inline(never)] // kept out of main: -240 B
fn signal(cmd: &Command) -> i32 {
    let Some(sig) = cmd.signal else {
        return code::USAGE;
    };
    match control::signal(pidfile(cmd), sig) {
        Ok(Some(pid)) => {
            if !cmd.quiet {
                let mut l = Line::new();
                about(&mut l, cmd).str("sent SIG");
                match imp_core::parse::signal_name(sig) {
                    Some(name) => l.str(name),
                    // A real-time signal: `SIG40`, by number as it was given.
                    None => l.num(sig.as_raw() as u32),
                };
                finish(&mut l, shown(pid));
            }
            code::OK
        }
        Ok(None) => {
            say(cmd, "not running", None);
            code::NOT_RUNNING
        }
        Err(e) => fail(cmd, &e),
    }
}

/// This program's word that it has one thread.
#[allow(unsafe_code)]
fn one_thread() -> SingleThreaded {
    // SAFETY: this binary is static and libc-free and starts no thread (there is no
    // thread API in it); /proc would say otherwise under qemu-user, which counts its
    // own threads.
    unsafe { SingleThreaded::assume() }
}

/// This program's promise, for `run`, that it uses no fd handle again but 0-2 and the
/// `--keep-fd` ones.
#[allow(unsafe_code)]
fn only_kept_fds() -> OnlyKeptFds {
    // SAFETY: imp owns no fd handle: it opens nothing before `run` but what imp-core
    // opens and closes inside its own calls, and after a failed `run` it writes one
    // line to fd 2 and exits.
    unsafe { OnlyKeptFds::promise() }
}

/// Fills the library's start spec from the command line: user lookups happen here,
/// before anything forks, so an unknown user is a usage error with nothing done.
fn spec<'c>(cmd: &'c Command, s: &mut Spec<'c>) -> Result<(), Error> {
    s.set_env = &cmd.set_env;
    s.clear_env = cmd.clear_env;
    s.pidfile = cmd.pidfile;
    s.chdir = cmd.chdir;
    s.chroot = cmd.chroot;
    s.umask = cmd.umask;
    s.nice = cmd.nice;
    s.stdout = cmd.stdout;
    s.stderr = cmd.stderr;
    s.single_threaded(one_thread());
    s.keep_fds = &cmd.keep_fds;
    #[cfg(feature = "harden")]
    {
        s.limits = &cmd.limits;
        s.no_new_privs = cmd.no_new_privs;
        s.caps = cmd.caps;
    }
    Credentials::resolve(
        cmd.user.map(CStr::to_bytes),
        cmd.group.map(CStr::to_bytes),
        &mut s.credentials,
    )
}

#[inline(never)] // kept out of start: -32 B
fn dry_run(cmd: &Command, s: &Spec<'_>) -> i32 {
    let mut l = Line::new();
    let line = |l: &mut Line, a: &str, b: &[u8]| {
        l.str("would ").str(a).push(b).emit(log::stdout());
    };
    if cmd.action == Action::Restart {
        line(&mut l, "stop the daemon holding ", pidfile(cmd).to_bytes());
    }
    if cmd.action != Action::Run {
        line(&mut l, "detach: fork, setsid, fork; stdin ", b"/dev/null");
    }
    if let Some(p) = s.pidfile {
        line(&mut l, "lock and write pidfile ", p.to_bytes());
    }
    if let Some(r) = s.chroot {
        line(&mut l, "chroot ", r.to_bytes());
    }
    line(
        &mut l,
        "chdir ",
        s.chdir
            .unwrap_or(if cmd.action == Action::Run {
                c"."
            } else {
                c"/"
            })
            .to_bytes(),
    );
    #[cfg(feature = "harden")]
    dry_run_limits(&mut l, s);
    if let Some(c) = &s.credentials {
        l.str("would drop to uid ")
            .num(c.user.uid)
            .str(" gid ")
            .num(c.gid)
            .str(" groups");
        for g in &c.groups {
            l.str(" ").num(*g);
        }
        l.emit(log::stdout());
    }
    #[cfg(feature = "harden")]
    dry_run_caps(&mut l, s);
    line(&mut l, "exec ", s.program.to_bytes());
    code::OK
}

/// `run --init`: the program's status (128 + N for signal N), or a failure's code.
#[inline(never)] // kept out of start: -144 B
#[cfg(feature = "init")]
fn init(cmd: &Command, s: &Spec<'_>) -> i32 {
    let schedule = cmd.schedule();
    let policy = supervise::Policy::init(&schedule, cmd.process_group);
    let log = supervise::Log {
        name: b"",
        syslog: false,
        relay: [false; 2],
    };
    match supervise::run(s, &policy, &log, only_kept_fds()) {
        Ok(status) => status,
        Err(e) => run_failed(cmd, &e),
    }
}

/// `--dry-run`'s line per `--limit`: `would set rlimit nofile 1024 4096`.
#[cfg(feature = "harden")]
#[inline(never)] // kept out of dry_run (measured with args::harden: -80 B together)
fn dry_run_limits(l: &mut Line, s: &Spec<'_>) {
    for &(r, lim) in s.limits {
        l.str("would set rlimit ")
            .str(imp_core::parse::resource_name(r));
        for v in [lim.current, lim.maximum] {
            match v {
                Some(n) => l.str(" ").num64(n),
                None => l.str(" unlimited"),
            };
        }
        l.emit(log::stdout());
    }
}

/// `--dry-run`'s lines for `--caps` (after the drop) and `--no-new-privs`.
#[cfg(feature = "harden")]
#[inline(never)] // kept out of dry_run (measured with args::harden: -80 B together)
fn dry_run_caps(l: &mut Line, s: &Spec<'_>) {
    if let Some(caps) = s.caps {
        l.str("would keep only capabilities");
        let mut sep = " ";
        for n in 0..64 {
            if caps.has(n) {
                l.str(sep);
                match imp_core::parse::cap_name(n) {
                    Some(name) => l.str(name),
                    None => l.num(n),
                };
                sep = ",";
            }
        }
        l.emit(log::stdout());
    }
    if s.no_new_privs {
        l.str("would set no_new_privs").emit(log::stdout());
    }
}

/// `SIGNAME`, or `SIG40` for a signal without a name.
#[cfg(feature = "ready")]
fn signal_word(l: &mut Line, sig: imp_core::Signal) -> &mut Line {
    l.str("SIG");
    match imp_core::parse::signal_name(sig) {
        Some(name) => l.str(name),
        None => l.num(sig.as_raw() as u32),
    }
}

/// `start`, `restart` (after the stop) and `run`.
fn start(cmd: &Command, envp: CStrArray) -> i32 {
    // What `--notify` adds to the spec (made before the spec that borrows it): the
    // socket, and NOTIFY_SOCKET after the `-e` settings (fd N is among the kept fds).
    #[cfg(feature = "notify")]
    let mut var = [0u8; 64];
    #[cfg(feature = "notify")]
    let notify = cmd.notify.then(|| spawn::notify_socket(&mut var));
    #[cfg(feature = "notify")]
    let notify = match notify.transpose() {
        Ok(notify) => notify,
        Err(e) => return fail(cmd, &e),
    };
    #[cfg(all(feature = "ready", not(feature = "notify")))]
    let notify: Notify<'_> = None;
    let mut s = Spec::new(cmd.program.unwrap_or(c""), cmd.argv, envp);
    if let Err(e) = spec(cmd, &mut s) {
        return fail(cmd, &e);
    }
    if cmd.dry_run() {
        return dry_run(cmd, &s);
    }
    #[cfg(feature = "init")]
    if cmd.init() {
        return init(cmd, &s);
    }
    #[cfg(feature = "respawn")]
    if cmd.respawn() {
        let policy = &supervise::Policy::respawn(cmd.respawn_policy);
        let log = supervise::Log {
            name: name_of(cmd),
            syslog: cmd.syslog(),
            relay: cmd.relay,
        };
        if cmd.action == Action::Run {
            return match supervise::run(&s, policy, &log, only_kept_fds()) {
                Ok(status) => status,
                Err(e) => run_failed(cmd, &e),
            };
        }
        #[cfg(feature = "ready")]
        if cmd.ready() {
            let sv = |s: &Spec<'_>| supervise::start(s, policy, &log);
            return ready_start(cmd, &mut s, &notify, &sv);
        }
        return started(cmd, supervise::start(&s, policy, &log));
    }
    if cmd.action == Action::Run {
        return run_failed(cmd, &spawn::run(&s, only_kept_fds()));
    }
    #[cfg(feature = "ready")]
    if cmd.ready() {
        return ready_start(cmd, &mut s, &notify, &spawn::start);
    }
    started(cmd, spawn::start(&s))
}

/// `--notify`'s socket and its `NOTIFY_SOCKET=...` line.
#[cfg(feature = "ready")]
type Notify<'v> = Option<(imp_core::OwnedFd, &'v CStr)>;

/// A socket as the borrowed fd `Ready::notify` takes.
#[cfg(feature = "notify")]
fn rustix_as_fd(fd: &imp_core::OwnedFd) -> imp_core::BorrowedFd<'_> {
    imp_core::AsFd::as_fd(fd)
}

/// `--ready-fd` (kept, as fd N of the program), `--notify` or `--wait`: `start` under
/// the readiness wait, a failure stopped with the stop options.
#[cfg(feature = "ready")]
#[inline(never)] // one copy for the plain start and the supervisor's (`dyn`): -560 B, -48 B without respawn
fn ready_start<'a>(
    cmd: &Command,
    s: &mut Spec<'a>,
    notify: &'a Notify<'a>,
    start: &dyn Fn(&Spec<'_>) -> Result<Started, Error>,
) -> i32 {
    #[cfg(feature = "notify")]
    {
        s.notify_env = notify.as_ref().map(|(_, var)| *var);
    }
    let schedule = cmd.schedule();
    let ready = spawn::Ready {
        fd: cmd.ready.fd,
        #[cfg(feature = "notify")]
        notify: notify.as_ref().map(|(socket, _)| rustix_as_fd(socket)),
        timeout_ms: cmd.ready.timeout_ms,
        wait_ms: cmd.ready.wait_ms,
        stop: &schedule,
    };
    #[cfg(not(feature = "notify"))]
    let _ = notify;
    started(cmd, spawn::start_ready_by(s, &ready, start))
}

/// A `run` that did not get to exec (or to supervise).
fn run_failed(cmd: &Command, e: &Error) -> i32 {
    if e.reason() == Some(Reason::AlreadyRunning) {
        say(cmd, "already running", e.pid().map(raw));
        return code::FAIL;
    }
    fail(cmd, e)
}

/// The name in the supervisor's lines and its syslog ident: `--name`, else the
/// program's base name.
#[cfg(feature = "respawn")]
fn name_of(cmd: &Command) -> &'static [u8] {
    if let Some(n) = cmd.name {
        return n.to_bytes();
    }
    let p = cmd.program.unwrap_or(c"").to_bytes();
    match p.iter().rposition(|&b| b == b'/') {
        Some(i) => &p[i + 1..],
        None => p,
    }
}

/// Reports a start's outcome.
fn started(cmd: &Command, r: Result<Started, Error>) -> i32 {
    match r {
        Ok(Started::Started(pid)) => note(cmd, "started", shown(pid)),
        Ok(Started::AlreadyRunning(pid)) => note(cmd, "already running", shown(pid)),
        Err(e) => return fail(cmd, &e),
    }
    code::OK
}
