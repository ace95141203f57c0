//! argv → [`Command`]: pure parsing, no syscalls. Every bad input becomes a [`Usage`]
//! error naming the option, and nothing is done.

use core::ffi::CStr;
use imp_core::parse::{self, Schedule, Step};
use imp_core::spawn::{Stdio, KEEP_FD_MAX, SET_ENV_MAX};
use imp_core::{CStrArray, Signal};

/// What to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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

impl Action {
    pub const fn as_str(self) -> &'static str {
        match self {
            Action::Start => "start",
            Action::Stop => "stop",
            Action::Restart => "restart",
            Action::Status => "status",
            Action::Signal => "signal",
            Action::Run => "run",
            Action::Help => "help",
            Action::Version => "version",
        }
    }
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

/// A usage error: what is wrong, and the argument involved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Usage {
    pub what: &'static str,
    pub arg: Option<&'static CStr>,
}

const fn usage(what: &'static str, arg: Option<&'static CStr>) -> Usage {
    Usage { what, arg }
}

fn action(word: &[u8]) -> Option<Action> {
    Some(match word {
        b"start" => Action::Start,
        b"stop" => Action::Stop,
        b"restart" => Action::Restart,
        b"status" => Action::Status,
        b"signal" | b"kill" => Action::Signal,
        b"run" => Action::Run,
        b"help" | b"--help" | b"-h" => Action::Help,
        b"version" | b"--version" | b"-V" => Action::Version,
        _ => return None,
    })
}

/// Options that take a value, and which actions accept them.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Opt {
    Pidfile,
    User,
    Group,
    Chdir,
    Chroot,
    Umask,
    Output,
    Stdout,
    Stderr,
    KeepFd,
    Env,
    ClearEnv,
    Nice,
    Name,
    DryRun,
    Quiet,
    Verbose,
    Signal,
    Timeout,
    Retry,
    NoKill,
    ProcessGroup,
    Format,
    NotYet,
}

const OPTS: &[(&str, &str, Opt)] = &[
    ("-p", "--pidfile", Opt::Pidfile),
    ("-u", "--user", Opt::User),
    ("-g", "--group", Opt::Group),
    ("-d", "--chdir", Opt::Chdir),
    ("-r", "--chroot", Opt::Chroot),
    ("-m", "--umask", Opt::Umask),
    ("-o", "--output", Opt::Output),
    ("", "--stdout", Opt::Stdout),
    ("", "--stderr", Opt::Stderr),
    ("-k", "--keep-fd", Opt::KeepFd),
    ("-e", "--env", Opt::Env),
    ("", "--clear-env", Opt::ClearEnv),
    ("-N", "--nice", Opt::Nice),
    ("-n", "--name", Opt::Name),
    ("", "--dry-run", Opt::DryRun),
    ("-q", "--quiet", Opt::Quiet),
    ("-v", "--verbose", Opt::Verbose),
    ("-s", "--signal", Opt::Signal),
    ("-t", "--timeout", Opt::Timeout),
    ("-R", "--retry", Opt::Retry),
    ("", "--no-kill", Opt::NoKill),
    ("", "--process-group", Opt::ProcessGroup),
    ("", "--format", Opt::Format),
    ("", "--ready-fd", Opt::NotYet),
    ("", "--ready-timeout", Opt::NotYet),
    ("", "--respawn", Opt::NotYet),
    ("", "--respawn-delay", Opt::NotYet),
    ("", "--respawn-delay-max", Opt::NotYet),
    ("", "--respawn-max", Opt::NotYet),
    ("", "--respawn-period", Opt::NotYet),
    ("", "--syslog", Opt::NotYet),
];

impl Opt {
    const fn takes_value(self) -> bool {
        !matches!(
            self,
            Opt::ClearEnv | Opt::DryRun | Opt::Quiet | Opt::Verbose | Opt::NoKill | Opt::ProcessGroup | Opt::NotYet
        )
    }

