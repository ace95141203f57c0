//! SP — start and daemonize (readiness SP-06/07 out of scope for now), plus the other
//! actions' basic contract: run, signal, restart, --dry-run, start options.

use imp_tests::*;

/// The daemon's fd set as numbers.
fn fds(o: &Outcome, prefix: &str) -> Vec<i64> {
    o.get(&format!("{prefix}.fds"))
        .split(',')
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().expect("fd number"))
        .collect()
}

/// Assert the daemon's fds are exactly 0, 1, 2, `kept`, and one pidfile fd above them
/// all, naming `pidfile` and open read-write; returns that fd.
fn assert_fds(o: &Outcome, prefix: &str, kept: &[i64], pidfile: &str) -> i64 {
    let f = fds(o, prefix);
    let max_kept = kept.iter().copied().chain([2]).max().unwrap_or(2);
    let lock: Vec<i64> = f
        .iter()
        .copied()
        .filter(|&x| x > 2 && !kept.contains(&x))
        .collect();
    o.check(
        lock.len() == 1 && f.len() == 4 + kept.len(),
        &format!("{prefix}: fds {f:?}: want 0,1,2 {kept:?} + the pidfile fd"),
    );
    for k in [0, 1, 2].iter().chain(kept) {
        o.check(f.contains(k), &format!("{prefix}: fd {k} open"));
    }
    let l = lock[0];
    o.check(
        l > max_kept,
        &format!("{prefix}: pidfile fd {l} above every kept fd"),
    );
    o.expect_eq(&format!("{prefix}.fd.{l}"), pidfile);
    // Read-only: the daemon cannot rewrite its pidfile (issue 8, F3).
    o.expect_eq(&format!("{prefix}.fdmode.{l}"), "r");
    l
}

/// Start, status, stop: messages, pidfile content and lock, the daemon's whole state
/// (SPEC §4, CLI-CONTRACT "Daemon state after start").
#[test]
fn sp_start_status_stop_and_daemon_state() {
    let o = sandbox("sp-basic").run(
        r#"
        echo "caller_sid=$(ps -o sid= $$ | tr -d ' ')"
        launch d
        X=$(dpid d)
        kv d $OUT/d.dump
        echo "hex=$(hex $T/d.pid)"
        echo "want=$(printf '%s\n' $X | od -An -tx1 | tr -d ' \n')"
        echo "holder=$(lockholder $T/d.pid)"
        echo "mode=$(stat -c '%a %u %g' $T/d.pid)"
        r st $IMP status -p $T/d.pid
        r stop spy $IMP stop -p $T/d.pid
        echo "alive=$(alive $X)"
        echo "exists=$([ -e $T/d.pid ] && echo yes || echo no)"
        r st2 $IMP status -p $T/d.pid
        echo "zombies=$(zombies)"
        echo "T=$T"
        "#,
    );
    let pid = o.int("d.pid");
    o.expect(
        "d.start",
        0,
        &[
            "imp: start: ",
            "/d.pid: started (pid",
            &format!("(pid {pid})"),
        ],
    );
    o.expect_eq("hex", o.get("want"));
    o.expect_eq("holder", &daemon_locks(pid));
    o.expect_eq("mode", "644 0 0");
    o.expect_eq("d.ppid_now", "1");
    o.check(o.int("d.sid") != pid, "not a session leader (double fork)");
    o.check(o.get("d.sid") != o.get("caller_sid"), "own session");
    o.check(o.int("d.pgid") != pid, "not a process group leader either");
    o.expect_eq("d.tty_nr", "0");
    o.expect_eq("d.umask", "0022");
    o.expect_eq("d.cwd", "/");
    o.expect_eq("d.fd.0", "/dev/null");
    o.expect_eq("d.fdmode.0", "r");
    o.expect_eq("d.fd.1", "/dev/null");
    o.expect_eq("d.fd.2", "/dev/null");
    assert_fds(&o, "d", &[], &format!("{}/d.pid", o.get("T")));
    o.expect_eq("d.SigBlk", "0000000000000000");
    o.expect_eq("d.SigIgn", "0000000000000000");
    o.expect_eq("d.Uid", "0 0 0 0");
    o.expect_eq("d.env.HOME", "/root");
    o.expect_out("st", 0, &[&format!("running (pid {pid})")]);
    o.expect("stop", 0, &[&format!("stopped (pid {pid})")]);
    o.assert_signals_only_to(&[pid]);
    o.expect_eq("alive", "no");
    o.expect_eq("exists", "no");
    o.expect_out("st2", 3, &["not running"]);
    o.expect_eq("zombies", "0");
}

