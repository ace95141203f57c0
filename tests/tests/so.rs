//! SO — stop.

use imp_tests::*;

fn pos(v: &[String], s: &str) -> Option<usize> {
    v.iter().position(|x| x == s)
}

/// SO-01: SIGTERM, then SIGKILL after the timeout, to the daemon only.
#[test]
fn so01_term_then_kill_after_timeout() {
    let o = sandbox("so01").run(
        r#"
        launch d --ignore-term
        r stop spy $IMP stop -p $T/d.pid --timeout 2
        echo "alive=$(alive $(dpid d))"
        echo "exists=$([ -e $T/d.pid ] && echo yes || echo no)"
        r st $IMP status -p $T/d.pid
        "#,
    );
    let pid = o.int("d.pid");
    o.expect("stop", 0, &["stopped"]);
    o.check(o.ms("stop") >= 1900, "SIGKILL only after the 2 s timeout");
    o.check(o.ms("stop") < 9000, "and promptly after it");
    o.assert_signals_only_to(&[pid]);
    let sigs = o.spy.signals_to(pid);
    let (t, k) = (pos(&sigs, "SIGTERM"), pos(&sigs, "SIGKILL"));
    o.check(t.is_some() && k.is_some() && t < k, "SIGTERM then SIGKILL");
    o.expect_eq("alive", "no");
    o.expect_eq("exists", "no");
    o.expect_out("st", 3, &["not running"]);
}

/// SO-02: prompt return when the daemon exits 0.2 s after SIGTERM; no SIGKILL.
#[test]
fn so02_prompt_return() {
    let o = sandbox("so02").run(
        r#"
        launch d --term-marker $OUT/d.term --term-delay 0.2
        r stop spy $IMP stop -p $T/d.pid
        echo "term=$([ -e $OUT/d.term ] && echo yes || echo no)"
        "#,
    );
    let pid = o.int("d.pid");
    o.expect("stop", 0, &["stopped"]);
    o.check(o.ms("stop") < 3000, "returns as soon as the daemon is gone");
    o.expect_eq("term", "yes");
    o.check(
        !o.spy.signals_to(pid).contains(&"SIGKILL".into()),
        "no SIGKILL",
    );
    o.assert_signals_only_to(&[pid]);
}

/// SO-03: a SIGSTOPped daemon gets SIGCONT after SIGTERM and exits gracefully.
#[test]
fn so03_stopped_daemon_is_continued() {
    let o = sandbox("so03").run(
        r#"
        launch d --term-marker $OUT/d.term
        X=$(dpid d)
        kill -STOP $X; sleep 0.1
        echo "state=$(state $X)"
        r stop spy $IMP stop -p $T/d.pid --timeout 3
        echo "term=$([ -e $OUT/d.term ] && echo yes || echo no)"
        echo "alive=$(alive $X)"
        "#,
    );
    let pid = o.int("d.pid");
    o.expect_eq("state", "T");
    o.expect("stop", 0, &["stopped"]);
    o.check(o.ms("stop") < 2500, "no wait for the timeout");
    o.expect_eq("term", "yes");
    o.expect_eq("alive", "no");
    let sigs = o.spy.signals_to(pid);
    let (t, c) = (pos(&sigs, "SIGTERM"), pos(&sigs, "SIGCONT"));
    o.check(t.is_some() && c.is_some() && t < c, "SIGTERM then SIGCONT");
    o.check(!sigs.contains(&"SIGKILL".into()), "no SIGKILL");
    o.assert_signals_only_to(&[pid]);
}

/// SO-04: stop returns only when the process is gone, even if the daemon removes its
/// pidfile at once; the port (here an abstract socket) is free right after.
#[test]
fn so04_returns_only_when_gone() {
    let o = sandbox("so04").run(
        r#"
        NAME=imp-tests-so04-$(basename $BASE)
        launch d --bind-abstract $NAME --term-unlink $T/d.pid --term-marker $OUT/d.term --term-delay 1.5
        r busy $TDAEMON --bind-abstract $NAME --exit 0
        r stop $IMP stop -p $T/d.pid --timeout 5
        r rebind $TDAEMON --bind-abstract $NAME --exit 0
        echo "alive=$(alive $(dpid d))"
        "#,
    );
    o.check(
        o.rc("busy") == 98,
        "control: the name is in use while the daemon runs",
    );
    o.expect("stop", 0, &[]);
    o.check(
        o.ms("stop") >= 1400,
        "stop waited for the process, not for the pidfile",
    );
    o.expect("rebind", 0, &[]);
    o.expect_eq("alive", "no");
}

