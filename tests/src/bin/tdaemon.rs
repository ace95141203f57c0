//! tdaemon: the test helper program of RELIABILITY.md "Harness conventions".
//!
//! It records its own process state (`--dump FILE`, key=value lines, written atomically
//! through FILE.tmp + rename) and then behaves as told. It is started by `imp` as the
//! daemon under test, and also serves as a small toolbox for the test scripts
//! (lock holder, FUSE server that never answers, exec wrapper with blocked signals).
//!
//! `#![no_main]` on purpose: std's `main` shim sets SIGPIPE to SIG_IGN before user code
//! runs, which would make the recorded `SigIgn` useless. With a C `main`, std still works
//! (arguments come from glibc's init_array hook) but leaves dispositions alone.
//!
//! Options (all optional, any order; `--exec` takes the rest of the line):
//! ```text
//! --marker FILE          create FILE at startup (proves the program ran)
//! --marker-append FILE   append the pid and a newline to FILE at startup (counts runs)
//! --dump FILE            write the state dump to FILE (atomically)
//! --open-tty PATH        open PATH read-write WITHOUT O_NOCTTY, record tty_nr after
//! --try-setuid0          record whether setgroups(0,NULL)/setuid(0)/setresuid(0,0,0) work
//! --lock FILE            open FILE (O_RDWR|O_CREAT) and hold a POSIX write lock on it
//! --lock-read FILE       the same with a read lock
//! --bind-abstract NAME   bind an abstract unix socket NAME; exit 98 if in use
//! --bind-tcp PORT        listen on TCP 0.0.0.0:PORT; the dump says bind_tcp=ok or the
//!                        errno name (EACCES below 1024 without CAP_NET_BIND_SERVICE)
//! --syslog-recv PATH     (toolbox) a syslog receiver: bind a datagram socket at PATH
//!                        and append each datagram and a newline to --syslog-out FILE,
//!                        forever; --syslog-rcvbuf N sets a small receive buffer and
//!                        never reads (a syslog that is stuck)
//! --syslog-out FILE
//! --syslog-rcvbuf N
//! --fork-children N      fork N children that exit at once and are never reaped
//! --spawn-sleepers N     fork N children that ignore SIGTERM and sleep forever
//! --ignore-term          SIGTERM ignored
//! --term-marker FILE     on SIGTERM: write FILE, (unlink --term-unlink), sleep
//! --term-unlink FILE       --term-delay S, exit 0
//! --term-delay S
//! --ready-after S        write "\n" to --ready-fd N (default 3) after S seconds
//! --ready-fd N
//! --notify-ready         at --ready-after, send READY=1 to $NOTIFY_SOCKET (sd_notify)
//!                        instead of writing to --ready-fd
//! --notify-to ADDR       the same to ADDR (`@name`: abstract), whatever the environment
//! --close-fd N           close fd N at startup, before anything else (a readiness fd
//!                        closed without the newline)
//! --say-hello            write "hello" to stdout and stderr
//! --block-on PATH        stat(PATH) after the dump (used to hang in a FUSE request)
//! --fuse-server DIR      mount a FUSE fs on DIR, answer INIT, never answer anything else
//! --sleep S              live S seconds (float) then exit
//! --exit N               exit status (default 0)
//! --block SIGS           (wrapper) block these signals (comma list: HUP,TERM or numbers)
//! --ignore SIGS          (wrapper) set these signals to SIG_IGN
//! --socket-fd N          (wrapper) open a TCP socket (no CLOEXEC) on fd N
//!                        (with --exec, --lock FILE keeps the lock across the exec)
//! --exec PROG ARGS...    (wrapper) exec PROG with the state set up above
//! ```
#![no_main]

use std::ffi::{CString, OsStr};
use std::fmt::Write as _;
use std::io::Write as _;
use std::os::unix::ffi::OsStrExt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

static GOT_TERM: AtomicBool = AtomicBool::new(false);

extern "C" fn on_term(_: libc::c_int) {
    GOT_TERM.store(true, Ordering::SeqCst);
}

