//! LD — load: start/stop cycles, concurrent starts, many services side by side.

use imp_tests::*;
use std::collections::BTreeMap;

/// LD-02 (scaled: 300 start/stop cycles): no failure, no leftover process or zombie,
/// no pidfile at the end.
#[test]
fn ld02_start_stop_cycles() {
    let o = sandbox("ld02").timeout(240).run(
        r#"
        P=$T/l.pid
        fail=0
        t0=$(date +%s)
        for i in $(seq 300); do
            $IMP start -p $P -- $TDAEMON --sleep 1000 2>>$H/errs || fail=$((fail + 1))
            $IMP stop -p $P 2>>$H/errs || fail=$((fail + 1))
        done
        echo "secs=$(( $(date +%s) - t0 ))"
        echo "fail=$fail"
        sleep 0.2
        echo "left=$(nprocs "$TDAEMON")"
        echo "zombies=$(zombies)"
        echo "exists=$([ -e $P ] && echo yes || echo no)"
        echo "started=$(grep -c 'started (pid' $H/errs)"
        echo "stopped=$(grep -c 'stopped (pid' $H/errs)"
        "#,
    );
    o.expect_eq("fail", "0");
    o.expect_eq("started", "300");
    o.expect_eq("stopped", "300");
    o.expect_eq("left", "0");
    o.expect_eq("zombies", "0");
    o.expect_eq("exists", "no");
    o.check(o.int("secs") < 60, "300 cycles in under a minute");
}

/// SPEC §3 / E22-E23: 40 simultaneous starts give exactly one daemon; all exit 0, the
/// others say `already running (pid N)` with the winner's pid.
#[test]
fn ld_concurrent_starts_one_daemon() {
    let o = sandbox("ld-40").timeout(120).run(
        r#"
        for i in $(seq 40); do
            ( $IMP start -p $T/c.pid -- $TDAEMON --marker $OUT/cm.$i --sleep 1000 2>$H/c$i.err; echo $? > $H/c$i.rc ) &
        done
        wait
        sleep 0.5
        echo "ok=$(cat $H/c*.rc | grep -c '^0$')"
        echo "started=$(cat $H/c*.err | grep -c 'started (pid')"
        echo "already=$(cat $H/c*.err | grep -c 'already running (pid')"
        echo "pids=$(cat $H/c*.err | grep -o '(pid [0-9]*)' | sort -u | tr -d '()pid ')"
        echo "markers=$(ls $OUT | grep -c '^cm\.')"
        echo "n=$(nprocs "$TDAEMON --marker")"
        echo "content=$(cat $T/c.pid)"
        echo "holder=$(lockholder $T/c.pid)"
        echo "errs=$(cat $H/c*.err | grep -v -e 'started (pid' -e 'already running (pid' | head -3 | tr '\n' '|')"
        "#,
    );
    o.expect_eq("ok", "40");
    o.expect_eq("started", "1");
    o.expect_eq("already", "39");
    o.expect_eq("markers", "1");
    o.expect_eq("n", "1");
    let content = o.get("content");
    o.expect_eq("pids", content);
    o.expect_eq("holder", &daemon_locks(content));
}

/// LD-03 (scaled: 50 services): stop 25 of them concurrently under one KILLSPY; each
/// `imp stop` signalled only the pid of its own pidfile; the other 25 are alive.
#[test]
fn ld03_many_services_side_by_side() {
    let o = sandbox("ld03").timeout(180).run(
        r#"
        declare -a PIDS
        for i in $(seq 50); do
            $IMP start -p $T/s$i.pid -- $TDAEMON --sleep 1000 2>>$H/log || echo "startfail.$i=1"
            PIDS[$i]=$(cat $T/s$i.pid)
            echo "pid.$i=${PIDS[$i]}"
        done
        SPYNODETACH=1 SPYTRACE=$SPYCALLS,execve spy bash -c '
            for i in $(seq 1 2 50); do
                ( '"$IMP"' stop -p '$T'/s$i.pid 2>'$H'/stop$i.err; echo $? > '$H'/stop$i.rc ) &
            done
            wait'
        for i in $(seq 50); do
            echo "alive.$i=$(alive ${PIDS[$i]})"
            [ -e $H/stop$i.rc ] && echo "rc.$i=$(cat $H/stop$i.rc)"
        done
        "#,
    );
    let mut pid_of = BTreeMap::new();
    for i in 1..=50 {
        pid_of.insert(i, o.int(&format!("pid.{i}")));
        let stopped = i % 2 == 1;
        o.expect_eq(&format!("alive.{i}"), if stopped { "no" } else { "yes" });
        if stopped {
            o.expect_eq(&format!("rc.{i}"), "0");
        }
    }
    // Which traced process is `imp stop -p .../sN.pid`?
    let mut svc_of_proc: BTreeMap<i64, i64> = BTreeMap::new();
    for c in o.spy.calls.iter().filter(|c| c.name == "execve") {
        let argv = c.args.get(1).cloned().unwrap_or_default();
        if let Some(rest) = argv.split("\"-p\", \"").nth(1) {
            let path = rest.split('"').next().unwrap_or("");
            if let Some(n) = path
                .rsplit('/')
                .next()
                .and_then(|f| f.strip_prefix('s'))
                .and_then(|f| f.strip_suffix(".pid"))
                .and_then(|n| n.parse::<i64>().ok())
            {
                svc_of_proc.insert(c.pid, n);
            }
        }
    }
    o.check(svc_of_proc.len() == 25, "25 imp stop processes traced");
    o.assert_safe_signals();
    let mut signalled = 0;
    for s in o.spy.signals() {
        let svc = svc_of_proc.get(&s.by);
        o.check(
            svc.is_some(),
            &format!("signal from an unknown process: {s:?}"),
        );
        let want = svc.and_then(|n| pid_of.get(n)).copied();
        o.check(
            s.target.is_some() && s.target == want,
            &format!("{s:?}: an imp stop signalled a pid other than its own pidfile's ({want:?})"),
        );
        if s.sig == "SIGTERM" {
            signalled += 1;
        }
    }
    o.check(signalled == 25, "25 SIGTERMs");
}

