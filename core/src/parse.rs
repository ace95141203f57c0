//! Strict parsers for what imp reads from its users: signal names, octal umasks,
//! durations, nice values, fd numbers, dpkg `--retry` schedules, resource limits
//! (`nofile=1024:4096`) and capability lists (`net_bind_service,cap_net_raw`). Each accepts the
//! whole input or nothing (no `42abc` → 42, no `+7`, no wrap-around). (Pidfile content
//! is parsed by [`pidfile::parse_pid`](crate::pidfile::parse_pid).)

use crate::control::{Schedule, Step};
use crate::harden::{CapSet, Limit, Resource, Rlimit};
use crate::num::decimal;
use crate::signal::Signal;

/// The signals imp knows by name: each once, with its number in this architecture's
/// numbering from the kernel's headers (`linux-raw-sys`).
macro_rules! signals {
    ($($name:ident)+) => {
        const SIGNAL_NUMS: &[u8] = &[$(linux_raw_sys::general::$name as u8,)+];
        /// The names of [`SIGNAL_NUMS`], `SIG` and all.
        const SIGNAL_NAMES: &str = concat!($(stringify!($name), "\n",)+);
    };
}

signals! {
    SIGHUP SIGINT SIGQUIT SIGILL SIGTRAP SIGABRT SIGIOT SIGBUS SIGFPE SIGKILL SIGUSR1
    SIGSEGV SIGUSR2 SIGPIPE SIGALRM SIGTERM SIGCHLD SIGCONT SIGSTOP SIGTSTP SIGTTIN
    SIGTTOU SIGURG SIGXCPU SIGXFSZ SIGVTALRM SIGPROF SIGWINCH SIGIO SIGPOLL SIGPWR SIGSYS
}

/// The index of a signal name (without `SIG`, any case) in [`SIGNAL_NAMES`].
fn signal_index(name: &[u8]) -> Option<usize> {
    let mut i = 0;
    loop {
        let w = crate::words::nth(SIGNAL_NAMES, i);
        let short = w.as_bytes().get(3..)?;
        if crate::words::same(short, name, true) {
            return Some(i);
        }
        i += 1;
    }
}

/// Parses a signal: `TERM`, `SIGTERM`, `term` or `15` (`CLD` is `CHLD`). Numbers must
/// name a signal this architecture has: `1..=64` (`1..=128` on MIPS), real-time
/// signals included, as dpkg's `--signal` takes them.
pub fn signal(s: &[u8]) -> Option<Signal> {
    if let Some(n) = decimal(s) {
        return Signal::from_raw(i32::try_from(n).ok()?);
    }
    let name = match s {
        [b'S' | b's', b'I' | b'i', b'G' | b'g', rest @ ..] => rest,
        _ => s,
    };
    if name.is_empty() {
        return None;
    }
    // System V's name for SIGCHLD, which dpkg accepts (the kernel headers have it on
    // MIPS only).
    if crate::words::same(name, b"CLD", true) {
        return Some(Signal::Child);
    }
    let i = signal_index(name)?;
    Signal::from_raw(i32::from(SIGNAL_NUMS[i]))
}

/// The name of a signal without the `SIG` prefix (`TERM`), or `None` for an unnamed one.
pub fn signal_name(sig: Signal) -> Option<&'static str> {
    let i = SIGNAL_NUMS
        .iter()
        .position(|&n| i32::from(n) == sig.as_raw())?;
    crate::words::nth(SIGNAL_NAMES, i).get(3..)
}

/// Parses an octal umask: 1 to 4 octal digits, at most `0777`.
pub fn umask(s: &[u8]) -> Option<u32> {
    if s.is_empty() || s.len() > 4 {
        return None;
    }
    let mut n = 0u32;
    for &b in s {
        if !(b'0'..=b'7').contains(&b) {
            return None;
        }
        n = n * 8 + u32::from(b - b'0');
    }
    (n <= 0o777).then_some(n)
}

