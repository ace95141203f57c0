//! Decimal numbers in and out, strictly and without `core::fmt`.

/// Parses a decimal unsigned number: ASCII digits only, no sign, no leading zero
/// (except "0" itself), no overflow.
pub fn decimal(s: &[u8]) -> Option<u64> {
    if s.is_empty() || s.len() > 19 || (s.len() > 1 && s[0] == b'0') {
        return None;
    }
    let mut n: u64 = 0;
    for &b in s {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n * 10 + u64::from(b - b'0');
    }
    Some(n)
}

/// Room for the digits of any `u32`.
pub const U32_DIGITS: usize = 10;

/// Formats `n` in decimal at the end of `buf`, returning the digits.
pub fn u32_dec(mut n: u32, buf: &mut [u8; U32_DIGITS]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    &buf[i..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_in_and_out() {
        assert_eq!(decimal(b"0"), Some(0));
        assert_eq!(decimal(b"4294967295"), Some(4294967295));
        assert_eq!(decimal(b"9999999999999999999"), Some(9999999999999999999));
        for bad in [
            &b""[..],
            b"01",
            b"+1",
            b"-1",
            b"1a",
            b" 1",
            b"99999999999999999999",
        ] {
            assert_eq!(decimal(bad), None, "{bad:?}");
        }
        let mut b = [0; U32_DIGITS];
        assert_eq!(u32_dec(0, &mut b), b"0");
        assert_eq!(u32_dec(42, &mut b), b"42");
        assert_eq!(u32_dec(u32::MAX, &mut b), b"4294967295");
    }
}