/// A second start: 0 `already running (pid N)`, the pidfile untouched, program not run.
#[test]
fn sp_already_running() {
    let o = sandbox("sp-already").run(
        r#"
        launch d
        before=$(stat -c '%i %s %y' $T/d.pid)
        sleep 0.05
        SPYTRACE=$SPYCALLS,openat,open,creat,truncate,ftruncate r again spy $IMP start -p $T/d.pid -- $TDAEMON --marker $OUT/m --sleep 100
        sleep 0.3
        echo "same=$([ "$before" = "$(stat -c '%i %s %y' $T/d.pid)" ] && echo yes || echo no)"
        echo "ran=$([ -e $OUT/m ] && echo yes || echo no)"
        echo "n=$(nprocs "$TDAEMON")"
        "#,
    );
    let pid = o.int("d.pid");
    o.expect("again", 0, &[&format!("already running (pid {pid})")]);
    o.expect_eq("same", "yes");
    o.expect_eq("ran", "no");
    o.expect_eq("n", "1");
    o.assert_no_signals();
    for c in &o.spy.calls {
        let a = c.args.join(", ");
        o.check(
            !(c.name.contains("truncate") || (a.contains("d.pid") && a.contains("O_TRUNC"))),
            &format!("a second start never truncates: {}({a})", c.name),
        );
    }
}

/// SP-03: the pidfile is complete when start returns (scaled: 200 cycles).
#[test]
fn sp03_pidfile_complete_on_return() {
    let o = sandbox("sp03").timeout(240).run(
        r#"
        P=$T/c.pid
        bad=0; fail=0
        for i in $(seq 200); do
            if ! $IMP start -p $P -- $TDAEMON --dump $OUT/c.dump --sleep 100 2>>$H/errs; then
                fail=$((fail + 1)); continue
            fi
            IFS= read -r -d '' content < $P
            waitfile $OUT/c.dump || { fail=$((fail + 1)); continue; }
            pid=$(dpid c)
            if [ "$content" != "$pid"$'\n' ]; then
                bad=$((bad + 1)); echo "mismatch.$i=$(printf %q "$content") vs $pid"
            fi
            rm -f $OUT/c.dump
            $IMP stop -p $P 2>>$H/errs || fail=$((fail + 1))
        done
        echo "bad=$bad"
        echo "fail=$fail"
        echo "left=$(nprocs "$TDAEMON")"
        "#,
    );
    o.expect_eq("fail", "0");
    o.expect_eq("bad", "0");
    o.expect_eq("left", "0");
}

/// E13/E14: exec failures are reported (exit 5), nothing left behind.
#[test]
fn sp_exec_failures() {
    let o = sandbox("sp-exec").run(
        r#"
        printf 'hello\n' > $T/noexec; chmod 0644 $T/noexec
        printf '#!/nonexistent/interp\n' > $T/badinterp; chmod 0755 $T/badinterp
        printf '\x01\x02garbage' > $T/garbage; chmod 0755 $T/garbage
        mkdir $T/adir
        i=0
        for prog in $T/missing $T/noexec $T/badinterp $T/garbage $T/adir; do
            r e$i $IMP start -p $T/e$i.pid -- $prog
            echo "e$i.pidfile=$([ -e $T/e$i.pid ] && echo yes || echo no)"
            i=$((i + 1))
        done
        echo "procs=$(ls -d /proc/[0-9]* | wc -l)"
        "#,
    );
    let cases = [
        ("e0", "No such file or directory"),
        ("e1", "Permission denied"),
        ("e2", "No such file or directory"),
        ("e3", "Exec format error"),
        ("e4", "Permission denied"),
    ];
    for (n, why) in cases {
        o.expect(n, 5, &["exec", why]);
        o.expect_eq(&format!("{n}.pidfile"), "no");
    }
    o.check(o.int("procs") <= 6, "no process left behind");
}

/// SP-05: failures between fork and exec are reported with the right cause.
#[test]
fn sp05_failures_before_exec() {
    let o = sandbox("sp05").run(
        r#"
        mkdir $T/ro; ro $T/ro
        mkdir $T/u; chown 1000:1000 $T/u
        r chdir $IMP start -p $T/a.pid --chdir /nonexistent -- $TDAEMON --marker $OUT/a --sleep 100
        r user $IMP start -p $T/b.pid --user nosuchuser -- $TDAEMON --marker $OUT/b --sleep 100
        r eperm asuser $IMP start -p $T/u/c.pid --user nobody -- $TDAEMON --marker $OUT/c --sleep 100
        r stdout $IMP start -p $T/d.pid --stdout $T/ro/log -- $TDAEMON --marker $OUT/d --sleep 100
        r output $IMP start -p $T/e.pid -o $T/ro/log -- $TDAEMON --marker $OUT/e --sleep 100
        r chroot $IMP start -p $T/f.pid --chroot /nonexistent -- $TDAEMON --marker $OUT/f --sleep 100
        sleep 0.3
        echo "markers=$(ls $OUT | wc -l)"
        echo "pidfiles=$(ls $T/*.pid $T/u/*.pid 2>>$H/log | wc -l)"
        echo "n=$(nprocs "$TDAEMON")"
        "#,
    );
    o.expect(
        "chdir",
        1,
        &["chdir", "/nonexistent", "No such file or directory"],
    );
    o.expect("user", 2, &["unknown user", "nosuchuser"]);
    o.expect("eperm", 4, &["Operation not permitted"]);
    o.expect("stdout", 1, &["Read-only file system", "/ro/log"]);
    o.expect("output", 1, &["Read-only file system"]);
    o.expect("chroot", 1, &["chroot", "No such file or directory"]);
    o.expect_eq("markers", "0");
    o.expect_eq("pidfiles", "0");
    o.expect_eq("n", "0");
}