/// Parses a duration in seconds into milliseconds: `10`, `0.5`, `2.25` (at most three
/// decimals, at most a day). No sign, no exponent.
pub fn duration_ms(s: &[u8]) -> Option<u32> {
    const MAX_MS: u64 = 86_400_000;
    let (int, frac) = match s.iter().position(|&b| b == b'.') {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    // Leading zeros are harmless in durations ("00.5" is odd but not ambiguous): one is
    // dropped before the strict parse.
    let int = match int {
        [b'0', rest @ ..] if !rest.is_empty() => rest,
        _ => int,
    };
    let mut ms = decimal(int)?.checked_mul(1000)?;
    if let Some(frac) = frac {
        if frac.is_empty() || frac.len() > 3 {
            return None;
        }
        // u32: a u64 division pulls a divide helper into 32-bit targets.
        let mut scale = 100u32;
        for &b in frac {
            if !b.is_ascii_digit() {
                return None;
            }
            ms += u64::from(u32::from(b - b'0') * scale);
            scale /= 10;
        }
    }
    (ms <= MAX_MS).then_some(ms as u32)
}

/// Parses a nice value: `-20..=19`.
#[inline(never)] // one copy: -32 B
pub fn nice(s: &[u8]) -> Option<i32> {
    let (neg, digits) = match s {
        [b'-', rest @ ..] => (true, rest),
        [b'+', rest @ ..] => (false, rest),
        _ => (false, s),
    };
    let n = decimal(digits)? as i64;
    let n = if neg { -n } else { n };
    (-20..=19).contains(&n).then_some(n as i32)
}

/// Parses a decimal `u32` strictly: ASCII digits only, no sign, no leading zero
/// (`0` itself is fine), no overflow.
pub fn uint(s: &[u8]) -> Option<u32> {
    decimal(s).and_then(|n| u32::try_from(n).ok())
}

/// Parses a file descriptor number for `--keep-fd`: `0..=65535`.
pub fn fd(s: &[u8]) -> Option<i32> {
    decimal(s).filter(|&n| n <= 65535).map(|n| n as i32)
}

/// Parses a dpkg `--retry` schedule: `TERM/30/KILL/5`, or a bare timeout `N`, meaning
/// `SIG/N/KILL/N` with `sig` the stop signal. Items are signals (`TERM`, `-TERM`,
/// `15`... as dpkg accepts), timeouts in seconds, or `forever`: what follows it repeats
/// until the process exits (`TERM/30/forever/KILL/5`); it appears at most once, not
/// last, and what it repeats must wait. As dpkg's, a schedule may begin with a wait
/// (nscd's `0/30/KILL/5` waits for the daemon it told to shut down).
pub fn schedule(s: &[u8], sig: Signal) -> Option<Schedule> {
    let mut out = Schedule::new();
    if let Some(ms) = duration_ms(s) {
        out.extend([
            Step::Signal(sig),
            Step::Wait(ms),
            Step::Signal(Signal::Kill),
            Step::Wait(ms),
        ]);
        return Some(out);
    }
    for item in s.split(|&b| b == b'/') {
        let step = if item == b"forever" {
            Step::Forever
        } else if let Some(sig) = item.strip_prefix(b"-").and_then(signal) {
            Step::Signal(sig)
        } else if let Some(ms) = duration_ms(item) {
            Step::Wait(ms)
        } else {
            Step::Signal(signal(item)?)
        };
        out.push(step).ok()?;
    }
    // As dpkg: `forever` repeats what follows it, so it appears at most once and not
    // last; unlike dpkg, what it repeats must wait (a repeat without a wait would
    // send signals as fast as the CPU goes).
    // (A position and a slice, not `split`: -200 B.)
    let repeat_ok = match out.iter().position(|s| *s == Step::Forever) {
        None => true,
        Some(i) => {
            let repeated = &out[i + 1..];
            let waits = repeated
                .iter()
                .any(|s| matches!(s, Step::Wait(ms) if *ms > 0));
            waits && !repeated.contains(&Step::Forever)
        }
    };
    repeat_ok.then_some(out)
}

/// The resources of `--limit`, by the names prlimit(1) gives them, in the order of
/// [`RESOURCES`].
const RESOURCE_NAMES: &str = "as\ncore\ncpu\ndata\nfsize\nlocks\nmemlock\nmsgqueue\nnice\nnofile\nnproc\nrss\nrtprio\nrttime\nsigpending\nstack\n";

/// The resource each of [`RESOURCE_NAMES`] names.
const RESOURCES: [Resource; 16] = {
    use Resource::*;
    [
        As, Core, Cpu, Data, Fsize, Locks, Memlock, Msgqueue, Nice, Nofile, Nproc, Rss, Rtprio,
        Rttime, Sigpending, Stack,
    ]
};

/// The prlimit(1) name of a resource (`nofile`).
pub fn resource_name(r: Resource) -> &'static str {
    crate::words::nth(RESOURCE_NAMES, resource_index(r))
}

