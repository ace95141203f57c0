//! EN — minimal systems (routers, initramfs): broken /dev/null, ENOSPC, EROFS, no /proc,
//! big RLIMIT_NOFILE, missing directories.

use imp_tests::*;

/// EN-02: /dev/null is a regular file: start fails, the file is not touched.
#[test]
fn en02_dev_null_regular_file() {
    let o = sandbox("en02").run(
        r#"
        cat > $H/inner.sh <<'EOF'
printf X > $T/fakenull; chmod 0666 $T/fakenull
mount --bind $T/fakenull /dev/null
echo "null_type=$(stat -c %F /dev/null)" > $H/inner.kv
$IMP_RUNNER $IMP_BIN start -p $T/d.pid -- $TDAEMON --marker $T/out/m --sleep 100 >$H/o 2>$H/e
echo "rc=$?" >> $H/inner.kv
EOF
        unshare -m bash $H/inner.sh
        cat $H/inner.kv
        echo "err=$(esc $H/e)"
        sleep 0.2
        echo "fake=$(hex $T/fakenull)"
        echo "pidfile=$([ -e $T/d.pid ] && echo yes || echo no)"
        echo "ran=$([ -e $OUT/m ] && echo yes || echo no)"
        echo "n=$(nprocs "$TDAEMON")"
        "#,
    );
    o.expect_eq("null_type", "regular file");
    o.expect_eq("rc", "1");
    o.check(
        o.get("err").contains("/dev/null: not a character device"),
        "stderr: `/dev/null: not a character device`",
    );
    o.expect_eq("fake", "58");
    o.expect_eq("pidfile", "no");
    o.expect_eq("ran", "no");
    o.expect_eq("n", "0");
}

/// EN-04: ENOSPC while writing the pidfile: exit 1, no pidfile (not even empty), no
/// daemon; works once space is freed.
#[test]
fn en04_enospc_writing_pidfile() {
    let o = sandbox("en04").run(
        r#"
        mkdir $T/full
        mount -t tmpfs -o size=16k,mode=0755 full $T/full
        dd if=/dev/zero of=$T/full/fill bs=1k count=64 2>>$H/log
        echo "avail=$(df --output=avail $T/full | tail -1 | tr -d ' ')"
        r a $IMP start -p $T/full/d.pid -- $TDAEMON --marker $OUT/m --sleep 1000
        sleep 0.2
        echo "a.pidfile=$([ -e $T/full/d.pid ] && echo yes || echo no)"
        echo "a.ran=$([ -e $OUT/m ] && echo yes || echo no)"
        echo "a.n=$(nprocs "$TDAEMON")"
        rm $T/full/fill
        r b $IMP start -p $T/full/d.pid -- $TDAEMON --dump $OUT/d.dump --sleep 1000
        waitfile $OUT/d.dump
        echo "b.content=$(cat $T/full/d.pid)"
        echo "b.dpid=$(dpid d)"
        "#,
    );
    o.expect_eq("avail", "0");
    o.expect("a", 1, &["No space left on device", "/full/d.pid"]);
    o.expect_eq("a.pidfile", "no");
    o.expect_eq("a.ran", "no");
    o.expect_eq("a.n", "0");
    o.expect("b", 0, &["started"]);
    o.expect_eq("b.content", o.get("b.dpid"));
}

/// E17/E18: the pidfile directory is read-only: exit 1 `Read-only file system`, the
/// daemon is not left running.
#[test]
fn en_readonly_pidfile_directory() {
    let o = sandbox("en-rofs").run(
        r#"
        mkdir $T/ro; ro $T/ro
        r a $IMP start -p $T/ro/d.pid -- $TDAEMON --marker $OUT/m --sleep 1000
        sleep 0.2
        echo "ran=$([ -e $OUT/m ] && echo yes || echo no)"
        echo "n=$(nprocs "$TDAEMON")"
        "#,
    );
    o.expect("a", 1, &["Read-only file system", "/ro/d.pid"]);
    o.expect_eq("ran", "no");
    o.expect_eq("n", "0");
}

