//! Users and groups from `/etc/passwd` and `/etc/group`, parsed line by line in fixed
//! buffers (no NSS: a static binary in an initramfs has none), and the privilege drop.

use crate::error::{Context, Error, Op, Reason};
use crate::fd;
use crate::limits::{GROUPS_MAX, HOME_MAX, PASSWD_LINE_MAX as LINE_MAX, USER_NAME_MAX as NAME_MAX};
use crate::sys;
use core::ffi::CStr;
use rustix::fs::{Mode, OFlags};
use rustix::process::{Gid, Uid};

/// Supplementary groups.
pub type Groups = heapless::Vec<u32, GROUPS_MAX>;

/// A user to run as.
#[derive(Clone, Debug, Default)]
#[repr(C)] // the ids first, at short offsets: -24 to -40 B
pub struct User {
    /// User id.
    pub uid: u32,
    /// Primary group id.
    pub gid: u32,
    /// Whether /etc/passwd had an entry.
    pub has_entry: bool,
    /// Name from /etc/passwd (empty for a numeric uid without entry).
    pub name: heapless::Vec<u8, NAME_MAX>,
    /// Home directory from /etc/passwd (empty without entry).
    pub home: heapless::Vec<u8, HOME_MAX>,
}

/// Calls `f` on each line of a small text file until it returns `true`. A line longer
/// than [`PASSWD_LINE_MAX`](crate::limits::PASSWD_LINE_MAX) is passed cut, with `false`
/// for "complete".
fn for_each_line(
    path: &CStr,
    f: &mut dyn FnMut(&[u8], bool) -> bool,
) -> Result<(), rustix::io::Errno> {
    let file = fd::openat(
        rustix::fs::CWD,
        path,
        OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOCTTY,
        Mode::empty(),
    )?;
    let mut line = [0u8; LINE_MAX];
    let mut len = 0;
    let mut skipping = false;
    let mut chunk = [0u8; 512];
    loop {
        let n = fd::retry(|| rustix::io::read(&file, &mut chunk))?;
        if n == 0 {
            if len > 0 {
                f(&line[..len], !skipping);
            }
            return Ok(());
        }
        for &b in &chunk[..n] {
            if b == b'\n' {
                if f(&line[..len], !skipping) {
                    return Ok(());
                }
                len = 0;
                skipping = false;
            } else if len < LINE_MAX {
                line[len] = b;
                len += 1;
            } else {
                skipping = true;
            }
        }
    }
}

/// The first seven `:`-separated fields of a passwd or group line (missing ones empty).
fn fields(line: &[u8]) -> [&[u8]; 7] {
    let mut out = [&b""[..]; 7];
    for (slot, field) in out.iter_mut().zip(line.split(|&b| b == b':')) {
        *slot = field;
    }
    out
}

/// Why a name was not found: the file could not be read (a missing one is empty), or
/// it has no such entry.
fn read_error(read: Result<(), rustix::io::Errno>, op: Op, missing: Reason) -> Error {
    match read {
        Err(e) if e != rustix::io::Errno::NOENT => Error::sys(op, e),
        _ => Error::check(op, missing),
    }
}

/// A uid or gid field (no wrap-around).
fn id(field: &[u8]) -> Option<u32> {
    u32::try_from(crate::num::decimal(field)?).ok()
}

