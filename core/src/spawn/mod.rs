//! Starting a program: as a daemon ([`start`]: double fork, reported through a
//! close-on-exec pipe) or in place ([`run`]: the same preparation, then exec).
//!
//! Both run the steps between fork and exec: close inherited fds → quiet signals →
//! take the pidfile → stdio → dirs (umask, nice, chroot, chdir) → limits (`harden`)
//! → drop privileges (keeping capabilities, `harden`) → no_new_privs (`harden`) →
//! exec. The first error ends the child; in [`start`] it travels to the caller as a
//! report record (step, errno or reason). The caller says "started" only after the
//! "reached exec" record and EOF (the pipe is close-on-exec); EOF before it means the
//! daemon died.

pub(crate) mod env;
mod output;
#[cfg(feature = "supervise")]
mod ready;
pub(crate) mod report;
pub(crate) mod steps;

#[cfg(feature = "notify")]
pub use ready::notify_socket;
#[cfg(feature = "supervise")]
pub use ready::{start_ready, start_ready_by, Ready};

use crate::error::{Context, Error, Op, Reason};
use crate::fd;
use crate::pidfile::{self, State};
use crate::sys::{self, CStrArray, Fork, OnlyKeptFds, SingleThreaded};
use crate::user::{self, Groups, User};
use core::ffi::CStr;
use report::Outcome;
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::fs::OFlags;
use rustix::process::Pid;
use steps::Mode as StepMode;

/// Who the program runs as, resolved before forking (so an unknown user is reported
/// before anything happens).
#[derive(Clone, Debug, Default)]
pub struct Credentials {
    /// The user entry (or a bare uid).
    pub user: User,
    /// The primary group.
    pub gid: u32,
    /// Supplementary groups, primary first.
    pub groups: Groups,
}

impl Credentials {
    /// pydaemonize's rule for a service's user: the user named like the daemon if
    /// /etc/passwd has one, else `daemon` (an option for programs that want it, not
    /// imp-core's default, which is to keep the caller's user).
    ///
    /// # Errors
    /// [`Reason::UnknownUser`] when neither exists.
    pub fn for_service(name: &[u8]) -> Result<Credentials, Error> {
        let mut out = None;
        if Credentials::resolve(Some(name), None, &mut out).is_err() || name.is_empty() {
            Credentials::resolve(Some(b"daemon"), None, &mut out)?;
        }
        out.ok_or(Error::check(Op::User, Reason::UnknownUser))
    }

    /// Resolves `--user USER[:GROUP]` and `--group GROUP` against /etc/passwd and
    /// /etc/group into `out` (left alone when neither is given): supplementary groups
    /// from /etc/group, none but the primary group for a numeric uid without passwd
    /// entry or for `--group` alone.
    pub fn resolve(
        user: Option<&[u8]>,
        group: Option<&[u8]>,
        out: &mut Option<Credentials>,
    ) -> Result<(), Error> {
        let (user, group_in_user) = match user {
            Some(u) => match u.iter().position(|&b| b == b':') {
                Some(i) => (Some(&u[..i]), Some(&u[i + 1..])),
                None => (Some(u), None),
            },
            None => (None, None),
        };
        let group = group.or(group_in_user);
        if user.is_none() && group.is_none() {
            return Ok(());
        }
        let c = out.insert(Credentials::default());
        match user {
            Some(spec) => user::lookup_user(spec, &mut c.user)?,
            // --group alone: keep the uid, change the group, clear supplementary groups.
            None => c.user.uid = rustix::process::geteuid().as_raw(),
        }
        c.gid = match group {
            Some(g) => user::lookup_group(g)?,
            None => c.user.gid,
        };
        if c.user.has_entry {
            user::groups_of(&c.user.name, c.gid, &mut c.groups)
        } else {
            let _ = c.groups.push(c.gid);
            Ok(())
        }
    }
}

/// Where a standard stream goes.
#[derive(Clone, Copy, Debug)]
pub enum Stdio<'a> {
    /// Left as inherited (`run` without output options).
    Inherit,
    /// `/dev/null`.
    Null,
    /// Appended to this file (created 0640).
    File(&'a CStr),
}

