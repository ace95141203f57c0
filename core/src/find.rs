//! Finding daemons as dpkg's start-stop-daemon does: by executable, process name, owner
//! and the pid a pidfile names — for pidfiles the daemons write themselves (nginx,
//! sshd, dnsmasq), which carry no lock.
//!
//! What a process is comes from `/proc` only: the file `/proc/PID/exe` names, looked up
//! again by path (device and inode, as dpkg: a binary replaced by an upgrade still
//! matches its running daemon, a copy elsewhere does not), `Name:` of
//! `/proc/PID/status` (the 15-byte comm) and the owner of `/proc/PID`. A pid is acted
//! on only through a pidfd opened *before* the process is checked again, so a pid
//! recycled after the scan is never signalled; kernels without pidfds (< 5.3) fall
//! back to `kill` after the same check (a residual race of one check).
//!
//! A pidfile imp wrote (`--make-pidfile`) is locked: its daemon is the lock holder, as
//! everywhere in imp; once nobody holds it, it is stale (imp marks the pidfiles it
//! makes, see [`pidfile::Foreign`]). One the daemon wrote is trusted only as dpkg trusts it — its pid must
//! run and match every other criterion — and read strictly: `12abc`, `-1`, `0` and pids
//! above `pid_max` name nobody. imp itself and its ancestors (the init script's shell,
//! init) are never found.

use crate::control::Step;
use crate::error::{Context, Error, Op};
use crate::fd::{self, FileId};
use crate::num;
use crate::pidfile::{self, Foreign};
use crate::process::sleep_ms;
use crate::sys;
use core::ffi::CStr;
use rustix::fd::{AsFd, OwnedFd};
use rustix::fs::{AtFlags, Mode, OFlags};
use rustix::io::Errno;
use rustix::process::{Pid, PidfdFlags};

/// Where the candidates come from.
#[derive(Clone, Copy, Debug)]
pub enum Source<'a> {
    /// Every process (`/proc`), as dpkg without `--pidfile`: killall-like.
    All,
    /// The pid a pidfile names (or its lock holder).
    Pidfile(&'a CStr),
    /// One pid (`--pid`).
    Pid(Pid),
}

/// The longest process name (comm) the kernel keeps: TASK_COMM_LEN less its NUL.
pub const NAME_MAX: usize = 15;

/// What a daemon must be: each criterion given must hold.
#[derive(Clone, Copy, Debug)]
pub struct Find<'a> {
    /// Where the candidates come from.
    pub source: Source<'a>,
    /// `--exec`: the executable, by identity (see [`exec_id`]).
    pub exec: Option<FileId>,
    /// `--name`: the process name, compared with the whole comm: a name longer than
    /// [`NAME_MAX`] matches nothing (as dpkg's).
    pub name: Option<&'a [u8]>,
    /// `--user`: the owner's uid.
    pub uid: Option<u32>,
}

/// What a search found, as dpkg's status codes say it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Found {
    /// At least one process matches.
    Running,
    /// None matches, and the pidfile is there (a dead daemon's): LSB status 1.
    DeadPidfile,
    /// None matches, no pidfile: LSB status 3.
    #[default]
    Dead,
    /// The pidfile names nobody (empty, garbage, out of range): LSB status 4.
    Unknown,
}

/// The identity `--exec PATH` means: the file `path` names now (symlinks followed, as
/// dpkg's `stat`). Fails when it does not exist.
pub fn exec_id(path: &CStr) -> Result<FileId, Error> {
    let st = rustix::fs::statat(rustix::fs::CWD, path, AtFlags::empty()).op(Op::Exec)?;
    Ok((st.st_dev as u64, st.st_ino as u64))
}

/// `/proc/PID/NAME` in `buf`.
fn proc_path<'b>(buf: &'b mut [u8; 40], pid: Pid, name: &[u8]) -> Option<&'b CStr> {
    let mut digits = [0u8; num::U32_DIGITS];
    let n = num::u32_dec(pid.as_raw_nonzero().get() as u32, &mut digits);
    fd::join(buf, &[b"/proc/", n, name])
}