/// SP-08: no session leadership, no controlling terminal, survives the pty's hangup.
#[test]
fn sp08_no_controlling_terminal() {
    let o = sandbox("sp08").run(
        r#"
        cat > $H/inner.sh <<'EOF'
tty=$(tty)
echo "tty=$tty" > $H/inner.kv
echo "caller_sid=$(ps -o sid= $$ | tr -d ' ')" >> $H/inner.kv
echo "caller_pgid=$(ps -o pgid= $$ | tr -d ' ')" >> $H/inner.kv
$IMP_RUNNER $IMP_BIN start -p $T/d.pid -- $TDAEMON --open-tty $tty --dump $T/out/d.dump --sleep 1000 2>>$H/inner.err
echo "start.rc=$?" >> $H/inner.kv
# The pty lives as long as script(1), which ends with this script: wait until the
# daemon has opened it and written its dump (it failed with ENOENT once under
# qemu-mipsel on a loaded machine, the pty already gone).
for i in $(seq 600); do [ -s $T/out/d.dump ] && break; sleep 0.05; done
EOF
        script -qfec "bash $H/inner.sh" $H/typescript </dev/null >>$H/log 2>&1
        echo "script.rc=$?"
        cat $H/inner.kv
        waitfile $OUT/d.dump
        kv d $OUT/d.dump
        echo "d.ppid_now=$(ppid_now $(dpid d))"
        sleep 2
        echo "alive=$(alive $(dpid d))"
        "#,
    );
    o.expect_eq("script.rc", "0");
    o.expect_eq("start.rc", "0");
    o.check(
        o.get("tty").starts_with("/dev/pts/"),
        "the caller had a pty",
    );
    let pid = o.int("d.pid");
    o.check(o.int("d.sid") != pid, "daemon is not a session leader");
    o.check(
        o.get("d.sid") != o.get("caller_sid"),
        "daemon sid != caller sid",
    );
    o.check(
        o.get("d.pgid") != o.get("caller_pgid"),
        "daemon pgid != caller pgid",
    );
    o.expect_eq("d.tty_nr", "0");
    o.expect_eq("d.open_tty", "ok");
    o.expect_eq("d.tty_nr_after", "0");
    o.expect_eq("d.ppid_now", "1");
    o.expect_eq("alive", "yes");
}

/// SP-09: no inherited file descriptors (regular file, pipe, socket, 255, 1000).
#[test]
fn sp09_no_inherited_fds() {
    let o = sandbox("sp09").run(
        r#"
        wrapper() {
            bash -c 'exec 3>$T/reg 4< <(sleep 1000) 255>$T/f255 1000>$T/f1000; exec "$@"' wrapper \
                $TDAEMON --socket-fd 7 --exec "$@"
        }
        wrapper $TDAEMON --dump $OUT/ctl.dump
        kv ctl $OUT/ctl.dump
        r start wrapper $IMP start -p $T/d.pid -- $TDAEMON --dump $OUT/d.dump --sleep 1000
        waitfile $OUT/d.dump
        kv d $OUT/d.dump
        echo "T=$T"
        "#,
    );
    // Control: the wrapper really passes these fds to a program it execs.
    o.expect_eq("ctl.fds", "0,1,2,3,4,7,255,1000");
    o.expect("start", 0, &["started"]);
    let t = o.get("T").to_string();
    assert_fds(&o, "d", &[], &format!("{t}/d.pid"));
    o.expect_eq("d.fd.0", "/dev/null");
    o.expect_eq("d.fdmode.0", "r");
    o.expect_eq("d.fd.1", "/dev/null");
    o.expect_eq("d.fd.2", "/dev/null");
}

