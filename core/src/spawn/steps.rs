//! The steps between fork and exec, one function each, in the order [`all`] runs them:
//!
//! 1. [`close_inherited_fds`]: only the fds the program should have, plus ours
//!    (close-on-exec);
//! 2. [`quiet_signals`]: every signal blocked until exec, every disposition default;
//! 3. [`take_pidfile`]: lock the pidfile, then write the pid (and report it);
//! 4. [`setup_stdio`]: stdin, stdout and stderr as the [`Spec`] says;
//! 5. [`enter_dirs`]: umask, nice, chroot, chdir;
//! 6. `set_limits` (feature `harden`): `setrlimit` for each `--limit`, while still
//!    root;
//! 7. [`drop_privileges`]: setgroups, setgid, setuid, verified; with `--caps`, the
//!    bounding set first and the kept capabilities after;
//! 8. `no_new_privs` (feature `harden`): `PR_SET_NO_NEW_PRIVS`;
//! 9. [`exec`]: environment, the last report, unblock signals, `execve`.
//!
//! Each returns `Result<_, Error>` and can be used on its own (a supervisor, a daemon
//! running Rust code instead of a program); [`Mode`] says whether the steps run in a
//! detached daemon that reports to its caller, or in place.

use super::env::{self, Env, Vars};
use super::output;
use super::report::{self, Record};
use super::{PidfileAt, Spec, Stdio};
use crate::error::{Context, Error, Op, Reason};
use crate::fd::{self, FileId};
use crate::limits::KEEP_FD_MAX;
use crate::pidfile::{self, Lock};
use crate::sys::{self, OnlyKeptFds};
use crate::user;
use rustix::fd::{AsFd, OwnedFd};
use rustix::fs::{FileType, Mode as FileMode, OFlags};

/// Where the steps run.
#[derive(Clone, Copy)]
pub(crate) enum Mode<'r> {
    /// In the daemon of `start`, which reports each milestone and its failure to the
    /// caller through this pipe: stdin from `/dev/null`, cwd `/` unless set.
    Detached(&'r OwnedFd),
    /// In the caller's own process (`run`): no reports; stdio and cwd are left as they
    /// are unless the spec sets them.
    InPlace,
}

impl Mode<'_> {
    fn report(self, r: Record) {
        if let Mode::Detached(wr) = self {
            report::send(wr, r);
        }
    }

    fn detached(self) -> bool {
        matches!(self, Mode::Detached(_))
    }
}

/// Every step in order; returns only on failure, with the first error.
pub(crate) fn all(
    spec: &Spec<'_>,
    pidfile: PidfileAt<'_>,
    mode: Mode<'_>,
    fds: &OnlyKeptFds,
) -> Error {
    match try_all(spec, pidfile, mode, fds) {
        Ok(never) => match never {},
        Err(e) => e,
    }
}

/// What the steps return on success: nothing, as exec does not return.
pub(crate) enum Never {}

fn try_all(
    spec: &Spec<'_>,
    pidfile: PidfileAt<'_>,
    mode: Mode<'_>,
    fds: &OnlyKeptFds,
) -> Result<Never, Error> {
    close_inherited_fds(spec, pidfile, mode, fds);
    quiet_signals()?;
    let lock = take_pidfile(spec, pidfile, mode)?;
    setup_stdio(spec, mode, lock.as_ref().map(Lock::file_id).transpose()?)?;
    before_exec(spec, mode)?;
    Err(exec(spec, lock, mode))
}

/// Steps 5 to 8: dirs (as `dirs` says: a detached daemon's cwd is `/` unless set),
/// limits, the privilege drop, no_new_privs.
fn before_exec(spec: &Spec<'_>, dirs: Mode<'_>) -> Result<(), Error> {
    enter_dirs(spec, dirs)?;
    #[cfg(feature = "harden")]
    crate::harden::set_limits(spec.limits)?;
    drop_privileges(spec)?;
    #[cfg(feature = "harden")]
    if spec.no_new_privs {
        crate::harden::no_new_privs()?;
    }
    Ok(())
}

