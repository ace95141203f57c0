//! The start-stop-daemon personality (feature `ssd`): imp called as
//! `start-stop-daemon` (a symlink or a copy by that name) or as `imp ssd ...` takes
//! dpkg's start-stop-daemon(8) options and exit codes, so that init scripts run
//! unchanged. What it finds is imp-core's [`find`]; what it starts, imp-core's
//! [`spawn`] — with imp's guarantees (docs/CLI-CONTRACT.md, "start-stop-daemon").
//!
//! Exit codes, as dpkg's: 0 done; 1 nothing done (already running, nothing to stop;
//! 0 with `--oknodo`); 2 `--retry` ran out, or trouble (dpkg's `fatal`); 3 a usage
//! error; `--status` 0 running, 1 dead with a pidfile, 3 not running, 4 unknown.

use core::ffi::CStr;
use imp_core::control::Schedule;
#[cfg(feature = "notify")]
use imp_core::control::Step;
use imp_core::find::{self, Find, Found, Source};
use imp_core::log::{self, Line};
use imp_core::spawn::{self, Credentials, Spec, Started, Stdio};
use imp_core::{parse, CStrArray, Error, Pid, Signal};

const FAIL: i32 = 2;
const USAGE: i32 = 3;
const STATUS_UNKNOWN: i32 = 4;

imp_core::words! {
    /// The options, by long name (dpkg's spellings; busybox's are the same).
    enum Opt {
        Start = "start",
        Stop = "stop",
        Status = "status",
        Pidof = "pidof",
        Help = "help",
        Version = "version",
        Pidfile = "pidfile",
        MakePidfile = "make-pidfile",
        RemovePidfile = "remove-pidfile",
        Background = "background",
        Exec = "exec",
        Startas = "startas",
        Name = "name",
        User = "user",
        Pid = "pid",
        Chuid = "chuid",
        Group = "group",
        Chroot = "chroot",
        Chdir = "chdir",
        Umask = "umask",
        Nicelevel = "nicelevel",
        Signal = "signal",
        Retry = "retry",
        Oknodo = "oknodo",
        Quiet = "quiet",
        Verbose = "verbose",
        Test = "test",
        Output = "output",
        NoClose = "no-close",
        NotifyAwait = "notify-await",
        NotifyTimeout = "notify-timeout",
        Procsched = "procsched",
        Iosched = "iosched",
        Ppid = "ppid",
    }
}

/// The short letter of each option in [`Opt`] order (`0`: long only); a capital
/// letter's option takes a value when it is in [`VALUE`].
const SHORT: &[u8; 34] = b"SKT\0HVpm\0bxanu\0cgrdkNsRoqvtOC\0\0PI\0";

/// Which options take a value, one bit per [`Opt`].
const VALUE: u64 = {
    let takes = [
        Opt::Pidfile,
        Opt::Exec,
        Opt::Startas,
        Opt::Name,
        Opt::User,
        Opt::Pid,
        Opt::Chuid,
        Opt::Group,
        Opt::Chroot,
        Opt::Chdir,
        Opt::Umask,
        Opt::Nicelevel,
        Opt::Signal,
        Opt::Retry,
        Opt::Output,
        Opt::NotifyTimeout,
        Opt::Procsched,
        Opt::Iosched,
        Opt::Ppid,
    ];
    let (mut m, mut i) = (0u64, 0);
    while i < takes.len() {
        m |= 1 << takes[i] as u8;
        i += 1;
    }
    m
};
const _: () = assert!(Opt::ALL.len() == SHORT.len());

/// What the command line said: each option as given (the last value of a value
/// option, `""` for a flag), and the values parsed from them.
struct Ssd {
    given: [Option<&'static CStr>; Opt::ALL.len()],
    action: Opt,
    pid: Option<Pid>,
    umask: u32,
    nice: Option<i32>,
    signal: Signal,
    retry: Option<Schedule>,
    notify_timeout_ms: u32,
    /// 1 (nothing done), or 0 with `--oknodo`.
    nodo: i32,
    /// Where the program's arguments start in argv.
    args: usize,
}

impl Ssd {
    /// The value of option `o`, if given.
    fn get(&self, o: Opt) -> Option<&'static CStr> {
        self.given[o as usize]
    }