/// The index of `r` in [`RESOURCES`].
pub(crate) fn resource_index(r: Resource) -> usize {
    RESOURCES.iter().position(|&x| x == r).unwrap_or(0)
}

/// The `i`-th of [`RESOURCES`].
#[cfg(feature = "harden")]
pub(crate) fn resource_at(i: usize) -> Option<Resource> {
    RESOURCES.get(i).copied()
}

/// One value of a limit: decimal, or `unlimited`/`infinity` (`None`).
fn limit_value(s: &[u8]) -> Option<Option<u64>> {
    if s == b"unlimited" || s == b"infinity" {
        return Some(None);
    }
    decimal(s).map(Some)
}

/// Parses a `--limit`: `RESOURCE=SOFT[:HARD]`, the resource by its prlimit(1) name
/// (`nofile`, `nproc`, `core`, `as`, `memlock`, `stack`, `cpu`, `fsize`, `data`,
/// `rss`, `msgqueue`, `nice`, `rtprio`, `sigpending`, `locks`, `rttime`; any case),
/// each value decimal or `unlimited`/`infinity`; a single value sets both limits, as
/// prlimit(1) does (its `SOFT:` and `:HARD` forms, which leave one limit as it is, are
/// not taken).
///
/// # Errors
/// What is wrong, in words a message can use: `unknown resource`, `invalid value`,
/// `soft limit above hard limit`.
#[inline(never)] // kept out of the argument loop (measured with imp's `harden`: -80 B together)
pub fn limit(s: &[u8]) -> Result<Limit, &'static str> {
    let eq = s.iter().position(|&b| b == b'=').unwrap_or(s.len());
    let i = crate::words::find(RESOURCE_NAMES, &s[..eq], true).ok_or("unknown resource")?;
    let v = s.get(eq + 1..).unwrap_or(b"");
    let (soft, hard) = match v.iter().position(|&b| b == b':') {
        Some(c) => (&v[..c], &v[c + 1..]),
        None => (v, v),
    };
    let (Some(soft), Some(hard)) = (limit_value(soft), limit_value(hard)) else {
        return Err("invalid value");
    };
    let above = match (soft, hard) {
        (Some(s), Some(h)) => s > h,
        (None, Some(_)) => true,
        _ => false,
    };
    if above {
        return Err("soft limit above hard limit");
    }
    let lim = Rlimit {
        current: soft,
        maximum: hard,
    };
    Ok((RESOURCES[i], lim))
}

/// The capabilities of capabilities(7) by number (`CAP_CHOWN` is 0), lower case and
/// without `cap_`.
const CAP_NAMES: &str = "chown\ndac_override\ndac_read_search\nfowner\nfsetid\nkill\nsetgid\nsetuid\nsetpcap\nlinux_immutable\nnet_bind_service\nnet_broadcast\nnet_admin\nnet_raw\nipc_lock\nipc_owner\nsys_module\nsys_rawio\nsys_chroot\nsys_ptrace\nsys_pacct\nsys_admin\nsys_boot\nsys_nice\nsys_resource\nsys_time\nsys_tty_config\nmknod\nlease\naudit_write\naudit_control\nsetfcap\nmac_override\nmac_admin\nsyslog\nwake_alarm\nblock_suspend\naudit_read\nperfmon\nbpf\ncheckpoint_restore\n";

/// The name of capability `n` (`net_bind_service`), or `None` for a number without one.
pub fn cap_name(n: u32) -> Option<&'static str> {
    let w = crate::words::nth(CAP_NAMES, n as usize);
    (!w.is_empty()).then_some(w)
}

