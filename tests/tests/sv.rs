//! SV — supervision (`--respawn`, SPEC §5, issue 12): the supervisor holds the pidfile,
//! restarts the program with backoff, forwards signals, reaps orphans, takes its
//! program with it when killed, and `stop`/`status` see both.

use imp_tests::*;

/// `sv_state PREFIX`: the supervisor's view (`status --format kv` of `$T/s.pid`) as
/// `PREFIX.key=value` lines, and the program's parent.
const SV: &str = r#"
kvs() { local k; for k in $($IMP status -p $T/s.pid --format kv); do echo "$1.$k"; done; }
ppid_of() { local s; s=$(cat /proc/$1/stat 2>/dev/null) || { echo gone; return; }; s=${s##*) }; set -- $s; echo "$2"; }
# prog_of PREFIX: the program pid the supervisor publishes, waiting for a run.
prog_of() {
    local i p
    for i in $(seq 250); do
        p=$($IMP status -p $T/s.pid --format kv | tr ' ' '\n' | sed -n 's/^program=//p')
        case $p in ''|none) sleep 0.02;; *) echo "$p"; return;; esac
    done
    echo none
}
"#;

/// The life of a supervised daemon: start names the supervisor; the program is its
/// child, in the state SPEC §4 gives; `kill -9` of the program brings a new one
/// within the backoff; status kv reports the supervisor, the program, one restart
/// and the signal; stop ends both (the program got SIGTERM first), removes the
/// pidfile, and signals only them.
#[test]
fn sv_restart_after_kill9_and_stop() {
    let o = sandbox("sv-life").full().run(&format!(
        r#"{SV}
        r start $IMP start --respawn --respawn-delay 0.2 -p $T/s.pid -o $T/log -- $TDAEMON --dump $OUT/d --term-marker $OUT/term --sleep 1000
        S=$(cat $T/s.pid); echo "s=$S"
        echo "lock=$(lockholder $T/s.pid | cut -d, -f2)"
        P1=$(prog_of); echo "p1=$P1"
        waitfile $OUT/d
        echo "p1.ppid=$(ppid_of $P1)"
        echo "s.ppid=$(ppid_of $S)"
        echo "s.fds=$(for f in /proc/$S/fd/*; do printf '%s:%s ' ${{f##*/}} $(readlink $f); done)"
        kvs before
        rm -f $OUT/d
        kill -9 $P1
        waitdead $P1
        waitfile $OUT/d
        P2=$(prog_of); echo "p2=$P2"
        echo "p2.ppid=$(ppid_of $P2)"
        kvs after
        r stop spy $IMP stop -p $T/s.pid
        echo "s.alive=$(alive $S)"
        echo "p2.alive=$(alive $P2)"
        echo "term=$([ -e $OUT/term ] && echo yes || echo no)"
        echo "exists=$([ -e $T/s.pid ] && echo yes || echo no)"
        echo "left=$(nprocs "^$TDAEMON")"
        echo "log=$(esc $T/log)"
        "#
    ));
    let s = o.int("s");
    let (p1, p2) = (o.int("p1"), o.int("p2"));
    o.expect("start", 0, &[&format!("started (pid {s})")]);
    // The supervisor holds the daemon's POSIX identity lock (SPEC §3).
    o.expect_eq("lock", &format!("POSIX-READ {s} 0-0"));
    o.expect_eq("p1.ppid", &s.to_string());
    o.expect_eq("s.ppid", "1");
    // The supervisor's fds: stdio (here the -o log), the pidfile's
    // directory (to remove it at the end) and the pidfile; no pipe left over.
    if !emulated() {
        let fds = o.get("s.fds");
        o.check(
            fds.split_whitespace().count() == 5 && !fds.contains("pipe:"),
            &format!("the supervisor holds 0-2, the pidfile's directory and the pidfile: {fds}"),
        );
    }
    o.expect_eq("before.state", "running");
    o.expect_eq("before.supervisor", &s.to_string());
    o.expect_eq("before.program", &p1.to_string());
    o.expect_eq("before.restarts", "0");
    o.expect_eq("before.last_exit", "none");
    o.check(p2 != p1, "a new program after kill -9");
    o.expect_eq("p2.ppid", &s.to_string());
    o.expect_eq("after.program", &p2.to_string());
    o.expect_eq("after.restarts", "1");
    o.expect_eq("after.last_exit", "signal:KILL");
    o.expect("stop", 0, &[&format!("stopped (pid {s})")]);
    o.expect_eq("s.alive", "no");
    o.expect_eq("p2.alive", "no");
    o.expect_eq("term", "yes");
    o.expect_eq("exists", "no");
    o.expect_eq("left", "0");
    let log = o.get("log");
    for line in [
        format!("imp: supervise: tdaemon: killed by SIGKILL (pid {p1}), restarting in 200 ms"),
        format!("imp: supervise: tdaemon: restarted (pid {p2}, restart 1)"),
        format!("imp: supervise: tdaemon: exited with status 0 (pid {p2}), stopping"),
    ] {
        o.check(log.contains(&line), &format!("the log has `{line}`: {log}"));
    }
    // stop signals the supervisor only; the supervisor forwards.
    o.assert_signals_only_to(&[s]);
}

