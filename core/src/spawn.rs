//! Starting a program: as a daemon ([`start`]: double fork, reported through a
//! close-on-exec pipe) or in place ([`run`]: the same preparation, then exec).
//!
//! The child's steps, in order, each one function returning `Result<_, Error>`:
//! close inherited fds → block all signals, reset dispositions → lock and write the
//! pidfile (report the pid) → stdio → umask → nice → chroot → chdir → drop
//! privileges → environment → report "reached exec" → unblock signals → exec.
//! The first error ends the child; in [`start`] it travels to the caller as
//! (step, errno or reason). The caller says "started" only after the "reached exec"
//! record and EOF (the pipe is close-on-exec); EOF before it means the daemon died.

use crate::error::{Context, Error, Op, Reason};
use crate::fd;
use crate::pidfile::{self, Lock, State};
use crate::sys::{self, CStrArray, Fork};
use crate::user::{self, Groups, User};
use core::ffi::{c_char, CStr};
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::fs::{FileType, Mode, OFlags};
use rustix::io::Errno;
use rustix::process::Pid;

/// Most `--env` settings.
pub const SET_ENV_MAX: usize = 32;
/// Most `--keep-fd` fds.
pub const KEEP_FD_MAX: usize = 16;
/// Most environment entries passed to the program.
pub const ENV_MAX: usize = 256;

/// Who the program runs as, resolved before forking (so an unknown user is reported
/// before anything happens).
#[derive(Clone, Debug, Default)]
pub struct Credentials {
    /// The user entry (or a bare uid).
    pub user: User,
    /// The primary group.
    pub gid: u32,
    /// Supplementary groups, primary first.
    pub groups: Groups,
}

impl Credentials {
    /// Resolves `--user USER[:GROUP]` and `--group GROUP` against /etc/passwd and
    /// /etc/group into `out` (left alone when neither is given): supplementary groups
    /// from /etc/group, none but the primary group for a numeric uid without passwd
    /// entry or for `--group` alone.
    pub fn resolve(
        user: Option<&[u8]>,
        group: Option<&[u8]>,
        out: &mut Option<Credentials>,
    ) -> Result<(), Error> {
        let (user, group_in_user) = match user {
            Some(u) => match u.iter().position(|&b| b == b':') {
                Some(i) => (Some(&u[..i]), Some(&u[i + 1..])),
                None => (Some(u), None),
            },
            None => (None, None),
        };
        let group = group.or(group_in_user);
        if user.is_none() && group.is_none() {
            return Ok(());
        }
        let c = out.insert(Credentials::default());
        match user {
            Some(spec) => user::lookup_user(spec, &mut c.user)?,
            // --group alone: keep the uid, change the group, clear supplementary groups.
            None => c.user.uid = rustix::process::geteuid().as_raw(),
        }
        c.gid = match group {
            Some(g) => user::lookup_group(g)?,
            None => c.user.gid,
        };
        if c.user.has_entry {
            user::groups_of(&c.user.name, c.gid, &mut c.groups)
        } else {
            let _ = c.groups.push(c.gid);
            Ok(())
        }
    }
}

/// Where a standard stream goes.
#[derive(Clone, Copy, Debug)]
pub enum Stdio<'a> {
    /// Left as inherited (`run` without output options).
    Inherit,
    /// `/dev/null`.
    Null,
    /// Appended to this file (created 0640).
    File(&'a CStr),
}

/// Everything about the program to start.
pub struct Spec<'a> {
    /// The program: a path, or a name looked up in `PATH`.
    pub program: &'a CStr,
    /// Its argv (argv[0] first).
    pub argv: CStrArray,
    /// The caller's environment.
    pub envp: CStrArray,
    /// `NAME=VALUE` settings, applied over the inherited environment.
    pub set_env: &'a [&'a CStr],
    /// Start from an empty environment.
    pub clear_env: bool,
    /// The pidfile.
    pub pidfile: Option<&'a CStr>,
    /// The user to run as.
    pub credentials: Option<Credentials>,
    /// Working directory (default `/`).
    pub chdir: Option<&'a CStr>,
    /// Root directory.
    pub chroot: Option<&'a CStr>,
    /// File mode creation mask (default 022).
    pub umask: u32,
    /// Niceness.
    pub nice: Option<i32>,
    /// Standard output.
    pub stdout: Stdio<'a>,
    /// Standard error.
    pub stderr: Stdio<'a>,
    /// Fds passed through to the program; every other fd above 2 is closed.
    pub keep_fds: &'a [i32],
    /// Refuse to fork when /proc says this process has other threads (default). A
    /// caller that provably starts none (imp's own static binary) may turn it off:
    /// under qemu-user, /proc reports the emulator's threads, not the program's.
    pub check_threads: bool,
}

