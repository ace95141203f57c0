//! The value parsers: pidfile content, signal, umask, duration, nice, fd, and the
//! `--retry` schedule. None may panic; what they accept must be in range.
#![no_main]

use imp_core::control::Step;
use imp_core::parse;
use imp_core::pidfile::{parse_pid, PID_MAX_LIMIT};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(pid) = parse_pid(data, PID_MAX_LIMIT) {
        assert!((2..=PID_MAX_LIMIT).contains(&pid));
        // Canonical: the same digits, at most one newline after them.
        let digits = data.strip_suffix(b"\n").unwrap_or(data);
        assert_eq!(digits, pid.to_string().as_bytes());
    }
    if let Some(sig) = parse::signal(data) {
        assert!((1..=128).contains(&sig.as_raw()));
    }
    if let Some(m) = parse::umask(data) {
        assert!(m <= 0o777);
    }
    if let Some(ms) = parse::duration_ms(data) {
        assert!(ms <= 86_400_000);
    }
    if let Some(n) = parse::nice(data) {
        assert!((-20..=19).contains(&n));
    }
    if let Some(fd) = parse::fd(data) {
        assert!((0..=65535).contains(&fd));
    }
    if let Some(s) = parse::schedule(data, imp_core::Signal::Term) {
        assert!(!s.is_empty());
        // A `forever` repeat always contains a positive wait (no signal storm).
        if let Some(i) = s.iter().position(|st| matches!(st, Step::Forever)) {
            assert!(s[i + 1..].iter().any(|st| matches!(st, Step::Wait(ms) if *ms > 0)));
        }
    }
});
