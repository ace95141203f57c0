//! The dangerous boundary: the only module of imp-core with `unsafe`, and a leaf (it
//! imports nothing of imp's).
//!
//! It holds the `rustix::runtime` calls (fork, execve, sigprocmask, sigtimedwait,
//! exit_group) and the conversion of imp's signal sets to the kernel's; the
//! syscalls rustix 0.38 lacks, byte-range and open file description record locks
//! (`fcntl` `F_OFD_SETLK`, `F_OFD_GETLK`, `F_SETLK`, `F_GETLK`) and `close_range`,
//! through the `syscalls` crate, with the ones that rustix makes wrongly for imp:
//! `setgroups32` on 32-bit ARM, `rt_sigaction` without an old action (qemu-user on
//! MIPS), `kill` and `pidfd_send_signal` with real-time signals, `prctl` for
//! capabilities by number (`PR_CAPBSET_DROP`, `PR_CAP_AMBIENT`); the calls that act on an fd by number (closing, probing, the standard
//! streams); and [`CStrArray`], the view of the kernel's argv and envp.
//!
//! # Safety
//! Every function that can invalidate a handle it does not own (closing by number) or
//! whose child may only run restricted code (fork) is an `unsafe fn` whose `# Safety`
//! section says what the caller promises. The safe functions here are sound on their
//! own: they take borrowed fds or plain values, and each `unsafe` block says what it
//! relies on. imp-core installs no signal handler and never allocates.
#![allow(unsafe_code)]

use core::ffi::{c_char, CStr};
use rustix::fd::{AsRawFd, BorrowedFd};
use rustix::io::Errno;
use rustix::process::{Gid, Pid, Uid};

/// Proof that forking this process is safe whatever the child runs: the process has
/// one thread (so no other thread can hold a lock the child would need).
///
/// imp-core makes it itself right before it forks, by asking `/proc`; a program that
/// knows better than `/proc` (a static binary that starts no thread, run under
/// qemu-user, whose `/proc` shows the emulator's threads) gives it with the `unsafe`
/// [`SingleThreaded::assume`].
#[derive(Debug)]
pub struct SingleThreaded(());

impl SingleThreaded {
    /// The process's own word that it has one thread.
    ///
    /// # Safety
    /// The process must have exactly one thread whenever imp-core forks with this
    /// proof.
    pub const unsafe fn assume() -> SingleThreaded {
        SingleThreaded(())
    }

    /// Asks `/proc/self/stat` for the thread count (its 20th field); `None` when it
    /// is not 1. Without `/proc` the check passes: there is no other way to count, and
    /// the programs imp-core serves there (static, libc-free) start no thread. (Not
    /// public: a proof checked now says nothing about threads started later, so it is
    /// made right before each fork.)
    #[inline(never)] // kept out of start: -32 B
    pub(crate) fn check() -> Option<SingleThreaded> {
        const STAT_MAX: usize = 512;
        let mut buf = [0u8; STAT_MAX];
        match crate::fd::read_small(c"/proc/self/stat", &mut buf) {
            Ok(n) => thread_count_is_one(&buf[..n]).then_some(SingleThreaded(())),
            Err(_) => Some(SingleThreaded(())),
        }
    }
}

/// Whether a `/proc/PID/stat` line says the process has one thread (field 20). Field 2
/// (the command name) may hold spaces and parentheses: fields are counted after the
/// last `)`. A line cut before field 20 counts as one thread.
pub(crate) fn thread_count_is_one(stat: &[u8]) -> bool {
    let Some(end) = stat.iter().rposition(|&b| b == b')') else {
        return true;
    };
    let mut fields = stat[end + 1..]
        .split(|&b| b == b' ')
        .filter(|f| !f.is_empty());
    // After ')' come fields 3.. ; num_threads is field 20, so the 18th here.
    matches!(fields.nth(17), Some(b"1") | None)
}

/// A promise that the process will use no fd handle (`OwnedFd`, `BorrowedFd`, `File`,
/// ...) again except those on fds 0-2 and on the fds it asks imp-core to keep: every
/// other fd may be closed under it.
///
/// True in a child of `fork` that only runs imp-core's steps before `execve` or
/// `exit` (the handles of the code that called fork are never used there again); a
/// program makes it for itself with the `unsafe` [`OnlyKeptFds::promise`], for
/// [`run`](crate::spawn::run), which closes every other fd and then execs in place.
#[derive(Debug)]
pub struct OnlyKeptFds(());

