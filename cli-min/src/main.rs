//! `imp`: start, stop, restart, status, signal and run daemons through locked pidfiles.
//!
//! A static, libc-free binary. This file parses (see `args`), calls one imp-core
//! function, and turns its result into one line and an LSB exit code. It implements
//! no mechanism itself.
#![cfg_attr(target_arch = "mips", feature(asm_experimental_arch))]
#![no_std]
#![no_main]

mod args;
mod rt;

use args::{Action, Command, Usage};
use core::ffi::CStr;
use imp_core::control::{self, StopOptions, Stopped};
use imp_core::error::{errno_name, Reason};
use imp_core::log::Line;
use imp_core::pidfile::State;
use imp_core::spawn::{self, Credentials, Spec, Started};
use imp_core::{CStrArray, Error, Op, Pid};

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

const HELP: &str = "\
usage: imp start|restart -p PIDFILE [OPTIONS] -- PROGRAM [ARG]...
       imp stop -p PIDFILE [-s SIG] [-t SECS | -R SCHEDULE] [--no-kill] [--process-group]
       imp status -p PIDFILE [--format text|kv]
       imp signal -p PIDFILE SIGNAL
       imp run [-p PIDFILE] [OPTIONS] -- PROGRAM [ARG]...
options: -u/--user USER[:GROUP] -g/--group GROUP -d/--chdir DIR (/) -r/--chroot DIR
  -m/--umask OCTAL (022) -o/--output FILE --stdout FILE --stderr FILE (/dev/null)
  -k/--keep-fd N -e/--env NAME=VALUE --clear-env -N/--nice N -n/--name NAME
  --dry-run -q/--quiet -v/--verbose
stop: -s TERM, then -t 10 s, then KILL and 5 s; -R as dpkg: TERM/30/KILL/5
exit: 0 ok/already running/not running, 1 failed, 2 usage, 4 no privilege,
  5 not executable, 6 unsafe pidfile, 7 not running; status: 0 running,
  1 stale pidfile, 3 stopped, 4 unknown
";

/// Called by `_start` with the kernel's argv and envp; returns the exit code.
fn main(argv: CStrArray, envp: CStrArray) -> i32 {
    let cmd = match args::parse(argv) {
        Ok(c) => c,
        Err(u) => return usage(u),
    };
    match cmd.action {
        Action::Help => {
            out(HELP.as_bytes());
            code::OK
        }
        Action::Version => {
            out(concat!("imp ", env!("CARGO_PKG_VERSION"), "\n").as_bytes());
            code::OK
        }
        Action::Status => status(&cmd),
        Action::Stop => stop(&cmd),
        Action::Signal => signal(&cmd),
        Action::Start => start(&cmd, envp),
        Action::Restart => match stop(&cmd) {
            code::OK => start(&cmd, envp),
            c => c,
        },
        Action::Run => run(&cmd, envp),
    }
}

fn out(bytes: &[u8]) {
    let _ = imp_core::fd::write_all(imp_core::log::stdout(), bytes);
}

/// `imp: ACTION: ` on a new line.
fn head(action: Action) -> Line {
    let mut l = Line::new();
    l.str("imp: ").str(action.as_str()).str(": ");
    l
}

fn emit(mut l: Line) {
    l.emit(imp_core::log::stderr());
}

fn usage(u: Usage) -> i32 {
    let mut l = Line::new();
    l.str("imp: usage: ");
    if let Some(o) = u.opt {
        l.str("--").str(o).str(": ");
    }
    l.str(u.what);
    if let Some(a) = u.arg {
        l.str(" '").push(a.to_bytes()).str("'");
    }
    l.str(" (see 'imp --help')");
    emit(l);
    code::USAGE
}

/// A success line, unless `-q`.
fn note(cmd: &Command, what: &CStr, text: &str, pid: Option<Pid>) {
    if cmd.quiet {
        return;
    }
    let mut l = head(cmd.action);
    l.push(what.to_bytes()).str(": ").str(text);
    if let Some(p) = pid {
        l.str(" (pid ")
            .num(p.as_raw_nonzero().get() as u32)
            .str(")");
    }
    emit(l);
}