    /// Whether `action` accepts this option.
    const fn allowed(self, action: Action) -> bool {
        let start = matches!(action, Action::Start | Action::Restart | Action::Run);
        let stop = matches!(action, Action::Stop | Action::Restart);
        match self {
            Opt::Pidfile | Opt::Quiet | Opt::Verbose | Opt::Name | Opt::DryRun | Opt::NotYet => true,
            Opt::Signal | Opt::Timeout | Opt::Retry | Opt::NoKill | Opt::ProcessGroup => stop,
            Opt::Format => matches!(action, Action::Status),
            _ => start,
        }
    }
}

fn lookup(arg: &[u8]) -> Option<(Opt, Option<&[u8]>)> {
    // --name=value
    let (name, inline) = match arg.iter().position(|&b| b == b'=') {
        Some(i) if arg.starts_with(b"--") => (&arg[..i], Some(&arg[i + 1..])),
        _ => (arg, None),
    };
    OPTS.iter()
        .find(|(s, l, _)| (!s.is_empty() && s.as_bytes() == name) || l.as_bytes() == name)
        .map(|&(_, _, o)| (o, inline))
}

/// The bytes after `=` in `--opt=value`, as a C string borrowed from argv.
fn inline_value(arg: &'static CStr) -> &'static CStr {
    let bytes = arg.to_bytes_with_nul();
    let i = bytes.iter().position(|&b| b == b'=').map_or(bytes.len() - 1, |i| i + 1);
    CStr::from_bytes_with_nul(&bytes[i..]).unwrap_or(c"")
}

fn nonempty(v: &'static CStr, what: &'static str) -> Result<&'static CStr, Usage> {
    if v.is_empty() {
        Err(usage(what, Some(v)))
    } else {
        Ok(v)
    }
}

