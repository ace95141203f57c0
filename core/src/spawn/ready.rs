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
    /// systemd's notification socket (`--notify`; feature `notify`): the socket of
    /// [`notify_socket`] (whose `NOTIFY_SOCKET=` is the spec's `notify_env`),
    /// `READY=1` from the program or a descendant of it.
    #[cfg(feature = "notify")]
    pub notify: Option<rustix::fd::BorrowedFd<'a>>,
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
        #[cfg(feature = "notify")]
        notify: None,
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
    let pipe = pipe.map(|(rd, _wr)| rd);
    let rd = pipe.as_ref().map(rustix::fd::AsFd::as_fd);
    #[cfg(feature = "notify")]
    let rd = rd.or(ready.notify);
    let pid = match started? {
        Started::Started(pid) => pid,
        other => return Ok(other),
    };
    if let Err(e) = wait(pid, rd, ready) {
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

/// The longest notification read (a datagram is cut there: `READY=1` comes first in
/// what daemons send, or alone).
const NOTIFY_MAX: usize = 256;

/// How many names [`notify_socket`] tries before it gives up (each taken one, of
/// another imp in another PID namespace that shares the network one, is `EADDRINUSE`).
#[cfg(feature = "notify")]
const NOTIFY_TRIES: u32 = 8;

/// A datagram socket for `--notify`, with `SO_PASSCRED` (each datagram comes with its
/// sender's pid), bound at the abstract address `imp-notify/PID/NONCE` (imp's pid and
/// the monotonic clock's nanoseconds: abstract names are shared by every PID namespace
/// of the network namespace, where pids repeat), and the program's
/// `NOTIFY_SOCKET=@imp-notify/PID/NONCE` written in `env`.
///
/// # Errors
/// [`Op::Ready`] with the errno of `socket`, `bind` (`EADDRINUSE` after
/// [`NOTIFY_TRIES`] names taken) or `setsockopt`.
#[cfg(feature = "notify")]
pub fn notify_socket(env: &mut [u8; 64]) -> Result<(OwnedFd, &core::ffi::CStr), Error> {
    use rustix::net::{self, AddressFamily, SocketAddrUnix, SocketFlags, SocketType};
    // The variable, up to the address's name (`imp-notify/...`).
    const VAR: &[u8] = b"NOTIFY_SOCKET=@";
    const HEAD: &[u8] = b"NOTIFY_SOCKET=@imp-notify/";
    let s = net::socket_with(
        AddressFamily::UNIX,
        SocketType::DGRAM,
        SocketFlags::CLOEXEC,
        None,
    )
    .op(Op::Ready)?;
    let me = rustix::process::getpid().as_raw_nonzero().get() as u32;
    for _ in 0..NOTIFY_TRIES {
        let (mut a, mut b) = ([0u8; crate::num::U32_DIGITS], [0u8; crate::num::U32_DIGITS]);
        let nonce = sys::monotonic_ns() as u32;
        let parts: [&[u8]; 4] = [
            HEAD,
            crate::num::u32_dec(me, &mut a),
            b"/",
            crate::num::u32_dec(nonce, &mut b),
        ];
        // 26 + 10 + 1 + 10 bytes and the NUL: it fits.
        let var = crate::fd::join(env, &parts).ok_or(Error::check(Op::Ready, Reason::TooLong))?;
        let addr = SocketAddrUnix::new_abstract_name(&var.to_bytes()[VAR.len()..]).op(Op::Ready)?;
        match net::bind_unix(&s, &addr) {
            Err(Errno::ADDRINUSE) => continue,
            r => r.op(Op::Ready)?,
        }
        net::sockopt::set_socket_passcred(&s, true).op(Op::Ready)?;
        return Ok((s, sys::cstr_in(env)));
    }
    // Every name taken (by as many imps in other PID namespaces, at the same ns).
    Err(Error::sys(Op::Ready, Errno::ADDRINUSE))
}

#[cfg(feature = "notify")]
/// Takes one datagram: whether it says `READY=1` (a line of its own) and comes from
/// `daemon` or a descendant of it (others are dropped: anyone may send to an abstract
/// address).
fn notified(socket: rustix::fd::BorrowedFd<'_>, daemon: Pid, buf: &mut [u8; NOTIFY_MAX]) -> bool {
    use rustix::net::{RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags};
    let mut space = [0u8; rustix::cmsg_space!(ScmCredentials(1))];
    let mut control = RecvAncillaryBuffer::new(&mut space);
    let mut iov = [rustix::io::IoSliceMut::new(buf)];
    let Ok(r) = rustix::net::recvmsg(socket, &mut iov, &mut control, RecvFlags::DONTWAIT) else {
        return false;
    };
    let n = r.bytes.min(NOTIFY_MAX);
    let mut sender = None;
    for m in control.drain() {
        if let RecvAncillaryMessage::ScmCredentials(c) = m {
            sender = Some(c.pid);
        }
    }
    let ready = buf[..n].split(|&b| b == b'\n').any(|l| l == b"READY=1");
    ready && sender.is_some_and(|p| descends_from(p, daemon))
}

#[cfg(feature = "notify")]
/// Whether `pid` is `daemon` or, by its parents in `/proc/PID/stat`, a descendant of
/// it (without `/proc`: only `daemon` itself).
fn descends_from(mut pid: Pid, daemon: Pid) -> bool {
    for _ in 0..crate::limits::NOTIFY_DEPTH {
        if pid == daemon {
            return true;
        }
        match crate::process::parent_of(pid) {
            Some(p) => pid = p,
            None => return false,
        }
    }
    false
}

/// Waits for the newline on `rd` (if any), then watches `pid` for `ready.wait_ms`.
// `iter().any`, not `contains`: that brings core's word-at-a-time memchr (+256 B).
#[allow(clippy::manual_contains)]
fn wait(pid: Pid, rd: Option<rustix::fd::BorrowedFd<'_>>, ready: &Ready<'_>) -> Result<(), Error> {
    if let Some(rd) = rd {
        // On the clock: datagrams of strangers (dropped) do not stretch the timeout.
        let deadline = sys::monotonic_ns() + ready.timeout_ms as u64 * 1_000_000;
        let mut buf = [0u8; NOTIFY_MAX];
        loop {
            gone(pid, Op::Ready)?;
            let left = deadline.saturating_sub(sys::monotonic_ns()) / 1_000_000;
            if left == 0 {
                return Err(Error::check(Op::Ready, Reason::ReadyTimeout));
            }
            let mut fds = [PollFd::new(&rd, PollFlags::IN)];
            if !matches!(rustix::event::poll(&mut fds, left.min(100) as i32), Ok(n) if n > 0) {
                continue;
            }
            #[cfg(feature = "notify")]
            if ready.notify.is_some() {
                if notified(rd, pid, &mut buf) {
                    break;
                }
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
                Ok(n) if buf[..n].iter().any(|&b| b == b'\n') => break,
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