impl<'a> Spec<'a> {
    /// A spec with the defaults: no pidfile, `/`, umask 022, stdio to /dev/null.
    pub fn new(program: &'a CStr, argv: CStrArray, envp: CStrArray) -> Spec<'a> {
        Spec {
            program,
            argv,
            envp,
            set_env: &[],
            clear_env: false,
            pidfile: None,
            credentials: None,
            chdir: None,
            chroot: None,
            umask: 0o022,
            nice: None,
            stdout: Stdio::Null,
            stderr: Stdio::Null,
            keep_fds: &[],
            check_threads: true,
        }
    }
}

/// The outcome of a successful [`start`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Started {
    /// The program was exec'd as this pid, which holds the pidfile's lock.
    Started(Pid),
    /// A daemon already holds the pidfile: nothing was started.
    AlreadyRunning(Pid),
}

/// Makes sure fds 0, 1 and 2 are open (on /dev/null if they were closed), so that no
/// pipe, pidfile or lock imp opens can land on them.
pub fn sanitize_stdio() -> Result<(), Error> {
    for _ in 0..3 {
        let fd = fd::openat(
            rustix::fs::CWD,
            c"/dev/null",
            OFlags::RDWR | OFlags::NOCTTY,
            Mode::empty(),
        )
        .op(Op::DevNull)?;
        if sys::raw(&fd) > 2 {
            return Ok(());
        }
        // The fd landed on 0, 1 or 2: keep it there.
        sys::leak_fd(fd);
    }
    Ok(())
}

/// Refuses to fork a multi-threaded process (other threads' locks would be copied
/// held). Without /proc the check passes: this static, libc-free code starts none.
#[inline(never)]
fn check_single_threaded() -> Result<(), Error> {
    let mut buf = [0u8; 512];
    match fd::read_small(c"/proc/self/stat", &mut buf) {
        Ok(n) if !sys::thread_count_is_one(&buf[..n]) => {
            Err(Error::reason(Op::Threads, Reason::Threaded))
        }
        _ => Ok(()),
    }
}

/// Before anything forks, so that a bad spec or pidfile is reported with nothing done:
/// stdio made safe, every `keep_fds` fd open (`EBADF` with [`Op::KeepFd`] otherwise),
/// the pidfile's path split and its directory opened and checked.
fn prepare<'s>(spec: &Spec<'s>) -> Result<Option<(pidfile::Path<'s>, OwnedFd)>, Error> {
    sanitize_stdio()?;
    for &fd in spec.keep_fds {
        fd::check_open(fd)?;
    }
    let Some(p) = spec.pidfile else {
        return Ok(None);
    };
    let path = pidfile::Path::new(p)?;
    let dir = path.open_dir()?;
    Ok(Some((path, dir)))
}

/// The pidfile as the steps use it: its directory and its name there.
type PidfileAt<'a> = Option<(BorrowedFd<'a>, &'a CStr)>;