/// SO-05: stop when not running: no pidfile, stale pidfile, pid now unused, and an
/// unlocked pidfile naming a live unrelated process: exit 0 `not running`, no signal.
#[test]
fn so05_stop_when_not_running() {
    let o = sandbox("so05").run(
        r#"
        r none spy $IMP stop -p $T/none.pid
        launch d
        X=$(dpid d)
        kill -9 $X; waitdead $X
        r stale spy $IMP stop -p $T/d.pid
        echo "stale.exists=$([ -e $T/d.pid ] && echo yes || echo no)"
        printf '30000\n' > $T/u.pid
        r unused spy $IMP stop -p $T/u.pid
        echo "unused.exists=$([ -e $T/u.pid ] && echo yes || echo no)"
        sleep 1000 & v=$!
        printf '%s\n' $v > $T/v.pid
        r victim spy $IMP stop -p $T/v.pid
        echo "victim=$(alive $v)"
        "#,
    );
    o.expect("none", 0, &["not running"]);
    o.expect("stale", 0, &["not running", "stale"]);
    o.expect_eq("stale.exists", "no");
    o.expect("unused", 0, &["not running"]);
    o.expect_eq("unused.exists", "no");
    o.expect("victim", 0, &["not running"]);
    o.expect_eq("victim", "yes");
    o.assert_no_signals();
}