#[derive(Default)]
struct Opts {
    marker: Option<String>,
    marker_append: Option<String>,
    dump: Option<String>,
    open_tty: Option<String>,
    try_setuid0: bool,
    lock: Option<String>,
    lock_read: bool,
    bind_abstract: Option<String>,
    bind_tcp: Option<u16>,
    syslog_recv: Option<String>,
    syslog_out: Option<String>,
    syslog_rcvbuf: Option<i32>,
    fork_children: u32,
    spawn_sleepers: u32,
    ignore_term: bool,
    term_marker: Option<String>,
    term_unlink: Option<String>,
    term_delay: f64,
    ready_after: Option<f64>,
    ready_fd: i32,
    close_fd: Option<i32>,
    notify_ready: bool,
    notify_to: Option<String>,
    say_hello: bool,
    block_on: Option<String>,
    fuse_server: Option<String>,
    sleep: Option<f64>,
    exit: i32,
    block: Vec<i32>,
    ignore: Vec<i32>,
    socket_fd: Option<i32>,
    exec: Vec<String>,
}

fn die(msg: &str) -> ! {
    eprintln!("tdaemon: {msg}");
    std::process::exit(64)
}

fn parse_f64(v: &str) -> f64 {
    if v == "inf" {
        return 1e9;
    }
    v.parse()
        .unwrap_or_else(|_| die(&format!("bad number {v}")))
}

fn parse_i32(v: &str) -> i32 {
    v.parse()
        .unwrap_or_else(|_| die(&format!("bad integer {v}")))
}

fn sig_by_name(s: &str) -> i32 {
    let s = s.trim_start_matches("SIG");
    match s {
        "HUP" => libc::SIGHUP,
        "INT" => libc::SIGINT,
        "QUIT" => libc::SIGQUIT,
        "USR1" => libc::SIGUSR1,
        "USR2" => libc::SIGUSR2,
        "PIPE" => libc::SIGPIPE,
        "ALRM" => libc::SIGALRM,
        "TERM" => libc::SIGTERM,
        "CHLD" => libc::SIGCHLD,
        "CONT" => libc::SIGCONT,
        "TSTP" => libc::SIGTSTP,
        "TTIN" => libc::SIGTTIN,
        "TTOU" => libc::SIGTTOU,
        "WINCH" => libc::SIGWINCH,
        other => parse_i32(other),
    }
}

fn sig_list(v: &str) -> Vec<i32> {
    v.split(',')
        .filter(|s| !s.is_empty())
        .map(sig_by_name)
        .collect()
}

fn parse_args() -> Opts {
    let mut o = Opts {
        ready_fd: 3,
        ..Opts::default()
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_str();
        let flag_only = matches!(
            a,
            "--notify-ready" | "--try-setuid0" | "--ignore-term" | "--say-hello" | "--exec"
        );
        if a == "--exec" {
            o.exec = args[i + 1..].to_vec();
            if o.exec.is_empty() {
                die("--exec needs a program");
            }
            break;
        }
        let val = if flag_only {
            String::new()
        } else {
            match args.get(i + 1) {
                Some(v) => v.clone(),
                None => die(&format!("{a} needs a value")),
            }
        };
        match a {
            "--marker" => o.marker = Some(val),
            "--marker-append" => o.marker_append = Some(val),
            "--dump" => o.dump = Some(val),
            "--open-tty" => o.open_tty = Some(val),
            "--try-setuid0" => o.try_setuid0 = true,
            "--notify-ready" => o.notify_ready = true,
            "--lock" => o.lock = Some(val),
            "--lock-read" => {
                o.lock = Some(val);
                o.lock_read = true
            }
            "--bind-abstract" => o.bind_abstract = Some(val),
            "--bind-tcp" => o.bind_tcp = Some(parse_i32(&val) as u16),
            "--syslog-recv" => o.syslog_recv = Some(val),
            "--syslog-out" => o.syslog_out = Some(val),
            "--syslog-rcvbuf" => {
                o.syslog_rcvbuf = Some(val.parse().unwrap_or_else(|_| die("--syslog-rcvbuf")))
            }
            "--fork-children" => o.fork_children = parse_i32(&val) as u32,
            "--spawn-sleepers" => o.spawn_sleepers = parse_i32(&val) as u32,
            "--ignore-term" => o.ignore_term = true,
            "--term-marker" => o.term_marker = Some(val),
            "--term-unlink" => o.term_unlink = Some(val),
            "--term-delay" => o.term_delay = parse_f64(&val),
            "--ready-after" => o.ready_after = Some(parse_f64(&val)),
            "--ready-fd" => o.ready_fd = parse_i32(&val),
            "--close-fd" => o.close_fd = Some(parse_i32(&val)),
            "--notify-to" => o.notify_to = Some(val),
            "--say-hello" => o.say_hello = true,
            "--block-on" => o.block_on = Some(val),
            "--fuse-server" => o.fuse_server = Some(val),
            "--sleep" => o.sleep = Some(parse_f64(&val)),
            "--exit" => o.exit = parse_i32(&val),
            "--block" => o.block.extend(sig_list(&val)),
            "--ignore" => o.ignore.extend(sig_list(&val)),
            "--socket-fd" => o.socket_fd = Some(parse_i32(&val)),
            other => die(&format!("unknown option {other}")),
        }
        i += if flag_only { 1 } else { 2 };
    }
    o
}

fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

fn errno_name(e: i32) -> String {
    match e {
        libc::EPERM => "EPERM".into(),
        libc::EINVAL => "EINVAL".into(),
        libc::EACCES => "EACCES".into(),
        libc::ENOENT => "ENOENT".into(),
        libc::ENXIO => "ENXIO".into(),
        libc::EIO => "EIO".into(),
        libc::EAGAIN => "EAGAIN".into(),
        libc::EADDRINUSE => "EADDRINUSE".into(),
        n => format!("E{n}"),
    }
}

fn cstr(s: &str) -> CString {
    CString::new(s).unwrap_or_else(|_| die("NUL in argument"))
}

/// Field N (1-based, as in proc(5)) of /proc/self/stat.
fn stat_field(n: usize) -> Option<String> {
    let s = std::fs::read_to_string("/proc/self/stat").ok()?;
    let rest = &s[s.rfind(')')? + 2..];
    // rest starts at field 3 (state)
    rest.split_whitespace().nth(n - 3).map(str::to_string)
}

fn fd_mode(fd: i32) -> String {
    // SAFETY: fcntl(F_GETFL) on any integer is harmless.
    let fl = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if fl < 0 {
        return "?".into();
    }
    let mut m = match fl & libc::O_ACCMODE {
        libc::O_RDONLY => "r".to_string(),
        libc::O_WRONLY => "w".to_string(),
        _ => "rw".to_string(),
    };
    if fl & libc::O_APPEND != 0 {
        m.push_str(",append");
    }
    m
}

fn open_fds() -> Vec<i32> {
    let mut fds: Vec<i32> = Vec::new();
    if let Ok(rd) = std::fs::read_dir("/proc/self/fd") {
        for e in rd.flatten() {
            if let Some(n) = e.file_name().to_str().and_then(|s| s.parse().ok()) {
                fds.push(n);
            }
        }
        // The directory's own fd is closed now: drop every fd that no longer exists.
        // SAFETY: F_GETFD only queries.
        fds.retain(|&fd| unsafe { libc::fcntl(fd, libc::F_GETFD) } >= 0);
    } else {
        // No /proc: probe (bounded).
        let mut rl = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: valid pointer.
        unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl) };
        let max = rl.rlim_cur.min(1 << 21) as i32;
        for fd in 0..max {
            // SAFETY: F_GETFD only queries.
            if unsafe { libc::fcntl(fd, libc::F_GETFD) } >= 0 {
                fds.push(fd);
            }
        }
    }
    fds.sort_unstable();
    fds
}

