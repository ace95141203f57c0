//! A signal number, real-time ones included: rustix 0.38's `Signal` is an enum of the
//! named signals only (a value outside it would be undefined behaviour), and imp must
//! send what dpkg's `--signal 40` sends.

/// A signal number this architecture has: `1..=64` (`1..=128` on MIPS).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Signal(u8);

// CamelCase like the enum it replaces (and rustix's): `Signal::Term`.
#[allow(non_upper_case_globals)]
impl Signal {
    /// `SIGHUP`
    pub const Hup: Signal = Signal::known(linux_raw_sys::general::SIGHUP);
    /// `SIGINT`
    pub const Int: Signal = Signal::known(linux_raw_sys::general::SIGINT);
    /// `SIGQUIT`
    pub const Quit: Signal = Signal::known(linux_raw_sys::general::SIGQUIT);
    /// `SIGUSR1`
    pub const Usr1: Signal = Signal::known(linux_raw_sys::general::SIGUSR1);
    /// `SIGUSR2`
    pub const Usr2: Signal = Signal::known(linux_raw_sys::general::SIGUSR2);
    /// `SIGALRM`
    pub const Alarm: Signal = Signal::known(linux_raw_sys::general::SIGALRM);
    /// `SIGPIPE`
    pub const Pipe: Signal = Signal::known(linux_raw_sys::general::SIGPIPE);
    /// `SIGWINCH`
    pub const Winch: Signal = Signal::known(linux_raw_sys::general::SIGWINCH);
    /// `SIGTERM`
    pub const Term: Signal = Signal::known(linux_raw_sys::general::SIGTERM);
    /// `SIGKILL`
    pub const Kill: Signal = Signal::known(linux_raw_sys::general::SIGKILL);
    /// `SIGCONT`
    pub const Cont: Signal = Signal::known(linux_raw_sys::general::SIGCONT);
    /// `SIGSTOP`
    pub const Stop: Signal = Signal::known(linux_raw_sys::general::SIGSTOP);
    /// `SIGCHLD`
    pub const Child: Signal = Signal::known(linux_raw_sys::general::SIGCHLD);

    const fn known(n: u32) -> Signal {
        Signal(n as u8)
    }

    /// The highest signal number: the kernel's sigset size in bits.
    const MAX: i32 = 8 * core::mem::size_of::<rustix::runtime::Sigset>() as i32;

    /// The signal `n`, if this architecture has it (`1..=64`, `1..=128` on MIPS).
    pub const fn from_raw(n: i32) -> Option<Signal> {
        if n >= 1 && n <= Signal::MAX {
            Some(Signal(n as u8))
        } else {
            None
        }
    }

    /// Its number.
    pub const fn as_raw(self) -> i32 {
        self.0 as i32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_in_range() {
        assert_eq!(Signal::from_raw(0), None);
        assert_eq!(Signal::from_raw(-1), None);
        assert_eq!(Signal::from_raw(15), Some(Signal::Term));
        assert_eq!(Signal::from_raw(64).map(Signal::as_raw), Some(64));
        assert_eq!(Signal::from_raw(Signal::MAX + 1), None);
        assert_eq!(Signal::Kill.as_raw(), 9);
    }
}