/// A supervisor killed with SIGKILL takes its program with it (PR_SET_PDEATHSIG):
/// nothing is left, the pidfile is stale, and a new start runs exactly one program.
#[test]
fn sv_supervisor_kill9_leaves_nothing() {
    let o = sandbox("sv-kill9").full().run(&format!(
        r#"{SV}
        r start $IMP start --respawn -p $T/s.pid -- $TDAEMON --sleep 1000
        S=$(cat $T/s.pid); P=$(prog_of); echo "p=$P"
        kill -9 $S; waitdead $S; waitdead $P; waitunlocked $T/s.pid
        echo "p.alive=$(alive $P)"
        echo "left=$(nprocs "^$TDAEMON")"
        r st $IMP status -p $T/s.pid
        r again $IMP start --respawn -p $T/s.pid -- $TDAEMON --sleep 1000
        P2=$(prog_of)
        echo "left2=$(nprocs "^$TDAEMON")"
        r stop $IMP stop -p $T/s.pid
        echo "left3=$(nprocs "^$TDAEMON")"
        "#
    ));
    o.expect("start", 0, &["started"]);
    o.expect_eq("p.alive", "no");
    o.expect_eq("left", "0");
    o.expect_out("st", 1, &["not running (stale pidfile)"]);
    o.expect("again", 0, &["started"]);
    o.expect_eq("left2", "1");
    o.expect("stop", 0, &["stopped"]);
    o.expect_eq("left3", "0");
}

/// Backoff and giving up: a program that exits 3 at once is restarted after 100, 200,
/// 400 ms and, after `--respawn-max 4` short runs, the supervisor gives up: logged,
/// pidfile removed, nothing left.
#[test]
fn sv_backoff_and_give_up() {
    let o = sandbox("sv-giveup").full().run(&format!(
        r#"{SV}
        r start $IMP start --respawn --respawn-delay 0.1 --respawn-delay-max 0.4 --respawn-max 4 --respawn-period 10 -p $T/s.pid -o $T/log -- $TDAEMON --marker-append $OUT/runs --exit 3
        S=$(cat $T/s.pid)
        waitdead $S 20
        echo "runs=$(wc -l < $OUT/runs)"
        echo "exists=$([ -e $T/s.pid ] && echo yes || echo no)"
        echo "log=$(esc $T/log)"
        "#
    ));
    o.expect("start", 0, &["started"]);
    o.expect_eq("runs", "4");
    o.expect_eq("exists", "no");
    let log = o.get("log");
    for d in [100, 200, 400] {
        o.check(
            log.contains(&format!("), restarting in {d} ms"))
                || log.contains(&format!("), restarting in {} ms", d - 1)),
            &format!("a delay of {d} ms: {log}"),
        );
    }
    o.check(
        log.contains("exited with status 3")
            && log.ends_with("4 runs shorter than 10 s: giving up"),
        &format!("gave up after 4 short runs: {log}"),
    );
}