/// SO-06: the daemon's own children: default stop signals the main pid only (SPEC);
/// `--process-group` leaves nothing of the group behind.
#[test]
fn so06_children_and_process_group() {
    let o = sandbox("so06").run(
        r#"
        pgmembers() { local n=0 p s; for p in /proc/[0-9]*; do s=$(cat $p/stat 2>>$H/log) || continue; s=${s##*) }; set -- $s; [ "$1" != Z ] && [ "$3" = "$PG" ] && n=$((n+1)); done; echo $n; }
        launch a --spawn-sleepers 1
        kv a $OUT/a.dump
        r stop_a spy $IMP stop -p $T/a.pid --timeout 2
        echo "a.main=$(alive $(dpid a))"
        echo "a.child=$(alive $(sed -n 's/^sleeper.0=//p' $OUT/a.dump))"
        launch b --spawn-sleepers 2
        kv b $OUT/b.dump
        PG=$(sed -n 's/^pgid=//p' $OUT/b.dump)
        echo "b.members_before=$(pgmembers)"
        r stop_b spy $IMP stop -p $T/b.pid --timeout 2 --process-group
        echo "b.members_after=$(pgmembers)"
        "#,
    );
    o.expect("stop_a", 0, &["stopped"]);
    o.expect_eq("a.main", "no");
    o.expect_eq("a.child", "yes");
    o.expect("stop_b", 0, &["stopped"]);
    o.expect_eq("b.members_before", "3");
    o.expect_eq("b.members_after", "0");
    let pg = o.int("b.pgid");
    o.check(pg > 1, "sane process group");
    let bad = o.spy.unsafe_targets(&[-pg]);
    o.check(
        bad.is_empty(),
        &format!("only -{pg} may be a group target: {bad:?}"),
    );
    let (a, b) = (o.int("a.pid"), o.int("b.pid"));
    for s in o.spy.signals() {
        o.check(
            matches!(s.target, Some(t) if t == a || t == b || t == -pg),
            &format!("unexpected signal target {s:?}"),
        );
    }
}

/// SO-07: no permission to signal: exit 4 `Operation not permitted`, nothing touched.
#[test]
fn so07_no_permission() {
    let o = sandbox("so07").run(
        r#"
        launch d
        before=$(stat -c '%i %s %y' $T/d.pid)
        r stop asuser $IMP stop -p $T/d.pid --timeout 1
        echo "alive=$(alive $(dpid d))"
        echo "same=$([ "$before" = "$(stat -c '%i %s %y' $T/d.pid)" ] && echo yes || echo no)"
        "#,
    );
    o.expect("stop", 4, &["Operation not permitted"]);
    o.expect_eq("alive", "yes");
    o.expect_eq("same", "yes");
}

/// SO-08: a process that survives SIGKILL (stuck in a FUSE request that is never
/// answered): exit 1 `still running after SIGKILL`, pidfile kept, status 0.
#[test]
fn so08_survives_sigkill() {
    let o = sandbox("so08").run(
        r#"
        mkdir $T/fuse
        $TDAEMON --fuse-server $T/fuse 2>>$H/log &
        fs=$!
        i=0; until grep -q " $T/fuse " /proc/mounts; do i=$((i+1)); [ $i -gt 250 ] && break; sleep 0.02; done
        launch d --block-on $T/fuse/x
        X=$(dpid d)
        # The request is in userspace once the server has read it: the victim sleeps in
        # fuse's request wait (S, then D after a fatal signal).
        sleep 0.5
        echo "state=$(state $X)"
        r stop spy $IMP stop -p $T/d.pid --timeout 1
        echo "state_after=$(state $X)"
        echo "exists=$([ -e $T/d.pid ] && echo yes || echo no)"
        r st $IMP status -p $T/d.pid
        kill -9 $fs
        waitdead $X
        echo "after=$(alive $X)"
        "#,
    );
    let pid = o.int("d.pid");
    o.check(
        matches!(o.get("state"), "S" | "D"),
        "victim blocked in the FUSE request",
    );
    o.expect_eq("state_after", "D");
    o.expect(
        "stop",
        1,
        &[&format!("still running after SIGKILL (pid {pid})")],
    );
    o.check(o.ms("stop") < 15000, "bounded: timeout + kill wait");
    o.check(
        o.spy.signals_to(pid).contains(&"SIGKILL".into()),
        "SIGKILL sent",
    );
    o.assert_signals_only_to(&[pid]);
    o.expect_eq("exists", "yes");
    o.expect_out("st", 0, &["running"]);
    o.expect_eq("after", "no");
    // CLI-CONTRACT: `imp: stop: P: still running after SIGKILL (pid N)` names the pidfile.
    o.expect("stop", 1, &["/d.pid: still running after SIGKILL"]);
}

/// --no-kill, -R schedules, -s, decimal timeouts.
#[test]
fn so_schedules_and_options() {
    let o = sandbox("so-opts").run(
        r#"
        launch a --ignore-term
        r nokill spy $IMP stop -p $T/a.pid --timeout 0.5 --no-kill
        echo "a.alive=$(alive $(dpid a))"
        echo "a.exists=$([ -e $T/a.pid ] && echo yes || echo no)"
        r retry spy $IMP stop -p $T/a.pid -R TERM/1/KILL/5
        echo "a.after=$(alive $(dpid a))"
        launch b
        r hup spy $IMP stop -p $T/b.pid -s HUP --timeout 5
        launch c --ignore-term
        r bare spy $IMP stop -p $T/c.pid -R 1
        "#,
    );
    let (a, b, c) = (o.int("a.pid"), o.int("b.pid"), o.int("c.pid"));
    o.expect(
        "nokill",
        1,
        &[&format!("still running after timeout (pid {a})")],
    );
    o.expect_eq("a.alive", "yes");
    o.expect_eq("a.exists", "yes");
    o.expect("retry", 0, &["stopped"]);
    o.expect_eq("a.after", "no");
    let sa = o.spy.signals_to(a);
    o.check(
        sa.iter().filter(|s| *s == "SIGKILL").count() == 1
            && sa.last().map(String::as_str) == Some("SIGKILL"),
        "no SIGKILL under --no-kill, then one under -R TERM/1/KILL/5",
    );
    o.expect("hup", 0, &["stopped"]);
    o.check(
        o.spy.signals_to(b).first().map(String::as_str) == Some("SIGHUP"),
        "-s HUP",
    );
    o.expect("bare", 0, &["stopped"]);
    o.check(
        o.spy.signals_to(c).contains(&"SIGKILL".into()),
        "-R 1 escalates",
    );
    o.assert_signals_only_to(&[a, b, c]);
    // CLI-CONTRACT: `imp: stop: P: still running after timeout (pid N)` names the pidfile.
    o.expect("nokill", 1, &["/a.pid: still running after timeout"]);
}

/// SPEC §3 removal: stop unlinks the pidfile only if the path still names the same
/// inode; a file put in its place meanwhile survives.
#[test]
fn so_removal_only_same_inode() {
    let o = sandbox("so-inode").run(
        r#"
        launch d --term-marker $OUT/d.term --term-delay 1
        ( $IMP stop -p $T/d.pid 2>$H/stop.err; echo $? > $H/stop.rc ) &
        waitfile $OUT/d.term
        printf 'NEW\n' > $T/d.pid.new; mv $T/d.pid.new $T/d.pid
        wait
        echo "stop.rc=$(cat $H/stop.rc)"
        echo "stop.err=$(esc $H/stop.err)"
        echo "content=$(cat $T/d.pid 2>&1)"
        "#,
    );
    o.expect("stop", 0, &[]);
    o.expect_eq("content", "NEW");
}

/// `--process-group` on a program started with `imp run` (no setsid): its process group
/// is the caller's own (here pgid 1, the sandbox init's). stop must never signal its
/// own group, the caller's, or -1 (RELIABILITY E3/E9: kill(0) killed the caller).
#[test]
fn so_process_group_of_callers_group_refused() {
    let o = sandbox("so-pgself").run(
        r#"
        $IMP run -p $T/r.pid -- $TDAEMON --dump $OUT/r.dump --sleep 1000 2>>$H/log &
        rp=$!
        waitfile $OUT/r.dump
        kv r $OUT/r.dump
        echo "mypgid=$(ps -o pgid= $$ | tr -d ' ')"
        # Same, from a shell that is its own group leader, running the stop.
        r stop spy $IMP stop -p $T/r.pid --process-group --timeout 2
        echo "survived=yes"
        echo "alive=$(alive $rp)"
        # Same from a shell that leads its own group (> 1): program, shell and imp stop
        # all share it.
        cat > $H/inner.sh <<'EOF'
$IMP_RUNNER $IMP_BIN run -p $T/g.pid -- $TDAEMON --dump $T/out/g.dump --sleep 1000 2>>$H/log &
while [ ! -e $T/out/g.dump ]; do sleep 0.02; done
echo "g.shellpgid=$(ps -o pgid= $$ | tr -d ' ')" > $H/inner.kv
strace -f -qq -A -o $H/spy.log -e signal=none -e trace=kill,tkill,tgkill,pidfd_send_signal,pidfd_open \
    $IMP_RUNNER $IMP_BIN stop -p $T/g.pid --process-group --timeout 2 2>$H/g.err
echo "g.rc=$?" >> $H/inner.kv
echo "g.survived=yes" >> $H/inner.kv
EOF
        setsid bash $H/inner.sh
        cat $H/inner.kv
        echo "g.err=$(esc $H/g.err)"
        kv g $OUT/g.dump
        "#,
    );
    o.expect_eq("survived", "yes");
    let pg = o.int("r.pgid");
    let mine = o.int("mypgid");
    o.check(pg == mine, "control: the program shares the caller's group");
    for s in o.spy.signals() {
        o.check(
            s.target.is_some_and(|t| t > 1),
            &format!("signalled the caller's own process group: {s:?}"),
        );
    }
    let rc = o.rc("stop");
    o.check(rc == 0 || rc == 6, "stopped (pid only) or refused");
    o.expect_eq("g.survived", "yes");
    let gpg = o.int("g.pgid");
    o.check(
        gpg > 1 && gpg == o.int("g.shellpgid"),
        "control: shared group > 1",
    );
    for s in o.spy.signals() {
        o.check(
            s.target.is_some_and(|t| t > 1),
            &format!("signalled the caller's own process group: {s:?}"),
        );
    }
    let rc = o.rc("g");
    o.check(rc == 0 || rc == 6, "stopped (pid only) or refused");
}