impl Find<'_> {
    /// Whether process `pid` meets every criterion but the source.
    pub fn is(&self, pid: Pid) -> bool {
        let mut path = [0u8; 40];
        if let Some(uid) = self.uid {
            let owner = proc_path(&mut path, pid, b"")
                .and_then(|p| rustix::fs::statat(rustix::fs::CWD, p, AtFlags::empty()).ok());
            if owner.map_or(true, |st| st.st_uid != uid) {
                return false;
            }
        }
        if let Some(name) = self.name {
            let mut buf = [0u8; 64];
            let n = proc_path(&mut path, pid, b"/status")
                .and_then(|p| fd::read_small(p, &mut buf).ok())
                .unwrap_or(0);
            let comm = buf[..n]
                .strip_prefix(b"Name:")
                .and_then(|rest| rest.split(|&b| b == b'\n').next())
                .map(|v| v.trim_ascii_start());
            if comm != Some(name) {
                return false;
            }
        }
        if let Some(id) = self.exec {
            if exe_of(pid) != Some(id) {
                return false;
            }
        }
        true
    }

    /// Calls `f` with each matching process and a pidfd opened on it before it was
    /// checked (`None` without pidfds); returns what the search found.
    pub fn each(&self, f: &mut dyn FnMut(Pid, Option<&OwnedFd>)) -> Result<Found, Error> {
        let one = |pid: Pid, f: &mut dyn FnMut(Pid, Option<&OwnedFd>)| {
            let pidfd = match rustix::process::pidfd_open(pid, PidfdFlags::empty()) {
                Ok(fd) => Some(fd),
                Err(Errno::NOSYS) if sys::kill(pid, false, 0).is_ok() => None,
                Err(_) => return false,
            };
            if !self.is(pid) || is_ancestor(pid) {
                return false;
            }
            f(pid, pidfd.as_ref());
            true
        };
        match self.source {
            Source::Pid(pid) => Ok(if one(pid, f) {
                Found::Running
            } else {
                Found::Dead
            }),
            Source::Pidfile(path) => match named(path, self.only_pidfile())? {
                Named::Absent => Ok(Found::Dead),
                Named::Dead => Ok(Found::DeadPidfile),
                Named::Nobody => Ok(Found::Unknown),
                // The pidfd pins the process; the pidfile must still name it.
                Named::Pid(pid) => {
                    let again = |p: Pid, fd: Option<&OwnedFd>| {
                        if matches!(named(path, false), Ok(Named::Pid(q)) if q == p) {
                            f(p, fd);
                        }
                    };
                    let mut again = again;
                    Ok(if one(pid, &mut again) {
                        Found::Running
                    } else {
                        Found::DeadPidfile
                    })
                }
            },
            Source::All => {
                let mut any = false;
                scan(&mut |pid| any |= one(pid, f))?;
                Ok(if any { Found::Running } else { Found::Dead })
            }
        }
    }

    /// Only a pidfile says which process it is (dpkg's "matching only on pidfile").
    fn only_pidfile(&self) -> bool {
        self.exec.is_none() && self.name.is_none() && self.uid.is_none()
    }

    /// Sends `sig` to every matching process; returns how many got it and how many
    /// could not be signalled (the first such error kept).
    pub fn signal(&self, sig: i32) -> Result<Sent, Error> {
        let mut sent = Sent::default();
        sent.found = self.each(&mut |pid, fd| {
            let r = match fd {
                Some(fd) => sys::pidfd_send_signal(fd.as_fd(), sig),
                None => sys::kill(pid, false, sig),
            };
            match r {
                Ok(()) => sent.signalled += 1,
                // Gone since: nothing to count.
                Err(Errno::SRCH) => {}
                Err(e) => {
                    sent.failed += 1;
                    sent.error.get_or_insert(
                        Error::sys(Op::Kill, e).with_id(pid.as_raw_nonzero().get() as u32),
                    );
                }
            }
        })?;
        Ok(sent)
    }

    /// Runs a dpkg `--retry` schedule: each signal goes to every matching process, each
    /// wait ends early once none is left. `Ok(true)` when none is left; `Ok(false)` when
    /// the schedule ran out with some still running (dpkg's exit 2). `signalled` counts
    /// every process that got a signal.
    pub fn stop(&self, schedule: &[Step], signalled: &mut u32) -> Result<bool, Error> {
        let signal = |sig: crate::signal::Signal| {
            let sent = self.signal(sig.as_raw())?;
            *signalled += sent.signalled;
            Ok(sent.signalled > 0)
        };
        crate::control::walk_schedule(schedule, signal, |ms| self.wait_none(ms))
    }

    /// Looks every 20 ms, then less often (up to every 200 ms, as dpkg's rising
    /// interval), until no process matches or `ms` pass.
    fn wait_none(&self, ms: u32) -> Result<bool, Error> {
        let (mut waited, mut tick) = (0u32, 20u32);
        loop {
            if self.each(&mut |_, _| {})? != Found::Running {
                return Ok(true);
            }
            if waited >= ms {
                return Ok(false);
            }
            let t = tick.min(ms - waited);
            sleep_ms(t);
            waited += t;
            tick = (tick + 20).min(200);
        }
    }
}