/// HUP, USR1 and WINCH sent to the supervisor (`imp signal`) reach the program; a
/// stop during a backoff delay starts nothing more.
#[test]
fn sv_forwards_signals_and_stop_in_backoff() {
    let o = sandbox("sv-signals").full().run(&format!(
        r#"{SV}
        cat > $T/prog <<'EOF'
#!/bin/sh
trap 'echo HUP >> '$T'/got' HUP
trap 'echo USR1 >> '$T'/got' USR1
trap 'echo WINCH >> '$T'/got' WINCH
trap 'exit 0' TERM
echo run >> $T/runs
while :; do sleep 0.05; done
EOF
        sed -i "s|\$T|$T|g" $T/prog; chmod +x $T/prog
        r start $IMP start --respawn -p $T/s.pid -- $T/prog
        P=$(prog_of)
        sleep 0.2
        for s in HUP USR1 WINCH; do r sig.$s $IMP signal -p $T/s.pid $s; sleep 0.2; done
        echo "got=$(paste -sd, $T/got)"
        echo "p.alive=$(alive $P)"
        r stop $IMP stop -p $T/s.pid
        r start2 $IMP start --respawn --respawn-delay 5 -p $T/b.pid -- $TDAEMON --marker-append $OUT/b.runs --exit 1
        sleep 0.3
        r stop2 $IMP stop -p $T/b.pid
        sleep 0.2
        echo "b.runs=$(wc -l < $OUT/b.runs)"
        echo "left=$(nprocs "^$TDAEMON")"
        "#
    ));
    o.expect("start", 0, &["started"]);
    for s in ["HUP", "USR1", "WINCH"] {
        o.expect(&format!("sig.{s}"), 0, &[&format!("sent SIG{s}")]);
    }
    o.expect_eq("got", "HUP,USR1,WINCH");
    o.expect_eq("p.alive", "yes");
    o.expect("stop", 0, &["stopped"]);
    o.expect("start2", 0, &["started"]);
    o.expect("stop2", 0, &["stopped"]);
    o.check(
        o.ms("stop2") < 4000,
        "the stop did not wait out the 5 s delay",
    );
    o.expect_eq("b.runs", "1");
    o.expect_eq("left", "0");
}

/// SV-01: orphans of the program reparent to the supervisor (a subreaper) and are
/// reaped: a program that leaves 20 zombie children and exits, run 10 times, leaves
/// no zombie behind the supervisor. Zombies are counted among the supervisor's own
/// children while it runs, the fewest over 20 looks (a run's 20 orphans arrive at once
/// and take a moment to reap; a leak keeps 20 more each run). After the stop the
/// supervisor itself may be a zombie for a moment, until the sandbox's init reaps it.
#[test]
fn sv01_orphans_are_reaped() {
    let o = sandbox("sv01").full().run(&format!(
        r#"{SV}
        r start $IMP start --respawn --respawn-delay 0 --respawn-max 0 -p $T/s.pid -- $TDAEMON --marker-append $OUT/runs --fork-children 20 --sleep 0.05 --exit 1
        S=$(cat $T/s.pid)
        i=0; while [ "$(wc -l < $OUT/runs 2>/dev/null || echo 0)" -lt 10 ] && [ $i -lt 500 ]; do sleep 0.02; i=$((i+1)); done
        echo "runs=$([ "$(wc -l < $OUT/runs)" -ge 10 ] && echo 10+ || echo fewer)"
        lo=999; for _ in $(seq 20); do n=$(zombies_of $S); [ $n -lt $lo ] && lo=$n; done
        echo "zombies=$lo"
        r stop $IMP stop -p $T/s.pid
        echo "left=$(nprocs "^$TDAEMON")"
        "#
    ));
    o.expect("start", 0, &["started"]);
    o.expect_eq("runs", "10+");
    o.expect_eq("zombies", "0");
    o.expect("stop", 0, &["stopped"]);
    o.expect_eq("left", "0");
}