fn collect_state(out: &mut String) {
    // SAFETY: plain getters.
    let (pid, ppid, sid, pgid) = unsafe {
        (
            libc::getpid(),
            libc::getppid(),
            libc::getsid(0),
            libc::getpgid(0),
        )
    };
    let _ = writeln!(out, "pid={pid}\nppid={ppid}\nsid={sid}\npgid={pgid}");
    let proc_ok = std::path::Path::new("/proc/self/stat").exists();
    let _ = writeln!(out, "proc={}", if proc_ok { "yes" } else { "no" });
    let _ = writeln!(
        out,
        "tty_nr={}",
        stat_field(7).unwrap_or_else(|| "unknown".into())
    );
    let _ = writeln!(
        out,
        "nice={}",
        stat_field(19).unwrap_or_else(|| "unknown".into())
    );
    // SAFETY: umask is always safe; restored at once.
    let um = unsafe {
        let u = libc::umask(0);
        libc::umask(u);
        u
    };
    let _ = writeln!(out, "umask={um:04o}");
    let cwd = std::env::current_dir()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|e| format!("?{e}"));
    let _ = writeln!(out, "cwd={cwd}");
    // SAFETY: valid out-pointers.
    let (ru, eu, su, rg, eg, sg) = unsafe {
        let (mut a, mut b, mut c) = (0, 0, 0);
        let (mut d, mut e, mut f) = (0, 0, 0);
        libc::getresuid(&mut a, &mut b, &mut c);
        libc::getresgid(&mut d, &mut e, &mut f);
        (a, b, c, d, e, f)
    };
    let _ = writeln!(out, "resuid={ru} {eu} {su}\nresgid={rg} {eg} {sg}");
    if let Ok(st) = std::fs::read_to_string("/proc/self/status") {
        for line in st.lines() {
            if let Some((k, v)) = line.split_once(':') {
                if matches!(
                    k,
                    "Uid"
                        | "Gid"
                        | "Groups"
                        | "SigBlk"
                        | "SigIgn"
                        | "SigCgt"
                        | "SigPnd"
                        | "ShdPnd"
                        | "CapInh"
                        | "CapPrm"
                        | "CapEff"
                        | "CapBnd"
                        | "CapAmb"
                        | "NoNewPrivs"
                        | "Umask"
                        | "Threads"
                ) {
                    let v: Vec<&str> = v.split_whitespace().collect();
                    let _ = writeln!(out, "{k}={}", v.join(" "));
                }
            }
        }
    } else {
        // SAFETY: getgroups with a sized buffer.
        let mut g = [0 as libc::gid_t; 256];
        let n = unsafe { libc::getgroups(256, g.as_mut_ptr()) };
        let gs: Vec<String> = g[..n.max(0) as usize]
            .iter()
            .map(|x| x.to_string())
            .collect();
        let _ = writeln!(out, "Groups={}", gs.join(" "));
    }
    let fds = open_fds();
    let list: Vec<String> = fds.iter().map(|f| f.to_string()).collect();
    let _ = writeln!(out, "fds={}", list.join(","));
    for fd in fds {
        let target = std::fs::read_link(format!("/proc/self/fd/{fd}"))
            .map(|p| p.display().to_string())
            .unwrap_or_else(|_| "?".into());
        let _ = writeln!(out, "fd.{fd}={target}\nfdmode.{fd}={}", fd_mode(fd));
    }
    let mut rl = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: valid pointer.
    unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl) };
    let _ = writeln!(
        out,
        "rlimit_nofile={}\nrlimit_nofile_max={}",
        rl.rlim_cur, rl.rlim_max
    );
    let args: Vec<String> = std::env::args().collect();
    let _ = writeln!(out, "argv={}", args.join(" "));
    for (k, v) in std::env::vars_os() {
        let k = k.to_string_lossy();
        let v = v.to_string_lossy().replace('\n', "\\n");
        let _ = writeln!(out, "env.{k}={v}");
    }
    let _ = writeln!(out, "env_count={}", std::env::vars_os().count());
}

fn write_atomic(path: &str, content: &str) {
    let tmp = format!("{path}.tmp");
    let ok = std::fs::File::create(&tmp)
        .and_then(|mut f| f.write_all(content.as_bytes()))
        .and_then(|_| std::fs::rename(&tmp, path));
    if let Err(e) = ok {
        eprintln!("tdaemon: cannot write dump {path}: {e}");
    }
}

fn install(sig: i32, handler: libc::sighandler_t) {
    // SAFETY: sigaction with a zeroed struct, no SA_RESTART so sleeps are interrupted.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = handler;
        libc::sigemptyset(&mut sa.sa_mask);
        sa.sa_flags = 0;
        libc::sigaction(sig, &sa, std::ptr::null_mut());
    }
}

fn nap(secs: f64) {
    let ts = libc::timespec {
        tv_sec: secs.trunc() as libc::time_t,
        tv_nsec: (secs.fract() * 1e9) as libc::c_long,
    };
    // SAFETY: valid timespec; EINTR (our SIGTERM handler) simply returns early.
    unsafe { libc::nanosleep(&ts, std::ptr::null_mut()) };
}

fn on_sigterm_now(o: &Opts) -> ! {
    if let Some(m) = &o.term_marker {
        let _ = std::fs::write(m, "term\n");
    }
    if let Some(u) = &o.term_unlink {
        let _ = std::fs::remove_file(u);
    }
    if o.term_delay > 0.0 {
        std::thread::sleep(Duration::from_secs_f64(o.term_delay));
    }
    std::process::exit(0)
}

