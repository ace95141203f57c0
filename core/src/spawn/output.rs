//! Output files (`--output`, `--stdout`, `--stderr`), opened by the daemon before it
//! drops its privileges — so a root-owned `/var/log` works — with the pidfile's care,
//! so that no user can point root at a file of its choosing:
//! - the path is walked without following anything another user could plant
//!   ([`crate::walk`]); a directory of the daemon's own user starts that user's
//!   ground, where no symlink at all is followed;
//! - the file itself: a symlink is followed only when root (or the caller) owns it in a
//!   directory of theirs (`/dev/stdout`, `/proc/1/fd/1` in containers); it must be a
//!   regular file with one link (no hard link to `/etc/shadow`), a FIFO or a character
//!   device, not a kernel interface file, and not the pidfile;
//! - created `0640` whatever the umask, and given to the daemon's user when created on
//!   its ground (it would have created it there itself).

use super::Spec;
use crate::error::{Context, Error, Op, Reason};
use crate::fd::{self, FileId};
use crate::limits::PATH_MAX;
use crate::walk::{self, Trust};
use core::ffi::CStr;
use rustix::fd::{AsFd, OwnedFd};
use rustix::fs::{FileType, Mode, OFlags};
use rustix::io::Errno;

/// Opens `path` for appending as the daemon's stdout or stderr (`op` says which).
#[inline(never)] // one copy for stdout and stderr: -328 B
pub(crate) fn open(
    spec: &Spec<'_>,
    path: &CStr,
    op: Op,
    pidfile: Option<FileId>,
) -> Result<OwnedFd, Error> {
    let user = spec.credentials.as_ref().map(|c| (c.user.uid, c.gid));
    let trust = Trust {
        user: user.map(|(uid, _)| uid),
        ..Trust::caller()
    };
    let mut buf = [0; PATH_MAX];
    let at = walk::walk(path, trust, &mut buf).map_err(|e| e.retag(op))?;
    let dir = at.dir.as_fd();
    // A symlink as the last component: followed only when it is root's (or the
    // caller's) in a directory of theirs.
    let follow = !at.user_ground
        && matches!(fd::meta(dir, at.base), Ok(m) if m.file_type() == FileType::Symlink
            && (m.uid == 0 || m.uid == trust.caller));
    let flags =
        OFlags::WRONLY | OFlags::APPEND | OFlags::CLOEXEC | OFlags::NOCTTY | OFlags::NONBLOCK;
    let flags = if follow {
        flags
    } else {
        flags | OFlags::NOFOLLOW
    };
    let (f, created) = match fd::openat(dir, at.base, flags, Mode::empty()) {
        Ok(f) => (f, false),
        Err(Errno::NOENT) => {
            let create = flags | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW;
            match fd::openat(dir, at.base, create, Mode::from_raw_mode(0o640)) {
                Ok(f) => (f, true),
                // Created by someone else in between: open what is there now.
                Err(Errno::EXIST) => (
                    fd::openat(dir, at.base, flags | OFlags::NOFOLLOW, Mode::empty()).op(op)?,
                    false,
                ),
                Err(e) => return Err(Error::sys(op, e)),
            }
        }
        Err(Errno::LOOP) => return Err(Error::check(op, Reason::Symlink)),
        Err(e) => return Err(Error::sys(op, e)),
    };
    let m = fd::meta(f.as_fd(), c"").op(op)?;
    match m.file_type() {
        FileType::RegularFile => {
            if m.nlink > 1 {
                return Err(Error::check(op, Reason::HardLinked));
            }
            if walk::is_kernel_interface(&f).op(op)? {
                return Err(Error::check(op, Reason::KernelFile));
            }
        }
        FileType::Fifo | FileType::CharacterDevice => {}
        _ => return Err(Error::check(op, Reason::NotRegular)),
    }
    if pidfile == Some(m.id) {
        return Err(Error::check(op, Reason::IsPidfile));
    }
    if created {
        // 0640 whatever the umask; the user's own when on its ground.
        rustix::fs::fchmod(&f, Mode::from_raw_mode(0o640)).op(op)?;
        if let (true, Some((uid, gid))) = (at.user_ground, user) {
            rustix::fs::fchown(&f, Some(crate::sys::uid(uid)), Some(crate::sys::gid(gid)))
                .op(op)?;
        }
    }
    // Non-blocking only for the open (a FIFO without reader must not hang us).
    rustix::fs::fcntl_setfl(&f, OFlags::APPEND).op(op)?;
    Ok(f)
}