/// SP-10: started with fds 0-2 closed: the pidfile is clean, stdio is /dev/null or the
/// log file, the pidfile fd is not 0-2.
#[test]
fn sp10_started_with_stdio_closed() {
    let o = sandbox("sp10").run(
        r#"
        SPYTRACE=openat,pipe2,pipe,dup2,dup3,fcntl spy $IMP start -p $T/d.pid -- $TDAEMON --say-hello --dump $OUT/d.dump --sleep 1000 <&- >&- 2>&-
        echo "a.rc=$?"
        waitfile $OUT/d.dump
        kv d $OUT/d.dump
        echo "hex=$(hex $T/d.pid)"
        echo "want=$(printf '%s\n' $(dpid d) | od -An -tx1 | tr -d ' \n')"
        $IMP start -p $T/e.pid -o $T/e.log -- $TDAEMON --say-hello --dump $OUT/e.dump --sleep 1000 <&- >&- 2>&-
        echo "b.rc=$?"
        waitfile $OUT/e.dump
        kv e $OUT/e.dump
        sleep 0.3
        echo "ehex=$(hex $T/e.pid)"
        echo "ewant=$(printf '%s\n' $(dpid e) | od -An -tx1 | tr -d ' \n')"
        echo "log=$(esc $T/e.log)"
        echo "T=$T"
        "#,
    );
    o.expect_eq("a.rc", "0");
    o.expect_eq("hex", o.get("want"));
    // The pidfile and the report pipe never land on fd 0-2 (strace of imp, up to exec).
    let mut seen_pidfile = false;
    for c in &o.spy.calls {
        let a = c.args.join(", ");
        if (c.name == "openat" || c.name == "open") && a.contains("d.pid") {
            seen_pidfile = true;
            o.check(
                c.ret.is_some_and(|fd| fd > 2),
                &format!("pidfile opened on fd 0-2: {a} = {:?}", c.ret),
            );
        }
        if c.name.starts_with("pipe") {
            o.check(
                !a.starts_with("[0")
                    && !a.starts_with("[1,")
                    && !a.starts_with("[2,")
                    && !a.contains(", 0]")
                    && !a.contains(", 1]")
                    && !a.contains(", 2]"),
                &format!("report pipe on fd 0-2: {}({a})", c.name),
            );
        }
    }
    o.check(seen_pidfile, "strace saw the pidfile open");
    let t = o.get("T").to_string();
    assert_fds(&o, "d", &[], &format!("{t}/d.pid"));
    o.expect_eq("d.fd.0", "/dev/null");
    o.expect_eq("d.fd.1", "/dev/null");
    o.expect_eq("d.fd.2", "/dev/null");
    o.expect_eq("b.rc", "0");
    o.expect_eq("ehex", o.get("ewant"));
    o.expect_eq("log", "hello\\nhello");
    assert_fds(&o, "e", &[], &format!("{t}/e.pid"));
    o.expect_eq("e.fd.1", &format!("{t}/e.log"));
    o.expect_eq("e.fd.2", &format!("{t}/e.log"));
}

/// SP-12: umask and working directory are defined whatever the caller's; the caller's
/// cwd mount is not kept busy.
#[test]
fn sp12_umask_and_cwd() {
    let o = sandbox("sp12").run(
        r#"
        mkdir $T/scratch $T/wd
        mount -t tmpfs -o mode=0755 scratch $T/scratch
        for um in 077 000; do
            (cd $T/scratch && umask $um && r s$um $IMP start -p $T/s$um.pid -- $TDAEMON --dump $OUT/s$um.dump --sleep 1000)
            waitfile $OUT/s$um.dump
            kv s$um $OUT/s$um.dump
        done
        umount $T/scratch; echo "umount.rc=$?"
        (umask 077; r m $IMP start -p $T/m.pid --umask 027 --chdir $T/wd -- $TDAEMON --dump $OUT/m.dump --sleep 1000)
        waitfile $OUT/m.dump
        kv m $OUT/m.dump
        echo "T=$T"
        "#,
    );
    for um in ["077", "000"] {
        o.expect(&format!("s{um}"), 0, &["started"]);
        o.expect_eq(&format!("s{um}.umask"), "0022");
        o.expect_eq(&format!("s{um}.cwd"), "/");
    }
    o.expect_eq("umount.rc", "0");
    o.expect("m", 0, &["started"]);
    o.expect_eq("m.umask", "0027");
    o.expect_eq("m.cwd", &format!("{}/wd", o.get("T")));
}