fn exec_wrapper(o: &Opts) -> ! {
    // SAFETY: signal mask / dispositions / socket+dup2 / execvp in a single-threaded process.
    unsafe {
        if !o.block.is_empty() {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            for &s in &o.block {
                libc::sigaddset(&mut set, s);
            }
            libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        }
        for &s in &o.ignore {
            libc::signal(s, libc::SIG_IGN);
        }
        if let Some(l) = &o.lock {
            // No O_CLOEXEC: the lock (owned by this process) survives the exec.
            let p = cstr(l);
            let fd = libc::open(p.as_ptr(), libc::O_RDWR | libc::O_CREAT, 0o644);
            let mut fl: libc::flock = std::mem::zeroed();
            fl.l_type = libc::F_WRLCK as _;
            fl.l_whence = libc::SEEK_SET as _;
            if fd < 0 || libc::fcntl(fd, libc::F_SETLK, &fl) != 0 {
                die(&format!("lock {l}: errno {}", errno()));
            }
        }
        if let Some(n) = o.socket_fd {
            let s = libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0);
            if s < 0 || libc::dup2(s, n) < 0 {
                die("socket-fd failed");
            }
            if s != n {
                libc::close(s);
            }
        }
        let args: Vec<CString> = o.exec.iter().map(|a| cstr(a)).collect();
        let mut argv: Vec<*const libc::c_char> = args.iter().map(|a| a.as_ptr()).collect();
        argv.push(std::ptr::null());
        libc::execvp(argv[0], argv.as_ptr());
    }
    die(&format!("exec {}: errno {}", o.exec[0], errno()))
}

fn fuse_server(dir: &str) -> ! {
    use std::os::fd::AsRawFd;
    let dev = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/fuse")
        .unwrap_or_else(|e| die(&format!("/dev/fuse: {e}")));
    let fd = dev.as_raw_fd();
    let opts = cstr(&format!("fd={fd},rootmode=40000,user_id=0,group_id=0"));
    let (src, tgt, fstype) = (cstr("imp-fuse"), cstr(dir), cstr("fuse"));
    // SAFETY: plain mount(2) with valid C strings.
    let r = unsafe {
        libc::mount(
            src.as_ptr(),
            tgt.as_ptr(),
            fstype.as_ptr(),
            libc::MS_NOSUID | libc::MS_NODEV,
            opts.as_ptr().cast(),
        )
    };
    if r != 0 {
        die(&format!("mount fuse on {dir}: errno {}", errno()));
    }
    let mut buf = vec![0u8; 1 << 21];
    loop {
        // SAFETY: reading into an owned buffer.
        let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        if n < 0 {
            if errno() == libc::EINTR {
                continue;
            }
            die(&format!("read /dev/fuse: errno {}", errno()));
        }
        if n < 40 {
            continue;
        }
        let opcode = u32::from_ne_bytes([buf[4], buf[5], buf[6], buf[7]]);
        let unique = &buf[8..16];
        if opcode == 26 {
            // FUSE_INIT: out header (16 bytes) + fuse_init_out (64 bytes).
            let mut rep = [0u8; 80];
            rep[0..4].copy_from_slice(&80u32.to_ne_bytes());
            rep[8..16].copy_from_slice(unique);
            rep[16..20].copy_from_slice(&7u32.to_ne_bytes()); // major
            rep[20..24].copy_from_slice(&31u32.to_ne_bytes()); // minor
            rep[24..28].copy_from_slice(&65536u32.to_ne_bytes()); // max_readahead
            rep[36..40].copy_from_slice(&4096u32.to_ne_bytes()); // max_write
            rep[40..44].copy_from_slice(&1u32.to_ne_bytes()); // time_gran
                                                              // SAFETY: writing an owned buffer.
            unsafe { libc::write(fd, rep.as_ptr().cast(), rep.len()) };
        }
        // Every other request is swallowed and never answered.
    }
}

