//! One process in front of the program: a supervisor that restarts it (`--respawn`,
//! SPEC §5) or a container init that ends with it (`run --init`, what tini does for
//! `docker run --init`). One engine, two [`Policy`]s.
//!
//! The process takes the pidfile (which then names it), keeps every signal blocked and
//! takes them synchronously (`sigtimedwait`; no handler), and, unless it is PID 1,
//! makes itself a subreaper (`PR_SET_CHILD_SUBREAPER`): orphans of the program
//! reparent to it and it reaps every zombie with `waitpid(-1, WNOHANG)` on each
//! SIGCHLD. It forks the program, which arms `PR_SET_PDEATHSIG(SIGKILL)` and checks
//! its parent is still this process (it could have died before the `prctl`) before
//! the steps and `execve`: killed with SIGKILL, the supervisor takes its program with
//! it. The signals of the policy are forwarded (to the program's process group with
//! [`Policy::process_group`]); the first SIGTERM runs the policy's stop schedule
//! against the program (SIGTERM, 10 s, SIGKILL by default: a program that ignores
//! SIGTERM is killed, never a hang) and ends the supervision once it is gone.
//!
//! Under [`Policy::respawn`] a run that ends is logged (status or signal) and followed
//! by a restart after the backoff delay ([`Respawn`]); too many short runs in a row
//! end the supervision; a fork that fails is retried every second. Under
//! [`Policy::init`] the process exits with the program's status as a shell reports it
//! (128 + N for signal N); the program's remaining descendants are left alone, as tini
//! does (as PID 1, its exit ends the namespace).
//!
//! A supervisor can relay the program's stdout and stderr to syslog ([`Log::relay`]):
//! the program writes to a unix stream socket pair whose other end signals the
//! supervisor (SIGIO, taken like the others); each line is one syslog message, a last
//! line without its newline is sent once the program is gone.
//!
//! Nothing is allocated, and nothing opened per run but one close-on-exec pipe that
//! tells whether the child reached `execve`. With a pidfile, the program's pid, the
//! restarts, how the last run ended and when the current one started are published in
//! the pidfile's lock table ([`Field`]): `status` and `stop` read them with
//! `F_OFD_GETLK`, without `/proc` ([`supervised`]).
//!
//! # References
//! - [prctl(2)](https://man7.org/linux/man-pages/man2/prctl.2.html)
//!   (`PR_SET_CHILD_SUBREAPER`, `PR_SET_PDEATHSIG`)
//! - [pid_namespaces(7)](https://man7.org/linux/man-pages/man7/pid_namespaces.7.html)
//!   ("The namespace init process")
//! - s6-supervise(8), procd's `respawn`, tini

use crate::control::{Step, DEFAULT_SCHEDULE};
use crate::error::{Context, Error, Op, Reason};
use crate::fd;
use crate::log::Line;
use crate::pidfile::{Field, Lock, Probe, State};
use crate::signal::Signal;
use crate::signals::{self, SignalSet, Signals};
use crate::spawn::report::{self, Record};
use crate::spawn::steps::{self, Mode};
use crate::spawn::{self, PidfileAt, Spec, Started};
use crate::sys::{self, Fork, OnlyKeptFds, SingleThreaded};
use crate::syslog::{Facility, Level, Syslog};
use rustix::fd::{AsFd, OwnedFd};
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

/// What the process in front of the program does.
#[derive(Clone, Copy, Debug)]
pub struct Policy<'a> {
    /// Restart the program this way (a supervisor); `None`: end with it (an init).
    pub respawn: Option<Respawn>,
    /// The signals forwarded to the program (SIGTERM starts the stop instead).
    pub forward: SignalSet,
    /// What the first SIGTERM runs against the program.
    pub stop: &'a [Step],
    /// The program leads its own process group and signals go to the group.
    pub process_group: bool,
}

