//! The pidfile contract (SPEC §3): created with `O_NOFOLLOW`, mode 0644, refused when
//! it or a directory on the way could be controlled by someone else; locked by the
//! daemon for its whole life; probed with `F_OFD_GETLK` (`F_GETLK` before Linux 3.15),
//! so the lock holder *is* the daemon and an unlocked pidfile is stale whatever it
//! says; removed only while holding the lock and only if the path still names the
//! locked inode.
//!
//! The locks (docs/CLI-CONTRACT.md, "Pidfile locks"): a start takes an open file
//! description (OFD) write lock on the whole file (one start wins), writes the pid, and
//! leaves the daemon one *read-only* fd — it cannot rewrite its pidfile — holding a
//! POSIX read lock on byte 0 (the identity: `F_OFD_GETLK` names its pid) and an OFD read
//! lock on byte 1 (the liveness: it survives the program closing another fd of the
//! file, and a fork whose parent exits, where the POSIX lock dies; `/proc` then says
//! whether the pid the content names holds it). A removal takes the OFD write lock on
//! the whole file again, so it never succeeds while a daemon holds either lock. Kernels
//! without OFD locks (before 3.15) keep the POSIX write lock on the whole file.

use crate::error::{Cause, Context, Error, Op, Reason};
use crate::fd::{self, FileId, Meta};
use crate::limits::{PATH_MAX, PIDFILE_READ_MAX};
use crate::num;
use crate::sys::{self, Bytes, LockKind};
use crate::walk;
use core::ffi::CStr;
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::fs::{AtFlags, FileType, Mode, OFlags};
use rustix::io::Errno;
use rustix::process::Pid;

/// The largest pid the kernel hands out when `/proc/sys/kernel/pid_max` cannot be read.
pub const PID_MAX_LIMIT: u32 = 4_194_304;

/// Parses pidfile content: a decimal pid in `2..=pid_max`, optionally followed by one
/// `\n`, nothing else (no sign, no space, no leading zero, no wrap-around).
pub fn parse_pid(content: &[u8], pid_max: u32) -> Option<u32> {
    let digits = content.strip_suffix(b"\n").unwrap_or(content);
    let n = num::decimal(digits)?;
    (2..=u64::from(pid_max)).contains(&n).then_some(n as u32)
}

/// What the pidfile says about the daemon.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// No pidfile (or no directory for it).
    Absent,
    /// A pidfile that no process holds locked: the daemon is gone.
    Stale,
    /// The daemon holds the lock and the pidfile names it.
    Running(Pid),
}

/// A pidfile opened for inspection (never for writing): the directory, and the file
/// if it exists.
pub struct Probe<'a> {
    /// The state found.
    pub state: State,
    base: &'a CStr,
    dir: Option<OwnedFd>,
    file: Option<OwnedFd>,
    ino: FileId,
}

/// A pidfile path, split once into its directory and name.
pub struct Path<'a> {
    path: &'a CStr,
    base: &'a CStr,
}

impl<'a> Path<'a> {
    /// Checks `path` names a file: a path ending in `/` (or empty, or `.`) is refused.
    #[inline(always)] // one caller: -24 B
    pub fn new(path: &'a CStr) -> Result<Path<'a>, Error> {
        let (_, base) = fd::split(path).map_err(|r| Error::check(Op::Open, r))?;
        Ok(Path { path, base })
    }

    /// Opens the directory as an `O_PATH` handle, walking to it without following
    /// anything another user could plant: every directory on the way (from `/`, or
    /// from the working directory for a relative path) owned by root or the caller and
    /// not writable by others unless sticky, symlinks only when root's or the
    /// caller's. A directory on a kernel interface file system (procfs, sysfs...) is
    /// refused: a pid written there would set a kernel tunable.
    pub fn open_dir(&self) -> Result<OwnedFd, Error> {
        let mut buf = [0; PATH_MAX];
        let dir = walk::walk(self.path, walk::Trust::caller(), &mut buf)?.dir;
        if walk::is_kernel_interface(&dir).op(Op::Open)? {
            return Err(Error::check(Op::Open, Reason::KernelFile));
        }
        Ok(dir)
    }

    /// The file's name inside its directory.
    pub fn base(&self) -> &'a CStr {
        self.base
    }
}

