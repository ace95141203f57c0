//! EX — imp-core as a library: its four examples (`core/examples/`) and `tpanic` (a std
//! daemon whose body panics), daemons written
//! in Rust on imp-core and imp-rt, run as a user runs them. `tiny` runs on every target
//! (through `$IMP_RUNNER`); `step`, `service` and `privileged` on the host.

use imp_tests::*;

/// The shell words that run `tiny` on the target under test.
fn tiny() -> String {
    let runner = imp_runner();
    let bin = tiny_bin().display().to_string();
    if runner.is_empty() {
        bin
    } else {
        format!("{runner} {bin}")
    }
}

/// `pstate PREFIX PID`: what the kernel says of a daemon, as `PREFIX.key=value` lines
/// (ppid, sid, pgid, uid, gid, groups, umask, cwd, root, blocked signals, core limit,
/// the fds as `N:target` and the number of threads).
const PSTATE: &str = r#"
pstate() {
    local p=$1 pid=$2 s f out=""
    s=$(cat /proc/$pid/stat); s=${s##*) }; set -- $s
    echo "$p.ppid=$2"; echo "$p.pgid=$3"; echo "$p.sid=$4"
    echo "$p.uid=$(awk '/^Uid:/{print $2,$3,$4,$5}' /proc/$pid/status)"
    echo "$p.gid=$(awk '/^Gid:/{print $2,$3,$4,$5}' /proc/$pid/status)"
    echo "$p.groups=$(awk '/^Groups:/{$1=""; print substr($0,2)}' /proc/$pid/status)"
    echo "$p.umask=$(awk '/^Umask:/{print $2}' /proc/$pid/status)"
    echo "$p.sigcgt=$(awk '/^SigCgt:/{print $2}' /proc/$pid/status)"
    echo "$p.capeff=$(awk '/^CapEff:/{print $2}' /proc/$pid/status)"
    echo "$p.threads=$(awk '/^Threads:/{print $2}' /proc/$pid/status)"
    echo "$p.core=$(awk '/^Max core file size/{print $5,$6}' /proc/$pid/limits)"
    echo "$p.cwd=$(readlink /proc/$pid/cwd)"
    echo "$p.root=$(readlink /proc/$pid/root)"
    for f in /proc/$pid/fd/*; do out="$out${f##*/}:$(readlink $f) "; done
    echo "$p.fds=${out% }"
}
"#;

/// Start (reported only once the daemon runs), status, a second start, stop, status,
/// and the usage errors: exit codes, words, the pidfile's content and locks.
#[test]
fn ex_tiny_start_status_stop() {
    let o = sandbox("ex-tiny").run(&format!(
        r#"
        TINY="{tiny}"
        r start $TINY --pidfile $T/t.pid --interval-ms 50 start
        P=$(cat $T/t.pid); echo "p=$P"
        echo "alive=$(alive $P)"
        echo "content=$(hex $T/t.pid)"
        echo "want=$(printf '%s\n' $P | od -An -tx1 | tr -d ' \n')"
        echo "holder=$(lockholder $T/t.pid)"
        r status $TINY --pidfile $T/t.pid status
        r again $TINY --pidfile $T/t.pid start
        r stop $TINY --pidfile $T/t.pid stop
        echo "alive2=$(alive $P)"
        echo "exists=$([ -e $T/t.pid ] && echo yes || echo no)"
        r status2 $TINY --pidfile $T/t.pid status
        r stop2 $TINY --pidfile $T/t.pid stop
        r noaction $TINY --pidfile $T/t.pid
        r badaction $TINY --pidfile $T/t.pid frobnicate
        r nopidfile $TINY status
        r badnum $TINY --pidfile $T/t.pid --interval-ms 5x start
        echo "exists2=$([ -e $T/t.pid ] && echo yes || echo no)"
        "#,
        tiny = tiny()
    ));
    let p = o.get("p").to_string();
    o.expect("start", 0, &[&format!("tiny: started (pid {p})")]);
    o.expect_eq("alive", "yes");
    o.expect_eq("content", o.get("want"));
    o.expect_eq("holder", &format!("OFDLCK-READ -1 1-1,POSIX-READ {p} 0-0"));
    o.expect_out("status", 0, &[&format!("tiny: running (pid {p})")]);
    o.expect("again", 0, &[&format!("tiny: already running (pid {p})")]);
    o.expect("stop", 0, &[&format!("tiny: stopped (pid {p})")]);
    o.expect_eq("alive2", "no");
    o.expect_eq("exists", "no");
    o.expect_out("status2", 3, &["tiny: not running"]);
    o.expect("stop2", 0, &["tiny: not running"]);
    for name in ["noaction", "badaction", "nopidfile", "badnum"] {
        o.expect(
            name,
            2,
            &["usage: tiny [OPTIONS] start|stop|restart|status"],
        );
    }
    o.expect_eq("exists2", "no");
}

