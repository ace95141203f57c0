//! File descriptor chores: EINTR retry, fixed-buffer paths, small reads and writes,
//! and closing every inherited fd.

use crate::error::{Error, Op, Reason};
use crate::limits::PATH_MAX;
use crate::sys::{self, OnlyKeptFds};
use core::ffi::CStr;
use rustix::fd::{AsFd, AsRawFd, BorrowedFd, IntoRawFd, OwnedFd};
use rustix::fs::{AtFlags, FileType, Mode, OFlags};
use rustix::io::Errno;

/// The fd's number.
pub fn raw<F: AsFd>(f: &F) -> i32 {
    f.as_fd().as_raw_fd()
}

/// Gives up ownership: the fd stays open for good (on 0-2, or across exec).
pub fn leak(fd: OwnedFd) -> i32 {
    fd.into_raw_fd()
}

/// Runs `f` again while it fails with `EINTR`. (Never used for `close`.)
pub fn retry<T>(mut f: impl FnMut() -> Result<T, Errno>) -> Result<T, Errno> {
    loop {
        match f() {
            Err(Errno::INTR) => continue,
            r => return r,
        }
    }
}

/// Joins `parts` (pieces of C strings: no NUL inside) into `buf` as a C string; `None`
/// when the result would not fit.
pub fn join<'b>(buf: &'b mut [u8], parts: &[&[u8]]) -> Option<&'b CStr> {
    let mut len = 0;
    for part in parts {
        let end = len + part.len();
        if end >= buf.len() {
            return None;
        }
        buf[len..end].copy_from_slice(part);
        len = end;
    }
    buf[len] = 0;
    Some(sys::cstr_in(&buf[..=len]))
}

/// Splits `path` into its directory (`.` when it has none, `/` for the root) and its
/// last component. A path ending in `/` or naming `.`/`..` is not a file path; a
/// directory longer than [`PATH_MAX`] is too long.
pub fn split(path: &CStr) -> Result<(&[u8], &CStr), Reason> {
    let bytes = path.to_bytes();
    let (dir, base): (&[u8], usize) = match bytes.iter().rposition(|&b| b == b'/') {
        Some(0) => (b"/", 1),
        Some(i) => (&bytes[..i], i + 1),
        None => (b".", 0),
    };
    let base_bytes = &bytes[base..];
    if base_bytes.is_empty() || base_bytes == b"." || base_bytes == b".." {
        return Err(Reason::BadPath);
    }
    if dir.len() >= PATH_MAX {
        return Err(Reason::TooLong);
    }
    Ok((dir, sys::cstr_tail(path, base)))
}

/// `openat` with EINTR retried.
pub fn openat(
    dir: BorrowedFd<'_>,
    path: &CStr,
    flags: OFlags,
    mode: Mode,
) -> Result<OwnedFd, Errno> {
    retry(|| rustix::fs::openat(dir, path, flags, mode))
}

/// (device, inode): the same pair is the same file.
pub type FileId = (u64, u64);

/// What imp checks of a file: its type and permission bits, owner, link count and
/// identity. Small on purpose: the kernel's `stat` record is 88 to 144 bytes and
/// would be copied at every step that passes it on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Meta {
    /// `st_mode`: file type and permission bits.
    pub mode: u32,
    /// Owner.
    pub uid: u32,
    /// Hard links.
    pub nlink: u32,
    /// Which file it is.
    pub id: FileId,
}

impl Meta {
    /// The file type.
    pub fn file_type(&self) -> FileType {
        FileType::from_raw_mode(self.mode as _)
    }
}

/// `lstat` of `name` in `dir`, or `fstat` of `dir` itself when `name` is empty: the one
/// stat call imp makes (on 32-bit targets every rustix stat wrapper brings its own
/// `statx` call, old-kernel fallback and struct conversions).
pub fn meta(dir: BorrowedFd<'_>, name: &CStr) -> Result<Meta, Errno> {
    let st = rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW | AtFlags::EMPTY_PATH)?;
    Ok(Meta {
        mode: st.st_mode as u32,
        uid: st.st_uid,
        nlink: st.st_nlink as u32,
        id: (st.st_dev as u64, st.st_ino as u64),
    })
}