/// Everything about the program to start.
///
/// In this order (`repr(C)`): the credentials' buffers (name, home, groups) last, so that
/// every other field is a short offset from the spec (-104 B; the pidfile and the kept
/// fds first: -8 B of that).
#[repr(C)]
pub struct Spec<'a> {
    /// The pidfile.
    pub pidfile: Option<&'a CStr>,
    /// Fd numbers passed through to the program (each must be open); every other fd
    /// above 2 is closed. They are numbers, not handles: imp-core never reads, writes
    /// or closes them.
    pub keep_fds: &'a [i32],
    /// The program: a path, or a name looked up in `PATH`.
    pub program: &'a CStr,
    /// Its argv (`argv[0]` first).
    pub argv: CStrArray,
    /// The caller's environment.
    pub envp: CStrArray,
    /// `NAME=VALUE` settings, applied over the inherited environment.
    pub set_env: &'a [&'a CStr],
    /// One more, after them: the `NOTIFY_SOCKET=` of [`notify_socket`] (feature
    /// `notify`).
    #[cfg(feature = "notify")]
    pub notify_env: Option<&'a CStr>,
    /// Start from an empty environment.
    pub clear_env: bool,
    /// Working directory (default `/`).
    pub chdir: Option<&'a CStr>,
    /// Root directory.
    pub chroot: Option<&'a CStr>,
    /// File mode creation mask (default 022).
    pub umask: u32,
    /// Niceness.
    pub nice: Option<i32>,
    /// Standard output.
    pub stdout: Stdio<'a>,
    /// Standard error.
    pub stderr: Stdio<'a>,
    /// Resource limits of the program (`--limit`), set in order after the working
    /// directory and before the drop to [`credentials`](Self::credentials), so that
    /// root can raise a hard limit.
    #[cfg(feature = "harden")]
    pub limits: &'a [crate::harden::Limit],
    /// `PR_SET_NO_NEW_PRIVS` after the drop, right before exec: execve grants nothing
    /// more (setuid bits, file capabilities) to the program and its descendants.
    #[cfg(feature = "harden")]
    pub no_new_privs: bool,
    /// Keep only these capabilities (`--caps`): every other one leaves the bounding
    /// set (while root), and the program gets exactly these as permitted, effective,
    /// inheritable and ambient capabilities, whether it runs as
    /// [`credentials`](Self::credentials) (kept across the uid change) or as root.
    /// [`start`] and [`run`] refuse it ([`Reason::NoAmbient`]) on a kernel without
    /// ambient capabilities (before 4.3). Kept `setuid` or `setgid` let the program
    /// change those ids again: the check that root cannot be regained then skips them.
    #[cfg(feature = "harden")]
    pub caps: Option<crate::harden::CapSet>,
    /// The program's word that it has one thread; without it, [`start`] asks `/proc`
    /// right before forking and refuses a multi-threaded process.
    single_threaded: Option<SingleThreaded>,
    /// Every inherited fd passes to the program, not only [`keep_fds`](Self::keep_fds)
    /// (start-stop-daemon's `--no-close`, asked for by name: imp closes them
    /// otherwise).
    #[cfg(feature = "find")]
    pub inherit_fds: bool,
    /// The user to run as.
    pub credentials: Option<Credentials>,
}

impl<'a> Spec<'a> {
    /// A spec with the defaults: no pidfile, `/`, umask 022, stdio to /dev/null.
    pub fn new(program: &'a CStr, argv: CStrArray, envp: CStrArray) -> Spec<'a> {
        Spec {
            program,
            argv,
            envp,
            set_env: &[],
            #[cfg(feature = "notify")]
            notify_env: None,
            clear_env: false,
            pidfile: None,
            credentials: None,
            chdir: None,
            chroot: None,
            umask: 0o022,
            nice: None,
            stdout: Stdio::Null,
            stderr: Stdio::Null,
            keep_fds: &[],
            #[cfg(feature = "harden")]
            limits: &[],
            #[cfg(feature = "harden")]
            no_new_privs: false,
            #[cfg(feature = "harden")]
            caps: None,
            single_threaded: None,
            #[cfg(feature = "find")]
            inherit_fds: false,
        }
    }

    /// Skips the thread count check of [`start`]: `proof` (from the `unsafe`
    /// [`SingleThreaded::assume`]) says the process has one thread whatever `/proc`
    /// says (under qemu-user, `/proc` reports the emulator's threads).
    pub fn single_threaded(&mut self, proof: SingleThreaded) {
        self.single_threaded = Some(proof);
    }

    /// The proof given with [`single_threaded`](Self::single_threaded), if any.
    pub(crate) fn single_threaded_proof(&self) -> Option<&SingleThreaded> {
        self.single_threaded.as_ref()
    }
}

/// The outcome of a successful [`start`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Started {
    /// The program was exec'd as this pid, which holds the pidfile's lock.
    Started(Pid),
    /// A daemon already holds the pidfile: nothing was started.
    AlreadyRunning(Pid),
}

