//! Container init (`imp run --init`): what tini and dumb-init do for `docker run
//! --init` and Kubernetes pods. imp stays in front of the program, as PID 1 of its PID
//! namespace or, elsewhere, as a child subreaper (`PR_SET_CHILD_SUBREAPER`), and:
//!
//! - forwards every signal it gets to the program (to its process group with
//!   [`StopOptions::process_group`]), SIGCHLD excepted, and SIGTSTP, SIGTTIN and
//!   SIGTTOU included (imp itself never stops for them); SIGKILL and SIGSTOP cannot be
//!   caught: they act on imp;
//! - reaps every zombie: the program's children that reparent to it (orphans)
//!   included, with `waitpid(-1, WNOHANG)` on each SIGCHLD until none is left;
//! - exits once the program is gone, with its status as a shell reports it: its exit
//!   status, or 128 + N when signal N killed it ([`Ended::code`]).
//!   The program's remaining descendants are left alone, as tini does: as PID 1, imp's
//!   exit ends the namespace and the kernel kills them; as a subreaper, they reparent
//!   to the next subreaper or to init;
//! - treats the first SIGTERM as a stop: it runs the stop schedule
//!   ([`StopOptions::schedule`], SIGTERM, 10 s, SIGKILL, 5 s by default) against the
//!   program, the schedule's first signal in place of the SIGTERM, so a program that
//!   ignores SIGTERM is killed after the timeout instead of hanging the container. A
//!   program that outlives a SIGKILL and its wait is reported as
//!   [`Reason::Survived`], and imp exits (as PID 1, that ends the namespace).
//!
//! Signals are taken synchronously (every signal blocked, `rt_sigtimedwait`: no
//! handler). Blocked signals are queued for PID 1 too, whose signals with the default
//! action the kernel otherwise drops. imp allocates nothing, opens nothing after the
//! start and keeps a fixed number of fds: 0-2, the kept fds and, with a pidfile, the
//! pidfile (and its directory).
//!
//! With a pidfile, imp (the init) holds its lock and the pidfile names imp, as a
//! supervisor's does: `imp stop -p` sends SIGTERM to the init, which stops the program
//! with the schedule and removes the pidfile when it exits. (As PID 1 the pidfile says
//! `1`, which `status` and `stop` refuse as invalid: a pidfile is of use only to a
//! subreaper.)
//!
//! The program is started with the steps of [`spawn::run`](crate::spawn::run) (user,
//! chdir, umask, stdio, environment, every signal unblocked at its default
//! disposition, fds) in a child; a step that fails before exec is reported to imp
//! through a close-on-exec pipe, as for [`spawn::start`](crate::spawn::start), and
//! [`run`] returns that error.
//!
//! Not here: making the program's process group the terminal's foreground group
//! (tini's default for interactive containers): with `--process-group` on a terminal,
//! the program is a background job.
//!
//! # References
//! - [Linux `pid_namespaces(7)`](https://man7.org/linux/man-pages/man7/pid_namespaces.7.html)
//!   ("The namespace init process")
//! - [Linux `PR_SET_CHILD_SUBREAPER`](https://man7.org/linux/man-pages/man2/PR_SET_CHILD_SUBREAPER.2const.html)

use crate::control::{Step, StopOptions};
use crate::error::{Context, Error, Op, Reason};
use crate::fd::FileId;
use crate::pidfile::Lock;
use crate::signal::Signal;
use crate::signals::{self, SignalSet, Signals};
use crate::spawn::report::{self, Outcome, Record};
use crate::spawn::steps::{self, Mode};
use crate::spawn::{self, Spec};
use crate::sys::{self, Fork, OnlyKeptFds};
use rustix::fd::OwnedFd;
use rustix::process::{Pid, WaitOptions, WaitStatus};

/// How the program ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ended {
    /// It exited with this status.
    Exited(u8),
    /// This signal killed it.
    Killed(Signal),
}

impl Ended {
    /// The status a shell reports for it: the exit status, or 128 + the signal's
    /// number (137 for SIGKILL).
    pub const fn code(self) -> i32 {
        match self {
            Ended::Exited(n) => n as i32,
            Ended::Killed(sig) => 128 + sig.as_raw(),
        }
    }

