//! One small `Copy` error: the step that failed, why, and the pid, uid or fd it is
//! about.

use rustix::io::Errno;
use rustix::process::Pid;

crate::words! {
    /// The step that failed; its word names it in messages (`imp: start: chdir /x: ...`).
    pub enum Op {
        /// Opening the pidfile or its directory.
        Open = "open",
        /// Creating the pidfile.
        Create = "create",
        /// Locking the pidfile.
        Lock = "lock",
        /// Reading the pidfile.
        Read = "read",
        /// Writing the pidfile.
        Write = "write",
        /// Removing the pidfile.
        Remove = "remove",
        /// Creating the report pipe.
        Pipe = "pipe",
        /// `fork`.
        Fork = "fork",
        /// `setsid`.
        Setsid = "setsid",
        /// Opening or checking `/dev/null`.
        DevNull = "/dev/null",
        /// Opening the `--stdout` (or `--output`) file.
        Stdout = "open stdout",
        /// Opening the `--stderr` file.
        Stderr = "open stderr",
        /// `dup2` onto stdio.
        Dup = "dup2",
        /// Signal mask and dispositions.
        Signals = "signals",
        /// `setpriority` (`--nice`).
        Nice = "nice",
        /// `chroot`.
        Chroot = "chroot",
        /// `chdir`.
        Chdir = "chdir",
        /// Looking up the user.
        User = "user",
        /// Looking up the group.
        Group = "group",
        /// `setgroups`.
        Setgroups = "setgroups",
        /// `setgid`.
        Setgid = "setgid",
        /// `setuid`.
        Setuid = "setuid",
        /// The check that root cannot be regained after the drop.
        Regain = "drop privileges",
        /// Building the environment.
        Env = "environment",
        /// `execve`.
        Exec = "exec",
        /// Reading the report pipe or waiting for a child.
        Wait = "wait",
        /// Opening a pidfd or sending a signal (the error names the pid).
        Kill = "kill",
        /// Checking the process is single-threaded before fork.
        Threads = "threads",
        /// Checking a kept fd (`--keep-fd`; the error names the fd).
        KeepFd = "keep fd",
        /// Checking there is room for imp's stack (`RLIMIT_STACK`).
        Stack = "stack limit",
        /// A daemon's privileged action ([`Daemon::start`](crate::daemon::Daemon::start)).
        Privileged = "privileged",
        /// A daemon's body, before it said it was ready.
        Daemon = "daemon",
        /// Connecting to syslog.
        Syslog = "syslog",
        /// Reading `/proc` (finding daemons without a pidfile, [`find`](crate::find)).
        Proc = "/proc",
        @feature "harden" {
            /// `setrlimit` (`--limit`; `Error::resource` names the resource).
            Rlimit = "rlimit",
            /// Keeping capabilities (`--caps`): bounding set, keepcaps, capset, ambient
            /// set.
            Caps = "caps",
            /// `PR_SET_NO_NEW_PRIVS` (`--no-new-privs`).
            NoNewPrivs = "no_new_privs",
        }
        @also "supervise" {
            /// A supervisor's own setup (`PR_SET_PDEATHSIG` in its program).
            Supervise = "supervise",
            /// Waiting for the program to say it is ready (`--ready-fd`).
            Ready = "readiness",
            /// Watching the program after exec (`--wait`).
            Watch = "watch",
        }
    }
}