/// The kernel's pid_max, or [`PID_MAX_LIMIT`] when /proc cannot tell.
pub fn pid_max() -> u32 {
    let mut buf = [0u8; 16];
    match fd::read_small(c"/proc/sys/kernel/pid_max", &mut buf) {
        Ok(n) => parse_pid(&buf[..n], u32::MAX).unwrap_or(PID_MAX_LIMIT),
        Err(_) => PID_MAX_LIMIT,
    }
}

fn euid() -> u32 {
    rustix::process::geteuid().as_raw()
}

/// The file must be a regular file with one link, owned by root or us, writable by
/// nobody else.
fn check_file(st: &Meta) -> Result<(), Error> {
    if st.file_type() != FileType::RegularFile {
        return Err(Error::check(Op::Open, Reason::NotRegular));
    }
    if st.uid != 0 && st.uid != euid() {
        return Err(Error::check(Op::Open, Reason::Owner).with_id(st.uid));
    }
    if st.mode & 0o022 != 0 {
        return Err(Error::check(Op::Open, Reason::Writable));
    }
    if st.nlink > 1 {
        return Err(Error::check(Op::Open, Reason::HardLinked));
    }
    Ok(())
}

/// The (device, inode) `base` names now, if any (without following a symlink).
fn ino_at(dir: BorrowedFd<'_>, base: &CStr) -> Option<FileId> {
    fd::meta(dir, base).ok().map(|m| m.id)
}

/// `lstat` of the name: whether it exists; symlinks and non-regular files are refused
/// before anything opens them (a FIFO or a device is never opened).
fn stat_name(dir: BorrowedFd<'_>, base: &CStr) -> Result<bool, Error> {
    match fd::meta(dir, base) {
        Ok(st) => {
            if st.file_type() == FileType::Symlink {
                return Err(Error::check(Op::Open, Reason::Symlink));
            }
            check_file(&st)?;
            Ok(true)
        }
        Err(Errno::NOENT) => Ok(false),
        Err(e) => Err(Error::sys(Op::Open, e)),
    }
}

/// Opens an existing pidfile without following a symlink, without blocking, and checks
/// it is the file that was stat'ed; returns it with its (device, inode).
fn open_existing(
    dir: BorrowedFd<'_>,
    base: &CStr,
    flags: OFlags,
) -> Result<Option<(OwnedFd, FileId)>, Error> {
    let flags = flags | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC | OFlags::NOCTTY;
    if !stat_name(dir, base)? {
        return Ok(None);
    }
    let file = match fd::openat(dir, base, flags, Mode::empty()) {
        Ok(f) => f,
        Err(Errno::NOENT) => return Ok(None),
        Err(Errno::LOOP) => return Err(Error::check(Op::Open, Reason::Symlink)),
        Err(e) => return Err(Error::sys(Op::Open, e)),
    };
    let st = fd::meta(file.as_fd(), c"").op(Op::Open)?;
    check_file(&st)?;
    Ok(Some((file, st.id)))
}

/// Reads and checks the pid a locked pidfile names.
fn read_pid(file: BorrowedFd<'_>) -> Result<u32, Error> {
    let mut buf = [0u8; PIDFILE_READ_MAX];
    let n = fd::read_head(file, &mut buf).op(Op::Read)?;
    let pid = parse_pid(&buf[..n], pid_max()).ok_or(Error::check(Op::Read, Reason::Invalid))?;
    let me = rustix::process::getpid().as_raw_nonzero().get() as u32;
    let parent = rustix::process::getppid().map_or(0, |p| p.as_raw_nonzero().get() as u32);
    if pid == me || pid == parent {
        return Err(Error::check(Op::Read, Reason::NamesSelf));
    }
    Ok(pid)
}

/// The byte the daemon's POSIX read lock covers: its identity (`F_OFD_GETLK` names its
/// pid).
const IDENTITY: Bytes = (0, 1);
/// The byte the daemon's OFD read lock covers: its liveness, kept where the POSIX lock
/// dies with the daemon still running.
const LIVENESS: Bytes = (1, 1);
/// The whole file, as it grows: what a start and a removal lock for writing.
const WHOLE: Bytes = (0, 0);