impl OnlyKeptFds {
    /// The program's promise.
    ///
    /// # Safety
    /// From this call on, no fd handle other than those on fds 0-2 and on the kept
    /// fds may be used or dropped (closing a handle's fd a second time, or using it
    /// after its number was reused, breaks Rust's I/O safety).
    pub const unsafe fn promise() -> OnlyKeptFds {
        OnlyKeptFds(())
    }
}

/// The result of [`fork`].
pub(crate) enum Fork {
    /// In the child, which has one thread, and which must never return into the code
    /// that called [`fork`]: it runs imp-core's steps and then execs or exits (hence
    /// the [`OnlyKeptFds`]).
    Child(OnlyKeptFds, SingleThreaded),
    /// In the parent: the child's pid.
    Parent(Pid),
}

/// `fork()`—Create a child process.
///
/// # References
/// - [POSIX](https://pubs.opengroup.org/onlinepubs/9799919799/functions/fork.html)
/// - [Linux](https://man7.org/linux/man-pages/man2/fork.2.html)
pub(crate) fn fork(_: &SingleThreaded) -> Result<Fork, Errno> {
    // SAFETY: the process has one thread (the proof), so the child holds no lock
    // another thread took; imp-core installs no atfork handler and allocates nothing.
    match unsafe { rustix::runtime::fork()? } {
        // A child of fork has one thread; it runs only imp-core's steps.
        rustix::runtime::Fork::Child(_) => Ok(Fork::Child(OnlyKeptFds(()), SingleThreaded(()))),
        rustix::runtime::Fork::Parent(pid) => Ok(Fork::Parent(pid)),
    }
}

/// A NULL-terminated array of pointers to C strings that outlive it: the `envp` of
/// [`execve`]. Entries past its capacity are counted, not stored.
#[repr(C)] // the length first, at a short offset: -16 to -24 B
pub(crate) struct CStrList<'a, const N: usize> {
    len: usize,
    /// `N` entries and the NULL after them.
    ptrs: [*const c_char; N],
    strings: core::marker::PhantomData<&'a CStr>,
}

impl<'a, const N: usize> CStrList<'a, N> {
    const CAPACITY: usize = {
        assert!(N > 1);
        N - 1
    };

    /// An empty list.
    pub(crate) fn new() -> Self {
        CStrList {
            ptrs: [core::ptr::null(); N],
            len: 0,
            strings: core::marker::PhantomData,
        }
    }

    /// Adds a string (counted only when the list is full).
    #[inline(never)] // one copy: -40 B
    pub(crate) fn push(&mut self, s: &'a CStr) {
        if self.len < Self::CAPACITY {
            self.ptrs[self.len] = s.as_ptr();
        }
        self.len += 1;
    }

    /// True when some pushed strings did not fit.
    pub(crate) fn overflowed(&self) -> bool {
        self.len > Self::CAPACITY
    }

    /// The list as an `envp` for [`execve`], for as long as the list lives.
    pub(crate) fn as_array(&'a self) -> CStrArray {
        // SAFETY: the slots past `len` (the last one at least) are NULL, and every
        // pointer is to a string that outlives the list; the array is borrowed from
        // the list for `'a`, which the strings outlive too.
        unsafe { CStrArray::from_raw(self.ptrs.as_ptr()) }
    }
}

/// `execve(path, argv, envp)`—Replace the process image; returns only on failure.
///
/// # References
/// - [Linux](https://man7.org/linux/man-pages/man2/execve.2.html)
pub(crate) fn execve(path: &CStr, argv: CStrArray, envp: CStrArray) -> Errno {
    // SAFETY: argv and envp are CStrArrays (NULL-terminated arrays of C strings, valid
    // as long as the process runs this image).
    unsafe { rustix::runtime::execve(path, argv.as_ptr().cast(), envp.as_ptr().cast()) }
}

/// `exit_group(code)`—End the process at once: no destructor, no atexit handler runs.
#[inline(never)] // one copy (aarch64): -20 B
pub fn exit(code: i32) -> ! {
    rustix::runtime::exit_group(code)
}

/// The empty signal set.
fn sigset_empty() -> rustix::runtime::Sigset {
    // SAFETY: the kernel sigset is a plain array of integers; all-zero is the empty set.
    unsafe { core::mem::zeroed() }
}

/// Unblocks every signal (`sigprocmask(SIG_SETMASK, {})`).
pub(crate) fn unblock_all_signals() -> Result<(), Errno> {
    // SAFETY: sets this thread's mask only; imp-core relies on no blocked signal.
    unsafe { rustix::runtime::sigprocmask(rustix::runtime::How::SETMASK, Some(&sigset_empty())) }
        .map(|_| ())
}