/// Checks there is room for imp-core's stack: a soft `RLIMIT_STACK` below
/// [`STACK_MIN`](crate::limits::STACK_MIN) (`ulimit -s 16`) would let the deepest path
/// (a start: about 15 KiB of frames, measured on x86_64, above the argv and envp the
/// kernel put there) fault, or kill the daemon before exec: refused, nothing done. To
/// give a daemon a small stack, set it in the program's own wrapper.
pub fn check_stack() -> Result<(), Error> {
    let lim = rustix::process::getrlimit(rustix::process::Resource::Stack);
    match lim.current {
        Some(soft) if soft < crate::limits::STACK_MIN => {
            Err(Error::check(Op::Stack, Reason::SmallStack))
        }
        _ => Ok(()),
    }
}

/// Makes sure fds 0, 1 and 2 are open (on /dev/null if they were closed), so that no
/// pipe, pidfile or lock imp-core opens can land on them. `/dev/null` is opened only
/// for a closed one (an initramfs may have none), and must be the character device.
pub fn sanitize_stdio() -> Result<(), Error> {
    for n in 0..3 {
        if !sys::fd_is_open(n) {
            // The lowest free number: `n`, as the ones below are open.
            steps::move_to(steps::open_null(OFlags::RDWR)?, n)?;
        }
    }
    Ok(())
}

/// Before anything forks, so that a bad spec or pidfile is reported with nothing done:
/// stdio made safe, every `keep_fds` fd open (`EBADF` with [`Op::KeepFd`] otherwise),
/// the pidfile's path split and its directory opened and checked.
#[inline(never)] // one copy for start, run and the supervisor: -40 B (tiny)
pub(crate) fn prepare<'s>(spec: &Spec<'s>) -> Result<Option<(pidfile::Path<'s>, OwnedFd)>, Error> {
    sanitize_stdio()?;
    for &fd in spec.keep_fds {
        fd::check_open(fd)?;
    }
    // An environment too big to change is reported before anything forks.
    let mut vars: env::Vars = [0; core::mem::size_of::<env::Vars>()];
    env::envp(spec, &mut vars, &mut env::Env::new())?;
    #[cfg(feature = "harden")]
    if spec.caps.is_some() {
        crate::harden::check_ambient()?;
    }
    let Some(p) = spec.pidfile else {
        return Ok(None);
    };
    let path = pidfile::Path::new(p)?;
    let dir = path.open_dir()?;
    Ok(Some((path, dir)))
}

/// The pidfile as the steps use it: its directory and its name there.
pub(crate) type PidfileAt<'a> = Option<(BorrowedFd<'a>, &'a CStr)>;

/// The steps' view of what [`prepare`] opened.
pub(crate) fn at<'a>(pidfile: &'a Option<(pidfile::Path<'_>, OwnedFd)>) -> PidfileAt<'a> {
    pidfile.as_ref().map(|(p, d)| (d.as_fd(), p.base()))
}

/// Starts `spec` as a daemon and returns once it is known to have started (exec
/// succeeded, pidfile written and locked) or known to have failed.
///
/// The caller's process forks a child that calls `setsid` and forks the daemon, then
/// exits; the daemon runs the steps and reports through a close-on-exec pipe: its
/// pid once the pidfile is locked, "reached exec", or the first error. EOF after
/// "reached exec" means exec succeeded.
#[inline(never)] // kept out of main: -56 B
pub fn start(spec: &Spec<'_>) -> Result<Started, Error> {
    start_with(spec, false, &|pidfile, wr, fds, _| {
        steps::all(spec, pidfile, StepMode::Detached(wr), fds)
    })
}

/// What runs in the detached process of a start: the steps and exec (a program), or
/// a supervisor's. It reports through the pipe and returns only with the error that
/// ends it (reported by the caller); the proof lets it fork again.
pub(crate) type DaemonSide<'d> =
    &'d dyn Fn(PidfileAt<'_>, &OwnedFd, &OnlyKeptFds, SingleThreaded) -> Error;

