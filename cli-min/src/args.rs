//! argv → [`Command`]: pure parsing, no syscalls. Every bad input becomes a [`Usage`]
//! error naming the option, and nothing is done.

use core::ffi::CStr;
use imp_core::__cli::{cstr_tail, find};
use imp_core::control::{Schedule, Step};
use imp_core::limits::{KEEP_FD_MAX, LIMITS_MAX, SET_ENV_MAX};
use imp_core::parse;
use imp_core::spawn::Stdio;
#[cfg(feature = "respawn")]
use imp_core::supervise::Respawn;
use imp_core::{CStrArray, Signal};

imp_core::words! {
    /// What to do: the command word.
    pub enum Action {
        Start = "start",
        Stop = "stop",
        Restart = "restart",
        Status = "status",
        Signal = "signal",
        Run = "run",
        Help = "help",
        Version = "version",
    }
}

imp_core::words! {
    /// Other words for an action.
    enum Alias {
        Kill = "kill",
        LongHelp = "--help",
        ShortHelp = "-h",
        LongVersion = "--version",
        ShortVersion = "-V",
    }
}

impl Alias {
    const fn action(self) -> Action {
        match self {
            Alias::Kill => Action::Signal,
            Alias::LongHelp | Alias::ShortHelp => Action::Help,
            Alias::LongVersion | Alias::ShortVersion => Action::Version,
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
    /// `--keep-fd`s, then the `--ready-fd` (the program's fd N is kept too).
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
    /// `--respawn`: under a supervisor, with this policy.
    #[cfg(feature = "respawn")]
    pub respawn: bool,
    #[cfg(feature = "respawn")]
    pub respawn_policy: Respawn,
    /// A `--respawn-*` option was given.
    #[cfg(feature = "respawn")]
    pub respawn_opts: bool,
    /// `--stdout syslog`, `--stderr syslog` (`-o syslog`: both) under `--respawn`.
    #[cfg(feature = "respawn")]
    pub relay: [bool; 2],
    /// `--syslog`: imp's messages to syslog too.
    #[cfg(feature = "syslog")]
    pub syslog: bool,
    /// `--ready-fd`, `--ready-timeout`, `--wait` (feature `ready`; the stop schedule is
    /// [`Command::schedule`]'s).
    #[cfg(feature = "ready")]
    pub ready: imp_core::spawn::Ready<'static>,
    /// `--notify` (feature `notify`).
    #[cfg(feature = "notify")]
    pub notify: bool,
    /// `run --init` (feature `init`).
    pub init: bool,
    /// The first stop option given to `run`, which takes them only with `--init`.
    pub stop_opt: Option<&'static CStr>,
    /// `--limit`, `--no-new-privs`, `--caps` (feature `harden`).
    #[cfg(feature = "harden")]
    pub limits: heapless::Vec<imp_core::harden::Limit, LIMITS_MAX>,
    #[cfg(feature = "harden")]
    pub no_new_privs: bool,
    #[cfg(feature = "harden")]
    pub caps: Option<imp_core::harden::CapSet>,
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
    /// In place of `arg`: the item of a list that is wrong (`--caps`).
    #[cfg(feature = "harden")]
    pub item: Option<&'static [u8]>,
}

const fn usage(what: &'static str, arg: Option<&'static CStr>) -> Usage {
    Usage {
        what,
        opt: None,
        arg,
        #[cfg(feature = "harden")]
        item: None,
    }
}

fn action(word: &[u8]) -> Option<Action> {
    if let Some(i) = find(Action::WORDS, word, false) {
        return Action::from_u8(i as u8);
    }
    Alias::from_u8(find(Alias::WORDS, word, false)? as u8).map(Alias::action)
}

/// Declares the options: each row is the variant, its short letter (`_` for none), its
/// long name, and whether it takes a value. One source for [`Opt`], [`Opt::WORDS`]
/// (long names), [`SHORT`] and [`Opt::takes_value`].
macro_rules! options {
    (
        $($(#[$m:meta])* $opt:ident $short:tt $long:literal $kind:ident,)+
        @feature $feat:literal {
            $($(#[$fm:meta])* $fopt:ident $fshort:tt $flong:literal $fkind:ident,)+
        }
    ) => {
        imp_core::words! {
            /// An option, by its long name.
            enum Opt {
                $($(#[$m])* $opt = $long,)+
                @feature $feat {
                    $($(#[$fm])* $fopt = $flong,)+
                }
            }
        }

        /// The short letters in [`Opt`] order (`0` for none).
        #[cfg(feature = $feat)]
        const SHORT: &[u8] = &[$(options!(@short $short),)+ $(options!(@short $fshort),)+];
        #[cfg(not(feature = $feat))]
        const SHORT: &[u8] = &[$(options!(@short $short),)+];

        impl Opt {
            const fn takes_value(self) -> bool {
                #[cfg(feature = $feat)]
                const VALUE: &[bool] = &[$(options!(@value $kind),)+ $(options!(@value $fkind),)+];
                #[cfg(not(feature = $feat))]
                const VALUE: &[bool] = &[$(options!(@value $kind),)+];
                VALUE[self as usize]
            }
        }
    };
    (@short _) => { 0 };
    (@short $c:literal) => { $c };
    (@value value) => { true };
    (@value flag) => { false };
}
options! {
    Pidfile b'p' "pidfile" value,
    User b'u' "user" value,
    Group b'g' "group" value,
    Chdir b'd' "chdir" value,
    Chroot b'r' "chroot" value,
    Umask b'm' "umask" value,
    Output b'o' "output" value,
    KeepFd b'k' "keep-fd" value,
    Env b'e' "env" value,
    Nice b'N' "nice" value,
    Name b'n' "name" value,
    Signal b's' "signal" value,
    Timeout b't' "timeout" value,
    Retry b'R' "retry" value,
    Stdout _ "stdout" value,
    Stderr _ "stderr" value,
    Format _ "format" value,
    ClearEnv _ "clear-env" flag,
    DryRun _ "dry-run" flag,
    Quiet b'q' "quiet" flag,
    Verbose b'v' "verbose" flag,
    NoKill _ "no-kill" flag,
    ProcessGroup _ "process-group" flag,
    // The options of the default features (`Opt::not_yet` refuses them by name in
    // the minimal build).
    Syslog _ "syslog" flag,
    ReadyFd _ "ready-fd" value,
    ReadyTimeout _ "ready-timeout" value,
    Wait _ "wait" value,
    Notify _ "notify" flag,
    // The options of the features beyond the default build (feature `more`: without
    // it, as in the minimal build, they are unknown options).
    @feature "more" {
        Init _ "init" flag,
        Respawn _ "respawn" flag,
        RespawnDelay _ "respawn-delay" value,
        RespawnDelayMax _ "respawn-delay-max" value,
        RespawnMax _ "respawn-max" value,
        RespawnPeriod _ "respawn-period" value,
        Limit _ "limit" value,
        NoNewPrivs _ "no-new-privs" flag,
        Caps _ "caps" value,
    }
}

impl Opt {
    /// Options of SPEC §2 that this build does not have (yet, or without their
    /// cargo feature).
    const fn not_yet(self) -> bool {
        // One bit per option, computed at compile time: a shift and a test.
        const REFUSED: u64 = {
            let (mut m, mut i) = (0u64, 0);
            while i < Opt::ALL.len() {
                if Opt::ALL[i].not_built() {
                    m |= 1 << i;
                }
                i += 1;
            }
            m
        };
        const _: () = assert!(Opt::ALL.len() <= 64);
        (REFUSED >> self as u8) & 1 == 1
    }

    /// The test of [`Opt::not_yet`], for the table.
    const fn not_built(self) -> bool {
        let default = (matches!(self, Opt::DryRun) && !cfg!(feature = "dry-run"))
            || (matches!(self, Opt::Format) && !cfg!(feature = "kv"))
            || (matches!(self, Opt::Retry) && !cfg!(feature = "retry"))
            || (matches!(self, Opt::Syslog) && !cfg!(feature = "syslog"))
            || (matches!(self, Opt::ReadyFd | Opt::ReadyTimeout | Opt::Wait)
                && !cfg!(feature = "ready"))
            || (matches!(self, Opt::Notify) && !cfg!(feature = "notify"));
        #[cfg(feature = "more")]
        let more = (self.respawn() && !cfg!(feature = "respawn"))
            || (matches!(self, Opt::Init) && !cfg!(feature = "init"))
            || (matches!(self, Opt::Limit | Opt::NoNewPrivs | Opt::Caps)
                && !cfg!(feature = "harden"));
        #[cfg(not(feature = "more"))]
        let more = false;
        default || more
    }

    /// `--respawn` and its policy options.
    #[cfg(feature = "more")]
    const fn respawn(self) -> bool {
        matches!(
            self,
            Opt::Respawn
                | Opt::RespawnDelay
                | Opt::RespawnDelayMax
                | Opt::RespawnMax
                | Opt::RespawnPeriod
        )
    }

    /// Whether `action` accepts this option: a bit of a table made at compile time (a
    /// `match` here was a 256-byte jump table).
    const fn allowed(self, action: Action) -> bool {
        const N: usize = Action::ALL.len();
        const TABLE: [u64; N] = {
            let mut t = [0u64; N];
            let mut a = 0;
            while a < N {
                let mut i = 0;
                while i < Opt::ALL.len() {
                    if Opt::ALL[i].allowed_in(Action::ALL[a]) {
                        t[a] |= 1 << i;
                    }
                    i += 1;
                }
                a += 1;
            }
            t
        };
        (TABLE[action as usize] >> self as u8) & 1 == 1
    }

    /// The rule of [`Opt::allowed`], for the table.
    const fn allowed_in(self, action: Action) -> bool {
        let start = matches!(action, Action::Start | Action::Restart | Action::Run);
        let stop = matches!(action, Action::Stop | Action::Restart);
        match self {
            Opt::Pidfile | Opt::Quiet | Opt::Verbose | Opt::Name | Opt::DryRun | Opt::Syslog => {
                true
            }
            // `run` takes the stop options for `--init` (checked once parsed).
            Opt::Signal | Opt::Timeout | Opt::Retry | Opt::NoKill | Opt::ProcessGroup => {
                stop || (cfg!(feature = "init") && matches!(action, Action::Run))
            }
            Opt::Format => matches!(action, Action::Status),
            #[cfg(feature = "more")]
            Opt::Init => matches!(action, Action::Run),
            // Readiness is for a detached program (`run` execs in place: nobody waits).
            Opt::ReadyFd | Opt::ReadyTimeout | Opt::Wait | Opt::Notify => {
                matches!(action, Action::Start | Action::Restart)
            }
            _ => start,
        }
    }
}

const NOT_ACCEPTED: &str = "option not accepted by this command";

/// Finds `-x`, `--long` or `--long=value`; returns the option and the inline value.
fn lookup(arg: &'static CStr) -> Option<(Opt, Option<&'static CStr>)> {
    let b = arg.to_bytes();
    if let [b'-', c] = b {
        let i = SHORT.iter().position(|s| s == c && *s != 0)?;
        return Some((Opt::from_u8(i as u8)?, None));
    }
    let long = b.strip_prefix(b"--")?;
    let (name, inline) = match long.iter().position(|&c| c == b'=') {
        Some(i) => (&long[..i], Some(cstr_tail(arg, i + 3))),
        None => (long, None),
    };
    Some((Opt::from_u8(find(Opt::WORDS, name, false)? as u8)?, inline))
}

/// Parses `argv` (argv[0] is imp itself).
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
        #[cfg(feature = "respawn")]
        respawn: false,
        #[cfg(feature = "respawn")]
        respawn_policy: Respawn::DEFAULT,
        #[cfg(feature = "respawn")]
        respawn_opts: false,
        #[cfg(feature = "respawn")]
        relay: [false; 2],
        #[cfg(feature = "syslog")]
        syslog: false,
        #[cfg(feature = "ready")]
        ready: imp_core::spawn::Ready::DEFAULT,
        #[cfg(feature = "notify")]
        notify: false,
        init: false,
        stop_opt: None,
        #[cfg(feature = "harden")]
        limits: heapless::Vec::new(),
        #[cfg(feature = "harden")]
        no_new_privs: false,
        #[cfg(feature = "harden")]
        caps: None,
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
        if opt.not_yet() {
            return Err(usage("option not supported by this build", Some(arg)));
        }
        if !opt.allowed(act) {
            return Err(usage(NOT_ACCEPTED, Some(arg)));
        }
        let stop_opt = matches!(
            opt,
            Opt::Signal | Opt::Timeout | Opt::Retry | Opt::NoKill | Opt::ProcessGroup
        );
        if cfg!(feature = "init") && act == Action::Run && stop_opt && c.stop_opt.is_none() {
            c.stop_opt = Some(arg);
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
        // The limits the messages name.
        const _: () = assert!(KEEP_FD_MAX == 16 && SET_ENV_MAX == 32 && LIMITS_MAX == 8);
        let full = match opt {
            Opt::KeepFd => c.keep_fds.is_full().then_some("too many (at most 16)"),
            Opt::Env => c.set_env.is_full().then_some("too many (at most 32)"),
            #[cfg(feature = "harden")]
            Opt::Limit => c.limits.is_full().then_some("too many (at most 8)"),
            _ => None,
        };
        if let Some(what) = full {
            return Err(Usage {
                what,
                opt: Some(opt.as_str()),
                arg: None,
                #[cfg(feature = "harden")]
                item: None,
            });
        }
        #[cfg(feature = "harden")]
        if harden(&mut c, opt, v)? {
            continue;
        }
        if !set(&mut c, opt, v) {
            return Err(Usage {
                what: "invalid value",
                opt: Some(opt.as_str()),
                arg: Some(v),
                #[cfg(feature = "harden")]
                item: None,
            });
        }
    }
    if act == Action::Signal {
        let s = positional.ok_or(usage("missing signal", None))?;
        c.signal = Some(parse::signal(s.to_bytes()).ok_or(usage("invalid signal", Some(s)))?);
    }
    if let Some(arg) = c.stop_opt.filter(|_| cfg!(feature = "init") && !c.init) {
        return Err(usage(NOT_ACCEPTED, Some(arg)));
    }
    if c.pidfile.is_none() && act != Action::Run {
        return Err(usage("missing -p/--pidfile", None));
    }
    #[cfg(feature = "respawn")]
    respawn_policy(&mut c)?;
    // The readiness pipe would replace the kept fd; the supervisor's program has no
    // readiness wait (yet).
    #[cfg(feature = "notify")]
    if c.notify && c.ready.fd.is_some() {
        return Err(usage("--notify or --ready-fd, not both", None));
    }
    // Fd N is one of the program's kept fds (the readiness pipe goes there), within the
    // 16 (here, not copied at the start: -328 B with `notify`).
    #[cfg(feature = "ready")]
    if let Some(n) = c.ready.fd {
        if c.keep_fds.contains(&n) || c.keep_fds.push(n).is_err() {
            return Err(Usage {
                what: "the same fd as a --keep-fd (or 16 of them)",
                opt: Some(Opt::ReadyFd.as_str()),
                arg: None,
                #[cfg(feature = "harden")]
                item: None,
            });
        }
    }
    if matches!(act, Action::Start | Action::Restart | Action::Run) && c.program.is_none() {
        return Err(usage("missing program after --", None));
    }
    Ok(c)
}

/// Applies `--limit`, `--no-new-privs` and `--caps` (feature `harden`): `Ok(false)`
/// for the other options. The error names what is wrong: the resource or value of a
/// limit, the first item of a list that is not a capability.
#[cfg(feature = "harden")]
#[inline(never)] // kept out of parse, with parse::limit/caps and the dry-run helpers: -80 B together
fn harden(c: &mut Command, opt: Opt, v: &'static CStr) -> Result<bool, Usage> {
    let vb = v.to_bytes();
    let (what, item) = match opt {
        Opt::Limit => match parse::limit(vb) {
            Ok(l) => return Ok(c.limits.push(l).is_ok()),
            Err(what) => (what, None),
        },
        Opt::NoNewPrivs => {
            c.no_new_privs = true;
            return Ok(true);
        }
        Opt::Caps => match parse::caps(vb) {
            Ok(set) => {
                c.caps = Some(set);
                return Ok(true);
            }
            Err(item) => ("unknown capability", Some(item)),
        },
        _ => return Ok(false),
    };
    Err(Usage {
        what,
        opt: Some(opt.as_str()),
        arg: Some(v),
        item,
    })
}

/// Applies one option's value; false when the value is invalid.
#[inline(never)] // one copy for every option: -288 B
fn set(c: &mut Command, opt: Opt, v: &'static CStr) -> bool {
    let vb = v.to_bytes();
    let path = (!vb.is_empty()).then_some(v);
    #[cfg(feature = "respawn")]
    if opt.respawn() && !matches!(opt, Opt::Respawn) {
        c.respawn_opts = true;
    }
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
        Opt::Retry if cfg!(feature = "retry") => {
            c.retry = Some(v);
            return parse::schedule(vb, Signal::Term).is_some();
        }
        Opt::Format => {
            c.kv = vb == b"kv";
            return c.kv || vb == b"text";
        }
        #[cfg(feature = "respawn")]
        Opt::RespawnDelay => return set_ms(vb, &mut c.respawn_policy.delay_ms),
        #[cfg(feature = "respawn")]
        Opt::RespawnDelayMax => return set_ms(vb, &mut c.respawn_policy.delay_max_ms),
        #[cfg(feature = "respawn")]
        Opt::RespawnPeriod => return set_ms(vb, &mut c.respawn_policy.period_ms),
        #[cfg(feature = "respawn")]
        Opt::RespawnMax => return parse::uint(vb).map(|n| c.respawn_policy.max = n).is_some(),
        #[cfg(feature = "respawn")]
        Opt::Respawn => c.respawn = true,
        #[cfg(feature = "syslog")]
        Opt::Syslog => c.syslog = true,
        // An fd above 2 (0-2 are stdio); a timeout above 0; a watch in whole ms.
        #[cfg(feature = "ready")]
        Opt::ReadyFd => {
            return parse::fd(vb)
                .filter(|&fd| fd > 2)
                .map(|fd| c.ready.fd = Some(fd))
                .is_some()
        }
        #[cfg(feature = "ready")]
        Opt::ReadyTimeout => {
            return parse::duration_ms(vb)
                .filter(|&t| t > 0)
                .map(|t| c.ready.timeout_ms = t)
                .is_some()
        }
        #[cfg(feature = "ready")]
        Opt::Wait => return parse::uint(vb).map(|ms| c.ready.wait_ms = ms).is_some(),
        #[cfg(feature = "notify")]
        Opt::Notify => c.notify = true,
        Opt::ClearEnv => c.clear_env = true,
        Opt::DryRun => c.dry_run = true,
        Opt::Quiet => c.quiet = true,
        Opt::Verbose => c.verbose = true,
        Opt::NoKill => c.no_kill = true,
        Opt::ProcessGroup => c.process_group = true,
        #[cfg(feature = "init")]
        Opt::Init => c.init = true,
        _ => return false,
    }
    // Path-like values must not be empty.
    !opt.takes_value() || path.is_some()
}

/// The respawn options make sense together.
#[cfg(feature = "respawn")]
fn respawn_policy(c: &mut Command) -> Result<(), Usage> {
    // `syslog` as an output: the supervisor relays it (the program writes to a pipe).
    for (i, out) in [&mut c.stdout, &mut c.stderr].into_iter().enumerate() {
        if matches!(out, Stdio::File(p) if p.to_bytes() == b"syslog") {
            if !c.respawn {
                return Err(usage("--stdout/--stderr syslog needs --respawn", None));
            }
            c.relay[i] = true;
            *out = Stdio::Null;
        }
    }
    if c.respawn && c.init {
        return Err(usage("--init takes no --respawn", None));
    }
    if !c.respawn && c.respawn_opts {
        return Err(usage("the --respawn-* options need --respawn", None));
    }
    if c.respawn_policy.delay_max_ms < c.respawn_policy.delay_ms {
        return Err(usage("--respawn-delay-max is below --respawn-delay", None));
    }
    Ok(())
}

/// A duration option (`SECS`, decimals allowed) into `out` as ms.
#[cfg(feature = "respawn")]
fn set_ms(v: &[u8], out: &mut u32) -> bool {
    parse::duration_ms(v).map(|ms| *out = ms).is_some()
}

impl Command {
    /// `--dry-run` (feature `dry-run`).
    pub fn dry_run(&self) -> bool {
        cfg!(feature = "dry-run") && self.dry_run
    }

    /// `--respawn` (feature `respawn`).
    #[cfg(feature = "respawn")]
    pub fn respawn(&self) -> bool {
        self.respawn
    }

    /// `--syslog` (feature `syslog`).
    #[cfg(any(feature = "syslog", feature = "respawn"))]
    pub fn syslog(&self) -> bool {
        #[cfg(feature = "syslog")]
        return self.syslog;
        #[cfg(not(feature = "syslog"))]
        false
    }

    /// `run --init` (feature `init`).
    #[cfg(feature = "init")]
    pub fn init(&self) -> bool {
        cfg!(feature = "init") && self.init
    }

    /// `--ready-fd`, `--notify` or `--wait` (feature `ready`).
    #[cfg(feature = "ready")]
    pub fn ready(&self) -> bool {
        #[cfg(feature = "notify")]
        let notify = self.notify;
        #[cfg(not(feature = "notify"))]
        let notify = false;
        self.ready.fd.is_some() || notify || self.ready.wait_ms > 0
    }

    /// `--format kv` (feature `kv`).
    pub fn kv(&self) -> bool {
        cfg!(feature = "kv") && self.kv
    }

    /// The stop schedule: `--retry`, else SIG/timeout/KILL/5 (or SIG/timeout with
    /// `--no-kill`).
    pub fn schedule(&self) -> Schedule {
        if let Some(s) = self
            .retry
            .filter(|_| cfg!(feature = "retry"))
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
