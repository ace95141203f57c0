//! The program's environment and its `execve`, with the `PATH` search of `execvp`.

use super::Spec;
use crate::error::{Error, Op, Reason};
use crate::fd;
use crate::limits::{ENV_MAX, HOME_MAX, PATH_MAX, USER_NAME_MAX};
use crate::sys::{self, CStrArray, CStrList};
use core::ffi::CStr;
use rustix::io::Errno;

/// The program's environment: pointers into the caller's strings, into `--env`
/// arguments, and into a [`Vars`] buffer.
pub(crate) type Env<'a> = CStrList<'a, { ENV_MAX + 1 }>;

/// Room for `HOME=...`, `USER=...` and `LOGNAME=...` of a [`crate::user::User`], one C
/// string after the other.
pub(crate) type Vars = [u8; VARS_MAX];
const VARS_MAX: usize = "HOME=USER=LOGNAME=".len() + HOME_MAX + 2 * USER_NAME_MAX + 3;

/// The variables set for `--user` (from its passwd entry): home, name, name.
const USER_VARS: [&[u8]; 3] = [b"HOME", b"USER", b"LOGNAME"];

fn name_of(entry: &[u8]) -> &[u8] {
    entry.split(|&b| b == b'=').next().unwrap_or(entry)
}

/// The program's environment: the caller's, passed through as the kernel gave it
/// (whatever its size) when nothing changes it; else [`build`]'s list in `env`.
pub(crate) fn envp<'a>(
    spec: &Spec<'a>,
    vars: &'a mut Vars,
    env: &'a mut Env<'a>,
) -> Result<CStrArray, Error> {
    #[cfg(feature = "notify")]
    let unchanged = spec.set_env.is_empty() && spec.notify_env.is_none();
    #[cfg(not(feature = "notify"))]
    let unchanged = spec.set_env.is_empty();
    if !spec.clear_env && unchanged && user_of(spec).is_none() {
        return Ok(spec.envp);
    }
    build(spec, vars, env)?;
    Ok(env.as_array())
}

/// The user whose HOME, USER and LOGNAME the program gets (one with a passwd entry).
fn user_of<'s>(spec: &'s Spec<'_>) -> Option<&'s crate::user::User> {
    spec.credentials
        .as_ref()
        .map(|c| &c.user)
        .filter(|u| u.has_entry)
}

/// Fills `env`: the inherited variables (unless cleared) that neither `--env` (and
/// `notify_env`) nor the user's HOME/USER/LOGNAME replace, then `--env`, then
/// `notify_env`, then those three. More than
/// [`ENV_MAX`] entries is `EnvTooMany` (checked before forking too).
pub(crate) fn build<'a>(
    spec: &Spec<'a>,
    vars: &'a mut Vars,
    env: &mut Env<'a>,
) -> Result<(), Error> {
    let user = user_of(spec);
    let overridden = |entry: &[u8]| {
        let name = name_of(entry);
        let set = |s: &&CStr| name_of(s.to_bytes()) == name;
        #[cfg(feature = "notify")]
        if spec.notify_env.as_ref().is_some_and(set) {
            return true;
        }
        spec.set_env.iter().any(set) || (user.is_some() && USER_VARS.contains(&name))
    };
    if !spec.clear_env {
        for e in spec.envp.iter() {
            if !overridden(e.to_bytes()) {
                env.push(e);
            }
        }
    }
    for &e in spec.set_env {
        env.push(e);
    }
    #[cfg(feature = "notify")]
    if let Some(e) = spec.notify_env {
        env.push(e);
    }
    if let Some(u) = user {
        let mut rest: &'a mut [u8] = vars;
        for (name, value) in USER_VARS.iter().zip([&u.home[..], &u.name, &u.name]) {
            // Always fits: VARS_MAX has room for the longest name and home.
            let len = name.len() + 1 + value.len() + 1;
            if len > rest.len() {
                return Err(Error::check(Op::Env, Reason::TooLong));
            }
            let (head, tail) = core::mem::take(&mut rest).split_at_mut(len);
            let var = fd::join(head, &[name, b"=", value])
                .ok_or(Error::check(Op::Env, Reason::TooLong))?;
            env.push(var);
            rest = tail;
        }
    }
    if env.overflowed() {
        return Err(Error::check(Op::Env, Reason::EnvTooMany));
    }
    Ok(())
}

/// The value of `name` in the program's environment: `--env` first, then the
/// inherited one (unless cleared).
fn get<'s>(spec: &Spec<'s>, name: &[u8]) -> Option<&'s [u8]> {
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

/// `execve` of the program, searching PATH for a bare name as `execvp` does: EACCES is
/// remembered and reported if no directory had the program. Returns only on failure.
pub(crate) fn exec(spec: &Spec<'_>, env: CStrArray) -> Errno {
    let (program, argv) = (spec.program, spec.argv);
    // `iter().any`, not `contains`: that brings core's word-at-a-time memchr (+170 B).
    #[allow(clippy::manual_contains)]
    if program.to_bytes().iter().any(|&b| b == b'/') {
        return sys::execve(program, argv, env);
    }
    if program.to_bytes().is_empty() {
        return Errno::NOENT;
    }
    let search = get(spec, b"PATH").unwrap_or(DEFAULT_PATH);
    let mut seen_eacces = false;
    for dir in search.split(|&b| b == b':') {
        let dir: &[u8] = if dir.is_empty() { b"." } else { dir };
        let mut buf = [0u8; PATH_MAX];
        let Some(full) = fd::join(&mut buf, &[dir, b"/", program.to_bytes()]) else {
            continue;
        };
        match sys::execve(full, argv, env) {
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