/// What a supervisor publishes about its program, each value as the offset of a
/// one-byte POSIX read lock it holds far past the content (2^40 bytes apart):
/// readable by whoever can open the pidfile (`F_OFD_GETLK` reports where a lock
/// starts), with no file, socket or `/proc` (docs/CLI-CONTRACT.md, "Supervisor
/// state"). Changing a value is two `fcntl`s: nothing is opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Field {
    /// The program's pid (none while it is not running).
    Program = 1,
    /// How many times the program was restarted.
    Restarts = 2,
    /// How the last run ended: its exit status, or 256 + the signal that killed it.
    LastExit = 3,
    /// When the current run started, in whole seconds of `CLOCK_MONOTONIC`.
    Started = 4,
}

/// How far apart the published fields lie: 2^40 bytes, above any pid, count or
/// uptime, and the fields still within `i64` offsets.
const FIELD_SPAN: i64 = 1 << 40;

/// The bytes field `f`'s lock may lie in.
const fn field_bytes(f: Field) -> Bytes {
    (FIELD_SPAN * f as i64, FIELD_SPAN)
}

/// Who would stop a write lock on `bytes`.
#[inline(always)] // four callers, each a plain call: -124 B (aarch64), -88 B (x86_64)
fn holder_of(file: BorrowedFd<'_>, bytes: Bytes) -> Result<Option<i32>, Error> {
    sys::lock_holder(file, bytes).op(Op::Lock)
}

/// Takes the OFD write lock on the whole file (the POSIX one before Linux 3.15): it
/// conflicts with every lock a daemon or a start holds, so holding it means none does.
fn exclude(file: BorrowedFd<'_>) -> Result<(), Errno> {
    match sys::set_lock(file, LockKind::FileWrite, WHOLE) {
        Err(Errno::INVAL) => sys::set_lock(file, LockKind::ProcessWrite, WHOLE),
        r => r,
    }
}

/// What the locks and the content say (the module's doc has the protocol): stale when
/// nothing holds a lock, whatever the content names — imp's own pid or its parent's
/// included (pids repeat after a reboot and in containers; a lock imp itself holds is
/// reported by `F_OFD_GETLK`, so it is never imp's own pidfile); else the pid the
/// content names, when the kernel (the POSIX lock) or `/proc` (the OFD lock) says it
/// holds the lock.
fn state(file: BorrowedFd<'_>, id: FileId) -> Result<State, Error> {
    // Liveness first: a daemon that exits loses its POSIX lock before its OFD one.
    let live = holder_of(file, LIVENESS)?;
    let posix = holder_of(file, IDENTITY)?;
    if live.is_none() && posix.is_none() {
        return Ok(State::Stale);
    }
    let pid = read_pid(file)?;
    // The daemon's POSIX read lock (or the write lock of a daemon imp's first protocol
    // started, or one on a kernel without OFD locks) names it; where that lock is gone
    // (the program closed another fd of its pidfile, or forked and let its parent
    // exit), the OFD lock is held by the pid named, if `/proc` says so.
    if posix != Some(pid as i32) && !(live.is_some() && holds(pid, id)) {
        let lock = |r: Reason| Error::check(Op::Lock, r);
        return Err(match posix {
            Some(0) => lock(Reason::Outside),
            Some(h) if h > 0 => lock(Reason::HolderMismatch).with_id(h as u32),
            // An OFD lock (a start under way, or not a daemon imp started), or a
            // liveness lock the named pid does not hold.
            _ => lock(Reason::Unidentified),
        });
    }
    Pid::from_raw(pid as i32)
        .map(State::Running)
        .ok_or(Error::check(Op::Read, Reason::Invalid))
}

/// Whether process `pid` holds a lock on the file `id` through one of its fds: its
/// `/proc/PID/fdinfo/N` shows `lock:` lines for the locks taken through fd N. Reading
/// another user's `/proc/PID/fd` needs the right to ptrace it: an unprivileged caller
/// finds no holder of root's daemon here.
fn holds(pid: u32, id: FileId) -> bool {
    let mut digits = [0; num::U32_DIGITS];
    let mut buf = [0; 24];
    let dir = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
    let open = |at, name: &CStr, flags| fd::openat(at, name, flags, Mode::empty()).ok();
    let Some(proc) = fd::join(&mut buf, &[b"/proc/", num::u32_dec(pid, &mut digits)])
        .and_then(|p| open(rustix::fs::CWD, p, dir))
    else {
        return false;
    };
    let (Some(fds), Some(infos)) = (
        open(proc.as_fd(), c"fd", dir),
        open(proc.as_fd(), c"fdinfo", dir),
    ) else {
        return false;
    };
    let mut dents = [core::mem::MaybeUninit::<u8>::uninit(); 1024];
    let mut it = rustix::fs::RawDir::new(fds.as_fd(), &mut dents);
    while let Some(Ok(entry)) = it.next() {
        let name = entry.file_name();
        let same = open(fds.as_fd(), name, OFlags::PATH | OFlags::CLOEXEC)
            .is_some_and(|f| fd::meta(f.as_fd(), c"").is_ok_and(|m| m.id == id));
        let mut text = [0; 512];
        let n = match open(infos.as_fd(), name, OFlags::RDONLY | OFlags::CLOEXEC) {
            Some(info) if same => fd::read_head(info.as_fd(), &mut text).unwrap_or(0),
            _ => 0,
        };
        if text[..n].windows(6).any(|w| w == b"\nlock:") {
            return true;
        }
    }
    false
}