/// A daemon killed with -9 leaves a stale pidfile: status 1, and the next start
/// starts a new one; two starts at once make one daemon; restart replaces it; a
/// SIGTERM sent straight to the daemon ends it and it removes its own pidfile.
#[test]
fn ex_tiny_stale_concurrent_restart_term() {
    let o = sandbox("ex-tiny-faults").run(&format!(
        r#"
        TINY="{tiny}"
        r start $TINY --pidfile $T/t.pid start
        P=$(cat $T/t.pid)
        kill -KILL $P; waitdead $P; waitunlocked $T/t.pid
        r stale $TINY --pidfile $T/t.pid status
        r start2 $TINY --pidfile $T/t.pid start
        Q=$(cat $T/t.pid); echo "q_new=$([ "$Q" != "$P" ] && echo yes)"
        r stop $TINY --pidfile $T/t.pid stop
        for i in 1 2 3 4; do $TINY --pidfile $T/c.pid start 2>>$T/c.err & done; wait
        echo "started=$(grep -c 'tiny: started' $T/c.err)"
        echo "already=$(grep -c 'tiny: already running' $T/c.err)"
        C=$(cat $T/c.pid)
        echo "holders=$(lockholder $T/c.pid)"
        echo "c=$C"
        r restart $TINY --pidfile $T/c.pid restart
        D=$(cat $T/c.pid)
        echo "c_gone=$(alive $C)"; echo "d_alive=$(alive $D)"
        echo "d_new=$([ "$D" != "$C" ] && echo yes)"
        kill -TERM $D; waitdead $D
        echo "after_term=$([ -e $T/c.pid ] && echo yes || echo no)"
        r status3 $TINY --pidfile $T/c.pid status
        "#,
        tiny = tiny()
    ));
    o.expect("start", 0, &["tiny: started"]);
    o.expect_out("stale", 1, &["tiny: not running (stale pidfile)"]);
    o.expect("start2", 0, &["tiny: started"]);
    o.expect_eq("q_new", "yes");
    o.expect("stop", 0, &["tiny: stopped"]);
    o.expect_eq("started", "1");
    o.expect_eq("already", "3");
    let c = o.get("c");
    o.expect_eq("holders", &format!("OFDLCK-READ -1 1-1,POSIX-READ {c} 0-0"));
    o.expect("restart", 0, &["tiny: stopped", "tiny: started"]);
    o.expect_eq("c_gone", "no");
    o.expect_eq("d_alive", "yes");
    o.expect_eq("d_new", "yes");
    o.expect_eq("after_term", "no");
    o.expect_out("status3", 3, &["tiny: not running"]);
}