/// Finds a user by name or number in `passwd` and fills `user` (which should be
/// empty). A number with no entry is accepted (static initramfs): its primary group is
/// the same number unless a group is given. An entry whose name or home does not fit a
/// [`User`] is an error (`EntryTooLong`), not a missing user.
pub fn lookup_user_in(passwd: &CStr, spec: &[u8], user: &mut User) -> Result<(), Error> {
    if spec.is_empty() {
        return Err(Error::check(Op::User, Reason::UnknownUser));
    }
    let numeric = id(spec);
    let mut too_long = false;
    // A cut line still has its first fields: name, uid, gid, home fit in LINE_MAX.
    let read = for_each_line(passwd, &mut |line: &[u8], _complete| {
        let [name, _, uid, gid, _, home, _] = fields(line);
        let (Some(uid), Some(gid)) = (id(uid), id(gid)) else {
            return false;
        };
        let hit = match numeric {
            Some(n) => uid == n,
            None => name == spec,
        };
        if !hit {
            return false;
        }
        if name.len() > NAME_MAX || home.len() > HOME_MAX {
            too_long = true;
            return false;
        }
        let _ = user.name.extend_from_slice(name);
        let _ = user.home.extend_from_slice(home);
        (user.uid, user.gid, user.has_entry) = (uid, gid, true);
        true
    });
    match (user.has_entry, numeric) {
        (true, _) => Ok(()),
        (false, _) if too_long => Err(Error::check(Op::User, Reason::EntryTooLong)),
        (false, Some(n)) => {
            (user.uid, user.gid) = (n, n);
            Ok(())
        }
        (false, None) => Err(read_error(read, Op::User, Reason::UnknownUser)),
    }
}

/// Finds a user in `/etc/passwd`.
pub fn lookup_user(spec: &[u8], user: &mut User) -> Result<(), Error> {
    lookup_user_in(c"/etc/passwd", spec, user)
}

/// Finds a group by name or number in `group`; a number needs no entry.
pub fn lookup_group_in(group: &CStr, spec: &[u8]) -> Result<u32, Error> {
    if let Some(n) = id(spec) {
        return Ok(n);
    }
    let mut found = None;
    let read = for_each_line(group, &mut |line: &[u8], _complete| {
        let [name, _, gid, ..] = fields(line);
        if !spec.is_empty() && name == spec {
            found = id(gid);
        }
        found.is_some()
    });
    found.ok_or(read_error(read, Op::Group, Reason::UnknownGroup))
}

/// Finds a group in `/etc/group`.
pub fn lookup_group(spec: &[u8]) -> Result<u32, Error> {
    lookup_group_in(c"/etc/group", spec)
}

/// The groups whose member list names `user`, plus `primary` first (initgroups), into
/// `out`.
pub fn groups_of_in(
    group: &CStr,
    user: &[u8],
    primary: u32,
    out: &mut Groups,
) -> Result<(), Error> {
    out.clear();
    let _ = out.push(primary);
    let mut full = false;
    let mut cut = false;
    let read = for_each_line(group, &mut |line: &[u8], complete| {
        let [_, _, gid, members, ..] = fields(line);
        let Some(gid) = id(gid) else {
            return false;
        };
        // In a cut line the last member may be cut too: only whole names count, and a
        // cut line that does not name the user could still name it further on.
        let mut names = members.split(|&b| b == b',');
        if !complete {
            names.next_back();
        }
        if !user.is_empty() && names.any(|m| m == user) {
            if !out.contains(&gid) && out.push(gid).is_err() {
                full = true;
            }
        } else if !complete {
            cut = true;
        }
        full || cut
    });
    if cut {
        return Err(Error::check(Op::Group, Reason::LineTooLong));
    }
    match read {
        Err(e) if e != rustix::io::Errno::NOENT => return Err(Error::sys(Op::Group, e)),
        _ => {}
    }
    if full {
        return Err(Error::check(Op::Setgroups, Reason::TooMany));
    }
    Ok(())
}

/// Supplementary groups from `/etc/group`.
pub fn groups_of(user: &[u8], primary: u32, out: &mut Groups) -> Result<(), Error> {
    groups_of_in(c"/etc/group", user, primary, out)
}

/// Whether this process, not root, already is `uid`:`gid` (real and effective): then
/// there is nothing to drop, and setgroups would fail with EPERM.
pub(crate) fn is_already(uid: u32, gid: u32) -> bool {
    use rustix::process::{getegid, geteuid, getgid, getuid};
    let euid = geteuid().as_raw();
    euid != 0
        && euid == uid
        && getuid().as_raw() == uid
        && getgid().as_raw() == gid
        && getegid().as_raw() == gid
}

