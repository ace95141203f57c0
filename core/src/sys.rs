//! The dangerous boundary: the only module with `unsafe`.
//!
//! It holds the `rustix::runtime` calls (fork, execve, sigprocmask,
//! exit_group, sigaction), the two syscalls rustix 0.38 lacks (`fcntl(F_GETLK)` and
//! `close_range`, through the `syscalls` crate) and, on 32-bit ARM, `setgroups32`, and [`CStrArray`], the view of the
//! kernel's argv/envp.
//!
//! # Safety
//! imp is single-threaded (see [`single_threaded`]), never installs signal handlers and
//! never allocates, so the usual hazards of `fork` (locks held by other threads, an
//! allocator's state) do not exist here. Each block says what it relies on.
#![allow(unsafe_code)]

use core::ffi::{c_char, CStr};
use rustix::fd::{AsFd, AsRawFd, BorrowedFd};
use rustix::io::Errno;
use rustix::process::{Pid, Signal};

/// The result of [`fork`].
pub enum Fork {
    /// In the child.
    Child,
    /// In the parent: the child's pid.
    Parent(Pid),
}

/// `fork()`—Create a child process.
///
/// # References
/// - [POSIX](https://pubs.opengroup.org/onlinepubs/9799919799/functions/fork.html)
/// - [Linux](https://man7.org/linux/man-pages/man2/fork.2.html)
pub fn fork() -> Result<Fork, Errno> {
    // SAFETY: the process is single-threaded (checked by callers via `single_threaded`)
    // and uses no allocator or lock, so the child may run any code of this crate.
    match unsafe { rustix::runtime::fork()? } {
        rustix::runtime::Fork::Child(_) => Ok(Fork::Child),
        rustix::runtime::Fork::Parent(pid) => Ok(Fork::Parent(pid)),
    }
}

/// `execve(path, argv, envp)`—Replace the process image; returns only on failure.
///
/// # References
/// - [Linux](https://man7.org/linux/man-pages/man2/execve.2.html)
pub fn execve(path: &CStr, argv: CStrArray, envp: *const *const c_char) -> Errno {
    // SAFETY: argv comes from a CStrArray (NULL-terminated array of C strings); envp is
    // built by `spawn::Env`, which always NULL-terminates its array of pointers to
    // NUL-terminated strings that outlive this call.
    unsafe { rustix::runtime::execve(path, argv.as_ptr().cast(), envp.cast()) }
}

/// `exit_group(code)`—End the process, without running anything else.
#[inline(never)]
pub fn exit(code: i32) -> ! {
    rustix::runtime::exit_group(code)
}

/// A signal set.
pub type SigSet = rustix::runtime::Sigset;

/// The empty signal set.
pub fn sigset_empty() -> SigSet {
    // SAFETY: the kernel sigset is a plain array of integers; all-zero is the empty set.
    unsafe { core::mem::zeroed() }
}

/// Unblocks every signal (`sigprocmask(SIG_SETMASK, {})`).
pub fn unblock_all_signals() -> Result<(), Errno> {
    // SAFETY: changing the mask of this single-threaded process affects nothing else.
    unsafe { rustix::runtime::sigprocmask(rustix::runtime::How::SETMASK, Some(&sigset_empty())) }
        .map(|_| ())
}

/// Blocks every signal that can be blocked (`sigprocmask(SIG_SETMASK, all)`).
pub fn block_all_signals() -> Result<(), Errno> {
    let mut all = sigset_empty();
    for w in all.sig.iter_mut() {
        *w = !0;
    }
    // SAFETY: as above; the kernel ignores the bits of SIGKILL and SIGSTOP.
    unsafe { rustix::runtime::sigprocmask(rustix::runtime::How::SETMASK, Some(&all)) }.map(|_| ())
}

/// Puts every catchable signal back to its default disposition (`SIG_DFL`): `execve`
/// keeps ignored signals ignored, and a daemon must not inherit its caller's `SIG_IGN`.
pub fn reset_signal_dispositions() {
    for raw in 1..=31 {
        let Some(sig) = Signal::from_raw(raw) else {
            continue;
        };
        if matches!(sig, Signal::Kill | Signal::Stop) {
            continue;
        }
        // SAFETY: installing SIG_DFL (a null handler) never runs code of ours; the
        // zeroed struct is a valid kernel_sigaction with an empty mask and no flags.
        unsafe {
            let act: rustix::runtime::Sigaction = core::mem::zeroed();
            let _ = rustix::runtime::sigaction(sig, Some(act));
        }
    }
}