/// LD-02 (respawn part): 1,000 respawns of a program that exits at once; the
/// supervisor's fd count and peak RSS are the same after 1,000 as after 10, nothing
/// is left after the stop.
#[test]
fn ld02_thousand_respawns() {
    let o = sandbox("ld02-respawn").full().timeout(240).run(&format!(
        r#"{SV}
        r start $IMP start --respawn --respawn-delay 0 --respawn-max 0 -p $T/s.pid -- /bin/true
        S=$(cat $T/s.pid)
        restarts() {{ local n; n=$($IMP status -p $T/s.pid --format kv | tr ' ' '\n' | sed -n 's/^restarts=//p'); echo "${{n:-0}}"; }}
        # fdrange: the fewest and most fds over 20 looks (a spawn has its pipe open).
        fdrange() {{ local i n lo=999 hi=0; for i in $(seq 20); do n=$(ls /proc/$S/fd | wc -l); [ $n -lt $lo ] && lo=$n; [ $n -gt $hi ] && hi=$n; done; echo "$lo-$hi"; }}
        i=0; while [ "$(restarts)" -lt 10 ] && [ $i -lt 500 ]; do sleep 0.01; i=$((i+1)); done
        echo "fds10=$(fdrange)"
        echo "hwm10=$(awk '/^VmHWM/{{print $2}}' /proc/$S/status)"
        i=0; while [ "$(restarts)" -lt 1000 ] && [ $i -lt 6000 ]; do sleep 0.02; i=$((i+1)); done
        echo "n=$(restarts)"
        echo "fds1000=$(fdrange)"
        echo "hwm1000=$(awk '/^VmHWM/{{print $2}}' /proc/$S/status)"
        echo "rss1000=$(awk '/^VmRSS/{{print $2}}' /proc/$S/status)"
        r stop $IMP stop -p $T/s.pid
        echo "zombies=$(zombies)"
        echo "exists=$([ -e $T/s.pid ] && echo yes || echo no)"
        "#
    ));
    o.expect("start", 0, &["started"]);
    o.check(o.int("n") >= 1000, "1,000 respawns");
    o.expect("stop", 0, &["stopped"]);
    o.expect_eq("zombies", "0");
    o.expect_eq("exists", "no");
    // Under qemu-user the supervisor's /proc is the emulator's (its own fds, its
    // translation buffers).
    if emulated() {
        return;
    }
    // The fewest: the same; the most: at most the spawn's pipe (2) more.
    let range = |k: &str| -> (i64, i64) {
        let (lo, hi) = o.get(k).split_once('-').expect("lo-hi");
        (lo.parse().expect("lo"), hi.parse().expect("hi"))
    };
    let (lo10, _) = range("fds10");
    let (lo1000, hi1000) = range("fds1000");
    o.check(
        lo1000 == lo10,
        "the same fds after 1,000 respawns as after 10",
    );
    o.check(hi1000 <= lo10 + 2, "at most the spawn's pipe on top");
    o.expect_eq("hwm1000", o.get("hwm10"));
    eprintln!(
        "[ld02] supervisor after 1,000 respawns: VmHWM {} kB, VmRSS {} kB, {} fds",
        o.get("hwm1000"),
        o.get("rss1000"),
        o.get("fds1000")
    );
}

/// `run --respawn`: the supervisor in the foreground (inittab, containers) is imp
/// itself, holds the pidfile, and exits 0 once a SIGTERM stopped its program.
#[test]
fn sv_run_respawn_foreground() {
    let o = sandbox("sv-run").full().run(&format!(
        r#"{SV}
        $IMP run --respawn -p $T/s.pid -- $TDAEMON --term-marker $OUT/term --sleep 1000 &
        S=$!
        waitfile $T/s.pid
        P=$(prog_of)
        echo "pidfile_is_imp=$([ "$(cat $T/s.pid)" = "$S" ] && echo yes || echo no)"
        echo "p.ppid=$(ppid_of $P)"
        echo "s=$S"
        kill -TERM $S
        wait $S; echo "rc=$?"
        echo "term=$([ -e $OUT/term ] && echo yes || echo no)"
        echo "exists=$([ -e $T/s.pid ] && echo yes || echo no)"
        "#
    ));
    o.expect_eq("pidfile_is_imp", "yes");
    o.expect_eq("p.ppid", o.get("s"));
    o.expect_eq("rc", "0");
    o.expect_eq("term", "yes");
    o.expect_eq("exists", "no");
}