/// Reads up to `buf.len()` bytes from offset 0 (`pread`, so the file offset is
/// untouched); returns how many were read.
pub fn read_head(fd: BorrowedFd<'_>, buf: &mut [u8]) -> Result<usize, Errno> {
    let mut n = 0;
    while n < buf.len() {
        match retry(|| rustix::io::pread(fd, &mut buf[n..], n as u64))? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// Reads the start of a small file (`/proc/...`) into `buf`.
pub fn read_small(path: &CStr, buf: &mut [u8]) -> Result<usize, Errno> {
    let fd = openat(
        rustix::fs::CWD,
        path,
        OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOCTTY,
        Mode::empty(),
    )?;
    read_full(fd.as_fd(), buf)
}

/// Reads until `buf` is full or the end; returns how many bytes were read.
pub fn read_full(fd: BorrowedFd<'_>, buf: &mut [u8]) -> Result<usize, Errno> {
    let mut n = 0;
    while n < buf.len() {
        match retry(|| rustix::io::read(fd, &mut buf[n..]))? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// Writes all of `data`.
pub fn write_all(fd: BorrowedFd<'_>, mut data: &[u8]) -> Result<(), Errno> {
    while !data.is_empty() {
        match retry(|| rustix::io::write(fd, data))? {
            0 => return Err(Errno::IO),
            k => data = &data[k..],
        }
    }
    Ok(())
}

/// Fails with `EBADF` (naming the fd) unless `fd` is open.
#[inline(never)] // one copy: -32 B
pub fn check_open(fd: i32) -> Result<(), Error> {
    if sys::fd_is_open(fd) {
        Ok(())
    } else {
        Err(Error::sys(Op::KeepFd, Errno::BADF).with_id(fd as u32))
    }
}

/// Closes every fd above 2 that is not in `keep`: `close_range` over the gaps where the
/// kernel has it (5.9+), else the entries of `/proc/self/fd`, else a loop bounded by
/// `RLIMIT_NOFILE` (capped, so a limit of 2^30 cannot hang us).
///
/// `promise` says that no handle on the other fds is used again.
#[inline(never)] // one copy, for aarch64 (x86_64 pays 80 B; it has more room): -60 B
pub fn close_all_except(promise: &OnlyKeptFds, keep: &[i32]) {
    let kept = |fd: u32| keep.iter().any(|&k| k as u32 == fd);
    // From 3 up: close up to the next kept fd, step over it, until none is left.
    let mut first = 3u32;
    let closed_all = loop {
        let next = keep.iter().map(|&k| k as u32).filter(|&k| k >= first).min();
        let last = next.map_or(u32::MAX, |k| k - 1);
        if last >= first && sys::close_range(promise, first, last).is_err() {
            break false;
        }
        match next {
            Some(k) => first = k + 1,
            None => break true,
        }
    };
    if closed_all || close_from_proc(promise, &kept).is_ok() {
        return;
    }
    let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile)
        .current
        .unwrap_or(65536);
    for fd in 3..limit.min(1 << 20) as u32 {
        if !kept(fd) {
            sys::close_raw(promise, fd as i32);
        }
    }
}

/// Closes the fds listed in `/proc/self/fd` (except the `kept` ones and the directory's
/// own fd).
fn close_from_proc(promise: &OnlyKeptFds, kept: &dyn Fn(u32) -> bool) -> Result<(), Errno> {
    let dir = openat(
        rustix::fs::CWD,
        c"/proc/self/fd",
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    let own = raw(&dir) as u32;
    // Closing while iterating is safe for /proc/self/fd: entries are generated from the
    // fd table on each getdents call. Read again until a pass closes nothing.
    loop {
        let mut closed = 0;
        let mut buf = [core::mem::MaybeUninit::<u8>::uninit(); 1024];
        let _ = rustix::fs::seek(&dir, rustix::fs::SeekFrom::Start(0));
        let mut it = rustix::fs::RawDir::new(dir.as_fd(), &mut buf);
        while let Some(entry) = it.next() {
            let entry = entry?;
            let Some(n) = crate::num::decimal(entry.file_name().to_bytes()) else {
                continue;
            };
            let n = n as u32;
            if n > 2 && n != own && !kept(n) {
                sys::close_raw(promise, n as i32);
                closed += 1;
            }
        }
        if closed == 0 {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_paths() {
        let (d, b) = split(c"/run/x.pid").unwrap();
        assert_eq!((d, b), (&b"/run"[..], c"x.pid"));
        let (d, b) = split(c"x.pid").unwrap();
        assert_eq!((d, b), (&b"."[..], c"x.pid"));
        let (d, b) = split(c"/x.pid").unwrap();
        assert_eq!((d, b), (&b"/"[..], c"x.pid"));
        let (d, _) = split(c"a/b/c").unwrap();
        assert_eq!(d, b"a/b");
        for bad in [c"", c"/", c"/run/", c".", c"..", c"/run/.."] {
            assert!(split(bad).is_err(), "{:?}", bad);
        }
        let mut buf = [0; PATH_MAX];
        assert_eq!(join(&mut buf, &[b"/bin", b"/", b"sh"]), Some(c"/bin/sh"));
        assert_eq!(join(&mut buf, &[&[b'x'; PATH_MAX]]), None);
    }
}