/// What [`Find::signal`] did.
#[derive(Clone, Copy, Debug, Default)]
pub struct Sent {
    /// What the search found.
    pub found: Found,
    /// Processes that got the signal.
    pub signalled: u32,
    /// Processes that could not be signalled (`EPERM`), and why the first could not.
    pub failed: u32,
    /// The first signalling error.
    pub error: Option<Error>,
}

/// Whether `pid` is this process or one of its ancestors (its parent, the init
/// script's shell, ... init): never a daemon to signal, whatever a stale pidfile
/// says (after a reboot, a pidfile that survived may name the boot script's shell).
fn is_ancestor(pid: Pid) -> bool {
    let mut p = Some(rustix::process::getpid());
    for _ in 0..64 {
        match p {
            Some(q) if q == pid => return true,
            Some(q) => p = crate::process::parent_of(q),
            None => return false,
        }
    }
    false
}

/// The identity of the file `/proc/PID/exe` names, looked up by its path (a deleted
/// binary's ` (deleted)` mark dropped): the binary at that path now.
fn exe_of(pid: Pid) -> Option<FileId> {
    let mut path = [0u8; 40];
    let link = proc_path(&mut path, pid, b"/exe")?;
    let mut target = [0u8; crate::limits::PATH_MAX];
    let n = sys::readlink(
        rustix::fs::CWD.as_fd(),
        link,
        &mut target[..crate::limits::PATH_MAX - 1],
    )
    .ok()
    .filter(|&n| n < crate::limits::PATH_MAX - 1)?;
    let t = &target[..n];
    let n = t.strip_suffix(b" (deleted)").map_or(n, <[u8]>::len);
    target[n] = 0;
    exec_id(sys::cstr_in(&target)).ok()
}

