//! Supervision (`--respawn`): one process in front of the program that holds the
//! pidfile, restarts the program when it exits and stops it when told (SPEC §5).
//!
//! The supervisor takes the pidfile (the pidfile names it), makes itself a subreaper
//! (`PR_SET_CHILD_SUBREAPER`: orphans of the program reparent to it and it reaps them),
//! keeps every signal blocked and takes the ones it acts on synchronously
//! (`sigtimedwait`; no handler), and forks the program, which arms
//! `PR_SET_PDEATHSIG(SIGKILL)` and checks its parent is still the supervisor (the
//! supervisor could have died before the `prctl`) before the steps and `execve`:
//! a supervisor killed with SIGKILL takes its program with it. HUP, INT, QUIT, USR1,
//! USR2, WINCH and CONT are forwarded to the program; TERM is forwarded and ends the
//! supervision once the program is gone. An exit is logged (status or signal) and
//! followed by a restart after the backoff delay ([`Respawn`]); too many short runs in
//! a row end the supervision. A fork that fails is retried every second. Nothing is
//! allocated and nothing opened per restart but one close-on-exec pipe that tells
//! whether the child reached `execve`.
//!
//! The supervisor publishes the program's pid, its restarts, how the last run ended
//! and when the current one started in the pidfile's lock table ([`Field`]): `status`
//! and `stop` read them with `F_OFD_GETLK`, without `/proc` ([`supervised`]).
//!
//! # References
//! - [prctl(2)](https://man7.org/linux/man-pages/man2/prctl.2.html)
//!   (`PR_SET_CHILD_SUBREAPER`, `PR_SET_PDEATHSIG`)
//! - s6-supervise(8), procd's `respawn` (threshold, timeout, retry)

use crate::error::{Context, Error, Op, Reason};
use crate::log::Line;
use crate::pidfile::{Field, Lock, Probe, State};
use crate::signal::Signal;
use crate::signals::{SignalSet, Signals};
use crate::spawn::report::{self, Record};
use crate::spawn::steps::{self, Mode};
use crate::spawn::{self, PidfileAt, Spec, Started};
use crate::sys::{self, Fork, OnlyKeptFds, SingleThreaded};
use crate::syslog::{Facility, Level, Syslog};
use rustix::fd::OwnedFd;
use rustix::io::Errno;
use rustix::process::{Pid, WaitOptions, WaitStatus};

/// When and how often to restart (SPEC §2: `--respawn-delay`, `--respawn-delay-max`,
/// `--respawn-max`, `--respawn-period`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Respawn {
    /// The delay before the first restart after a short run (ms).
    pub delay_ms: u32,
    /// The longest delay: each short run in a row doubles it up to this (ms).
    pub delay_max_ms: u32,
    /// Give up after this many runs in a row shorter than `period_ms` (0: never).
    pub max: u32,
    /// A run at least this long (ms) is not short: it resets the delay and the count.
    pub period_ms: u32,
}

impl Respawn {
    /// SPEC's defaults: 1 s doubling up to 60 s; give up after 10 runs shorter than
    /// 60 s.
    pub const DEFAULT: Respawn = Respawn {
        delay_ms: 1000,
        delay_max_ms: 60_000,
        max: 10,
        period_ms: 60_000,
    };
}

/// Where the supervisor tells of exits and restarts: its stderr (the program's, as
/// `--stderr` or `--output` set it) and, with `syslog`, the local syslog.
#[derive(Clone, Copy, Debug)]
pub struct Log<'a> {
    /// The name in each line and the syslog ident (`--name`, else the program's).
    pub name: &'a [u8],
    /// Also send each line to syslog (`--syslog`).
    pub syslog: bool,
}

/// How a run of the program ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// It exited with this status.
    Status(u8),
    /// This signal killed it.
    Signal(Signal),
}

