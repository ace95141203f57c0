//! tpanic — a std daemon written with imp-core whose body panics: the `std` feature's
//! promise (the panic logged to stderr and syslog, the pidfile removed, a non-zero
//! exit) checked by tests/tests/ex.rs. Its own workspace (see Cargo.toml).
//!
//! `tpanic PIDFILE SYSLOG_SOCKET STDERR_FILE before|after`: panics before or after
//! the body said ready; prints what `Daemon::start` returned (`started PID`, or the
//! error) and exits 0 or 1.

use imp_core::daemon::{Daemon, Started};
use imp_core::spawn::Stdio;
use imp_core::syslog::{self, Facility};
use std::ffi::CString;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [pidfile, socket, stderr, when] = &args[..] else {
        eprintln!("usage: tpanic PIDFILE SYSLOG_SOCKET STDERR_FILE before|after");
        std::process::exit(2);
    };
    let leak = |s: &str| &*Box::leak(CString::new(s).expect("no NUL").into_boxed_c_str());
    let before = when == "before";
    syslog::log_panics(b"tpanic", Facility::Daemon, Some(leak(socket)));
    let mut d = Daemon::new();
    d.pidfile(leak(pidfile)).stderr(Stdio::File(leak(stderr)));
    // SAFETY: the daemon uses no fd this program opened (std opens none it keeps).
    let fds = unsafe { imp_core::OnlyKeptFds::promise() };
    let started = d.start(
        fds,
        || Ok(()),
        |running, ()| {
            if !before {
                running.ready();
                // Let the caller return first: the panic is the running daemon's.
                let _ = running.signals().wait_for_sigterm(Some(300));
            }
            panic!("the body gave up ({when} ready)");
        },
    );
    match started {
        Ok(Started::Detached(pid)) => println!("started {}", pid.as_raw_nonzero()),
        Ok(other) => println!("unexpected {other:?}"),
        Err(e) => {
            println!("error {e}");
            std::process::exit(1);
        }
    }
}
