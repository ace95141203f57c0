//! AR — argument validation: invalid arguments are rejected (exit 2) before any action.

use imp_tests::*;

/// (name, arguments after `$IMP`, word the message must contain).
/// `$P` is a running daemon's pidfile, `$N` a path that must not be created.
const BAD: &[(&str, &str, &str)] = &[
    ("t1", "stop -p $P --timeout -1", "--timeout"),
    ("t2", "stop -p $P --timeout 1e3", "--timeout"),
    (
        "t3",
        "stop -p $P --timeout 18446744073709551616",
        "--timeout",
    ),
    ("t4", "stop -p $P -t abc", "-t"),
    ("s1", "stop -p $P --signal 0", "--signal"),
    ("s2", "stop -p $P --signal -9", "--signal"),
    // 129: past the last signal of every architecture (64, MIPS 128).
    ("s3", "stop -p $P --signal 129", "--signal"),
    ("s4", "stop -p $P --signal KILLX", "--signal"),
    ("s5", "signal -p $P KILLX", "KILLX"),
    ("s6", "signal -p $P", ""),
    ("s7", "signal -p $P 0", ""),
    ("r1", "stop -p $P -R TERM/x/KILL", "retry"),
    ("u1", "start -p $N --umask 0999 -- $TD", "--umask"),
    ("u2", "start -p $N --umask -1 -- $TD", "--umask"),
    ("u3", "start -p $N --user '' -- $TD", "--user"),
    ("u4", "start -p '' -- $TD", ""),
    ("u5", "start -p $N --nice 100 -- $TD", "--nice"),
    ("u6", "start -p $N -k -1 -- $TD", "-k"),
    ("u7", "start -p $N --", "missing program after --"),
    ("u8", "start -p $N", ""),
    ("u9", "start -- $TD", "missing -p/--pidfile"),
    ("c1", "foo -p $N", "unknown command 'foo'"),
    ("c2", "start stop -p $N -- $TD", ""),
    (
        "c3",
        "start --bogus -p $N -- $TD",
        "unknown option '--bogus'",
    ),
    ("c4", "status", "missing -p/--pidfile"),
    ("c5", "stop", "missing -p/--pidfile"),
    ("c6", "", ""),
    ("c7", "status -p $P --format yaml", "--format"),
];

/// AR-01: every invalid invocation exits 2 with `imp: usage: ... (see 'imp --help')`,
/// creates nothing, starts nothing, signals nothing.
#[test]
fn ar01_invalid_arguments_rejected() {
    let mut script = String::from(
        r#"
        launch d --term-marker $OUT/d.term
        P=$T/d.pid; N=$T/new.pid; TD="$TDAEMON --marker $OUT/m --sleep 100"
        before=$(ls -A $T | tr '\n' ' ')
        "#,
    );
    for (name, args, _) in BAD {
        script.push_str(&format!("r {name} eval \"spy \\$IMP {args}\"\n"));
    }
    script.push_str(
        r#"
        sleep 0.3
        echo "same=$([ "$before" = "$(ls -A $T | tr '\n' ' ')" ] && echo yes || echo no)"
        echo "ran=$([ -e $OUT/m ] && echo yes || echo no)"
        echo "alive=$(alive $(dpid d))"
        echo "term=$([ -e $OUT/d.term ] && echo yes || echo no)"
        "#,
    );
    let o = sandbox("ar01").run(&script);
    let mut failed = Vec::new();
    for (name, args, word) in BAD {
        let (rc, err) = (o.rc(name), o.err(name));
        let ok = rc == 2
            && err.contains("imp: usage:")
            && err.contains("--help")
            && err.contains(word)
            && err.lines().count() == 1;
        if !ok {
            failed.push(format!("`imp {args}`: exit {rc}, stderr {err:?} (want 2, `imp: usage:`, `--help`, {word:?})"));
        }
    }
    o.check(
        failed.is_empty(),
        &format!("rejections:\n{}", failed.join("\n")),
    );
    o.expect_eq("same", "yes");
    o.expect_eq("ran", "no");
    o.expect_eq("alive", "yes");
    o.expect_eq("term", "no");
    o.assert_no_signals();
}

