//! Signals without handlers, for daemons built on imp-core: block a set once, then
//! take its signals when the program asks — without waiting ([`Signals::take`],
//! [`Signals::got_sigterm`]), waiting ([`Signals::wait`],
//! [`Signals::wait_for_sigterm`]), through callbacks run from a loop
//! ([`Handlers::run`]), or between the steps of a periodic job ([`every`],
//! [`Handlers::every`]).
//!
//! imp-core installs no signal handler, ever. A handler runs in the middle of whatever
//! code the signal interrupts, where only async-signal-safe calls are allowed (no
//! lock, no allocation, no buffered output), and the syscalls it interrupts fail with
//! `EINTR`. A blocked signal instead waits in the pending set until the program takes
//! it with `rt_sigtimedwait`, and the program's own code acts on it, in its own loop:
//! how s6 and systemd take their signals (a self-pipe, a `signalfd`), without a pipe
//! or fd here.
//!
//! The contract:
//! - Block the set before the process forks or starts a thread. The mask belongs to
//!   each thread and a new thread or child inherits its creator's; a signal sent to the
//!   process goes to any thread that does not block it, and runs its default action
//!   there (for TERM: the end of the process). A [`Signals`] is neither `Send` nor
//!   `Sync`: it is a proof about the mask of the thread that made it.
//! - The mask is inherited across `fork` and kept across `execve`: a program the daemon
//!   runs with its own fork and exec starts with the set blocked (and a TERM would wait
//!   for it forever). imp-core's [`spawn`](crate::spawn) steps unblock every signal
//!   before exec. Nothing here unblocks: the set stays blocked for the thread's life.
//! - SIGKILL and SIGSTOP cannot be blocked: the kernel ignores their bits, and
//!   [`Signals::block`] leaves them out of [`Signals::set`].
//! - Standard signals (below `SIGRTMIN`) do not queue: two HUPs sent before one is
//!   taken are taken once. Real-time signals queue. The lowest number is taken first.
//!
//! ```no_run
//! use imp_core::{Flow, Handlers, Signal, SignalSet, Signals};
//!
//! // First thing in main, before any fork or thread.
//! let signals = Signals::block(SignalSet::of(&[Signal::Term, Signal::Hup]))?;
//! let mut reload = |_: Signal| {
//!     // re-read the configuration
//!     Flow::Continue
//! };
//! let mut handlers = Handlers::<1>::new();
//! let _ = handlers.handle(Signal::Hup, &mut reload);
//! // One unit of work every second until SIGTERM, reloading on SIGHUP in between.
//! let ended = handlers.every(&signals, 1000, || Flow::Continue);
//! assert_eq!(ended, Some(Signal::Term));
//! # Ok::<(), imp_core::Error>(())
//! ```
//!
//! # References
//! - [Linux `signal(7)`](https://man7.org/linux/man-pages/man7/signal.7.html)
//!   ("Signal mask and pending signals")
//! - [POSIX "Signal Concepts"](https://pubs.opengroup.org/onlinepubs/9799919799/functions/V2_chap02.html#tag_16_04)

use crate::error::{Context, Error, Op};
use crate::signal::Signal;
use crate::sys;
use rustix::io::Errno;

/// A set of signals (numbers `1..=64`, `1..=128` on MIPS): a `Copy` bit array, built
/// in `const` code.
///
/// ```
/// use imp_core::{Signal, SignalSet};
/// const SET: SignalSet = SignalSet::of(&[Signal::Term, Signal::Hup]);
/// assert!(SET.contains(Signal::Hup));
/// assert!(!SET.without(Signal::Hup).contains(Signal::Hup));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SignalSet(sys::SignalBits);

impl SignalSet {
    /// The set without any signal.
    pub const EMPTY: SignalSet = SignalSet([0; 4]);

    /// Every signal (the numbers past this architecture's highest are ignored).
    pub const ALL: SignalSet = SignalSet([!0; 4]);

    /// The set of `sigs`.
    pub const fn of(sigs: &[Signal]) -> SignalSet {
        let mut set = SignalSet::EMPTY;
        let mut i = 0;
        while i < sigs.len() {
            set = set.with(sigs[i]);
            i += 1;
        }
        set
    }

    /// The word of `sig` and its bit there (`& 3`: every signal number is at most
    /// 128, so no bounds check is needed).
    const fn place(sig: Signal) -> (usize, u32) {
        let n = (sig.as_raw() - 1) as usize;
        ((n / 32) & 3, 1 << (n % 32))
    }