/// Failures: a program that cannot be exec'd fails the start (exit 5, nothing left);
/// respawn options without `--respawn`, bad values and a max below the delay are
/// usage errors (exit 2) with nothing started.
#[test]
fn sv_failures_and_usage() {
    let o = sandbox("sv-fail").full().run(
        r#"
        r noexec $IMP start --respawn -p $T/s.pid -- /nonexistent/prog
        echo "exists=$([ -e $T/s.pid ] && echo yes || echo no)"
        r u.alone $IMP start --respawn-delay 1 -p $T/u.pid -- /bin/true
        r u.bad $IMP start --respawn --respawn-delay abc -p $T/u.pid -- /bin/true
        r u.max $IMP start --respawn --respawn-delay 10 --respawn-delay-max 5 -p $T/u.pid -- /bin/true
        r u.stop $IMP stop --respawn -p $T/u.pid
        echo "u.exists=$([ -e $T/u.pid ] && echo yes || echo no)"
        echo "left=$(pgrep -c -f '^/bin/true' || true)"
        "#,
    );
    o.expect(
        "noexec",
        5,
        &[
            "exec /nonexistent/prog",
            "No such file or directory (ENOENT)",
        ],
    );
    o.expect_eq("exists", "no");
    o.expect("u.alone", 2, &["the --respawn-* options need --respawn"]);
    o.expect("u.bad", 2, &["--respawn-delay: invalid value 'abc'"]);
    o.expect(
        "u.max",
        2,
        &["--respawn-delay-max is below --respawn-delay"],
    );
    o.expect(
        "u.stop",
        2,
        &["option not accepted by this command '--respawn'"],
    );
    o.expect_eq("u.exists", "no");
}

/// EN-05 (the supervise part): without /proc, `start --respawn`, a restart after the
/// program is killed, `status --format kv` (the published state needs no /proc) and
/// `stop` all work.
#[test]
fn en05_supervise_without_proc() {
    let o = sandbox("en05-sv").full().run(
        r#"
        cat > $H/inner.sh <<'INNER'
while mountpoint -q /proc; do umount -l /proc; done
IMP="$IMP_RUNNER $IMP_BIN"
echo "proc_entries=$(ls -A /proc | wc -l)" > $H/inner.kv
$IMP start --respawn --respawn-delay 0.1 -p $T/s.pid -- $TDAEMON --marker-append $T/out/runs --sleep 1000 2>$H/e1
echo "start.rc=$?" >> $H/inner.kv
i=0; while [ ! -s $T/out/runs ] && [ $i -lt 500 ]; do sleep 0.02; i=$((i+1)); done
P=$(head -n1 $T/out/runs)
echo "kv1=$($IMP status -p $T/s.pid --format kv)" >> $H/inner.kv
kill -9 $P
i=0; while [ "$(wc -l < $T/out/runs)" -lt 2 ] && [ $i -lt 500 ]; do sleep 0.02; i=$((i+1)); done
sleep 0.1
echo "kv2=$($IMP status -p $T/s.pid --format kv)" >> $H/inner.kv
echo "p2=$(sed -n 2p $T/out/runs)" >> $H/inner.kv
$IMP stop -p $T/s.pid 2>$H/e3
echo "stop.rc=$?" >> $H/inner.kv
INNER
        unshare -m bash $H/inner.sh
        cat $H/inner.kv
        echo "e=$(esc $H/e1) $(esc $H/e3)"
        echo "left=$(nprocs "^$TDAEMON")"
        echo "exists=$([ -e $T/s.pid ] && echo yes || echo no)"
        "#,
    );
    o.expect_eq("proc_entries", "0");
    o.expect_eq("start.rc", "0");
    let kv1 = o.get("kv1");
    o.check(
        kv1.contains("program=") && kv1.contains("restarts=0") && !kv1.contains("program=none"),
        &format!("kv without /proc: {kv1}"),
    );
    let kv2 = o.get("kv2");
    o.check(
        kv2.contains(&format!("program={}", o.get("p2")))
            && kv2.contains("restarts=1")
            && kv2.contains("last_exit=signal:KILL"),
        &format!("after a restart: {kv2}"),
    );
    o.expect_eq("stop.rc", "0");
    o.expect_eq("left", "0");
    o.expect_eq("exists", "no");
}

