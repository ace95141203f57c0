//! One small `Copy` error: the step that failed and why.

use rustix::io::Errno;

/// The step that failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Op {
    /// Opening the pidfile or its directory.
    Open,
    /// Creating the pidfile.
    Create,
    /// Locking the pidfile.
    Lock,
    /// Reading the pidfile.
    Read,
    /// Writing the pidfile.
    Write,
    /// Removing the pidfile.
    Remove,
    /// Creating the report pipe.
    Pipe,
    /// `fork`.
    Fork,
    /// `setsid`.
    Setsid,
    /// Opening or checking `/dev/null`.
    DevNull,
    /// Opening the `--stdout` (or `--output`) file.
    Stdout,
    /// Opening the `--stderr` file.
    Stderr,
    /// `dup2` onto stdio or a kept fd.
    Dup,
    /// Closing inherited fds.
    CloseFds,
    /// Signal mask and dispositions.
    Signals,
    /// `setpriority` (`--nice`).
    Nice,
    /// `chroot`.
    Chroot,
    /// `chdir`.
    Chdir,
    /// Looking up the user.
    User,
    /// Looking up the group.
    Group,
    /// `setgroups`.
    Setgroups,
    /// `setgid`.
    Setgid,
    /// `setuid`.
    Setuid,
    /// The check that root cannot be regained after the drop.
    Regain,
    /// Building the environment.
    Env,
    /// `execve`.
    Exec,
    /// Reading the report pipe or waiting for a child.
    Wait,
    /// Opening a pidfd or sending a signal.
    Kill,
    /// Checking the process is single-threaded before fork.
    Threads,
    /// Checking a kept fd (`--keep-fd`).
    KeepFd,
}

impl Op {
    /// The word used in messages: `imp: start: chdir /x: ...`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Op::Open => "open",
            Op::Create => "create",
            Op::Lock => "lock",
            Op::Read => "read",
            Op::Write => "write",
            Op::Remove => "remove",
            Op::Pipe => "pipe",
            Op::Fork => "fork",
            Op::Setsid => "setsid",
            Op::DevNull => "open",
            Op::Stdout => "open",
            Op::Stderr => "open",
            Op::Dup => "dup2",
            Op::CloseFds => "close fds",
            Op::Signals => "signals",
            Op::Nice => "nice",
            Op::Chroot => "chroot",
            Op::Chdir => "chdir",
            Op::User => "user",
            Op::Group => "group",
            Op::Setgroups => "setgroups",
            Op::Setgid => "setgid",
            Op::Setuid => "setuid",
            Op::Regain => "drop privileges",
            Op::Env => "environment",
            Op::Exec => "exec",
            Op::Wait => "wait",
            Op::Kill => "kill",
            Op::Threads => "threads",
            Op::KeepFd => "keep fd",
        }
    }

    /// Decodes the byte sent through the report pipe.
    pub const fn from_u8(b: u8) -> Option<Op> {
        if b <= Op::KeepFd as u8 {
            // SAFETY-free: the enum is `repr(u8)` with dense discriminants 0..=KeepFd;
            // match through the table instead of transmuting.
            Some(OPS[b as usize])
        } else {
            None
        }
    }
}

const OPS: [Op; Op::KeepFd as usize + 1] = [
    Op::Open,
    Op::Create,
    Op::Lock,
    Op::Read,
    Op::Write,
    Op::Remove,
    Op::Pipe,
    Op::Fork,
    Op::Setsid,
    Op::DevNull,
    Op::Stdout,
    Op::Stderr,
    Op::Dup,
    Op::CloseFds,
    Op::Signals,
    Op::Nice,
    Op::Chroot,
    Op::Chdir,
    Op::User,
    Op::Group,
    Op::Setgroups,
    Op::Setgid,
    Op::Setuid,
    Op::Regain,
    Op::Env,
    Op::Exec,
    Op::Wait,
    Op::Kill,
    Op::Threads,
    Op::KeepFd,
];

/// Why a step failed, when it is not an errno.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Reason {
    /// The pidfile's content is not a valid pid.
    Invalid,
    /// The pidfile names imp itself or its parent.
    NamesSelf,
    /// The pidfile is a symlink.
    Symlink,
    /// The pidfile is a FIFO, a directory, a device...
    NotRegular,
    /// The pidfile is writable by group or others.
    Writable,
    /// The pidfile belongs to another user (the uid is in `Error::id`).
    Owner,
    /// The pidfile has more than one hard link.
    HardLinked,
    /// The pidfile's directory is writable by others (and not sticky).
    DirWritable,
    /// The pidfile's directory belongs to another user (uid in `Error::id`).
    DirOwner,
    /// A process holds a read lock on the pidfile.
    ReadLocked,
    /// The lock holder is not the pid the pidfile names.
    HolderMismatch,
    /// No such user.
    UnknownUser,
    /// No such group.
    UnknownGroup,
    /// `/dev/null` is not a character device.
    NotCharDevice,
    /// Root could be regained after dropping privileges.
    Regained,
    /// The process has more than one thread.
    Threaded,
    /// Too many environment variables or groups for the fixed buffers.
    TooMany,
    /// A path too long for the fixed buffers.
    TooLong,
    /// The pidfile's path ends in `/` or is empty.
    BadPath,
    /// Another daemon holds the pidfile's lock (pid in `Error::id`).
    AlreadyRunning,
    /// The report pipe closed without a word: the child died.
    ChildDied,
    /// The process did not exit after the last step of the stop schedule.
    Survived,
}

