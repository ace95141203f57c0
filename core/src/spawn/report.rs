//! The report pipe: what the daemon tells the caller of `start` between fork and exec,
//! as fixed-size records (each one `write`, atomic: shorter than `PIPE_BUF`).
//!
//! The pipe is close-on-exec: after the [`Record::Exec`] record, EOF means `execve`
//! succeeded; EOF before it means the daemon died on the way.

use crate::error::{Cause, Error, Op, Reason};
use crate::fd;
use rustix::fd::{AsFd, OwnedFd};
use rustix::io::Errno;
use rustix::process::Pid;

/// One thing the daemon reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Record {
    /// The daemon holds the pidfile's lock and wrote its pid there.
    Locked(Pid),
    /// Every step is done: only `execve` is left.
    Exec,
    /// The program said it is ready (readiness protocols).
    Ready,
    /// A step failed; the daemon exits.
    Failed(Error),
}

/// Bytes per record: kind, op, reason (or [`NO_REASON`]), 0, then two little-endian
/// `u32`s: the pid or errno, and the error's id.
pub(crate) const RECORD_LEN: usize = 12;

const KIND_LOCKED: u8 = 1;
const KIND_EXEC: u8 = 2;
const KIND_READY: u8 = 3;
const KIND_FAILED: u8 = 4;
/// The reason byte of an errno failure.
const NO_REASON: u8 = 0xff;

impl Record {
    /// The record as sent.
    pub(crate) fn encode(self) -> [u8; RECORD_LEN] {
        let (head, value, id) = match self {
            Record::Locked(pid) => ([KIND_LOCKED, 0, 0], pid.as_raw_nonzero().get() as u32, 0),
            Record::Exec => ([KIND_EXEC, 0, 0], 0, 0),
            Record::Ready => ([KIND_READY, 0, 0], 0, 0),
            Record::Failed(e) => match e.cause() {
                Cause::Errno(n) => (
                    [KIND_FAILED, e.op() as u8, NO_REASON],
                    n.raw_os_error() as u32,
                    e.raw_id(),
                ),
                Cause::Reason(r) => ([KIND_FAILED, e.op() as u8, r as u8], 0, e.raw_id()),
            },
        };
        let mut rec = [0u8; RECORD_LEN];
        rec[..3].copy_from_slice(&head);
        rec[4..8].copy_from_slice(&value.to_le_bytes());
        rec[8..].copy_from_slice(&id.to_le_bytes());
        rec
    }

    /// The record sent as `rec`; `None` for bytes no daemon sends.
    pub(crate) fn decode(rec: &[u8; RECORD_LEN]) -> Option<Record> {
        let value = u32::from_le_bytes([rec[4], rec[5], rec[6], rec[7]]);
        let id = u32::from_le_bytes([rec[8], rec[9], rec[10], rec[11]]);
        Some(match rec[0] {
            KIND_LOCKED => Record::Locked(Pid::from_raw(value as i32)?),
            KIND_EXEC => Record::Exec,
            KIND_READY => Record::Ready,
            KIND_FAILED => {
                let op = Op::from_u8(rec[1])?;
                let e = match rec[2] {
                    NO_REASON => Error::sys(op, Errno::from_raw_os_error(value as i32)),
                    r => Error::check(op, Reason::from_u8(r)?),
                };
                Record::Failed(e.with_id(id))
            }
            _ => return None,
        })
    }
}

/// Sends a record; errors are ignored (a caller that is gone reads nothing, and the
/// daemon goes on).
pub(crate) fn send(wr: &OwnedFd, r: Record) {
    let _ = fd::write_all(wr.as_fd(), &r.encode());
}

/// What the caller learned once the pipe closed.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// The program was exec'd as this pid, holding the pidfile (if any).
    Started(Pid),
    /// The error, and the daemon's pid if it had locked the pidfile.
    Failed(Error, Option<Pid>),
}