/// Blocks every signal that can be blocked (`sigprocmask(SIG_SETMASK, all)`).
pub(crate) fn block_all_signals() -> Result<(), Errno> {
    let mut all = sigset_empty();
    for w in all.sig.iter_mut() {
        *w = !0;
    }
    // SAFETY: as above; the kernel ignores the bits of SIGKILL and SIGSTOP.
    unsafe { rustix::runtime::sigprocmask(rustix::runtime::How::SETMASK, Some(&all)) }.map(|_| ())
}

/// The set holding only SIGPIPE.
fn sigpipe_set() -> rustix::runtime::Sigset {
    let mut set = sigset_empty();
    set.sig[0] = 1 << (linux_raw_sys::general::SIGPIPE - 1);
    set
}

/// Blocks SIGPIPE (`sigprocmask(SIG_BLOCK, {PIPE})`): a write to a closed pipe then
/// fails with `EPIPE` instead of killing the process.
pub(crate) fn block_sigpipe() {
    // SAFETY: changing the mask runs no code of ours; imp-core installs no handler.
    let _ =
        unsafe { rustix::runtime::sigprocmask(rustix::runtime::How::BLOCK, Some(&sigpipe_set())) };
}

/// Takes a pending SIGPIPE, if there is one, without acting on it
/// (`rt_sigtimedwait({PIPE}, 0)`): the one a write to a closed report pipe left while
/// signals were blocked must not kill the program at the unblock before exec.
pub(crate) fn discard_pending_sigpipe() {
    let now = rustix::time::Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: SIGPIPE is blocked here (every signal is, before exec) and nothing of
    // ours waits for it: taking it from the pending set only discards it.
    let _ = unsafe { rustix::runtime::sigtimedwait(&sigpipe_set(), Some(now)) };
}

/// A signal set as imp keeps it (`SignalSet`): signal `n` is bit `(n - 1) % 32` of
/// word `(n - 1) / 32`, for every number up to 128 (MIPS's highest).
pub(crate) type SignalBits = [u32; 4];

// Every kernel sigset (64 bits, 128 on MIPS) fits in a SignalBits.
static_assertions::const_assert!(
    core::mem::size_of::<rustix::runtime::Sigset>() <= core::mem::size_of::<SignalBits>()
);

/// The kernel sigset of `bits`: each kernel word (32 or 64 bits) from the 32-bit
/// words of its signals, lowest first.
fn sigset_of(bits: &SignalBits) -> rustix::runtime::Sigset {
    const PER_WORD: usize = core::mem::size_of::<core::ffi::c_ulong>() / 4;
    let mut set = sigset_empty();
    for (i, w) in set.sig.iter_mut().enumerate() {
        for j in 0..PER_WORD {
            *w |= (bits[i * PER_WORD + j] as core::ffi::c_ulong) << (32 * j);
        }
    }
    set
}

/// `sigprocmask(SIG_BLOCK, set)`—Adds the signals of `bits` to this thread's mask
/// (the kernel leaves SIGKILL and SIGSTOP out).
///
/// # References
/// - [POSIX](https://pubs.opengroup.org/onlinepubs/9799919799/functions/pthread_sigmask.html)
/// - [Linux](https://man7.org/linux/man-pages/man2/rt_sigprocmask.2.html)
pub(crate) fn block_signals(bits: &SignalBits) -> Result<(), Errno> {
    // SAFETY: blocking runs no code of ours (imp-core installs no handler); a blocked
    // signal waits, pending, until it is taken or unblocked.
    unsafe { rustix::runtime::sigprocmask(rustix::runtime::How::BLOCK, Some(&sigset_of(bits))) }
        .map(|_| ())
}

/// `clock_gettime(CLOCK_MONOTONIC)`, in nanoseconds: the raw syscall, as rustix's call
/// goes through the vDSO, whose lookup (auxv, ELF symbol tables) costs a daemon that
/// wakes once a second about 2 KB of code.
pub(crate) fn monotonic_ns() -> u64 {
    // The kernel's `struct timespec` of this syscall: two longs (the 32-bit one on
    // 32-bit targets, which holds any uptime).
    let mut ts: [core::ffi::c_long; 2] = [0; 2];
    // SAFETY: the kernel writes one timespec, two longs, to `ts` and reads nothing.
    let _ = unsafe {
        syscalls::syscall2(
            syscalls::Sysno::clock_gettime,
            linux_raw_sys::general::CLOCK_MONOTONIC as usize,
            ts.as_mut_ptr() as usize,
        )
    };
    ts[0] as u64 * 1_000_000_000 + ts[1] as u64
}

