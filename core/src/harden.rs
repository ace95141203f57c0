//! Hardening the program, as procd, OpenRC and s6 offer it: resource limits
//! (`setrlimit`), `PR_SET_NO_NEW_PRIVS`, and capabilities kept across the drop to a
//! user as ambient capabilities, every other one dropped from every set.
//!
//! The types and their parsers ([`parse::limit`](crate::parse::limit),
//! [`parse::caps`](crate::parse::caps)) are always there; the steps that apply them
//! (and the [`Spec`](crate::spawn::Spec) fields that ask for them) come with the
//! `harden` feature.
//!
//! # References
//! - [capabilities(7)](https://man7.org/linux/man-pages/man7/capabilities.7.html)
//!   ("Ambient capabilities", "Transformation of capabilities during execve()")
//! - [prctl(2)](https://man7.org/linux/man-pages/man2/prctl.2.html) (`PR_CAPBSET_DROP`,
//!   `PR_CAP_AMBIENT`, `PR_SET_KEEPCAPS`, `PR_SET_NO_NEW_PRIVS`)
//! - [setrlimit(2)](https://man7.org/linux/man-pages/man2/setrlimit.2.html),
//!   [prlimit(1)](https://man7.org/linux/man-pages/man1/prlimit.1.html)

pub use rustix::process::{Resource, Rlimit};

/// One `--limit`: the resource, and its soft (`current`) and hard (`maximum`) values,
/// `None` for unlimited.
pub type Limit = (Resource, Rlimit);

/// A set of capabilities, by number (`CAP_NET_BIND_SERVICE` is 10): bit `n` is
/// capability `n`, as in `/proc/PID/status`'s `CapEff` line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CapSet(u64);

impl CapSet {
    /// The set of these bits.
    pub const fn from_bits(bits: u64) -> CapSet {
        CapSet(bits)
    }

    /// The bits, as `CapEff` shows them.
    pub const fn bits(self) -> u64 {
        self.0
    }

    /// Whether capability `n` is in the set.
    pub const fn has(self, n: u32) -> bool {
        n < 64 && self.0 & (1 << n) != 0
    }

    /// The set with capability `n` (0..=63) added.
    pub const fn with(self, n: u32) -> CapSet {
        CapSet(self.0 | (1 << (n & 63)))
    }
}

#[cfg(feature = "harden")]
pub(crate) use steps::*;

#[cfg(feature = "harden")]
mod steps {
    use super::{CapSet, Limit};
    use crate::error::{Context, Error, Op, Reason};
    use crate::spawn::Credentials;
    use crate::sys;
    use crate::user;
    use rustix::io::Errno;
    use rustix::thread::{CapabilityFlags, CapabilitySets};

    /// `CAP_SETUID` and `CAP_SETGID`: kept, they let the program change its ids again.
    const CAP_SETUID: u32 = linux_raw_sys::general::CAP_SETUID;
    const CAP_SETGID: u32 = linux_raw_sys::general::CAP_SETGID;

    impl Error {
        /// The resource of a failed [`Op::Rlimit`] (its prlimit(1) name:
        /// [`parse::resource_name`](crate::parse::resource_name)).
        pub fn resource(self) -> Option<super::Resource> {
            match self.op() {
                Op::Rlimit => crate::parse::resource_at(self.raw_id() as usize),
                _ => None,
            }
        }
    }

    /// Sets each limit in order (a resource named twice: the last wins). Runs before
    /// the drop to a user, so that root can raise a hard limit.
    pub(crate) fn set_limits(limits: &[Limit]) -> Result<(), Error> {
        for &(resource, lim) in limits {
            rustix::process::setrlimit(resource, lim).map_err(|e| {
                Error::sys(Op::Rlimit, e).with_id(crate::parse::resource_index(resource) as u32)
            })?;
        }
        Ok(())
    }

    /// `PR_SET_NO_NEW_PRIVS`: execve never grants privileges again (setuid bits and
    /// file capabilities are ignored), for the program and every descendant.
    pub(crate) fn no_new_privs() -> Result<(), Error> {
        rustix::thread::set_no_new_privs(true).op(Op::NoNewPrivs)
    }

    /// Before forking: the kernel must have ambient capabilities (Linux 4.3), or
    /// `--caps` could not keep anything across the drop to a user.
    pub(crate) fn check_ambient() -> Result<(), Error> {
        match sys::cap_ambient_is_set(0) {
            Err(Errno::INVAL) => Err(Error::check(Op::Caps, Reason::NoAmbient)),
            _ => Ok(()),
        }
    }

    /// The privilege drop keeping `caps`: every other capability out of the bounding
    /// set (while root: `CAP_SETPCAP`), then, with `credentials`, setgroups, setgid
    /// and setuid with `PR_SET_KEEPCAPS` (the permitted set survives the uid change);
    /// then permitted, effective and inheritable set to exactly `caps` and each raised
    /// in the ambient set (which execve keeps for a program without file capabilities),
    /// then the check that root cannot be regained, skipped for the ids that a kept
    /// `CAP_SETUID` or `CAP_SETGID` lets the program change by design.
    pub(crate) fn drop_keeping(
        credentials: Option<&Credentials>,
        caps: CapSet,
    ) -> Result<(), Error> {
        let mut n = 0;
        while n < 64 {
            if !caps.has(n) {
                match sys::capbset_drop(n) {
                    Ok(()) => {}
                    // Past the kernel's last capability.
                    Err(Errno::INVAL) => break,
                    Err(e) => return Err(Error::sys(Op::Caps, e)),
                }
            }
            n += 1;
        }
        let ids = credentials.filter(|c| !user::is_already(c.user.uid, c.gid));
        if let Some(c) = ids {
            rustix::thread::set_keep_capabilities(true).op(Op::Caps)?;
            user::set_ids(c.user.uid, c.gid, &c.groups)?;
        }
        let flags = CapabilityFlags::from_bits_retain(caps.bits());
        let sets = CapabilitySets {
            effective: flags,
            permitted: flags,
            inheritable: flags,
        };
        rustix::thread::set_capabilities(None, sets).op(Op::Caps)?;
        for n in 0..64 {
            if caps.has(n) {
                sys::cap_ambient_raise(n).op(Op::Caps)?;
            }
        }
        match ids {
            Some(c) => user::check_dropped(
                c.user.uid,
                c.gid,
                caps.has(CAP_SETUID),
                caps.has(CAP_SETGID),
            ),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capsets() {
        let s = CapSet::default().with(10).with(13);
        assert_eq!(s.bits(), 0x2400);
        assert!(s.has(10) && s.has(13) && !s.has(0) && !s.has(64));
        assert!(CapSet::from_bits(1 << 63).has(63));
    }
}