/// `setgroups(n, gids)`—Set the supplementary groups of this (single) thread.
///
/// On 32-bit ARM, rustix 0.38 calls `__NR_setgroups`, which there is the legacy
/// 16-bit call (gids would be read as pairs of `u16`: `[2000]` became `0 2000`); the
/// 32-bit call is `setgroups32`, made here through the `syscalls` crate. Elsewhere
/// rustix's call is the 32-bit one.
///
/// # References
/// - [Linux](https://man7.org/linux/man-pages/man2/setgroups.2.html) ("C library/kernel differences")
pub fn set_groups(gids: &[u32]) -> Result<(), Errno> {
    #[cfg(target_arch = "arm")]
    {
        // SAFETY: setgroups32 reads exactly `len` u32 gids from `ptr`, which `gids` is.
        unsafe {
            syscalls::syscall2(
                syscalls::Sysno::setgroups32,
                gids.len(),
                gids.as_ptr() as usize,
            )
        }
        .map(|_| ())
        .map_err(|e| Errno::from_raw_os_error(e.into_raw()))
    }
    #[cfg(not(target_arch = "arm"))]
    {
        let mut buf = [rustix::process::Gid::ROOT; crate::user::GROUPS_MAX];
        for (slot, &g) in buf.iter_mut().zip(gids) {
            *slot = gid(g);
        }
        rustix::thread::set_thread_groups(&buf[..gids.len().min(buf.len())])
    }
}

/// A POSIX record lock as `F_GETLK` reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LockHolder {
    /// Nobody holds a conflicting lock.
    None,
    /// A process holds a write lock (pid 0: outside this PID namespace).
    Write(i32),
    /// A process holds a read lock.
    Read(i32),
}

/// `fcntl(fd, F_GETLK)`—Who would stop us from write-locking the whole file?
///
/// # References
/// - [Linux](https://man7.org/linux/man-pages/man2/fcntl.2.html) ("Advisory record locking")
pub fn lock_holder(fd: BorrowedFd<'_>) -> Result<LockHolder, Errno> {
    #[cfg(target_pointer_width = "64")]
    use linux_raw_sys::general::{flock, F_GETLK as GETLK};
    #[cfg(target_pointer_width = "32")]
    use linux_raw_sys::general::{flock64 as flock, F_GETLK64 as GETLK};
    use linux_raw_sys::general::{F_RDLCK, F_UNLCK, F_WRLCK, SEEK_SET};
    #[cfg(target_pointer_width = "64")]
    const NR: syscalls::Sysno = syscalls::Sysno::fcntl;
    #[cfg(target_pointer_width = "32")]
    const NR: syscalls::Sysno = syscalls::Sysno::fcntl64;

    let mut lk = flock {
        l_type: F_WRLCK as _,
        l_whence: SEEK_SET as _,
        l_start: 0,
        l_len: 0,
        l_pid: 0,
    };
    // SAFETY: F_GETLK reads and writes exactly one `struct flock` (flock64 on 32-bit
    // targets, matching fcntl64/F_GETLK64), which `lk` is, for the duration of the call.
    unsafe {
        syscalls::syscall3(
            NR,
            fd.as_raw_fd() as usize,
            GETLK as usize,
            &mut lk as *mut flock as usize,
        )
    }
    .map_err(|e| Errno::from_raw_os_error(e.into_raw()))?;
    Ok(match lk.l_type as u32 {
        F_UNLCK => LockHolder::None,
        F_RDLCK => LockHolder::Read(lk.l_pid),
        _ if lk.l_type as u32 == F_WRLCK => LockHolder::Write(lk.l_pid),
        _ => LockHolder::Read(lk.l_pid),
    })
}

/// `close_range(first, last, 0)`—Close every fd in `first..=last`.
///
/// # References
/// - [Linux](https://man7.org/linux/man-pages/man2/close_range.2.html) (5.9+)
pub fn close_range(first: u32, last: u32) -> Result<(), Errno> {
    // SAFETY: closing fds invalidates any OwnedFd/BorrowedFd still naming them; callers
    // (`fd::close_all_except`) only close ranges that hold no fd the program still uses.
    unsafe {
        syscalls::syscall3(
            syscalls::Sysno::close_range,
            first as usize,
            last as usize,
            0,
        )
    }
    .map(|_| ())
    .map_err(|e| Errno::from_raw_os_error(e.into_raw()))
}

/// `close(fd)` on a raw number, for the fallbacks of `close_range`; errors are ignored
/// (and `close` is never retried, even on EINTR).
pub fn close_raw(fd: i32) {
    // SAFETY: as for close_range: the caller owns no handle to `fd`.
    unsafe { rustix::io::close(fd) }
}

/// Borrows a raw fd number that is known to be open for the duration of the borrow.
pub fn borrow_raw(fd: i32) -> BorrowedFd<'static> {
    // SAFETY: callers pass fds that stay open for the process's life (0..2, kept fds
    // checked with fcntl(F_GETFD) first); a wrong number only yields EBADF errors.
    unsafe { BorrowedFd::borrow_raw(fd) }
}

/// Takes ownership of a raw fd number.
pub fn own_raw(fd: i32) -> rustix::fd::OwnedFd {
    // SAFETY: the caller hands over an fd it opened and no one else closes.
    unsafe { rustix::fd::FromRawFd::from_raw_fd(fd) }
}

/// Detaches ownership: the fd stays open (across exec, for the pidfile lock).
pub fn leak_fd(fd: rustix::fd::OwnedFd) -> i32 {
    rustix::fd::IntoRawFd::into_raw_fd(fd)
}

