//! imp-core: make a process a correct Unix daemon, and control daemons through locked
//! pidfiles — with raw Linux syscalls (through `rustix`), fixed-size buffers and no
//! allocator.
//!
//! What it does:
//! - [`spawn`]: double fork, `setsid`, stdio, fd sanitising, signal reset, umask,
//!   chroot, chdir, environment, privilege drop, pidfile lock, `execve` — every step
//!   between fork and exec reports its failure (step + errno) to the caller through a
//!   close-on-exec pipe, so nobody is told "started" for a program that never ran.
//! - [`pidfile`]: create (`O_NOFOLLOW`, 0644, ownership checks), lock for the daemon's
//!   life, probe the lock holder with `F_GETLK`, remove safely.
//! - [`control`]: status (LSB codes), stop (pidfd + poll, schedules, SIGKILL
//!   escalation), signal.
//! - [`user`]: `/etc/passwd` and `/etc/group` lookups in fixed buffers.
//!
//! Non-goals: other kernels than Linux (no macOS, no BSD, no Windows), an allocator,
//! threads (forking a multi-threaded process is refused), signal handlers (signals are
//! taken synchronously).
#![cfg_attr(not(any(test, feature = "std")), no_std)]

pub mod control;
pub mod error;
pub mod fd;
pub mod log;
pub mod parse;
pub mod pidfile;
pub mod spawn;
pub mod sys;
pub mod table;
pub mod user;

pub use error::{Cause, Error, Op};
pub use rustix::io::Errno;
pub use rustix::process::{Pid, Signal};
pub use sys::{exit, CStrArray};