/// SP-13: fork fails with EAGAIN (RLIMIT_NPROC for uid 1000): exit 1 at once, nothing
/// left; the same command works once the limit is lifted.
#[test]
fn sp13_fork_eagain() {
    if imp_tests::emulated() {
        // qemu-user needs a thread of its own: with RLIMIT_NPROC at 1 the emulator
        // aborts before imp runs. The limit is imp's to report only natively.
        eprintln!("sp13: skipped under {}", imp_tests::imp_runner());
        return;
    }
    let o = sandbox("sp13").run(
        r#"
        mkdir $T/u; chown 1000:1000 $T/u
        r a asuser prlimit --nproc=1:1 $IMP start -p $T/u/d.pid -- $TDAEMON --marker $OUT/m --dump $OUT/d.dump --sleep 1000
        sleep 0.2
        echo "a.pidfile=$([ -e $T/u/d.pid ] && echo yes || echo no)"
        echo "a.ran=$([ -e $OUT/m ] && echo yes || echo no)"
        echo "a.n=$(nprocs "$TDAEMON")"
        r b asuser $IMP start -p $T/u/d.pid -- $TDAEMON --marker $OUT/m --dump $OUT/d.dump --sleep 1000
        waitfile $OUT/d.dump
        echo "b.uid=$(sed -n 's/^Uid=//p' $OUT/d.dump)"
        "#,
    );
    o.expect("a", 1, &["fork", "Resource temporarily unavailable"]);
    o.check(o.ms("a") < 5000, "fails at once, no retry loop");
    o.expect_eq("a.pidfile", "no");
    o.expect_eq("a.ran", "no");
    o.expect_eq("a.n", "0");
    o.expect("b", 0, &["started"]);
    o.expect_eq("b.uid", "1000 1000 1000 1000");
}

/// SP-14: HOME, USER, LOGNAME are the target user's with --user.
#[test]
fn sp14_environment_for_user() {
    let o = sandbox("sp14").run(
        r#"
        add_group tuser 2000
        add_user tuser 2000 2000 $T/home
        r a $IMP start -p $T/a.pid --user nobody -- $TDAEMON --dump $OUT/a.dump --sleep 1000
        r b $IMP start -p $T/b.pid --user tuser -- $TDAEMON --dump $OUT/b.dump --sleep 1000
        waitfile $OUT/a.dump; waitfile $OUT/b.dump
        kv a $OUT/a.dump; kv b $OUT/b.dump
        echo "T=$T"
        "#,
    );
    o.expect("a", 0, &["started"]);
    o.expect_eq("a.env.HOME", "/nonexistent");
    o.expect_eq("a.env.USER", "nobody");
    o.expect_eq("a.env.LOGNAME", "nobody");
    o.expect("b", 0, &["started"]);
    o.expect_eq("b.env.HOME", &format!("{}/home", o.get("T")));
    o.expect_eq("b.env.USER", "tuser");
    o.expect_eq("b.env.LOGNAME", "tuser");
    o.check(
        !o.stdout
            .lines()
            .any(|l| l.starts_with("a.env.") && l.ends_with("=/root")),
        "the caller's HOME does not leak",
    );
}

/// -o / --stdout / --stderr: O_APPEND, created 0640, existing content kept.
#[test]
fn sp_output_files() {
    let o = sandbox("sp-output").run(
        r#"
        printf 'old\n' > $T/old.log
        r a $IMP start -p $T/a.pid -o $T/old.log -- $TDAEMON --say-hello --dump $OUT/a.dump --sleep 1000
        r b $IMP start -p $T/b.pid --stdout $T/b.out --stderr $T/b.err -- $TDAEMON --say-hello --dump $OUT/b.dump --sleep 1000
        (umask 000; r c $IMP start -p $T/c.pid -o $T/c.log -- $TDAEMON --say-hello --dump $OUT/c.dump --sleep 1000)
        for x in a b c; do waitfile $OUT/$x.dump; kv $x $OUT/$x.dump; done
        sleep 0.3
        echo "old=$(esc $T/old.log)"
        echo "bout=$(esc $T/b.out)"
        echo "berr=$(esc $T/b.err)"
        echo "bmode=$(stat -c %a $T/b.out) $(stat -c %a $T/b.err)"
        echo "cmode=$(stat -c '%a %u' $T/c.log)"
        "#,
    );
    for x in ["a", "b", "c"] {
        o.expect(x, 0, &["started"]);
    }
    o.expect_eq("old", "old\\nhello\\nhello");
    o.expect_eq("a.fdmode.1", "w,append");
    o.expect_eq("a.fdmode.2", "w,append");
    o.expect_eq("bout", "hello");
    o.expect_eq("berr", "hello");
    o.expect_eq("bmode", "640 640");
    o.expect_eq("cmode", "640 0");
    o.expect_eq("b.fd.0", "/dev/null");
}

