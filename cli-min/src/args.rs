//! argv → [`Command`]: pure parsing, no syscalls. Every bad input becomes a [`Usage`]
//! error naming the option, and nothing is done.

use core::ffi::CStr;
use imp_core::parse::{self, Schedule, Step};
use imp_core::spawn::{Stdio, KEEP_FD_MAX, SET_ENV_MAX};
use imp_core::{CStrArray, Signal};

/// What to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Action {
    Start,
    Stop,
    Restart,
    Status,
    Signal,
    Run,
    Help,
    Version,
}

/// A parsed command line.
pub struct Command {
    pub action: Action,
    pub pidfile: Option<&'static CStr>,
    pub user: Option<&'static CStr>,
    pub group: Option<&'static CStr>,
    pub chdir: Option<&'static CStr>,
    pub chroot: Option<&'static CStr>,
    pub umask: u32,
    pub stdout: Stdio<'static>,
    pub stderr: Stdio<'static>,
    pub keep_fds: heapless::Vec<i32, KEEP_FD_MAX>,
    pub set_env: heapless::Vec<&'static CStr, SET_ENV_MAX>,
    pub clear_env: bool,
    pub nice: Option<i32>,
    pub name: Option<&'static CStr>,
    pub dry_run: bool,
    pub quiet: bool,
    pub verbose: bool,
    pub stop_signal: Signal,
    pub timeout_ms: u32,
    pub retry: Option<&'static CStr>,
    pub no_kill: bool,
    pub process_group: bool,
    pub kv: bool,
    /// The signal of `imp signal`.
    pub signal: Option<Signal>,
    /// The program and its argv (argv[0] = program), for start/restart/run.
    pub program: Option<&'static CStr>,
    pub argv: CStrArray,
}

/// A usage error: what is wrong, the option (long name) and the argument involved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Usage {
    pub what: &'static str,
    pub opt: Option<&'static str>,
    pub arg: Option<&'static CStr>,
}

const fn usage(what: &'static str, arg: Option<&'static CStr>) -> Usage {
    Usage {
        what,
        opt: None,
        arg,
    }
}

/// Command words in [`ACTIONS`] order (aliases after).
const ACTION_WORDS: &str =
    "start\nstop\nrestart\nstatus\nsignal\nrun\nhelp\nversion\nkill\n--help\n-h\n--version\n-V";
const ACTIONS: [Action; 13] = [
    Action::Start,
    Action::Stop,
    Action::Restart,
    Action::Status,
    Action::Signal,
    Action::Run,
    Action::Help,
    Action::Version,
    Action::Signal,
    Action::Help,
    Action::Help,
    Action::Version,
    Action::Version,
];

fn action(word: &[u8]) -> Option<Action> {
    imp_core::table::find(ACTION_WORDS, word, false).map(|i| ACTIONS[i])
}

impl Action {
    pub fn as_str(self) -> &'static str {
        imp_core::table::nth(ACTION_WORDS, self as usize)
    }
}

/// The options, in the order of [`OPT_LONG`] and [`OPT_SHORT`].
#[derive(Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum Opt {
    Pidfile,
    User,
    Group,
    Chdir,
    Chroot,
    Umask,
    Output,
    KeepFd,
    Env,
    Nice,
    Name,
    Signal,
    Timeout,
    Retry,
    Stdout,
    Stderr,
    Format,
    // Flags (no value) from here on.
    ClearEnv,
    DryRun,
    Quiet,
    Verbose,
    NoKill,
    ProcessGroup,
    // Accepted by SPEC, not by this build yet.
    NotYet,
}

const OPT_ALL: [Opt; 24] = [
    Opt::Pidfile,
    Opt::User,
    Opt::Group,
    Opt::Chdir,
    Opt::Chroot,
    Opt::Umask,
    Opt::Output,
    Opt::KeepFd,
    Opt::Env,
    Opt::Nice,
    Opt::Name,
    Opt::Signal,
    Opt::Timeout,
    Opt::Retry,
    Opt::Stdout,
    Opt::Stderr,
    Opt::Format,
    Opt::ClearEnv,
    Opt::DryRun,
    Opt::Quiet,
    Opt::Verbose,
    Opt::NoKill,
    Opt::ProcessGroup,
    Opt::NotYet,
];

