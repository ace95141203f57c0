//! Becoming a daemon that runs Rust code (not a program): python-daemon's
//! `DaemonContext`, pydaemonize's `serviced`, cnobile's `Daemon` — with the guarantees
//! of `imp start`, from the same steps.
//!
//! [`Daemon::start`] double-forks (`setsid` in between), then in the daemon: closes
//! every fd but 0-2 and the preserved ones, blocks every signal and resets every
//! disposition, sets `RLIMIT_CORE` to 0 on request, creates, locks and writes the
//! pidfile, puts stdin on `/dev/null` and stdout/stderr where asked, runs the
//! *privileged action* (still as the caller's user, in the caller's directories),
//! sets umask, nice, chroot and chdir, drops to the user and its groups (verified),
//! leaves only the daemon's [`SignalSet`] blocked, and calls the *body* with the
//! action's value. The caller returns only when the body said
//! [`Running::ready`], or with the error that came first: a step and its errno, the
//! action's or body's status ([`Reason::Exited`]), or its death ([`Reason::Died`]).
//! When the body returns, the daemon removes its pidfile and exits with the body's
//! status.
//!
//! With the `std` feature, a body that panics (and unwinds) is caught: the daemon
//! removes its pidfile and exits with status 101, as a Rust program that panics does;
//! `syslog::log_panics` also sends the panic's message to syslog.
//!
//! Without detaching ([`Detach::Never`], or [`Detach::Auto`] under init or inetd) the
//! same steps run in the caller's process, minus the forks, `setsid` and the stdin
//! redirect, and [`Daemon::start`] returns the body's status.
//!
//! ```no_run
//! use imp_core::daemon::{Daemon, Started};
//! # #[allow(unsafe_code)]
//! # fn main() -> Result<(), imp_core::Error> {
//! let mut d = Daemon::new();
//! d.pidfile(c"/run/hello.pid").prevent_core(true);
//! // SAFETY: nothing this program opened before is used by the daemon.
//! let fds = unsafe { imp_core::OnlyKeptFds::promise() };
//! match d.start(fds, || Ok(()), |running, ()| {
//!     running.ready();
//!     while !running.signals().wait_for_sigterm(Some(5000)) {
//!         // work
//!     }
//!     0
//! })? {
//!     Started::Detached(pid) | Started::AlreadyRunning(pid) => { let _ = pid; }
//!     Started::Foreground(status) => { let _ = status; }
//! }
//! # Ok(()) }
//! ```
//!
//! # References
//! - [PEP 3143](https://peps.python.org/pep-3143/) (python-daemon's "correct daemon
//!   behaviour")
//! - [daemon(7)](https://man7.org/linux/man-pages/man7/daemon.7.html) ("SysV Daemons")

use crate::error::{Context, Error, Op, Reason};
use crate::pidfile::{self, Lock, State};
use crate::signals::{SignalSet, Signals};
use crate::spawn::report::{self, Outcome, Record};
use crate::spawn::steps::{self, Mode};
use crate::spawn::{self, Credentials, PidfileAt, Spec, Stdio};
use crate::sys::{self, CStrArray, Fork, OnlyKeptFds, SingleThreaded};
use core::ffi::CStr;
use rustix::fd::OwnedFd;
use rustix::process::Pid;

/// Whether [`Daemon::start`] detaches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Detach {
    /// Detach unless already supervised: not when the parent is PID 1 (init started
    /// us) or stdin is a socket (inetd did), as python-daemon decides.
    #[default]
    Auto,
    /// Always detach.
    Always,
    /// Never: run in this process, in the foreground (for debugging, or under a
    /// supervisor that wants its child to stay its child).
    Never,
}

/// The outcome of a successful [`Daemon::start`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Started {
    /// The daemon runs as this pid and said it is ready.
    Detached(Pid),
    /// A daemon already holds the pidfile: nothing was started.
    AlreadyRunning(Pid),
    /// The body ran in this process (not detached) and returned this status.
    Foreground(i32),
}

/// The daemon body's view of itself: say ready, take signals.
pub struct Running {
    /// The report pipe to the caller of [`Daemon::start`], until ready.
    report: Option<OwnedFd>,
    signals: Signals,
}

impl Running {
    /// Tells the process that called [`Daemon::start`] that the daemon is ready (it
    /// returns [`Started::Detached`]) and closes the pipe to it. Once; later calls do
    /// nothing.
    pub fn ready(&mut self) {
        if let Some(wr) = self.report.take() {
            report::send(&wr, Record::Ready);
        }
    }

    /// Whether [`ready`](Self::ready) was said.
    pub fn is_ready(&self) -> bool {
        self.report.is_none()
    }