/// How often, 1 ms apart, [`probe`] looks again at a locked pidfile whose content does
/// not name the lock holder yet.
const SETTLE_TRIES: u32 = 200;

/// Inspects a pidfile without changing anything: never writes, creates, unlinks or
/// takes a lock.
///
/// A locked pidfile whose content is empty, partial, or names another pid is looked at
/// again for up to 200 ms: a daemon writes its pid only after taking the lock, and a
/// start or a `stop` locks the whole file briefly. Only a disagreement that lasts is
/// reported (`invalid`, `insecure`, `cannot be identified`).
pub fn probe(path: &CStr) -> Result<Probe<'_>, Error> {
    settled(|| probe_once(path))
}

/// Runs `f` again, 1 ms apart and for up to 200 ms, while it reports a disagreement
/// that a start or a stop under way explains.
fn settled<T>(mut f: impl FnMut() -> Result<T, Error>) -> Result<T, Error> {
    let mut tries = SETTLE_TRIES;
    loop {
        match f() {
            Err(e)
                if tries > 0
                    && matches!(
                        e.reason(),
                        Some(Reason::Invalid | Reason::HolderMismatch | Reason::Unidentified)
                    ) =>
            {
                tries -= 1;
                crate::process::sleep_ms(1);
            }
            r => return r,
        }
    }
}

#[inline(never)] // kept out of the retry loop: -232 B
fn probe_once(path: &CStr) -> Result<Probe<'_>, Error> {
    let path = Path::new(path)?;
    let dir = match path.open_dir() {
        Ok(d) => d,
        Err(e) if e.cause() == Cause::Errno(Errno::NOENT) => {
            return Ok(Probe {
                state: State::Absent,
                base: path.base,
                dir: None,
                file: None,
                ino: (0, 0),
            })
        }
        Err(e) => return Err(e),
    };
    let Some((file, file_ino)) = open_existing(dir.as_fd(), path.base, OFlags::RDONLY)? else {
        return Ok(Probe {
            state: State::Absent,
            base: path.base,
            dir: Some(dir),
            file: None,
            ino: (0, 0),
        });
    };
    let state = state(file.as_fd(), file_ino)?;
    Ok(Probe {
        state,
        base: path.base,
        ino: file_ino,
        dir: Some(dir),
        file: Some(file),
    })
}

/// What a pidfile says, read the way imp's start-stop-daemon personality trusts one
/// ([`find`](crate::find)).
#[cfg(feature = "find")]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Foreign {
    /// There is none.
    Absent,
    /// Its lock holder: a daemon imp started.
    Locked(Pid),
    /// imp made it (marked `trusted.imp`, see [`mark_made_by_imp`]) and nobody holds
    /// its lock: stale, whatever it says.
    Stale,
    /// The pid its content names: a pidfile the daemon wrote, trusted as dpkg trusts
    /// it (whether that pid runs is the caller's to check).
    Names(Pid),
    /// Its content names no valid pid (`12abc`, `-1`, `0`, empty), or it is
    /// `/dev/null` (what LSB's `start_daemon` passes for "no pidfile": nobody, as
    /// dpkg reads it).
    Nobody,
}

/// Reads a pidfile the way imp's start-stop-daemon personality trusts one (see
/// [`Foreign`]). The directories on the way may be the daemon user's (no symlink is
/// followed below one); the file must be a regular file with one link, not writable
/// by others (dpkg refuses a world-writable pidfile too), and, when `only_pidfile`
/// (nothing else says which process it is), owned by root or the caller in a
/// directory of theirs (dpkg: "matching only on non-root pidfile is insecure").
#[cfg(feature = "find")]
pub fn probe_foreign(path: &CStr, only_pidfile: bool) -> Result<Foreign, Error> {
    if path.to_bytes() == b"/dev/null" {
        return Ok(Foreign::Nobody);
    }
    settled(|| probe_foreign_once(path, only_pidfile))
}

