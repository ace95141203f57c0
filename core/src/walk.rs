//! Resolving a path without following anything an untrusted user could plant.
//!
//! A file imp opens as root (a pidfile, an output file) is only as safe as every
//! directory on the way to it: a user who owns `/srv/app` can swap the root-owned
//! `/srv/app/run` for a symlink, and `/srv/app/run/app.pid` then names a file anywhere
//! (OpenRC's checkpath learned it with CVE-2018-21269). So the directory part of the
//! path is walked one component at a time, each opened `O_PATH|O_DIRECTORY|O_NOFOLLOW`
//! from the one before:
//! - every directory passed through must be *trusted*: owned by root or by the caller,
//!   and not writable by others unless sticky (`/tmp`); group write is allowed (the
//!   administrator chose the group);
//! - a symlink is followed only when it is owned by root or the caller (its directory
//!   is trusted, as every directory walked is): `/var/run -> /run` works, a link a
//!   user planted does not;
//! - for output files, a directory owned by the daemon's own user is walked too: it
//!   and what lies below it are that user's ground ([`Walked::user_ground`]), where no
//!   symlink at all is followed (the user could have planted any).
//!
//! The last component is the caller's to open (with `O_NOFOLLOW`).

use crate::error::{Context, Error, Op, Reason};
use crate::fd;
use crate::limits::PATH_MAX;
use core::ffi::CStr;
use rustix::fd::{AsFd, OwnedFd};
use rustix::fs::{FileType, Mode, OFlags};
use rustix::io::Errno;

/// The most symlinks followed in one path (the kernel's limit is 40).
const LINKS_MAX: u32 = 40;

/// Whose directories may be walked through.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Trust {
    /// The caller (its effective uid): its own directories are trusted, as root's.
    pub caller: u32,
    /// The daemon's user, when it is another one: its directories are walked, as that
    /// user's ground ([`Walked::user_ground`]).
    pub user: Option<u32>,
}

impl Trust {
    /// Trust root and the calling process's user.
    pub(crate) fn caller() -> Trust {
        Trust {
            caller: rustix::process::geteuid().as_raw(),
            user: None,
        }
    }

    /// Trust root and the caller, and walk any other user's directory as that user's
    /// ground (nothing below it followed): for reading a pidfile a daemon wrote.
    #[cfg(feature = "find")]
    pub(crate) fn anyone() -> Trust {
        Trust {
            user: Some(ANYONE),
            ..Trust::caller()
        }
    }

    fn owns(self, uid: u32) -> bool {
        uid == 0 || uid == self.caller
    }
}

/// [`Trust::user`] for "any user": no real uid (`-1` means "unchanged" to the kernel).
const ANYONE: u32 = u32::MAX;

/// Where a walk ended: the last directory and the file's name in it.
#[derive(Debug)]
pub(crate) struct Walked<'p> {
    /// The directory (`O_PATH`).
    pub dir: OwnedFd,
    /// The last component of the path.
    pub base: &'p CStr,
    /// The walk passed through a directory of the daemon's user: the file is on that
    /// user's ground.
    pub user_ground: bool,
}

/// Checks one directory walked through; returns `Ok(true)` when it belongs to the
/// daemon's user (its ground starts there).
fn check_dir(dir: &OwnedFd, trust: Trust) -> Result<bool, Error> {
    let m = fd::meta(dir.as_fd(), c"").op(Op::Open)?;
    if trust.user.is_some_and(|u| u == m.uid || u == ANYONE) && !trust.owns(m.uid) {
        return Ok(true);
    }
    if !trust.owns(m.uid) {
        return Err(Error::check(Op::Open, Reason::DirOwner).with_id(m.uid));
    }
    if m.mode & 0o002 != 0 && m.mode & 0o1000 == 0 {
        return Err(Error::check(Op::Open, Reason::DirWritable));
    }
    Ok(false)
}

/// Where the walk starts: `/` for an absolute path, else the working directory.
fn start(absolute: bool) -> Result<OwnedFd, Error> {
    let from = if absolute { c"/" } else { c"." };
    fd::openat(
        rustix::fs::CWD,
        from,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .op(Op::Open)
}

/// The longest file name (one component; Linux `NAME_MAX` is 255).
const NAME_MAX: usize = 255;

/// The remaining path of a walk, kept at the end of the buffer: bytes `at..` of
/// `buf`, components separated by `/`. What lies before `at` is free: a symlink's
/// target is read there and becomes the start of the rest.
struct Rest<'b> {
    buf: &'b mut [u8; PATH_MAX],
    at: usize,
}

