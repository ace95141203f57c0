//! Controlling a daemon through its pidfile: status, stop, signal.
//!
//! The daemon is whoever holds the pidfile's write lock (`F_GETLK`); an unlocked
//! pidfile is stale and nothing is signalled because of it. Signals go through a
//! pidfd opened *before* re-checking the lock, so the pid cannot be recycled between
//! the check and the signal; kernels without pidfds (< 5.3) fall back to `kill` after
//! the same re-check (a residual race of one check).

use crate::error::{Error, Op, Reason};
use crate::limits::SCHEDULE_MAX;
use crate::pidfile::{self, Probe, State};
use crate::process::{poll_exit, sleep_ms, TICK_MS};
use crate::signal::Signal;
use crate::sys;
use core::ffi::CStr;
use rustix::fd::AsFd;
use rustix::fd::OwnedFd;
use rustix::io::Errno;
use rustix::process::{Pid, PidfdFlags};

/// One step of a stop schedule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Send this signal.
    Signal(Signal),
    /// Wait this long (ms) for the process to exit.
    Wait(u32),
    /// Repeat the steps after this one until the process exits (dpkg's `forever`).
    Forever,
}

/// A stop schedule: signals and waits, dpkg `--retry` style (see
/// [`parse::schedule`](crate::parse::schedule)).
pub type Schedule = heapless::Vec<Step, SCHEDULE_MAX>;

/// The daemon's state, for `status`.
pub fn status(path: &CStr) -> Result<State, Error> {
    Ok(pidfile::probe(path)?.state)
}

/// What the supervisor holding `path` says of its program (`imp start --respawn`);
/// `None` when no supervisor holds it.
#[cfg(feature = "supervise")]
pub fn supervision(path: &CStr) -> Option<crate::supervise::Supervised> {
    crate::supervise::supervised(&pidfile::probe(path).ok()?)
}

/// How to stop.
#[derive(Clone, Debug)]
pub struct StopOptions<'a> {
    /// Signals and waits, dpkg `--retry` style.
    pub schedule: &'a [Step],
    /// Also signal the daemon's process group.
    pub process_group: bool,
    /// When a supervisor holds the pidfile, also wait for its program to be gone (and
    /// SIGKILL it if it outlives the supervisor by a second).
    pub supervised: bool,
}

/// The outcome of a successful [`stop`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stopped {
    /// No pidfile.
    NotRunning,
    /// A stale pidfile; whether it was removed (or why not).
    Stale(Result<bool, Error>),
    /// The daemon was signalled and is gone; its pidfile removed.
    Stopped(Pid),
}

/// A process to signal: through its pidfd where the kernel has them.
struct Target {
    pid: Pid,
    pidfd: Option<OwnedFd>,
    pgid: Option<Pid>,
}

impl Target {
    /// Opens a pidfd for the lock holder and re-checks it still holds the lock.
    /// `Ok(None)`: it is already gone.
    fn open(probe: &Probe<'_>, pid: Pid, process_group: bool) -> Result<Option<Target>, Error> {
        let pidfd = match rustix::process::pidfd_open(pid, PidfdFlags::empty()) {
            Ok(fd) => Some(fd),
            Err(Errno::SRCH) => return Ok(None),
            Err(Errno::NOSYS) => None,
            Err(e) => {
                return Err(Error::sys(Op::Kill, e).with_id(pid.as_raw_nonzero().get() as u32))
            }
        };
        if !probe.still_held_by(pid)? {
            return Ok(None);
        }
        let pgid = if process_group { group_of(pid) } else { None };
        Ok(Some(Target { pid, pidfd, pgid }))
    }

    /// Sends `sig` to the process (and its group); `Ok(false)` when nothing is left to
    /// signal.
    fn send(&self, sig: Signal) -> Result<bool, Error> {
        let r = match &self.pidfd {
            Some(fd) => sys::pidfd_send_signal(fd.as_fd(), sig.as_raw()),
            None => sys::kill(self.pid, false, sig.as_raw()),
        };
        let main_alive = match r {
            Ok(()) => true,
            Err(Errno::SRCH) => false,
            Err(e) => {
                return Err(Error::sys(Op::Kill, e).with_id(self.pid.as_raw_nonzero().get() as u32))
            }
        };
        let group_alive = self
            .pgid
            .is_some_and(|g| sys::kill(g, true, sig.as_raw()).is_ok());
        Ok(main_alive || group_alive)
    }