/// EN-05: no /proc at all: start, status and stop work; the daemon's fds are still
/// exactly 0-2 + the pidfile.
#[test]
fn en05_no_proc() {
    let o = sandbox("en05").run(
        r#"
        exec 7>$T/leak
        cat > $H/inner.sh <<'EOF'
while mountpoint -q /proc; do umount -l /proc; done
IMP="$IMP_RUNNER $IMP_BIN"
echo "proc_entries=$(ls -A /proc | wc -l)" > $H/inner.kv
$IMP start -p $T/d.pid -- $TDAEMON --dump $T/out/d.dump --sleep 1000 2>$H/e1
echo "start.rc=$?" >> $H/inner.kv
i=0; while [ ! -e $T/out/d.dump ] && [ $i -lt 500 ]; do sleep 0.02; i=$((i+1)); done
$IMP status -p $T/d.pid >$H/o2 2>$H/e2
echo "status.rc=$?" >> $H/inner.kv
echo "status.out=$(cat $H/o2)" >> $H/inner.kv
$IMP stop -p $T/d.pid 2>$H/e3
echo "stop.rc=$?" >> $H/inner.kv
EOF
        unshare -m bash $H/inner.sh
        cat $H/inner.kv
        echo "e=$(esc $H/e1) $(esc $H/e2) $(esc $H/e3)"
        kv d $OUT/d.dump
        echo "alive=$(alive $(dpid d))"
        echo "exists=$([ -e $T/d.pid ] && echo yes || echo no)"
        "#,
    );
    o.expect_eq("proc_entries", "0");
    o.expect_eq("start.rc", "0");
    o.expect_eq("d.proc", "no");
    let fds = o.get("d.fds");
    o.check(
        fds.split(',').count() == 4
            && fds.starts_with("0,1,2,")
            && !fds.split(',').any(|f| f == "7"),
        &format!("fds {fds}: 0,1,2 + pidfile only (fd 7 of the caller closed)"),
    );
    o.expect_eq("status.rc", "0");
    o.check(
        o.get("status.out").contains("running (pid"),
        "status says running",
    );
    o.expect_eq("stop.rc", "0");
    o.expect_eq("alive", "no");
    o.expect_eq("exists", "no");
}

/// EN-06 (scaled to this machine's hard RLIMIT_NOFILE): the caller holds its highest
/// possible fd; start is fast and the daemon has only 0-2 + pidfile.
#[test]
fn en06_high_rlimit_nofile() {
    let o = sandbox("en06").run(
        r#"
        ulimit -n $(ulimit -Hn)
        N=$(( $(ulimit -n) - 1 ))
        echo "limit=$(ulimit -n)"
        eval "exec $N>\$T/big"
        echo "held=$([ -e /proc/$$/fd/$N ] && echo yes || echo no)"
        r a $IMP start -p $T/a.pid -- $TDAEMON --dump $OUT/a.dump --sleep 1000
        waitfile $OUT/a.dump
        kv a $OUT/a.dump
        "#,
    );
    o.expect_eq("held", "yes");
    o.expect("a", 0, &["started"]);
    o.check(
        o.ms("a") < 5000,
        "start stays fast with a high RLIMIT_NOFILE",
    );
    o.expect_eq("a.rlimit_nofile", o.get("limit"));
    o.check(
        o.get("a.fds").split(',').count() == 4,
        "only 0,1,2 + pidfile",
    );
}

/// EN-06 variant: close_range forced to ENOSYS (the /proc/self/fd fallback), then also
/// without /proc (the bounded loop): complete, or an explicit failure.
#[test]
fn en06_close_range_enosys() {
    let o = sandbox("en06b").timeout(180).run(
        r#"
        ulimit -n $(ulimit -Hn)
        N=$(( $(ulimit -n) - 1 ))
        eval "exec $N>\$T/big"
        echo "N=$N"
        SPYNODETACH=1 SPYTRACE=close_range SPYOPTS="--seccomp-bpf -e inject=close_range:error=ENOSYS" \
            r a spy $IMP start -p $T/a.pid -- $TDAEMON --dump $OUT/a.dump --sleep 0.5
        waitfile $OUT/a.dump
        kv a $OUT/a.dump
        cat > $H/inner.sh <<'EOF'
while mountpoint -q /proc; do umount -l /proc; done
t0=$(date +%s%N)
strace -f -qq -o $H/b.strace --seccomp-bpf -e trace=close_range -e inject=close_range:error=ENOSYS \
    $IMP_RUNNER $IMP_BIN start -p $T/b.pid -- $TDAEMON --dump $T/out/b.dump --sleep 0.5 2>$H/b.err
echo "b.rc=$?" > $H/inner.kv
echo "b.ms=$(( ($(date +%s%N) - t0) / 1000000 ))" >> $H/inner.kv
EOF
        unshare -m bash $H/inner.sh
        cat $H/inner.kv
        echo "b.err=$(esc $H/b.err)"
        echo "b.injected=$(grep -c INJECTED $H/b.strace)"
        [ -e $OUT/b.dump ] && kv b $OUT/b.dump
        "#,
    );
    let n = o.get("N").to_string();
    o.check(
        o.spy.calls.iter().any(|c| c.name == "close_range"),
        "imp tried close_range first",
    );
    if o.rc("a") == 0 {
        o.check(
            !o.get("a.fds").split(',').any(|f| f == n),
            "fd N closed via /proc/self/fd",
        );
        o.check(
            o.get("a.fds").split(',').count() == 4,
            "only 0,1,2 + pidfile",
        );
    } else {
        o.check(!o.err("a").is_empty(), "explicit failure message");
    }
    if o.get("b.rc") == "0" {
        o.check(o.int("b.ms") < 30000, "bounded loop finishes");
        o.check(
            !o.get("b.fds").split(',').any(|f| f == n),
            "fd N closed by the loop",
        );
        o.check(
            o.get("b.fds").split(',').count() == 4,
            "only 0,1,2 + pidfile",
        );
    } else {
        o.check(!o.get("b.err").is_empty(), "explicit failure message");
    }
}

