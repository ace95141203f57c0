//! `start|stop|restart|status` in one call, with LSB exit codes: python-daemon's
//! `ServiceRunner`, the `service` package's `Service`.
//!
//! ```no_run
//! # #[allow(unsafe_code)]
//! # fn main() {
//! use imp_core::daemon::Daemon;
//! use imp_core::service::{Action, Service};
//! let Some(action) = Action::parse(b"start") else {
//!     imp_core::exit(imp_core::service::usage("hello"));
//! };
//! let mut d = Daemon::new();
//! d.pidfile(c"/run/hello.pid");
//! // SAFETY: the daemon uses no fd this program opened before.
//! let fds = unsafe { imp_core::OnlyKeptFds::promise() };
//! let code = Service::new("hello", d).run(action, fds, || Ok(()), |running, ()| {
//!     running.ready();
//!     running.signals().wait_for_sigterm(None);
//!     0
//! });
//! imp_core::exit(code)
//! # }
//! ```
//!
//! Each outcome is one line on stderr (`status`: on stdout), `NAME: started (pid 42)`.
//!
//! # References
//! - [LSB 5.0 Init Script Actions](https://refspecs.linuxfoundation.org/LSB_5.0.0/LSB-Core-generic/LSB-Core-generic/iniscrptact.html)

use crate::control::{Pidfile, Step, Stopped, DEFAULT_SCHEDULE};
use crate::daemon::{Daemon, Running, Started};
use crate::error::Error;
use crate::log::{self, Line};
use crate::pidfile::State;
use crate::sys::OnlyKeptFds;
use rustix::process::Pid;

/// An init-script action.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Start the daemon (0 also when it already runs).
    Start,
    /// Stop it (0 also when it does not run).
    Stop,
    /// Stop it if it runs, then start it.
    Restart,
    /// Report whether it runs (0 running, 1 stale pidfile, 3 stopped, 4 unknown).
    Status,
}

impl Action {
    /// `start`, `stop`, `restart` or `status`; `None` for anything else.
    pub fn parse(word: &[u8]) -> Option<Action> {
        Some(match word {
            b"start" => Action::Start,
            b"stop" => Action::Stop,
            b"restart" => Action::Restart,
            b"status" => Action::Status,
            _ => return None,
        })
    }
}

/// The usage exit status (LSB: invalid or excess arguments).
pub const USAGE: i32 = 2;

/// Writes `usage: NAME [OPTIONS] start|stop|restart|status` on stderr; returns
/// [`USAGE`].
pub fn usage(name: &str) -> i32 {
    Line::new()
        .str("usage: ")
        .str(name)
        .str(" [OPTIONS] start|stop|restart|status")
        .emit(log::stderr());
    USAGE
}

/// A daemon and its name, ready to run an action.
pub struct Service<'a> {
    name: &'a str,
    daemon: Daemon<'a>,
    schedule: &'a [Step],
}

impl<'a> Service<'a> {
    /// `daemon` (which needs a pidfile for every action but a foreground start) as
    /// `name` in messages, stopped with [`DEFAULT_SCHEDULE`].
    pub fn new(name: &'a str, daemon: Daemon<'a>) -> Service<'a> {
        Service {
            name,
            daemon,
            schedule: &DEFAULT_SCHEDULE,
        }
    }

    /// The stop schedule (pydaemonize's is `[Signal(Term), Wait(4000), Signal(Kill)]`).
    pub fn schedule(mut self, schedule: &'a [Step]) -> Service<'a> {
        self.schedule = schedule;
        self
    }

    /// Runs `action` and returns its LSB exit code; `privileged` and `body` are
    /// [`Daemon::start`]'s, used by `start` and `restart`.
    pub fn run<T>(
        self,
        action: Action,
        fds: OnlyKeptFds,
        privileged: impl FnOnce() -> Result<T, i32>,
        body: impl FnOnce(&mut Running, T) -> i32,
    ) -> i32 {
        let pidfile = self.daemon.pidfile_path().map(Pidfile::new);
        match (action, pidfile) {
            (Action::Status, Some(p)) => self.status(p),
            (Action::Stop, Some(p)) => self.stop(p),
            (Action::Restart, Some(p)) => match self.stop(p) {
                0 => self.start(fds, privileged, body),
                code => code,
            },
            (Action::Start, _) => self.start(fds, privileged, body),
            (_, None) => {
                line(self.name).str("no pidfile").emit(log::stderr());
                USAGE
            }
        }
    }

    fn start<T>(
        self,
        fds: OnlyKeptFds,
        privileged: impl FnOnce() -> Result<T, i32>,
        body: impl FnOnce(&mut Running, T) -> i32,
    ) -> i32 {
        let name = self.name;
        match self.daemon.start(fds, privileged, body) {
            Ok(Started::Detached(pid)) => say(name, "started", Some(pid)),
            Ok(Started::AlreadyRunning(pid)) => say(name, "already running", Some(pid)),
            Ok(Started::Foreground(status)) => return status,
            Err(e) => return fail(name, &e, false),
        }
        0
    }

    fn stop(&self, p: Pidfile<'_>) -> i32 {
        let name = self.name;
        match p.stop(self.schedule) {
            Ok(Stopped::Stopped(pid)) => say(name, "stopped", Some(pid)),
            Ok(Stopped::NotRunning) => say(name, "not running", None),
            Ok(Stopped::Stale(_)) => say(name, "not running (stale pidfile removed)", None),
            Err(e) => return fail(name, &e, false),
        }
        0
    }

    fn status(&self, p: Pidfile<'_>) -> i32 {
        let mut l = line(self.name);
        let code = match p.state() {
            Ok(State::Running(pid)) => {
                l.str("running (pid ").num(raw(pid)).str(")");
                0
            }
            Ok(State::Stale) => {
                l.str("not running (stale pidfile)");
                1
            }
            Ok(State::Absent) => {
                l.str("not running");
                3
            }
            Err(e) => return fail(self.name, &e, true),
        };
        l.emit(log::stdout());
        code
    }
}

/// A line that starts `NAME: `.
fn line(name: &str) -> Line {
    let mut l = Line::new();
    l.str(name).str(": ");
    l
}

fn raw(pid: Pid) -> u32 {
    pid.as_raw_nonzero().get() as u32
}

/// One line on stderr: `NAME: TEXT (pid N)`.
fn say(name: &str, text: &str, pid: Option<Pid>) {
    let mut l = line(name);
    l.str(text);
    if let Some(pid) = pid {
        l.str(" (pid ").num(raw(pid)).str(")");
    }
    l.emit(log::stderr());
}

/// `NAME: STEP: CAUSE` on stderr; its LSB code: 4 for `status`, else 6 for a refused
/// pidfile and 1 for the rest.
fn fail(name: &str, e: &Error, status: bool) -> i32 {
    line(name).error(e).emit(log::stderr());
    let refused = e.reason().is_some_and(crate::Reason::is_pidfile_refusal);
    match (status, refused) {
        (true, _) => 4,
        (false, true) => 6,
        (false, false) => 1,
    }
}