/// What a supervisor forwards: HUP, INT, QUIT, USR1, USR2, WINCH and CONT.
pub const SUPERVISOR_FORWARDS: SignalSet = SignalSet::of(&[
    Signal::Hup,
    Signal::Int,
    Signal::Quit,
    Signal::Usr1,
    Signal::Usr2,
    Signal::Winch,
    Signal::Cont,
]);

impl Policy<'static> {
    /// A supervisor (`--respawn`): restarts as `respawn` says, forwards
    /// [`SUPERVISOR_FORWARDS`], stops the program with imp's default schedule.
    pub const fn respawn(respawn: Respawn) -> Policy<'static> {
        Policy {
            respawn: Some(respawn),
            forward: SUPERVISOR_FORWARDS,
            stop: &DEFAULT_SCHEDULE,
            process_group: false,
        }
    }
}

impl<'a> Policy<'a> {
    /// A container init (`run --init`): forwards every signal it can take (SIGTSTP,
    /// SIGTTIN and SIGTTOU too: it never stops for them), stops the program with
    /// `stop` on the first SIGTERM, ends with the program.
    pub const fn init(stop: &'a [Step], process_group: bool) -> Policy<'a> {
        Policy {
            respawn: None,
            forward: SignalSet::ALL,
            stop,
            process_group,
        }
    }
}

/// Where the supervisor tells of exits and restarts: its stderr (the program's, as
/// `--stderr` or `--output` set it) and, with `syslog`, the local syslog. An init
/// tells nothing.
#[derive(Clone, Copy, Debug)]
pub struct Log<'a> {
    /// The name in each line and the syslog ident (`--name`, else the program's).
    pub name: &'a [u8],
    /// Also send each line to syslog (`--syslog`).
    pub syslog: bool,
    /// Relay the program's stdout and stderr (`--stdout syslog`, `--stderr syslog`)
    /// to syslog, line by line, at info and err: through a unix stream socket each,
    /// which the supervisor reads on SIGIO (a supervisor only).
    pub relay: [bool; 2],
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

    /// The status a shell reports for it: the exit status, or 128 + the signal's
    /// number (137 for SIGKILL).
    pub const fn code(self) -> i32 {
        match self {
            Exit::Status(n) => n as i32,
            Exit::Signal(s) => 128 + s.as_raw(),
        }
    }

    /// As published in [`Field::LastExit`]: the status, or 256 + the signal.
    const fn published(self) -> u64 {
        match self {
            Exit::Status(n) => n as u64,
            Exit::Signal(s) => 256 + s.as_raw() as u64,
        }
    }

    const fn from_published(c: u64) -> Option<Exit> {
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

/// What the supervisor (or init) holding `probe`'s pidfile publishes; `None` when
/// the holder is not one (or the pidfile is not locked).
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
        last_exit: probe
            .published(Field::LastExit)
            .and_then(Exit::from_published),
        uptime_s: probe
            .published(Field::Started)
            .map(|t| now.saturating_sub(t)),
    })
}

/// The signal that says a relay's pipe has data.
const SIGIO: i32 = linux_raw_sys::general::SIGIO as i32;

const NS_PER_S: u64 = 1_000_000_000;
const NS_PER_MS: u64 = 1_000_000;

/// How long a fork that failed (`EAGAIN`: out of processes) waits before the next try.
const FORK_RETRY_MS: u32 = 1000;

/// How long a program sent SIGKILL as the schedule's last step may take to be gone
/// (as `stop` allows).
const KILL_GRACE_MS: u32 = 1000;

/// Starts `spec` under a detached supervisor: returns once the program was exec'd
/// (the pidfile, locked by the supervisor, names the supervisor), or with the first
/// error of the supervisor's steps or of the program's (as [`spawn::start`]).
pub fn start(spec: &Spec<'_>, policy: &Policy<'_>, log: &Log<'_>) -> Result<Started, Error> {
    spawn::start_with(spec, true, &|pidfile, wr, fds, one_thread| {
        let lock = match take(spec, policy, pidfile, Mode::Detached(wr), fds) {
            Ok(lock) => lock,
            Err(e) => return e,
        };
        let mut s = Supervisor::new(spec, policy, log, lock, pidfile, &one_thread, true);
        match s.run(Some((wr, fds))) {
            Ok(status) => sys::exit(status),
            // Reported by the caller, through the pipe.
            Err(e) => e,
        }
    })
}