/// The mark of a pidfile imp made, for [`probe_foreign`] to tell it from one a daemon
/// wrote once its lock is gone: an empty `trusted.imp` extended attribute, which only
/// root can set or see (tmpfs, ext4, ubifs... have them; where they are missing, or
/// for an unprivileged caller, the pidfile is read as a daemon's).
#[cfg(feature = "find")]
fn mark_made_by_imp(file: &OwnedFd) {
    let _ = rustix::fs::fsetxattr(file, MARK, b"", rustix::fs::XattrFlags::empty());
}

#[cfg(feature = "find")]
const MARK: &CStr = c"trusted.imp";

#[cfg(feature = "find")]
fn probe_foreign_once(path: &CStr, only_pidfile: bool) -> Result<Foreign, Error> {
    let path = Path::new(path)?;
    let mut buf = [0; PATH_MAX];
    let walked = match walk::walk(path.path, walk::Trust::anyone(), &mut buf) {
        Ok(w) => w,
        Err(e) if e.cause() == Cause::Errno(Errno::NOENT) => return Ok(Foreign::Absent),
        Err(e) => return Err(e),
    };
    if walk::is_kernel_interface(&walked.dir).op(Op::Open)? {
        return Err(Error::check(Op::Open, Reason::KernelFile));
    }
    let dir = walked.dir.as_fd();
    let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
    let file = match fd::meta(dir, path.base) {
        Err(Errno::NOENT) => return Ok(Foreign::Absent),
        Err(e) => return Err(Error::sys(Op::Open, e)),
        Ok(st) if st.file_type() == FileType::Symlink => {
            return Err(Error::check(Op::Open, Reason::Symlink))
        }
        Ok(st) if st.file_type() != FileType::RegularFile => {
            return Err(Error::check(Op::Open, Reason::NotRegular))
        }
        Ok(_) => match fd::openat(dir, path.base, flags | OFlags::NOCTTY, Mode::empty()) {
            Ok(f) => f,
            Err(Errno::NOENT) => return Ok(Foreign::Absent),
            Err(Errno::LOOP) => return Err(Error::check(Op::Open, Reason::Symlink)),
            Err(e) => return Err(Error::sys(Op::Open, e)),
        },
    };
    let st = fd::meta(file.as_fd(), c"").op(Op::Open)?;
    if st.file_type() != FileType::RegularFile {
        return Err(Error::check(Op::Open, Reason::NotRegular));
    }
    if st.mode & 0o002 != 0 {
        return Err(Error::check(Op::Open, Reason::Writable));
    }
    if st.nlink > 1 {
        return Err(Error::check(Op::Open, Reason::HardLinked));
    }
    if only_pidfile && st.uid != 0 && st.uid != euid() {
        return Err(Error::check(Op::Open, Reason::Owner).with_id(st.uid));
    }
    if only_pidfile && walked.user_ground {
        let owner = fd::meta(dir, c"").op(Op::Open)?.uid;
        return Err(Error::check(Op::Open, Reason::DirOwner).with_id(owner));
    }
    match state(file.as_fd(), st.id)? {
        State::Running(pid) => return Ok(Foreign::Locked(pid)),
        _ if rustix::fs::fgetxattr(&file, MARK, &mut [0u8; 1]).is_ok() => {
            return Ok(Foreign::Stale)
        }
        _ => {}
    }
    // The content, strictly; imp and its ancestors are left out by `find`, so that
    // they are "dead with a pidfile" whoever imp's parent is.
    let mut buf = [0u8; PIDFILE_READ_MAX];
    let n = fd::read_head(file.as_fd(), &mut buf).op(Op::Read)?;
    let pid = parse_pid(&buf[..n], pid_max()).and_then(|p| Pid::from_raw(p as i32));
    Ok(pid.map_or(Foreign::Nobody, Foreign::Names))
}