crate::words! {
    /// Why a step failed, when it is not an errno; its word says it in messages.
    pub enum Reason {
        /// The pidfile's content is not a valid pid.
        Invalid = "invalid pidfile content",
        /// The pidfile names imp itself or its parent.
        NamesSelf = "invalid pidfile: names imp or its parent",
        /// The pidfile is a symlink.
        Symlink = "refused: symlink",
        /// The pidfile is a FIFO, a directory, a device...
        NotRegular = "refused: not a regular file",
        /// The pidfile is writable by group or others.
        Writable = "insecure: writable by group or others",
        /// The pidfile belongs to another user (see [`Error::uid`]).
        Owner = "insecure: owned by uid",
        /// The pidfile has more than one hard link.
        HardLinked = "insecure: hard-linked",
        /// The pidfile's directory is writable by others (and not sticky).
        DirWritable = "insecure: directory writable by others",
        /// A directory on the way to the file belongs to another user (see
        /// [`Error::uid`]).
        DirOwner = "insecure: directory owned by uid",
        /// A symlink on the way to the file belongs to another user (see
        /// [`Error::uid`]).
        LinkOwner = "insecure: symlink owned by uid",
        /// The file is on a kernel interface file system (procfs, sysfs, cgroup...).
        KernelFile = "refused: a kernel interface file",
        /// An output file is the pidfile itself.
        IsPidfile = "refused: the pidfile",
        /// The lock holder is outside this PID namespace (the kernel reports pid 0).
        Outside = "lock held by a process outside this PID namespace",
        /// The lock is an open file description lock (it has no pid): no daemon imp
        /// started holds one.
        Unidentified = "lock held by a process that cannot be identified",
        /// The lock holder is not the pid the pidfile names (see [`Error::pid`]).
        HolderMismatch = "insecure: lock held by another pid",
        /// No such user.
        UnknownUser = "unknown user",
        /// No such group.
        UnknownGroup = "unknown group",
        /// `/dev/null` is not a character device.
        NotCharDevice = "not a character device",
        /// Root could be regained after dropping privileges.
        Regained = "root could be regained",
        /// The process has more than one thread.
        Threaded = "refusing to fork a multi-threaded process",
        /// Too many environment variables or groups for the fixed buffers.
        TooMany = "too many entries",
        /// An environment to change has more than [`ENV_MAX`](crate::limits::ENV_MAX)
        /// entries (an unchanged one is passed through whole).
        EnvTooMany = "over 256 entries to change (-e, -u, --clear-env)",
        /// A path too long for the fixed buffers.
        TooLong = "path too long",
        /// A line of /etc/group too long for the fixed buffer, which could name the user.
        LineTooLong = "line too long",
        /// The soft `RLIMIT_STACK` is below the 32 KiB imp needs.
        SmallStack = "below the 32 KiB imp needs",
        /// The user's passwd entry has a name over 64 or a home over 256 bytes.
        EntryTooLong = "passwd entry too long",
        /// The pidfile's path ends in `/` or is empty.
        BadPath = "not a file path",
        /// Another daemon holds the pidfile's lock (see [`Error::pid`]).
        AlreadyRunning = "already running",
        /// The report pipe closed before the daemon reached exec: it died on the way.
        ChildDied = "daemon died before exec",
        /// The process did not exit after the last step of the stop schedule (see
        /// [`Error::pid`]).
        Survived = "still running",
        /// A daemon's privileged action or body returned (with the status of
        /// [`Error::status`]) before the daemon said it was ready.
        Exited = "exited before ready, status",
        /// A daemon died (a signal, a panic) before it said it was ready.
        Died = "died before ready",
        @feature "harden" {
            /// The kernel has no ambient capabilities (`PR_CAP_AMBIENT`, Linux 4.3):
            /// `--caps` cannot keep any across the drop to a user.
            NoAmbient = "no ambient capabilities in this kernel (Linux 4.3+)",
        }
        @also "supervise" {
            /// The program exited (its status is the id) before it said it was ready
            /// or during the watch.
            ExitedWith = "exited with status",
            /// A signal (the id) killed the program before it said it was ready or
            /// during the watch.
            KilledBy = "killed by",
            /// The program is gone before it said it was ready or during the watch,
            /// its status unknown (it was not imp's child: no subreaper).
            Gone = "gone",
            /// The program closed its readiness fd without writing a newline.
            ReadyClosed = "closed readiness fd",
            /// The program did not say it was ready in time.
            ReadyTimeout = "readiness timeout",
        }
    }
}

