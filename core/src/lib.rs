//! imp-core: make a process a correct Unix daemon, and control daemons through locked
//! pidfiles — with raw Linux syscalls (through `rustix`), fixed-size buffers and no
//! allocator.
//!
//! For a Rust program that daemonizes itself (what python-daemon, pydaemonize, the
//! `service` and `daemons` packages give Python programs):
//! - [`daemon`]: become a daemon running a Rust closure — double fork, `setsid`,
//!   stdio, fds closed but the preserved ones, umask, chdir, chroot, `prevent_core`,
//!   nice, the pidfile locked and written by the daemon, a *privileged action* run
//!   before the drop to a user and its groups; the caller returns only once the body
//!   said it is ready, or with the reason it failed. Foreground on request, and
//!   without detaching under init or inetd.
//! - [`signals`]: signals blocked and taken synchronously — `got_sigterm`,
//!   `wait_for_sigterm`, per-signal callbacks dispatched from a loop, a step loop.
//! - [`control`]: status (LSB codes), stop (pidfd, schedules, SIGKILL escalation),
//!   kill, send a signal, from any process ([`control::Pidfile`]).
//! - [`service`]: `start|stop|restart|status` with LSB exit codes in one call.
//! - `supervise` (feature `supervise`): one process in front of a program — a
//!   supervisor that restarts it with backoff (`--respawn`), or a container's init
//!   (tini's job: forward signals, reap every zombie, exit with its status); and, in
//!   [`spawn`], `start_ready` (readiness: the s6 notification fd, OpenRC's `--wait`).
//! - [`syslog`] and [`log`]: RFC 3164 to `/dev/log` without blocking; lines without
//!   `core::fmt`, `ufmt` writers.
//! - The `imp-rt` crate (beside this one): `_start`, panic handler and memory
//!   functions, for a `#![no_std] #![no_main]` daemon with no libc (`examples/tiny.rs`).
//!
//! For starting programs (the `imp` binary is a thin parser over these):
//! - [`spawn`]: double fork, `setsid`, stdio, fd sanitising, signal reset, umask,
//!   chroot, chdir, environment, privilege drop, pidfile lock, `execve` — every step
//!   between fork and exec reports its failure (step + errno) to the caller through a
//!   close-on-exec pipe, so nobody is told "started" for a program that never ran.
//! - [`pidfile`]: create (`O_NOFOLLOW`, 0644, ownership checks), lock for the daemon's
//!   life, probe the lock holder with `F_GETLK`, remove safely.
//! - [`user`]: `/etc/passwd` and `/etc/group` lookups in fixed buffers; the privilege
//!   drop.
//! - [`parse`]: strict parsers for signals, durations, umasks, schedules, resource
//!   limits and capability names; [`limits`]: every buffer size.
//! - [`harden`] (the steps with the `harden` feature): resource limits,
//!   `PR_SET_NO_NEW_PRIVS`, capabilities kept across the drop to a user (ambient).
//!
//! Examples, each built with `cargo build --release -p imp-core --example NAME`
//! (no_std, no libc, on imp-rt): `service` (the `service` package's quickstart, logging
//! to syslog), `step` (a step loop), `privileged` (binds a port below 1024 as root,
//! serves as `nobody`), `tiny` (the smallest whole daemon).
//!
//! Non-goals: other kernels than Linux (no macOS, no BSD, no Windows), an allocator,
//! threads (forking a multi-threaded process is refused), signal handlers (signals are
//! blocked and taken synchronously: [`signals`]).
//!
//! # Safety
//! The few operations that Rust cannot check are behind two proofs, each made with an
//! `unsafe` call by the program that knows: [`SingleThreaded::assume`] (forking is
//! safe: one thread) and [`OnlyKeptFds::promise`] (every fd but 0-2 and the kept ones
//! may be closed under the program, for [`spawn::run`] and [`daemon::Daemon::start`]).
//! Nothing else of the public API takes a raw fd it does not own or forks unchecked:
//! the raw calls live in one private module.
//!
//! A program without `unsafe` cannot reach them:
//!
//! ```compile_fail,E0603
//! #![forbid(unsafe_code)]
//! // The unsafe boundary is private: closing by number is not imp-core's API.
//! let f = std::fs::File::open("/dev/null").unwrap();
//! imp_core::sys::close_raw(std::os::fd::AsRawFd::as_raw_fd(&f));
//! ```
//!
//! ```compile_fail,E0133
//! #![forbid(unsafe_code)]
//! // Running in place closes every other fd: only a program that promises not to
//! // use them again may ask for it, and the promise is unsafe to make.
//! let spec = imp_core::spawn::Spec::new(c"/bin/true", imp_core::CStrArray::empty(),
//!     imp_core::CStrArray::empty());
//! let _ = imp_core::spawn::run(&spec, imp_core::OnlyKeptFds::promise());
//! ```
//!
//! ```compile_fail,E0133
//! #![forbid(unsafe_code)]
//! // Skipping the thread check is the program's word, given with `unsafe`.
//! let mut spec = imp_core::spawn::Spec::new(c"/bin/true", imp_core::CStrArray::empty(),
//!     imp_core::CStrArray::empty());
//! spec.single_threaded(imp_core::SingleThreaded::assume());
//! ```
//!
//! ```
//! # #![forbid(unsafe_code)]
//! // What compiles without unsafe: the checked paths.
//! let spec = imp_core::spawn::Spec::new(c"/bin/true", imp_core::CStrArray::empty(),
//!     imp_core::CStrArray::empty());
//! let _ = &spec;
//! assert_eq!(imp_core::parse::signal(b"TERM"), Some(imp_core::Signal::Term));
//! ```
#![cfg_attr(not(any(test, feature = "std")), no_std)]
// Unit tests stop at the first surprise, on purpose.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]
#![deny(missing_docs)]