/// -e / --clear-env / -k / -N.
#[test]
fn sp_env_keepfd_nice() {
    let o = sandbox("sp-opts").run(
        r#"
        r a env FOO=inherited $IMP start -p $T/a.pid -e BAR=set -e 'SP=a b' -- $TDAEMON --dump $OUT/a.dump --sleep 1000
        r b env FOO=inherited $IMP start -p $T/b.pid --clear-env -e ONLY=1 -- $TDAEMON --dump $OUT/b.dump --sleep 1000
        exec 5>$T/k5 9>$T/k9
        r c $IMP start -p $T/c.pid -k 5 -k 9 -- $TDAEMON --dump $OUT/c.dump --sleep 1000
        exec 5>&- 9>&-
        r d $IMP start -p $T/d.pid -k 8 -- $TDAEMON --marker $OUT/m --sleep 1000
        r e $IMP start -p $T/e.pid -N 7 -- $TDAEMON --dump $OUT/e.dump --sleep 1000
        for x in a b c e; do waitfile $OUT/$x.dump; kv $x $OUT/$x.dump; done
        echo "T=$T"
        echo "d.pidfile=$([ -e $T/d.pid ] && echo yes || echo no)"
        "#,
    );
    let t = o.get("T").to_string();
    o.expect("a", 0, &["started"]);
    o.expect_eq("a.env.FOO", "inherited");
    o.expect_eq("a.env.BAR", "set");
    o.expect_eq("a.env.SP", "a b");
    o.expect("b", 0, &["started"]);
    o.expect_eq("b.env.ONLY", "1");
    o.expect_eq("b.env_count", "1");
    o.expect("c", 0, &["started"]);
    assert_fds(&o, "c", &[5, 9], &format!("{t}/c.pid"));
    o.expect_eq("c.fd.5", &format!("{t}/k5"));
    o.expect_eq("c.fd.9", &format!("{t}/k9"));
    o.expect("d", 2, &["Bad file descriptor"]);
    o.expect_eq("d.pidfile", "no");
    o.expect("e", 0, &["started"]);
    o.expect_eq("e.nice", "7");
}

/// `run`: same preparation, no fork: the program is imp's own process and holds the lock.
#[test]
fn sp_run_execs_in_place() {
    let o = sandbox("sp-run").run(
        r#"
        $IMP run -p $T/r.pid -- $TDAEMON --dump $OUT/r.dump --sleep 1000 2>>$H/log &
        rp=$!
        echo "rp=$rp"
        waitfile $OUT/r.dump
        kv r $OUT/r.dump
        echo "holder=$(lockholder $T/r.pid)"
        echo "content=$(cat $T/r.pid)"
        r st $IMP status -p $T/r.pid
        r stop spy $IMP stop -p $T/r.pid
        r nopid $IMP run -- $TDAEMON --dump $OUT/n.dump --exit 3
        waitfile $OUT/n.dump
        "#,
    );
    let rp = o.int("rp");
    o.expect_eq("r.pid", &rp.to_string());
    o.expect_eq("holder", &daemon_locks(rp));
    o.expect_eq("content", &rp.to_string());
    o.expect_out("st", 0, &[&format!("running (pid {rp})")]);
    o.expect("stop", 0, &["stopped"]);
    o.assert_signals_only_to(&[rp]);
    o.check(
        o.rc("nopid") == 3,
        "run without -p: the program's own exit status",
    );
}

/// `signal`: names and numbers; not running -> 7.
#[test]
fn sp_signal_action() {
    // Signal numbers are the architecture's: SIGCONT is 18 on x86 and ARM, 25 on MIPS.
    let target = std::env::var("IMP_TARGET").unwrap_or_default();
    let mips = target.starts_with("mips") || imp_bin().to_string_lossy().contains("/mips");
    let cont = if mips { "25" } else { "18" };
    let o = sandbox("sp-signal").run(
        &r#"
        launch d --term-marker $OUT/d.term
        X=$(dpid d)
        r cont1 spy $IMP signal -p $T/d.pid CONT
        r cont2 spy $IMP signal -p $T/d.pid SIGCONT
        r cont3 spy $IMP signal -p $T/d.pid CONTNUM
        r term spy $IMP signal -p $T/d.pid TERM
        waitfile $OUT/d.term
        waitdead $X
        echo "term=$([ -e $OUT/d.term ] && echo yes || echo no)"
        r gone spy $IMP signal -p $T/d.pid TERM
        rm -f $T/d.pid
        r none spy $IMP signal -p $T/d.pid TERM
        "#
        .replace("CONTNUM", cont),
    );
    let pid = o.int("d.pid");
    for n in ["cont1", "cont2", "cont3"] {
        o.expect(n, 0, &["sent SIGCONT", &format!("(pid {pid})")]);
    }
    o.expect("term", 0, &["sent SIGTERM"]);
    o.expect_eq("term", "yes");
    o.expect("gone", 7, &["not running"]);
    o.expect("none", 7, &["not running"]);
    o.assert_signals_only_to(&[pid]);
    assert_eq!(
        o.spy.signals_to(pid),
        vec!["SIGCONT", "SIGCONT", "SIGCONT", "SIGTERM"],
        "{}",
        o.ctx()
    );
}