impl Reason {
    /// The words used in messages.
    pub const fn as_str(self) -> &'static str {
        match self {
            Reason::Invalid => "invalid pidfile content",
            Reason::NamesSelf => "invalid pidfile: names imp or its parent",
            Reason::Symlink => "refused: symlink",
            Reason::NotRegular => "refused: not a regular file",
            Reason::Writable => "insecure: writable by group or others",
            Reason::Owner => "insecure: owned by uid",
            Reason::HardLinked => "insecure: hard-linked",
            Reason::DirWritable => "insecure: directory writable by others",
            Reason::DirOwner => "insecure: directory owned by uid",
            Reason::ReadLocked => "insecure: read-locked by pid",
            Reason::HolderMismatch => "insecure: lock held by another pid",
            Reason::UnknownUser => "unknown user",
            Reason::UnknownGroup => "unknown group",
            Reason::NotCharDevice => "not a character device",
            Reason::Regained => "root could be regained",
            Reason::Threaded => "refusing to fork a multi-threaded process",
            Reason::TooMany => "too many entries",
            Reason::TooLong => "path too long",
            Reason::BadPath => "not a file path",
            Reason::AlreadyRunning => "already running",
            Reason::ChildDied => "child died before reporting",
            Reason::Survived => "still running",
        }
    }

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
                | Reason::ReadLocked
                | Reason::HolderMismatch
                | Reason::BadPath
        )
    }

    /// Decodes the byte sent through the report pipe.
    pub const fn from_u8(b: u8) -> Option<Reason> {
        if b <= Reason::Survived as u8 {
            Some(REASONS[b as usize])
        } else {
            None
        }
    }
}

const REASONS: [Reason; Reason::Survived as usize + 1] = [
    Reason::Invalid,
    Reason::NamesSelf,
    Reason::Symlink,
    Reason::NotRegular,
    Reason::Writable,
    Reason::Owner,
    Reason::HardLinked,
    Reason::DirWritable,
    Reason::DirOwner,
    Reason::ReadLocked,
    Reason::HolderMismatch,
    Reason::UnknownUser,
    Reason::UnknownGroup,
    Reason::NotCharDevice,
    Reason::Regained,
    Reason::Threaded,
    Reason::TooMany,
    Reason::TooLong,
    Reason::BadPath,
    Reason::AlreadyRunning,
    Reason::ChildDied,
    Reason::Survived,
];

/// The cause of a failure: an errno, or one of imp's own reasons.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cause {
    /// A syscall failed.
    Errno(Errno),
    /// A check of imp's failed.
    Reason(Reason),
}

/// A failed step: what was being done, why it failed, and a number that goes with the
/// reason (a uid for `Owner`, a pid for `AlreadyRunning`; 0 otherwise).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Error {
    /// The step.
    pub op: Op,
    /// Why.
    pub cause: Cause,
    /// The uid or pid the reason is about, or 0.
    pub id: u32,
}

static_assertions::const_assert!(core::mem::size_of::<Error>() <= 12);
static_assertions::assert_impl_all!(Error: Copy);

impl Error {
    /// A syscall failure.
    pub const fn sys(op: Op, errno: Errno) -> Error {
        Error { op, cause: Cause::Errno(errno), id: 0 }
    }

    /// A failed check.
    pub const fn reason(op: Op, reason: Reason) -> Error {
        Error { op, cause: Cause::Reason(reason), id: 0 }
    }

    /// A failed check about a uid or pid.
    pub const fn reason_id(op: Op, reason: Reason, id: u32) -> Error {
        Error { op, cause: Cause::Reason(reason), id }
    }

    /// The errno, if the cause is one.
    pub const fn errno(self) -> Option<Errno> {
        match self.cause {
            Cause::Errno(e) => Some(e),
            Cause::Reason(_) => None,
        }
    }

    /// The reason, if the cause is one.
    pub const fn reason_of(self) -> Option<Reason> {
        match self.cause {
            Cause::Errno(_) => None,
            Cause::Reason(r) => Some(r),
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
            Cause::Reason(r) => write!(f, "{}: {}", self.op.as_str(), r.as_str()),
        }
    }
}