/// 10 simultaneous stops of one daemon: all exit 0, only the daemon is signalled, the
/// pidfile is gone.
#[test]
fn ld_concurrent_stops() {
    let o = sandbox("ld-stops").run(
        r#"
        launch d
        for i in $(seq 10); do
            ( spy $IMP stop -p $T/d.pid 2>$H/s$i.err; echo $? > $H/s$i.rc ) &
        done
        wait
        echo "ok=$(cat $H/s*.rc | grep -c '^0$')"
        echo "stopped=$(cat $H/s*.err | grep -c 'stopped (pid')"
        echo "exists=$([ -e $T/d.pid ] && echo yes || echo no)"
        echo "alive=$(alive $(dpid d))"
        echo "odd=$(for i in $(seq 10); do [ "$(cat $H/s$i.rc)" != 0 ] && echo "rc $(cat $H/s$i.rc): $(cat $H/s$i.err)"; done | head -3 | tr '\n' '|')"
        "#,
    );
    o.expect_eq("odd", "");
    o.expect_eq("ok", "10");
    o.check(o.int("stopped") >= 1, "at least one says `stopped`");
    o.expect_eq("exists", "no");
    o.expect_eq("alive", "no");
    o.assert_signals_only_to(&[o.int("d.pid")]);
}

/// Two loops racing start/stop on one pidfile: never two daemons at once, only the
/// contract's messages (a start racing another start says `already running`, not
/// `invalid pidfile content`), nothing left after a final stop.
#[test]
fn ld_racing_start_stop_loops() {
    let o = sandbox("ld-race").timeout(180).run(
        r#"
        loop() { for i in $(seq 150); do $IMP start -p $T/r.pid -- $TDAEMON --sleep 1000 2>>$H/e$1; $IMP stop -p $T/r.pid 2>>$H/e$1; done; }
        dup=0
        loop 1 & a=$!
        loop 2 & b=$!
        while [ "$(alive $a)" = yes ] || [ "$(alive $b)" = yes ]; do
            # pgrep's scan is not atomic: a pair is a duplicate only if both are still
            # alive a moment later (a stopped daemon is gone by then).
            set -- $(pgrep -f -- "$TDAEMON --sleep")
            if [ $# -gt 1 ]; then
                sleep 0.3; n=0
                for p; do [ "$(alive $p)" = yes ] && n=$((n + 1)); done
                [ $n -gt 1 ] && { dup=$((dup + 1)); echo "dup.$dup=$* $(cat $T/r.pid 2>&1)"; }
            fi
            sleep 0.01
        done
        wait
        $IMP stop -p $T/r.pid 2>>$H/e3
        sleep 0.2
        echo "dup=$dup"
        echo "left=$(nprocs "^$TDAEMON --sleep")"
        echo "zombies=$(zombies)"
        echo "odd=$(cat $H/e1 $H/e2 | grep -v -e 'started (pid' -e 'stopped (pid' -e 'already running' -e 'not running' | head -3 | tr '\n' '|')"
        "#,
    );
    o.expect_eq("dup", "0");
    o.expect_eq("left", "0");
    o.expect_eq("zombies", "0");
    o.expect_eq("odd", "");
}

/// 50 rounds of 10 simultaneous starts on a fresh (stopped) pidfile: every start exits 0,
/// exactly one `started` per round, the others `already running` (SPEC §3), never
/// `invalid pidfile content` while the winner is between lock and write.
#[test]
fn ld_concurrent_start_rounds() {
    let o = sandbox("ld-rounds").timeout(180).run(
        r#"
        bad=0
        for round in $(seq 50); do
            for i in $(seq 10); do
                ( $IMP start -p $T/c.pid -- $TDAEMON --sleep 1000 2>$H/c$i.err; echo $? > $H/c$i.rc ) &
            done
            wait
            ok=$(cat $H/c*.rc | grep -c '^0$')
            started=$(cat $H/c*.err | grep -c 'started (pid')
            if [ "$ok" != 10 ] || [ "$started" != 1 ]; then
                bad=$((bad + 1))
                for i in $(seq 10); do echo "round.$round.$i=$(cat $H/c$i.rc) $(cat $H/c$i.err)"; done
            fi
            $IMP stop -p $T/c.pid 2>>$H/log
            echo "left.$round=$(nprocs "^$TDAEMON --sleep")"
        done
        echo "bad=$bad"
        "#,
    );
    for r in 1..=50 {
        o.expect_eq(&format!("left.{r}"), "0");
    }
    o.expect_eq("bad", "0");
}