/// `restart`: stop then start; also starts when not running.
#[test]
fn sp_restart() {
    let o = sandbox("sp-restart").run(
        r#"
        launch d
        X=$(dpid d)
        rm $OUT/d.dump
        r re $IMP restart -p $T/d.pid -- $TDAEMON --dump $OUT/d.dump --sleep 1000
        waitfile $OUT/d.dump
        echo "new=$(dpid d)"
        echo "old_alive=$(alive $X)"
        r st $IMP status -p $T/d.pid
        r re2 $IMP restart -p $T/n.pid -- $TDAEMON --dump $OUT/n.dump --sleep 1000
        waitfile $OUT/n.dump
        r st2 $IMP status -p $T/n.pid
        # The old daemon ignores SIGTERM: restart escalates after -t, then starts.
        launch i --ignore-term
        rm $OUT/i.dump
        r re3 spy $IMP restart -p $T/i.pid -t 1 -- $TDAEMON --dump $OUT/i.dump --sleep 1000
        waitfile $OUT/i.dump
        echo "i.new=$(dpid i)"
        "#,
    );
    let new = o.int("new");
    o.check(new != o.int("d.pid"), "a new process");
    o.expect("re", 0, &[&format!("started (pid {new})")]);
    o.expect_eq("old_alive", "no");
    o.expect_out("st", 0, &[&format!("running (pid {new})")]);
    o.expect("re2", 0, &["started"]);
    o.expect_out("st2", 0, &["running"]);
    o.expect("re3", 0, &[&format!("started (pid {})", o.get("i.new"))]);
    o.check(
        o.get("i.new") != o.get("i.pid"),
        "a new daemon after the escalation",
    );
    o.check(
        o.spy.signals_to(o.int("i.pid")).contains(&"SIGKILL".into()),
        "old one killed",
    );
}

/// --dry-run prints the steps and does nothing.
#[test]
fn sp_dry_run() {
    let o = sandbox("sp-dry").run(
        r#"
        r a $IMP start --dry-run -p $T/d.pid -- $TDAEMON --marker $OUT/m --sleep 100
        sleep 0.2
        echo "pidfile=$([ -e $T/d.pid ] && echo yes || echo no)"
        echo "ran=$([ -e $OUT/m ] && echo yes || echo no)"
        "#,
    );
    o.expect("a", 0, &[]);
    o.check(!o.out("a").is_empty(), "the steps are printed on stdout");
    o.expect_eq("pidfile", "no");
    o.expect_eq("ran", "no");
}

/// E19: the caller's blocked and ignored signals do not leak into the daemon (SPEC §4:
/// all signals unblocked and at default disposition).
#[test]
fn sp_signal_mask_and_dispositions_reset() {
    let o = sandbox("sp-sigs").run(
        r#"
        $TDAEMON --block HUP,TERM,USR1 --ignore PIPE,HUP,INT --exec $TDAEMON --dump $OUT/ctl.dump
        kv ctl $OUT/ctl.dump
        r a $TDAEMON --block HUP,TERM,USR1 --ignore PIPE,HUP,INT --exec $IMP start -p $T/d.pid -- $TDAEMON --dump $OUT/d.dump --sleep 1000
        waitfile $OUT/d.dump
        kv d $OUT/d.dump
        r stop spy $TDAEMON --block HUP,TERM --exec $IMP stop -p $T/d.pid --timeout 3
        echo "alive=$(alive $(dpid d))"
        "#,
    );
    // Control: the wrapper really blocks/ignores them.
    o.expect_eq("ctl.SigBlk", "0000000000004201");
    o.expect_eq("ctl.SigIgn", "0000000000001003");
    o.expect("a", 0, &["started"]);
    o.expect_eq("d.SigBlk", "0000000000000000");
    o.expect_eq("d.SigIgn", "0000000000000000");
    o.expect_eq("d.SigCgt", "0000000000000000");
    o.expect("stop", 0, &["stopped"]);
    o.check(
        !o.spy.signals_to(o.int("d.pid")).contains(&"SIGKILL".into()),
        "SIGTERM was enough (not blocked in the daemon)",
    );
    o.expect_eq("alive", "no");
}

/// SPEC §3: kept fds never take the lock away: -k 3..6 (3 is where the pidfile fd would
/// naturally land) and the daemon still holds the lock on its own, higher fd.
#[test]
fn sp_keep_fd_does_not_drop_the_lock() {
    let o = sandbox("sp-keeplock").run(
        r#"
        exec 3>$T/k3 4>$T/k4 5>$T/k5 6>$T/k6
        r a $IMP start -p $T/d.pid -k 3 -k 4 -k 5 -k 6 -- $TDAEMON --dump $OUT/d.dump --sleep 1000
        exec 3>&- 4>&- 5>&- 6>&-
        waitfile $OUT/d.dump
        kv d $OUT/d.dump
        echo "holder=$(lockholder $T/d.pid)"
        r st $IMP status -p $T/d.pid
        r again $IMP start -p $T/d.pid -- $TDAEMON --marker $OUT/m --sleep 1000
        echo "T=$T"
        "#,
    );
    o.expect("a", 0, &["started"]);
    let pid = o.int("d.pid");
    let t = o.get("T").to_string();
    assert_fds(&o, "d", &[3, 4, 5, 6], &format!("{t}/d.pid"));
    o.expect_eq("holder", &daemon_locks(pid));
    o.expect_out("st", 0, &[&format!("running (pid {pid})")]);
    o.expect("again", 0, &["already running"]);
}