/// `sigprocmask(SIG_SETMASK, bits)`—Blocks exactly `bits` in this thread: every other
/// signal unblocked (a pending one acts now), those of `bits` left pending.
pub(crate) fn set_signal_mask(bits: &SignalBits) -> Result<(), Errno> {
    // SAFETY: as for block_signals; unblocking runs default actions only (imp-core
    // installs no handler).
    unsafe { rustix::runtime::sigprocmask(rustix::runtime::How::SETMASK, Some(&sigset_of(bits))) }
        .map(|_| ())
}

/// `rt_sigtimedwait(set, timeout)`—Takes a pending signal of `bits` from this thread's
/// or the process's pending set, waiting up to `timeout` (`None`: forever); its
/// number. `EAGAIN`: the timeout passed with none pending; `EINTR`: a handler ran, or
/// the process was stopped and continued.
///
/// # References
/// - [POSIX](https://pubs.opengroup.org/onlinepubs/9799919799/functions/sigtimedwait.html)
/// - [Linux](https://man7.org/linux/man-pages/man2/sigtimedwait.2.html)
pub(crate) fn take_signal(
    bits: &SignalBits,
    timeout: Option<rustix::time::Timespec>,
) -> Result<i32, Errno> {
    // SAFETY: the callers ask only for signals their `Signals` blocked: no handler,
    // imp-core's or anyone's, runs for a blocked signal, so taking one from the
    // pending set takes it from nobody who could be relying on its delivery.
    let info = unsafe { rustix::runtime::sigtimedwait(&sigset_of(bits), timeout) }?;
    // SAFETY: the kernel filled the siginfo of the signal it took; `si_signo` is the
    // first int of the union's common part on every architecture.
    Ok(unsafe { info.__bindgen_anon_1.__bindgen_anon_1.si_signo })
}

/// Tests only: forks a child that runs `f` and exits with its value, from the test
/// harness, which has other threads. `f` may only make raw syscalls: no allocation,
/// no lock, no panic (a lock another thread held at the fork stays held in the
/// child); the caller waits for the child with a timeout.
#[cfg(test)]
pub(crate) fn fork_test_child(f: &mut dyn FnMut() -> i32) -> Result<Pid, Errno> {
    // SAFETY: the child runs only `f`, which the contract above keeps to raw syscalls
    // on its own stack and the memory copied at the fork (no lock or allocator state
    // another thread may have left half-changed), and ends with exit_group, never
    // returning into the harness.
    match unsafe { rustix::runtime::fork()? } {
        rustix::runtime::Fork::Child(_) => exit(f()),
        rustix::runtime::Fork::Parent(pid) => Ok(pid),
    }
}

/// Puts every catchable signal, real-time ones included, back to its default
/// disposition (`SIG_DFL`): `execve` keeps ignored signals ignored, and a daemon must
/// not inherit its caller's `SIG_IGN`.
///
/// This is `rt_sigaction(sig, &SIG_DFL, NULL)` through the `syscalls` crate, not
/// rustix's `sigaction`: rustix always asks for the old action, and qemu-user's MIPS
/// o32 emulation (7.2, Debian 12) writes 28 bytes into that 24-byte buffer, which
/// clobbered a saved register of ours (docs/qemu-mips-sigaction.md).
pub(crate) fn reset_signal_dispositions() {
    use linux_raw_sys::general::{SIGKILL, SIGSTOP};
    let dfl = sigaction_default();
    // Every signal number the kernel's sigset has: 64, or 128 on MIPS.
    let nsig = 8 * core::mem::size_of::<rustix::runtime::Sigset>();
    for sig in 1..=nsig {
        if sig == SIGKILL as usize || sig == SIGSTOP as usize {
            continue;
        }
        // SAFETY: installing SIG_DFL (a null handler) never runs code of ours; `dfl`
        // is a valid kernel_sigaction (empty mask, no flags) read only during the
        // call; a NULL old-action pointer asks for nothing back. A number the kernel
        // (or qemu) does not have fails with EINVAL, which changes nothing.
        let _ = unsafe {
            syscalls::syscall4(
                syscalls::Sysno::rt_sigaction,
                sig,
                &dfl as *const rustix::runtime::Sigaction as usize,
                0,
                core::mem::size_of::<rustix::runtime::Sigset>(),
            )
        };
    }
}