    /// The set with `sig` added.
    pub const fn with(self, sig: Signal) -> SignalSet {
        let (w, bit) = SignalSet::place(sig);
        let mut bits = self.0;
        bits[w] |= bit;
        SignalSet(bits)
    }

    /// The set with `sig` removed.
    pub const fn without(self, sig: Signal) -> SignalSet {
        let (w, bit) = SignalSet::place(sig);
        let mut bits = self.0;
        bits[w] &= !bit;
        SignalSet(bits)
    }

    /// True when `sig` is in the set.
    pub const fn contains(self, sig: Signal) -> bool {
        let (w, bit) = SignalSet::place(sig);
        self.0[w] & bit != 0
    }

    /// True when the set has no signal.
    pub const fn is_empty(self) -> bool {
        self.0[0] | self.0[1] | self.0[2] | self.0[3] == 0
    }
}

/// Proof that this thread blocks a set of signals, and the way to take them.
///
/// Made once, before any fork or thread (see the [module](self) docs). Dropping it
/// unblocks nothing.
#[derive(Debug)]
pub struct Signals {
    set: SignalSet,
    /// Neither `Send` nor `Sync`: the mask is this thread's.
    thread: core::marker::PhantomData<*const ()>,
}

static_assertions::assert_not_impl_any!(Signals: Send, Sync, Clone);

impl Signals {
    /// `sigprocmask(SIG_BLOCK, set)`—Blocks `set` in this thread, which keeps its
    /// other blocked signals. SIGKILL and SIGSTOP cannot be blocked and are left out.
    ///
    /// # Errors
    /// [`Op::Signals`] with the errno of `rt_sigprocmask` (none is expected: it fails
    /// only for a bad pointer or `how`).
    ///
    /// # References
    /// - [POSIX](https://pubs.opengroup.org/onlinepubs/9799919799/functions/pthread_sigmask.html)
    /// - [Linux](https://man7.org/linux/man-pages/man2/rt_sigprocmask.2.html)
    pub fn block(set: SignalSet) -> Result<Signals, Error> {
        let set = set.without(Signal::Kill).without(Signal::Stop);
        sys::block_signals(&set.0).op(Op::Signals)?;
        Ok(Signals {
            set,
            thread: core::marker::PhantomData,
        })
    }

    /// Blocks exactly `set` (`sigprocmask(SIG_SETMASK)`): every other signal is
    /// unblocked — one pending acts now, with its default action. What a daemon's body
    /// starts with ([`Daemon::signals`](crate::daemon::Daemon::signals)).
    pub fn only(set: SignalSet) -> Result<Signals, Error> {
        let set = set.without(Signal::Kill).without(Signal::Stop);
        sys::set_signal_mask(&set.0).op(Op::Signals)?;
        Ok(Signals {
            set,
            thread: core::marker::PhantomData,
        })
    }

    /// The signals blocked: the set given to [`Signals::block`] without SIGKILL and
    /// SIGSTOP.
    pub const fn set(&self) -> SignalSet {
        self.set
    }

    /// `rt_sigtimedwait(set, 0)`—Takes a pending signal of the set, without waiting;
    /// `None` when none is pending.
    ///
    /// # References
    /// - [Linux](https://man7.org/linux/man-pages/man2/sigtimedwait.2.html)
    pub fn take(&self) -> Option<Signal> {
        take_by(self.set, Some(0))
    }

    /// `rt_sigtimedwait(set, timeout)`—Takes a signal of the set, waiting for one up to
    /// `timeout_ms` milliseconds (`None`: forever). `None` once the timeout has passed,
    /// as measured on `CLOCK_MONOTONIC`; an `EINTR` (the process was stopped and
    /// continued, or a handler someone else installed ran) waits again for the time
    /// left. An empty set waits out the whole timeout.
    ///
    /// # References
    /// - [Linux](https://man7.org/linux/man-pages/man2/sigtimedwait.2.html)
    /// - [Linux `signal(7)`](https://man7.org/linux/man-pages/man7/signal.7.html)
    ///   ("Interruption of system calls and library functions by stop signals")
    pub fn wait(&self, timeout_ms: Option<u32>) -> Option<Signal> {
        take_by(self.set, deadline(timeout_ms))
    }