/// Parses `argv` (argv[0] is imp itself).
pub fn parse(argv: CStrArray) -> Result<Command, Usage> {
    let Some(word) = argv.get(1) else { return Err(usage("missing command", None)) };
    let act = action(word.to_bytes()).ok_or(usage("unknown command", Some(word)))?;
    let mut c = Command {
        action: act,
        pidfile: None,
        user: None,
        group: None,
        chdir: None,
        chroot: None,
        umask: 0o022,
        stdout: Stdio::Null,
        stderr: Stdio::Null,
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
    let (mut out_set, mut err_set) = (false, false);
    let mut i = 2;
    let mut positional: Option<&'static CStr> = None;
    while let Some(arg) = argv.get(i) {
        i += 1;
        let bytes = arg.to_bytes();
        if bytes == b"--" {
            if !matches!(act, Action::Start | Action::Restart | Action::Run) {
                return Err(usage("unexpected '--'", None));
            }
            c.program = Some(argv.get(i).ok_or(usage("missing program after --", None))?);
            if c.program.is_some_and(|p| p.is_empty()) {
                return Err(usage("empty program name", None));
            }
            c.argv = argv.skip(i);
            break;
        }
        if bytes.first() != Some(&b'-') || bytes.len() == 1 {
            if act == Action::Signal && positional.is_none() {
                positional = Some(arg);
                continue;
            }
            return Err(usage("unexpected argument (the program goes after --)", Some(arg)));
        }
        let (opt, inline) = lookup(bytes).ok_or(usage("unknown option", Some(arg)))?;
        if !opt.allowed(act) {
            return Err(usage("option not accepted by this command", Some(arg)));
        }
        if opt == Opt::NotYet {
            return Err(usage("option not supported by this build yet", Some(arg)));
        }
        let value: Option<&'static CStr> = if !opt.takes_value() {
            if inline.is_some() {
                return Err(usage("option takes no value", Some(arg)));
            }
            None
        } else if inline.is_some() {
            Some(inline_value(arg))
        } else {
            let v = argv.get(i).ok_or(usage("option needs a value", Some(arg)))?;
            i += 1;
            Some(v)
        };
        let v = value.unwrap_or(c"");
        let vb = v.to_bytes();
        match opt {
            Opt::Pidfile => c.pidfile = Some(nonempty(v, "--pidfile: empty path")?),
            Opt::User => {
                if vb.is_empty() || vb.starts_with(b":") || vb.ends_with(b":") {
                    return Err(usage("--user: invalid value", Some(v)));
                }
                c.user = Some(v)
            }
            Opt::Group => c.group = Some(nonempty(v, "--group: empty value")?),
            Opt::Chdir => c.chdir = Some(nonempty(v, "--chdir: empty path")?),
            Opt::Chroot => c.chroot = Some(nonempty(v, "--chroot: empty path")?),
            Opt::Umask => c.umask = parse::umask(vb).ok_or(usage("--umask: invalid value", Some(v)))?,
            Opt::Output => {
                let f = Stdio::File(nonempty(v, "--output: empty path")?);
                (c.stdout, c.stderr) = (f, f);
                (out_set, err_set) = (true, true);
            }
            Opt::Stdout => {
                c.stdout = Stdio::File(nonempty(v, "--stdout: empty path")?);
                out_set = true;
            }
            Opt::Stderr => {
                c.stderr = Stdio::File(nonempty(v, "--stderr: empty path")?);
                err_set = true;
            }
            Opt::KeepFd => {
                let fd = parse::fd(vb).ok_or(usage("--keep-fd: invalid value", Some(v)))?;
                if fd <= 2 {
                    return Err(usage("--keep-fd: fds 0-2 are always set up by imp", Some(v)));
                }
                c.keep_fds.push(fd).map_err(|_| usage("--keep-fd: too many", Some(v)))?;
            }
            Opt::Env => {
                if !vb.contains(&b'=') || vb.starts_with(b"=") {
                    return Err(usage("--env: expected NAME=VALUE", Some(v)));
                }
                c.set_env.push(v).map_err(|_| usage("--env: too many", Some(v)))?;
            }
            Opt::ClearEnv => c.clear_env = true,
            Opt::Nice => c.nice = Some(parse::nice(vb).ok_or(usage("--nice: invalid value", Some(v)))?),
            Opt::Name => c.name = Some(nonempty(v, "--name: empty value")?),
            Opt::DryRun => c.dry_run = true,
            Opt::Quiet => c.quiet = true,
            Opt::Verbose => c.verbose = true,
            Opt::Signal => {
                let s = parse::signal(vb).ok_or(usage("--signal: invalid signal", Some(v)))?;
                c.stop_signal = s;
            }
            Opt::Timeout => c.timeout_ms = parse::duration_ms(vb).ok_or(usage("--timeout: invalid value", Some(v)))?,
            Opt::Retry => c.retry = Some(v),
            Opt::NoKill => c.no_kill = true,
            Opt::ProcessGroup => c.process_group = true,
            Opt::Format => {
                c.kv = match vb {
                    b"kv" => true,
                    b"text" => false,
                    _ => return Err(usage("--format: expected text or kv", Some(v))),
                }
            }
            Opt::NotYet => {}
        }
    }
    // `run` leaves stdio alone unless told otherwise.
    if act == Action::Run {
        if !out_set {
            c.stdout = Stdio::Inherit;
        }
        if !err_set {
            c.stderr = Stdio::Inherit;
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
    if let Some(r) = c.retry {
        // Validated here so a bad schedule is a usage error before anything is done.
        parse::schedule(r.to_bytes(), c.stop_signal).ok_or(usage("--retry: invalid schedule", Some(r)))?;
    }
    Ok(c)
}

impl Command {
    /// The stop schedule: `--retry`, else SIG/timeout/KILL/5 (or SIG/timeout with
    /// `--no-kill`).
    pub fn schedule(&self) -> Schedule {
        if let Some(s) = self.retry.and_then(|r| parse::schedule(r.to_bytes(), self.stop_signal)) {
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