/// Reads records until EOF or a failure; with `ready` (a daemon that runs Rust code,
/// not a program, and never execs), until the daemon said [`Record::Ready`] instead.
pub(crate) fn read(rd: &OwnedFd, ready: bool) -> Outcome {
    let mut locked = None;
    let mut exec = false;
    let mut rec = [0u8; RECORD_LEN];
    loop {
        // A read error counts as EOF, as a cut record does.
        let n = fd::read_full(rd.as_fd(), &mut rec).unwrap_or(0);
        let record = if n == rec.len() {
            Record::decode(&rec)
        } else {
            None
        };
        match record {
            Some(Record::Locked(pid)) => locked = Some(pid),
            Some(Record::Exec) => exec = true,
            Some(Record::Ready) => {
                if let (true, Some(pid)) = (ready, locked) {
                    return Outcome::Started(pid);
                }
            }
            Some(Record::Failed(e)) => return Outcome::Failed(e, locked),
            // EOF (or bytes no daemon sends: the same, a daemon gone without a word).
            None => {
                return match (locked, exec, ready) {
                    (Some(pid), true, false) => Outcome::Started(pid),
                    (_, _, true) => Outcome::Failed(Error::check(Op::Daemon, Reason::Died), locked),
                    _ => Outcome::Failed(Error::check(Op::Wait, Reason::ChildDied), locked),
                }
            }
        }
    }
}

/// What a supervisor learns from the pipe to one child (which reports its pid, then
/// reaches exec): `Ok` once the pipe closed after exec (exec succeeded), else the
/// child's error ([`Reason::ChildDied`] when it died without a word).
#[cfg(feature = "supervise")]
pub(crate) fn read_exec(rd: &OwnedFd) -> Result<(), Error> {
    match read(rd, false) {
        Outcome::Started(_) => Ok(()),
        Outcome::Failed(e, _) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(r: Record) {
        let bytes = r.encode();
        assert_eq!(Record::decode(&bytes), Some(r), "{r:?} as {bytes:?}");
    }

    #[test]
    fn every_record_round_trips() {
        round_trip(Record::Locked(Pid::from_raw(1).unwrap()));
        round_trip(Record::Locked(Pid::from_raw(4_194_304).unwrap()));
        round_trip(Record::Locked(Pid::from_raw(i32::MAX).unwrap()));
        round_trip(Record::Exec);
        round_trip(Record::Ready);
        for &op in Op::ALL {
            for errno in [
                Errno::PERM,
                Errno::NOENT,
                Errno::ACCESS,
                Errno::from_raw_os_error(4095),
            ] {
                round_trip(Record::Failed(Error::sys(op, errno)));
                round_trip(Record::Failed(Error::sys(op, errno).with_id(u32::MAX)));
            }
            for &reason in Reason::ALL {
                round_trip(Record::Failed(Error::check(op, reason)));
                round_trip(Record::Failed(Error::check(op, reason).with_id(31337)));
            }
        }
    }

    #[test]
    fn unknown_bytes_decode_to_nothing() {
        let mut rec = Record::Exec.encode();
        rec[0] = 0;
        assert_eq!(Record::decode(&rec), None);
        rec[0] = 9;
        assert_eq!(Record::decode(&rec), None);
        // A pid of 0 is no pid.
        assert_eq!(
            Record::decode(&[KIND_LOCKED, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
            None
        );
        let mut bad = Record::Failed(Error::check(Op::Open, Reason::Invalid)).encode();
        bad[1] = Op::ALL.len() as u8;
        assert_eq!(Record::decode(&bad), None, "an op past the table");
        bad[1] = 0;
        bad[2] = Reason::ALL.len() as u8;
        assert_eq!(Record::decode(&bad), None, "a reason past the table");
    }

    /// Through a real pipe: records in order, then EOF.
    #[test]
    fn outcomes_of_a_pipe() {
        let pid = Pid::from_raw(1234).unwrap();
        let outcome = |records: &[Record], trailing: &[u8]| {
            let (rd, wr) = rustix::pipe::pipe().unwrap();
            for &r in records {
                send(&wr, r);
            }
            fd::write_all(wr.as_fd(), trailing).unwrap();
            drop(wr);
            read(&rd, false)
        };
        assert_eq!(
            outcome(&[Record::Locked(pid), Record::Exec], b""),
            Outcome::Started(pid)
        );
        let died = Error::check(Op::Wait, Reason::ChildDied);
        assert_eq!(
            outcome(&[Record::Locked(pid)], b""),
            Outcome::Failed(died, Some(pid))
        );
        assert_eq!(outcome(&[Record::Exec], b""), Outcome::Failed(died, None));
        assert_eq!(outcome(&[], b""), Outcome::Failed(died, None));
        assert_eq!(
            outcome(&[Record::Locked(pid)], b"\x02\x00"),
            Outcome::Failed(died, Some(pid)),
            "a cut record counts as EOF"
        );
        let e = Error::sys(Op::Exec, Errno::NOENT);
        assert_eq!(
            outcome(&[Record::Locked(pid), Record::Exec, Record::Failed(e)], b""),
            Outcome::Failed(e, Some(pid))
        );
    }
}