fn errno_text(l: &mut Line, e: imp_core::Errno) {
    let (name, text) = errno_name(e);
    l.str(text).str(" (").str(name);
    if name == "E?" {
        l.str(" ").num(e.raw_os_error() as u32);
    }
    l.str(")");
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
        Op::Chdir => cmd.chdir,
        Op::Chroot => cmd.chroot,
        Op::Stdout => file(cmd.stdout),
        Op::Stderr => file(cmd.stderr),
        Op::Exec => cmd.program,
        Op::User => cmd.user,
        Op::Group => cmd.group.or(cmd.user),
        Op::DevNull => Some(c"/dev/null"),
        _ => None,
    }
}

/// One line for a failure, and its exit code.
fn fail(cmd: &Command, e: Error) -> i32 {
    let mut l = head(cmd.action);
    let what = subject(cmd, e.op);
    match e.cause {
        imp_core::Cause::Reason(r) => {
            if matches!(e.op, Op::User | Op::Group) {
                l.str(e.op.as_str()).str(" ");
            }
            if let Some(w) = what {
                l.push(w.to_bytes()).str(": ");
            } else {
                l.str(e.op.as_str()).str(": ");
            }
            match r {
                Reason::Survived => {
                    l.str(if cmd.no_kill && cmd.retry.is_none() {
                        "still running after timeout"
                    } else {
                        "still running after SIGKILL"
                    });
                    l.str(" (pid ").num(e.id).str(")");
                }
                Reason::Owner | Reason::DirOwner | Reason::ReadLocked | Reason::HolderMismatch => {
                    l.str(r.as_str()).str(" ").num(e.id);
                }
                _ => {
                    l.str(r.as_str());
                }
            }
        }
        imp_core::Cause::Errno(n) => {
            if e.op == Op::Kill {
                l.push(pidfile(cmd).to_bytes()).str(": kill pid ").num(e.id);
            } else {
                l.str(e.op.as_str());
                if let Some(w) = what {
                    l.str(" ").push(w.to_bytes());
                }
            }
            l.str(": ");
            errno_text(&mut l, n);
        }
    }
    emit(l);
    exit_code(cmd.action, e)
}

fn exit_code(action: Action, e: Error) -> i32 {
    let refusal = e.reason_of().is_some_and(Reason::is_pidfile_refusal);
    if action == Action::Status {
        return code::STATUS_UNKNOWN;
    }
    if refusal {
        return code::REFUSED;
    }
    match (e.op, e.cause) {
        (_, imp_core::Cause::Reason(Reason::UnknownUser | Reason::UnknownGroup)) => code::USAGE,
        (Op::KeepFd, _) => code::USAGE,
        (Op::Exec, _) => code::NOT_INSTALLED,
        (_, imp_core::Cause::Errno(imp_core::Errno::PERM)) => code::PRIVILEGE,
        _ => code::FAIL,
    }
}

fn pidfile(cmd: &Command) -> &'static CStr {
    cmd.pidfile.unwrap_or(c"")
}

#[inline(never)]
fn status(cmd: &Command) -> i32 {
    let (text, kv, code) = match control::status(pidfile(cmd)) {
        Ok(State::Running(pid)) => {
            let mut l = Line::new();
            if cmd.kv {
                l.str("state=running pid=");
            } else {
                l.str("running (pid ");
            }
            l.num(pid.as_raw_nonzero().get() as u32);
            if !cmd.kv {
                l.str(")");
            }
            l.emit(imp_core::log::stdout());
            return code::OK;
        }
        Ok(State::Stale) => (
            "not running (stale pidfile)\n",
            "state=stale\n",
            code::STATUS_STALE,
        ),
        Ok(State::Absent) => ("not running\n", "state=stopped\n", code::STATUS_STOPPED),
        Err(e) => {
            if cmd.kv {
                out(b"state=unknown\n");
            }
            return fail(cmd, e);
        }
    };
    out(if cmd.kv { kv } else { text }.as_bytes());
    code
}

fn stop(cmd: &Command) -> i32 {
    let p = pidfile(cmd);
    if cmd.dry_run {
        let mut l = Line::new();
        l.str("would stop the daemon holding ")
            .push(p.to_bytes())
            .emit(imp_core::log::stdout());
        return code::OK;
    }
    let opts = StopOptions {
        schedule: cmd.schedule(),
        process_group: cmd.process_group,
    };
    match control::stop(p, &opts) {
        Ok(Stopped::Stopped(pid)) => note(cmd, p, "stopped", Some(pid)),
        Ok(Stopped::NotRunning) => note(cmd, p, "not running", None),
        Ok(Stopped::Stale(Ok(_))) => note(cmd, p, "not running (stale pidfile removed)", None),
        Ok(Stopped::Stale(Err(e))) => {
            if !cmd.quiet {
                let mut l = head(cmd.action);
                l.push(p.to_bytes())
                    .str(": not running (stale pidfile, cannot remove: ");
                match e.cause {
                    imp_core::Cause::Errno(n) => errno_text(&mut l, n),
                    imp_core::Cause::Reason(r) => {
                        l.str(r.as_str());
                    }
                }
                l.str(")");
                emit(l);
            }
        }
        Err(e) => return fail(cmd, e),
    }
    code::OK
}