impl Exit {
    fn of(st: WaitStatus) -> Exit {
        match st
            .terminating_signal()
            .and_then(|n| Signal::from_raw(n as i32))
        {
            Some(sig) => Exit::Signal(sig),
            None => Exit::Status(st.exit_status().unwrap_or(0) as u8),
        }
    }

    /// As published in [`Field::LastExit`]: the status, or 256 + the signal.
    const fn code(self) -> u64 {
        match self {
            Exit::Status(n) => n as u64,
            Exit::Signal(s) => 256 + s.as_raw() as u64,
        }
    }

    const fn from_code(c: u64) -> Option<Exit> {
        if c < 256 {
            return Some(Exit::Status(c as u8));
        }
        match Signal::from_raw((c - 256) as i32) {
            Some(s) => Some(Exit::Signal(s)),
            None => None,
        }
    }
}

/// What a supervisor says of its program ([`supervised`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Supervised {
    /// The program's pid; `None` between runs (a backoff delay).
    pub program: Option<Pid>,
    /// How many times it was restarted.
    pub restarts: u32,
    /// How its last run ended, once one did.
    pub last_exit: Option<Exit>,
    /// How long the current run has lasted (s).
    pub uptime_s: Option<u64>,
}

/// What the supervisor holding `probe`'s pidfile publishes; `None` when the holder is
/// not a supervisor (or the pidfile is not locked).
pub fn supervised(probe: &Probe<'_>) -> Option<Supervised> {
    let State::Running(_) = probe.state else {
        return None;
    };
    let restarts = probe.published(Field::Restarts)?;
    let now = sys::monotonic_ns() / NS_PER_S;
    Some(Supervised {
        program: probe
            .published(Field::Program)
            .and_then(|p| Pid::from_raw(p as i32)),
        restarts: restarts as u32,
        last_exit: probe.published(Field::LastExit).and_then(Exit::from_code),
        uptime_s: probe
            .published(Field::Started)
            .map(|t| now.saturating_sub(t)),
    })
}

const NS_PER_S: u64 = 1_000_000_000;
const NS_PER_MS: u64 = 1_000_000;

/// How long a fork that failed (`EAGAIN`: out of processes) waits before the next try.
const FORK_RETRY_MS: u32 = 1000;

/// The signals the supervisor acts on: the forwarded ones, TERM and CHLD.
const WATCHED: SignalSet = SignalSet::of(&[
    Signal::Hup,
    Signal::Int,
    Signal::Quit,
    Signal::Usr1,
    Signal::Usr2,
    Signal::Winch,
    Signal::Cont,
    Signal::Term,
    Signal::Child,
]);

/// Starts `spec` under a detached supervisor: returns once the program was exec'd
/// (the pidfile, locked by the supervisor, names the supervisor), or with the first
/// error of the supervisor's steps or of the program's (as [`spawn::start`]).
pub fn start(spec: &Spec<'_>, respawn: &Respawn, log: &Log<'_>) -> Result<Started, Error> {
    spawn::start_with(spec, true, &|pidfile, wr, fds, one_thread| {
        let lock = match take(spec, pidfile, Mode::Detached(wr), fds) {
            Ok(lock) => lock,
            Err(e) => return e,
        };
        let mut s = Supervisor::new(spec, respawn, log, lock, pidfile, &one_thread, true);
        match s.run(Some(wr)) {
            Ok(status) => sys::exit(status),
            // Reported by the caller, through the pipe.
            Err(e) => e,
        }
    })
}

/// Supervises `spec` in this process (`run --respawn`): the pidfile (if any) names
/// this process. Returns the supervision's exit status (0 when stopped by SIGTERM, 1
/// when it gave up), or the first error before the program's first `execve`.
///
/// `fds` is the program's promise that it uses no fd but 0-2 and the kept ones again.
pub fn run(
    spec: &Spec<'_>,
    respawn: &Respawn,
    log: &Log<'_>,
    fds: OnlyKeptFds,
) -> Result<i32, Error> {
    let pf = spawn::prepare(spec)?;
    let pidfile = spawn::at(&pf);
    let lock = take(spec, pidfile, Mode::InPlace, &fds)?;
    let checked;
    let one_thread = match spec.single_threaded_proof() {
        Some(proof) => proof,
        None => {
            checked = SingleThreaded::check().ok_or(Error::check(Op::Threads, Reason::Threaded))?;
            &checked
        }
    };
    Supervisor::new(spec, respawn, log, lock, pidfile, one_thread, false).run(None)
}