    /// Sends `sig`, then SIGCONT so that a stopped process can act on it (as s6 does).
    /// `Ok(false)`: the process is gone.
    fn signal(&self, sig: Signal) -> Result<bool, Error> {
        let alive = self.send(sig)?;
        if alive && !matches!(sig, Signal::Kill | Signal::Cont | Signal::Stop) {
            let _ = self.send(Signal::Cont);
        }
        Ok(alive)
    }

    /// Waits up to `ms` for the process to exit (a zombie counts as gone) and, with
    /// `--process-group`, for its group to empty: by polling its pidfd, else by looking
    /// every 10 ms (at the lock, without pidfds).
    #[inline(never)] // kept out of each step: -24 B
    fn wait(&self, probe: &Probe<'_>, ms: u32) -> bool {
        if let (Some(fd), None) = (&self.pidfd, self.pgid) {
            return poll_exit(fd, ms);
        }
        for _ in 0..=ms / TICK_MS {
            let main_gone = match &self.pidfd {
                Some(fd) => poll_exit(fd, 0),
                None => !probe.still_held_by(self.pid).unwrap_or(false),
            };
            let group_gone = |g| sys::kill(g, true, 0).is_err();
            if main_gone && self.pgid.map_or(true, group_gone) {
                return true;
            }
            sleep_ms(TICK_MS);
        }
        false
    }
}

/// The daemon's process group, if it is safe to signal: not init's, not ours.
fn group_of(pid: Pid) -> Option<Pid> {
    let g = rustix::process::getpgid(Some(pid)).ok()?;
    let ours = rustix::process::getpgid(None).ok()?;
    (g.as_raw_nonzero().get() > 1 && g != ours).then_some(g)
}

/// Stops the daemon: runs the schedule (signal, wait, signal, wait...) until it exits,
/// then removes the pidfile (only while holding its lock, only if it is still the same
/// file). A stale pidfile is removed without signalling anything.
pub fn stop(path: &CStr, opts: &StopOptions<'_>) -> Result<Stopped, Error> {
    let mut probe = pidfile::probe(path)?;
    let pid = match probe.state {
        State::Absent => return Ok(Stopped::NotRunning),
        State::Stale => return Ok(Stopped::Stale(probe.remove())),
        State::Running(pid) => pid,
    };
    // A supervisor's program: it gets the signal from the supervisor, and dies with
    // it (SIGKILL) if the schedule kills the supervisor; the stop ends once both are
    // gone. Its pidfd is opened while the supervisor (still holding the lock)
    // publishes it: it is that process.
    #[cfg(feature = "supervise")]
    let program = opts
        .supervised
        .then(|| crate::supervise::supervised(&probe))
        .flatten()
        .and_then(|s| s.program)
        .and_then(|p| {
            let pidfd = rustix::process::pidfd_open(p, PidfdFlags::empty()).ok();
            let target = Target {
                pid: p,
                pidfd,
                pgid: None,
            };
            (target.pidfd.is_some() && probe.still_held_by(pid).unwrap_or(false)).then_some(target)
        });
    if let Some(target) = Target::open(&probe, pid, opts.process_group)? {
        if !run_schedule(&target, &probe, opts.schedule)? {
            return Err(
                Error::check(Op::Kill, Reason::Survived).with_id(pid.as_raw_nonzero().get() as u32)
            );
        }
    }
    #[cfg(feature = "supervise")]
    if let Some(p) = program {
        if !p.wait(&probe, KILL_GRACE_MS) {
            let _ = p.send(Signal::Kill);
            p.wait(&probe, KILL_GRACE_MS);
        }
    }
    let _ = probe.remove();
    Ok(Stopped::Stopped(pid))
}

/// Runs the schedule; true once the process is gone.
fn run_schedule(target: &Target, probe: &Probe<'_>, schedule: &[Step]) -> Result<bool, Error> {
    let mut killed = false;
    let signal = |sig| {
        killed |= sig == Signal::Kill;
        target.signal(sig)
    };
    if walk_schedule(schedule, signal, |ms| Ok(target.wait(probe, ms)))? {
        return Ok(true);
    }
    // A SIGKILL acts at once but the exit takes a moment (a process in the middle of
    // a syscall, a big address space): a short grace.
    Ok(killed && target.wait(probe, KILL_GRACE_MS))
}