    /// Takes `sig` if it is pending, without waiting; the set's other pending signals
    /// stay pending. Always false for a signal outside the set (one that is not blocked
    /// is never left pending: its action runs as it arrives).
    pub fn got(&self, sig: Signal) -> bool {
        self.set.contains(sig) && take_by(SignalSet::EMPTY.with(sig), Some(0)).is_some()
    }

    /// Waits up to `timeout_ms` milliseconds (`None`: forever) for `sig` alone and
    /// takes it; false when the timeout passed first. The set's other signals stay
    /// pending. For a signal outside the set it waits out the timeout and returns false
    /// (such a signal is never left pending: its action runs as it arrives).
    pub fn wait_for(&self, sig: Signal, timeout_ms: Option<u32>) -> bool {
        let only = match self.set.contains(sig) {
            true => SignalSet::EMPTY.with(sig),
            false => SignalSet::EMPTY,
        };
        take_by(only, deadline(timeout_ms)).is_some()
    }

    /// Takes a pending SIGTERM, without waiting: [`Signals::got`] for TERM. Always false
    /// when the set has no TERM (then TERM's action, by default the end of the process,
    /// runs as it arrives).
    pub fn got_sigterm(&self) -> bool {
        self.got(Signal::Term)
    }

    /// Waits up to `timeout_ms` milliseconds (`None`: forever) for SIGTERM alone:
    /// [`Signals::wait_for`] for TERM. When the set has no TERM, it waits out the
    /// timeout and returns false (and a TERM then runs its action, by default the end
    /// of the process).
    pub fn wait_for_sigterm(&self, timeout_ms: Option<u32>) -> bool {
        self.wait_for(Signal::Term, timeout_ms)
    }
}

/// Nanoseconds in a second.
const NS_PER_SEC: u64 = 1_000_000_000;

/// `clock_gettime(CLOCK_MONOTONIC)`, in nanoseconds.
fn now_ns() -> u64 {
    sys::monotonic_ns()
}

/// The monotonic time `timeout_ms` from now (`None`: never).
fn deadline(timeout_ms: Option<u32>) -> Option<u64> {
    timeout_ms.map(|ms| now_ns() + ms as u64 * 1_000_000)
}

/// Takes a pending signal of `set`, which a [`Signals`] of this thread blocks, waiting
/// until the monotonic `deadline` (`Some(0)`: not at all; `None`: forever). `EINTR`
/// waits again for the time left, and so does an `EAGAIN` before the deadline (the
/// kernel's timer and `clock_gettime` are read apart); `None` past the deadline.
pub(crate) fn take_by(set: SignalSet, deadline: Option<u64>) -> Option<Signal> {
    loop {
        let timeout = deadline.map(|d| {
            let left = d.saturating_sub(now_ns());
            rustix::time::Timespec {
                tv_sec: (left / NS_PER_SEC) as _,
                tv_nsec: (left % NS_PER_SEC) as _,
            }
        });
        match sys::take_signal(&set.0, timeout) {
            Ok(n) => return Signal::from_raw(n),
            Err(Errno::INTR) => {}
            Err(Errno::AGAIN) if deadline.is_some_and(|d| now_ns() < d) => {}
            // EAGAIN: the deadline passed. (EINVAL and EFAULT cannot happen: the set
            // and timeout are valid.)
            Err(_) => return None,
        }
    }
}

/// What a callback or a step tells the loop that called it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    /// Go on.
    Continue,
    /// End the loop.
    Stop,
}

/// A callback of [`Handlers`]: it is given the signal taken.
pub type Callback<'h> = &'h mut dyn FnMut(Signal) -> Flow;

/// Up to `N` callbacks, one per signal, run from the program's loop when their signal
/// is taken (never from a signal handler: they may do anything).
///
/// A signal of the [`Signals`] set without a callback is taken and ignored, except
/// SIGTERM, which ends [`Handlers::run`] and [`Handlers::every`]. A callback for a
/// signal outside the set never runs.
pub struct Handlers<'h, const N: usize> {
    list: heapless::Vec<(Signal, Callback<'h>), N>,
}

impl<const N: usize> Default for Handlers<'_, N> {
    fn default() -> Self {
        Handlers::new()
    }
}

impl<'h, const N: usize> Handlers<'h, N> {
    /// No callback.
    pub const fn new() -> Self {
        Handlers {
            list: heapless::Vec::new(),
        }
    }