impl Reason {
    /// True for the reasons that make a pidfile unsafe to act on (LSB: start/stop 6,
    /// status 4).
    pub const fn is_pidfile_refusal(self) -> bool {
        matches!(
            self,
            Reason::Invalid
                | Reason::NamesSelf
                | Reason::Symlink
                | Reason::NotRegular
                | Reason::Writable
                | Reason::Owner
                | Reason::HardLinked
                | Reason::DirWritable
                | Reason::DirOwner
                | Reason::LinkOwner
                | Reason::KernelFile
                | Reason::IsPidfile
                | Reason::Outside
                | Reason::Unidentified
                | Reason::HolderMismatch
                | Reason::BadPath
        )
    }
}

/// The cause of a failure: an errno, or one of imp's own reasons.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cause {
    /// A syscall failed.
    Errno(Errno),
    /// A check of imp's failed.
    Reason(Reason),
}

/// A failed step: what was being done, why it failed, and (for some) the pid, uid or
/// fd it is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Error {
    op: Op,
    cause: Cause,
    /// A pid, uid or fd, as [`Error::pid`], [`Error::uid`] and [`Error::fd`] tell; 0
    /// for none.
    id: u32,
}

static_assertions::const_assert!(core::mem::size_of::<Error>() <= 12);
static_assertions::assert_impl_all!(Error: Copy);

impl Error {
    /// A syscall failure.
    pub const fn sys(op: Op, errno: Errno) -> Error {
        Error {
            op,
            cause: Cause::Errno(errno),
            id: 0,
        }
    }

    /// A failed check.
    pub const fn check(op: Op, reason: Reason) -> Error {
        Error {
            op,
            cause: Cause::Reason(reason),
            id: 0,
        }
    }

    /// The same error about a pid, uid or fd (which one follows from the op and reason).
    pub(crate) const fn with_id(self, id: u32) -> Error {
        Error { id, ..self }
    }

    /// The same error, as a failure of another step.
    pub(crate) const fn retag(self, op: Op) -> Error {
        Error { op, ..self }
    }

    /// The raw id, for the report pipe.
    pub(crate) const fn raw_id(self) -> u32 {
        self.id
    }

    /// The step that failed.
    pub const fn op(self) -> Op {
        self.op
    }

    /// Why it failed.
    pub const fn cause(self) -> Cause {
        self.cause
    }

    /// The errno, if the cause is one.
    pub const fn errno(self) -> Option<Errno> {
        match self.cause {
            Cause::Errno(e) => Some(e),
            Cause::Reason(_) => None,
        }
    }

    /// The reason, if the cause is one.
    pub const fn reason(self) -> Option<Reason> {
        match self.cause {
            Cause::Errno(_) => None,
            Cause::Reason(r) => Some(r),
        }
    }

    /// The process the error is about: the lock holder (`AlreadyRunning`,
    /// `HolderMismatch`), the survivor (`Survived`), or the target of a
    /// failed [`Op::Kill`]. `None` for other errors, and for a holder outside this
    /// PID namespace (the kernel reports it as pid 0).
    pub fn pid(self) -> Option<Pid> {
        let about_pid = match self.cause {
            Cause::Reason(r) => matches!(
                r,
                Reason::AlreadyRunning | Reason::HolderMismatch | Reason::Survived
            ),
            Cause::Errno(_) => matches!(self.op, Op::Kill),
        };
        if about_pid {
            Pid::from_raw(self.id as i32)
        } else {
            None
        }
    }

    /// The owner of a file, directory or symlink refused as insecure (`Owner`,
    /// `DirOwner`, `LinkOwner`).
    pub const fn uid(self) -> Option<u32> {
        match self.cause {
            Cause::Reason(Reason::Owner | Reason::DirOwner | Reason::LinkOwner) => Some(self.id),
            _ => None,
        }
    }

