//! RD — readiness for a plain `imp start` (feature `ready`): `--ready-fd N` with
//! `--ready-timeout SECS` (RELIABILITY.md SP-06, SP-07) and `--wait MS`.

use imp_tests::*;

/// SP-06 (a): ready after 1 s: exit 0 no sooner (a lower bound only), the daemon alive,
/// its parent init, holding the pidfile; (b) exits 7 before ready, and killed by a
/// signal before ready: exit 1 with the status, no pidfile, no process.
#[test]
fn rd_sp06_ready_and_dead_before_ready() {
    let o = sandbox("rd-sp06ab").run(
        r#"
        r a $IMP start -p $T/a.pid --ready-fd 3 --ready-timeout 5 -- $TDAEMON --dump $OUT/a.dump --ready-after 1 --sleep 1000
        waitfile $OUT/a.dump
        A=$(dpid a); echo "a.pid=$A"
        echo "a.alive=$(alive $A)"
        echo "a.ppid=$(ppid_now $A)"
        echo "a.holder=$(lockholder $T/a.pid)"
        echo "a.content=$(cat $T/a.pid)"
        r ast $IMP status -p $T/a.pid
        r b $IMP start -p $T/b.pid --ready-fd 3 -- $TDAEMON --marker $OUT/b.ran --exit 7
        echo "b.ran=$([ -e $OUT/b.ran ] && echo yes || echo no)"
        echo "b.pidfile=$([ -e $T/b.pid ] && echo yes || echo no)"
        echo "b.procs=$(nprocs "$OUT/b.ran")"
        r k $IMP start -p $T/k.pid --ready-fd 3 -- /bin/sh -c 'kill -TERM $$'
        echo "k.pidfile=$([ -e $T/k.pid ] && echo yes || echo no)"
        r kst $IMP status -p $T/k.pid
        echo "zombies=$(zombies)"
        "#,
    );
    let pid = o.int("a.pid");
    o.expect("a", 0, &[&format!("started (pid {pid})")]);
    o.check(o.ms("a") >= 1000, "ready after 1 s: not sooner");
    o.expect_eq("a.alive", "yes");
    o.expect_eq("a.ppid", "1");
    o.expect_eq("a.holder", &daemon_locks(pid));
    o.expect_eq("a.content", &pid.to_string());
    o.expect_out("ast", 0, &[&format!("running (pid {pid})")]);
    // qemu-user does not pass PR_SET_CHILD_SUBREAPER to the kernel: imp is not the
    // program's parent then and knows only that it is gone.
    let (b, k) = if emulated() {
        ("b.pid: gone before ready", "k.pid: gone before ready")
    } else {
        (
            "b.pid: exited with status 7 before ready",
            "k.pid: killed by SIGTERM before ready",
        )
    };
    o.expect("b", 1, &[b]);
    o.expect_eq("b.ran", "yes");
    o.expect_eq("b.pidfile", "no");
    o.expect_eq("b.procs", "0");
    o.expect("k", 1, &[k]);
    o.expect_eq("k.pidfile", "no");
    o.expect_out("kst", 3, &["not running"]);
    o.expect_eq("zombies", "0");
}