/// `SIG_DFL` with no flags and an empty mask.
fn sigaction_default() -> rustix::runtime::Sigaction {
    // SAFETY: kernel_sigaction is plain integers and pointers; all-zero is SIG_DFL.
    unsafe { core::mem::zeroed() }
}

/// `setgroups(n, gids)`—Set the supplementary groups of this thread.
///
/// On 32-bit ARM, rustix 0.38 calls `__NR_setgroups`, which there is the legacy
/// 16-bit call (gids would be read as pairs of `u16`: `[2000]` became `0 2000`); the
/// 32-bit call is `setgroups32`, made here through the `syscalls` crate. Elsewhere
/// rustix's call is the 32-bit one.
///
/// # References
/// - [Linux](https://man7.org/linux/man-pages/man2/setgroups.2.html) ("C library/kernel differences")
pub(crate) fn set_groups(gids: &[Gid]) -> Result<(), Errno> {
    #[cfg(target_arch = "arm")]
    {
        // SAFETY: setgroups32 reads exactly `len` 32-bit gids from `ptr`; `Gid` is a
        // `repr(transparent)` u32.
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
        rustix::thread::set_thread_groups(gids)
    }
}

/// `prctl(option, arg2, arg3, 0, 0)` for the options here, which take and return
/// plain integers.
#[cfg(feature = "harden")]
fn prctl_int(option: usize, arg2: usize, arg3: usize) -> Result<usize, Errno> {
    // SAFETY: PR_CAPBSET_DROP and PR_CAP_AMBIENT (RAISE, IS_SET) read integers only:
    // no pointer is passed, no memory is touched.
    unsafe { syscalls::syscall5(syscalls::Sysno::prctl, option, arg2, arg3, 0, 0) }
        .map_err(|e| Errno::from_raw_os_error(e.into_raw()))
}

/// prctl(2)'s numbers (`linux/prctl.h`), the same on every architecture.
#[cfg(feature = "harden")]
const PR_CAPBSET_DROP: usize = 24;
#[cfg(feature = "harden")]
const PR_CAP_AMBIENT: usize = 47;
#[cfg(feature = "harden")]
const PR_CAP_AMBIENT_IS_SET: usize = 1;
#[cfg(feature = "harden")]
const PR_CAP_AMBIENT_RAISE: usize = 2;

/// `prctl(PR_CAPBSET_DROP, cap)`—Drops capability `cap` (a number: rustix 0.38 takes
/// only the ones its enum names) from the bounding set; `EINVAL` past the kernel's
/// last one, `EPERM` without `CAP_SETPCAP`.
///
/// # References
/// - [Linux](https://man7.org/linux/man-pages/man2/PR_CAPBSET_DROP.2const.html)
#[cfg(feature = "harden")]
pub(crate) fn capbset_drop(cap: u32) -> Result<(), Errno> {
    prctl_int(PR_CAPBSET_DROP, cap as usize, 0).map(|_| ())
}

/// `prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap)`—Adds `cap` (in the permitted and
/// inheritable sets) to the ambient set; `EINVAL` on a kernel without ambient
/// capabilities (before 4.3) or for a capability it does not have.
///
/// # References
/// - [Linux](https://man7.org/linux/man-pages/man2/PR_CAP_AMBIENT.2const.html)
#[cfg(feature = "harden")]
pub(crate) fn cap_ambient_raise(cap: u32) -> Result<(), Errno> {
    prctl_int(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap as usize).map(|_| ())
}

/// `prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, cap)`—Whether `cap` is in the ambient
/// set; `EINVAL` on a kernel without ambient capabilities.
#[cfg(feature = "harden")]
pub(crate) fn cap_ambient_is_set(cap: u32) -> Result<bool, Errno> {
    prctl_int(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, cap as usize).map(|r| r != 0)
}

/// A lock to take: who owns it and how.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LockKind {
    /// A write lock of the open file description (`F_OFD_SETLK`, Linux 3.15+): it lives
    /// while any fd of that description is open, in any process.
    FileWrite,
    /// A read lock of the open file description.
    FileRead,
    /// A POSIX read lock of the process (`F_SETLK`): it dies when the process closes
    /// *any* fd of the file, and a child does not inherit it; `F_GETLK` names its pid.
    ProcessRead,
    /// A POSIX write lock of the process.
    ProcessWrite,
}

/// The bytes `start..start + len` (`len` 0: to the end of the file, as it grows).
pub(crate) type Bytes = (i64, i64);