fn run(o: Opts) -> i32 {
    if let Some(fd) = o.close_fd {
        // SAFETY: closing a number this program holds no handle on.
        unsafe { libc::close(fd) };
    }
    if !o.exec.is_empty() {
        exec_wrapper(&o);
    }
    if let Some(d) = &o.fuse_server {
        fuse_server(d);
    }
    if let Some(m) = &o.marker {
        let _ = std::fs::write(m, format!("{}\n", std::process::id()));
    }
    if let Some(m) = &o.marker_append {
        let line = format!("{}\n", std::process::id());
        let f = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(m);
        let _ = f.and_then(|mut f| f.write_all(line.as_bytes()));
    }
    let mut dump = String::new();
    if o.dump.is_some() {
        collect_state(&mut dump);
    }
    if let Some(t) = &o.open_tty {
        let p = cstr(t);
        // SAFETY: open without O_NOCTTY on purpose; the fd is kept open.
        let fd = unsafe { libc::open(p.as_ptr(), libc::O_RDWR) };
        let res = if fd < 0 {
            errno_name(errno())
        } else {
            "ok".into()
        };
        let _ = writeln!(dump, "open_tty={res}");
        let _ = writeln!(
            dump,
            "tty_nr_after={}",
            stat_field(7).unwrap_or_else(|| "unknown".into())
        );
    }
    if o.try_setuid0 {
        // SAFETY: credential calls; results only recorded.
        let (a, b, c) = unsafe {
            let a = libc::setgroups(0, std::ptr::null());
            let ea = errno();
            let b = libc::setuid(0);
            let eb = errno();
            let c = libc::setresuid(0, 0, 0);
            let ec = errno();
            (
                if a == 0 { "ok".into() } else { errno_name(ea) },
                if b == 0 { "ok".into() } else { errno_name(eb) },
                if c == 0 { "ok".into() } else { errno_name(ec) },
            )
        };
        let _ = writeln!(
            dump,
            "try_setgroups0={a}\ntry_setuid0={b}\ntry_setresuid0={c}"
        );
    }
    let mut _lock_file = None;
    if let Some(l) = &o.lock {
        use std::os::fd::AsRawFd;
        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(l)
            .unwrap_or_else(|e| die(&format!("lock {l}: {e}")));
        // SAFETY: F_SETLK on an owned fd with a zeroed flock = whole file.
        let r = unsafe {
            let mut fl: libc::flock = std::mem::zeroed();
            fl.l_type = if o.lock_read {
                libc::F_RDLCK
            } else {
                libc::F_WRLCK
            } as _;
            fl.l_whence = libc::SEEK_SET as _;
            libc::fcntl(f.as_raw_fd(), libc::F_SETLK, &fl)
        };
        if r != 0 {
            eprintln!("tdaemon: lock {l}: errno {}", errno());
            std::process::exit(75);
        }
        let _ = writeln!(dump, "lock_fd={}", f.as_raw_fd());
        _lock_file = Some(f);
    }
    if let Some(path) = &o.syslog_recv {
        syslog_receiver(path, o.syslog_out.as_deref(), o.syslog_rcvbuf);
    }
    let mut _sock = None;
    if let Some(name) = &o.bind_abstract {
        use std::os::linux::net::SocketAddrExt;
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())
            .unwrap_or_else(|e| die(&format!("abstract name: {e}")));
        match std::os::unix::net::UnixListener::bind_addr(&addr) {
            Ok(l) => _sock = Some(l),
            Err(e) => {
                eprintln!("tdaemon: bind @{name}: {e}");
                std::process::exit(98);
            }
        }
    }
    let mut _tcp = None;
    if let Some(port) = o.bind_tcp {
        match std::net::TcpListener::bind(("0.0.0.0", port)) {
            Ok(l) => {
                let _ = writeln!(dump, "bind_tcp=ok");
                _tcp = Some(l);
            }
            Err(e) => {
                let name = errno_name(e.raw_os_error().unwrap_or(0));
                let _ = writeln!(dump, "bind_tcp={name}");
            }
        }
    }
    for _ in 0..o.fork_children {
        // SAFETY: the child only calls _exit.
        if unsafe { libc::fork() } == 0 {
            unsafe { libc::_exit(0) };
        }
    }
    for k in 0..o.spawn_sleepers {
        // SAFETY: the child ignores SIGTERM and pauses forever; only async-signal-safe calls.
        let p = unsafe { libc::fork() };
        if p == 0 {
            unsafe {
                libc::signal(libc::SIGTERM, libc::SIG_IGN);
                loop {
                    libc::pause();
                }
            }
        }
        let _ = writeln!(dump, "sleeper.{k}={p}");
    }
    // Dispositions are installed before the dump appears, so a test that signals the
    // daemon as soon as it sees the dump finds them in place.
    if o.ignore_term {
        install(libc::SIGTERM, libc::SIG_IGN);
    } else if o.term_marker.is_some() || o.term_unlink.is_some() || o.term_delay > 0.0 {
        install(
            libc::SIGTERM,
            on_term as extern "C" fn(libc::c_int) as libc::sighandler_t,
        );
    }
    if let Some(d) = &o.dump {
        let _ = writeln!(dump, "dump=complete");
        write_atomic(d, &dump);
    }
    if o.say_hello {
        // SAFETY: raw writes; errors (closed fds) ignored.
        unsafe {
            libc::write(1, b"hello\n".as_ptr().cast(), 6);
            libc::write(2, b"hello\n".as_ptr().cast(), 6);
        }
    }
    if let Some(p) = &o.block_on {
        let _ = std::fs::metadata(OsStr::from_bytes(p.as_bytes()));
    }
    let start = Instant::now();
    let mut ready_done = o.ready_after.is_none();
    loop {
        if GOT_TERM.load(Ordering::SeqCst) {
            on_sigterm_now(&o);
        }
        let el = start.elapsed().as_secs_f64();
        if !ready_done {
            let ra = o.ready_after.unwrap_or(0.0);
            if el >= ra {
                if o.notify_ready || o.notify_to.is_some() {
                    sd_notify(o.notify_to.clone());
                } else {
                    // SAFETY: raw write to the ready fd, then close it (s6 convention).
                    unsafe {
                        libc::write(o.ready_fd, b"\n".as_ptr().cast(), 1);
                        libc::close(o.ready_fd);
                    }
                }
                ready_done = true;
                continue;
            }
        }
        let until = match (o.sleep, ready_done) {
            (Some(s), _) => s,
            (None, false) => o.ready_after.unwrap_or(0.0),
            (None, true) => break,
        };
        if el >= until {
            break;
        }
        let mut step = (until - el).min(0.1);
        if !ready_done {
            step = step.min((o.ready_after.unwrap_or(0.0) - el).max(0.001));
        }
        nap(step);
    }
    o.exit
}