/// Steps 5 to 9 as [`all`] runs them, then exec (reported through `mode`), for a
/// supervisor's child. Returns only on failure.
#[cfg(feature = "supervise")]
pub(crate) fn last(spec: &Spec<'_>, dirs: Mode<'_>, lock: Option<Lock>, mode: Mode<'_>) -> Error {
    match before_exec(spec, dirs) {
        Ok(()) => exec(spec, lock, mode),
        Err(e) => e,
    }
}

/// Step 1: closes every fd above 2 except the kept ones, the report pipe and the
/// pidfile's directory.
pub(crate) fn close_inherited_fds(
    spec: &Spec<'_>,
    pidfile: PidfileAt<'_>,
    mode: Mode<'_>,
    fds: &OnlyKeptFds,
) {
    #[cfg(feature = "find")]
    if spec.inherit_fds {
        return;
    }
    let mut keep: heapless::Vec<i32, { KEEP_FD_MAX + 2 }> = heapless::Vec::new();
    let _ = keep.extend_from_slice(spec.keep_fds);
    if let Mode::Detached(r) = mode {
        let _ = keep.push(fd::raw(r));
    }
    if let Some((d, _)) = pidfile {
        let _ = keep.push(fd::raw(&d));
    }
    fd::close_all_except(fds, &keep);
}

/// Step 2: every signal blocked until exec, so that a `stop` that sees the pidfile
/// locked before the pid is reported cannot kill this process half-way (its signal
/// waits and acts on the program once unblocked); every disposition back to default.
pub(crate) fn quiet_signals() -> Result<(), Error> {
    sys::block_all_signals().op(Op::Signals)?;
    sys::reset_signal_dispositions();
    Ok(())
}

/// Step 3: locks the pidfile (by this process: the lock passes through exec on a
/// read-only fd above every kept fd), then writes the pid, then reports it.
pub(crate) fn take_pidfile(
    spec: &Spec<'_>,
    pidfile: PidfileAt<'_>,
    mode: Mode<'_>,
) -> Result<Option<Lock>, Error> {
    let pid = rustix::process::getpid();
    let lock = match pidfile {
        Some((dir, base)) => {
            let above = spec.keep_fds.iter().copied().max().unwrap_or(2).max(2) + 1;
            let mut lock = pidfile::create_locked(dir, base, above)?;
            let held = lock.write_pid(pid.as_raw_nonzero().get() as u32);
            if let Err(e) = held.and_then(|()| lock.hold_read_only(dir, base, above)) {
                let _ = lock.remove(dir, base);
                return Err(e);
            }
            Some(lock)
        }
        None => None,
    };
    mode.report(Record::Locked(pid));
    Ok(lock)
}

/// Puts `fd` on `target` (0, 1 or 2) without close-on-exec (dup2 onto itself would
/// keep the flag).
pub(super) fn move_to(fd: OwnedFd, target: i32) -> Result<(), Error> {
    if fd::raw(&fd) == target {
        rustix::io::fcntl_setfd(&fd, rustix::io::FdFlags::empty()).op(Op::Dup)?;
        fd::leak(fd);
        return Ok(());
    }
    match target {
        0 => rustix::stdio::dup2_stdin(&fd),
        1 => rustix::stdio::dup2_stdout(&fd),
        _ => rustix::stdio::dup2_stderr(&fd),
    }
    .op(Op::Dup)
}

/// Opens `/dev/null` and checks it is the character device (an initramfs may have a
/// regular file there, or none).
pub(super) fn open_null(flags: OFlags) -> Result<OwnedFd, Error> {
    let null = fd::openat(
        rustix::fs::CWD,
        c"/dev/null",
        flags | OFlags::CLOEXEC | OFlags::NOCTTY,
        FileMode::empty(),
    )
    .op(Op::DevNull)?;
    let st = fd::meta(null.as_fd(), c"").op(Op::DevNull)?;
    if st.file_type() != FileType::CharacterDevice {
        return Err(Error::check(Op::DevNull, Reason::NotCharDevice));
    }
    Ok(null)
}