/// Removes a pidfile once nobody holds its lock (start-stop-daemon's
/// `--remove-pidfile`, after a stop), only if its name still names the file looked at:
/// a daemon that holds it is given up to `wait_ms` to exit (it was just signalled).
/// `Ok(false)`: there is none, or a daemon still holds it, left alone.
#[cfg(feature = "find")]
pub fn remove_released(path: &CStr, wait_ms: u32) -> Result<bool, Error> {
    let mut p = probe(path)?;
    if let State::Running(pid) = p.state {
        if !crate::process::wait_gone(pid, wait_ms) {
            return Ok(false);
        }
        p = probe(path)?;
    }
    match p.state {
        State::Stale => p.remove(),
        _ => Ok(false),
    }
}

impl Probe<'_> {
    /// Asks the kernel again whether `pid` still holds the lock: the re-check between
    /// opening a pidfd and signalling.
    #[inline(never)] // shared by open, wait and the supervisor's program: -72 B (respawn), -40 B (default)
    pub fn still_held_by(&self, pid: Pid) -> Result<bool, Error> {
        let Some(file) = &self.file else {
            return Ok(false);
        };
        let pid = pid.as_raw_nonzero().get();
        Ok(holder_of(file.as_fd(), IDENTITY)? == Some(pid) || holds(pid as u32, self.ino))
    }

    /// The value a supervisor holding this pidfile publishes in `f` ([`Field`]);
    /// `None` when nothing is published there (not a supervisor, or not now).
    pub fn published(&self, f: Field) -> Option<u64> {
        let file = self.file.as_ref()?;
        let (_, start) = sys::lock_in(file.as_fd(), field_bytes(f)).ok()??;
        Some((start - field_bytes(f).0) as u64)
    }

    /// Removes the pidfile if nobody holds its lock and the name still names the file
    /// that was probed. `Ok(false)`: someone (a new daemon) holds it, left alone.
    pub fn remove(&mut self) -> Result<bool, Error> {
        // Our read-only fd must be closed first: closing any fd of the file would drop
        // the lock we are about to take.
        drop(self.file.take());
        let Some(dir) = self.dir.take() else {
            return Ok(false);
        };
        remove_unlocked(dir.as_fd(), self.base, self.ino)
    }
}

/// Removes `base` if it is still the file `ino` and nobody holds its lock (taken here
/// for the whole file while unlinking). `Ok(false)`: someone holds it, left alone.
fn remove_unlocked(dir: BorrowedFd<'_>, base: &CStr, ino: FileId) -> Result<bool, Error> {
    let Some((file, file_ino)) = open_existing(dir, base, OFlags::RDWR).map_err(as_remove)? else {
        return Ok(false);
    };
    if file_ino != ino {
        return Ok(false);
    }
    match exclude(file.as_fd()) {
        Ok(()) => {}
        Err(Errno::AGAIN | Errno::ACCESS) => return Ok(false),
        Err(e) => return Err(Error::sys(Op::Remove, e)),
    }
    unlink_if_same(dir, base, &file)?;
    Ok(true)
}

fn as_remove(e: Error) -> Error {
    Error::retag(e, Op::Remove)
}

/// Unlinks `base` if it still names the inode `file` is open on.
fn unlink_if_same(dir: BorrowedFd<'_>, base: &CStr, file: &OwnedFd) -> Result<(), Error> {
    let now = ino_at(dir, base);
    if now == Some(fd::meta(file.as_fd(), c"").op(Op::Remove)?.id) {
        rustix::fs::unlinkat(dir, base, AtFlags::empty()).op(Op::Remove)?;
    }
    Ok(())
}

/// The daemon's lock on its pidfile, through exactly one fd: not `Clone`, and closing
/// any other fd of the file in this process would drop its POSIX part.
pub struct Lock {
    file: OwnedFd,
}

static_assertions::assert_not_impl_any!(Lock: Clone, Copy);

/// How often a start retries when the pidfile was replaced between open and lock.
const CREATE_TRIES: usize = 8;