/// The daemon's state as the kernel reports it (SPEC §4): reparented, in a session of
/// its own it does not lead, stdio on /dev/null, no fd of the caller's, cwd /, umask
/// 022, SIGTERM blocked (taken synchronously), one thread.
#[test]
fn ex_tiny_daemon_state() {
    if emulated() {
        // qemu-user adds fds of its own and runs threads: the state is the host's test.
        return;
    }
    let o = sandbox("ex-tiny-state").run(&format!(
        r#"
        {PSTATE}
        TINY="{tiny}"
        echo "caller_sid=$(ps -o sid= $$ | tr -d ' ')"
        cd $T; exec 7>$T/leak 8<$T/leak
        r start $TINY --pidfile $T/t.pid start
        exec 7>&- 8<&-
        P=$(cat $T/t.pid); echo "p=$P"
        pstate d $P
        r stop $TINY --pidfile $T/t.pid stop
        "#,
        tiny = tiny()
    ));
    o.expect("start", 0, &["tiny: started"]);
    let p = o.get("p");
    o.expect_eq("d.ppid", "1");
    o.check(o.get("d.sid") != p, "the daemon does not lead its session");
    o.check(
        o.get("d.sid") != o.get("caller_sid"),
        "a session of its own",
    );
    o.expect_eq("d.pgid", o.get("d.sid"));
    // 0-2, the pidfile's directory (O_PATH: the daemon removes its pidfile when it
    // ends) and the pidfile (read-only, its locks): none of the caller's 7 and 8.
    let fds: Vec<&str> = o.get("d.fds").split(' ').collect();
    o.check(
        fds.len() == 5,
        "fds: 0, 1, 2, the pidfile's directory and the pidfile",
    );
    for n in 0..3 {
        o.check(
            fds.contains(&format!("{n}:/dev/null").as_str()),
            &format!("fd {n} on /dev/null"),
        );
    }
    o.check(
        fds[3].starts_with("3:/") && fds[3].ends_with("/t"),
        "fd 3: the directory",
    );
    o.check(
        fds[4].starts_with("4:/") && fds[4].ends_with("/t/t.pid"),
        "fd 4: the pidfile",
    );
    o.expect_eq("d.cwd", "/");
    o.expect_eq("d.umask", "0022");
    // No handler: SIGTERM is blocked and taken synchronously (SigBlk does not show it
    // while the daemon sleeps in rt_sigtimedwait, which unblocks what it waits for).
    o.expect_eq("d.sigcgt", "0000000000000000");
    o.expect_eq("d.threads", "1");
    o.expect("stop", 0, &["tiny: stopped"]);
}

/// Not detached when already supervised (python-daemon's rule): started with a socket
/// as stdin (as inetd does), and with `--foreground`, the body runs in the caller's
/// process: the pidfile names it, and SIGTERM ends it with status 0 and no pidfile.
#[test]
fn ex_tiny_foreground_and_inetd() {
    if emulated() {
        return;
    }
    let o = sandbox("ex-tiny-fg").run(&format!(
        r#"
        TINY="{tiny}"
        {PRIV} --pidfile $T/s.pid --port 8079 start 2>/dev/null
        $TINY --pidfile $T/f.pid start 0<>/dev/tcp/127.0.0.1/8079 2>$T/f.err &
        F=$!
        waitfile $T/f.pid
        sleep 0.2
        echo "names_caller=$([ "$(cat $T/f.pid)" = "$F" ] && echo yes)"
        echo "alive=$(alive $F)"
        kill -TERM $F; wait $F; echo "fg_rc=$?"
        echo "exists=$([ -e $T/f.pid ] && echo yes || echo no)"
        echo "fg_err=$(esc $T/f.err)"
        {PRIV} --pidfile $T/s.pid stop 2>/dev/null
        $TINY --foreground --pidfile $T/g.pid start 2>$T/g.err &
        G=$!
        waitfile $T/g.pid
        sleep 0.2
        echo "g_names_caller=$([ "$(cat $T/g.pid)" = "$G" ] && echo yes)"
        kill -TERM $G; wait $G; echo "g_rc=$?"
        echo "g_exists=$([ -e $T/g.pid ] && echo yes || echo no)"
        "#,
        tiny = tiny(),
        PRIV = example_bin("privileged").display()
    ));
    o.expect_eq("names_caller", "yes");
    o.expect_eq("alive", "yes");
    o.expect_eq("fg_rc", "0");
    o.expect_eq("exists", "no");
    o.expect_eq("fg_err", "");
    o.expect_eq("g_names_caller", "yes");
    o.expect_eq("g_rc", "0");
    o.expect_eq("g_exists", "no");
}