    /// Whether option `o` was given.
    fn has(&self, o: Opt) -> bool {
        self.get(o).is_some()
    }

    /// Options as a bit set, for the rules between them.
    fn bits(&self) -> u64 {
        let mut m = 0;
        for (k, g) in self.given.iter().enumerate() {
            if g.is_some() {
                m |= 1 << k;
            }
        }
        m
    }
}

/// The bit of each option in [`Ssd::bits`].
const fn bit(o: Opt) -> u64 {
    1 << o as u8
}

/// A usage error: `start-stop-daemon: [--OPT: ]WHAT['ARG']` and the pointer to `--help`;
/// exit 3, or 4 once `--status` was read (`action`, the command read so far: dpkg's
/// `badusage`).
fn usage(action: Option<Opt>, opt: Option<Opt>, what: &str, arg: Option<&CStr>) -> i32 {
    let mut l = Line::new();
    l.str("start-stop-daemon: ");
    if let Some(o) = opt {
        l.str("--").str(o.as_str()).str(": ");
    }
    l.str(what);
    if let Some(a) = arg {
        l.str(" '").path(a.to_bytes()).str("'");
    }
    l.emit(log::stderr());
    l.str("Try 'start-stop-daemon --help' for more information.")
        .emit(log::stderr());
    if is_status(action) {
        STATUS_UNKNOWN
    } else {
        USAGE
    }
}

/// Whether the command is `--status` (or `--pidof`, which answers as it does): its
/// errors exit 4, "unable to determine status".
fn is_status(action: Option<Opt>) -> bool {
    matches!(action, Some(Opt::Status | Opt::Pidof))
}

/// Whether a `--signal` or `--retry` value is spelled as dpkg takes it: signal names
/// in capitals without `SIG` (dpkg refuses `SIGTERM` and `term`, which imp's own
/// options take, so a script that works here works with dpkg's too).
fn dpkg_spelling(v: &[u8]) -> bool {
    v.split(|&b| b == b'/').all(|item| {
        let name = item.strip_prefix(b"-").unwrap_or(item);
        item == b"forever" || !(name.starts_with(b"SIG") || name.iter().any(u8::is_ascii_lowercase))
    })
}

/// Parses the options getopt-style: short ones clustered (`-Sbq`) or with the value
/// attached (`-p/run/x.pid`), long ones as `--name value` or `--name=value`; the first
/// argument that is not an option, or `--`, ends them (the program's arguments).
#[inline(never)] // kept out of main: -64 B
fn parse(argv: CStrArray, first: usize) -> Result<Ssd, i32> {
    let mut given = [None; Opt::ALL.len()];
    let mut action = None;
    let mut i = first;
    while let Some(arg) = argv.get(i) {
        let b = arg.to_bytes();
        i += 1;
        if b == b"--" {
            break;
        }
        if b.len() < 2 || b[0] != b'-' {
            i -= 1;
            break;
        }
        // One long option, or a cluster of short ones.
        let mut at = 1;
        while at < b.len() {
            let (opt, mut inline) = if b[1] == b'-' {
                let long = &b[2..];
                let (name, inline) = match long.iter().position(|&c| c == b'=') {
                    Some(k) => (&long[..k], Some(imp_core::__cli::cstr_tail(arg, k + 3))),
                    None => (long, None),
                };
                at = b.len();
                let found = imp_core::__cli::find(Opt::WORDS, name, false);
                (found.and_then(|k| Opt::from_u8(k as u8)), inline)
            } else {
                let c = b[at];
                at += 1;
                let found = SHORT.iter().position(|&s| s == c && c != 0);
                (found.and_then(|k| Opt::from_u8(k as u8)), None)
            };
            let Some(opt) = opt else {
                return Err(usage(action, None, "unrecognized option", Some(arg)));
            };
            if matches!(opt, Opt::Procsched | Opt::Iosched | Opt::Ppid) {
                return Err(usage(action, Some(opt), "not supported by imp", None));
            }
            let takes = VALUE & bit(opt) != 0;
            if takes && inline.is_none() && at < b.len() {
                inline = Some(imp_core::__cli::cstr_tail(arg, at));
                at = b.len();
            }
            let v = match (takes, inline) {
                (true, Some(v)) => v,
                (true, None) => {
                    i += 1;
                    let v = argv.get(i - 1);
                    v.ok_or_else(|| usage(action, Some(opt), "option requires an argument", None))?
                }
                (false, Some(_)) => {
                    return Err(usage(action, Some(opt), "takes no argument", None))
                }
                (false, None) => c"",
            };
            if takes && v.is_empty() {
                return Err(usage(action, Some(opt), "empty value", None));
            }
            if opt as u8 <= Opt::Version as u8 {
                if action.is_some_and(|a| a != opt) {
                    return Err(usage(
                        action,
                        None,
                        "only one command can be specified",
                        None,
                    ));
                }
                action = Some(opt);
            }
            given[opt as usize] = Some(v);
        }
    }
    let Some(action) = action else {
        return Err(usage(
            None,
            None,
            "need one of --start or --stop or --status",
            None,
        ));
    };
    let mut s = Ssd {
        given,
        action,
        pid: None,
        umask: 0o022,
        nice: None,
        signal: Signal::Term,
        retry: None,
        notify_timeout_ms: 60_000,
        nodo: if given[Opt::Oknodo as usize].is_some() {
            0
        } else {
            1
        },
        args: i,
    };
    values(&mut s)?;
    check(&s).map_err(|what| usage(Some(s.action), None, what, None))?;
    Ok(s)
}