/// Step 4: stdin from /dev/null (when detached), stdout and stderr as configured, each
/// opened close-on-exec and then moved onto its number. An output file that is the
/// pidfile (`pidfile` names it) is refused: writing it would corrupt the pidfile, and
/// closing it would drop the lock.
#[inline(never)] // kept out of the steps: -16 B
pub(crate) fn setup_stdio(
    spec: &Spec<'_>,
    mode: Mode<'_>,
    pidfile: Option<FileId>,
) -> Result<(), Error> {
    if mode.detached() {
        move_to(open_null(OFlags::RDONLY)?, 0)?;
    }
    // -o FILE names the same file for both: open it once so both share the offset.
    let same = matches!((spec.stdout, spec.stderr), (Stdio::File(a), Stdio::File(b)) if a == b);
    for (stdio, target, op) in [(spec.stdout, 1, Op::Stdout), (spec.stderr, 2, Op::Stderr)] {
        let f = match stdio {
            Stdio::Inherit => continue,
            Stdio::File(_) if same && target == 2 => {
                rustix::io::fcntl_dupfd_cloexec(sys::stdout(), 3).op(Op::Dup)?
            }
            Stdio::File(p) => output::open(spec, p, op, pidfile)?,
            Stdio::Null => open_null(OFlags::WRONLY)?,
        };
        move_to(f, target)?;
    }
    Ok(())
}

/// Step 5: umask, nice, chroot (then `/` unless a chdir follows), chdir (`/` by
/// default when detached).
pub(crate) fn enter_dirs(spec: &Spec<'_>, mode: Mode<'_>) -> Result<(), Error> {
    rustix::process::umask(FileMode::from_raw_mode(spec.umask as _));
    if let Some(n) = spec.nice {
        rustix::process::setpriority_process(None, n).op(Op::Nice)?;
    }
    if let Some(root) = spec.chroot {
        rustix::process::chroot(root).op(Op::Chroot)?;
        if spec.chdir.is_none() {
            rustix::process::chdir(c"/").op(Op::Chdir)?;
        }
    }
    if let Some(d) = spec.chdir.or(mode.detached().then_some(c"/")) {
        rustix::process::chdir(d).op(Op::Chdir)?;
    }
    Ok(())
}

/// Step 7: setgroups, setgid, setuid, then the check that root cannot be regained;
/// with `caps` (feature `harden`), the drop that keeps them.
pub(crate) fn drop_privileges(spec: &Spec<'_>) -> Result<(), Error> {
    #[cfg(feature = "harden")]
    if let Some(caps) = spec.caps {
        return crate::harden::drop_keeping(spec.credentials.as_ref(), caps);
    }
    match &spec.credentials {
        Some(c) => user::drop_privileges(c.user.uid, c.gid, &c.groups),
        None => Ok(()),
    }
}

/// Step 9: builds the environment, keeps the lock's fd open across exec, reports that
/// only exec is left, unblocks every signal (a pending one acts now) and execs.
/// Returns only on failure.
pub(crate) fn exec(spec: &Spec<'_>, lock: Option<Lock>, mode: Mode<'_>) -> Error {
    let mut vars: Vars = [0; core::mem::size_of::<Vars>()];
    let mut env = Env::new();
    let envp = match env::envp(spec, &mut vars, &mut env) {
        Ok(e) => e,
        Err(e) => return e,
    };
    let lock_fd = match lock.map(Lock::keep_across_exec).transpose() {
        Ok(fd) => fd,
        Err(e) => return e,
    };
    // Everything before exec is done: only an exec failure can still be reported
    // after this record. EOF without it means the daemon died on the way.
    mode.report(Record::Exec);
    // A report written to a caller that is gone (killed mid-start) left a SIGPIPE
    // pending: the daemon goes on without anyone reading.
    sys::discard_pending_sigpipe();
    if let Err(e) = sys::unblock_all_signals() {
        return Error::sys(Op::Signals, e);
    }
    let e = env::exec(spec, envp);
    let _ = lock_fd;
    Error::sys(Op::Exec, e)
}