/// The supervisor's own steps: fds closed, signals blocked, the pidfile locked and
/// written, stdio set up (the program inherits it).
fn take(
    spec: &Spec<'_>,
    pidfile: PidfileAt<'_>,
    mode: Mode<'_>,
    fds: &OnlyKeptFds,
) -> Result<Option<Lock>, Error> {
    steps::close_inherited_fds(spec, pidfile, mode, fds);
    steps::quiet_signals()?;
    let lock = steps::take_pidfile(spec, pidfile, mode)?;
    let id = lock.as_ref().map(Lock::file_id).transpose();
    if let Err(e) = id.and_then(|id| steps::setup_stdio(spec, mode, id)) {
        if let (Some(lock), Some((dir, base))) = (lock, pidfile) {
            let _ = lock.remove(dir, base);
        }
        return Err(e);
    }
    rustix::process::set_child_subreaper(Some(rustix::process::getpid())).op(Op::Supervise)?;
    Ok(lock)
}

/// The supervisor's state.
struct Supervisor<'s, 'p> {
    spec: &'s Spec<'s>,
    respawn: &'s Respawn,
    log: &'s Log<'s>,
    syslog: Option<Syslog<'s>>,
    lock: Option<Lock>,
    pidfile: PidfileAt<'p>,
    one_thread: &'p SingleThreaded,
    /// Detached (`start`): the program's cwd is `/` unless set.
    detached: bool,
    /// The program's pid and when it started (monotonic ns).
    child: Option<(Pid, u64)>,
    restarts: u32,
    /// Runs shorter than the period, in a row.
    short: u32,
    /// The next delay (ms).
    delay_ms: u32,
    /// The delay being waited out (ms).
    waiting_ms: u32,
    /// When to start the program next (monotonic ns).
    next_ns: u64,
    stopping: bool,
    /// What is published in each [`Field`] (its index - 1).
    published: [Option<u64>; 4],
}

impl<'s, 'p> Supervisor<'s, 'p> {
    fn new(
        spec: &'s Spec<'s>,
        respawn: &'s Respawn,
        log: &'s Log<'s>,
        lock: Option<Lock>,
        pidfile: PidfileAt<'p>,
        one_thread: &'p SingleThreaded,
        detached: bool,
    ) -> Self {
        Supervisor {
            spec,
            respawn,
            log,
            syslog: log.syslog.then(|| Syslog::open(log.name, Facility::Daemon)),
            lock,
            pidfile,
            one_thread,
            detached,
            child: None,
            restarts: 0,
            short: 0,
            delay_ms: respawn.delay_ms,
            waiting_ms: 0,
            next_ns: 0,
            stopping: false,
            published: [None; 4],
        }
    }

    /// Publishes `value` in `f`.
    fn publish(&mut self, f: Field, value: Option<u64>) {
        let slot = &mut self.published[f as usize - 1];
        if let Some(lock) = &self.lock {
            if *slot != value {
                lock.publish(f, *slot, value);
            }
        }
        *slot = value;
    }