/// Parses the values that are numbers, signals or schedules.
fn values(s: &mut Ssd) -> Result<(), i32> {
    for opt in [
        Opt::Pid,
        Opt::Umask,
        Opt::Nicelevel,
        Opt::Signal,
        Opt::Retry,
        Opt::Output,
        Opt::NotifyTimeout,
    ] {
        let Some(v) = s.get(opt) else { continue };
        let vb = v.to_bytes();
        let ok = match opt {
            Opt::Pid => {
                s.pid = parse::uint(vb).and_then(|n| Pid::from_raw(n as i32));
                s.pid.is_some()
            }
            Opt::Umask => parse::umask(vb).map(|m| s.umask = m).is_some(),
            Opt::Nicelevel => parse::nice(vb).map(|n| s.nice = Some(n)).is_some(),
            Opt::Signal => dpkg_spelling(vb) && parse::signal(vb).map(|g| s.signal = g).is_some(),
            // After --signal: a bare timeout means SIG/N/KILL/N.
            Opt::Retry => {
                s.retry = parse::schedule(vb, s.signal).filter(|_| dpkg_spelling(vb));
                s.retry.is_some()
            }
            Opt::Output => vb.starts_with(b"/"),
            _ => parse::uint(vb)
                .map(|t| s.notify_timeout_ms = t.saturating_mul(1000))
                .is_some(),
        };
        if !ok {
            return Err(usage(Some(s.action), Some(opt), "invalid value", Some(v)));
        }
    }
    Ok(())
}

/// dpkg's rules for options that make no sense together.
fn check(s: &Ssd) -> Result<(), &'static str> {
    let b = s.bits();
    if matches!(s.action, Opt::Help | Opt::Version) {
        return Ok(());
    }
    let matching = bit(Opt::Exec) | bit(Opt::Name) | bit(Opt::User) | bit(Opt::Pid);
    if b & (matching | bit(Opt::Pidfile)) == 0 {
        return Err("need at least one of --exec, --pid, --pidfile, --user or --name");
    }
    if s.action == Opt::Start && b & (bit(Opt::Exec) | bit(Opt::Startas)) == 0 {
        return Err("--start needs --exec or --startas");
    }
    if b & (bit(Opt::MakePidfile) | bit(Opt::RemovePidfile)) != 0 && !s.has(Opt::Pidfile) {
        return Err("--make-pidfile and --remove-pidfile require --pidfile");
    }
    if s.has(Opt::Pid) && s.has(Opt::Pidfile) {
        return Err("need either --pid or --pidfile, not both");
    }
    if s.has(Opt::Background) && s.action != Opt::Start {
        return Err("--background is only relevant with --start");
    }
    let bg_only = bit(Opt::NoClose) | bit(Opt::Output) | bit(Opt::NotifyAwait);
    if b & bg_only != 0 && !s.has(Opt::Background) {
        return Err("--no-close, --output and --notify-await are only relevant with --background");
    }
    if s.has(Opt::NotifyAwait) && !cfg!(feature = "notify") {
        return Err("--notify-await is not supported by this build");
    }
    Ok(())
}