/// EN-07: the pidfile directory is missing: exit 1, nothing created.
#[test]
fn en07_missing_pidfile_directory() {
    let o = sandbox("en07").run(
        r#"
        SPYTRACE=mkdir,mkdirat r a spy $IMP start -p $T/nodir/sub/d.pid -- $TDAEMON --marker $OUT/m --sleep 100
        sleep 0.2
        echo "created=$([ -e $T/nodir ] && echo yes || echo no)"
        echo "ran=$([ -e $OUT/m ] && echo yes || echo no)"
        "#,
    );
    o.expect("a", 1, &["No such file or directory", "/nodir/sub/d.pid"]);
    o.expect_eq("created", "no");
    o.expect_eq("ran", "no");
    o.check(o.spy.calls.is_empty(), "no mkdir");
}

/// No free inode: creating the pidfile fails with ENOSPC (`create P`), nothing started.
#[test]
fn en04_no_free_inode() {
    let o = sandbox("en04i").run(
        r#"
        mkdir $T/full
        mount -t tmpfs -o nr_inodes=2,mode=0755 full $T/full
        i=0; while touch $T/full/f$i 2>>$H/log; do i=$((i + 1)); [ $i -gt 10 ] && break; done
        r a $IMP start -p $T/full/d.pid -- $TDAEMON --marker $OUT/m --sleep 1000
        sleep 0.2
        echo "a.pidfile=$([ -e $T/full/d.pid ] && echo yes || echo no)"
        echo "a.ran=$([ -e $OUT/m ] && echo yes || echo no)"
        "#,
    );
    o.expect("a", 1, &["create", "No space left on device"]);
    o.expect_eq("a.pidfile", "no");
    o.expect_eq("a.ran", "no");
}

/// A tiny RLIMIT_NOFILE in the caller: start works or fails cleanly (message, no
/// daemon, no pidfile); never a half state.
#[test]
fn en_low_rlimit_nofile() {
    let o = sandbox("en-lownofile").run(
        r#"
        for n in 3 4 5 6 8; do
            r a$n prlimit --nofile=$n:$n $IMP start -p $T/d$n.pid -- $TDAEMON --dump $OUT/d$n.dump --sleep 1000
            [ -e $OUT/d$n.dump ] || sleep 0.5
            echo "a$n.pidfile=$([ -e $T/d$n.pid ] && echo yes || echo no)"
            echo "a$n.ran=$([ -e $OUT/d$n.dump ] && echo yes || echo no)"
            r st$n $IMP status -p $T/d$n.pid
        done
        "#,
    );
    for n in [3, 4, 5, 6, 8] {
        let a = format!("a{n}");
        if o.rc(&a) == 0 {
            o.expect_eq(&format!("{a}.ran"), "yes");
            o.expect_out(&format!("st{n}"), 0, &["running"]);
        } else {
            o.check(
                !o.err(&a).is_empty(),
                &format!("ulimit -n {n}: explicit failure"),
            );
            o.expect_eq(&format!("{a}.pidfile"), "no");
            o.expect_eq(&format!("{a}.ran"), "no");
        }
    }
}