    /// The status a daemon's privileged action or body returned before the daemon was
    /// ready ([`Reason::Exited`]).
    pub const fn status(self) -> Option<i32> {
        match self.cause {
            Cause::Reason(Reason::Exited) => Some(self.id as i32),
            #[cfg(feature = "supervise")]
            Cause::Reason(Reason::ExitedWith) => Some(self.id as i32),
            _ => None,
        }
    }

    /// The signal that killed the program of a [`Reason::KilledBy`] error.
    #[cfg(feature = "supervise")]
    pub const fn signal(self) -> Option<crate::Signal> {
        match self.cause {
            Cause::Reason(Reason::KilledBy) => crate::Signal::from_raw(self.id as i32),
            _ => None,
        }
    }

    /// The fd of a failed [`Op::KeepFd`] check.
    pub const fn fd(self) -> Option<i32> {
        match self.op {
            Op::KeepFd => Some(self.id as i32),
            _ => None,
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for Error {}

#[cfg(feature = "std")]
impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.cause {
            Cause::Errno(e) => {
                let (name, text) = errno_name(e);
                write!(f, "{}: {} ({})", self.op.as_str(), text, name)
            }
            Cause::Reason(r) => {
                write!(f, "{}: {}", self.op.as_str(), r.as_str())?;
                match self.status() {
                    Some(n) => write!(f, " {n}"),
                    None => Ok(()),
                }
            }
        }
    }
}

/// Adds the op to a rustix result.
pub(crate) trait Context<T> {
    /// Tags the error with the step that failed.
    fn op(self, op: Op) -> Result<T, Error>;
}

impl<T> Context<T> for Result<T, Errno> {
    fn op(self, op: Op) -> Result<T, Error> {
        self.map_err(|e| Error::sys(op, e))
    }
}

/// The errnos imp's syscalls can return: each name once, its number taken from the
/// kernel's headers (`linux-raw-sys`, right for every architecture), its text as glibc's
/// `strerror` says it.
macro_rules! errnos {
    ($($name:ident $text:literal,)+) => {
        const ERRNO_CODES: &[u16] = &[$(linux_raw_sys::errno::$name as u16,)+];
        const ERRNO_NAMES: &str = concat!($(stringify!($name), "\n",)+);
        const ERRNO_TEXTS: &str = concat!($($text, "\n",)+);
    };
}

errnos! {
    EPERM "Operation not permitted",
    ENOENT "No such file or directory",
    ESRCH "No such process",
    EINTR "Interrupted system call",
    EIO "Input/output error",
    ENXIO "No such device or address",
    E2BIG "Argument list too long",
    ENOEXEC "Exec format error",
    EBADF "Bad file descriptor",
    ECHILD "No child processes",
    EAGAIN "Resource temporarily unavailable",
    ENOMEM "Cannot allocate memory",
    EACCES "Permission denied",
    EBUSY "Device or resource busy",
    EEXIST "File exists",
    ENODEV "No such device",
    ENOTDIR "Not a directory",
    EISDIR "Is a directory",
    EINVAL "Invalid argument",
    ENFILE "Too many open files in system",
    EMFILE "Too many open files",
    ENOTTY "Inappropriate ioctl for device",
    ETXTBSY "Text file busy",
    EFBIG "File too large",
    ENOSPC "No space left on device",
    EROFS "Read-only file system",
    EPIPE "Broken pipe",
    ENAMETOOLONG "File name too long",
    ENOLCK "No locks available",
    ENOSYS "Function not implemented",
    ELOOP "Too many levels of symbolic links",
    EDQUOT "Disk quota exceeded",
    ELIBBAD "Accessing a corrupted shared library",
    EOPNOTSUPP "Operation not supported",
}

/// The name and text of an errno: `("EROFS", "Read-only file system")`. Unknown ones
/// give `("E?", "Unknown error")`; callers print the number beside it.
pub fn errno_name(e: Errno) -> (&'static str, &'static str) {
    let raw = e.raw_os_error() as u16;
    match ERRNO_CODES.iter().position(|&c| c == raw) {
        Some(i) => (
            crate::words::nth(ERRNO_NAMES, i),
            crate::words::nth(ERRNO_TEXTS, i),
        ),
        None => ("E?", "Unknown error"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::words;

    #[test]
    fn every_op_has_its_own_word() {
        for (i, &op) in Op::ALL.iter().enumerate() {
            let w = op.as_str();
            assert!(!w.is_empty() && !w.contains('\n'), "{op:?}");
            assert_eq!(op as usize, i);
            assert_eq!(Op::from_u8(op as u8), Some(op));
            assert_eq!(
                words::find(Op::WORDS, w.as_bytes(), false),
                Some(i),
                "{op:?}: '{w}' is also the word of an earlier op"
            );
        }
        assert_eq!(Op::from_u8(Op::ALL.len() as u8), None);
        assert_eq!(Op::Chdir.as_str(), "chdir");
        assert_eq!(Op::KeepFd.as_str(), "keep fd");
    }

    #[test]
    fn every_reason_has_its_own_word() {
        for (i, &r) in Reason::ALL.iter().enumerate() {
            let w = r.as_str();
            assert!(!w.is_empty() && !w.contains('\n'), "{r:?}");
            assert_eq!(Reason::from_u8(r as u8), Some(r));
            assert_eq!(words::find(Reason::WORDS, w.as_bytes(), false), Some(i));
        }
        assert_eq!(Reason::from_u8(Reason::ALL.len() as u8), None);
        assert_eq!(Reason::Survived.as_str(), "still running");
        assert_eq!(Reason::Symlink.as_str(), "refused: symlink");
    }

    /// Every errno's name is the kernel's name for its number, and its text is the C
    /// library's `strerror` text (std prints it, followed by " (os error N)").
    #[test]
    fn every_errno_name_and_text() {
        let names: Vec<&str> = ERRNO_NAMES.lines().collect();
        let texts: Vec<&str> = ERRNO_TEXTS.lines().collect();
        assert_eq!(
            (names.len(), texts.len()),
            (ERRNO_CODES.len(), ERRNO_CODES.len())
        );
        for (i, &code) in ERRNO_CODES.iter().enumerate() {
            let e = Errno::from_raw_os_error(code as i32);
            assert_eq!(errno_name(e), (names[i], texts[i]));
            let std_text = std::io::Error::from_raw_os_error(code as i32).to_string();
            assert_eq!(
                std_text,
                format!("{} (os error {code})", texts[i]),
                "{}",
                names[i]
            );
            assert_eq!(
                names[..i].iter().position(|n| *n == names[i]),
                None,
                "{} twice",
                names[i]
            );
        }
        assert_eq!(errno_name(Errno::ROFS), ("EROFS", "Read-only file system"));
        assert_eq!(errno_name(Errno::ACCESS), ("EACCES", "Permission denied"));
        assert_eq!(errno_name(Errno::from_raw_os_error(4000)).0, "E?");
    }

    #[test]
    fn ids_are_typed_by_what_they_are_about() {
        let held = Error::check(Op::Lock, Reason::AlreadyRunning).with_id(42);
        assert_eq!(held.pid(), Pid::from_raw(42));
        assert_eq!((held.uid(), held.fd()), (None, None));
        let outside = Error::check(Op::Lock, Reason::HolderMismatch).with_id(0);
        assert_eq!(outside.pid(), None);
        let owner = Error::check(Op::Open, Reason::Owner).with_id(1000);
        assert_eq!((owner.uid(), owner.pid()), (Some(1000), None));
        let kill = Error::sys(Op::Kill, Errno::PERM).with_id(7);
        assert_eq!(kill.pid(), Pid::from_raw(7));
        let keep = Error::sys(Op::KeepFd, Errno::BADF).with_id(9);
        assert_eq!((keep.fd(), keep.pid(), keep.uid()), (Some(9), None, None));
        let plain = Error::sys(Op::Chdir, Errno::NOENT);
        assert_eq!((plain.pid(), plain.uid(), plain.fd()), (None, None, None));
    }
}