/// --chroot: the program runs inside DIR (a static busybox), the pidfile outside.
#[test]
fn sp_chroot() {
    let o = sandbox("sp-chroot").run(
        r#"
        mkdir -p $T/root/bin $T/root/tmp
        cp /usr/bin/busybox $T/root/bin/busybox
        r a $IMP start -p $T/c.pid --chroot $T/root --chdir /tmp -- /bin/busybox sleep 1000
        X=$(cat $T/c.pid)
        echo "root=$(readlink /proc/$X/root)"
        echo "cwd=$(readlink /proc/$X/cwd)"
        r st $IMP status -p $T/c.pid
        r stop $IMP stop -p $T/c.pid
        echo "T=$T"
        "#,
    );
    o.expect("a", 0, &["started"]);
    let t = o.get("T").to_string();
    o.expect_eq("root", &format!("{t}/root"));
    o.expect_eq("cwd", &format!("{t}/root/tmp"));
    o.expect_out("st", 0, &["running"]);
    o.expect("stop", 0, &["stopped"]);
}

/// --user with -o: the log file is opened before the drop (root dir), so the daemon
/// running as nobody still gets its output there.
#[test]
fn sp_output_file_with_user() {
    let o = sandbox("sp-outuser").run(
        r#"
        r a $IMP start -p $T/a.pid --user nobody -o $T/a.log -- $TDAEMON --say-hello --dump $OUT/a.dump --sleep 1000
        waitfile $OUT/a.dump
        sleep 0.3
        kv a $OUT/a.dump
        echo "log=$(esc $T/a.log)"
        echo "logstat=$(stat -c '%a' $T/a.log)"
        "#,
    );
    o.expect("a", 0, &["started"]);
    o.expect_eq("a.Uid", "65534 65534 65534 65534");
    o.expect_eq("log", "hello\\nhello");
    o.expect_eq("logstat", "640");
}

/// A program that exits at once: start still reports success (exec succeeded), and the
/// left-over pidfile is stale afterwards.
#[test]
fn sp_program_exits_immediately() {
    let o = sandbox("sp-exit").run(
        r#"
        r a $IMP start -p $T/a.pid -- $TDAEMON --marker $OUT/m --exit 3
        waitfile $OUT/m
        sleep 0.3
        r st $IMP status -p $T/a.pid
        r stop spy $IMP stop -p $T/a.pid
        "#,
    );
    o.expect("a", 0, &["started"]);
    let st = o.rc("st");
    o.check(
        st == 1 || st == 3,
        "afterwards: stale (1) or no pidfile (3)",
    );
    o.expect("stop", 0, &["not running"]);
    o.assert_no_signals();
}

/// -q silences success lines, never errors.
#[test]
fn sp_quiet() {
    let o = sandbox("sp-quiet").run(
        r#"
        r a $IMP start -q -p $T/d.pid -- $TDAEMON --sleep 1000
        r b $IMP start -q -p $T/d.pid -- $TDAEMON --sleep 1000
        r c $IMP stop -q -p $T/d.pid
        r d $IMP start -q -p $T/e.pid --chdir /nonexistent -- $TDAEMON --sleep 1000
        "#,
    );
    o.expect("a", 0, &[]);
    o.expect_eq("a.err", "");
    o.expect_eq("c.err", "");
    o.expect("d", 1, &["chdir"]);
}

/// `run` with --user and inherited stdio: the program itself holds the lock, dropped.
#[test]
fn sp_run_with_user_keeps_stdio() {
    let o = sandbox("sp-runuser").run(
        r#"
        $IMP run -p $T/r.pid --user nobody -- $TDAEMON --say-hello --dump $OUT/r.dump --sleep 1000 >$H/run.out 2>$H/run.err &
        rp=$!
        waitfile $OUT/r.dump
        sleep 0.2
        echo "rp=$rp"
        kv r $OUT/r.dump
        echo "holder=$(lockholder $T/r.pid)"
        echo "out=$(esc $H/run.out)"
        echo "stat=$(stat -c '%a %u' $T/r.pid)"
        "#,
    );
    let rp = o.int("rp");
    o.expect_eq("r.pid", &rp.to_string());
    o.expect_eq("r.Uid", "65534 65534 65534 65534");
    o.expect_eq("holder", &daemon_locks(rp));
    o.expect_eq("out", "hello");
    o.expect_eq("stat", "644 0");
}