impl Rest<'_> {
    fn new<'b>(buf: &'b mut [u8; PATH_MAX], path: &[u8]) -> Result<Rest<'b>, Error> {
        if path.len() >= PATH_MAX {
            return Err(Error::sys(Op::Open, Errno::NAMETOOLONG));
        }
        let at = PATH_MAX - path.len();
        buf[at..].copy_from_slice(path);
        Ok(Rest { buf, at })
    }

    /// Copies the next component into `name` as a C string (`None` at the end); `at`
    /// moves past it.
    fn next<'n>(&mut self, name: &'n mut [u8; NAME_MAX + 1]) -> Option<Result<&'n CStr, Error>> {
        while self.at < PATH_MAX && self.buf[self.at] == b'/' {
            self.at += 1;
        }
        if self.at == PATH_MAX {
            return None;
        }
        let len = self.buf[self.at..]
            .iter()
            .position(|&b| b == b'/')
            .unwrap_or(PATH_MAX - self.at);
        let part = &self.buf[self.at..self.at + len];
        self.at += len;
        Some(fd::join(name, &[part]).ok_or(Error::sys(Op::Open, Errno::NAMETOOLONG)))
    }

    /// The free space before the rest, where a symlink's target is read.
    fn free(&mut self) -> &mut [u8] {
        &mut self.buf[..self.at]
    }

    /// Puts the `t` bytes read at the start of the free space, and a `/`, in front of
    /// the rest.
    fn prepend(&mut self, t: usize) {
        let start = self.at - t - 1;
        self.buf.copy_within(..t, start);
        self.buf[self.at - 1] = b'/';
        self.at = start;
    }
}

/// Walks the directory part of `path` (see the module doc); `buf` is the walk's
/// working space.
pub(crate) fn walk<'p>(
    path: &'p CStr,
    trust: Trust,
    buf: &mut [u8; PATH_MAX],
) -> Result<Walked<'p>, Error> {
    let (dir_part, base) = fd::split(path).map_err(|r| Error::check(Op::Open, r))?;
    let absolute = path.to_bytes().first() == Some(&b'/');
    let mut cur = start(absolute)?;
    let mut user_ground = check_dir(&cur, trust)?;
    let mut rest = Rest::new(buf, dir_part)?;
    let mut links = 0;
    let mut name = [0u8; NAME_MAX + 1];
    while let Some(c) = rest.next(&mut name) {
        let c = c?;
        if c.to_bytes() == b"." {
            continue;
        }
        // ".." is never a symlink; anything else may be.
        if c.to_bytes() != b".." {
            let m = fd::meta(cur.as_fd(), c).op(Op::Open)?;
            if m.file_type() == FileType::Symlink {
                if user_ground {
                    return Err(Error::check(Op::Open, Reason::Symlink));
                }
                if !trust.owns(m.uid) {
                    return Err(Error::check(Op::Open, Reason::LinkOwner).with_id(m.uid));
                }
                links += 1;
                if links > LINKS_MAX {
                    return Err(Error::sys(Op::Open, Errno::LOOP));
                }
                let free = rest.free();
                let room = free.len().saturating_sub(1);
                let t = crate::sys::readlink(cur.as_fd(), c, &mut free[..room]).op(Op::Open)?;
                if t == 0 || t >= room {
                    return Err(Error::sys(Op::Open, Errno::NAMETOOLONG));
                }
                if free[0] == b'/' {
                    cur = start(true)?;
                }
                rest.prepend(t);
                continue;
            }
        }
        let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let next = fd::openat(cur.as_fd(), c, flags, Mode::empty()).op(Op::Open)?;
        // Below a directory of the daemon's user, the user controls everything.
        if !user_ground {
            user_ground = check_dir(&next, trust)?;
        }
        cur = next;
    }
    Ok(Walked {
        dir: cur,
        base,
        user_ground,
    })
}

/// The file systems whose "files" are kernel interfaces, never a pidfile or a log:
/// writing a pid into `/proc/sys/...` or `/sys/...` would set a kernel tunable.
pub(crate) fn is_kernel_interface(fd: &OwnedFd) -> Result<bool, Errno> {
    use linux_raw_sys::general as k;
    // include/uapi/linux/magic.h; not in linux-raw-sys 0.4.
    const CONFIGFS_MAGIC: u32 = 0x6265_6570;
    const FUSECTL_SUPER_MAGIC: u32 = 0x6573_5543;
    let kind = rustix::fs::fstatfs(fd)?.f_type as u32;
    Ok([
        k::PROC_SUPER_MAGIC,
        k::SYSFS_MAGIC,
        k::CGROUP_SUPER_MAGIC,
        k::CGROUP2_SUPER_MAGIC,
        k::DEBUGFS_MAGIC,
        k::TRACEFS_MAGIC,
        k::SECURITYFS_MAGIC,
        k::BPF_FS_MAGIC,
        k::EFIVARFS_MAGIC,
        k::PSTOREFS_MAGIC,
        k::DEVPTS_SUPER_MAGIC,
        k::SELINUX_MAGIC,
        k::SMACK_MAGIC,
        k::BINFMTFS_MAGIC,
        CONFIGFS_MAGIC,
        FUSECTL_SUPER_MAGIC,
    ]
    .contains(&kind))
}
