//! Waiting for a process to be gone: by polling its pidfd (no polling quantum), else by
//! looking every [`TICK_MS`].

use rustix::event::{PollFd, PollFlags};
use rustix::fd::OwnedFd;
use rustix::io::Errno;
use rustix::process::{Pid, PidfdFlags};

/// How often a wait without pidfd looks again.
pub(crate) const TICK_MS: u32 = 10;

/// Sleeps `ms` milliseconds (an interrupted sleep ends early).
pub(crate) fn sleep_ms(ms: u32) {
    let _ = rustix::thread::nanosleep(&rustix::time::Timespec {
        tv_sec: (ms / 1000) as _,
        tv_nsec: ((ms % 1000) * 1_000_000) as _,
    });
}

/// Polls a pidfd until it is readable (the process exited) or `ms` pass. (An EINTR,
/// from imp itself being stopped and continued, restarts the full wait: no clock is
/// needed for that rare case.)
pub(crate) fn poll_exit(fd: &OwnedFd, ms: u32) -> bool {
    let mut fds = [PollFd::new(fd, PollFlags::IN)];
    loop {
        match rustix::event::poll(&mut fds, ms.min(i32::MAX as u32) as i32) {
            Ok(n) => return n > 0,
            Err(Errno::INTR) => continue,
            Err(_) => return false,
        }
    }
}

/// Waits up to `ms` for `pid` to exit; true when it is gone (or was never there).
pub(crate) fn wait_gone(pid: Pid, ms: u32) -> bool {
    match rustix::process::pidfd_open(pid, PidfdFlags::empty()) {
        Ok(fd) => poll_exit(&fd, ms),
        Err(Errno::SRCH) => true,
        Err(_) => {
            for _ in 0..ms / TICK_MS {
                if crate::sys::kill(pid, false, 0).is_err() {
                    return true;
                }
                sleep_ms(TICK_MS);
            }
            crate::sys::kill(pid, false, 0).is_err()
        }
    }
}

/// The parent of `pid`, from `/proc/PID/stat` (its 4th field, after the command in
/// parentheses); `None` without `/proc`, for pid 1 and for a process that is gone.
#[cfg(any(feature = "notify", feature = "find"))]
pub(crate) fn parent_of(pid: Pid) -> Option<Pid> {
    let mut digits = [0u8; crate::num::U32_DIGITS];
    let mut path = [0u8; 24];
    let n = crate::num::u32_dec(pid.as_raw_nonzero().get() as u32, &mut digits);
    let p = crate::fd::join(&mut path, &[b"/proc/", n, b"/stat"])?;
    let mut buf = [0u8; 512];
    let len = crate::fd::read_small(p, &mut buf).ok()?;
    let stat = &buf[..len];
    let after = stat.iter().rposition(|&b| b == b')')?;
    let mut fields = stat[after + 1..]
        .split(|&b| b == b' ')
        .filter(|f| !f.is_empty());
    let _state = fields.next()?;
    let ppid = crate::parse::uint(fields.next()?)?;
    Pid::from_raw(ppid as i32)
}