/// The steps' view of what [`prepare`] opened.
fn at<'a>(pidfile: &'a Option<(pidfile::Path<'_>, OwnedFd)>) -> PidfileAt<'a> {
    pidfile.as_ref().map(|(p, d)| (d.as_fd(), p.base()))
}

/// Starts `spec` as a daemon and returns once it is known to have started (exec
/// succeeded, pidfile written and locked) or known to have failed.
///
/// The caller's process forks a child that calls `setsid` and forks the daemon, then
/// exits; the daemon runs the steps and reports through a close-on-exec pipe: its pid
/// once the pidfile is locked, or the first error. EOF after the pid means exec
/// succeeded.
#[inline(never)]
pub fn start(spec: &Spec<'_>) -> Result<Started, Error> {
    let pf = prepare(spec)?;
    if let Some(p) = spec.pidfile {
        if let State::Running(pid) = pidfile::probe(p)?.state {
            return Ok(Started::AlreadyRunning(pid));
        }
    }
    if spec.check_threads {
        check_single_threaded()?;
    }
    let (rd, wr) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).op(Op::Pipe)?;
    let child = match sys::fork().op(Op::Fork)? {
        Fork::Child => {
            drop(rd);
            intermediate(spec, at(&pf), wr)
        }
        Fork::Parent(pid) => pid,
    };
    drop(wr);
    // Reap the intermediate child (it exits right after its fork).
    let _ =
        fd::retry(|| rustix::process::waitpid(Some(child), rustix::process::WaitOptions::empty()));
    let outcome = read_reports(&rd);
    drop(rd);
    match outcome {
        Report::Started(pid) => Ok(Started::Started(pid)),
        Report::Failed(e, locked) => {
            if e.reason_of() == Some(Reason::AlreadyRunning) {
                if let Some(pid) = Pid::from_raw(e.id as i32) {
                    return Ok(Started::AlreadyRunning(pid));
                }
            }
            // The daemon failed after locking the pidfile: once it is gone (and with it
            // its lock), remove what it wrote, unless a new daemon holds it by then.
            if let (Some(pid), Some(p)) = (locked, spec.pidfile) {
                crate::control::wait_gone(pid, 5000);
                if let Ok(mut probe) = pidfile::probe(p) {
                    if probe.state == State::Stale {
                        let _ = probe.remove();
                    }
                }
            }
            Err(e)
        }
    }
}

/// The intermediate child: new session, fork the daemon, exit. Never returns.
#[inline(always)]
fn intermediate(spec: &Spec<'_>, pidfile: PidfileAt<'_>, wr: OwnedFd) -> ! {
    if let Err(e) = rustix::process::setsid() {
        report_error(&wr, Error::sys(Op::Setsid, e));
        sys::exit(1);
    }
    match sys::fork() {
        Ok(Fork::Child) => {
            report_error(&wr, failed(steps(spec, pidfile, Some(&wr), true)));
            sys::exit(127)
        }
        Ok(Fork::Parent(_)) => sys::exit(0),
        Err(e) => {
            report_error(&wr, Error::sys(Op::Fork, e));
            sys::exit(1)
        }
    }
}

/// Runs `spec` in this process: the same steps as the daemon of [`start`] (pidfile
/// locked by this process, user, chdir, umask, environment, output files), without
/// fork or setsid, and execs. Returns only on failure.
pub fn run(spec: &Spec<'_>) -> Error {
    let pf = match prepare(spec) {
        Ok(pf) => pf,
        Err(e) => return e,
    };
    failed(steps(spec, at(&pf), None, false))
}

/// What the steps return on success: nothing, as exec does not return.
enum Never {}

/// The error of steps that return only on failure.
fn failed(r: Result<Never, Error>) -> Error {
    match r {
        Ok(never) => match never {},
        Err(e) => e,
    }
}

