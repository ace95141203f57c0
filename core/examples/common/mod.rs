//! What the examples share: their command line (`--NAME VALUE` options, then an
//! action word) and the proofs a no_std, no-libc program can give.
#![allow(dead_code, unsafe_code)] // each example uses part of it; the proofs are unsafe

use core::ffi::CStr;
use imp_core::service::Action;
use imp_core::{CStrArray, OnlyKeptFds, SingleThreaded};

/// The command line: `--NAME VALUE` pairs, and the last word as the action.
pub struct Args {
    argv: CStrArray,
}

impl Args {
    /// The command line after the program's name.
    pub fn new(argv: CStrArray) -> Args {
        Args { argv: argv.skip(1) }
    }

    /// The value after `--NAME`.
    pub fn opt(&self, name: &[u8]) -> Option<&'static CStr> {
        let mut it = self.argv.iter();
        while let Some(a) = it.next() {
            let a = a.to_bytes();
            if a.len() == name.len() + 2 && a.starts_with(b"--") && &a[2..] == name {
                return it.next();
            }
        }
        None
    }

    /// Whether `--NAME` is given.
    pub fn flag(&self, name: &[u8]) -> bool {
        self.argv.iter().any(|a| {
            let a = a.to_bytes();
            a.len() == name.len() + 2 && a.starts_with(b"--") && &a[2..] == name
        })
    }

    /// The value after `--NAME` as a number, or `default`; `None` if it is not one.
    pub fn num(&self, name: &[u8], default: u32) -> Option<u32> {
        match self.opt(name) {
            Some(v) => imp_core::parse::uint(v.to_bytes()),
            None => Some(default),
        }
    }

    /// The last word, if it is `start`, `stop`, `restart` or `status`.
    pub fn action(&self) -> Option<Action> {
        Action::parse(self.argv.iter().last()?.to_bytes())
    }
}

/// The example's word that it runs one thread: it is a no_std, no-libc binary with no
/// thread API (and /proc would count qemu-user's own threads).
pub fn one_thread() -> SingleThreaded {
    // SAFETY: as above.
    unsafe { SingleThreaded::assume() }
}

/// The example's promise that it uses no fd opened before the daemon starts: it opens
/// none (imp-core's calls open and close their own).
pub fn only_kept_fds() -> OnlyKeptFds {
    // SAFETY: as above.
    unsafe { OnlyKeptFds::promise() }
}
