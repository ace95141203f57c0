//! `service --pidfile PATH [--syslog SOCKET] [--interval-ms N] start|stop|restart|status`:
//! the `service` package's quickstart — a daemon that logs `working` to syslog every
//! N ms (default 5000) until SIGTERM, then `stopping`; a SIGHUP is handled from the
//! loop (the `daemons` package's `handle`): `reloading` before the next `working`. LSB
//! exit codes. The syslog
//! socket is the first of `/dev/log`, `/var/run/syslog`, `/var/run/log` unless given.
#![no_std]
#![no_main]
#[cfg(panic = "unwind")]
extern crate std;

#[path = "common/mod.rs"]
mod common;

use core::cell::Cell;
use imp_core::daemon::Daemon;
use imp_core::service::{self, Service};
use imp_core::signals::{Flow, Handlers, SignalSet};
use imp_core::syslog::{Facility, Level, Syslog};
use imp_core::{CStrArray, Signal};

fn main(argv: CStrArray, _envp: CStrArray) -> i32 {
    let args = common::Args::new(argv);
    let (Some(action), Some(pidfile), Some(interval)) = (
        args.action(),
        args.opt(b"pidfile"),
        args.num(b"interval-ms", 5000),
    ) else {
        return service::usage("service");
    };
    let socket = args.opt(b"syslog");
    let mut d = Daemon::new();
    d.pidfile(pidfile)
        .signals(SignalSet::of(&[Signal::Term, Signal::Hup]))
        .single_threaded(common::one_thread());
    Service::new("service", d).run(
        action,
        common::only_kept_fds(),
        || Ok(()),
        |running, ()| {
            let mut log = match socket {
                Some(path) => match Syslog::connect(path, b"service", Facility::Daemon) {
                    Ok(log) => log,
                    Err(_) => return 1,
                },
                None => Syslog::open(b"service", Facility::Daemon),
            };
            running.ready();
            let hups = Cell::new(0u32);
            let mut on_hup = |_| {
                hups.set(hups.get() + 1);
                Flow::Continue
            };
            let mut handlers = Handlers::<1>::new();
            let _ = handlers.handle(Signal::Hup, &mut on_hup);
            handlers.every(running.signals(), interval, || {
                if hups.replace(0) > 0 {
                    log.send(Level::Notice, b"reloading");
                }
                log.send(Level::Info, b"working");
                Flow::Continue
            });
            log.send(Level::Info, b"stopping");
            0
        },
    )
}

imp_rt::main!(main);