/// Long names, one per line, in [`Opt`] order; the later `NotYet` lines all map to
/// `Opt::NotYet`.
const OPT_LONG: &str = "pidfile\nuser\ngroup\nchdir\nchroot\numask\noutput\nkeep-fd\nenv\nnice\nname\nsignal\ntimeout\nretry\nstdout\nstderr\nformat\nclear-env\ndry-run\nquiet\nverbose\nno-kill\nprocess-group\nready-fd\nready-timeout\nrespawn\nrespawn-delay\nrespawn-delay-max\nrespawn-max\nrespawn-period\nsyslog";
/// Short names in [`Opt`] order (`.` = none).
const OPT_SHORT: &[u8] = b"pugdrmokeNnstR.....qv";

impl Opt {
    const fn takes_value(self) -> bool {
        (self as u8) < Opt::ClearEnv as u8
    }

    /// Whether `action` accepts this option.
    const fn allowed(self, action: Action) -> bool {
        let start = matches!(action, Action::Start | Action::Restart | Action::Run);
        let stop = matches!(action, Action::Stop | Action::Restart);
        match self {
            Opt::Pidfile | Opt::Quiet | Opt::Verbose | Opt::Name | Opt::DryRun | Opt::NotYet => {
                true
            }
            Opt::Signal | Opt::Timeout | Opt::Retry | Opt::NoKill | Opt::ProcessGroup => stop,
            Opt::Format => matches!(action, Action::Status),
            _ => start,
        }
    }
}

/// Finds `-x`, `--long` or `--long=value`; returns the option and the inline value.
fn lookup(arg: &'static CStr) -> Option<(Opt, Option<&'static CStr>)> {
    let b = arg.to_bytes();
    if let [b'-', c] = b {
        let i = OPT_SHORT.iter().position(|s| s == c && *s != b'.')?;
        return Some((OPT_ALL[i], None));
    }
    let long = b.strip_prefix(b"--")?;
    let (name, inline) = match long.iter().position(|&c| c == b'=') {
        Some(i) => (&long[..i], Some(imp_core::sys::cstr_tail(arg, i + 3))),
        None => (long, None),
    };
    let i = imp_core::table::find(OPT_LONG, name, false)?;
    Some((OPT_ALL[i.min(OPT_ALL.len() - 1)], inline))
}

/// Parses `argv` (argv[0] is imp itself).
#[inline(never)]
pub fn parse(argv: CStrArray) -> Result<Command, Usage> {
    let Some(word) = argv.get(1) else {
        return Err(usage("missing command", None));
    };
    let act = action(word.to_bytes()).ok_or(usage("unknown command", Some(word)))?;
    let mut c = Command {
        action: act,
        pidfile: None,
        user: None,
        group: None,
        chdir: None,
        chroot: None,
        umask: 0o022,
        stdout: if act == Action::Run {
            Stdio::Inherit
        } else {
            Stdio::Null
        },
        stderr: if act == Action::Run {
            Stdio::Inherit
        } else {
            Stdio::Null
        },
        keep_fds: heapless::Vec::new(),
        set_env: heapless::Vec::new(),
        clear_env: false,
        nice: None,
        name: None,
        dry_run: false,
        quiet: false,
        verbose: false,
        stop_signal: Signal::Term,
        timeout_ms: 10_000,
        retry: None,
        no_kill: false,
        process_group: false,
        kv: false,
        signal: None,
        program: None,
        argv: CStrArray::empty(),
    };
    if matches!(act, Action::Help | Action::Version) {
        return Ok(c);
    }
    let mut i = 2;
    let mut positional: Option<&'static CStr> = None;
    while let Some(arg) = argv.get(i) {
        i += 1;
        let bytes = arg.to_bytes();
        if bytes == b"--" {
            if !matches!(act, Action::Start | Action::Restart | Action::Run) {
                return Err(usage("unexpected '--'", None));
            }
            let prog = argv.get(i).filter(|p| !p.is_empty());
            c.program = Some(prog.ok_or(usage("missing program after --", None))?);
            c.argv = argv.skip(i);
            break;
        }
        if bytes.first() != Some(&b'-') || bytes.len() == 1 {
            if act == Action::Signal && positional.is_none() {
                positional = Some(arg);
                continue;
            }
            return Err(usage(
                "unexpected argument (the program goes after --)",
                Some(arg),
            ));
        }
        let (opt, inline) = lookup(arg).ok_or(usage("unknown option", Some(arg)))?;
        if opt == Opt::NotYet {
            return Err(usage("option not supported by this build yet", Some(arg)));
        }
        if !opt.allowed(act) {
            return Err(usage("option not accepted by this command", Some(arg)));
        }
        let v = match (opt.takes_value(), inline) {
            (false, None) => c"",
            (false, Some(_)) => return Err(usage("option takes no value", Some(arg))),
            (true, Some(v)) => v,
            (true, None) => {
                i += 1;
                argv.get(i - 1)
                    .ok_or(usage("option needs a value", Some(arg)))?
            }
        };
        if !set(&mut c, opt, v) {
            return Err(Usage {
                what: "invalid value",
                opt: Some(imp_core::table::nth(OPT_LONG, opt as usize)),
                arg: Some(v),
            });
        }
    }
    if act == Action::Signal {
        let s = positional.ok_or(usage("missing signal", None))?;
        c.signal = Some(parse::signal(s.to_bytes()).ok_or(usage("invalid signal", Some(s)))?);
    }
    if c.pidfile.is_none() && act != Action::Run {
        return Err(usage("missing -p/--pidfile", None));
    }
    if matches!(act, Action::Start | Action::Restart | Action::Run) && c.program.is_none() {
        return Err(usage("missing program after --", None));
    }
    Ok(c)
}

