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
    pub fn as_str(self) -> &'static str {
        crate::table::nth(OP_WORDS, self as usize)
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

/// The words of [`Op::as_str`], in discriminant order.
const OP_WORDS: &str = "open\ncreate\nlock\nread\nwrite\nremove\npipe\nfork\nsetsid\nopen\nopen\nopen\ndup2\nclose fds\nsignals\nnice\nchroot\nchdir\nuser\ngroup\nsetgroups\nsetgid\nsetuid\ndrop privileges\nenvironment\nexec\nwait\nkill\nthreads\nkeep fd";

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
    /// A line of /etc/group too long for the fixed buffer, which could name the user.
    LineTooLong,
    /// The pidfile's path ends in `/` or is empty.
    BadPath,
    /// Another daemon holds the pidfile's lock (pid in `Error::id`).
    AlreadyRunning,
    /// The report pipe closed before the daemon reached exec: it died on the way.
    ChildDied,
    /// The process did not exit after the last step of the stop schedule.
    Survived,
}

impl Reason {
    /// The words used in messages.
    pub fn as_str(self) -> &'static str {
        crate::table::nth(REASON_WORDS, self as usize)
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

/// The words of [`Reason::as_str`], in discriminant order.
const REASON_WORDS: &str = "invalid pidfile content\ninvalid pidfile: names imp or its parent\nrefused: symlink\nrefused: not a regular file\ninsecure: writable by group or others\ninsecure: owned by uid\ninsecure: hard-linked\ninsecure: directory writable by others\ninsecure: directory owned by uid\ninsecure: read-locked by pid\ninsecure: lock held by another pid\nunknown user\nunknown group\nnot a character device\nroot could be regained\nrefusing to fork a multi-threaded process\ntoo many entries\npath too long\nline too long\nnot a file path\nalready running\ndaemon died before exec\nstill running";

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
    Reason::LineTooLong,
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
        Error {
            op,
            cause: Cause::Errno(errno),
            id: 0,
        }
    }

    /// A failed check.
    pub const fn reason(op: Op, reason: Reason) -> Error {
        Error {
            op,
            cause: Cause::Reason(reason),
            id: 0,
        }
    }

    /// A failed check about a uid or pid.
    pub const fn reason_id(op: Op, reason: Reason, id: u32) -> Error {
        Error {
            op,
            cause: Cause::Reason(reason),
            id,
        }
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
    match ERRNO_CODES.iter().position(|&c| c == e) {
        Some(i) => (
            crate::table::nth(ERRNO_NAMES, i),
            crate::table::nth(ERRNO_TEXTS, i),
        ),
        None => ("E?", "Unknown error"),
    }
}

/// The errnos imp's syscalls can return, with glibc's strerror texts.
const ERRNO_CODES: [Errno; 42] = [
    Errno::PERM,
    Errno::NOENT,
    Errno::SRCH,
    Errno::INTR,
    Errno::IO,
    Errno::NXIO,
    Errno::TOOBIG,
    Errno::NOEXEC,
    Errno::BADF,
    Errno::CHILD,
    Errno::AGAIN,
    Errno::NOMEM,
    Errno::ACCESS,
    Errno::FAULT,
    Errno::BUSY,
    Errno::EXIST,
    Errno::XDEV,
    Errno::NODEV,
    Errno::NOTDIR,
    Errno::ISDIR,
    Errno::INVAL,
    Errno::NFILE,
    Errno::MFILE,
    Errno::NOTTY,
    Errno::TXTBSY,
    Errno::FBIG,
    Errno::NOSPC,
    Errno::SPIPE,
    Errno::ROFS,
    Errno::MLINK,
    Errno::PIPE,
    Errno::NAMETOOLONG,
    Errno::NOLCK,
    Errno::NOSYS,
    Errno::LOOP,
    Errno::DQUOT,
    Errno::LIBBAD,
    Errno::CONNREFUSED,
    Errno::NOTSOCK,
    Errno::TIMEDOUT,
    Errno::OPNOTSUPP,
    Errno::DEADLK,
];

/// The names of [`ERRNO_CODES`], in the same order.
const ERRNO_NAMES: &str = "EPERM\nENOENT\nESRCH\nEINTR\nEIO\nENXIO\nE2BIG\nENOEXEC\nEBADF\nECHILD\nEAGAIN\nENOMEM\nEACCES\nEFAULT\nEBUSY\nEEXIST\nEXDEV\nENODEV\nENOTDIR\nEISDIR\nEINVAL\nENFILE\nEMFILE\nENOTTY\nETXTBSY\nEFBIG\nENOSPC\nESPIPE\nEROFS\nEMLINK\nEPIPE\nENAMETOOLONG\nENOLCK\nENOSYS\nELOOP\nEDQUOT\nELIBBAD\nECONNREFUSED\nENOTSOCK\nETIMEDOUT\nEOPNOTSUPP\nEDEADLK";
/// glibc's strerror texts of [`ERRNO_CODES`], in the same order.
const ERRNO_TEXTS: &str = "Operation not permitted\nNo such file or directory\nNo such process\nInterrupted system call\nInput/output error\nNo such device or address\nArgument list too long\nExec format error\nBad file descriptor\nNo child processes\nResource temporarily unavailable\nCannot allocate memory\nPermission denied\nBad address\nDevice or resource busy\nFile exists\nInvalid cross-device link\nNo such device\nNot a directory\nIs a directory\nInvalid argument\nToo many open files in system\nToo many open files\nInappropriate ioctl for device\nText file busy\nFile too large\nNo space left on device\nIllegal seek\nRead-only file system\nToo many links\nBroken pipe\nFile name too long\nNo locks available\nFunction not implemented\nToo many levels of symbolic links\nDisk quota exceeded\nAccessing a corrupted shared library\nConnection refused\nSocket operation on non-socket\nConnection timed out\nOperation not supported\nResource deadlock avoided";

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
        assert_eq!(OP_WORDS.split('\n').count(), OPS.len());
        assert_eq!(REASON_WORDS.split('\n').count(), REASONS.len());
        assert_eq!(ERRNO_NAMES.split('\n').count(), ERRNO_CODES.len());
        assert_eq!(ERRNO_TEXTS.split('\n').count(), ERRNO_CODES.len());
        assert_eq!(Op::Chdir.as_str(), "chdir");
        assert_eq!(Reason::Survived.as_str(), "still running");
    }

    #[test]
    fn errno_names() {
        assert_eq!(errno_name(Errno::ROFS), ("EROFS", "Read-only file system"));
        assert_eq!(
            errno_name(Errno::AGAIN),
            ("EAGAIN", "Resource temporarily unavailable")
        );
        assert_eq!(errno_name(Errno::from_raw_os_error(4000)).0, "E?");
    }
}