#[cfg(target_pointer_width = "64")]
use linux_raw_sys::general::{flock, F_GETLK, F_SETLK};
#[cfg(target_pointer_width = "32")]
use linux_raw_sys::general::{flock64 as flock, F_GETLK64 as F_GETLK, F_SETLK64 as F_SETLK};
use linux_raw_sys::general::{F_OFD_GETLK, F_OFD_SETLK, F_RDLCK, F_UNLCK, F_WRLCK};

/// `fcntl(fd, cmd, &flock)` on one `struct flock` (`flock64` with `fcntl64` on 32-bit
/// targets) for `bytes`; returns the struct as the kernel left it.
fn fcntl_flock(fd: BorrowedFd<'_>, cmd: u32, l_type: u32, bytes: Bytes) -> Result<flock, Errno> {
    #[cfg(target_pointer_width = "64")]
    const NR: syscalls::Sysno = syscalls::Sysno::fcntl;
    #[cfg(target_pointer_width = "32")]
    const NR: syscalls::Sysno = syscalls::Sysno::fcntl64;
    let mut lk = flock {
        l_type: l_type as _,
        l_whence: linux_raw_sys::general::SEEK_SET as _,
        l_start: bytes.0 as _,
        l_len: bytes.1 as _,
        // Must be 0 for the OFD commands.
        l_pid: 0,
    };
    // SAFETY: these commands read (and the GETLK ones write) exactly one `struct flock`
    // (flock64 on 32-bit targets, matching fcntl64 and the *64 and OFD commands), which
    // `lk` is, for the duration of the call.
    unsafe {
        syscalls::syscall3(
            NR,
            fd.as_raw_fd() as usize,
            cmd as usize,
            &mut lk as *mut flock as usize,
        )
    }
    .map_err(|e| Errno::from_raw_os_error(e.into_raw()))?;
    Ok(lk)
}

/// `fcntl(fd, F_OFD_SETLK)` (or `F_SETLK`)—Takes or converts a lock on `bytes` without
/// waiting (`EAGAIN` or `EACCES`: someone holds a conflicting one; `EINVAL` for an OFD
/// lock: the kernel is older than 3.15).
///
/// # References
/// - [Linux](https://man7.org/linux/man-pages/man2/fcntl.2.html) ("Advisory record
///   locking", "Open file description locks")
pub(crate) fn set_lock(fd: BorrowedFd<'_>, lock: LockKind, bytes: Bytes) -> Result<(), Errno> {
    let (cmd, l_type) = match lock {
        LockKind::FileWrite => (F_OFD_SETLK, F_WRLCK),
        LockKind::FileRead => (F_OFD_SETLK, F_RDLCK),
        LockKind::ProcessRead => (F_SETLK, F_RDLCK),
        LockKind::ProcessWrite => (F_SETLK, F_WRLCK),
    };
    fcntl_flock(fd, cmd, l_type, bytes).map(|_| ())
}

/// `fcntl(fd, F_OFD_GETLK)`—Who would stop us from write-locking `bytes`? `None`:
/// nobody; else the holder's pid: 0 when it is outside this PID namespace, -1 for an
/// open file description lock, which has no pid.
///
/// Asked as an open file description, the kernel reports POSIX locks with their pid,
/// this process's own included — plain `F_GETLK` hides those, so a pidfile imp itself
/// holds locked (inherited, `imp run -p P -- imp stop -p P`) would look unlocked — and
/// OFD locks of other descriptions as pid -1. Plain `F_GETLK` on kernels without OFD
/// locks (`EINVAL`, before 3.15).
pub(crate) fn lock_holder(fd: BorrowedFd<'_>, bytes: Bytes) -> Result<Option<i32>, Errno> {
    let lk = match fcntl_flock(fd, F_OFD_GETLK, F_WRLCK, bytes) {
        Err(Errno::INVAL) => fcntl_flock(fd, F_GETLK, F_WRLCK, bytes),
        r => r,
    }?;
    Ok((lk.l_type as u32 != F_UNLCK).then_some(lk.l_pid))
}

/// `fcntl(fd, F_OFD_GETLK)` over `bytes`, as [`lock_holder`], with where the first
/// lock found starts: `(pid, start)`.
pub(crate) fn lock_in(fd: BorrowedFd<'_>, bytes: Bytes) -> Result<Option<(i32, i64)>, Errno> {
    let lk = match fcntl_flock(fd, F_OFD_GETLK, F_WRLCK, bytes) {
        Err(Errno::INVAL) => fcntl_flock(fd, F_GETLK, F_WRLCK, bytes),
        r => r,
    }?;
    Ok((lk.l_type as u32 != F_UNLCK).then_some((lk.l_pid, lk.l_start)))
}

