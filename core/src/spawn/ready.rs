//! Readiness for a start: the s6 notification fd (`--ready-fd N`: the program writes a
//! newline to fd N when it serves) and OpenRC's watch after exec (`--wait MS`).
//!
//! [`start_ready`] makes the caller a subreaper before [`start`](super::start): once the
//! intermediate child exits, the daemon reparents to the caller, which can then read
//! its exit status with `waitpid` while it waits (a daemon that dies first is reported
//! with its status, and stays a zombie — its pid not reused — until then). When the
//! wait ends well the caller returns; once it exits, the daemon's parent is init (or
//! the next subreaper up), as after a plain start.
//!
//! The pipe's write end is put on fd N in the caller before the start (fd N then is a
//! kept fd, so the daemon's pidfile fd lands above it, SPEC §3); if the pipe already
//! has number N, its close-on-exec flag is cleared instead (the `dup2(n, n)` trap).
//!
//! # References
//! - [s6 `notifywhenup`](https://skarnet.org/software/s6/notifywhenup.html)
//! - OpenRC `start-stop-daemon --wait`

use super::{Spec, Started};
use crate::control::{self, Step, StopOptions};
use crate::error::{Context, Error, Op, Reason};
use crate::fd;
use crate::process::{sleep_ms, TICK_MS};
use crate::sys;
use rustix::event::{PollFd, PollFlags};
use rustix::fd::OwnedFd;
use rustix::io::{Errno, FdFlags};
use rustix::process::{Pid, WaitOptions};

/// What to wait for after the exec.
#[derive(Clone, Copy, Debug)]
pub struct Ready<'a> {
    /// The notification fd (`--ready-fd N`, above 2, one of the spec's `keep_fds`).
    pub fd: Option<i32>,
    /// How long to wait for the newline (ms).
    pub timeout_ms: u32,
    /// Then, how long the program must stay alive (ms; 0: no watch).
    pub wait_ms: u32,
    /// How to stop a program that failed readiness (through the pidfile, as `stop`).
    pub stop: &'a [Step],
}

impl Ready<'static> {
    /// No notification fd, 30 s, no watch, imp's default stop schedule.
    pub const DEFAULT: Ready<'static> = Ready {
        fd: None,
        timeout_ms: 30_000,
        wait_ms: 0,
        stop: &control::DEFAULT_SCHEDULE,
    };
}

/// How long after the notification fd closed the daemon may take to be seen gone
/// (it closes its fds before its exit is visible).
const GONE_GRACE_MS: u32 = 100;

/// [`start`](super::start), then the wait of `ready`: `Ok` only once the program said it
/// is ready and lived through the watch.
///
/// # Errors
/// Those of [`start`](super::start) (and `EBUSY` with [`Op::Ready`]: fd N is open
/// already). With [`Op::Ready`] (before the newline) or [`Op::Watch`] (during the
/// watch): [`Reason::ExitedWith`] (the status: [`Error::status`]), [`Reason::KilledBy`]
/// (the signal: [`Error::signal`]) or [`Reason::Gone`] (no status: not our child) — no
/// pidfile is left; before the newline, [`Reason::ReadyClosed`] and
/// [`Reason::ReadyTimeout`], the program stopped with `ready.stop` (or
/// [`Reason::Survived`] if it outlives it).
///
/// The calling process stays a subreaper: a daemon it started is its child until it
/// exits (the `imp` command exits at once).
#[inline(never)] // kept out of the CLI's start: -24 B
pub fn start_ready(spec: &Spec<'_>, ready: &Ready<'_>) -> Result<Started, Error> {
    start_ready_by(spec, ready, super::start)
}