/// Calls `f` with the pid of every process in `/proc`; fails when there is none (no
/// `/proc`).
pub fn scan(f: &mut dyn FnMut(Pid)) -> Result<(), Error> {
    let dir = fd::openat(
        rustix::fs::CWD,
        c"/proc",
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .op(Op::Proc)?;
    let mut any = false;
    let mut dents = [core::mem::MaybeUninit::<u8>::uninit(); 2048];
    let mut it = rustix::fs::RawDir::new(dir.as_fd(), &mut dents);
    while let Some(entry) = it.next() {
        let entry = entry.op(Op::Proc)?;
        let name = entry.file_name().to_bytes();
        if let Some(pid) = crate::parse::uint(name).and_then(|n| Pid::from_raw(n as i32)) {
            any = true;
            f(pid);
        }
    }
    if !any {
        return Err(Error::sys(Op::Proc, Errno::NOENT));
    }
    Ok(())
}

/// What a pidfile names.
enum Named {
    /// No pidfile.
    Absent,
    /// A stale pidfile imp made: dead, whatever it says.
    Dead,
    /// A pidfile naming no valid pid.
    Nobody,
    /// The lock holder of a locked pidfile, else the pid its content names.
    Pid(Pid),
}

/// Reads a pidfile the way start-stop-daemon trusts one (see the module doc).
fn named(path: &CStr, only_pidfile: bool) -> Result<Named, Error> {
    Ok(match pidfile::probe_foreign(path, only_pidfile)? {
        Foreign::Absent => Named::Absent,
        Foreign::Stale => Named::Dead,
        Foreign::Nobody => Named::Nobody,
        Foreign::Locked(pid) | Foreign::Names(pid) => Named::Pid(pid),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn me() -> Pid {
        rustix::process::getpid()
    }

    fn none<'a>() -> Find<'a> {
        Find {
            source: Source::Pid(me()),
            exec: None,
            name: None,
            uid: None,
        }
    }

    #[test]
    fn scan_sees_this_process() {
        let mut seen = false;
        scan(&mut |pid| seen |= pid == me()).unwrap();
        assert!(seen);
    }

    #[test]
    fn this_process_matches_its_exe_name_and_owner() {
        let exe = std::fs::read_link("/proc/self/exe").unwrap();
        let exe = std::ffi::CString::new(exe.into_os_string().into_encoded_bytes()).unwrap();
        let comm = std::fs::read("/proc/self/comm").unwrap();
        let comm = comm.strip_suffix(b"\n").unwrap();
        let uid = rustix::process::geteuid().as_raw();
        let f = Find {
            exec: Some(exec_id(&exe).unwrap()),
            name: Some(comm),
            uid: Some(uid),
            ..none()
        };
        assert!(f.is(me()));
        // imp itself (and its ancestors) is never found, even when it matches.
        assert_eq!(
            f.each(&mut |_, _| panic!("found itself")).unwrap(),
            Found::Dead
        );
        // Each criterion alone can fail.
        assert!(!Find {
            exec: Some(exec_id(c"/bin/sh").unwrap()),
            ..none()
        }
        .is(me()));
        assert!(!Find {
            name: Some(b"no-such-name"),
            ..none()
        }
        .is(me()));
        assert!(!Find {
            uid: Some(uid + 1),
            ..none()
        }
        .is(me()));
        // A name longer than comm's 15 bytes matches nothing, even when comm is its
        // first 15 (dpkg's rule: the kernel cut the name, --exec tells it).
        let mut long = comm.to_vec();
        long.resize(NAME_MAX, b'x');
        long.extend_from_slice(b"-and-more");
        assert!(!Find {
            name: Some(&long),
            ..none()
        }
        .is(me()));
    }

    #[test]
    fn a_child_is_found_with_a_pidfd() {
        let mut child = std::process::Command::new("/bin/sleep")
            .arg("10")
            .spawn()
            .unwrap();
        let pid = Pid::from_raw(child.id() as i32).unwrap();
        let f = Find {
            source: Source::Pid(pid),
            exec: Some(exec_id(c"/bin/sleep").unwrap()),
            ..none()
        };
        let mut found = 0;
        let r = f.each(&mut |p, fd| found += (p == pid && fd.is_some()) as u32);
        let all = Find {
            source: Source::All,
            ..f
        };
        let mut in_all = 0;
        let r_all = all.each(&mut |p, _| in_all += (p == pid) as u32);
        child.kill().unwrap();
        child.wait().unwrap();
        assert_eq!(r.unwrap(), Found::Running);
        assert_eq!(found, 1);
        assert_eq!(r_all.unwrap(), Found::Running);
        assert_eq!(in_all, 1);
    }

    #[test]
    fn an_absent_pidfile_is_dead_and_a_missing_exec_an_error() {
        let f = Find {
            source: Source::Pidfile(c"/nonexistent-dir-imp/x.pid"),
            ..none()
        };
        assert_eq!(f.each(&mut |_, _| {}).unwrap(), Found::Dead);
        assert!(exec_id(c"/nonexistent-imp-binary").is_err());
    }
}