/// [`start`], with `daemon` as what runs after the double fork; with `ready`, the
/// start returns at its [`Record::Ready`](report::Record::Ready) (a daemon that
/// does not exec: its pipe stays open).
pub(crate) fn start_with(
    spec: &Spec<'_>,
    ready: bool,
    daemon: DaemonSide<'_>,
) -> Result<Started, Error> {
    let pf = prepare(spec)?;
    if let Some(p) = spec.pidfile {
        if let State::Running(pid) = pidfile::probe(p)?.state {
            return Ok(Started::AlreadyRunning(pid));
        }
    }
    // Forking is safe on the spec's word, or on /proc's thread count: a multi-threaded
    // process is refused (other threads' locks would be copied held).
    let checked;
    let proof = match &spec.single_threaded {
        Some(proof) => proof,
        None => {
            checked = SingleThreaded::check().ok_or(Error::check(Op::Threads, Reason::Threaded))?;
            &checked
        }
    };
    let (rd, wr) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).op(Op::Pipe)?;
    let child = match sys::fork(proof).op(Op::Fork)? {
        Fork::Child(_, one_thread) => {
            drop(rd);
            intermediate(at(&pf), wr, one_thread, daemon)
        }
        Fork::Parent(pid) => pid,
    };
    drop(wr);
    // Reap the intermediate child (it exits right after its fork).
    let _ =
        fd::retry(|| rustix::process::waitpid(Some(child), rustix::process::WaitOptions::empty()));
    let outcome = report::read(&rd, ready);
    drop(rd);
    match outcome {
        Outcome::Started(pid) => Ok(Started::Started(pid)),
        Outcome::Failed(e, locked) => {
            if e.reason() == Some(Reason::AlreadyRunning) {
                if let Some(pid) = e.pid() {
                    return Ok(Started::AlreadyRunning(pid));
                }
            }
            // The daemon failed after locking the pidfile: once it is gone (and with it
            // its lock), remove what it wrote, unless a new daemon holds it by then.
            if let (Some(pid), Some(p)) = (locked, spec.pidfile) {
                crate::process::wait_gone(pid, 5000);
                if let Ok(mut probe) = pidfile::probe(p) {
                    if probe.state == State::Stale {
                        let _ = probe.remove();
                    }
                }
            }
            Err(e)
        }
    }
}

/// Forks, safely on the program's word (`proof`) or on /proc's thread count: a
/// multi-threaded process is refused (other threads' locks would be copied held).
pub(crate) fn fork(proof: Option<&SingleThreaded>) -> Result<Fork, Error> {
    let checked;
    let proof = match proof {
        Some(proof) => proof,
        None => {
            checked = SingleThreaded::check().ok_or(Error::check(Op::Threads, Reason::Threaded))?;
            &checked
        }
    };
    sys::fork(proof).op(Op::Fork)
}

/// Once `pid` (a daemon that failed after locking its pidfile) is gone, removes the
/// pidfile it left, unless a new daemon holds it by then.
pub(crate) fn remove_stale_after(pid: Pid, path: &CStr) {
    crate::process::wait_gone(pid, 5000);
    if let Ok(mut probe) = pidfile::probe(path) {
        if probe.state == State::Stale {
            let _ = probe.remove();
        }
    }
}

/// Reaps the intermediate child of a double fork (it exits right after its fork).
pub(crate) fn reap(child: Pid) {
    let _ =
        fd::retry(|| rustix::process::waitpid(Some(child), rustix::process::WaitOptions::empty()));
}

/// The intermediate child: new session, fork the daemon, exit. Never returns.
fn intermediate(
    pidfile: PidfileAt<'_>,
    wr: OwnedFd,
    one_thread: SingleThreaded,
    daemon: DaemonSide<'_>,
) -> ! {
    let fail = |e: Error, code: i32| -> ! {
        report::send(&wr, report::Record::Failed(e));
        sys::exit(code)
    };
    if let Err(e) = rustix::process::setsid() {
        fail(Error::sys(Op::Setsid, e), 1);
    }
    match sys::fork(&one_thread) {
        Ok(Fork::Child(fds, one_thread)) => fail(daemon(pidfile, &wr, &fds, one_thread), 127),
        Ok(Fork::Parent(_)) => sys::exit(0),
        Err(e) => fail(Error::sys(Op::Fork, e), 1),
    }
}

/// Runs `spec` in this process: the same steps as the daemon of [`start`] (pidfile
/// locked by this process, user, chdir, umask, environment, output files), without
/// fork or setsid, and execs. Returns only on failure.
///
/// It closes every fd above 2 but `keep_fds` before it takes the pidfile's lock:
/// `fds` is the program's promise that it uses no other fd handle again.
pub fn run(spec: &Spec<'_>, fds: OnlyKeptFds) -> Error {
    let pf = match prepare(spec) {
        Ok(pf) => pf,
        Err(e) => return e,
    };
    steps::all(spec, at(&pf), StepMode::InPlace, &fds)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// On the test machines (Debian): `root` and `daemon` exist, the other name not.
    #[test]
    fn service_user_is_its_name_else_daemon() {
        assert_eq!(Credentials::for_service(b"root").unwrap().user.uid, 0);
        let daemon = Credentials::for_service(b"daemon").unwrap().user.uid;
        assert_ne!(daemon, 0);
        let fallback = Credentials::for_service(b"imp-no-such-user").unwrap();
        assert_eq!(fallback.user.uid, daemon);
        assert_eq!(Credentials::for_service(b"").unwrap().user.uid, daemon);
    }
}