/// SP-06 (c): never ready: after `--ready-timeout 1` exit 1 `readiness timeout`, the
/// daemon sent SIGTERM (and, ignoring it, SIGKILL after restart's `-t 1`), no process
/// and no pidfile left; (d) fd 3 closed without a newline: exit 1 `closed readiness
/// fd`, stopped as well.
#[test]
fn rd_sp06_timeout_and_closed() {
    let o = sandbox("rd-sp06cd").run(
        r#"
        r c spy $IMP start -p $T/c.pid --ready-fd 3 --ready-timeout 1 -- $TDAEMON --dump $OUT/c.dump --sleep 1000
        C=$(dpid c); echo "c.pid=$C"
        echo "c.alive=$(alive $C)"
        echo "c.pidfile=$([ -e $T/c.pid ] && echo yes || echo no)"
        r i spy $IMP restart -p $T/i.pid -t 1 --ready-fd 3 --ready-timeout 1 -- $TDAEMON --dump $OUT/i.dump --ignore-term --sleep 1000
        I=$(dpid i); echo "i.pid=$I"
        echo "i.alive=$(alive $I)"
        echo "i.pidfile=$([ -e $T/i.pid ] && echo yes || echo no)"
        r d $IMP start -p $T/d.pid --ready-fd 3 -- $TDAEMON --close-fd 3 --dump $OUT/d.dump --sleep 1000
        D=$(dpid d); echo "d.pid=$D"
        echo "d.alive=$(alive $D)"
        echo "d.pidfile=$([ -e $T/d.pid ] && echo yes || echo no)"
        echo "tdaemons=$(nprocs "$TDAEMON")"
        "#,
    );
    let c = o.int("c.pid");
    o.expect("c", 1, &["c.pid: readiness timeout"]);
    o.check(o.ms("c") >= 1000, "the timeout is not cut short");
    o.expect_eq("c.alive", "no");
    o.expect_eq("c.pidfile", "no");
    o.check(
        o.spy.signals_to(c).first().map(String::as_str) == Some("SIGTERM"),
        "SIGTERM first",
    );
    let i = o.int("i.pid");
    o.expect("i", 1, &["i.pid: readiness timeout"]);
    o.expect_eq("i.alive", "no");
    o.expect_eq("i.pidfile", "no");
    let sent = o.spy.signals_to(i);
    let term = sent.iter().position(|s| s == "SIGTERM");
    let kill = sent.iter().position(|s| s == "SIGKILL");
    o.check(
        matches!((term, kill), (Some(t), Some(k)) if t < k),
        &format!("SIGTERM then SIGKILL to a daemon ignoring TERM: {sent:?}"),
    );
    o.expect("d", 1, &["d.pid: closed readiness fd"]);
    o.expect_eq("d.alive", "no");
    o.expect_eq("d.pidfile", "no");
    o.expect_eq("tdaemons", "0");
}

/// SP-07: `--ready-fd` 3 to 10 (one of them lands on the readiness pipe's own number):
/// each time the daemon has fd N open for writing (a pipe), and holds the pidfile's
/// lock on an fd above N.
#[test]
fn rd_sp07_every_ready_fd_number() {
    let o = sandbox("rd-sp07").run(
        r#"
        for n in 3 4 5 6 7 8 9 10; do
            r s$n $IMP start -p $T/p$n.pid --ready-fd $n --ready-timeout 5 -- $TDAEMON --dump $OUT/p$n.dump --ready-fd $n --ready-after 0 --sleep 1000
            P=$(dpid p$n)
            echo "s$n.pid=$P"
            echo "s$n.mode=$(sed -n "s/^fdmode\.$n=//p" $OUT/p$n.dump)"
            echo "s$n.target=$(sed -n "s/^fd\.$n=//p" $OUT/p$n.dump | cut -c1-5)"
            echo "s$n.lockfd=$(sed -n "s|^fd\.\([0-9]*\)=$T/p$n.pid$|\1|p" $OUT/p$n.dump)"
            echo "s$n.fds=$(sed -n 's/^fds=//p' $OUT/p$n.dump)"
            echo "s$n.holder=$(lockholder $T/p$n.pid)"
            r t$n $IMP stop -p $T/p$n.pid
        done
        "#,
    );
    for n in 3..=10 {
        let pid = o.int(&format!("s{n}.pid"));
        o.expect(&format!("s{n}"), 0, &[&format!("started (pid {pid})")]);
        o.expect_eq(&format!("s{n}.mode"), "w");
        o.expect_eq(&format!("s{n}.target"), "pipe:");
        o.expect_eq(
            &format!("s{n}.fds"),
            &format!("0,1,2,{n},{}", o.get(&format!("s{n}.lockfd"))),
        );
        o.check(
            o.int(&format!("s{n}.lockfd")) > n,
            &format!("--ready-fd {n}: the lock's fd is above it"),
        );
        o.expect_eq(&format!("s{n}.holder"), &daemon_locks(pid));
        o.expect(&format!("t{n}"), 0, &["stopped"]);
    }
}