/// The steps between fork and exec. Returns only on failure, with the first error.
#[inline(never)]
fn steps(
    spec: &Spec<'_>,
    pidfile: PidfileAt<'_>,
    report: Option<&OwnedFd>,
    detached: bool,
) -> Result<Never, Error> {
    // 1. Only the fds the program should have, plus ours (close-on-exec).
    let mut keep: heapless::Vec<i32, { KEEP_FD_MAX + 2 }> = heapless::Vec::new();
    let _ = keep.extend_from_slice(spec.keep_fds);
    if let Some(r) = report {
        let _ = keep.push(sys::raw(r));
    }
    if let Some((d, _)) = pidfile {
        let _ = keep.push(sys::raw(&d));
    }
    fd::close_all_except(&keep);

    // 2. Signals at their default action, and blocked until exec: a `stop` that sees
    //    the pidfile locked before the pid is reported cannot kill this process
    //    half-way; its signal waits and acts on the program once unblocked.
    sys::block_all_signals().op(Op::Signals)?;
    sys::reset_signal_dispositions();

    // 3. The pidfile: locked by this process (the lock passes through exec), content
    //    written after the lock is held.
    let pid = rustix::process::getpid().as_raw_nonzero().get() as u32;
    let lock = match pidfile {
        Some((dir, base)) => {
            let above = spec.keep_fds.iter().copied().max().unwrap_or(2).max(2) + 1;
            let lock = pidfile::create_locked(dir, base, above)?;
            if let Err(e) = lock.write_pid(pid) {
                let _ = lock.remove(dir, base);
                return Err(e);
            }
            Some(lock)
        }
        None => None,
    };
    if let Some(r) = report {
        send(r, &[KIND_LOCKED, 0, 0, 0], pid);
    }

    // 4. stdin /dev/null, stdout and stderr as configured.
    setup_stdio(spec, detached)?;

    // 5. umask, nice, chroot, chdir.
    rustix::process::umask(Mode::from_raw_mode(spec.umask as _));
    if let Some(n) = spec.nice {
        rustix::process::setpriority_process(None, n).op(Op::Nice)?;
    }
    if let Some(root) = spec.chroot {
        rustix::process::chroot(root).op(Op::Chroot)?;
        if spec.chdir.is_none() {
            rustix::process::chdir(c"/").op(Op::Chdir)?;
        }
    }
    if let Some(d) = spec.chdir.or(detached.then_some(c"/")) {
        rustix::process::chdir(d).op(Op::Chdir)?;
    }

    // 6. Privileges: setgroups, setgid, setuid, verified.
    if let Some(c) = &spec.credentials {
        user::drop_privileges(c.user.uid, c.gid, &c.groups)?;
    }

    // 7. Environment and exec. The lock's fd stays open across exec.
    let mut env = Env::new();
    env.build(spec)?;
    let lock_fd = lock.map(Lock::keep_across_exec).transpose()?;
    // Everything before exec is done: only an exec failure can still be reported
    // after this record. EOF without it means the daemon died on the way.
    if let Some(r) = report {
        send(r, &[KIND_EXEC, 0, 0, 0], pid);
    }
    // The program starts with every signal unblocked (a pending one acts now).
    sys::unblock_all_signals().op(Op::Signals)?;
    let e = exec(spec, &env);
    let _ = lock_fd;
    Err(Error::sys(Op::Exec, e))
}

/// Puts `fd` on `target` without close-on-exec (dup2 onto itself would keep the flag).
fn move_to(fd: OwnedFd, target: i32) -> Result<(), Error> {
    if sys::raw(&fd) == target {
        rustix::io::fcntl_setfd(&fd, rustix::io::FdFlags::empty()).op(Op::Dup)?;
        sys::leak_fd(fd);
        return Ok(());
    }
    let mut t = sys::own_raw(target);
    let r = rustix::io::dup2(&fd, &mut t).op(Op::Dup);
    sys::leak_fd(t);
    r
}

fn open_null(flags: OFlags) -> Result<OwnedFd, Error> {
    let null = fd::openat(
        rustix::fs::CWD,
        c"/dev/null",
        flags | OFlags::CLOEXEC | OFlags::NOCTTY,
        Mode::empty(),
    )
    .op(Op::DevNull)?;
    let st = fd::meta(null.as_fd(), c"").op(Op::DevNull)?;
    if st.file_type() != FileType::CharacterDevice {
        return Err(Error::reason(Op::DevNull, Reason::NotCharDevice));
    }
    Ok(null)
}

fn open_output(path: &CStr, op: Op) -> Result<OwnedFd, Error> {
    let flags = OFlags::WRONLY
        | OFlags::APPEND
        | OFlags::CREATE
        | OFlags::CLOEXEC
        | OFlags::NOCTTY
        | OFlags::NONBLOCK;
    let f = fd::openat(rustix::fs::CWD, path, flags, Mode::from_raw_mode(0o640)).op(op)?;
    // Non-blocking only for the open (a FIFO without reader must not hang us).
    rustix::fs::fcntl_setfl(&f, OFlags::APPEND).op(op)?;
    Ok(f)
}