/// Drops to `uid`/`gid` with exactly `groups` (at most
/// [`GROUPS_MAX`]): setgroups, then setresgid, then
/// setresuid, then checks that root cannot be regained.
///
/// These are the raw per-thread syscalls: in a process with other threads, those keep
/// their credentials (imp-core calls it in a process of one thread).
pub fn drop_privileges(uid: u32, gid: u32, groups: &[u32]) -> Result<(), Error> {
    // A user other than root naming itself (dpkg's `--chuid` to oneself): nothing to
    // drop, and setgroups would fail with EPERM.
    if is_already(uid, gid) {
        return Ok(());
    }
    // With `harden`, the two halves are shared with the drop that keeps capabilities;
    // without, the body as it always was (its one call site inlines it: -48 B).
    #[cfg(feature = "harden")]
    {
        set_ids(uid, gid, groups)?;
        check_dropped(uid, gid, false, false)
    }
    #[cfg(not(feature = "harden"))]
    {
        drop_inline(uid, gid, groups)
    }
}

/// [`drop_privileges`] without `harden`.
#[cfg(not(feature = "harden"))]
fn drop_inline(uid: u32, gid: u32, groups: &[u32]) -> Result<(), Error> {
    let mut gids = [Gid::ROOT; GROUPS_MAX];
    let n = groups.len().min(GROUPS_MAX);
    for (slot, &g) in gids.iter_mut().zip(groups) {
        *slot = sys::gid(g);
    }
    sys::set_groups(&gids[..n]).op(Op::Setgroups)?;
    let (u, g) = (sys::uid(uid), sys::gid(gid));
    rustix::thread::set_thread_res_gid(g, g, g).op(Op::Setgid)?;
    rustix::thread::set_thread_res_uid(u, u, u).op(Op::Setuid)?;
    if uid != 0
        && (rustix::thread::set_thread_res_uid(Uid::ROOT, Uid::ROOT, Uid::ROOT).is_ok()
            || rustix::thread::set_thread_res_gid(Gid::ROOT, Gid::ROOT, Gid::ROOT).is_ok()
                && gid != 0)
    {
        return Err(Error::check(Op::Regain, Reason::Regained));
    }
    Ok(())
}

/// setgroups, setresgid, setresuid: the drop itself, shared by [`drop_privileges`]
/// and the drop that keeps capabilities.
#[cfg(feature = "harden")]
pub(crate) fn set_ids(uid: u32, gid: u32, groups: &[u32]) -> Result<(), Error> {
    let mut gids = [Gid::ROOT; GROUPS_MAX];
    let n = groups.len().min(GROUPS_MAX);
    for (slot, &g) in gids.iter_mut().zip(groups) {
        *slot = sys::gid(g);
    }
    sys::set_groups(&gids[..n]).op(Op::Setgroups)?;
    let (u, g) = (sys::uid(uid), sys::gid(gid));
    rustix::thread::set_thread_res_gid(g, g, g).op(Op::Setgid)?;
    rustix::thread::set_thread_res_uid(u, u, u).op(Op::Setuid)
}

