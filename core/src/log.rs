//! Output without `core::fmt`: a fixed line buffer that implements `ufmt::uWrite` and is
//! written to an fd with one `write` (so concurrent writers never interleave a line).

use crate::error::{errno_name, Cause, Error};
use crate::limits::MESSAGE_MAX;
use crate::num;
use rustix::fd::BorrowedFd;

/// The longest path [`Line::path`] shows whole.
pub const PATH_SHOWN_MAX: usize = 128 + 3 + 256;

/// A message being assembled: at most [`MESSAGE_MAX`] bytes with its newline.
#[repr(C)] // the length first, at a short offset: -24 B
pub struct Line {
    len: usize,
    buf: [u8; MESSAGE_MAX],
}

impl Default for Line {
    fn default() -> Self {
        Line::new()
    }
}

impl Line {
    /// An empty line.
    #[inline(never)] // one copy of the zeroing: -24 B
    pub const fn new() -> Line {
        Line {
            len: 0,
            buf: [0; MESSAGE_MAX],
        }
    }

    /// Appends bytes (cut at the buffer's end; the last byte stays free for `\n`).
    pub fn push(&mut self, s: &[u8]) -> &mut Line {
        let room = MESSAGE_MAX - 1 - self.len;
        let n = s.len().min(room);
        self.buf[self.len..self.len + n].copy_from_slice(&s[..n]);
        self.len += n;
        self
    }

    /// Appends a path (or any text a user gave) so that it cannot forge anything: a
    /// control character (a newline would start a second log line) shows as `?`. One
    /// longer than [`PATH_SHOWN_MAX`] shows its first 128 and last 256 bytes around
    /// `...`, so that what follows it in the line (the reason, the pid, which scripts
    /// match) always fits.
    pub fn path(&mut self, p: &[u8]) -> &mut Line {
        let start = self.len;
        match p.len() {
            n if n > PATH_SHOWN_MAX => self.push(&p[..128]).push(b"...").push(&p[n - 256..]),
            _ => self.push(p),
        };
        for c in &mut self.buf[start..self.len] {
            if *c < 0x20 || *c == 0x7f {
                *c = b'?';
            }
        }
        self
    }

    /// Appends a string.
    pub fn str(&mut self, s: &str) -> &mut Line {
        self.push(s.as_bytes())
    }

    /// Appends a decimal number.
    pub fn num(&mut self, n: u32) -> &mut Line {
        let mut b = [0u8; num::U32_DIGITS];
        self.push(num::u32_dec(n, &mut b))
    }

    /// Appends a decimal `u64` (a resource limit; apart from [`num`](Self::num), which
    /// stays 32-bit: a 64-bit division is a library call on 32-bit targets).
    pub fn num64(&mut self, mut n: u64) -> &mut Line {
        let mut b = [0u8; 20];
        let mut i = b.len();
        loop {
            i -= 1;
            b[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        self.push(&b[i..])
    }

    /// Appends why something failed: `Read-only file system (EROFS)` (an errno, by
    /// name, `E? N` for one imp does not know), or the text of one of imp's reasons.
    pub fn cause(&mut self, cause: Cause) -> &mut Line {
        match cause {
            Cause::Errno(e) => {
                let (name, text) = errno_name(e);
                self.str(text).str(" (").str(name);
                if name == "E?" {
                    self.str(" ").num(e.raw_os_error() as u32);
                }
                self.str(")")
            }
            Cause::Reason(r) => self.str(r.as_str()),
        }
    }

    /// Appends an error as `STEP: CAUSE`, with the status of [`Reason::Exited`](crate::Reason::Exited)
    /// (`daemon: exited before ready, status 3`).
    pub fn error(&mut self, e: &Error) -> &mut Line {
        self.str(e.op().as_str()).str(": ").cause(e.cause());
        if let Some(status) = e.status() {
            self.str(" ").num(status as u32);
        }
        self
    }

    /// The bytes so far.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// Ends the line with `\n` and writes it to `fd` in one call; errors are ignored
    /// (there is nowhere left to report them).
    pub fn emit(&mut self, fd: BorrowedFd<'_>) {
        self.buf[self.len] = b'\n';
        let _ = write_all(fd, &self.buf[..=self.len]);
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

pub use crate::fd::write_all;

/// Makes a closed stdout or stderr harmless: SIGPIPE is blocked in this process, so
/// writing a message to a pipe nobody reads fails with `EPIPE` (and is dropped)
/// instead of killing the process after its work is done (a caller would see 141 for
/// a successful start). Programs imp-core starts get it unblocked, and a pending one
/// discarded, before exec.
pub fn survive_closed_output() {
    crate::sys::block_sigpipe();
}

/// Standard output (fd 1), open for the process's whole life as std treats it:
/// imp-core never closes fds 0-2 (it opens `/dev/null` onto any of them that is
/// closed, and otherwise only `dup2`s onto them).
pub fn stdout() -> BorrowedFd<'static> {
    crate::sys::stdout()
}

/// Standard error (fd 2), as [`stdout`].
pub fn stderr() -> BorrowedFd<'static> {
    crate::sys::stderr()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_is_cut_not_overflowed() {
        let mut l = Line::new();
        l.str("imp: ").num(42);
        assert_eq!(l.as_bytes(), b"imp: 42");
        for _ in 0..(MESSAGE_MAX / 10 + 10) {
            l.str("0123456789");
        }
        assert_eq!(l.as_bytes().len(), MESSAGE_MAX - 1);
    }

    #[test]
    fn long_paths_keep_head_and_tail() {
        let mut p = [b'd'; 4096];
        p[0] = b'/';
        p[4095] = b'x';
        let mut l = Line::new();
        l.str("imp: ").path(&p).str(": started");
        let b = l.as_bytes();
        assert_eq!(b.len(), 5 + PATH_SHOWN_MAX + 9);
        assert!(b.starts_with(b"imp: /ddd"));
        assert!(b.ends_with(b"dddx: started"));
        assert_eq!(&b[5 + 128..5 + 131], b"...");
        let mut l = Line::new();
        l.path(&p[..PATH_SHOWN_MAX]);
        assert_eq!(l.as_bytes(), &p[..PATH_SHOWN_MAX]);
    }
}