/// Runs `spec`'s program behind this process (`run --respawn`, `run --init`): the
/// pidfile, if any, names this process. Returns the exit status once it ends — a
/// supervisor's 0 when stopped by SIGTERM and 1 when it gave up; an init's, the
/// program's ([`Exit::code`]) — or the first error before the program's first
/// `execve`, or [`Reason::Survived`] (with the program's pid) when the program
/// outlived the stop schedule's SIGKILL.
///
/// `fds` is the program's promise that it uses no fd but 0-2 and the kept ones again.
pub fn run(
    spec: &Spec<'_>,
    policy: &Policy<'_>,
    log: &Log<'_>,
    fds: OnlyKeptFds,
) -> Result<i32, Error> {
    let pf = spawn::prepare(spec)?;
    let pidfile = spawn::at(&pf);
    let lock = take(spec, policy, pidfile, Mode::InPlace, &fds)?;
    let checked;
    let one_thread = match spec.single_threaded_proof() {
        Some(proof) => proof,
        None => {
            checked = SingleThreaded::check().ok_or(Error::check(Op::Threads, Reason::Threaded))?;
            &checked
        }
    };
    Supervisor::new(spec, policy, log, lock, pidfile, one_thread, false).run(None)
}

/// The supervisor's own steps: fds closed, signals blocked (and dispositions reset: a
/// SIGCHLD the caller ignored would reap the program before its status is read), the
/// pidfile locked and written, stdio set up for a supervisor (its program inherits
/// it; an init's program sets up its own, and the init keeps the caller's), a
/// subreaper unless PID 1 (failing only before Linux 3.4: orphans then go to init).
fn take(
    spec: &Spec<'_>,
    policy: &Policy<'_>,
    pidfile: PidfileAt<'_>,
    mode: Mode<'_>,
    fds: &OnlyKeptFds,
) -> Result<Option<Lock>, Error> {
    steps::close_inherited_fds(spec, pidfile, mode, fds);
    steps::quiet_signals()?;
    let lock = steps::take_pidfile(spec, pidfile, mode)?;
    if policy.respawn.is_some() {
        let id = lock.as_ref().map(Lock::file_id).transpose();
        if let Err(e) = id.and_then(|id| steps::setup_stdio(spec, mode, id)) {
            if let (Some(lock), Some((dir, base))) = (lock, pidfile) {
                let _ = lock.remove(dir, base);
            }
            return Err(e);
        }
    }
    let me = rustix::process::getpid();
    if me.as_raw_nonzero().get() != 1 {
        let _ = rustix::process::set_child_subreaper(Some(me));
    }
    Ok(lock)
}

/// The supervisor's state.
///
/// In this order (`repr(C)`): the fields used most first, the relays' 1 KB buffers
/// last, so that most fields are a one-byte offset from the struct (-176 B).
#[repr(C)]
struct Supervisor<'s, 'p> {
    /// The program's pid and when it started (monotonic ns).
    child: Option<(Pid, u64)>,
    spec: &'s Spec<'s>,
    policy: &'s Policy<'s>,
    log: &'s Log<'s>,
    /// When to start the program next (monotonic ns).
    next_ns: u64,
    lock: Option<Lock>,
    pidfile: PidfileAt<'p>,
    one_thread: &'p SingleThreaded,
    restarts: u32,
    /// Runs shorter than the period, in a row.
    short: u32,
    /// The next delay (ms).
    delay_ms: u32,
    /// The delay being waited out (ms).
    waiting_ms: u32,
    /// Detached (`start`): the program's cwd is `/` unless set.
    detached: bool,
    /// The stop schedule, once the first SIGTERM started it.
    stopping: Option<Stopping<'s>>,
    syslog: Option<Syslog<'s>>,
    /// What is published in each [`Field`] (its index - 1).
    published: [Option<u64>; 4],
    /// The relays of the program's stdout and stderr ([`Log::relay`]).
    relays: [Option<Relay>; 2],
}

