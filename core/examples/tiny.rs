//! `tiny --pidfile PATH [--interval-ms N] [--foreground] start|stop|restart|status`:
//! a whole daemon —
//! start (reported only once it runs), stop, status with LSB codes, a step loop until
//! SIGTERM — with no std and no libc. `cargo xtask size` reports its size per target.
#![no_std]
#![no_main]
// `cargo test` builds examples with its unwinding profile: std then provides only the
// unwinder's personality routine; the program is the same.
#[cfg(panic = "unwind")]
extern crate std;

#[path = "common/mod.rs"]
mod common;

use imp_core::daemon::{Daemon, Detach};
use imp_core::service::{self, Service};
use imp_core::signals::{self, Flow};
use imp_core::CStrArray;

fn main(argv: CStrArray, _envp: CStrArray) -> i32 {
    let args = common::Args::new(argv);
    let (Some(action), Some(pidfile), Some(interval)) = (
        args.action(),
        args.opt(b"pidfile"),
        args.num(b"interval-ms", 1000),
    ) else {
        return service::usage("tiny");
    };
    let mut d = Daemon::new();
    d.pidfile(pidfile).single_threaded(common::one_thread());
    if args.flag(b"foreground") {
        d.detach(Detach::Never);
    }
    Service::new("tiny", d).run(
        action,
        common::only_kept_fds(),
        || Ok(()),
        |running, ()| {
            running.ready();
            let mut steps = 0u32;
            signals::every(running.signals(), interval, || {
                steps = steps.wrapping_add(1);
                Flow::Continue
            });
            0
        },
    )
}

imp_rt::main!(main);