    /// The daemon's blocked signals ([`Daemon::signals`]), to take synchronously.
    pub fn signals(&self) -> &Signals {
        &self.signals
    }
}

/// How to become a daemon: the settings of python-daemon's `DaemonContext`.
pub struct Daemon<'a> {
    /// The steps' settings: every field but the program's.
    spec: Spec<'a>,
    stdout: Option<Stdio<'a>>,
    stderr: Option<Stdio<'a>>,
    detach: Detach,
    prevent_core: bool,
    signals: SignalSet,
}

impl Default for Daemon<'_> {
    fn default() -> Self {
        Daemon::new()
    }
}

impl<'a> Daemon<'a> {
    /// The defaults: no pidfile, [`Detach::Auto`], umask 022, `/` as working
    /// directory when detached, stdio on `/dev/null` when detached (inherited when
    /// not), core dumps allowed, SIGTERM blocked for the body.
    pub fn new() -> Daemon<'a> {
        Daemon {
            spec: Spec::new(c"", CStrArray::empty(), CStrArray::empty()),
            stdout: None,
            stderr: None,
            detach: Detach::Auto,
            prevent_core: false,
            signals: SignalSet::EMPTY.with(crate::Signal::Term),
        }
    }

    /// The pidfile: created (0644, `O_NOFOLLOW`, ownership checked), locked and
    /// written by the daemon, removed when the body returns (SPEC §3). The daemon keeps
    /// two fds for it: the pidfile (read-only, holding its locks) and, unless it
    /// chroots, an `O_PATH` fd of its directory, to remove the right file at the end.
    pub fn pidfile(&mut self, path: &'a CStr) -> &mut Self {
        self.spec.pidfile = Some(path);
        self
    }

    /// The pidfile's path, if one was set.
    pub fn pidfile_path(&self) -> Option<&'a CStr> {
        self.spec.pidfile
    }

    /// The user and groups to drop to after the privileged action (see
    /// [`Credentials::resolve`]).
    pub fn credentials(&mut self, c: Credentials) -> &mut Self {
        self.spec.credentials = Some(c);
        self
    }

    /// Working directory (default `/` when detached, unchanged when not).
    pub fn chdir(&mut self, dir: &'a CStr) -> &mut Self {
        self.spec.chdir = Some(dir);
        self
    }

    /// Root directory, entered after the privileged action.
    pub fn chroot(&mut self, dir: &'a CStr) -> &mut Self {
        self.spec.chroot = Some(dir);
        self
    }

    /// File mode creation mask (default 022).
    pub fn umask(&mut self, mask: u32) -> &mut Self {
        self.spec.umask = mask;
        self
    }

    /// Niceness.
    pub fn nice(&mut self, n: i32) -> &mut Self {
        self.spec.nice = Some(n);
        self
    }

    /// Standard output.
    pub fn stdout(&mut self, s: Stdio<'a>) -> &mut Self {
        self.stdout = Some(s);
        self
    }

    /// Standard error.
    pub fn stderr(&mut self, s: Stdio<'a>) -> &mut Self {
        self.stderr = Some(s);
        self
    }

    /// Fds kept open (python-daemon's `files_preserve`); every other fd above 2 is
    /// closed. Each must be open ([`Op::KeepFd`] otherwise).
    pub fn preserve_fds(&mut self, fds: &'a [i32]) -> &mut Self {
        self.spec.keep_fds = fds;
        self
    }

    /// `RLIMIT_CORE` 0 (soft and hard): a daemon that dumps no memory image
    /// (python-daemon's `prevent_core`).
    pub fn prevent_core(&mut self, on: bool) -> &mut Self {
        self.prevent_core = on;
        self
    }

    /// Whether to detach.
    pub fn detach(&mut self, d: Detach) -> &mut Self {
        self.detach = d;
        self
    }

    /// The signals kept blocked for the body, which takes them through
    /// [`Running::signals`] (default SIGTERM only); every other one has its default
    /// action.
    pub fn signals(&mut self, set: SignalSet) -> &mut Self {
        self.signals = set;
        self
    }

    /// Skips the thread count check before forking (see [`SingleThreaded`]).
    pub fn single_threaded(&mut self, proof: SingleThreaded) -> &mut Self {
        self.spec.single_threaded(proof);
        self
    }

    /// Whether [`start`](Self::start) will detach: [`Detach::Auto`] stays in the
    /// foreground when the parent is PID 1 or stdin is a socket.
    pub fn detaches(&self) -> bool {
        match self.detach {
            Detach::Always => true,
            Detach::Never => false,
            Detach::Auto => !supervised(),
        }
    }

    /// Becomes the daemon: runs `privileged` as the caller's user, then `body` with its
    /// value as the dropped user (see the module's doc for every step, in order).
    ///
    /// `privileged` returns `Err(status)` to fail the start; `body` returns the
    /// daemon's exit status and must call [`Running::ready`] once it serves: a body
    /// that returns before is a failed start ([`Reason::Exited`] with its status).
    ///
    /// `fds` is the program's promise that nothing of it uses an fd handle other than
    /// 0-2 and [`preserve_fds`](Self::preserve_fds) after this call: the daemon (or,
    /// not detached, this process) closes every other one.
    ///
    /// # Errors
    /// Before anything is done: a preserved fd that is not open, a pidfile that cannot
    /// be safely created ([`Reason::is_pidfile_refusal`]), a multi-threaded process
    /// ([`Reason::Threaded`]). From the daemon: the first failed step.
    pub fn start<T>(
        mut self,
        fds: OnlyKeptFds,
        privileged: impl FnOnce() -> Result<T, i32>,
        body: impl FnOnce(&mut Running, T) -> i32,
    ) -> Result<Started, Error> {
        let pf = spawn::prepare(&self.spec)?;
        if let Some(p) = self.spec.pidfile {
            if let State::Running(pid) = pidfile::probe(p)?.state {
                return Ok(Started::AlreadyRunning(pid));
            }
        }
        // Decided once: the parent and stdin do not change under us, but asking twice
        // could see a reparenting in between.
        let detach = self.detaches();
        self.resolve_stdio(detach);
        if !detach {
            let status = self.become_it(spawn::at(&pf), None, &fds, privileged, body)?;
            return Ok(Started::Foreground(status));
        }
        let (rd, wr) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).op(Op::Pipe)?;
        let child = match spawn::fork(self.spec.single_threaded_proof())? {
            Fork::Child(_, one_thread) => {
                drop(rd);
                self.intermediate(spawn::at(&pf), wr, one_thread, &fds, privileged, body)
            }
            Fork::Parent(pid) => pid,
        };
        drop(wr);
        spawn::reap(child);
        match report::read(&rd, true) {
            Outcome::Started(pid) => Ok(Started::Detached(pid)),
            Outcome::Failed(e, _) if e.reason() == Some(Reason::AlreadyRunning) => {
                e.pid().map(Started::AlreadyRunning).ok_or(e)
            }
            Outcome::Failed(e, locked) => {
                // A daemon that died (a signal, a panic) left its pidfile: once it is
                // gone, remove it unless a new daemon holds it by then.
                if let (Some(pid), Some(p)) = (locked, self.spec.pidfile) {
                    spawn::remove_stale_after(pid, p);
                }
                Err(e)
            }
        }
    }

    /// Stdio as set, else for the mode: `/dev/null` detached, inherited not.
    fn resolve_stdio(&mut self, detach: bool) {
        let default = if detach { Stdio::Null } else { Stdio::Inherit };
        self.spec.stdout = self.stdout.unwrap_or(default);
        self.spec.stderr = self.stderr.unwrap_or(default);
    }

    /// The intermediate child: new session, fork the daemon, exit.
    fn intermediate<T>(
        &self,
        pidfile: PidfileAt<'_>,
        wr: OwnedFd,
        one_thread: SingleThreaded,
        fds: &OnlyKeptFds,
        privileged: impl FnOnce() -> Result<T, i32>,
        body: impl FnOnce(&mut Running, T) -> i32,
    ) -> ! {
        let fail = |e: Error| -> ! {
            report::send(&wr, Record::Failed(e));
            sys::exit(1)
        };
        if let Err(e) = rustix::process::setsid() {
            fail(Error::sys(Op::Setsid, e));
        }
        match sys::fork(&one_thread) {
            Ok(Fork::Child(..)) => {
                // The daemon reports its own failures.
                match self.become_it(pidfile, Some(wr), fds, privileged, body) {
                    Ok(status) => sys::exit(status),
                    Err(_) => sys::exit(1),
                }
            }
            Ok(Fork::Parent(_)) => sys::exit(0),
            Err(e) => fail(Error::sys(Op::Fork, e)),
        }
    }

    /// The steps, the privileged action and the body, in this process; the body's
    /// status, or the first error (reported through `report` when detached, after
    /// removing the pidfile it took).
    fn become_it<T>(
        &self,
        pidfile: PidfileAt<'_>,
        report: Option<OwnedFd>,
        fds: &OnlyKeptFds,
        privileged: impl FnOnce() -> Result<T, i32>,
        body: impl FnOnce(&mut Running, T) -> i32,
    ) -> Result<i32, Error> {
        let mode = match &report {
            Some(wr) => Mode::Detached(wr),
            None => Mode::InPlace,
        };
        let failed = |e: Error| {
            if let Some(wr) = &report {
                report::send(wr, Record::Failed(e));
            }
            e
        };
        let (lock, pidfile, value, signals) = self
            .prepare(pidfile, mode, fds, privileged)
            .map_err(failed)?;
        let mut running = Running { report, signals };
        let status = run_body(body, &mut running, value);
        release(lock, pidfile);
        if let Some(wr) = running.report.take() {
            let e = Error::check(Op::Daemon, Reason::Exited).with_id(status as u32);
            report::send(&wr, Record::Failed(e));
            return Err(e);
        }
        Ok(status)
    }

    /// Every step before the body, in order (see the module's doc): the pidfile's
    /// lock (and its directory, to remove it at the end: not kept into a chroot, where
    /// a directory fd from outside would be a way out), the privileged action's value
    /// and the body's signals. On failure, the pidfile taken is removed.
    fn prepare<'p, T>(
        &self,
        pidfile: PidfileAt<'p>,
        mode: Mode<'_>,
        fds: &OnlyKeptFds,
        privileged: impl FnOnce() -> Result<T, i32>,
    ) -> Result<(Option<Lock>, PidfileAt<'p>, T, Signals), Error> {
        let spec = &self.spec;
        steps::close_inherited_fds(spec, pidfile, mode, fds);
        steps::quiet_signals()?;
        if self.prevent_core {
            let zero = rustix::process::Rlimit {
                current: Some(0),
                maximum: Some(0),
            };
            rustix::process::setrlimit(rustix::process::Resource::Core, zero).op(Op::Signals)?;
        }
        let lock = steps::take_pidfile(spec, pidfile, mode)?;
        let rest = || {
            let id = lock.as_ref().map(Lock::file_id).transpose()?;
            steps::setup_stdio(spec, mode, id)?;
            let value = privileged().map_err(|status| {
                Error::check(Op::Privileged, Reason::Exited).with_id(status as u32)
            })?;
            steps::enter_dirs(spec, mode)?;
            steps::drop_privileges(spec)?;
            Ok((value, Signals::only(self.signals)?))
        };
        match rest() {
            Ok((value, signals)) => {
                let kept = if spec.chroot.is_some() { None } else { pidfile };
                Ok((lock, kept, value, signals))
            }
            Err(e) => {
                release(lock, pidfile);
                Err(e)
            }
        }
    }
}