/// A message dpkg prints on stdout (`-q` silences it).
fn info(s: &Ssd, f: impl FnOnce(&mut Line)) {
    if !s.has(Opt::Quiet) {
        let mut l = Line::new();
        f(&mut l);
        l.emit(log::stdout());
    }
}

/// `start-stop-daemon: WHAT: CAUSE` on stderr, and the exit code of trouble (4 for
/// `--status`).
fn trouble(s: &Ssd, what: &str, subject: Option<&CStr>, e: &Error) -> i32 {
    let mut l = Line::new();
    l.str("start-stop-daemon: ").str(what);
    if let Some(p) = subject {
        l.str(" ").path(p.to_bytes());
    }
    l.str(": ").error(e);
    // Who owns what was refused, or holds its lock.
    if let Some(id) = e.uid().or(e.pid().map(|p| p.as_raw_nonzero().get() as u32)) {
        l.str(" ").num(id);
    }
    l.emit(log::stderr());
    if is_status(Some(s.action)) {
        STATUS_UNKNOWN
    } else {
        FAIL
    }
}

/// What the messages call the daemon, as dpkg: `--name`, else `--exec`, else the
/// pidfile's process.
fn what(s: &Ssd, l: &mut Line) {
    if let Some(n) = s.get(Opt::Name).or(s.get(Opt::Exec)) {
        l.path(n.to_bytes());
    } else if let Some(p) = s.get(Opt::Pidfile) {
        l.str("process in pidfile '").path(p.to_bytes()).str("'");
    } else if let Some(pid) = s.pid {
        l.str("process with pid ")
            .num(pid.as_raw_nonzero().get() as u32);
    } else {
        l.str("process(es) owned by '")
            .path(s.get(Opt::User).unwrap_or(c"").to_bytes())
            .str("'");
    }
}

/// `start-stop-daemon ARGS` (`first`: where the options start in argv).
#[inline(never)] // kept out of _start: -16 B
pub fn main(argv: CStrArray, envp: CStrArray, first: usize) -> i32 {
    let s = match parse(argv, first) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let action = s.action;
    match action {
        Opt::Help => {
            let _ = log::write_all(log::stdout(), HELP.as_bytes());
            return 0;
        }
        Opt::Version => {
            let _ = log::write_all(
                log::stdout(),
                concat!("start-stop-daemon (imp ", env!("CARGO_PKG_VERSION"), ")\n").as_bytes(),
            );
            return 0;
        }
        _ => {}
    }
    if let Err(e) = spawn::check_stack() {
        return trouble(&s, "stack", None, &e);
    }
    // `--exec` is a file's identity: looked up once, inside the chroot.
    let mut full = [0u8; imp_core::limits::PATH_MAX];
    let exec = match s.get(Opt::Exec) {
        Some(x) => {
            let root = s.get(Opt::Chroot).map_or(&b""[..], CStr::to_bytes);
            let path = imp_core::__cli::join(&mut full, &[root, x.to_bytes()]);
            let too_long = Error::check(imp_core::Op::Exec, imp_core::Reason::TooLong);
            match path.ok_or(too_long).and_then(find::exec_id) {
                Ok(id) => Some(id),
                Err(e) => return trouble(&s, "unable to stat", Some(x), &e),
            }
        }
        None => None,
    };
    let uid = match s.get(Opt::User) {
        Some(u) => {
            let mut user = imp_core::user::User::default();
            match imp_core::user::lookup_user(u.to_bytes(), &mut user) {
                Ok(()) => Some(user.uid),
                Err(e) => return trouble(&s, "user", Some(u), &e),
            }
        }
        None => None,
    };
    // As dpkg, the users and groups are looked up whatever the command: an unknown
    // one is trouble before anything is found or started.
    let mut credentials = None;
    if let Err(e) = Credentials::resolve(
        s.get(Opt::Chuid).map(CStr::to_bytes),
        s.get(Opt::Group).map(CStr::to_bytes),
        &mut credentials,
    ) {
        return trouble(
            &s,
            "cannot run as",
            s.get(Opt::Chuid).or(s.get(Opt::Group)),
            &e,
        );
    }
    let name = s.get(Opt::Name).map(CStr::to_bytes);
    if name.is_some_and(|n| n.len() > find::NAME_MAX) {
        let _ = log::write_all(
            log::stderr(),
            b"start-stop-daemon: warning: a --name longer than 15 characters matches \
              no process (the kernel keeps 15 of a name): use --exec\n",
        );
    }
    let f = Find {
        source: match (s.pid, s.get(Opt::Pidfile)) {
            (Some(pid), _) => Source::Pid(pid),
            (None, Some(p)) => Source::Pidfile(p),
            (None, None) => Source::All,
        },
        exec,
        name,
        uid,
    };
    match action {
        Opt::Start => start(&s, &f, credentials, argv, envp),
        Opt::Stop => stop(&s, &f),
        // --status, and --pidof, which prints the pids (and answers as --status).
        _ => match f.each(&mut |pid, _| {
            if action == Opt::Pidof {
                let mut l = Line::new();
                l.num(pid.as_raw_nonzero().get() as u32).emit(log::stdout());
            }
        }) {
            Ok(Found::Running) => 0,
            Ok(Found::DeadPidfile) => 1,
            Ok(Found::Dead) => 3,
            Ok(Found::Unknown) => STATUS_UNKNOWN,
            Err(e) => trouble(&s, "status", s.get(Opt::Pidfile), &e),
        },
    }
}