/// stdin from /dev/null (when detached), stdout and stderr as configured, each opened
/// close-on-exec and then moved onto its number.
#[inline(never)]
fn setup_stdio(spec: &Spec<'_>, detached: bool) -> Result<(), Error> {
    if detached {
        move_to(open_null(OFlags::RDONLY)?, 0)?;
    }
    // -o FILE names the same file for both: open it once so both share the offset.
    let same = matches!((spec.stdout, spec.stderr), (Stdio::File(a), Stdio::File(b)) if a == b);
    for (stdio, target, op) in [(spec.stdout, 1, Op::Stdout), (spec.stderr, 2, Op::Stderr)] {
        let f = match stdio {
            Stdio::Inherit => continue,
            Stdio::File(_) if same && target == 2 => {
                rustix::io::fcntl_dupfd_cloexec(sys::borrow_raw(1), 3).op(Op::Dup)?
            }
            Stdio::File(p) => open_output(p, op)?,
            Stdio::Null => open_null(OFlags::WRONLY)?,
        };
        move_to(f, target)?;
    }
    Ok(())
}

/// The program's environment: pointers into the caller's strings, into `argv` (for
/// `--env`), and into this struct's own buffer (HOME, USER, LOGNAME for `--user`).
struct Env {
    ptrs: [*const c_char; ENV_MAX + 1],
    len: usize,
    /// `HOME=...`, `USER=...` and `LOGNAME=...`, one C string after the other.
    vars: [u8; VARS_MAX],
}

/// Room for the three variables of a [`user::User`] and their NULs.
const VARS_MAX: usize = "HOME=USER=LOGNAME=".len() + user::HOME_MAX + 2 * user::NAME_MAX + 3;

fn env_name(entry: &[u8]) -> &[u8] {
    entry.split(|&b| b == b'=').next().unwrap_or(entry)
}

impl Env {
    fn new() -> Env {
        Env {
            ptrs: [core::ptr::null(); ENV_MAX + 1],
            len: 0,
            vars: [0; VARS_MAX],
        }
    }

    /// Adds an entry; past [`ENV_MAX`] it is only counted (and `build` fails).
    #[inline(never)]
    fn push(&mut self, p: *const c_char) {
        if let Some(slot) = self.ptrs[..ENV_MAX].get_mut(self.len) {
            *slot = p;
        }
        self.len += 1;
    }

    #[inline(never)]
    fn build(&mut self, spec: &Spec<'_>) -> Result<(), Error> {
        let user = spec
            .credentials
            .as_ref()
            .map(|c| &c.user)
            .filter(|u| u.has_entry);
        let overridden = |entry: &[u8]| {
            let name = env_name(entry);
            spec.set_env.iter().any(|s| env_name(s.to_bytes()) == name)
                || (user.is_some() && USER_VARS.contains(&name))
        };
        if !spec.clear_env {
            for e in spec.envp.iter() {
                if !overridden(e.to_bytes()) {
                    self.push(e.as_ptr());
                }
            }
        }
        for e in spec.set_env.iter() {
            self.push(e.as_ptr());
        }
        if let Some(u) = user {
            let mut at = 0;
            for (name, value) in USER_VARS.iter().zip([&u.home[..], &u.name, &u.name]) {
                // Always fits: VARS_MAX has room for the longest name and home.
                let var = fd::join(&mut self.vars[at..], &[name, b"=", value])
                    .ok_or(Error::reason(Op::Env, Reason::TooLong))?;
                let (p, n) = (var.as_ptr(), var.to_bytes_with_nul().len());
                self.push(p);
                at += n;
            }
        }
        if self.len > ENV_MAX {
            return Err(Error::reason(Op::Env, Reason::TooMany));
        }
        Ok(())
    }
}

/// The variables set for `--user` (from its passwd entry): home, name, name.
const USER_VARS: [&[u8]; 3] = [b"HOME", b"USER", b"LOGNAME"];

/// The value of `name` in the program's environment: `--env` first, then the
/// inherited one (unless cleared).
fn env_get<'s>(spec: &Spec<'s>, name: &[u8]) -> Option<&'s [u8]> {
    let value = |e: &'s CStr| e.to_bytes().strip_prefix(name)?.strip_prefix(b"=");
    let inherited = if spec.clear_env {
        CStrArray::empty()
    } else {
        spec.envp
    };
    // The closures shorten `'static` entries to `'s` (clippy's redundant_closure
    // suggestion does not compile for the static binary).
    #[allow(clippy::redundant_closure)]
    spec.set_env
        .iter()
        .find_map(|e| value(e))
        .or_else(|| inherited.iter().find_map(|e| value(e)))
}

