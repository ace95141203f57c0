//! Output without `core::fmt`: a fixed line buffer that implements `ufmt::uWrite` and is
//! written to an fd with one `write` (so concurrent writers never interleave a line).

use crate::fd;
use rustix::fd::BorrowedFd;

/// The longest line imp writes; longer lines are cut, never split.
pub const LINE_MAX: usize = 1024;

/// A message being assembled.
pub struct Line {
    buf: [u8; LINE_MAX],
    len: usize,
}

impl Default for Line {
    fn default() -> Self {
        Line::new()
    }
}

impl Line {
    /// An empty line. (Not inlined: one zeroing loop for every line imp writes.)
    #[inline(never)]
    pub const fn new() -> Line {
        Line {
            buf: [0; LINE_MAX],
            len: 0,
        }
    }

    /// Appends bytes (cut at the buffer's end; the last byte stays free for `\n`).
    pub fn push(&mut self, s: &[u8]) -> &mut Line {
        let room = LINE_MAX - 1 - self.len;
        let n = s.len().min(room);
        self.buf[self.len..self.len + n].copy_from_slice(&s[..n]);
        self.len += n;
        self
    }

    /// Appends a string.
    pub fn str(&mut self, s: &str) -> &mut Line {
        self.push(s.as_bytes())
    }

    /// Appends a decimal number.
    pub fn num(&mut self, n: u32) -> &mut Line {
        let mut b = [0u8; 12];
        self.push(u32_dec(n, &mut b))
    }

    /// The bytes so far.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// Ends the line with `\n` and writes it to `fd` in one call; errors are ignored
    /// (there is nowhere left to report them).
    pub fn emit(&mut self, fd: BorrowedFd<'_>) {
        self.buf[self.len] = b'\n';
        let _ = fd::write_all(fd, &self.buf[..=self.len]);
        self.len = 0;
    }
}

impl ufmt::uWrite for Line {
    type Error = core::convert::Infallible;
    fn write_str(&mut self, s: &str) -> Result<(), Self::Error> {
        self.str(s);
        Ok(())
    }
}

/// Formats `n` in decimal into `buf`, returning the digits.
pub fn u32_dec(mut n: u32, buf: &mut [u8; 12]) -> &[u8] {
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
    fn decimal() {
        let mut b = [0; 12];
        assert_eq!(u32_dec(0, &mut b), b"0");
        assert_eq!(u32_dec(4294967295, &mut b), b"4294967295");
    }

    #[test]
    fn line_is_cut_not_overflowed() {
        let mut l = Line::new();
        l.str("imp: ").num(42);
        assert_eq!(l.as_bytes(), b"imp: 42");
        for _ in 0..200 {
            l.str("0123456789");
        }
        assert_eq!(l.as_bytes().len(), LINE_MAX - 1);
    }
}

/// Standard output (fd 1), which imp keeps open (see `spawn::sanitize_stdio`).
pub fn stdout() -> BorrowedFd<'static> {
    crate::sys::borrow_raw(1)
}

/// Standard error (fd 2).
pub fn stderr() -> BorrowedFd<'static> {
    crate::sys::borrow_raw(2)
}