    /// Supervises until stopped or given up; the first spawn's outcome goes to
    /// `report` (the caller of [`start`]), which is closed after it.
    fn run(&mut self, report: Option<&OwnedFd>) -> Result<i32, Error> {
        let signals = Signals::block(WATCHED)?;
        self.publish(Field::Restarts, Some(0));
        // The first run: its failure is the start's (the caller reports it).
        if let Err(e) = self.spawn() {
            self.release();
            return Err(e);
        }
        // The start returns (the pipe stays open, unused: close-on-exec, the children
        // do not have it).
        if let Some(wr) = report {
            report::send(wr, Record::Ready);
        }
        let status = loop {
            let now = sys::monotonic_ns();
            if self.child.is_none() {
                if self.stopping {
                    break 0;
                }
                if now >= self.next_ns {
                    self.restart();
                    continue;
                }
            }
            let timeout = match self.child {
                Some(_) => None,
                None => Some(((self.next_ns - now) / NS_PER_MS + 1) as u32),
            };
            match signals.wait(timeout) {
                Some(Signal::Child) => {
                    if let Some(status) = self.reap() {
                        break status;
                    }
                }
                Some(Signal::Term) => {
                    self.stopping = true;
                    self.forward(Signal::Term);
                    self.forward(Signal::Cont);
                }
                Some(sig) => self.forward(sig),
                None => {}
            }
        };
        self.release();
        Ok(status)
    }

    /// A restart after the delay: logged; a failure (the program gone, a fork out of
    /// processes) counts as a short run.
    fn restart(&mut self) {
        self.restarts += 1;
        self.publish(Field::Restarts, Some(self.restarts as u64));
        match self.spawn() {
            Ok(pid) => {
                let mut l = self.line();
                l.str("restarted (pid ")
                    .num(pid.as_raw_nonzero().get() as u32)
                    .str(", restart ")
                    .num(self.restarts)
                    .str(")");
                self.say(Level::Info, &mut l);
            }
            Err(e) => {
                let mut l = self.line();
                l.str("restart failed: ").error(&e);
                self.say(Level::Err, &mut l);
                let retry = e.cause() == crate::Cause::Errno(Errno::AGAIN) && e.op() == Op::Fork;
                if retry {
                    self.next_ns = sys::monotonic_ns() + FORK_RETRY_MS as u64 * NS_PER_MS;
                } else {
                    self.schedule(0);
                }
            }
        }
    }