/// Walks a stop schedule (`forever` repeating what follows it): `signal` sends one
/// (`Ok(false)`: nothing was left to signal), `wait` waits (`Ok(true)`: gone). `Ok(true)`
/// once gone; `Ok(false)` when the schedule ran out.
#[inline(always)] // one copy per caller, as before: minimal -24 B, default and imp-full +32 B (aarch64; minimal has the least room)
pub(crate) fn walk_schedule(
    schedule: &[Step],
    mut signal: impl FnMut(Signal) -> Result<bool, Error>,
    mut wait: impl FnMut(u32) -> Result<bool, Error>,
) -> Result<bool, Error> {
    let (mut i, mut repeat) = (0, None);
    loop {
        let Some(step) = schedule.get(i) else {
            match repeat {
                Some(r) => {
                    i = r;
                    continue;
                }
                None => return Ok(false),
            }
        };
        match *step {
            Step::Signal(sig) => {
                if !signal(sig)? {
                    return Ok(true);
                }
            }
            Step::Wait(ms) => {
                if wait(ms)? {
                    return Ok(true);
                }
            }
            Step::Forever => repeat = Some(i + 1),
        }
        i += 1;
    }
}

/// How long a process that was sent SIGKILL as the schedule's last signal may take to
/// be gone before `stop` reports it survived.
const KILL_GRACE_MS: u32 = 1000;

/// Sends one signal to the daemon. `Ok(None)`: not running (no pidfile, stale, or
/// gone before the signal).
pub fn signal(path: &CStr, sig: Signal) -> Result<Option<Pid>, Error> {
    let probe = pidfile::probe(path)?;
    let State::Running(pid) = probe.state else {
        return Ok(None);
    };
    let Some(target) = Target::open(&probe, pid, false)? else {
        return Ok(None);
    };
    Ok(target.send(sig)?.then_some(pid))
}

/// imp's default stop schedule: SIGTERM, 10 s, SIGKILL, 5 s.
pub const DEFAULT_SCHEDULE: [Step; 4] = [
    Step::Signal(Signal::Term),
    Step::Wait(10_000),
    Step::Signal(Signal::Kill),
    Step::Wait(5_000),
];

/// A daemon known by its pidfile, controlled from any process: the `service`
/// package's `is_running`, `get_pid`, `stop`, `kill`, `send`.
#[derive(Clone, Copy, Debug)]
pub struct Pidfile<'a> {
    path: &'a CStr,
}

impl<'a> Pidfile<'a> {
    /// The daemon whose pidfile is `path`.
    pub const fn new(path: &'a CStr) -> Pidfile<'a> {
        Pidfile { path }
    }

    /// The pidfile's path.
    pub const fn path(&self) -> &'a CStr {
        self.path
    }

    /// Running (the lock holder's pid), stale or absent; see [`status`].
    pub fn state(&self) -> Result<State, Error> {
        status(self.path)
    }

    /// The daemon's pid, if it runs (a stale pidfile's content is nobody's pid).
    pub fn pid(&self) -> Option<Pid> {
        match self.state() {
            Ok(State::Running(pid)) => Some(pid),
            _ => None,
        }
    }

    /// Whether the daemon runs.
    pub fn is_running(&self) -> bool {
        self.pid().is_some()
    }

    /// The LSB `status` exit code: 0 running, 1 dead with a pidfile left, 3 not
    /// running, 4 unknown (the pidfile cannot be read or is refused).
    pub fn lsb_status(&self) -> i32 {
        match self.state() {
            Ok(State::Running(_)) => 0,
            Ok(State::Stale) => 1,
            Ok(State::Absent) => 3,
            Err(_) => 4,
        }
    }

    /// Stops the daemon with `schedule` (see [`stop`]; [`DEFAULT_SCHEDULE`] is imp's).
    pub fn stop(&self, schedule: &[Step]) -> Result<Stopped, Error> {
        let opts = StopOptions {
            schedule,
            process_group: false,
            supervised: false,
        };
        stop(self.path, &opts)
    }

    /// Stops the daemon with SIGKILL at once (and 5 s for it to be gone).
    pub fn kill(&self) -> Result<Stopped, Error> {
        self.stop(&[Step::Signal(Signal::Kill), Step::Wait(5_000)])
    }

    /// Sends `sig` to the daemon (see [`signal`]).
    pub fn send(&self, sig: Signal) -> Result<Option<Pid>, Error> {
        signal(self.path, sig)
    }
}
