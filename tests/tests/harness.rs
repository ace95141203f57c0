//! Self-tests of the harness: sandbox, canary, KILLSPY, private /etc, lock probe.
//! They do not need the imp binary (start-stop-daemon stands in where a launcher is needed).

use imp_tests::*;

#[test]
fn sandbox_is_private_and_reaps_orphans() {
    let o = sandbox("h-basics").without_imp().run(
        r#"
        echo "pid1=$(cat /proc/1/comm)"
        echo "tmode=$(stat -c '%a %u %g' "$T")"
        echo "tfs=$(stat -f -c %T "$T")"
        echo "outmode=$(stat -c %a "$OUT")"
        bash -c 'sleep 0.2 & exit 0'
        sleep 0.6
        echo "zombies=$(zombies)"
        echo "nprocs=$(ls -d /proc/[0-9]* | wc -l)"
        "#,
    );
    o.expect_eq("pid1", "bash");
    o.expect_eq("tmode", "755 0 0");
    o.expect_eq("tfs", "tmpfs");
    o.expect_eq("outmode", "1777");
    o.expect_eq("zombies", "0");
    // PID 1, the canary, run.sh, ls (and nothing from the host).
    o.check(
        o.int("nprocs") <= 6,
        "the sandbox sees only its own processes",
    );
}

/// `zombies` waits for a just-exited process to be reaped, and counts one whose parent
/// never reaps it (sh execs a `sleep` that never waits for the child sh left, which
/// exits after the exec: one exiting before it could be reaped by sh).
#[test]
fn zombies_counts_one_nobody_reaps() {
    let o = sandbox("h-zombies").without_imp().run(
        r#"
        sh -c 'sleep 0.3 & exec sleep 4' &
        sleep 0.6
        echo "zombies=$(zombies)"
        "#,
    );
    o.expect_eq("zombies", "1");
}

#[test]
fn canary_detects_kill_minus_one() {
    let o = sandbox("h-canary")
        .without_imp()
        .run_unchecked("kill -TERM -1; sleep 0.2");
    assert_eq!(o.opt("__canary"), Some("dead"), "{}", o.ctx());
    // kill(-1) spares the caller: run.sh itself reached its end.
    assert_eq!(o.opt("__end"), Some("1"), "{}", o.ctx());
}

#[test]
fn killspy_records_targets() {
    // run_unchecked: the deliberate kill(-1, 0) would trip run()'s global KILLSPY check.
    let o = sandbox("h-spy").without_imp().run_unchecked(
        r#"
        sleep 1000 & v=$!
        echo "victim=$v"
        r k spy bash -c "kill -0 -1; kill -TERM $v"
        waitdead $v
        echo "victim_alive=$(alive $v)"
        "#,
    );
    o.expect_eq("__canary", "alive");
    o.expect("k", 0, &[]);
    o.expect_eq("victim_alive", "no");
    let v = o.int("victim");
    assert_eq!(
        o.spy.signals_to(v),
        vec!["SIGTERM".to_string()],
        "{}",
        o.ctx()
    );
    let bad = o.spy.unsafe_targets(&[]);
    assert_eq!(bad.len(), 1, "{}", o.ctx());
    assert_eq!(bad[0].target, Some(-1));
}

#[test]
fn killspy_sees_start_stop_daemon_kill() {
    // dpkg start-stop-daemon signals with kill(pid, SIGTERM); the spy resolves it.
    let o = sandbox("h-ssd").without_imp().run(
        r#"
        r st start-stop-daemon --start --background --make-pidfile --pidfile $T/s.pid --exec $TDAEMON -- --dump $OUT/s.dump --sleep 100
        waitfile $OUT/s.dump
        kv d $OUT/s.dump
        # The dump may be written before start-stop-daemon's intermediate process exits:
        # wait (up to 5 s) for the daemon to be reparented.
        P=$(sed -n 's/^pid=//p' $OUT/s.dump)
        for i in $(seq 250); do [ "$(ppid_now $P)" = 1 ] && break; sleep 0.02; done
        echo "ppid_now=$(ppid_now $P)"
        r sp spy start-stop-daemon --stop --pidfile $T/s.pid --retry TERM/5
        "#,
    );
    o.expect("st", 0, &[]);
    o.expect("sp", 0, &[]);
    let pid = o.int("d.pid");
    o.expect_eq("ppid_now", "1");
    o.assert_signals_only_to(&[pid]);
    assert!(
        o.spy.signals_to(pid).contains(&"SIGTERM".to_string()),
        "{}",
        o.ctx()
    );
}

#[test]
fn private_etc_does_not_leak() {
    let o = sandbox("h-etc").without_imp().run(
        r#"
        add_group tgrp 2001 tuser
        add_user tuser 2000 2000 /home/tuser
        echo "pw=$(getent passwd tuser)"
        echo "gr=$(getent group tgrp)"
        echo "nobody=$(getent passwd nobody | cut -d: -f3)"
        "#,
    );
    o.expect_eq("pw", "tuser:x:2000:2000:test user:/home/tuser:/bin/sh");
    o.expect_eq("gr", "tgrp:x:2001:tuser");
    o.expect_eq("nobody", "65534");
    let host = std::fs::read_to_string("/etc/passwd").unwrap();
    assert!(!host.contains("tuser"), "host /etc/passwd was modified");
}

#[test]
fn lockholder_and_tdaemon_dump() {
    let o = sandbox("h-lock").without_imp().run(
        r#"
        $TDAEMON --dump $OUT/f.dump
        kv f $OUT/f.dump
        $TDAEMON --lock $T/l.pid --dump $OUT/l.dump --sleep 100 &
        waitfile $OUT/l.dump
        kv d $OUT/l.dump
        echo "holder=$(lockholder $T/l.pid)"
        echo "none=$(lockholder $OUT/l.dump)"
        asuser $TDAEMON --dump $OUT/u.dump --try-setuid0
        kv u $OUT/u.dump
        "#,
    );
    let pid = o.int("d.pid");
    o.expect_eq("holder", &format!("POSIX-WRITE {pid} 0-EOF"));
    o.expect_eq("none", "none");
    o.expect_eq("u.Uid", "1000 1000 1000 1000");
    o.expect_eq("u.try_setuid0", "EPERM");
    o.expect_eq("u.try_setresuid0", "EPERM");
    o.expect_eq("u.try_setgroups0", "EPERM");
    o.expect_eq("f.SigIgn", "0000000000000000");
    o.expect_eq("f.SigBlk", "0000000000000000");
}