#[inline(never)] // kept out of main: -96 B
fn start(
    s: &Ssd,
    f: &Find<'_>,
    credentials: Option<Credentials>,
    argv: CStrArray,
    envp: CStrArray,
) -> i32 {
    let program = s.get(Opt::Startas).or(s.get(Opt::Exec)).unwrap_or(c"");
    let running = |s: &Ssd| {
        info(s, |l| {
            l.path(s.get(Opt::Exec).unwrap_or(c"process").to_bytes())
                .str(" already running.");
        });
        s.nodo
    };
    match f.each(&mut |_, _| {}) {
        Ok(Found::Running) => return running(s),
        Ok(_) => {}
        Err(e) => return trouble(s, "start", s.get(Opt::Pidfile), &e),
    }
    if s.has(Opt::Test) {
        info(s, |l| {
            l.str("Would start ").path(program.to_bytes());
            for a in argv.skip(s.args).iter() {
                l.str(" ").path(a.to_bytes());
            }
            l.str(".");
        });
        return 0;
    }
    // `--notify-await`: the socket and its NOTIFY_SOCKET line, made before the spec
    // that borrows them.
    #[cfg(feature = "notify")]
    let mut var = [0u8; 64];
    #[cfg(feature = "notify")]
    let notify = match s
        .has(Opt::NotifyAwait)
        .then(|| spawn::notify_socket(&mut var))
    {
        Some(Ok(sv)) => Some(sv),
        Some(Err(e)) => return trouble(s, "notify socket", None, &e),
        None => None,
    };
    // SAFETY: argv is this process's own (imp_rt hands the kernel's), and the entry
    // before the program's arguments is an option (or `--`), read already.
    #[allow(unsafe_code)]
    let args = unsafe { argv.with_head(s.args, program) };
    let mut spec = Spec::new(program, args, envp);
    spec.chdir = Some(s.get(Opt::Chdir).unwrap_or(c"/"));
    spec.chroot = s.get(Opt::Chroot);
    spec.umask = s.umask;
    spec.nice = s.nice;
    spec.pidfile = s.get(Opt::Pidfile).filter(|_| s.has(Opt::MakePidfile));
    let out = match (
        s.has(Opt::Background),
        s.has(Opt::NoClose),
        s.get(Opt::Output),
    ) {
        (false, ..) | (true, true, None) => Stdio::Inherit,
        (true, _, Some(p)) => Stdio::File(p),
        (true, false, None) => Stdio::Null,
    };
    spec.stdout = out;
    spec.stderr = out;
    spec.single_threaded(crate::one_thread());
    spec.credentials = credentials;
    spec.inherit_fds = s.has(Opt::NoClose);
    if s.has(Opt::Verbose) {
        info(s, |l| {
            l.str("Starting ").path(program.to_bytes()).str("...");
        });
    }
    if !s.has(Opt::Background) {
        let e = spawn::run(&spec, crate::only_kept_fds());
        return trouble(s, "unable to start", Some(program), &e);
    }
    #[cfg(feature = "notify")]
    let r = match &notify {
        Some((socket, var)) => {
            spec.notify_env = Some(var);
            // A program that dies or stays silent is stopped: TERM, 5 s, KILL.
            let stop = [
                Step::Signal(Signal::Term),
                Step::Wait(5_000),
                Step::Signal(Signal::Kill),
                Step::Wait(5_000),
            ];
            let ready = spawn::Ready {
                fd: None,
                notify: Some(imp_core::AsFd::as_fd(socket)),
                timeout_ms: s.notify_timeout_ms,
                wait_ms: 0,
                stop: &stop,
            };
            spawn::start_ready_by(&spec, &ready, spawn::start)
        }
        None => spawn::start(&spec),
    };
    #[cfg(not(feature = "notify"))]
    let r = spawn::start(&spec);
    match r {
        Ok(Started::Started(_)) => 0,
        Ok(Started::AlreadyRunning(_)) => running(s),
        Err(e) => trouble(s, "unable to start", Some(program), &e),
    }
}