/// `fcntl(fd, F_SETLK, F_UNLCK)`—Gives up this process's POSIX locks on `bytes`.
pub(crate) fn unlock(fd: BorrowedFd<'_>, bytes: Bytes) -> Result<(), Errno> {
    fcntl_flock(fd, F_SETLK, F_UNLCK, bytes).map(|_| ())
}

/// `ioctl(fd, FIOSETOWN, getpid())` and `ioctl(fd, FIOASYNC, 1)`—SIGIO to this process
/// whenever `fd` (a socket: `FIOSETOWN` is the sockets' ioctl) has data: a supervisor
/// that waits in `sigtimedwait` hears of its program's output that way.
///
/// # References
/// - [fcntl(2)](https://man7.org/linux/man-pages/man2/fcntl.2.html)
///   (`F_SETOWN`, `O_ASYNC`: the ioctls are their generic forms)
#[cfg(feature = "supervise")]
pub(crate) fn signal_io_to_me(fd: BorrowedFd<'_>) -> Result<(), Errno> {
    use core::ffi::c_int;
    use linux_raw_sys::ioctl::{FIOASYNC, FIOSETOWN};
    use rustix::ioctl::{ioctl, BadOpcode, RawOpcode, Setter};
    let me: c_int = rustix::process::getpid().as_raw_nonzero().get();
    // SAFETY: FIOSETOWN and FIOASYNC each read one `int` through the pointer that
    // `Setter` passes to the `c_int` it holds, for the duration of the call.
    unsafe {
        ioctl(
            fd,
            Setter::<BadOpcode<{ FIOSETOWN as RawOpcode }>, c_int>::new(me),
        )?;
        ioctl(
            fd,
            Setter::<BadOpcode<{ FIOASYNC as RawOpcode }>, c_int>::new(1),
        )
    }
}

/// `pidfd_send_signal(fd, sig, NULL, 0)`—Signal the process `fd` refers to. Through
/// the `syscalls` crate: rustix 0.38 takes only its `Signal` enum, which has no
/// real-time signal.
///
/// # References
/// - [Linux](https://man7.org/linux/man-pages/man2/pidfd_send_signal.2.html) (5.1+)
pub(crate) fn pidfd_send_signal(fd: BorrowedFd<'_>, sig: i32) -> Result<(), Errno> {
    // SAFETY: plain numbers; a NULL siginfo asks the kernel to fill it as kill does.
    unsafe {
        syscalls::syscall4(
            syscalls::Sysno::pidfd_send_signal,
            fd.as_raw_fd() as usize,
            sig as usize,
            0,
            0,
        )
    }
    .map(|_| ())
    .map_err(|e| Errno::from_raw_os_error(e.into_raw()))
}

/// `kill(pid, sig)`, and `kill(-pgid, sig)` for a process group: `pid` is a `Pid`, so
/// never 0 or negative, and a group of 1 is refused (`kill(-1)` would signal every
/// process). As [`pidfd_send_signal`], for real-time signals; signal 0 asks whether
/// the process (group) exists.
///
/// # References
/// - [Linux](https://man7.org/linux/man-pages/man2/kill.2.html)
pub(crate) fn kill(pid: Pid, group: bool, sig: i32) -> Result<(), Errno> {
    let raw = pid.as_raw_nonzero().get();
    if group && raw == 1 {
        return Err(Errno::INVAL);
    }
    let target = if group { -raw } else { raw };
    // SAFETY: plain numbers; `target` is a positive pid or a group below -1.
    unsafe { syscalls::syscall2(syscalls::Sysno::kill, target as usize, sig as usize) }
        .map(|_| ())
        .map_err(|e| Errno::from_raw_os_error(e.into_raw()))
}