#[inline(never)]
fn signal(cmd: &Command) -> i32 {
    let p = pidfile(cmd);
    let Some(sig) = cmd.signal else {
        return code::USAGE;
    };
    match control::signal(p, sig) {
        Ok(Some(pid)) => {
            if !cmd.quiet {
                let mut l = head(cmd.action);
                l.push(p.to_bytes())
                    .str(": sent SIG")
                    .str(imp_core::parse::signal_name(sig).unwrap_or("?"));
                l.str(" (pid ")
                    .num(pid.as_raw_nonzero().get() as u32)
                    .str(")");
                emit(l);
            }
            code::OK
        }
        Ok(None) => {
            let mut l = head(cmd.action);
            l.push(p.to_bytes()).str(": not running");
            emit(l);
            code::NOT_RUNNING
        }
        Err(e) => fail(cmd, e),
    }
}

/// Builds the library's start spec from the command line: user lookups happen here,
/// before anything forks, so an unknown user is a usage error with nothing done.
fn spec(cmd: &Command, envp: CStrArray) -> Result<Spec<'_>, Error> {
    let program = cmd.program.unwrap_or(c"");
    let mut s = Spec::new(program, cmd.argv, envp);
    s.set_env = &cmd.set_env;
    s.clear_env = cmd.clear_env;
    s.pidfile = cmd.pidfile;
    s.chdir = cmd.chdir;
    s.chroot = cmd.chroot;
    s.umask = cmd.umask;
    s.nice = cmd.nice;
    s.stdout = cmd.stdout;
    s.stderr = cmd.stderr;
    s.keep_fds = &cmd.keep_fds;
    for &fd in &cmd.keep_fds {
        imp_core::fd::check_open(fd)?;
    }
    Credentials::resolve(
        cmd.user.map(CStr::to_bytes),
        cmd.group.map(CStr::to_bytes),
        &mut s.credentials,
    )?;
    Ok(s)
}

fn dry_run(cmd: &Command, s: &Spec<'_>) -> i32 {
    let mut l = Line::new();
    let line = |l: &mut Line, a: &str, b: &[u8]| {
        l.str("would ").str(a).push(b).emit(imp_core::log::stdout());
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
    if let Some(c) = &s.credentials {
        l.str("would drop to uid ")
            .num(c.user.uid)
            .str(" gid ")
            .num(c.gid)
            .str(" groups");
        for g in &c.groups {
            l.str(" ").num(*g);
        }
        l.emit(imp_core::log::stdout());
    }
    line(&mut l, "exec ", s.program.to_bytes());
    code::OK
}

fn start(cmd: &Command, envp: CStrArray) -> i32 {
    let s = match spec(cmd, envp) {
        Ok(s) => s,
        Err(e) => return fail(cmd, e),
    };
    if cmd.dry_run {
        return dry_run(cmd, &s);
    }
    let p = pidfile(cmd);
    match spawn::start(&s) {
        Ok(Started::Started(pid)) => note(cmd, p, "started", Some(pid)),
        Ok(Started::AlreadyRunning(pid)) => note(cmd, p, "already running", Some(pid)),
        Err(e) => return fail(cmd, e),
    }
    code::OK
}

fn run(cmd: &Command, envp: CStrArray) -> i32 {
    let s = match spec(cmd, envp) {
        Ok(s) => s,
        Err(e) => return fail(cmd, e),
    };
    if cmd.dry_run {
        return dry_run(cmd, &s);
    }
    match spawn::run(&s) {
        e if e.reason_of() == Some(Reason::AlreadyRunning) => {
            let mut l = head(cmd.action);
            l.push(pidfile(cmd).to_bytes())
                .str(": already running (pid ")
                .num(e.id)
                .str(")");
            emit(l);
            code::FAIL
        }
        e => fail(cmd, e),
    }
}
