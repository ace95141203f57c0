//! Logging to the local syslog daemon: RFC 3164 datagrams on its unix socket
//! (`/dev/log`), never blocking.
//!
//! Each message is one datagram `<PRI>IDENT[PID]: MESSAGE`, without a timestamp: the
//! local daemon (busybox syslogd, rsyslog, syslog-ng) stamps what comes without one
//! (RFC 3164 §4.3.2). A daemon that is down, gone or too slow costs a counted drop
//! ([`Syslog::dropped`]), never a wait: the send is `MSG_DONTWAIT`. A syslogd that was
//! restarted (the socket rebound) is reconnected once, on the next message.
//!
//! # References
//! - [RFC 3164](https://www.rfc-editor.org/rfc/rfc3164) (BSD syslog)
//! - [syslog(3)](https://man7.org/linux/man-pages/man3/syslog.3.html)
//! - [unix(7)](https://man7.org/linux/man-pages/man7/unix.7.html),
//!   [send(2)](https://man7.org/linux/man-pages/man2/send.2.html)

use crate::error::{Context, Error, Op};
use crate::limits::SYSLOG_MAX;
use crate::log::Line;
use core::ffi::CStr;
use rustix::fd::OwnedFd;
use rustix::fs::FileType;
use rustix::io::Errno;
use rustix::net::{self, AddressFamily, SendFlags, SocketAddrUnix, SocketFlags, SocketType};

/// Where syslog daemons listen, in the order [`find_syslog`] tries them.
pub const PATHS: [&CStr; 3] = [c"/dev/log", c"/var/run/syslog", c"/var/run/log"];

/// The longest ident kept (longer ones are cut).
pub const IDENT_MAX: usize = 32;

/// The facility: who logs (`LOG_DAEMON`...).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
#[allow(missing_docs)] // syslog(3)'s names
pub enum Facility {
    Kern = 0,
    User = 1,
    Mail = 2,
    Daemon = 3,
    Auth = 4,
    Syslog = 5,
    Lpr = 6,
    News = 7,
    Uucp = 8,
    Cron = 9,
    Authpriv = 10,
    Ftp = 11,
    Local0 = 16,
    Local1 = 17,
    Local2 = 18,
    Local3 = 19,
    Local4 = 20,
    Local5 = 21,
    Local6 = 22,
    Local7 = 23,
}

/// The level: how much it matters (`LOG_ERR`, `LOG_INFO`...).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
#[allow(missing_docs)] // syslog(3)'s names
pub enum Level {
    Emerg = 0,
    Alert = 1,
    Crit = 2,
    Err = 3,
    Warning = 4,
    Notice = 5,
    Info = 6,
    Debug = 7,
}

/// The first of [`PATHS`] that is a socket.
pub fn find_syslog() -> Option<&'static CStr> {
    find_in(&PATHS)
}

/// The first of `paths` that is a socket.
pub fn find_in<'p>(paths: &[&'p CStr]) -> Option<&'p CStr> {
    paths.iter().copied().find(|p| {
        rustix::fs::stat(*p).is_ok_and(|st| FileType::from_raw_mode(st.st_mode) == FileType::Socket)
    })
}

/// A connection to syslog, tagged with an ident and a facility.
pub struct Syslog<'a> {
    socket: Option<OwnedFd>,
    path: Option<&'a CStr>,
    ident: &'a [u8],
    facility: Facility,
    dropped: u32,
}

impl<'a> Syslog<'a> {
    /// Connects to [`find_syslog`]'s socket; never fails: with no syslog, every
    /// message is a counted drop.
    pub fn open(ident: &'a [u8], facility: Facility) -> Syslog<'a> {
        let path = find_syslog();
        Syslog {
            socket: path.and_then(|p| connect(p).ok()),
            path,
            ident: cut(ident),
            facility,
            dropped: 0,
        }
    }

    /// Connects to the socket at `path`.
    ///
    /// # Errors
    /// [`Op::Syslog`] with the errno of `socket` or `connect` (`ENOENT`: nothing
    /// there; `ECONNREFUSED`: nobody listens).
    pub fn connect(
        path: &'a CStr,
        ident: &'a [u8],
        facility: Facility,
    ) -> Result<Syslog<'a>, Error> {
        Ok(Syslog {
            socket: Some(connect(path).op(Op::Syslog)?),
            path: Some(path),
            ident: cut(ident),
            facility,
            dropped: 0,
        })
    }