/// `step`: a line per interval, appended by the daemon; SIGTERM (through stop) ends
/// the loop, which writes its last line; nothing is appended after.
#[test]
fn ex_step_appends_until_sigterm() {
    if emulated() {
        return;
    }
    let o = sandbox("ex-step").run(&format!(
        r#"
        STEP={step}
        r start $STEP --pidfile $T/s.pid --out $T/steps --interval-ms 100 start
        sleep 1
        r status $STEP --pidfile $T/s.pid --out $T/steps status
        r stop $STEP --pidfile $T/s.pid --out $T/steps stop
        n1=$(wc -l < $T/steps); sleep 0.4; n2=$(wc -l < $T/steps)
        echo "grew_after_stop=$([ $n1 != $n2 ] && echo yes || echo no)"
        echo "steps=$(grep -c '^step [0-9]*$' $T/steps)"
        echo "last=$(tail -n 1 $T/steps)"
        echo "first=$(head -n 1 $T/steps)"
        echo "mode=$(stat -c '%a %U' $T/steps)"
        r nofile $STEP --pidfile $T/s.pid --out /nonexistent/dir/steps start
        echo "exists=$([ -e $T/s.pid ] && echo yes || echo no)"
        "#,
        step = example_bin("step").display()
    ));
    o.expect("start", 0, &["step: started"]);
    o.expect_out("status", 0, &["step: running"]);
    o.expect("stop", 0, &["step: stopped"]);
    o.expect_eq("grew_after_stop", "no");
    let n = o.int("steps");
    o.check((5..=12).contains(&n), "about 10 steps in 1 s at 100 ms");
    o.expect_eq("last", &format!("stopped after {n} steps"));
    o.expect_eq("first", "step 1");
    o.expect_eq("mode", "644 root");
    // The privileged action (opening --out) failed: the start fails with its status,
    // the daemon is gone and its pidfile removed.
    o.expect(
        "nofile",
        1,
        &["step: privileged: exited before ready, status 1"],
    );
    o.expect_eq("exists", "no");
}

/// `service`: `working` to syslog (a real datagram receiver) every interval until
/// SIGTERM, then `stopping`; a syslog that never reads costs drops, never a hang.
#[test]
fn ex_service_logs_to_syslog() {
    if emulated() {
        return;
    }
    let o = sandbox("ex-service").run(&format!(
        r#"
        SVC={svc}
        $TDAEMON --syslog-recv $T/log.sock --syslog-out $T/log &
        waitfile $T/log.sock
        r start $SVC --pidfile $T/v.pid --syslog $T/log.sock --interval-ms 100 start
        P=$(cat $T/v.pid); echo "p=$P"
        sleep 0.6
        kill -HUP $P; sleep 0.3
        echo "after_hup=$(alive $P)"
        r stop $SVC --pidfile $T/v.pid stop
        echo "working=$(grep -c "^<30>service\[$P\]: working$" $T/log)"
        echo "last=$(tail -n 1 $T/log)"
        echo "reloading=$(grep -c "^<29>service\[$P\]: reloading$" $T/log)"
        $TDAEMON --syslog-recv $T/stuck.sock --syslog-rcvbuf 1 &
        waitfile $T/stuck.sock
        r start2 $SVC --pidfile $T/w.pid --syslog $T/stuck.sock --interval-ms 1 start
        W=$(cat $T/w.pid)
        sleep 0.5
        echo "state=$(state $W)"
        r stop2 $SVC --pidfile $T/w.pid stop
        r nolog $SVC --pidfile $T/x.pid --syslog $T/none.sock start
        "#,
        svc = example_bin("service").display()
    ));
    let p = o.get("p").to_string();
    o.expect("start", 0, &[&format!("service: started (pid {p})")]);
    o.expect("stop", 0, &["service: stopped"]);
    o.check(o.int("working") >= 3, "a `working` line every 100 ms");
    o.expect_eq("last", &format!("<30>service[{p}]: stopping"));
    // SIGHUP: taken by its callback (no default action), logged at the next step.
    o.expect_eq("after_hup", "yes");
    o.expect_eq("reloading", "1");
    o.expect("start2", 0, &["service: started"]);
    o.check(
        matches!(o.get("state"), "S" | "R"),
        "a stuck syslog does not block the daemon in a send",
    );
    o.expect("stop2", 0, &["service: stopped"]);
    o.check(o.ms("stop2") < 5000, "stopped by SIGTERM, not SIGKILL");
    // The body returned 1 before it said ready (no syslog there).
    o.expect(
        "nolog",
        1,
        &["service: daemon: exited before ready, status 1"],
    );
}