/// Opens or creates the pidfile, moves its fd to its final number (`>= min_fd`), and
/// takes the whole file's write lock (so one start wins). Never truncates before the
/// lock is held; a running daemon's pidfile is never modified (`AlreadyRunning` with its
/// pid instead).
pub fn create_locked(dir: BorrowedFd<'_>, base: &CStr, min_fd: i32) -> Result<Lock, Error> {
    for _ in 0..CREATE_TRIES {
        stat_name(dir, base).map_err(as_create)?;
        let flags = OFlags::RDWR
            | OFlags::CREATE
            | OFlags::NOFOLLOW
            | OFlags::NONBLOCK
            | OFlags::CLOEXEC
            | OFlags::NOCTTY;
        let file = match fd::openat(dir, base, flags, Mode::from_raw_mode(0o644)) {
            Ok(f) => f,
            Err(Errno::LOOP) => return Err(Error::check(Op::Create, Reason::Symlink)),
            Err(e) => return Err(Error::sys(Op::Create, e)),
        };
        let st = fd::meta(file.as_fd(), c"").op(Op::Create)?;
        check_file(&st).map_err(as_create)?;
        // Give the fd its final number before locking: a later dup2 onto the locked fd,
        // or closing a duplicate, would drop the lock.
        let file = if fd::raw(&file) >= min_fd {
            file
        } else {
            match rustix::io::fcntl_dupfd_cloexec(&file, min_fd) {
                Ok(f) => f,
                Err(e) => {
                    // Not leaving the empty file just created behind. EINVAL: min_fd
                    // (above the last --keep-fd) is past RLIMIT_NOFILE.
                    discard_empty(dir, base);
                    let e = if e == Errno::INVAL { Errno::MFILE } else { e };
                    return Err(Error::sys(Op::Create, e));
                }
            }
        };
        match exclude(file.as_fd()) {
            Ok(()) => {}
            Err(Errno::AGAIN | Errno::ACCESS) => {
                // The winner may still be writing its pid: let it settle.
                let holder = match settled(|| state(file.as_fd(), st.id)) {
                    Ok(State::Running(p)) => p.as_raw_nonzero().get() as u32,
                    _ => 0,
                };
                return Err(Error::check(Op::Lock, Reason::AlreadyRunning).with_id(holder));
            }
            Err(e) => return Err(Error::sys(Op::Lock, e)),
        }
        // The name may have been unlinked (a stop removing a stale file) or replaced
        // between our open and our lock: then this lock guards nothing; start over.
        if ino_at(dir, base) != Some(st.id) {
            continue;
        }
        rustix::fs::fchmod(&file, Mode::from_raw_mode(0o644)).op(Op::Create)?;
        #[cfg(feature = "find")]
        mark_made_by_imp(&file);
        return Ok(Lock { file });
    }
    Err(Error::sys(Op::Lock, Errno::AGAIN))
}

/// Removes the pidfile if it is empty and nobody holds it: what a start that failed
/// between creating and writing it leaves (an empty file is never a valid pidfile).
fn discard_empty(dir: BorrowedFd<'_>, base: &CStr) {
    if let Ok(Some((f, _))) = open_existing(dir, base, OFlags::RDWR) {
        if fd::read_head(f.as_fd(), &mut [0; 1]) == Ok(0) && exclude(f.as_fd()).is_ok() {
            let _ = unlink_if_same(dir, base, &f);
        }
    }
}

fn as_create(e: Error) -> Error {
    match e.cause() {
        Cause::Errno(_) => Error::retag(e, Op::Create),
        Cause::Reason(_) => e,
    }
}

impl Lock {
    /// Replaces the content with `pid` and a newline.
    pub fn write_pid(&self, pid: u32) -> Result<(), Error> {
        // The digits end right before the newline.
        const D: usize = num::U32_DIGITS;
        let mut buf = [b'\n'; D + 1];
        let mut digits = [0u8; D];
        let n = num::u32_dec(pid, &mut digits).len();
        buf[D - n..D].copy_from_slice(&digits[D - n..]);
        rustix::fs::ftruncate(&self.file, 0).op(Op::Write)?;
        let line = &buf[D - n..];
        let n = fd::retry(|| rustix::io::pwrite(&self.file, line, 0)).op(Op::Write)?;
        if n != line.len() {
            return Err(Error::sys(Op::Write, Errno::NOSPC));
        }
        Ok(())
    }