/// SPEC §2: relative pidfile paths resolve against the caller's cwd (accepted).
#[test]
fn ar_relative_pidfile_accepted() {
    let o = sandbox("ar-rel").run(
        r#"
        mkdir $T/sub
        cd $T/sub
        r a $IMP start -p rel.pid -- $TDAEMON --dump $OUT/d.dump --sleep 1000
        waitfile $OUT/d.dump
        cd /
        echo "content=$(cat $T/sub/rel.pid)"
        r st $IMP status -p $T/sub/rel.pid
        r stop $IMP stop -p $T/sub/rel.pid
        "#,
    );
    o.expect("a", 0, &["started"]);
    o.expect_out("st", 0, &[&format!("running (pid {})", o.get("content"))]);
    o.expect("stop", 0, &["stopped"]);
}

/// --help, help COMMAND, --version: exit 0 on stdout.
#[test]
fn ar_help_and_version() {
    let o = sandbox("ar-help").run(
        r#"
        r h $IMP --help
        r h2 $IMP help start
        r v $IMP --version
        "#,
    );
    o.expect_out("h", 0, &["imp start", "imp stop", "imp status"]);
    o.expect_out("h2", 0, &["start"]);
    o.expect_out("v", 0, &["imp"]);
}

/// The `--no-default-features` build (SPEC §1.2: start, stop, restart, status, signal,
/// run) refuses the options of the default features with a usage error (2) naming
/// them, does nothing, and its `--help` is one usage line; the default build has them.
#[test]
fn ar_minimal_build_refuses_feature_options() {
    let min = imp_tests::imp_minimal_bin();
    let o = sandbox("ar-min").run(&format!(
        r#"
        M="${{IMP_RUNNER:+$IMP_RUNNER }}{min}"
        r dry $M start --dry-run -p $T/d.pid -- /bin/sleep 100
        r kv $M status -p $T/d.pid --format kv
        r retry $M stop -p $T/d.pid -R TERM/1/KILL/1
        r limit $M start -p $T/d.pid --limit nofile=64 -- /bin/sleep 100
        r caps $M start -p $T/d.pid --caps net_raw -- /bin/sleep 100
        r nnp $M run --no-new-privs -- /bin/true
        r respawn $M start --respawn -p $T/d.pid -- /bin/sleep 100
        r syslog $M start --syslog -p $T/d.pid -- /bin/sleep 100
        r wait $M start --wait 10 -p $T/d.pid -- /bin/sleep 100
        r d.limit $IMP start -p $T/d.pid --limit nofile=64 -- /bin/sleep 100
        r d.respawn $IMP start --respawn -p $T/d.pid -- /bin/sleep 100
        r d.init $IMP run --init -- /bin/true
        r help $M --help
        r st $M status -p $T/d.pid
        r fstart $M start -p $T/e.pid -- /bin/sleep 100
        r fstop $M stop -p $T/e.pid -t 1
        r full $IMP --help
        echo "d.exists=$([ -e $T/d.pid ] && echo yes || echo no)"
        "#,
        min = min.display()
    ));
    // The default features' options: refused by name.
    for (k, opt) in [
        ("dry", "--dry-run"),
        ("kv", "--format"),
        ("retry", "-R"),
        ("syslog", "--syslog"),
        ("wait", "--wait"),
    ] {
        o.expect(
            k,
            2,
            &[&format!("option not supported by this build '{opt}'")],
        );
    }
    // imp-full's: unknown to the minimal build (its option table has no room for
    // them), refused by name by the default build.
    for (k, opt) in [
        ("limit", "--limit"),
        ("caps", "--caps"),
        ("nnp", "--no-new-privs"),
        ("respawn", "--respawn"),
    ] {
        o.expect(k, 2, &[&format!("unknown option '{opt}'")]);
    }
    for (k, opt) in [
        ("d.limit", "--limit"),
        ("d.respawn", "--respawn"),
        ("d.init", "--init"),
    ] {
        o.expect(
            k,
            2,
            &[&format!("option not supported by this build '{opt}'")],
        );
    }
    o.expect_out(
        "help",
        0,
        &["usage: imp start|restart|run|stop|status|signal -p PIDFILE"],
    );
    o.check(
        !o.out("help").contains("exit:"),
        "short help in the minimal build",
    );
    o.expect_out("full", 0, &["exit:", "-R as dpkg"]);
    o.expect_out("st", 3, &["not running"]);
    o.expect("fstart", 0, &["started (pid"]);
    o.expect("fstop", 0, &["stopped (pid"]);
    o.expect_eq("d.exists", "no");
}