/// A std daemon on imp-core (tests/tpanic: the `std` feature, `log_panics`) whose
/// body panics and unwinds: before it said ready, the start fails with status 101;
/// after, the daemon removes its pidfile; both times the message is on the daemon's
/// stderr file and in syslog at crit.
#[test]
fn ex_std_body_panic_is_logged() {
    if emulated() {
        return;
    }
    let o = sandbox("ex-panic").run(&format!(
        r#"
        TP={tp}
        $TDAEMON --syslog-recv $T/log.sock --syslog-out $T/log &
        waitfile $T/log.sock
        r before $TP $T/b.pid $T/log.sock $T/b.err before
        echo "b.msg=$(grep -c '^the body gave up (before ready)$' $T/b.err)"
        echo "b.exists=$([ -e $T/b.pid ] && echo yes || echo no)"
        r after $TP $T/a.pid $T/log.sock $T/a.err after
        P=$(cat $T/a.pid); echo "p=$P"
        waitdead $P
        echo "a.exists=$([ -e $T/a.pid ] && echo yes || echo no)"
        echo "a.err=$(grep -c 'panicked at src/main.rs:[0-9]*:[0-9]*:$' $T/a.err)"
        echo "a.msg=$(grep -c '^the body gave up (after ready)$' $T/a.err)"
        echo "a.log=$(grep -c "^<26>tpanic\[$P\]: panicked at src/main.rs:[0-9]*: the body gave up (after ready)$" $T/log)"
        echo "b.log=$(grep -c "^<26>tpanic\[[0-9]*\]: panicked at .*: the body gave up (before ready)$" $T/log)"
        "#,
        tp = tpanic_bin().display()
    ));
    o.expect_out(
        "before",
        1,
        &["error daemon: exited before ready, status 101"],
    );
    o.expect_eq("b.msg", "1");
    o.expect_eq("b.exists", "no");
    o.expect_out("after", 0, &[&format!("started {}", o.get("p"))]);
    o.expect_eq("a.exists", "no");
    o.expect_eq("a.err", "1");
    o.expect_eq("a.msg", "1");
    o.expect_eq("a.log", "1");
    o.expect_eq("b.log", "1");
}

/// `privileged`: binds 127.0.0.1:81 as root in the privileged action, serves as
/// nobody: the answer and /proc agree (uid, gid, groups, no capability, no core);
/// a port in use fails the start with the action's status, leaving nothing behind.
#[test]
fn ex_privileged_binds_as_root_serves_as_nobody() {
    if emulated() {
        return;
    }
    let o = sandbox("ex-priv").run(&format!(
        r#"
        {PSTATE}
        PRIV={bin}
        r start $PRIV --pidfile $T/p.pid --port 81 start
        P=$(cat $T/p.pid)
        pstate d $P
        exec 5<>/dev/tcp/127.0.0.1/81; read -r line <&5; exec 5<&-
        echo "answer=$line"
        r second $PRIV --pidfile $T/q.pid --port 81 start
        echo "q_exists=$([ -e $T/q.pid ] && echo yes || echo no)"
        echo "procs=$(pgrep -c -x privileged)"
        r stop $PRIV --pidfile $T/p.pid stop
        echo "alive=$(alive $P)"
        r baduser $PRIV --pidfile $T/p.pid --port 82 --user no-such-user start
        "#,
        bin = example_bin("privileged").display()
    ));
    o.expect("start", 0, &["privileged: started"]);
    o.expect_eq("answer", "uid 65534 gid 65534");
    o.expect_eq("d.uid", "65534 65534 65534 65534");
    o.expect_eq("d.gid", "65534 65534 65534 65534");
    o.expect_eq("d.groups", "65534");
    o.expect_eq("d.capeff", "0000000000000000");
    o.expect_eq("d.core", "0 0");
    o.expect_eq("d.umask", "0027");
    o.expect(
        "second",
        1,
        &["privileged: privileged: exited before ready, status 1"],
    );
    o.expect_eq("q_exists", "no");
    o.expect_eq("procs", "1");
    o.expect("stop", 0, &["privileged: stopped"]);
    o.expect_eq("alive", "no");
    o.expect("baduser", 2, &["privileged: unknown user"]);
}