/// Parses a `--caps` list: capabilities separated by commas, each a name of
/// capabilities(7) in any case, with or without `cap_` (`net_bind_service`,
/// `CAP_NET_RAW`), or a number 0..=63 (one the kernel does not have fails when it is
/// set).
///
/// # Errors
/// The first item that is not a capability (empty for an empty list or item).
#[inline(never)] // kept out of the argument loop (measured with imp's `harden`: -80 B together)
pub fn caps(s: &[u8]) -> Result<CapSet, &[u8]> {
    let mut set = CapSet::default();
    for item in s.split(|&b| b == b',') {
        let name = match item {
            [b'c' | b'C', b'a' | b'A', b'p' | b'P', b'_', rest @ ..] => rest,
            _ => item,
        };
        let n = match decimal(item) {
            Some(n) if n < 64 => n as usize,
            _ => crate::words::find(CAP_NAMES, name, true).ok_or(item)?,
        };
        set = set.with(n as u32);
    }
    Ok(set)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_by_name_and_number() {
        assert_eq!(signal(b"TERM"), Some(Signal::Term));
        assert_eq!(signal(b"SIGTERM"), Some(Signal::Term));
        assert_eq!(signal(b"sighup"), Some(Signal::Hup));
        assert_eq!(signal(b"9"), Some(Signal::Kill));
        assert_eq!(signal(b"1"), Some(Signal::Hup));
        assert_eq!(signal(b"CLD"), Some(Signal::Child));
        assert_eq!(signal(b"SIGcld"), Some(Signal::Child));
        // Real-time signals, by number as dpkg takes them.
        assert_eq!(signal(b"40").map(Signal::as_raw), Some(40));
        assert_eq!(signal(b"64").map(Signal::as_raw), Some(64));
        assert_eq!(signal_name(Signal::from_raw(40).unwrap()), None);
        for bad in [
            &b"0"[..],
            b"-9",
            b"65",
            b"KILLX",
            b"",
            b"SIG",
            b"09",
            b"+9",
            b"200",
        ] {
            assert_eq!(signal(bad), None, "{:?}", bad);
        }
        let named = |n: u32| Signal::from_raw(n as i32).unwrap();
        use linux_raw_sys::general as g;
        assert_eq!(signal_name(named(g::SIGUSR1)), Some("USR1"));
        assert_eq!(signal_name(named(g::SIGSYS)), Some("SYS"));
        // Every name parses back to its own number, with and without SIG, in any case.
        for (i, name) in SIGNAL_NAMES.lines().enumerate() {
            let sig = Signal::from_raw(i32::from(SIGNAL_NUMS[i])).expect(name);
            assert_eq!(signal(name.as_bytes()), Some(sig), "{name}");
            assert_eq!(
                signal(name[3..].to_lowercase().as_bytes()),
                Some(sig),
                "{name}"
            );
            assert_eq!(
                signal(sig.as_raw().to_string().as_bytes()),
                Some(sig),
                "{name}"
            );
        }
        assert_eq!(SIGNAL_NAMES.lines().count(), SIGNAL_NUMS.len());
        // Aliases print as the first name of their number.
        assert_eq!(signal_name(named(g::SIGABRT)), Some("ABRT"));
        assert_eq!(signal_name(named(g::SIGIO)), Some("IO"));
    }

    #[test]
    fn umasks_are_octal() {
        assert_eq!(umask(b"022"), Some(0o22));
        assert_eq!(umask(b"0"), Some(0));
        assert_eq!(umask(b"0777"), Some(0o777));
        for bad in [&b"0999"[..], b"-1", b"", b"8", b"01000", b"7777", b"0x1"] {
            assert_eq!(umask(bad), None, "{:?}", bad);
        }
    }

    #[test]
    fn durations() {
        assert_eq!(duration_ms(b"10"), Some(10_000));
        assert_eq!(duration_ms(b"0"), Some(0));
        assert_eq!(duration_ms(b"0.5"), Some(500));
        assert_eq!(duration_ms(b"2.25"), Some(2250));
        assert_eq!(duration_ms(b"00.5"), Some(500));
        assert_eq!(duration_ms(b"01"), Some(1000));
        assert_eq!(duration_ms(b"007"), None);
        assert_eq!(duration_ms(b"1.2.3"), None);
        for bad in [
            &b"-1"[..],
            b"1e3",
            b"18446744073709551616",
            b"",
            b".",
            b"1.",
            b".5",
            b"1.2345",
            b"100000",
            b" 1",
        ] {
            assert_eq!(duration_ms(bad), None, "{:?}", bad);
        }
    }

    #[test]
    fn nice_and_fd() {
        assert_eq!(nice(b"-5"), Some(-5));
        assert_eq!(nice(b"19"), Some(19));
        assert_eq!(nice(b"100"), None);
        assert_eq!(nice(b"-21"), None);
        assert_eq!(fd(b"3"), Some(3));
        assert_eq!(fd(b"-1"), None);
        assert_eq!(fd(b"70000"), None);
    }

    #[test]
    fn schedules() {
        let s = schedule(b"TERM/30/KILL/5", Signal::Term).unwrap();
        assert_eq!(
            &s[..],
            &[
                Step::Signal(Signal::Term),
                Step::Wait(30_000),
                Step::Signal(Signal::Kill),
                Step::Wait(5000)
            ]
        );
        let s = schedule(b"5", Signal::Hup).unwrap();
        assert_eq!(
            &s[..],
            &[
                Step::Signal(Signal::Hup),
                Step::Wait(5000),
                Step::Signal(Signal::Kill),
                Step::Wait(5000)
            ]
        );
        let s = schedule(b"TERM/1/forever/KILL/1", Signal::Term).unwrap();
        assert_eq!(
            &s[..],
            &[
                Step::Signal(Signal::Term),
                Step::Wait(1000),
                Step::Forever,
                Step::Signal(Signal::Kill),
                Step::Wait(1000)
            ]
        );
        assert!(schedule(b"forever/TERM/5", Signal::Term).is_some());
        let s = schedule(b"0/30/KILL/5", Signal::Term).unwrap();
        assert_eq!(
            &s[..],
            &[
                Step::Wait(0),
                Step::Wait(30_000),
                Step::Signal(Signal::Kill),
                Step::Wait(5000)
            ]
        );
        let s = schedule(b"1/-1/2", Signal::Term).unwrap();
        assert_eq!(
            &s[..],
            &[
                Step::Wait(1000),
                Step::Signal(Signal::Hup),
                Step::Wait(2000)
            ]
        );
        for bad in [
            &b""[..],
            b"TERM//5",
            b"TERM/x",
            b"forever",
            b"-HUP/1/forever",
            b"TERM/forever",
            b"TERM/forever/KILL",
            b"TERM/forever/KILL/0",
            b"TERM/forever/5/forever/5",
            b"TERM/-x",
        ] {
            assert!(schedule(bad, Signal::Term).is_none(), "{:?}", bad);
        }
    }

    #[test]
    fn limits() {
        let l = |s: &str| limit(s.as_bytes());
        let lim = |soft, hard| Rlimit {
            current: soft,
            maximum: hard,
        };
        assert_eq!(
            l("nofile=1024"),
            Ok((Resource::Nofile, lim(Some(1024), Some(1024))))
        );
        assert_eq!(
            l("nofile=10:20"),
            Ok((Resource::Nofile, lim(Some(10), Some(20))))
        );
        assert_eq!(
            l("NOFILE=10:10"),
            Ok((Resource::Nofile, lim(Some(10), Some(10))))
        );
        assert_eq!(l("core=unlimited"), Ok((Resource::Core, lim(None, None))));
        assert_eq!(l("as=0:infinity"), Ok((Resource::As, lim(Some(0), None))));
        assert_eq!(
            l("stack=8388608:unlimited"),
            Ok((Resource::Stack, lim(Some(8388608), None)))
        );
        for bad in [
            "nofile=abc",
            "nofile=",
            "nofile",
            "nofile=1:",
            "nofile=:1",
            "nofile=1:2:3",
            "nofile=-1",
            "nofile=01",
            "nofile= 1",
            "nofile=1k",
            "nofile=99999999999999999999",
        ] {
            assert_eq!(l(bad), Err("invalid value"), "{bad}");
        }
        for bad in ["files=1", "=1", "", "no file=1", "nofiles=1"] {
            assert_eq!(l(bad), Err("unknown resource"), "{bad}");
        }
        for bad in ["nofile=10:5", "nofile=unlimited:5", "core=infinity:0"] {
            assert_eq!(l(bad), Err("soft limit above hard limit"), "{bad}");
        }
        // Every name, and nothing twice.
        assert_eq!(RESOURCE_NAMES.lines().count(), RESOURCES.len());
        for (i, name) in RESOURCE_NAMES.lines().enumerate() {
            let (r, _) = l(&format!("{name}=1")).unwrap();
            assert_eq!(r, RESOURCES[i], "{name}");
            assert_eq!(resource_name(r), name);
            assert_eq!(RESOURCES.iter().filter(|&&x| x == r).count(), 1, "{name}");
        }
    }

    #[test]
    fn capability_lists() {
        use linux_raw_sys::general as g;
        let c = |s: &'static str| caps(s.as_bytes()).map(CapSet::bits);
        let bit = |n: u32| 1u64 << n;
        assert_eq!(c("net_bind_service"), Ok(bit(g::CAP_NET_BIND_SERVICE)));
        assert_eq!(
            c("CAP_NET_BIND_SERVICE,net_raw"),
            Ok(bit(g::CAP_NET_BIND_SERVICE) | bit(g::CAP_NET_RAW))
        );
        assert_eq!(
            c("cap_sys_admin,12,Cap_Chown"),
            Ok(bit(21) | bit(12) | bit(0))
        );
        assert_eq!(c("63"), Ok(bit(63)));
        assert_eq!(c("setuid,setuid"), Ok(bit(g::CAP_SETUID)));
        for (bad, item) in [
            ("net_bind", "net_bind"),
            ("net_raw,foo", "foo"),
            ("", ""),
            ("chown,", ""),
            ("64", "64"),
            ("cap_", "cap_"),
            ("-1", "-1"),
            ("cap_10", "cap_10"),
        ] {
            assert_eq!(caps(bad.as_bytes()), Err(item.as_bytes()), "{bad}");
        }
        // The table is the kernel's numbering.
        let kernel = [
            g::CAP_CHOWN,
            g::CAP_DAC_OVERRIDE,
            g::CAP_DAC_READ_SEARCH,
            g::CAP_FOWNER,
            g::CAP_FSETID,
            g::CAP_KILL,
            g::CAP_SETGID,
            g::CAP_SETUID,
            g::CAP_SETPCAP,
            g::CAP_LINUX_IMMUTABLE,
            g::CAP_NET_BIND_SERVICE,
            g::CAP_NET_BROADCAST,
            g::CAP_NET_ADMIN,
            g::CAP_NET_RAW,
            g::CAP_IPC_LOCK,
            g::CAP_IPC_OWNER,
            g::CAP_SYS_MODULE,
            g::CAP_SYS_RAWIO,
            g::CAP_SYS_CHROOT,
            g::CAP_SYS_PTRACE,
            g::CAP_SYS_PACCT,
            g::CAP_SYS_ADMIN,
            g::CAP_SYS_BOOT,
            g::CAP_SYS_NICE,
            g::CAP_SYS_RESOURCE,
            g::CAP_SYS_TIME,
            g::CAP_SYS_TTY_CONFIG,
            g::CAP_MKNOD,
            g::CAP_LEASE,
            g::CAP_AUDIT_WRITE,
            g::CAP_AUDIT_CONTROL,
            g::CAP_SETFCAP,
            g::CAP_MAC_OVERRIDE,
            g::CAP_MAC_ADMIN,
            g::CAP_SYSLOG,
            g::CAP_WAKE_ALARM,
            g::CAP_BLOCK_SUSPEND,
            g::CAP_AUDIT_READ,
            g::CAP_PERFMON,
            g::CAP_BPF,
            g::CAP_CHECKPOINT_RESTORE,
        ];
        assert_eq!(CAP_NAMES.lines().count(), kernel.len());
        for (i, name) in CAP_NAMES.lines().enumerate() {
            assert_eq!(kernel[i] as usize, i, "{name}");
            assert_eq!(cap_name(i as u32), Some(name));
            assert_eq!(c(name), Ok(bit(i as u32)), "{name}");
            let upper = format!("CAP_{}", name.to_uppercase());
            assert_eq!(caps(upper.as_bytes()).map(CapSet::bits), Ok(bit(i as u32)));
        }
        assert_eq!(cap_name(41), None);
    }
}