/// [`start_ready`] with another start: `start` detaches the daemon (a supervisor:
/// `supervise::start`, whose program inherits fd N among the kept fds; the wait is
/// then for a newline from any of its runs, and a supervisor that gives up is a
/// daemon that exited).
pub fn start_ready_by(
    spec: &Spec<'_>,
    ready: &Ready<'_>,
    start: impl FnOnce(&Spec<'_>) -> Result<Started, Error>,
) -> Result<Started, Error> {
    let me = rustix::process::getpid();
    let _ = rustix::process::set_child_subreaper(Some(me));
    let pipe = match ready.fd {
        Some(n) => Some(notify_pipe(n)?),
        None => None,
    };
    let started = start(spec);
    // Our copy of fd N closed: EOF once the daemon's copies are.
    let rd = pipe.map(|(rd, _wr)| rd);
    let pid = match started? {
        Started::Started(pid) => pid,
        other => return Ok(other),
    };
    if let Err(e) = wait(pid, rd.as_ref(), ready) {
        // Stopped, or gone (reaped): then `stop` finds the pidfile stale and removes it.
        stop(spec, pid, ready.stop)?;
        return Err(e);
    }
    Ok(Started::Started(pid))
}

/// A close-on-exec pipe whose write end is fd `n`, without close-on-exec: `(read,
/// write)`.
fn notify_pipe(n: i32) -> Result<(OwnedFd, OwnedFd), Error> {
    let (mut rd, mut wr) =
        rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).op(Op::Pipe)?;
    if fd::raw(&rd) == n {
        rd = rustix::io::fcntl_dupfd_cloexec(&rd, n + 1).op(Op::Dup)?;
    }
    if fd::raw(&wr) != n {
        wr = rustix::io::fcntl_dupfd_cloexec(&wr, n).op(Op::Dup)?;
        if fd::raw(&wr) != n {
            // Fd N is open already (inherited): it is not ours to replace.
            return Err(Error::sys(Op::Ready, Errno::BUSY));
        }
    }
    rustix::io::fcntl_setfd(&wr, FdFlags::empty()).op(Op::Dup)?;
    Ok((rd, wr))
}

/// Waits for the newline on `rd` (if any), then watches `pid` for `ready.wait_ms`.
fn wait(pid: Pid, rd: Option<&OwnedFd>, ready: &Ready<'_>) -> Result<(), Error> {
    if let Some(rd) = rd {
        let mut left = ready.timeout_ms;
        let mut buf = [0u8; 64];
        loop {
            gone(pid, Op::Ready)?;
            if left == 0 {
                return Err(Error::check(Op::Ready, Reason::ReadyTimeout));
            }
            let tick = left.min(100);
            let mut fds = [PollFd::new(rd, PollFlags::IN)];
            if !matches!(rustix::event::poll(&mut fds, tick as i32), Ok(n) if n > 0) {
                left -= tick;
                continue;
            }
            match fd::retry(|| rustix::io::read(rd, &mut buf)) {
                Ok(0) | Err(_) => {
                    for _ in 0..GONE_GRACE_MS / TICK_MS {
                        gone(pid, Op::Ready)?;
                        sleep_ms(TICK_MS);
                    }
                    return Err(Error::check(Op::Ready, Reason::ReadyClosed));
                }
                Ok(n) if buf[..n].contains(&b'\n') => break,
                Ok(_) => {}
            }
        }
    }
    for _ in 0..ready.wait_ms / TICK_MS {
        gone(pid, Op::Watch)?;
        sleep_ms(TICK_MS);
    }
    gone(pid, Op::Watch)
}

/// `Err` with how the daemon `pid` (our child now) ended, if it has (it is reaped).
/// Where the caller could not become a subreaper (before Linux 3.4; qemu-user), the
/// daemon is init's: then only that it is gone is known ([`Reason::Gone`]).
fn gone(pid: Pid, op: Op) -> Result<(), Error> {
    match rustix::process::waitpid(Some(pid), WaitOptions::NOHANG) {
        Ok(Some(st)) => Err(match st.terminating_signal() {
            Some(sig) => Error::check(op, Reason::KilledBy).with_id(sig),
            None => Error::check(op, Reason::ExitedWith).with_id(st.exit_status().unwrap_or(0)),
        }),
        Err(Errno::CHILD) if sys::kill(pid, false, 0) == Err(Errno::SRCH) => {
            Err(Error::check(op, Reason::Gone))
        }
        _ => Ok(()),
    }
}

/// Stops a daemon that failed readiness: through its pidfile with `schedule`, else
/// SIGKILL; then reaps it.
fn stop(spec: &Spec<'_>, pid: Pid, schedule: &[Step]) -> Result<(), Error> {
    let r = match spec.pidfile {
        Some(p) => {
            let opts = StopOptions {
                schedule,
                process_group: false,
                supervised: false,
            };
            control::stop(p, &opts).map(|_| ())
        }
        None => sys::kill(pid, false, crate::Signal::Kill.as_raw()).op(Op::Kill),
    };
    // Gone by now unless it survived (then it is not waited for).
    let _ = rustix::process::waitpid(Some(pid), WaitOptions::NOHANG);
    r
}