/// `--wait MS` (OpenRC): a second busybox httpd on a port in use dies after exec:
/// exit 1 with its status, its pidfile removed (status: not running, not stale); a
/// tdaemon exiting 3 likewise; a daemon that lives is started.
#[test]
fn rd_wait_after_exec() {
    let o = sandbox("rd-wait").run(
        r#"
        PORT=$(( 20000 + RANDOM % 20000 ))
        BB=$(command -v busybox)
        r h1 $IMP start -p $T/h1.pid --wait 300 -- $BB httpd -f -p 127.0.0.1:$PORT -h $T
        r h2 $IMP start -p $T/h2.pid --wait 1000 -- $BB httpd -f -p 127.0.0.1:$PORT -h $T
        r h2st $IMP status -p $T/h2.pid
        r h1st $IMP status -p $T/h1.pid
        r h1stop $IMP stop -p $T/h1.pid
        r x $IMP start -p $T/x.pid --wait 2000 -- $TDAEMON --sleep 0.2 --exit 3
        echo "x.pidfile=$([ -e $T/x.pid ] && echo yes || echo no)"
        r l $IMP start -p $T/l.pid --wait 200 -- $TDAEMON --dump $OUT/l.dump --sleep 1000
        waitfile $OUT/l.dump
        echo "l.pid=$(dpid l)"
        echo "l.alive=$(alive $(dpid l))"
        echo "l.ppid=$(ppid_now $(dpid l))"
        r lst $IMP status -p $T/l.pid
        "#,
    );
    o.expect("h1", 0, &["started (pid"]);
    // Under qemu-user (no subreaper): `gone`, without the status.
    let gone = if emulated() {
        "h2.pid: gone"
    } else {
        "h2.pid: exited with status"
    };
    o.expect("h2", 1, &[gone]);
    o.check(!o.err("h2").contains("before ready"), "no readiness asked");
    o.expect_out("h2st", 3, &["not running"]);
    o.expect_out("h1st", 0, &["running (pid"]);
    o.expect("h1stop", 0, &["stopped"]);
    let x = if emulated() {
        "x.pid: gone"
    } else {
        "x.pid: exited with status 3"
    };
    o.expect("x", 1, &[x]);
    o.expect_eq("x.pidfile", "no");
    let l = o.int("l.pid");
    o.expect("l", 0, &[&format!("started (pid {l})")]);
    o.expect_eq("l.alive", "yes");
    o.expect_eq("l.ppid", "1");
    o.expect_out("lst", 0, &[&format!("running (pid {l})")]);
}

/// Bad values are usage errors (2), one line naming the option, nothing done; the
/// readiness options are refused by `run` and may not name a `--keep-fd`.
#[test]
fn rd_bad_input_is_usage() {
    let o = sandbox("rd-usage").run(
        r#"
        i=0
        for a in "--ready-fd 0" "--ready-fd 1" "--ready-fd 2" "--ready-fd x" "--ready-fd -3" \
                 "--ready-timeout 0" "--ready-timeout x" "--ready-timeout -1" "--wait x" "--wait -5" "--wait 1.5"; do
            i=$((i + 1))
            r u$i $IMP start -p $T/u.pid $a -- $TDAEMON --marker $OUT/u.ran --sleep 100
        done
        r run $IMP run --ready-fd 3 -- $TDAEMON --marker $OUT/u.ran
        r runw $IMP run --wait 100 -- $TDAEMON --marker $OUT/u.ran
        r keep $IMP start -p $T/u.pid --ready-fd 3 -k 3 -- $TDAEMON --marker $OUT/u.ran 3>/dev/null
        echo "ran=$([ -e $OUT/u.ran ] && echo yes || echo no)"
        echo "pidfile=$([ -e $T/u.pid ] && echo yes || echo no)"
        "#,
    );
    let opts = [
        "ready-fd",
        "ready-fd",
        "ready-fd",
        "ready-fd",
        "ready-fd",
        "ready-timeout",
        "ready-timeout",
        "ready-timeout",
        "wait",
        "wait",
        "wait",
    ];
    for (i, opt) in opts.iter().enumerate() {
        let k = format!("u{}", i + 1);
        o.expect(&k, 2, &[&format!("imp: usage: --{opt}: invalid value")]);
        o.check(o.err(&k).lines().count() == 1, "one line");
    }
    o.expect(
        "run",
        2,
        &["option not accepted by this command '--ready-fd'"],
    );
    o.expect("runw", 2, &["option not accepted by this command '--wait'"]);
    o.expect("keep", 2, &["--ready-fd: the same fd as a --keep-fd"]);
    o.expect_eq("ran", "no");
    o.expect_eq("pidfile", "no");
}