/// Fixed buffers: a long (valid) pidfile path, program path, argument list and
/// environment are handled whole, or refused with a message; never truncated into
/// another path.
#[test]
fn ar_long_arguments_never_truncated() {
    let o = sandbox("ar-long").run(
        r#"
        d=$T; for i in $(seq 12); do d=$d/$(head -c 200 /dev/zero | tr '\0' 'd')$i; done
        mkdir -p $d
        echo "plen=$(( ${#d} + 6 ))"
        r a $IMP start -p $d/d.pid -- $TDAEMON --dump $OUT/a.dump --sleep 1000
        waitfile $OUT/a.dump 2
        echo "a.pidfiles=$(find $T -name '*.pid' | wc -l)"
        echo "a.exact=$([ -e $d/d.pid ] && echo yes || echo no)"
        [ -e $d/d.pid ] && r ast $IMP status -p $d/d.pid
        cp $TDAEMON $d/td
        r b $IMP start -p $T/b.pid -- $d/td --dump $OUT/b.dump --sleep 1000
        waitfile $OUT/b.dump 2
        echo "b.argv0=$(sed -n 's/^argv=//p' $OUT/b.dump | cut -d' ' -f1 | wc -c)"
        big=$(head -c 100000 /dev/zero | tr '\0' 'a')
        r c $IMP start -p $T/c.pid -- $TDAEMON --dump $OUT/c.dump --marker $big --sleep 1000
        args=(); for i in $(seq 3000); do args+=(--exit 0); done
        r e $IMP start -p $T/e.pid -- $TDAEMON "${args[@]}" --dump $OUT/e.dump --sleep 1000
        waitfile $OUT/e.dump 2
        echo "e.argc=$(sed -n 's/^argv=//p' $OUT/e.dump | wc -w)"
        r f env BIG=$big $IMP start -p $T/f.pid -- $TDAEMON --dump $OUT/f.dump --sleep 1000
        waitfile $OUT/f.dump 2
        echo "f.len=$(sed -n 's/^env.BIG=//p' $OUT/f.dump | tr -d '\n' | wc -c)"
        "#,
    );
    // (a) a 2.4 KB pidfile path
    if o.rc("a") == 0 {
        o.expect_eq("a.exact", "yes");
        o.expect_eq("a.pidfiles", "1");
        o.expect_out("ast", 0, &["running"]);
    } else {
        o.expect_eq("a.pidfiles", "0");
        o.check(
            !o.err("a").is_empty(),
            "explicit failure for the long pidfile path",
        );
    }
    // (b) a 2.4 KB program path
    if o.rc("b") == 0 {
        o.check(o.int("b.argv0") > 2400, "argv[0] whole");
    } else {
        o.check(
            !o.err("b").is_empty(),
            "explicit failure for the long program path",
        );
    }
    // (c) one 100 KB argument: whole (the marker name is too long for the fs: tdaemon
    // cannot create it, but must have been exec'd with it) or refused.
    o.check(
        o.rc("c") == 0 || !o.err("c").is_empty(),
        "(c) whole or refused",
    );
    // (e) 6000 arguments
    if o.rc("e") == 0 {
        o.check(o.int("e.argc") == 6000 + 5, "every argument passed");
    } else {
        o.check(
            !o.err("e").is_empty(),
            "explicit failure for many arguments",
        );
    }
    // (f) a 100 KB environment variable, inherited
    if o.rc("f") == 0 {
        o.expect_eq("f.len", "100000");
    } else {
        o.check(
            !o.err("f").is_empty(),
            "explicit failure for the big environment",
        );
    }
}