/// Gives up the daemon's lock and removes its pidfile (unless a new daemon holds it).
fn release(lock: Option<Lock>, pidfile: PidfileAt<'_>) {
    if let (Some(lock), Some((dir, base))) = (lock, pidfile) {
        let _ = lock.release(dir, base);
    }
}

/// python-daemon's rule: started by init (the parent is PID 1) or by inetd (stdin is a
/// socket), a process is already detached.
fn supervised() -> bool {
    if rustix::process::getppid().is_some_and(|p| p.as_raw_nonzero().get() == 1) {
        return true;
    }
    matches!(
        rustix::fs::fstat(sys::stdin()).map(|st| rustix::fs::FileType::from_raw_mode(st.st_mode)),
        Ok(rustix::fs::FileType::Socket)
    )
}

/// The body's status. With `std`, a panic that unwinds out of the body is status 101
/// (Rust's own for a panicking `main`), so the pidfile is still removed and a start
/// waiting for readiness hears of it; the panic hook has already printed the message.
#[cfg(feature = "std")]
fn run_body<T>(body: impl FnOnce(&mut Running, T) -> i32, running: &mut Running, value: T) -> i32 {
    const PANICKED: i32 = 101;
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| body(running, value)))
        .unwrap_or(PANICKED)
}

/// The body's status (a panic aborts: the runtime's panic handler exits).
#[cfg(not(feature = "std"))]
fn run_body<T>(body: impl FnOnce(&mut Running, T) -> i32, running: &mut Running, value: T) -> i32 {
    body(running, value)
}

#[cfg(all(test, feature = "std"))]
mod tests {
    use super::*;

    /// An unwinding panic in the body is status 101 (the pidfile is released after
    /// it); the body's own status passes through. (The integration tests' binaries
    /// abort on panic: there, the hook logs and the daemon dies.)
    #[test]
    fn a_panicking_body_is_status_101() {
        let signals = || Signals::block(SignalSet::of(&[])).unwrap();
        let mut running = Running {
            report: None,
            signals: signals(),
        };
        let hook = std::panic::take_hook();
        std::panic::set_hook(std::boxed::Box::new(|_| {}));
        let status = run_body(|_, ()| panic!("body"), &mut running, ());
        std::panic::set_hook(hook);
        assert_eq!(status, 101);
        let mut running = Running {
            report: None,
            signals: signals(),
        };
        assert_eq!(run_body(|_, n| n, &mut running, 7), 7);
    }
}