    fn of(st: WaitStatus) -> Option<Ended> {
        if let Some(n) = st.exit_status() {
            return Some(Ended::Exited(n as u8));
        }
        let sig = st.terminating_signal()?;
        Signal::from_raw(sig as i32).map(Ended::Killed)
    }
}

/// Runs `spec`'s program behind this process as its init (see the [module](self)'s
/// doc) and returns how the program ended, once it has.
///
/// `fds` is the program's promise that it uses no fd handle again but 0-2 and the
/// kept ones: this process closes every other fd, as [`spawn::run`](crate::spawn::run)
/// does.
///
/// # Errors
/// What `spawn::run` reports (the pidfile, a kept fd, a step before exec: the exec
/// itself with [`Op::Exec`]), a failed fork, or [`Reason::Survived`] (with the
/// program's pid) when the program outlived the schedule's SIGKILL.
pub fn run(spec: &Spec<'_>, opts: &StopOptions<'_>, fds: OnlyKeptFds) -> Result<Ended, Error> {
    let pf = spawn::prepare(spec)?;
    let pidfile = spawn::at(&pf);
    steps::close_inherited_fds(spec, pidfile, Mode::InPlace, &fds);
    // Blocked before the dispositions are reset, so that no signal acts on imp in
    // between; reset, because a SIGCHLD the caller ignores would reap the program
    // before imp learns its status.
    let signals = Signals::block(SignalSet::ALL)?;
    sys::reset_signal_dispositions();
    let me = rustix::process::getpid();
    if me.as_raw_nonzero().get() != 1 {
        // Fails only before Linux 3.4: the orphans then go to init, the rest works.
        let _ = rustix::process::set_child_subreaper(Some(me));
    }
    let lock = steps::take_pidfile(spec, pidfile, Mode::InPlace)?;
    let ended = match lock.as_ref().map(Lock::file_id).transpose() {
        Ok(id) => supervise(spec, opts, &signals, id),
        Err(e) => Err(e),
    };
    if let (Some(lock), Some((dir, base))) = (lock, pidfile) {
        let _ = lock.release(dir, base);
    }
    ended
}

/// Forks the program, waits for its exec, then forwards, reaps and stops until it is
/// gone.
fn supervise(
    spec: &Spec<'_>,
    opts: &StopOptions<'_>,
    signals: &Signals,
    pidfile: Option<FileId>,
) -> Result<Ended, Error> {
    let (rd, wr) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).op(Op::Pipe)?;
    let pid = match spawn::fork(spec.single_threaded_proof())? {
        Fork::Child(fds, _) => {
            drop(rd);
            let e = program(spec, &wr, pidfile, opts.process_group, &fds);
            report::send(&wr, Record::Failed(e));
            sys::exit(127)
        }
        Fork::Parent(pid) => pid,
    };
    drop(wr);
    if opts.process_group {
        // Also here, so that no signal forwarded before the child's own call misses the
        // group (EACCES once it has exec'd: it did it by then).
        let _ = rustix::process::setpgid(Some(pid), Some(pid));
    }
    let outcome = report::read(&rd, false);
    drop(rd);
    if let Outcome::Failed(e, _) = outcome {
        spawn::reap(pid);
        return Err(e);
    }
    let program = Program {
        pid,
        group: opts.process_group,
    };
    let mut stop = Stopping::new(opts.schedule);
    loop {
        match signals::take_by(signals.set(), stop.deadline) {
            Some(Signal::Child) => {
                if let Some(ended) = reap_all(pid) {
                    return Ok(ended);
                }
            }
            Some(Signal::Term) if !stop.started => stop.advance(&program)?,
            Some(sig) => program.send(sig),
            None => stop.advance(&program)?,
        }
    }
}

