//! `step --pidfile PATH --out FILE [--interval-ms N] start|stop|restart|status`: the
//! `daemons` package's `StepDaemon` — a step every N ms (default 1000) appends
//! `step K` to FILE, until SIGTERM; then `stopped after K steps`.
#![no_std]
#![no_main]
#[cfg(panic = "unwind")]
extern crate std;

#[path = "common/mod.rs"]
mod common;

use imp_core::daemon::Daemon;
use imp_core::log::Line;
use imp_core::service::{self, Service};
use imp_core::signals::{self, Flow};
use imp_core::CStrArray;
use rustix::fs::{Mode, OFlags};

fn main(argv: CStrArray, _envp: CStrArray) -> i32 {
    let args = common::Args::new(argv);
    let (Some(action), Some(pidfile), Some(out), Some(interval)) = (
        args.action(),
        args.opt(b"pidfile"),
        args.opt(b"out"),
        args.num(b"interval-ms", 1000),
    ) else {
        return service::usage("step");
    };
    let mut d = Daemon::new();
    d.pidfile(pidfile).single_threaded(common::one_thread());
    let open = || {
        let flags = OFlags::WRONLY | OFlags::APPEND | OFlags::CREATE | OFlags::CLOEXEC;
        rustix::fs::open(out, flags, Mode::from_raw_mode(0o644)).map_err(|_| 1)
    };
    Service::new("step", d).run(action, common::only_kept_fds(), open, |running, file| {
        running.ready();
        let mut n = 0u32;
        let mut l = Line::new();
        signals::every(running.signals(), interval, || {
            n += 1;
            l.str("step ").num(n).emit(rustix::fd::AsFd::as_fd(&file));
            Flow::Continue
        });
        l.str("stopped after ")
            .num(n)
            .str(" steps")
            .emit(rustix::fd::AsFd::as_fd(&file));
        0
    })
}

imp_rt::main!(main);