    /// Sends `msg` at `level` as one datagram (cut to fit [`SYSLOG_MAX`]; control
    /// characters but tab shown as `?`). Whether it was sent; if not, it was counted
    /// as dropped.
    pub fn send(&mut self, level: Level, msg: &[u8]) -> bool {
        let mut buf = [0u8; SYSLOG_MAX];
        let n = self.format(level, msg, &mut buf);
        let sent = self.send_once(&buf[..n]) || (self.reconnect() && self.send_once(&buf[..n]));
        if !sent {
            self.dropped = self.dropped.saturating_add(1);
        }
        sent
    }

    /// Sends a [`Line`] (see [`send`](Self::send)): `ufmt::uwrite!` into the line, then
    /// this.
    pub fn line(&mut self, level: Level, line: &Line) -> bool {
        self.send(level, line.as_bytes())
    }

    /// How many messages could not be sent.
    pub fn dropped(&self) -> u32 {
        self.dropped
    }

    /// `<PRI>IDENT[PID]: MSG` into `buf`; its length.
    fn format(&self, level: Level, msg: &[u8], buf: &mut [u8; SYSLOG_MAX]) -> usize {
        let mut pri = [0u8; crate::num::U32_DIGITS];
        let mut pid = [0u8; crate::num::U32_DIGITS];
        let pri = crate::num::u32_dec(self.facility as u32 * 8 + level as u32, &mut pri);
        let me = rustix::process::getpid().as_raw_nonzero().get() as u32;
        let pid = crate::num::u32_dec(me, &mut pid);
        let mut n = 0;
        for (part, clean) in [
            (&b"<"[..], false),
            (pri, false),
            (b">", false),
            (self.ident, true),
            (b"[", false),
            (pid, false),
            (b"]: ", false),
            (msg, true),
        ] {
            for &c in part {
                if n == buf.len() {
                    return n;
                }
                buf[n] = if clean && (c < 0x20 && c != b'\t' || c == 0x7f) {
                    b'?'
                } else {
                    c
                };
                n += 1;
            }
        }
        n
    }

    fn send_once(&self, datagram: &[u8]) -> bool {
        let flags = SendFlags::DONTWAIT | SendFlags::NOSIGNAL;
        match &self.socket {
            Some(s) => crate::fd::retry(|| net::send(s, datagram, flags)).is_ok(),
            None => false,
        }
    }

    /// A syslogd that restarted rebound its path: connects again, once per message.
    fn reconnect(&mut self) -> bool {
        let Some(path) = self.path else {
            return false;
        };
        self.socket = connect(path).ok();
        self.socket.is_some()
    }
}

/// A connected, close-on-exec `AF_UNIX` datagram socket to `path`.
fn connect(path: &CStr) -> Result<OwnedFd, Errno> {
    let s = net::socket_with(
        AddressFamily::UNIX,
        SocketType::DGRAM,
        SocketFlags::CLOEXEC,
        None,
    )?;
    net::connect_unix(&s, &SocketAddrUnix::new(path)?)?;
    Ok(s)
}

fn cut(ident: &[u8]) -> &[u8] {
    &ident[..ident.len().min(IDENT_MAX)]
}