    /// Runs `f` when `sig` is taken, instead of the callback it had. `Err(sig)` when
    /// all `N` places hold other signals' callbacks.
    pub fn handle(&mut self, sig: Signal, f: Callback<'h>) -> Result<(), Signal> {
        match self.list.iter_mut().find(|(s, _)| *s == sig) {
            Some(entry) => {
                entry.1 = f;
                Ok(())
            }
            None => self.list.push((sig, f)).map_err(|(s, _)| s),
        }
    }

    /// The signals that have a callback (to block with SIGTERM, say).
    pub fn set(&self) -> SignalSet {
        self.list
            .iter()
            .fold(SignalSet::EMPTY, |set, &(s, _)| set.with(s))
    }

    /// Waits up to `timeout_ms` milliseconds (`None`: forever) for one signal of
    /// `signals` and runs its callback: what the callback returns; for a signal without
    /// one, [`Flow::Stop`] for SIGTERM, else [`Flow::Continue`] (it is ignored). `None`
    /// when the timeout passed first.
    pub fn dispatch(&mut self, signals: &Signals, timeout_ms: Option<u32>) -> Option<Flow> {
        self.next(signals, deadline(timeout_ms))
            .map(|(_, flow)| flow)
    }

    /// Takes the signals of `signals` and runs their callbacks until one returns
    /// [`Flow::Stop`] or a SIGTERM without a callback is taken; returns that signal.
    /// With no TERM in the set and no callback that stops, it runs until a signal ends
    /// the process.
    pub fn run(&mut self, signals: &Signals) -> Signal {
        loop {
            if let Some((sig, Flow::Stop)) = self.next(signals, None) {
                return sig;
            }
        }
    }

    /// Calls `step` now and then every `interval_ms` milliseconds, and in between
    /// takes the signals of `signals` and runs their callbacks, until one of them (or a
    /// SIGTERM without a callback) ends it — `Some(that signal)` — or `step` returns
    /// [`Flow::Stop`] — `None`.
    ///
    /// The steps keep to the times `start + k × interval` on `CLOCK_MONOTONIC`: a
    /// step's own time does not push the next one back. A step (or callback) that
    /// overruns skips the times it missed: steps never run back to back to catch up.
    /// With `interval_ms` 0, `step` runs again as soon as no signal is pending.
    pub fn every(
        &mut self,
        signals: &Signals,
        interval_ms: u32,
        mut step: impl FnMut() -> Flow,
    ) -> Option<Signal> {
        self.every_dyn(signals, interval_ms, &mut step)
    }

    /// [`Handlers::every`], one copy for every kind of step.
    fn every_dyn(
        &mut self,
        signals: &Signals,
        interval_ms: u32,
        step: &mut dyn FnMut() -> Flow,
    ) -> Option<Signal> {
        let interval = interval_ms as u64 * 1_000_000;
        let start = now_ns();
        loop {
            if step() == Flow::Stop {
                return None;
            }
            // The first time on the grid after now.
            let now = now_ns();
            let next = match interval {
                0 => now,
                _ => start + ((now - start) / interval + 1) * interval,
            };
            while let Some((sig, flow)) = self.next(signals, Some(next)) {
                if flow == Flow::Stop {
                    return Some(sig);
                }
            }
        }
    }

    /// Takes one signal of `signals` by the monotonic `deadline` (`None`: waits for
    /// ever) and runs its callback: the signal and what the callback says (TERM without
    /// one: stop; another without one: go on).
    fn next(&mut self, signals: &Signals, deadline: Option<u64>) -> Option<(Signal, Flow)> {
        let sig = take_by(signals.set, deadline)?;
        let flow = match self.list.iter_mut().find(|(s, _)| *s == sig) {
            Some((_, f)) => f(sig),
            None if sig == Signal::Term => Flow::Stop,
            None => Flow::Continue,
        };
        Some((sig, flow))
    }
}