#[inline(never)] // kept out of main: -112 B
fn stop(s: &Ssd, f: &Find<'_>) -> i32 {
    let none = || {
        info(s, |l| {
            what(s, l.str("No "));
            l.str(" found running; none killed.");
        });
        s.nodo
    };
    if s.has(Opt::Test) {
        let r = f.each(&mut |pid, _| {
            info(s, |l| {
                l.str("Would send signal ")
                    .num(s.signal.as_raw() as u32)
                    .str(" to ")
                    .num(pid.as_raw_nonzero().get() as u32)
                    .str(".");
            });
        });
        return match r {
            Ok(Found::Running) => 0,
            Ok(_) => none(),
            Err(e) => trouble(s, "stop", s.get(Opt::Pidfile), &e),
        };
    }
    let mut signalled = 0;
    let done = match &s.retry {
        None => f.signal(s.signal.as_raw()).map(|sent| {
            signalled = sent.signalled;
            if let Some(e) = &sent.error {
                let mut w = Line::new();
                w.str("start-stop-daemon: warning: ")
                    .num(sent.failed)
                    .str(" pids were not killed: ")
                    .error(e)
                    .emit(log::stderr());
            }
            true
        }),
        Some(schedule) => f.stop(schedule, &mut signalled),
    };
    let done = match done {
        Ok(d) => d,
        Err(e) => return trouble(s, "stop", s.get(Opt::Pidfile), &e),
    };
    if let Some(p) = s.get(Opt::Pidfile).filter(|_| s.has(Opt::RemovePidfile)) {
        // The daemon was signalled: a second to exit and let go of imp's lock.
        if let Err(e) = imp_core::pidfile::remove_released(p, 1_000) {
            trouble(s, "cannot remove pidfile", Some(p), &e);
        }
    }
    if !done {
        info(s, |l| {
            what(s, l.str("Program "));
            l.str(" refused to die.");
        });
        return FAIL;
    }
    if signalled == 0 {
        return none();
    }
    if s.has(Opt::Verbose) {
        info(s, |l| {
            what(s, l.str("Stopped "));
            l.str(".");
        });
    }
    0
}

/// `--help`: the options this personality takes.
const HELP: &str = "\
Usage: start-stop-daemon [OPTION...] COMMAND [-- ARG...]
Commands: -S|--start  -K|--stop  -T|--status  --pidof  -H|--help  -V|--version
Matching: -p|--pidfile FILE  -x|--exec PATH  -n|--name NAME  -u|--user USER  --pid PID
Options: -m|--make-pidfile  --remove-pidfile  -b|--background  -a|--startas PATH
  -c|--chuid USER[:GROUP]  -g|--group GROUP  -r|--chroot DIR  -d|--chdir DIR
  -k|--umask MASK  -N|--nicelevel INC  -s|--signal SIG  -R|--retry SCHEDULE
  -o|--oknodo  -q|--quiet  -v|--verbose  -t|--test  -O|--output FILE  -C|--no-close
  --notify-await  --notify-timeout SECS
Exit: 0 done, 1 nothing done (0 with --oknodo), 2 --retry ran out or trouble,
  3 usage; --status: 0 running, 1 dead with pidfile, 3 not running, 4 unknown
";