/// Sends every panic's message to syslog too: `panicked at FILE:LINE: MESSAGE` at
/// [`Level::Crit`], tagged `ident`, to `socket` (else [`find_syslog`]'s), after the
/// hook that was installed before (std's prints to stderr, which a daemon has on its
/// log file or `/dev/null`). Install it before [`Daemon::start`](crate::daemon::Daemon::start):
/// the hook is the process's, the daemon inherits it.
///
/// # References
/// - [`std::panic::set_hook`]
#[cfg(feature = "std")]
pub fn log_panics(ident: &'static [u8], facility: Facility, socket: Option<&'static CStr>) {
    let previous = std::panic::take_hook();
    std::panic::set_hook(std::boxed::Box::new(move |info| {
        previous(info);
        let payload = info.payload();
        let what = match (
            payload.downcast_ref::<&str>(),
            payload.downcast_ref::<std::string::String>(),
        ) {
            (Some(s), _) => s,
            (None, Some(s)) => s.as_str(),
            (None, None) => "Box<dyn Any>",
        };
        let msg = match info.location() {
            Some(at) => std::format!("panicked at {}:{}: {what}", at.file(), at.line()),
            None => std::format!("panicked: {what}"),
        };
        let log = match socket {
            Some(path) => Syslog::connect(path, ident, facility).ok(),
            None => Some(Syslog::open(ident, facility)),
        };
        if let Some(mut log) = log {
            log.send(Level::Crit, msg.as_bytes());
        }
    }));
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixDatagram;

    fn dir(name: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("imp-syslog-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn cpath(p: &std::path::Path) -> std::ffi::CString {
        std::ffi::CString::new(p.to_str().unwrap()).unwrap()
    }

    #[test]
    fn one_datagram_per_message_exact_bytes() {
        let d = dir("exact");
        let sock = d.join("log");
        let rx = UnixDatagram::bind(&sock).unwrap();
        let p = cpath(&sock);
        let mut log = Syslog::connect(&p, b"name", Facility::Daemon).unwrap();
        assert!(log.send(Level::Info, b"hello"));
        let mut buf = [0u8; 2048];
        let n = rx.recv(&mut buf).unwrap();
        let want = format!("<30>name[{}]: hello", std::process::id());
        assert_eq!(&buf[..n], want.as_bytes());
        // Control characters cannot forge a second line; tab is kept; ident cut.
        let mut log = Syslog::connect(&p, &[b'x'; 40], Facility::Local7).unwrap();
        assert!(log.send(Level::Err, b"a\nb\tc\x7f"));
        let n = rx.recv(&mut buf).unwrap();
        let want = format!("<187>{}[{}]: a?b\tc?", "x".repeat(32), std::process::id());
        assert_eq!(&buf[..n], want.as_bytes());
        // A message too long is cut to the buffer.
        assert!(log.send(Level::Info, &[b'm'; 4000]));
        assert_eq!(rx.recv(&mut buf).unwrap(), SYSLOG_MAX);
        assert_eq!(log.dropped(), 0);
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn a_stuck_or_gone_syslog_costs_drops_not_waits() {
        let d = dir("stuck");
        let sock = d.join("log");
        let rx = UnixDatagram::bind(&sock).unwrap();
        let p = cpath(&sock);
        let mut log = Syslog::connect(&p, b"t", Facility::User).unwrap();
        let t0 = std::time::Instant::now();
        let mut failed = 0;
        for _ in 0..5000 {
            if !log.send(Level::Info, &[b'z'; 512]) {
                failed += 1;
            }
        }
        assert!(failed > 0, "a receiver that never reads fills up");
        assert_eq!(log.dropped(), failed);
        assert!(t0.elapsed().as_secs() < 5, "never blocks");
        // The syslogd restarts: the path is rebound, the next message reconnects.
        drop(rx);
        std::fs::remove_file(&sock).unwrap();
        let rx = UnixDatagram::bind(&sock).unwrap();
        assert!(log.send(Level::Info, b"again"));
        let mut buf = [0u8; 64];
        let n = rx.recv(&mut buf).unwrap();
        assert!(buf[..n].ends_with(b"]: again"));
        // Nobody there at all.
        drop(rx);
        std::fs::remove_file(&sock).unwrap();
        assert!(!log.send(Level::Info, b"lost"));
        assert!(Syslog::connect(&p, b"t", Facility::User).is_err());
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn find_takes_the_first_socket() {
        let d = dir("find");
        let file = d.join("file");
        std::fs::write(&file, b"").unwrap();
        let sock = d.join("sock");
        let _rx = UnixDatagram::bind(&sock).unwrap();
        let (f, s, none) = (cpath(&file), cpath(&sock), cpath(&d.join("none")));
        assert_eq!(find_in(&[&none, &f, &s]), Some(s.as_c_str()));
        assert_eq!(find_in(&[&none, &f]), None);
        let _ = std::fs::remove_dir_all(&d);
    }
}