/// Adds the op to a rustix result.
pub trait Context<T> {
    /// Tags the error with the step that failed.
    fn op(self, op: Op) -> Result<T, Error>;
}

impl<T> Context<T> for Result<T, Errno> {
    fn op(self, op: Op) -> Result<T, Error> {
        self.map_err(|e| Error::sys(op, e))
    }
}

/// The name and text of an errno: `("EROFS", "Read-only file system")`. Unknown ones
/// give `("E?", "Unknown error")`; callers print the number beside it.
pub fn errno_name(e: Errno) -> (&'static str, &'static str) {
    ERRNOS
        .iter()
        .find(|(n, _, _)| *n == e)
        .map(|&(_, name, text)| (name, text))
        .unwrap_or(("E?", "Unknown error"))
}

/// The errnos imp's syscalls can return, with glibc's strerror texts.
const ERRNOS: &[(Errno, &str, &str)] = &[
    (Errno::PERM, "EPERM", "Operation not permitted"),
    (Errno::NOENT, "ENOENT", "No such file or directory"),
    (Errno::SRCH, "ESRCH", "No such process"),
    (Errno::INTR, "EINTR", "Interrupted system call"),
    (Errno::IO, "EIO", "Input/output error"),
    (Errno::NXIO, "ENXIO", "No such device or address"),
    (Errno::TOOBIG, "E2BIG", "Argument list too long"),
    (Errno::NOEXEC, "ENOEXEC", "Exec format error"),
    (Errno::BADF, "EBADF", "Bad file descriptor"),
    (Errno::CHILD, "ECHILD", "No child processes"),
    (Errno::AGAIN, "EAGAIN", "Resource temporarily unavailable"),
    (Errno::NOMEM, "ENOMEM", "Cannot allocate memory"),
    (Errno::ACCESS, "EACCES", "Permission denied"),
    (Errno::FAULT, "EFAULT", "Bad address"),
    (Errno::BUSY, "EBUSY", "Device or resource busy"),
    (Errno::EXIST, "EEXIST", "File exists"),
    (Errno::XDEV, "EXDEV", "Invalid cross-device link"),
    (Errno::NODEV, "ENODEV", "No such device"),
    (Errno::NOTDIR, "ENOTDIR", "Not a directory"),
    (Errno::ISDIR, "EISDIR", "Is a directory"),
    (Errno::INVAL, "EINVAL", "Invalid argument"),
    (Errno::NFILE, "ENFILE", "Too many open files in system"),
    (Errno::MFILE, "EMFILE", "Too many open files"),
    (Errno::NOTTY, "ENOTTY", "Inappropriate ioctl for device"),
    (Errno::TXTBSY, "ETXTBSY", "Text file busy"),
    (Errno::FBIG, "EFBIG", "File too large"),
    (Errno::NOSPC, "ENOSPC", "No space left on device"),
    (Errno::SPIPE, "ESPIPE", "Illegal seek"),
    (Errno::ROFS, "EROFS", "Read-only file system"),
    (Errno::MLINK, "EMLINK", "Too many links"),
    (Errno::PIPE, "EPIPE", "Broken pipe"),
    (Errno::NAMETOOLONG, "ENAMETOOLONG", "File name too long"),
    (Errno::NOLCK, "ENOLCK", "No locks available"),
    (Errno::NOSYS, "ENOSYS", "Function not implemented"),
    (Errno::LOOP, "ELOOP", "Too many levels of symbolic links"),
    (Errno::DQUOT, "EDQUOT", "Disk quota exceeded"),
    (Errno::LIBBAD, "ELIBBAD", "Accessing a corrupted shared library"),
    (Errno::CONNREFUSED, "ECONNREFUSED", "Connection refused"),
    (Errno::NOTSOCK, "ENOTSOCK", "Socket operation on non-socket"),
    (Errno::TIMEDOUT, "ETIMEDOUT", "Connection timed out"),
    (Errno::OPNOTSUPP, "EOPNOTSUPP", "Operation not supported"),
    (Errno::DEADLK, "EDEADLK", "Resource deadlock avoided"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn op_and_reason_round_trip_through_a_byte() {
        for op in OPS {
            assert_eq!(Op::from_u8(op as u8), Some(op));
        }
        assert_eq!(Op::from_u8(Op::KeepFd as u8 + 1), None);
        for r in REASONS {
            assert_eq!(Reason::from_u8(r as u8), Some(r));
        }
        assert_eq!(Reason::from_u8(Reason::Survived as u8 + 1), None);
    }

    #[test]
    fn errno_names() {
        assert_eq!(errno_name(Errno::ROFS), ("EROFS", "Read-only file system"));
        assert_eq!(errno_name(Errno::AGAIN), ("EAGAIN", "Resource temporarily unavailable"));
        assert_eq!(errno_name(Errno::from_raw_os_error(4000)).0, "E?");
    }
}