/// The longest line a relay sends as one message (longer ones are split).
const RELAY_LINE: usize = 480;

/// One relayed output of the program: the socket pair it writes to, what is read of
/// the line that is not complete yet (the buffer last: `repr(C)`, -24 B).
#[repr(C)]
struct Relay {
    len: usize,
    rd: OwnedFd,
    wr: OwnedFd,
    level: Level,
    line: [u8; RELAY_LINE],
}

impl Relay {
    /// A connected pair of unix stream sockets (a pipe that can signal: `FIOSETOWN`
    /// is a socket's ioctl, and rustix has no `F_SETOWN`), whose supervisor's end
    /// signals this process (SIGIO) and never blocks.
    fn new(level: Level) -> Result<Relay, Error> {
        use rustix::net::{AddressFamily, SocketFlags, SocketType};
        let (rd, wr) = rustix::net::socketpair(
            AddressFamily::UNIX,
            SocketType::STREAM,
            SocketFlags::CLOEXEC,
            None,
        )
        .op(Op::Pipe)?;
        rustix::fs::fcntl_setfl(&rd, rustix::fs::OFlags::NONBLOCK).op(Op::Pipe)?;
        sys::signal_io_to_me(rustix::fd::AsFd::as_fd(&rd)).op(Op::Pipe)?;
        Ok(Relay {
            rd,
            wr,
            level,
            line: [0; RELAY_LINE],
            len: 0,
        })
    }

    /// Reads what is there and sends each whole line (a line longer than
    /// [`RELAY_LINE`] in pieces); with `flush` (the program is gone) the rest too.
    fn drain(&mut self, log: &mut Option<Syslog<'_>>, flush: bool) {
        loop {
            let n = match fd::retry(|| rustix::io::read(&self.rd, &mut self.line[self.len..])) {
                Ok(n) if n > 0 => n,
                _ => break,
            };
            let end = self.len + n;
            let mut start = 0;
            for i in self.len..end {
                if self.line[i] == b'\n' {
                    self.send(log, start, i);
                    start = i + 1;
                }
            }
            self.line.copy_within(start..end, 0);
            self.len = end - start;
            if self.len == RELAY_LINE {
                self.send(log, 0, RELAY_LINE);
                self.len = 0;
            }
        }
        if flush && self.len > 0 {
            self.send(log, 0, self.len);
            self.len = 0;
        }
    }

    fn send(&self, log: &mut Option<Syslog<'_>>, from: usize, to: usize) {
        if let Some(log) = log {
            log.send(self.level, &self.line[from..to]);
        }
    }
}