/// The default search path when the environment has no PATH.
const DEFAULT_PATH: &[u8] = b"/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// `execve`, searching PATH for a bare name as `execvp` does: EACCES is remembered
/// and reported if no directory had the program.
fn exec(spec: &Spec<'_>, env: &Env) -> Errno {
    let (program, argv, envp) = (spec.program, spec.argv, env.ptrs.as_ptr());
    // `iter().any`, not `contains`: that brings core's word-at-a-time memchr (+170 B).
    #[allow(clippy::manual_contains)]
    if program.to_bytes().iter().any(|&b| b == b'/') {
        return sys::execve(program, argv, envp);
    }
    if program.to_bytes().is_empty() {
        return Errno::NOENT;
    }
    let search = env_get(spec, b"PATH").unwrap_or(DEFAULT_PATH);
    let mut seen_eacces = false;
    for dir in search.split(|&b| b == b':') {
        let dir: &[u8] = if dir.is_empty() { b"." } else { dir };
        let mut buf = [0u8; fd::PATH_MAX];
        let Some(full) = fd::join(&mut buf, &[dir, b"/", program.to_bytes()]) else {
            continue;
        };
        match sys::execve(full, argv, envp) {
            Errno::ACCESS => seen_eacces = true,
            Errno::NOENT | Errno::NOTDIR | Errno::LOOP | Errno::NAMETOOLONG => {}
            e => return e,
        }
    }
    if seen_eacces {
        Errno::ACCESS
    } else {
        Errno::NOENT
    }
}

// The report pipe: 8-byte records, atomic (< PIPE_BUF).
const KIND_LOCKED: u8 = 1;
const KIND_ERRNO: u8 = 2;
const KIND_REASON: u8 = 3;
const KIND_EXEC: u8 = 4;

fn send(wr: &OwnedFd, head: &[u8; 4], value: u32) {
    let mut rec = [0u8; 8];
    rec[..4].copy_from_slice(head);
    rec[4..].copy_from_slice(&value.to_le_bytes());
    let _ = fd::write_all(wr.as_fd(), &rec);
}

#[inline(always)]
fn report_error(wr: &OwnedFd, e: Error) {
    match e.cause {
        crate::Cause::Errno(n) => {
            send(wr, &[KIND_ERRNO, e.op as u8, 0, 0], n.raw_os_error() as u32)
        }
        crate::Cause::Reason(r) => send(wr, &[KIND_REASON, e.op as u8, r as u8, 0], e.id),
    }
}

enum Report {
    Started(Pid),
    /// The error, and the daemon's pid if it had locked the pidfile.
    Failed(Error, Option<Pid>),
}

#[inline(always)]
fn read_reports(rd: &OwnedFd) -> Report {
    let mut locked = None;
    let mut exec = false;
    let mut rec = [0u8; 8];
    loop {
        let mut n = 0;
        while n < rec.len() {
            match fd::retry(|| rustix::io::read(rd, &mut rec[n..])) {
                Ok(0) | Err(_) => break,
                Ok(k) => n += k,
            }
        }
        if n < rec.len() {
            return match (locked, exec) {
                (Some(pid), true) => Report::Started(pid),
                _ => Report::Failed(Error::reason(Op::Wait, Reason::ChildDied), locked),
            };
        }
        let value = u32::from_le_bytes([rec[4], rec[5], rec[6], rec[7]]);
        let op = Op::from_u8(rec[1]).unwrap_or(Op::Wait);
        match rec[0] {
            KIND_LOCKED => locked = Pid::from_raw(value as i32),
            KIND_EXEC => exec = true,
            KIND_ERRNO => {
                return Report::Failed(
                    Error::sys(op, Errno::from_raw_os_error(value as i32)),
                    locked,
                )
            }
            _ => {
                let reason = Reason::from_u8(rec[2]).unwrap_or(Reason::ChildDied);
                return Report::Failed(Error::reason_id(op, reason, value), locked);
            }
        }
    }
}