    /// Forks the program; its pid once it reached `execve`.
    fn spawn(&mut self) -> Result<Pid, Error> {
        let me = rustix::process::getpid();
        let (rd, wr) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).op(Op::Pipe)?;
        let pid = match sys::fork(self.one_thread).op(Op::Fork)? {
            Fork::Child(..) => {
                drop(rd);
                child(self.spec, &wr, self.detached, me)
            }
            Fork::Parent(pid) => pid,
        };
        drop(wr);
        report::read_exec(&rd)?;
        let now = sys::monotonic_ns();
        self.child = Some((pid, now));
        self.publish(Field::Program, Some(pid.as_raw_nonzero().get() as u64));
        self.publish(Field::Started, Some(now / NS_PER_S));
        Ok(pid)
    }

    /// Reaps every child that exited (orphans of the program included); the
    /// supervision's exit status once it ends.
    fn reap(&mut self) -> Option<i32> {
        while let Ok(Some((pid, st))) = rustix::process::wait(WaitOptions::NOHANG) {
            let Some((child, since)) = self.child else {
                continue;
            };
            if pid != child {
                continue;
            }
            self.child = None;
            let exit = Exit::of(st);
            self.publish(Field::Program, None);
            self.publish(Field::Started, None);
            self.publish(Field::LastExit, Some(exit.code()));
            let mut l = self.line();
            match exit {
                Exit::Status(n) => l.str("exited with status ").num(n as u32),
                Exit::Signal(s) => {
                    l.str("killed by SIG");
                    match crate::parse::signal_name(s) {
                        Some(name) => l.str(name),
                        None => l.num(s.as_raw() as u32),
                    }
                }
            };
            l.str(" (pid ")
                .num(pid.as_raw_nonzero().get() as u32)
                .str(")");
            if self.stopping {
                self.say(Level::Notice, l.str(", stopping"));
                continue;
            }
            let ran_ms = (sys::monotonic_ns() - since) / NS_PER_MS;
            if let Some(gave_up) = self.schedule(ran_ms) {
                l.str(", ").num(gave_up).str(" runs shorter than ");
                l.num(self.respawn.period_ms / 1000).str(" s: giving up");
                self.say(Level::Err, &mut l);
                return Some(1);
            }
            l.str(", restarting in ").num(self.waiting_ms).str(" ms");
            self.say(Level::Warning, &mut l);
        }
        None
    }

    /// After a run of `ran_ms`: when to start the next (the backoff), or the number of
    /// short runs when it is time to give up.
    fn schedule(&mut self, ran_ms: u64) -> Option<u32> {
        let r = self.respawn;
        if ran_ms >= r.period_ms as u64 {
            self.short = 0;
            self.delay_ms = r.delay_ms;
        } else {
            self.short += 1;
            if r.max > 0 && self.short >= r.max {
                return Some(self.short);
            }
        }
        self.waiting_ms = self.delay_ms;
        self.next_ns = sys::monotonic_ns() + self.delay_ms as u64 * NS_PER_MS;
        self.delay_ms = self
            .delay_ms
            .saturating_mul(2)
            .min(r.delay_max_ms)
            .max(r.delay_ms);
        None
    }

    /// Sends `sig` to the program, if it runs.
    fn forward(&self, sig: Signal) {
        if let Some((pid, _)) = self.child {
            let _ = sys::kill(pid, false, sig.as_raw());
        }
    }

    /// A log line's start: `imp: supervise: NAME: `.
    fn line(&self) -> Line {
        let mut l = Line::new();
        l.str("imp: supervise: ").path(self.log.name).str(": ");
        l
    }

    /// Writes the line to stderr and, with `--syslog`, to syslog (without the
    /// `imp: supervise: ` part: the ident is the name).
    fn say(&mut self, level: Level, l: &mut Line) {
        if let Some(s) = &mut self.syslog {
            let head = b"imp: supervise: ".len() + self.log.name.len() + 2;
            s.send(level, &l.as_bytes()[head.min(l.as_bytes().len())..]);
        }
        l.emit(sys::stderr());
    }

    /// Removes the pidfile (the lock given up with it).
    fn release(&mut self) {
        if let (Some(lock), Some((dir, base))) = (self.lock.take(), self.pidfile) {
            let _ = lock.release(dir, base);
        }
    }
}

/// The program's side of a fork: die with the supervisor, then the steps the
/// supervisor did not do (dirs, user) and `execve`. Reports to the supervisor through
/// `wr`; never returns.
fn child(spec: &Spec<'_>, wr: &OwnedFd, detached: bool, supervisor: Pid) -> ! {
    // The exec record goes to the supervisor; the dirs are those of a detached daemon
    // (cwd `/` unless set) only under `start`.
    let mode = Mode::Detached(wr);
    let dirs = if detached { mode } else { Mode::InPlace };
    report::send(wr, Record::Locked(rustix::process::getpid()));
    let e =
        match rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::Kill))
        {
            Err(e) => Error::sys(Op::Supervise, e),
            // The supervisor died before the prctl: no signal will come, so go now.
            Ok(()) if rustix::process::getppid() != Some(supervisor) => sys::exit(1),
            Ok(()) => {
                match steps::enter_dirs(spec, dirs).and_then(|()| steps::drop_privileges(spec)) {
                    Err(e) => e,
                    Ok(()) => steps::exec(spec, None, mode),
                }
            }
        };
    report::send(wr, Record::Failed(e));
    sys::exit(127)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exits_round_trip_their_codes() {
        for e in [
            Exit::Status(0),
            Exit::Status(255),
            Exit::Signal(Signal::Kill),
            Exit::Signal(Signal::from_raw(64).unwrap()),
        ] {
            assert_eq!(Exit::from_code(e.code()), Some(e));
        }
        assert_eq!(Exit::from_code(256), None);
    }
}