/// `close_range(first, last, 0)`—Close every fd in `first..=last`.
///
/// The caller must not name fds in the range that it keeps (0-2 are never closed by
/// imp-core: callers start at 3).
///
/// # References
/// - [Linux](https://man7.org/linux/man-pages/man2/close_range.2.html) (5.9+)
pub(crate) fn close_range(_: &OnlyKeptFds, first: u32, last: u32) -> Result<(), Errno> {
    // SAFETY: the syscall takes plain numbers; the promise says no handle on them is
    // used again.
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
pub(crate) fn close_raw(_: &OnlyKeptFds, fd: i32) {
    // SAFETY: as for close_range.
    unsafe { rustix::io::close(fd) }
}

/// `readlinkat(dir, name)` into `buf`: the target's length (`buf.len()` when it may
/// not fit).
pub(crate) fn readlink(dir: BorrowedFd<'_>, name: &CStr, buf: &mut [u8]) -> Result<usize, Errno> {
    // SAFETY: the kernel writes at most `len` initialized bytes at `ptr`; the slice is
    // a valid, writable byte buffer of that length for the call, and u8 and
    // MaybeUninit<u8> have the same layout.
    let out = unsafe {
        core::slice::from_raw_parts_mut(
            buf.as_mut_ptr().cast::<core::mem::MaybeUninit<u8>>(),
            buf.len(),
        )
    };
    rustix::fs::readlinkat_raw(dir, name, out).map(|(t, _)| t.len())
}

/// True when `fd` is an open fd of this process (`fcntl(F_GETFD)` succeeds).
pub(crate) fn fd_is_open(fd: i32) -> bool {
    if fd < 0 {
        return false;
    }
    // SAFETY: the borrow lives for one F_GETFD, which reads a flag and changes nothing;
    // on a closed number it fails with EBADF.
    rustix::io::fcntl_getfd(unsafe { BorrowedFd::borrow_raw(fd) }).is_ok()
}

/// Standard output (fd 1), as std treats it: open for the process's whole life.
/// imp-core never closes fds 0-2 (it only `dup2`s onto them, and opens `/dev/null`
/// onto any of them that is closed before it opens anything else).
pub(crate) fn stdout() -> BorrowedFd<'static> {
    // SAFETY: std's convention for the standard streams, above; a write to a closed
    // fd 1 fails with EBADF.
    unsafe { BorrowedFd::borrow_raw(1) }
}

/// Standard input (fd 0), as [`stdout`].
pub(crate) fn stdin() -> BorrowedFd<'static> {
    // SAFETY: as for stdout.
    unsafe { BorrowedFd::borrow_raw(0) }
}

/// Standard error (fd 2), as [`stdout`].
pub(crate) fn stderr() -> BorrowedFd<'static> {
    // SAFETY: as for stdout.
    unsafe { BorrowedFd::borrow_raw(2) }
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

    /// The array from entry `i - 1` on, with `head` written over that entry: a
    /// program's argv when its argv\[0\] is not on the command line before its
    /// arguments (start-stop-daemon's `--startas PATH -- ARGS`), without a copy (dpkg
    /// does the same).
    ///
    /// # Safety
    /// The array must be writable (this process's own argv, as the kernel hands it),
    /// `i` at least 1 and at most its length, and entry `i - 1` no longer needed.
    #[cfg(feature = "find")]
    pub unsafe fn with_head(self, i: usize, head: &'static CStr) -> CStrArray {
        let tail = self.skip(i - 1);
        // SAFETY: the caller's contract: the slot is writable and within the array;
        // `head` lives for the whole process, as the entries must.
        unsafe { *(tail.ptr as *mut *const c_char) = head.as_ptr() };
        tail
    }
}

/// A uid; `u32::MAX` (-1, "no change" to the kernel) becomes `u32::MAX - 1`, so a
/// set*id call can never be told to keep root.
pub(crate) fn uid(raw: u32) -> Uid {
    // SAFETY: from_raw is unsafe only because -1 means "unchanged" to set*id calls,
    // and -1 is mapped away above.
    unsafe { Uid::from_raw(raw.min(u32::MAX - 1)) }
}

/// A gid, as [`uid`].
pub(crate) fn gid(raw: u32) -> Gid {
    // SAFETY: as for uid.
    unsafe { Gid::from_raw(raw.min(u32::MAX - 1)) }
}

/// The tail of a C string from byte `at` on (`--opt=value` → `value`); empty if `at`
/// is past the end.
pub(crate) fn cstr_tail(s: &CStr, at: usize) -> &CStr {
    let bytes = s.to_bytes_with_nul();
    // SAFETY: `bytes[at..]` (at clamped to the NUL) ends with the original NUL and has
    // no interior NUL, since `s` had none.
    unsafe { CStr::from_bytes_with_nul_unchecked(&bytes[at.min(bytes.len() - 1)..]) }
}

/// The C string at the start of `buf` up to its first NUL (empty without one). For
/// paths assembled in fixed buffers.
pub(crate) fn cstr_in(buf: &[u8]) -> &CStr {
    match buf.iter().position(|&b| b == 0) {
        // SAFETY: `buf[..=i]` ends at its first NUL, so it has no interior NUL.
        Some(i) => unsafe { CStr::from_bytes_with_nul_unchecked(&buf[..=i]) },
        None => c"",
    }
}