/// Calls `step` now and then every `interval_ms` milliseconds until SIGTERM (if
/// `signals` has it) or until `step` returns [`Flow::Stop`]: [`Handlers::every`]
/// without callbacks (the set's other signals are taken and ignored between steps).
/// `Some(Signal::Term)` when TERM ended it, `None` when `step` did.
pub fn every(signals: &Signals, interval_ms: u32, step: impl FnMut() -> Flow) -> Option<Signal> {
    Handlers::<0>::new().every(signals, interval_ms, step)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::process::sleep_ms;
    use core::cell::Cell;
    use rustix::process::{getpid, Pid, WaitOptions};

    /// Fails the child's scenario with `code` unless `cond` holds (no panic in the
    /// child: see [`sys::fork_test_child`]).
    macro_rules! check {
        ($code:expr, $cond:expr) => {
            if !$cond {
                return $code;
            }
        };
    }

    /// Sends `sig` to this process.
    fn raise(sig: Signal) {
        let _ = sys::kill(getpid(), false, sig.as_raw());
    }

    /// Milliseconds since `start` (of [`now_ns`]).
    fn ms_since(start: u64) -> u64 {
        (now_ns() - start) / 1_000_000
    }

    /// Runs `child` in a forked child of the test process (the signal mask is per
    /// thread and the harness has many: the child has one). `child` is handed a
    /// function that tells the parent it is ready; then `parent` runs with its pid.
    /// Returns the child's exit code: 0 when every check passed, else the failed one's.
    fn forked(child: &mut dyn FnMut(&dyn Fn()) -> i32, parent: &mut dyn FnMut(Pid)) -> i32 {
        let (r, w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).unwrap();
        let pid = sys::fork_test_child(&mut || {
            child(&|| {
                let _ = rustix::io::write(&w, b"r");
            })
        })
        .unwrap();
        drop(w);
        let mut fds = [rustix::event::PollFd::new(&r, rustix::event::PollFlags::IN)];
        let mut byte = [0u8];
        if rustix::event::poll(&mut fds, 10_000) == Ok(1)
            && rustix::io::read(&r, &mut byte) == Ok(1)
        {
            parent(pid);
        }
        for _ in 0..2000 {
            match rustix::process::waitpid(Some(pid), WaitOptions::NOHANG).unwrap() {
                Some(st) => match st.exit_status() {
                    Some(code) => return code as i32,
                    None => panic!("child ended by signal {:?}", st.terminating_signal()),
                },
                None => sleep_ms(5),
            }
        }
        let _ = sys::kill(pid, false, Signal::Kill.as_raw());
        let _ = rustix::process::waitpid(Some(pid), WaitOptions::empty());
        panic!("child hung");
    }

    /// [`forked`] with nothing for the parent to do.
    fn alone(child: &mut dyn FnMut() -> i32) -> i32 {
        forked(&mut |_| child(), &mut |_| {})
    }

    const TERM: SignalSet = SignalSet::EMPTY.with(Signal::Term);

    #[test]
    fn sets() {
        let all = [Signal::Hup, Signal::Term, Signal::Usr1];
        let set = SignalSet::of(&all);
        assert!(SignalSet::EMPTY.is_empty() && !set.is_empty());
        assert!(all.iter().all(|&s| set.contains(s)));
        assert!(!set.contains(Signal::Usr2));
        assert_eq!(set.without(Signal::Term).with(Signal::Term), set);
        assert!(!set.without(Signal::Term).contains(Signal::Term));
        assert_eq!(SignalSet::of(&[]), SignalSet::EMPTY);
        assert_eq!(SignalSet::default(), SignalSet::EMPTY);
        // Each number has its own bit, across the 32-bit words, the highest included.
        let max = 8 * core::mem::size_of::<rustix::runtime::Sigset>() as i32;
        let nums = [1, 31, 32, 33, 63, 64, max];
        for n in nums {
            let only = SignalSet::EMPTY.with(Signal::from_raw(n).unwrap());
            for m in nums {
                assert_eq!(
                    only.contains(Signal::from_raw(m).unwrap()),
                    m == n,
                    "{n} {m}"
                );
            }
            assert!(only.without(Signal::from_raw(n).unwrap()).is_empty());
        }
    }

    #[test]
    fn nothing_pending_takes_nothing() {
        let code = alone(&mut || {
            let set = TERM.with(Signal::Usr1);
            let Ok(s) = Signals::block(set) else { return 1 };
            check!(2, s.set() == set);
            check!(3, s.take().is_none());
            check!(4, !s.got_sigterm());
            check!(5, !s.got(Signal::Usr1));
            0
        });
        assert_eq!(code, 0);
    }

    #[test]
    fn kill_and_stop_are_left_out() {
        let code = alone(&mut || {
            let Ok(s) = Signals::block(TERM.with(Signal::Kill).with(Signal::Stop)) else {
                return 1;
            };
            check!(2, s.set() == TERM);
            0
        });
        assert_eq!(code, 0);
    }

    #[test]
    fn sigterm_is_got_once() {
        let code = alone(&mut || {
            let Ok(s) = Signals::block(TERM) else {
                return 1;
            };
            raise(Signal::Term);
            check!(2, s.got_sigterm());
            check!(3, !s.got_sigterm());
            check!(4, s.take().is_none());
            raise(Signal::Term);
            check!(5, s.wait_for_sigterm(None));
            raise(Signal::Term);
            check!(6, s.take() == Some(Signal::Term));
            0
        });
        assert_eq!(code, 0);
    }

    #[test]
    fn wait_times_out() {
        let code = alone(&mut || {
            let Ok(s) = Signals::block(TERM) else {
                return 1;
            };
            let start = now_ns();
            check!(2, s.wait(Some(50)).is_none());
            check!(3, ms_since(start) >= 50);
            let start = now_ns();
            check!(4, !s.wait_for_sigterm(Some(50)));
            check!(5, ms_since(start) >= 50);
            check!(6, s.wait(Some(0)).is_none());
            0
        });
        assert_eq!(code, 0);
    }

    #[test]
    fn stopped_wait_goes_on_for_the_time_left() {
        // A stop and continue makes rt_sigtimedwait fail with EINTR (signal(7)); the
        // wait goes on for what is left of 400 ms, not for 400 ms again.
        let code = forked(
            &mut |ready| {
                let Ok(s) = Signals::block(TERM) else {
                    return 1;
                };
                let start = now_ns();
                ready();
                check!(2, s.wait(Some(400)).is_none());
                let ms = ms_since(start);
                check!(3, ms >= 400);
                check!(4, ms < 550);
                0
            },
            &mut |pid| {
                sleep_ms(150);
                let _ = sys::kill(pid, false, Signal::Stop.as_raw());
                sleep_ms(50);
                let _ = sys::kill(pid, false, Signal::Cont.as_raw());
            },
        );
        assert_eq!(code, 0);
    }

    #[test]
    fn other_signals_stay_pending() {
        let code = alone(&mut || {
            let Ok(s) = Signals::block(TERM.with(Signal::Usr1)) else {
                return 1;
            };
            raise(Signal::Usr1);
            let start = now_ns();
            check!(2, !s.wait_for_sigterm(Some(50)));
            check!(3, ms_since(start) >= 50);
            check!(4, !s.got_sigterm());
            check!(5, !s.got(Signal::Usr2));
            check!(6, s.take() == Some(Signal::Usr1));
            check!(7, s.take().is_none());
            raise(Signal::Usr1);
            raise(Signal::Term);
            // The lowest number first: USR1 (10) before TERM (15).
            check!(8, s.wait(None) == Some(Signal::Usr1));
            check!(9, s.got_sigterm());
            0
        });
        assert_eq!(code, 0);
    }

    #[test]
    fn without_term_in_the_set() {
        let code = alone(&mut || {
            let Ok(s) = Signals::block(SignalSet::EMPTY.with(Signal::Usr1)) else {
                return 1;
            };
            check!(2, !s.got_sigterm());
            let start = now_ns();
            check!(3, !s.wait_for_sigterm(Some(50)));
            check!(4, ms_since(start) >= 50);
            raise(Signal::Usr1);
            check!(5, !s.wait_for_sigterm(Some(0)));
            check!(6, s.take() == Some(Signal::Usr1));
            0
        });
        assert_eq!(code, 0);
    }

    #[test]
    fn real_time_signals() {
        let code = alone(&mut || {
            let (Some(low), Some(high)) = (Signal::from_raw(40), Signal::from_raw(64)) else {
                return 1;
            };
            let Ok(s) = Signals::block(SignalSet::of(&[low, high])) else {
                return 2;
            };
            raise(high);
            raise(low);
            check!(3, s.take() == Some(low));
            check!(4, s.take() == Some(high));
            check!(5, s.take().is_none());
            // They queue: two sent, two taken.
            raise(low);
            raise(low);
            check!(6, s.got(low) && s.got(low) && !s.got(low));
            0
        });
        assert_eq!(code, 0);
    }

    #[test]
    fn handlers_dispatch_and_stop() {
        let code = alone(&mut || {
            let set = SignalSet::of(&[Signal::Hup, Signal::Usr1, Signal::Usr2, Signal::Term]);
            let Ok(s) = Signals::block(set) else { return 1 };
            let (hups, seen) = (Cell::new(0), Cell::new(0));
            let mut on_hup = |sig: Signal| {
                hups.set(hups.get() + 1);
                seen.set(sig.as_raw());
                Flow::Continue
            };
            let mut on_usr1 = |_: Signal| Flow::Stop;
            let mut on_usr2 = |_: Signal| Flow::Stop;
            let mut hup_stops = |_: Signal| Flow::Stop;
            let mut h = Handlers::<2>::new();
            check!(2, h.handle(Signal::Hup, &mut on_hup).is_ok());
            check!(3, h.handle(Signal::Usr1, &mut on_usr1).is_ok());
            check!(4, h.handle(Signal::Usr2, &mut on_usr2) == Err(Signal::Usr2));
            check!(5, h.set() == SignalSet::of(&[Signal::Hup, Signal::Usr1]));
            check!(6, h.dispatch(&s, Some(0)).is_none());
            raise(Signal::Hup);
            check!(7, h.dispatch(&s, Some(0)) == Some(Flow::Continue));
            check!(8, hups.get() == 1 && seen.get() == Signal::Hup.as_raw());
            // USR2 has no callback: taken and ignored.
            raise(Signal::Usr2);
            check!(9, h.dispatch(&s, None) == Some(Flow::Continue));
            check!(10, hups.get() == 1 && s.take().is_none());
            // HUP (1) is taken before USR1 (10), whose callback stops.
            raise(Signal::Usr1);
            raise(Signal::Hup);
            check!(11, h.run(&s) == Signal::Usr1);
            check!(12, hups.get() == 2 && s.take().is_none());
            // TERM without a callback stops.
            raise(Signal::Term);
            check!(13, h.run(&s) == Signal::Term);
            // A second callback for HUP replaces the first, even when full.
            check!(14, h.handle(Signal::Hup, &mut hup_stops).is_ok());
            raise(Signal::Hup);
            check!(15, h.run(&s) == Signal::Hup && hups.get() == 2);
            0
        });
        assert_eq!(code, 0);
    }

    #[test]
    fn every_keeps_time_until_term() {
        // Steps of 20 ms every 50 ms, TERM after 600 ms from another process: about 13
        // steps (a loop that waited 50 ms after each step would make about 9).
        let code = forked(
            &mut |ready| {
                let Ok(s) = Signals::block(TERM) else {
                    return 1;
                };
                ready();
                let start = now_ns();
                let mut n = 0;
                let ended = every(&s, 50, || {
                    n += 1;
                    sleep_ms(20);
                    Flow::Continue
                });
                check!(2, ended == Some(Signal::Term));
                // One step at each multiple of 50 ms up to now; one or two may be
                // skipped on a loaded machine.
                let grid = ms_since(start) / 50 + 1;
                check!(100 + n.min(99) as i32, n <= grid && n + 2 >= grid && n >= 5);
                0
            },
            &mut |pid| {
                sleep_ms(600);
                let _ = sys::kill(pid, false, Signal::Term.as_raw());
            },
        );
        assert_eq!(code, 0, "(100 + the number of steps)");
    }

    #[test]
    fn every_ends_at_step_stop_or_callback_stop() {
        let code = alone(&mut || {
            let Ok(s) = Signals::block(TERM.with(Signal::Hup).with(Signal::Usr2)) else {
                return 1;
            };
            let n = Cell::new(0);
            let start = now_ns();
            let ended = every(&s, 10, || {
                n.set(n.get() + 1);
                // Ignored between steps: USR2 has no callback.
                raise(Signal::Usr2);
                match n.get() {
                    3 => Flow::Stop,
                    _ => Flow::Continue,
                }
            });
            check!(2, ended.is_none() && n.get() == 3);
            check!(3, ms_since(start) >= 20);
            // The last step's USR2 was left pending: the loop ended before it.
            check!(4, s.take() == Some(Signal::Usr2) && s.take().is_none());
            let mut hup = |_: Signal| Flow::Stop;
            let mut h = Handlers::<1>::new();
            check!(5, h.handle(Signal::Hup, &mut hup).is_ok());
            n.set(0);
            let ended = h.every(&s, 0, || {
                n.set(n.get() + 1);
                if n.get() == 2 {
                    raise(Signal::Hup);
                }
                Flow::Continue
            });
            check!(6, ended == Some(Signal::Hup) && n.get() == 2);
            0
        });
        assert_eq!(code, 0);
    }
}