impl<'s, 'p> Supervisor<'s, 'p> {
    fn new(
        spec: &'s Spec<'s>,
        policy: &'s Policy<'s>,
        log: &'s Log<'s>,
        lock: Option<Lock>,
        pidfile: PidfileAt<'p>,
        one_thread: &'p SingleThreaded,
        detached: bool,
    ) -> Self {
        let respawn = policy.respawn.unwrap_or(Respawn::DEFAULT);
        Supervisor {
            spec,
            policy,
            log,
            syslog: ((log.syslog || log.relay != [false; 2]) && policy.respawn.is_some())
                .then(|| Syslog::open(log.name, Facility::Daemon)),
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
            stopping: None,
            published: [None; 4],
            relays: [None, None],
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

    /// Supervises until the end; the first spawn's outcome goes to `report` (the
    /// caller of [`start`]).
    fn run(&mut self, report: Option<(&OwnedFd, &OnlyKeptFds)>) -> Result<i32, Error> {
        let signals = Signals::block(SignalSet::ALL)?;
        self.publish(Field::Restarts, Some(0));
        if self.policy.respawn.is_some() {
            for (i, level) in [Level::Info, Level::Err].into_iter().enumerate() {
                if self.log.relay[i] {
                    self.relays[i] = Some(Relay::new(level)?);
                }
            }
        }
        // The first run: its failure is the start's (the caller reports it).
        if let Err(e) = self.spawn() {
            self.release();
            return Err(e);
        }
        // The start returns; the pipe is closed (it belongs to the intermediate's
        // frame, which this process leaves only through `exit`: never closed twice).
        if let Some((wr, fds)) = report {
            report::send(wr, Record::Ready);
            sys::close_raw(fds, crate::fd::raw(wr));
        }
        let status = loop {
            if self.child.is_none() && sys::monotonic_ns() >= self.next_ns {
                match self.restart() {
                    Some(status) => break Ok(status),
                    None => continue,
                }
            }
            let deadline = match (&self.stopping, self.child) {
                (Some(s), _) => s.deadline,
                (None, Some(_)) => None,
                (None, None) => Some(self.next_ns),
            };
            match signals::take_by(signals.set(), deadline) {
                Some(Signal::Child) => {
                    if let Some(status) = self.reap() {
                        break Ok(status);
                    }
                }
                Some(Signal::Term) if self.stopping.is_none() => {
                    if self.child.is_none() {
                        break Ok(0);
                    }
                    let mut s = Stopping::new(self.policy.stop);
                    let r = s.advance(self);
                    self.stopping = Some(s);
                    if let Err(e) = r {
                        break Err(e);
                    }
                }
                Some(sig) if sig.as_raw() == SIGIO && self.policy.respawn.is_some() => {
                    self.drain(false)
                }
                Some(sig) if self.policy.forward.contains(sig) => self.send(sig),
                Some(_) => {}
                None => {
                    if let Some(mut s) = self.stopping.take() {
                        let r = s.advance(self);
                        self.stopping = Some(s);
                        if let Err(e) = r {
                            break Err(e);
                        }
                    }
                }
            }
        };
        self.release();
        status
    }

    /// A restart after the delay: logged; a failure (the program gone) counts as a
    /// short run — too many end the supervision (its exit status) — and a fork out of
    /// processes is retried a second later.
    fn restart(&mut self) -> Option<i32> {
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
                l.str("restart failed: ");
                match e.op() {
                    Op::Exec => l
                        .str("exec ")
                        .path(self.spec.program.to_bytes())
                        .str(": ")
                        .cause(e.cause()),
                    _ => l.error(&e),
                };
                if e.cause() == crate::Cause::Errno(Errno::AGAIN) && e.op() == Op::Fork {
                    self.next_ns = sys::monotonic_ns() + FORK_RETRY_MS as u64 * NS_PER_MS;
                } else if let Some(n) = self.schedule(0) {
                    l.str(", ").num(n).str(" in a row: giving up");
                    self.say(Level::Err, &mut l);
                    return Some(1);
                }
                self.say(Level::Err, &mut l);
            }
        }
        None
    }