/// Whether this process has exactly one thread (`Threads:` of /proc/self/status, or
/// field 20 of /proc/self/stat). Unknown (no /proc) counts as single-threaded: a
/// static, libc-free binary cannot have started threads.
pub fn thread_count_is_one(buf_stat: &[u8]) -> bool {
    // Field 2 (comm) may hold spaces and parentheses: count fields after the last ')'.
    let Some(end) = buf_stat.iter().rposition(|&b| b == b')') else {
        return true;
    };
    let mut fields = buf_stat[end + 1..]
        .split(|&b| b == b' ')
        .filter(|f| !f.is_empty());
    // After ')' come fields 3.. ; num_threads is field 20, so the 18th here.
    matches!(fields.nth(17), Some(b"1") | None)
}

/// The kernel's view of argv or envp: a NULL-terminated array of NUL-terminated
/// strings that lives, unchanged, for the whole process.
#[derive(Clone, Copy)]
pub struct CStrArray {
    ptr: *const *const c_char,
}

struct SyncPtrs([*const c_char; 1]);
// SAFETY: a single NULL pointer, never written.
unsafe impl Sync for SyncPtrs {}
static EMPTY_ARRAY: SyncPtrs = SyncPtrs([core::ptr::null()]);

impl CStrArray {
    /// Wraps a raw `argv`/`envp`.
    ///
    /// # Safety
    /// `ptr` must point to a NULL-terminated array of pointers to NUL-terminated
    /// strings, all valid and unchanged for the rest of the process.
    pub const unsafe fn from_raw(ptr: *const *const c_char) -> CStrArray {
        CStrArray { ptr }
    }

    /// The empty array.
    pub fn empty() -> CStrArray {
        CStrArray {
            ptr: EMPTY_ARRAY.0.as_ptr(),
        }
    }

    /// The raw pointer, for `execve`.
    pub fn as_ptr(self) -> *const *const c_char {
        self.ptr
    }

    /// The entry at `i`, or `None` past the end.
    pub fn get(self, i: usize) -> Option<&'static CStr> {
        let mut p = self.ptr;
        for _ in 0..i {
            // SAFETY: from_raw's contract; we stop at the terminating NULL.
            unsafe {
                if (*p).is_null() {
                    return None;
                }
                p = p.add(1);
            }
        }
        // SAFETY: as above; a non-NULL entry is a valid NUL-terminated string.
        unsafe { (!(*p).is_null()).then(|| CStr::from_ptr(*p)) }
    }

    /// The array from entry `i` on: itself NULL-terminated, so argv tails cost no copy.
    pub fn skip(self, i: usize) -> CStrArray {
        let mut p = self.ptr;
        for _ in 0..i {
            // SAFETY: from_raw's contract; never step past the terminating NULL.
            unsafe {
                if (*p).is_null() {
                    break;
                }
                p = p.add(1);
            }
        }
        CStrArray { ptr: p }
    }

    /// Iterates the entries.
    pub fn iter(self) -> impl Iterator<Item = &'static CStr> {
        let mut i = 0;
        core::iter::from_fn(move || {
            let s = self.get(i)?;
            i += 1;
            Some(s)
        })
    }

    /// True when the array has no entry.
    pub fn is_empty(self) -> bool {
        self.get(0).is_none()
    }
}

/// A uid; `u32::MAX` (-1, "no change" to the kernel) is refused by the parsers.
#[inline(never)]
pub fn uid(raw: u32) -> rustix::process::Uid {
    // SAFETY: from_raw is unsafe only because -1 means "unchanged" to set*id calls;
    // the user parsers never produce it (decimal() caps at u32 and lookup rejects it).
    unsafe { rustix::process::Uid::from_raw(raw.min(u32::MAX - 1)) }
}

/// A gid, as [`uid`].
pub fn gid(raw: u32) -> rustix::process::Gid {
    // SAFETY: as for uid.
    unsafe { rustix::process::Gid::from_raw(raw.min(u32::MAX - 1)) }
}

/// The tail of a C string from byte `at` on (`--opt=value` → `value`); empty if `at`
/// is past the end.
pub fn cstr_tail(s: &CStr, at: usize) -> &CStr {
    let bytes = s.to_bytes_with_nul();
    // SAFETY: `bytes[at..]` (at clamped to the NUL) ends with the original NUL and has
    // no interior NUL, since `s` had none.
    unsafe { CStr::from_bytes_with_nul_unchecked(&bytes[at.min(bytes.len() - 1)..]) }
}

/// The C string at the start of `buf`, whose last byte must be NUL (else: empty).
/// For paths assembled in fixed buffers, which hold no interior NUL by construction.
pub fn cstr_in(buf: &[u8]) -> &CStr {
    match buf.iter().position(|&b| b == 0) {
        // SAFETY: `buf[..=i]` ends at its first NUL, so it has no interior NUL.
        Some(i) => unsafe { CStr::from_bytes_with_nul_unchecked(&buf[..=i]) },
        None => c"",
    }
}

/// The fd as a borrowed handle (helper for generic code).
pub fn raw<F: AsFd>(f: &F) -> i32 {
    f.as_fd().as_raw_fd()
}