/// `READY=1` (after a status line, as daemons send it) to `to`, else $NOTIFY_SOCKET.
fn sd_notify(to: Option<String>) {
    use std::os::linux::net::SocketAddrExt;
    let Some(addr) = to.or_else(|| std::env::var("NOTIFY_SOCKET").ok()) else {
        return;
    };
    let Ok(sock) = std::os::unix::net::UnixDatagram::unbound() else {
        return;
    };
    let msg = b"STATUS=starting\nREADY=1\n";
    let _ = match addr.strip_prefix('@') {
        Some(name) => std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())
            .and_then(|a| sock.send_to_addr(msg, &a)),
        None => sock.send_to(msg, &addr),
    };
}

/// `--syslog-recv`: never returns.
fn syslog_receiver(path: &str, out: Option<&str>, rcvbuf: Option<i32>) -> ! {
    let _ = std::fs::remove_file(path);
    let sock = std::os::unix::net::UnixDatagram::bind(path)
        .unwrap_or_else(|e| die(&format!("bind {path}: {e}")));
    let _ = std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o666));
    if let Some(n) = rcvbuf {
        // SAFETY: a plain int option on a socket we own.
        unsafe {
            libc::setsockopt(
                std::os::fd::AsRawFd::as_raw_fd(&sock),
                libc::SOL_SOCKET,
                libc::SO_RCVBUF,
                (&n as *const i32).cast(),
                4,
            );
        }
        loop {
            // SAFETY: pause has no arguments.
            unsafe { libc::pause() };
        }
    }
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(out.unwrap_or_else(|| die("--syslog-recv needs --syslog-out")))
        .unwrap_or_else(|e| die(&format!("--syslog-out: {e}")));
    let mut buf = [0u8; 4096];
    loop {
        if let Ok(n) = sock.recv(&mut buf) {
            let mut line = buf[..n].to_vec();
            line.push(b'\n');
            let _ = file.write_all(&line);
        }
    }
}

/// C entry point (see the module docs for why this is not a Rust `fn main`).
#[no_mangle]
pub extern "C" fn main(_argc: libc::c_int, _argv: *const *const libc::c_char) -> libc::c_int {
    let o = parse_args();
    let code = run(o);
    let _ = std::io::stdout().flush();
    code
}