/// After a drop to a user other than root: setresuid(0, 0, 0) and setresgid(0, 0, 0)
/// must fail. Not tried for the ids the program keeps the capability to change
/// (`--caps setuid` or `setgid`): there they would succeed by design, and make this
/// process root again.
#[cfg(feature = "harden")]
pub(crate) fn check_dropped(
    uid: u32,
    gid: u32,
    may_setuid: bool,
    may_setgid: bool,
) -> Result<(), Error> {
    if uid != 0
        && ((!may_setuid
            && rustix::thread::set_thread_res_uid(Uid::ROOT, Uid::ROOT, Uid::ROOT).is_ok())
            || !may_setgid
                && rustix::thread::set_thread_res_gid(Gid::ROOT, Gid::ROOT, Gid::ROOT).is_ok()
                && gid != 0)
    {
        return Err(Error::check(Op::Regain, Reason::Regained));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CString;
    use std::io::Write;

    fn file(content: &str) -> (tempfile_path::Tmp, CString) {
        let t = tempfile_path::Tmp::new(content);
        let c = CString::new(t.0.clone()).unwrap();
        (t, c)
    }

    mod tempfile_path {
        pub struct Tmp(pub String);
        impl Tmp {
            pub fn new(content: &str) -> Tmp {
                use std::sync::atomic::{AtomicUsize, Ordering};
                static N: AtomicUsize = AtomicUsize::new(0);
                let p = format!(
                    "{}/imp-user-test-{}-{}",
                    std::env::temp_dir().display(),
                    std::process::id(),
                    N.fetch_add(1, Ordering::SeqCst)
                );
                let mut f = std::fs::File::create(&p).unwrap();
                super::Write::write_all(&mut f, content.as_bytes()).unwrap();
                Tmp(p)
            }
        }
        impl Drop for Tmp {
            fn drop(&mut self) {
                let _ = std::fs::remove_file(&self.0);
            }
        }
    }

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\n\
        # comment line\n\
        broken line without fields\n\
        www:x:33:34:www:/var/www:/usr/sbin/nologin\n\
        big:x:99999999999:1::/:\n\
        last:x:1000:1000::/home/last:/bin/sh";

    #[test]
    fn users_by_name_and_number() {
        let (_t, p) = file(PASSWD);
        let lookup = |p: &CStr, spec: &[u8]| {
            let mut u = User::default();
            lookup_user_in(p, spec, &mut u).map(|()| u)
        };
        let u = lookup(&p, b"www").unwrap();
        assert_eq!(
            (u.uid, u.gid, u.home.as_slice(), u.has_entry),
            (33, 34, &b"/var/www"[..], true)
        );
        let u = lookup(&p, b"33").unwrap();
        assert_eq!(u.name.as_slice(), b"www");
        let u = lookup(&p, b"last").unwrap();
        assert_eq!(u.uid, 1000, "last line without newline");
        let u = lookup(&p, b"1234").unwrap();
        assert_eq!((u.uid, u.gid, u.has_entry), (1234, 1234, false));
        for (passwd, spec) in [
            (&*p, &b"nosuch"[..]),
            (&p, b""),
            (&p, b"big"),
            (c"/nonexistent/passwd", b"www"),
        ] {
            assert_eq!(
                lookup(passwd, spec).unwrap_err().reason(),
                Some(Reason::UnknownUser)
            );
        }
    }

    #[test]
    fn groups_and_membership() {
        let long = "x".repeat(3000);
        let group = format!("root:x:0:\nwww-data:x:34:\nadm:x:4:syslog,www\n{long}:x:5:www\naudio:x:29:www,bob\nnone:x:30:wwwx\n");
        let (_t, g) = file(&group);
        assert_eq!(lookup_group_in(&g, b"adm").unwrap(), 4);
        assert_eq!(lookup_group_in(&g, b"77").unwrap(), 77);
        assert_eq!(
            lookup_group_in(&g, b"nosuch").unwrap_err().reason(),
            Some(Reason::UnknownGroup)
        );
        let mut out = Groups::new();
        groups_of_in(&g, b"www", 34, &mut out).unwrap();
        assert_eq!(
            out.as_slice(),
            &[34, 4, 29],
            "long line skipped, wwwx no match"
        );
        groups_of_in(&g, b"", 1234, &mut out).unwrap();
        assert_eq!(out.as_slice(), &[1234]);
    }

    #[test]
    fn member_lists_longer_than_a_line() {
        let many = (0..1500)
            .map(|i| format!("u{i}"))
            .collect::<Vec<_>>()
            .join(",");
        // The user is in the part that fits: found.
        let (_t, g) = file(&format!("big:x:7:www,{many}\nadm:x:4:www\n"));
        let mut out = Groups::new();
        groups_of_in(&g, b"www", 34, &mut out).unwrap();
        assert_eq!(out.as_slice(), &[34, 7, 4]);
        // The user could be past the cut: an explicit error, not a silent omission.
        let (_t, g) = file(&format!("big:x:7:{many},www\n"));
        let e = groups_of_in(&g, b"www", 34, &mut out).unwrap_err();
        assert_eq!(e.reason(), Some(Reason::LineTooLong));
        assert_eq!(Reason::LineTooLong.as_str(), "line too long");
    }
}