/// Applies one option's value; false when the value is invalid.
#[inline(never)]
fn set(c: &mut Command, opt: Opt, v: &'static CStr) -> bool {
    let vb = v.to_bytes();
    let path = (!vb.is_empty()).then_some(v);
    match opt {
        Opt::Pidfile => c.pidfile = path,
        Opt::User => c.user = path.filter(|_| !vb.starts_with(b":") && !vb.ends_with(b":")),
        Opt::Group => c.group = path,
        Opt::Chdir => c.chdir = path,
        Opt::Chroot => c.chroot = path,
        Opt::Name => c.name = path,
        Opt::Umask => return parse::umask(vb).map(|m| c.umask = m).is_some(),
        Opt::Output | Opt::Stdout | Opt::Stderr => {
            let Some(p) = path else { return false };
            if opt != Opt::Stderr {
                c.stdout = Stdio::File(p);
            }
            if opt != Opt::Stdout {
                c.stderr = Stdio::File(p);
            }
            return true;
        }
        // fds 0-2 are always set up by imp; a kept fd is above them.
        Opt::KeepFd => {
            return parse::fd(vb)
                .filter(|&fd| fd > 2)
                .is_some_and(|fd| c.keep_fds.push(fd).is_ok())
        }
        Opt::Env => {
            return vb.iter().position(|&b| b == b'=').is_some_and(|i| i > 0)
                && c.set_env.push(v).is_ok()
        }
        Opt::Nice => return parse::nice(vb).map(|n| c.nice = Some(n)).is_some(),
        Opt::Signal => return parse::signal(vb).map(|s| c.stop_signal = s).is_some(),
        Opt::Timeout => return parse::duration_ms(vb).map(|t| c.timeout_ms = t).is_some(),
        // Checked here so a bad schedule is a usage error before anything is done; the
        // signal a bare number means is the final --signal (see `schedule`).
        Opt::Retry => {
            c.retry = Some(v);
            return parse::schedule(vb, Signal::Term).is_some();
        }
        Opt::Format => {
            c.kv = vb == b"kv";
            return c.kv || vb == b"text";
        }
        Opt::ClearEnv => c.clear_env = true,
        Opt::DryRun => c.dry_run = true,
        Opt::Quiet => c.quiet = true,
        Opt::Verbose => c.verbose = true,
        Opt::NoKill => c.no_kill = true,
        Opt::ProcessGroup => c.process_group = true,
        Opt::NotYet => {}
    }
    // Path-like values must not be empty.
    !opt.takes_value() || path.is_some()
}

impl Command {
    /// The stop schedule: `--retry`, else SIG/timeout/KILL/5 (or SIG/timeout with
    /// `--no-kill`).
    pub fn schedule(&self) -> Schedule {
        if let Some(s) = self
            .retry
            .and_then(|r| parse::schedule(r.to_bytes(), self.stop_signal))
        {
            return s;
        }
        let mut s = Schedule::new();
        let _ = s.push(Step::Signal(self.stop_signal));
        let _ = s.push(Step::Wait(self.timeout_ms));
        if !self.no_kill {
            let _ = s.push(Step::Signal(Signal::Kill));
            let _ = s.push(Step::Wait(5000));
        }
        s
    }
}