    /// Forks the program; its pid once it reached `execve`.
    fn spawn(&mut self) -> Result<Pid, Error> {
        let me = rustix::process::getpid();
        let (rd, wr) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).op(Op::Pipe)?;
        let pid = match sys::fork(self.one_thread).op(Op::Fork)? {
            Fork::Child(fds, _) => {
                drop(rd);
                // The pidfile's fd is the supervisor's: a child that fails before exec
                // (close-on-exec would close it) must not keep its open file description,
                // whose lock would then outlive the supervisor's removal of the file.
                let id = self.lock.as_ref().and_then(|l| l.file_id().ok());
                if let Some(lock) = &self.lock {
                    sys::close_raw(&fds, lock.raw_fd());
                }
                let out = |i: usize| self.relays[i].as_ref().map(|r| r.wr.as_fd());
                let relays = [out(0), out(1)];
                child(self.spec, self.policy, &wr, self.detached, me, id, relays)
            }
            Fork::Parent(pid) => pid,
        };
        drop(wr);
        if self.policy.process_group {
            // Also here, so that no signal sent before the child's own call misses the
            // group (EACCES once it has exec'd: it did it by then).
            let _ = rustix::process::setpgid(Some(pid), Some(pid));
        }
        // A child that failed is reaped with the next SIGCHLD.
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
        let mut end = None;
        // ECHILD (no child left) and None (none is a zombie) both end it.
        while let Ok(Some((pid, st))) = rustix::process::wait(WaitOptions::NOHANG) {
            if self.child.is_some_and(|(c, _)| c == pid) {
                end = end.or(self.ended(pid, Exit::of(st)));
            }
        }
        end
    }

    /// The program `pid` ended: logged, published; the exit status if that ends the
    /// supervision, else the restart scheduled.
    fn ended(&mut self, pid: Pid, exit: Exit) -> Option<i32> {
        // Its last output first, a line without its newline included.
        self.drain(true);
        let since = self.child.map_or(0, |(_, t)| t);
        self.child = None;
        self.publish(Field::Program, None);
        self.publish(Field::Started, None);
        self.publish(Field::LastExit, Some(exit.published()));
        let Some(respawn) = self.policy.respawn else {
            return Some(exit.code());
        };
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
        if self.stopping.is_some() {
            self.say(Level::Notice, l.str(", stopping"));
            return Some(0);
        }
        let ran_ms = (sys::monotonic_ns() - since) / NS_PER_MS;
        if let Some(gave_up) = self.schedule(ran_ms) {
            l.str(", ").num(gave_up).str(" runs shorter than ");
            l.num(respawn.period_ms / 1000).str(" s: giving up");
            self.say(Level::Err, &mut l);
            return Some(1);
        }
        l.str(", restarting in ").num(self.waiting_ms).str(" ms");
        self.say(Level::Warning, &mut l);
        None
    }

    /// After a run of `ran_ms`: when to start the next (the backoff), or the number of
    /// short runs when it is time to give up.
    fn schedule(&mut self, ran_ms: u64) -> Option<u32> {
        let r = self.policy.respawn.unwrap_or(Respawn::DEFAULT);
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

    /// The relays' output so far (and, with `flush`, the lines not ended yet).
    fn drain(&mut self, flush: bool) {
        for r in self.relays.iter_mut().flatten() {
            r.drain(&mut self.syslog, flush);
        }
    }

    /// Sends `sig` to the program (its group with `process_group`), if it runs; a
    /// program already gone (a zombie not reaped yet) is no error.
    fn send(&self, sig: Signal) {
        if let Some((pid, _)) = self.child {
            let _ = sys::kill(pid, self.policy.process_group, sig.as_raw());
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

/// Where the stop schedule is, once the first SIGTERM started it.
#[derive(Clone, Copy)]
struct Stopping<'s> {
    schedule: &'s [Step],
    /// The next step.
    next: usize,
    /// Where `forever` repeats from.
    repeat: Option<usize>,
    /// When the current wait ends (`CLOCK_MONOTONIC`, ns).
    deadline: Option<u64>,
    /// A SIGKILL was sent; `graced`: and the grace after a final one began.
    killed: bool,
    graced: bool,
}

impl<'s> Stopping<'s> {
    fn new(schedule: &'s [Step]) -> Stopping<'s> {
        Stopping {
            schedule,
            next: 0,
            repeat: None,
            deadline: None,
            killed: false,
            graced: false,
        }
    }

    /// Runs the steps from the next one up to the next wait (whose deadline it sets);
    /// at the end, the grace after a SIGKILL, then [`Reason::Survived`]. Without a
    /// SIGKILL in the schedule (`--no-kill`), the end waits for the program for ever.
    fn advance(&mut self, s: &Supervisor<'_, '_>) -> Result<(), Error> {
        self.deadline = None;
        // A schedule's `forever` part always has a wait (see `parse::schedule`): this
        // bound only keeps a hand-made one from spinning.
        for _ in 0..2 * self.schedule.len() + 1 {
            let Some(&step) = self.schedule.get(self.next) else {
                match self.repeat {
                    Some(r) => {
                        self.next = r;
                        continue;
                    }
                    None => break,
                }
            };
            self.next += 1;
            match step {
                Step::Signal(sig) => {
                    s.send(sig);
                    self.killed |= sig == Signal::Kill;
                }
                Step::Wait(ms) => {
                    self.wait(ms);
                    return Ok(());
                }
                Step::Forever => self.repeat = Some(self.next),
            }
        }
        if self.killed && !self.graced {
            self.graced = true;
            self.wait(KILL_GRACE_MS);
            return Ok(());
        }
        match (self.killed, s.child) {
            (true, Some((pid, _))) => {
                let id = pid.as_raw_nonzero().get() as u32;
                Err(Error::check(Op::Kill, Reason::Survived).with_id(id))
            }
            _ => Ok(()),
        }
    }

    fn wait(&mut self, ms: u32) {
        self.deadline = Some(sys::monotonic_ns() + ms as u64 * NS_PER_MS);
    }
}

/// The program's side of a fork: its own process group if asked, die with the
/// supervisor, then the steps the supervisor did not do (an init's program: its
/// stdio; dirs, user) and `execve`. Reports to the supervisor through `wr`; never
/// returns.
fn child(
    spec: &Spec<'_>,
    policy: &Policy<'_>,
    wr: &OwnedFd,
    detached: bool,
    parent: Pid,
    pidfile: Option<crate::fd::FileId>,
    relays: [Option<rustix::fd::BorrowedFd<'_>>; 2],
) -> ! {
    // The records go to the supervisor; the dirs are those of a detached daemon (cwd
    // `/` unless set) only under `start`.
    let mode = Mode::Detached(wr);
    let in_place = if detached { mode } else { Mode::InPlace };
    report::send(wr, Record::Locked(rustix::process::getpid()));
    let steps = || -> Result<(), Error> {
        if policy.process_group {
            rustix::process::setpgid(None, None).op(Op::Setsid)?;
        }
        rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::Kill))
            .op(Op::Supervise)?;
        // The parent died before the prctl: no signal will come, so go now.
        if rustix::process::getppid() != Some(parent) {
            sys::exit(1);
        }
        if policy.respawn.is_none() {
            steps::setup_stdio(spec, Mode::InPlace, pidfile)?;
        }
        // The relayed outputs onto 1 and 2 (without close-on-exec, as dup2 leaves them).
        if let Some(fd) = relays[0] {
            rustix::stdio::dup2_stdout(fd).op(Op::Dup)?;
        }
        if let Some(fd) = relays[1] {
            rustix::stdio::dup2_stderr(fd).op(Op::Dup)?;
        }
        Ok(())
    };
    let e = match steps() {
        Ok(()) => steps::last(spec, in_place, None, mode),
        Err(e) => e,
    };
    report::send(wr, Record::Failed(e));
    sys::exit(127)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exits_round_trip_and_code_as_a_shell() {
        for e in [
            Exit::Status(0),
            Exit::Status(255),
            Exit::Signal(Signal::Kill),
            Exit::Signal(Signal::from_raw(64).unwrap()),
        ] {
            assert_eq!(Exit::from_published(e.published()), Some(e));
        }
        assert_eq!(Exit::from_published(256), None);
        assert_eq!(Exit::Status(7).code(), 7);
        assert_eq!(Exit::Signal(Signal::Kill).code(), 137);
    }
}