/// The `--no-default-features` build (no feature `ready`) refuses the three options as
/// options it does not have, and starts nothing.
#[test]
fn rd_minimal_build_refuses_readiness() {
    let min = imp_tests::imp_minimal_bin();
    let o = sandbox("rd-min").run(&format!(
        r#"
        M="${{IMP_RUNNER:+$IMP_RUNNER }}{min}"
        r fd $M start -p $T/m.pid --ready-fd 3 -- $TDAEMON --marker $OUT/m.ran --sleep 100
        r to $M start -p $T/m.pid --ready-timeout 1 -- $TDAEMON --marker $OUT/m.ran --sleep 100
        r w $M start -p $T/m.pid --wait 100 -- $TDAEMON --marker $OUT/m.ran --sleep 100
        echo "ran=$([ -e $OUT/m.ran ] && echo yes || echo no)"
        "#,
        min = min.display()
    ));
    for (k, opt) in [
        ("fd", "--ready-fd"),
        ("to", "--ready-timeout"),
        ("w", "--wait"),
    ] {
        o.expect(
            k,
            2,
            &[&format!("option not supported by this build '{opt}'")],
        );
    }
    o.expect_eq("ran", "no");
}

/// `--notify` (sd_notify, imp-full): `READY=1` on `NOTIFY_SOCKET` from the program, or
/// from a descendant (Debian's `systemd-notify --ready`, run by the program, where
/// it is installed); a stranger's `READY=1` is dropped (the start times out); the
/// program is stopped and nothing is left. `--notify` with `--ready-fd` is refused.
#[test]
fn rd_notify_sd_notify() {
    let o = sandbox("rd-notify").full().run(
        r#"
        r n $IMP start --notify -p $T/n.pid -- $TDAEMON --dump $OUT/n.dump --notify-ready --ready-after 0.4 --sleep 1000
        waitfile $OUT/n.dump
        echo "n.env=$(sed -n 's/^env.NOTIFY_SOCKET=//p' $OUT/n.dump)"
        r nstop $IMP stop -p $T/n.pid
        if command -v systemd-notify >/dev/null; then
            r m $IMP start --notify --ready-timeout 5 -p $T/m.pid -- /bin/sh -c 'sleep 0.2; systemd-notify --ready; exec sleep 1000'
            r mstop $IMP stop -p $T/m.pid
        else
            echo "m.skipped=yes"
        fi
        $IMP start --notify --ready-timeout 1 -p $T/x.pid -- $TDAEMON --dump $OUT/x.dump --sleep 1000 2>$H/x.err &
        I=$!
        waitfile $OUT/x.dump
        $TDAEMON --notify-to "$(sed -n 's/^env.NOTIFY_SOCKET=//p' $OUT/x.dump)" --ready-after 0
        wait $I; echo "x.rc=$?"
        echo "x.err=$(esc $H/x.err)"
        echo "x.pidfile=$([ -e $T/x.pid ] && echo yes || echo no)"
        r both $IMP start --notify --ready-fd 3 -p $T/b.pid -- $TDAEMON --sleep 1
        echo "left=$(nprocs "^$TDAEMON")"
        "#,
    );
    o.expect("n", 0, &["started (pid"]);
    o.check(o.ms("n") >= 400, "not before READY=1");
    o.check(
        o.get("n.env").starts_with("@imp-notify/"),
        &format!("NOTIFY_SOCKET in the program: {}", o.get("n.env")),
    );
    o.expect("nstop", 0, &["stopped"]);
    if o.opt("m.skipped").is_none() {
        o.expect("m", 0, &["started (pid"]);
        o.expect("mstop", 0, &["stopped"]);
    }
    o.expect_eq("x.rc", "1");
    o.check(
        o.get("x.err").contains("x.pid: readiness timeout"),
        &format!("a stranger's READY=1 is dropped: {}", o.get("x.err")),
    );
    o.expect_eq("x.pidfile", "no");
    o.expect("both", 2, &["--notify or --ready-fd, not both"]);
    o.expect_eq("left", "0");
}
