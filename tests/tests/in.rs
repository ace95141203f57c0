//! IN — `imp run --init`, the container init (issue 12): as PID 1 of a fresh PID
//! namespace (`unshare --pid --fork --mount-proc`) and as a subreaper in the sandbox,
//! it reaps every orphan, passes signals and the exit status through, stops a program
//! that ignores SIGTERM with the stop schedule, and reports a failure before exec as
//! `run` does.

use imp_tests::*;

/// The shell helpers of these tests, before each script.
const NSINIT: &str = r#"
export OUT
# nsinit ARGS...: `imp run --init ARGS` as PID 1 of a new PID namespace, in the
# background; sets u (unshare's pid) and ip (imp's pid here, unshare's child).
nsinit() {
    unshare --pid --fork --mount-proc $IMP run --init "$@" & u=$!
    ip=
    for _ in $(seq 500); do ip=$(pgrep -P $u); [ -n "$ip" ] && break; sleep 0.02; done
}
# child PID: the first child of PID.
child() { local c; for _ in $(seq 500); do c=$(pgrep -P $1 | head -1); [ -n "$c" ] && break; sleep 0.02; done; echo "$c"; }
# zombies_of PID: the zombies whose parent is PID.
zombies_of() {
    local n=0 p l s
    for p in /proc/[0-9]*/stat; do
        read -r l < $p 2>/dev/null || continue
        s=${l##*) }; set -- $s
        [ "$1" = Z ] && [ "$2" = "$P" ] && n=$((n+1))
    done
    echo $n
}
# status_of PID KEY: a field of /proc/PID/status.
status_of() { sed -n "s/^$2:[[:space:]]*//p" /proc/$1/status 2>>$H/harness.err; }
# fds_of PID: the fd numbers PID has open, sorted, comma-separated.
fds_of() { ls /proc/$1/fd 2>>$H/harness.err | sort -n | paste -sd, -; }
"#;

fn script(body: &str) -> String {
    format!("{NSINIT}\n{body}")
}

/// As PID 1 of a new namespace: 100 orphans reparent to imp (PID 1 there) and are all
/// reaped — no zombie left, counted inside the namespace and from outside — and the
/// program's exit status is imp's. imp keeps only fds 0-2 and the same fds throughout.
#[test]
fn in01_pid1_reaps_orphans_and_passes_the_status() {
    // qemu-user: the init is the emulator (its pid is not the one the namespace's
    // numbering gives imp), and PR_SET_CHILD_SUBREAPER is not passed to the kernel.
    if emulated() {
        return;
    }
    let o = sandbox("in01").full().run(&script(
        r#"
        cat > $T/orphans.sh <<'EOF'
count() { # count STATE|any PPID: processes in that state (any) with that parent
    local n=0 p l s
    for p in /proc/[0-9]*/stat; do
        read -r l < $p 2>/dev/null || continue
        s=${l##*) }; set -- $s
        { [ "$1" = "$A" ] || [ "$A" = any ]; } && [ "$2" = "$B" ] && n=$((n+1))
    done
    echo $n
}
: > $OUT/go.wait
while [ ! -e $OUT/go ]; do sleep 0.02; done
for i in $(seq 100); do (sleep 2 &) ; done
A=any B=1; echo "orphans=$(count)" > $OUT/in.kv
sleep 3
A=Z B=1; echo "zombies=$(count)" >> $OUT/in.kv
echo "self=$$ parent=$PPID" >> $OUT/in.kv
: > $OUT/done.wait
while [ ! -e $OUT/end ]; do sleep 0.02; done
exit 7
EOF
        nsinit -- sh $T/orphans.sh
        echo "ip=$ip"
        waitfile $OUT/go.wait
        echo "fds.before=$(fds_of $ip)"
        touch $OUT/go
        waitfile $OUT/done.wait 20
        P=$ip; echo "outside.zombies=$(zombies_of)"
        echo "fds.after=$(fds_of $ip)"
        echo "sigign=$(status_of $ip SigIgn)"
        echo "sigcgt=$(status_of $ip SigCgt)"
        echo "nspid=$(status_of $ip NSpid)"
        touch $OUT/end
        wait $u; echo "rc=$?"
        tr ' ' '\n' < $OUT/in.kv | sed 's/^/in./'
        "#,
    ));
    let ip = o.int("ip");
    o.check(
        o.int("in.orphans") >= 95,
        "the orphans reparent to imp, PID 1 of the namespace",
    );
    o.expect_eq("in.zombies", "0");
    o.expect_eq("outside.zombies", "0");
    o.expect_eq("in.self", "2");
    o.expect_eq("in.parent", "1");
    o.expect_eq("nspid", &format!("{ip}\t1"));
    o.expect_eq("fds.before", "0,1,2");
    o.expect_eq("fds.after", "0,1,2");
    // No handler, nothing ignored. (SigBlk reads 0: rt_sigtimedwait unblocks the
    // signals it waits for while it waits.)
    o.expect_eq("sigign", "0000000000000000");
    o.expect_eq("sigcgt", "0000000000000000");
    o.expect_eq("rc", "7");
}

/// Signals pass through to the program as PID 1 of a namespace: SIGTERM (the program's
/// own handler runs, its status is imp's), SIGUSR1 (it dies of it: 128 + 10), SIGKILL
/// to the program itself (137); `--exit 7` gives 7. The program starts with no signal
/// blocked or ignored, as imp's child (ppid 1, pid 2 in the namespace).
#[test]
fn in02_signals_and_status_pass_through() {
    // qemu-user: the init is the emulator (its pid is not the one the namespace's
    // numbering gives imp), and PR_SET_CHILD_SUBREAPER is not passed to the kernel.
    if emulated() {
        return;
    }
    let o = sandbox("in02").full().run(&script(
        r#"
        nsinit -- $TDAEMON --dump $OUT/a.dump --term-marker $OUT/a.term --sleep 100
        waitfile $OUT/a.dump
        kv a $OUT/a.dump
        kill -TERM $ip
        wait $u; echo "term.rc=$?"
        echo "term.marker=$([ -e $OUT/a.term ] && echo yes || echo no)"
        nsinit -- $TDAEMON --dump $OUT/b.dump --sleep 100
        waitfile $OUT/b.dump
        kill -USR1 $ip
        wait $u; echo "usr1.rc=$?"
        nsinit -- $TDAEMON --dump $OUT/c.dump --sleep 100
        waitfile $OUT/c.dump
        kill -KILL $(child $ip)
        wait $u; echo "kill.rc=$?"
        r exit unshare --pid --fork --mount-proc $IMP run --init -- $TDAEMON --exit 7
        nsinit -- $TDAEMON --dump $OUT/d.dump --term-marker $OUT/d.term --sleep 100
        waitfile $OUT/d.dump
        kill -HUP $ip
        waitdead $ip 10
        wait $u; echo "hup.rc=$?"
        "#,
    ));
    o.expect_eq("a.pid", "2");
    o.expect_eq("a.ppid", "1");
    o.expect_eq("a.SigBlk", "0000000000000000");
    o.expect_eq("a.SigIgn", "0000000000000000");
    o.expect_eq("term.rc", "0");
    o.expect_eq("term.marker", "yes");
    o.expect_eq("usr1.rc", "138");
    o.expect_eq("kill.rc", "137");
    o.expect("exit", 7, &[]);
    o.expect_eq("hup.rc", "129");
}

/// A program that ignores SIGTERM: imp forwards it, then SIGKILLs it after `-t 1`
/// (exit 137, about 1 s later, never a hang); `-s HUP` sends HUP in place of the TERM
/// imp got (the schedule's first signal); `-R TERM/1/KILL/1` as dpkg.
#[test]
fn in03_ignored_sigterm_ends_in_the_stop_schedule() {
    let o = sandbox("in03").full().run(&script(
        r#"
        nsinit -t 1 -- $TDAEMON --dump $OUT/a.dump --ignore-term --sleep 100
        waitfile $OUT/a.dump
        t0=$(date +%s%N)
        kill -TERM $ip
        wait $u; echo "ignored.rc=$?"
        echo "ignored.ms=$(( ($(date +%s%N) - t0) / 1000000 ))"
        nsinit -s HUP -t 5 -- $TDAEMON --dump $OUT/b.dump --ignore-term --sleep 100
        waitfile $OUT/b.dump
        kill -TERM $ip
        wait $u; echo "hup.rc=$?"
        nsinit -R TERM/1/KILL/1 -- $TDAEMON --dump $OUT/c.dump --ignore-term --sleep 100
        waitfile $OUT/c.dump
        t0=$(date +%s%N)
        kill -TERM $ip
        wait $u; echo "retry.rc=$?"
        echo "retry.ms=$(( ($(date +%s%N) - t0) / 1000000 ))"
        "#,
    ));
    o.expect_eq("ignored.rc", "137");
    let ms = o.int("ignored.ms");
    o.check(
        (900..5000).contains(&ms),
        "SIGKILL about 1 s after the TERM",
    );
    o.expect_eq("hup.rc", "129");
    o.expect_eq("retry.rc", "137");
    let ms = o.int("retry.ms");
    o.check((900..5000).contains(&ms), "-R TERM/1/KILL/1");
}

/// Not PID 1 (in the sandbox): imp is a subreaper, so an orphaned grandchild's parent
/// becomes imp, and orphans are reaped (no zombie of imp's). When the program exits,
/// imp exits at once with its status (as tini does), leaving a live grandchild alone.
#[test]
fn in04_subreaper_when_not_pid1() {
    // qemu-user: the init is the emulator (its pid is not the one the namespace's
    // numbering gives imp), and PR_SET_CHILD_SUBREAPER is not passed to the kernel.
    if emulated() {
        return;
    }
    let o = sandbox("in04").full().run(&script(
        r#"
        $IMP run --init -- sh -c '(sleep 30 & echo $! > $OUT/gc); for i in $(seq 20); do (true &); done; : > $OUT/ready; while [ ! -e $OUT/end ]; do sleep 0.02; done; exit 4' &
        ip=$!
        echo "ip=$ip"
        waitfile $OUT/ready
        sleep 0.3
        gc=$(cat $OUT/gc)
        echo "gc.ppid=$(ppid_now $gc)"
        P=$ip; echo "zombies=$(zombies_of)"
        t0=$(date +%s%N)
        touch $OUT/end
        wait $ip; echo "rc=$?"
        echo "ms=$(( ($(date +%s%N) - t0) / 1000000 ))"
        echo "gc.alive=$(alive $gc)"
        kill $gc
        "#,
    ));
    let ip = o.int("ip");
    o.expect_eq("gc.ppid", &ip.to_string());
    o.expect_eq("zombies", "0");
    o.expect_eq("rc", "4");
    o.check(o.int("ms") < 3000, "imp exits with the program");
    o.expect_eq("gc.alive", "yes");
}

/// `--process-group`: the program leads its own group and imp's signals go to the
/// group (its background child dies with it); without it, only the program gets them.
#[test]
fn in05_process_group() {
    let o = sandbox("in05").full().run(&script(
        r#"
        prog='sleep 100 & echo $! > $OUT/bg.$1; wait'
        $IMP run --init --process-group -- sh -c "$prog" sh g &
        ip=$!
        waitfile $OUT/bg.g
        p=$(child $ip)
        echo "g.pgid=$(ps -o pgid= -p $p | tr -d ' ') g.p=$p g.ippgid=$(ps -o pgid= -p $ip | tr -d ' ')" | tr ' ' '\n'
        bg=$(cat $OUT/bg.g)
        kill -TERM $ip
        wait $ip; echo "g.rc=$?"
        waitdead $bg 5
        echo "g.bg=$(alive $bg)"
        $IMP run --init -- sh -c "$prog" sh n &
        ip=$!
        waitfile $OUT/bg.n
        bg=$(cat $OUT/bg.n)
        kill -TERM $ip
        wait $ip; echo "n.rc=$?"
        echo "n.bg=$(alive $bg)"
        kill $bg
        "#,
    ));
    o.expect_eq("g.pgid", o.get("g.p"));
    o.check(
        o.get("g.pgid") != o.get("g.ippgid"),
        "the program's group is not imp's",
    );
    o.expect_eq("g.rc", "143");
    o.expect_eq("g.bg", "no");
    o.expect_eq("n.rc", "143");
    o.expect_eq("n.bg", "yes");
}

/// With `-p`, the init holds the pidfile (which names imp, locked by imp): `status`
/// sees it running, `stop` ends it through the init (TERM forwarded, the program's
/// handler runs, imp exits 0 and removes its pidfile); a second `run --init` on the
/// same pidfile is "already running".
#[test]
fn in06_pidfile_names_the_init() {
    let o = sandbox("in06").full().run(&script(
        r#"
        $IMP run --init -p $T/i.pid -- $TDAEMON --dump $OUT/i.dump --term-marker $OUT/i.term --sleep 100 &
        ip=$!
        echo "ip=$ip"
        waitfile $OUT/i.dump
        kv i $OUT/i.dump
        echo "content=$(cat $T/i.pid)"
        echo "holder=$(lockholder $T/i.pid | cut -d, -f1-2)"
        echo "published=$(lockholder $T/i.pid | cut -d, -f3- | tr , "\n" | wc -l)"
        r st $IMP status -p $T/i.pid
        r again $IMP run --init -p $T/i.pid -- $TDAEMON --sleep 100
        r stop spy $IMP stop -p $T/i.pid
        wait $ip; echo "rc=$?"
        echo "marker=$([ -e $OUT/i.term ] && echo yes || echo no)"
        echo "pidfile=$([ -e $T/i.pid ] && echo yes || echo no)"
        "#,
    ));
    let ip = o.int("ip");
    o.expect_eq("i.ppid", &ip.to_string());
    o.expect_eq("content", &ip.to_string());
    o.expect_eq("holder", &daemon_locks(ip));
    // And what it publishes (pidfile::Field): the program, the restarts, its start.
    o.expect_eq("published", "3");
    o.expect_out("st", 0, &[&format!("running (pid {ip})")]);
    o.expect("again", 1, &["already running", &format!("(pid {ip})")]);
    o.expect("stop", 0, &[&format!("stopped (pid {ip})")]);
    o.assert_signals_only_to(&[ip]);
    o.expect_eq("rc", "0");
    o.expect_eq("marker", "yes");
    o.expect_eq("pidfile", "no");
}

/// A failure before exec is reported as `run` reports it (same line, same code: 5 for
/// a program not found, 1 for a chdir), as PID 1 too; `--init` only with `run`; `run`
/// takes the stop options only with `--init`; `--init --respawn` is refused; the
/// minimal build has no `--init`.
#[test]
fn in07_failures_and_usage() {
    let min = imp_minimal_bin();
    let o = sandbox("in07").full().run(&script(&format!(
        r#"
        M="${{IMP_RUNNER:+$IMP_RUNNER }}{min}"
        r plain $IMP run -- /nonexistent/prog
        r init $IMP run --init -- /nonexistent/prog
        r pid1 unshare --pid --fork --mount-proc $IMP run --init -- /nonexistent/prog
        r cd_plain $IMP run -d /nonexistent -- /bin/true
        r cd_init $IMP run --init -d /nonexistent -- /bin/true
        r start $IMP start --init -p $T/s.pid -- /bin/true
        r stop $IMP stop --init -p $T/s.pid
        r timeout $IMP run -t 1 -- /bin/true
        r pgroup $IMP run --process-group -- /bin/true
        r respawn $IMP run --init --respawn -- /bin/true
        r ok $IMP run --init -t 1 --process-group -s HUP -- /bin/true
        r min $M run --init -- /bin/true
        "#,
        min = min.display()
    )));
    o.expect(
        "plain",
        5,
        &["imp: run: exec /nonexistent/prog: No such file or directory (ENOENT)"],
    );
    for k in ["init", "pid1"] {
        o.expect_eq(&format!("{k}.err"), o.get("plain.err"));
        o.expect(k, 5, &[]);
    }
    o.expect("cd_plain", 1, &["chdir /nonexistent"]);
    o.expect_eq("cd_init.err", o.get("cd_plain.err"));
    o.expect("cd_init", 1, &[]);
    o.expect(
        "start",
        2,
        &["option not accepted by this command '--init'"],
    );
    o.expect("stop", 2, &["option not accepted by this command '--init'"]);
    o.expect("timeout", 2, &["option not accepted by this command '-t'"]);
    o.expect(
        "pgroup",
        2,
        &["option not accepted by this command '--process-group'"],
    );
    o.expect("respawn", 2, &["imp: usage:", "--respawn"]);
    o.expect("ok", 0, &[]);
    o.check(o.err("ok").is_empty(), "nothing said on success");
    // Unknown to the minimal build: imp-full's options have no room in its table.
    o.expect("min", 2, &["unknown option '--init'"]);
}
