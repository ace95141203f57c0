//! `privileged --pidfile PATH --port N [--user NAME] start|stop|restart|status`:
//! pydaemonize's privileged action — binds 127.0.0.1:N as root (a port below 1024
//! needs it), then serves as NAME (default `nobody`): each TCP connection gets one
//! line, `uid U gid G`, and is closed. Stops at SIGTERM. umask 027, no core dumps.
#![no_std]
#![no_main]
#[cfg(panic = "unwind")]
extern crate std;

#[path = "common/mod.rs"]
mod common;

use imp_core::daemon::Daemon;
use imp_core::log::Line;
use imp_core::service::{self, Service};
use imp_core::spawn::Credentials;
use imp_core::CStrArray;
use rustix::event::{poll, PollFd, PollFlags};
use rustix::fd::{AsFd, OwnedFd};
use rustix::net::{self, AddressFamily, Ipv4Addr, SocketAddrV4, SocketType};

/// How often the server looks for SIGTERM between connections.
const POLL_MS: i32 = 100;

fn main(argv: CStrArray, _envp: CStrArray) -> i32 {
    let args = common::Args::new(argv);
    let (Some(action), Some(pidfile), Some(port)) = (
        args.action(),
        args.opt(b"pidfile"),
        args.num(b"port", 0).and_then(|p| u16::try_from(p).ok()),
    ) else {
        return service::usage("privileged");
    };
    let user = args.opt(b"user").map_or(&b"nobody"[..], |u| u.to_bytes());
    let mut d = Daemon::new();
    d.pidfile(pidfile)
        .umask(0o027)
        .prevent_core(true)
        .single_threaded(common::one_thread());
    if action == service::Action::Start || action == service::Action::Restart {
        let mut creds = None;
        if Credentials::resolve(Some(user), None, &mut creds).is_err() {
            Line::new()
                .str("privileged: unknown user")
                .emit(imp_core::log::stderr());
            return 2;
        }
        if let Some(c) = creds {
            d.credentials(c);
        }
    }
    let bind = move || listen(port).map_err(|_| 1);
    Service::new("privileged", d).run(action, common::only_kept_fds(), bind, |running, sock| {
        running.ready();
        while !running.signals().got_sigterm() {
            let mut fds = [PollFd::new(&sock, PollFlags::IN)];
            if !matches!(poll(&mut fds, POLL_MS), Ok(1)) {
                continue;
            }
            if let Ok(conn) = net::accept(&sock) {
                answer(&conn);
            }
        }
        0
    })
}

/// A listening TCP socket on 127.0.0.1:`port`.
fn listen(port: u16) -> rustix::io::Result<OwnedFd> {
    let sock = net::socket_with(
        AddressFamily::INET,
        SocketType::STREAM,
        net::SocketFlags::CLOEXEC,
        None,
    )?;
    net::sockopt::set_socket_reuseaddr(&sock, true)?;
    net::bind_v4(&sock, &SocketAddrV4::new(Ipv4Addr::LOCALHOST, port))?;
    net::listen(&sock, 16)?;
    Ok(sock)
}

/// `uid U gid G` and a newline: who serves.
fn answer(conn: &OwnedFd) {
    let mut l = Line::new();
    l.str("uid ")
        .num(rustix::process::getuid().as_raw())
        .str(" gid ")
        .num(rustix::process::getgid().as_raw());
    l.emit(conn.as_fd());
}

imp_rt::main!(main);