/// The child: the steps of `run` (the report pipe kept through them, stdio and cwd
/// left as they are unless the spec sets them), then exec. Returns only on failure.
fn program(
    spec: &Spec<'_>,
    wr: &OwnedFd,
    pidfile: Option<FileId>,
    process_group: bool,
    fds: &OnlyKeptFds,
) -> Error {
    let report = Mode::Detached(wr);
    let steps = || -> Result<steps::Never, Error> {
        if process_group {
            rustix::process::setpgid(None, None).op(Op::Setsid)?;
        }
        steps::close_inherited_fds(spec, None, report, fds);
        steps::quiet_signals()?;
        // There is no pidfile here (imp holds it): this reports the pid.
        steps::take_pidfile(spec, None, report)?;
        steps::setup_stdio(spec, Mode::InPlace, pidfile)?;
        steps::enter_dirs(spec, Mode::InPlace)?;
        steps::drop_privileges(spec)?;
        Err(steps::exec(spec, None, report))
    };
    match steps() {
        Ok(never) => match never {},
        Err(e) => e,
    }
}

/// The program, as imp signals it.
struct Program {
    pid: Pid,
    /// Signal its process group (`--process-group`: it leads its own).
    group: bool,
}

impl Program {
    /// Sends `sig`; a program already gone (a zombie not reaped yet) is no error.
    fn send(&self, sig: Signal) {
        let _ = sys::kill(self.pid, self.group, sig.as_raw());
    }
}

/// Reaps every zombie child; how the program ended if it was one of them.
fn reap_all(program: Pid) -> Option<Ended> {
    let mut ended = None;
    // ECHILD (no child left) and None (none is a zombie) both end it.
    while let Ok(Some((pid, st))) = rustix::process::wait(WaitOptions::NOHANG) {
        if pid == program {
            ended = Ended::of(st);
        }
    }
    ended
}

/// Where the stop schedule is, once the first SIGTERM started it.
struct Stopping<'s> {
    schedule: &'s [Step],
    started: bool,
    /// The next step.
    next: usize,
    /// Where `forever` repeats from.
    repeat: Option<usize>,
    /// When the current wait ends (`CLOCK_MONOTONIC`, ns).
    deadline: Option<u64>,
    /// A SIGKILL was sent; `graced`: and the grace after a final one began.
    killed: bool,
    graced: bool,
}

/// How long a program sent SIGKILL as the schedule's last step may take to be gone
/// (as `stop` allows).
const KILL_GRACE_MS: u32 = 1000;

impl<'s> Stopping<'s> {
    fn new(schedule: &'s [Step]) -> Stopping<'s> {
        Stopping {
            schedule,
            started: false,
            next: 0,
            repeat: None,
            deadline: None,
            killed: false,
            graced: false,
        }
    }

    /// Runs the steps from the next one up to the next wait (whose deadline it sets);
    /// at the end, the grace after a SIGKILL, then [`Reason::Survived`]. Without a
    /// SIGKILL in the schedule (`--no-kill`), the end waits for the program for ever.
    fn advance(&mut self, program: &Program) -> Result<(), Error> {
        self.started = true;
        self.deadline = None;
        // A schedule's `forever` part always has a wait (see `parse::schedule`): this
        // bound only keeps a hand-made one from spinning.
        for _ in 0..2 * self.schedule.len() + 1 {
            let Some(&step) = self.schedule.get(self.next) else {
                match self.repeat {
                    Some(r) => {
                        self.next = r;
                        continue;
                    }
                    None => break,
                }
            };
            self.next += 1;
            match step {
                Step::Signal(sig) => {
                    program.send(sig);
                    self.killed |= sig == Signal::Kill;
                }
                Step::Wait(ms) => {
                    self.wait(ms);
                    return Ok(());
                }
                Step::Forever => self.repeat = Some(self.next),
            }
        }
        if self.killed && !self.graced {
            self.graced = true;
            self.wait(KILL_GRACE_MS);
            return Ok(());
        }
        if self.killed {
            let id = program.pid.as_raw_nonzero().get() as u32;
            return Err(Error::check(Op::Kill, Reason::Survived).with_id(id));
        }
        Ok(())
    }

    fn wait(&mut self, ms: u32) {
        self.deadline = Some(sys::monotonic_ns() + ms as u64 * 1_000_000);
    }
}