    /// Trades the writable fd for a read-only one holding the daemon's two read locks
    /// (the module's doc): the daemon can then neither rewrite its pidfile nor lose its
    /// liveness by closing another fd of it. The new fd is `>= min_fd` too. On a kernel
    /// without OFD locks the writable fd and its POSIX write lock stay.
    pub fn hold_read_only(
        &mut self,
        dir: BorrowedFd<'_>,
        base: &CStr,
        min_fd: i32,
    ) -> Result<(), Error> {
        // The downgrade keeps the whole file locked against other starts: no gap.
        match sys::set_lock(self.file.as_fd(), LockKind::FileRead, WHOLE) {
            Err(Errno::INVAL) => return Ok(()),
            r => r.op(Op::Lock)?,
        }
        let flags =
            OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC | OFlags::NOCTTY;
        let r = fd::openat(dir, base, flags, Mode::empty()).op(Op::Lock)?;
        if fd::meta(r.as_fd(), c"").op(Op::Lock)?.id != self.file_id()? {
            // Renamed meanwhile, in a directory only root or the caller can write.
            return Err(Error::sys(Op::Lock, Errno::STALE));
        }
        sys::set_lock(r.as_fd(), LockKind::FileRead, LIVENESS).op(Op::Lock)?;
        // The writable fd closed (its number free again), the read-only one moved to
        // the lowest number `>= min_fd`, both before the POSIX lock: closing an fd of
        // the file after it would drop it.
        self.file = r;
        self.file = rustix::io::fcntl_dupfd_cloexec(&self.file, min_fd).op(Op::Lock)?;
        sys::set_lock(self.file.as_fd(), LockKind::ProcessRead, IDENTITY).op(Op::Lock)
    }

    /// Publishes `value` in `f` (see [`Field`]), in place of `old` (what was
    /// published there before); `None` publishes nothing.
    pub fn publish(&self, f: Field, old: Option<u64>, value: Option<u64>) {
        let (base, _) = field_bytes(f);
        let at = |v: u64| (base + (v as i64 & (FIELD_SPAN - 1)), 1);
        // The new value first: a reader never finds the field empty in between (it
        // may find both, and reads the first).
        if let Some(v) = value {
            let _ = sys::set_lock(self.file.as_fd(), LockKind::ProcessRead, at(v));
        }
        if let Some(v) = old.filter(|&o| Some(o) != value) {
            let _ = sys::unlock(self.file.as_fd(), at(v));
        }
    }

    /// Removes the pidfile (on a failed start), if the name still names our file.
    pub fn remove(self, dir: BorrowedFd<'_>, base: &CStr) -> Result<(), Error> {
        unlink_if_same(dir, base, &self.file)
    }

    /// Gives the lock up and removes the pidfile (a daemon that ends), unless another
    /// daemon locked it in between. `Ok(false)`: it did, and its pidfile is left alone.
    pub fn release(self, dir: BorrowedFd<'_>, base: &CStr) -> Result<bool, Error> {
        let ino = self.file_id()?;
        // Closing our one fd of the file drops both read locks.
        drop(self);
        remove_unlocked(dir, base, ino)
    }

    /// Which file the pidfile is.
    pub(crate) fn file_id(&self) -> Result<FileId, Error> {
        Ok(fd::meta(self.file.as_fd(), c"").op(Op::Open)?.id)
    }

    /// The fd number holding the lock.
    pub fn raw_fd(&self) -> i32 {
        fd::raw(&self.file)
    }

    /// Keeps the lock across `execve`: clears close-on-exec and gives up ownership, so
    /// the program inherits the one fd that holds the lock.
    pub fn keep_across_exec(self) -> Result<i32, Error> {
        rustix::io::fcntl_setfd(&self.file, rustix::io::FdFlags::empty()).op(Op::Lock)?;
        Ok(fd::leak(self.file))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pids_are_strict() {
        assert_eq!(parse_pid(b"42\n", PID_MAX_LIMIT), Some(42));
        assert_eq!(parse_pid(b"42", PID_MAX_LIMIT), Some(42));
        for bad in [
            &b""[..],
            b"\n",
            b"   ",
            b"abc",
            b"\0\0",
            "\u{664}\u{662}".as_bytes(),
            b"42\r\n",
            b"42abc",
            b"+7",
            b"042",
            b" 42",
            b"42 ",
            b"42\n43\n",
            b"0x10",
            b"-1",
            b"-0",
            b"0",
            b"00",
            b"1",
            b"-5",
            b"42\n\n",
            b"4294967295",
            b"2147483648",
            b"99999999999",
            b"18446744073709551616",
        ] {
            assert_eq!(parse_pid(bad, PID_MAX_LIMIT), None, "{:?}", bad);
        }
        assert_eq!(parse_pid(b"32768", 32768), Some(32768));
        assert_eq!(parse_pid(b"32769", 32768), None);
    }
}