/// Readiness under `--respawn`: the start returns once the program wrote its newline
/// on fd 3 (the supervisor passes fd 3 to every run); a program never ready: timeout,
/// supervisor and program stopped, no pidfile; a program that keeps dying: the
/// supervisor gives up before it is ready (its status, 1).
#[test]
fn sv_ready_fd_under_respawn() {
    let o = sandbox("sv-ready").full().run(&format!(
        r#"{SV}
        r a $IMP start --respawn --ready-fd 3 -p $T/s.pid -- $TDAEMON --dump $OUT/a.dump --ready-after 0.5 --sleep 1000
        P=$(prog_of); echo "p=$P"
        waitfile $OUT/a.dump
        echo "p.fd3=$(sed -n 's/^fd\.3=//p' $OUT/a.dump | cut -c1-5)"
        r astop $IMP stop -p $T/s.pid
        r t $IMP start --respawn --ready-fd 3 --ready-timeout 1 -p $T/t.pid -- $TDAEMON --sleep 1000
        echo "t.exists=$([ -e $T/t.pid ] && echo yes || echo no)"
        r u $IMP start --respawn --respawn-delay 0.1 --respawn-max 2 --ready-fd 3 -p $T/u.pid -- $TDAEMON --exit 4
        echo "u.exists=$([ -e $T/u.pid ] && echo yes || echo no)"
        echo "left=$(nprocs "^$TDAEMON")"
        "#
    ));
    o.expect("a", 0, &["started (pid"]);
    o.check(o.ms("a") >= 500, "not before the newline");
    o.expect_eq("p.fd3", "pipe:");
    o.expect("astop", 0, &["stopped"]);
    o.expect("t", 1, &["t.pid: readiness timeout"]);
    o.expect_eq("t.exists", "no");
    let u = if emulated() {
        "u.pid: gone before ready"
    } else {
        "u.pid: exited with status 1 before ready"
    };
    o.expect("u", 1, &[u]);
    o.expect_eq("u.exists", "no");
    o.expect_eq("left", "0");
}

/// Fork failing with EAGAIN (RLIMIT_NPROC of an unprivileged supervisor, all its
/// processes taken by others of its user): the restart is logged as failed and
/// retried every second, the supervisor stays stoppable, and restarts once processes
/// are free again. (Host only: under qemu-user the emulator's threads count too.)
#[test]
fn sv_fork_eagain_is_retried() {
    if emulated() {
        return;
    }
    let o = sandbox("sv-eagain").full().run(
        r#"
        mkdir $T/u; chown 1000:1000 $T/u
        r start prlimit --nproc=4 setpriv --reuid 1000 --regid 1000 --clear-groups $IMP start --respawn --respawn-delay 0 --respawn-max 0 -o $T/u/log -p $T/u/s.pid -- /bin/sleep 0.3
        S=$(cat $T/u/s.pid)
        for i in 1 2 3; do setpriv --reuid 1000 --regid 1000 --clear-groups sleep 2.5 & done
        B=$(jobs -p)
        sleep 1.5
        echo "failed=$(grep -c 'restart failed: fork: Resource temporarily unavailable (EAGAIN)$' $T/u/log)"
        kill $B; wait $B 2>/dev/null
        sleep 1.5
        echo "restarted=$(grep -c 'restarted (pid' $T/u/log)"
        r stop setpriv --reuid 1000 --regid 1000 --clear-groups $IMP stop -p $T/u/s.pid
        echo "s.alive=$(alive $S)"
        echo "exists=$([ -e $T/u/s.pid ] && echo yes || echo no)"
        "#,
    );
    o.expect("start", 0, &["started"]);
    let failed = o.int("failed");
    // One failure per second of retry, not a busy loop.
    o.check(
        (1..=3).contains(&failed),
        &format!("{failed} failed forks in 1.5 s"),
    );
    o.check(o.int("restarted") >= 1, "restarts once processes are free");
    o.expect("stop", 0, &["stopped"]);
    o.expect_eq("s.alive", "no");
    o.expect_eq("exists", "no");
}

/// A program that is gone (deleted after the start): each restart fails before exec
/// (logged with the step and errno), counts as a short run, and the supervisor gives
/// up after `--respawn-max` of them in a row: pidfile removed, nothing left.
#[test]
fn sv_program_gone_gives_up() {
    let o = sandbox("sv-gone").full().run(
        r#"
        cp /bin/sleep $T/prog
        r start $IMP start --respawn --respawn-delay 0.1 --respawn-max 3 -o $T/log -p $T/s.pid -- $T/prog 0.2
        S=$(cat $T/s.pid)
        rm $T/prog
        waitdead $S 10
        echo "failed=$(grep -c "restart failed: exec $T/prog: No such file or directory (ENOENT)" $T/log)"
        echo "last=$(tail -n 1 $T/log)"
        echo "exists=$([ -e $T/s.pid ] && echo yes || echo no)"
        "#,
    );
    o.expect("start", 0, &["started"]);
    o.expect_eq("failed", "2");
    o.check(
        o.get("last").ends_with("(ENOENT), 3 in a row: giving up"),
        &format!("gave up: {}", o.get("last")),
    );
    o.expect_eq("exists", "no");
}