pub mod control;
pub mod daemon;
pub mod error;
mod fd;
#[cfg(feature = "find")]
pub mod find;
pub mod harden;
pub mod limits;
pub mod log;
mod num;
pub mod parse;
pub mod pidfile;
mod process;
pub mod service;
mod signal;
pub mod signals;
pub mod spawn;
#[cfg(feature = "supervise")]
pub mod supervise;
mod sys;
pub mod syslog;
pub mod user;
mod walk;
mod words;

pub use error::{Cause, Error, Op, Reason};
pub use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
pub use rustix::io::Errno;
pub use rustix::process::Pid;
pub use signal::Signal;
pub use signals::{Flow, Handlers, SignalSet, Signals};
pub use sys::{exit, CStrArray, OnlyKeptFds, SingleThreaded};

/// Not API: entry points for the fuzz targets in `fuzz/` (nothing in imp calls them, so
/// they cost the binary nothing). It may change at any release.
#[doc(hidden)]
pub mod __fuzz {
    use crate::spawn::Spec;
    use core::ffi::CStr;

    /// The environment `spec`'s program would get, entry by entry (or the error a start
    /// would report before forking).
    pub fn environment(spec: &Spec<'_>, each: &mut dyn FnMut(&CStr)) -> Result<(), crate::Error> {
        let mut vars = [0; core::mem::size_of::<crate::spawn::env::Vars>()];
        let mut env = crate::spawn::env::Env::new();
        for e in crate::spawn::env::envp(spec, &mut vars, &mut env)?.iter() {
            each(e);
        }
        Ok(())
    }
}

/// Not API: what only the `imp` binary needs (its word tables and argv slicing), kept
/// here so that it is written once. It may change at any release.
#[doc(hidden)]
pub mod __cli {
    pub use crate::fd::join;
    pub use crate::words::{find, nth};

    /// The tail of a C string from byte `at` on (`--opt=value` → `value`); empty past
    /// the end.
    pub fn cstr_tail(s: &core::ffi::CStr, at: usize) -> &core::ffi::CStr {
        crate::sys::cstr_tail(s, at)
    }
}
