//! ST — status and liveness (LSB status codes), plus pidfiles that are not regular files.

use imp_tests::*;

/// The calls a read-only `status` must never make (ST-01, ST-07).
const WRITE_CALLS: &str =
    "openat,open,creat,unlink,unlinkat,rename,renameat,renameat2,ftruncate,truncate,fcntl,flock,mkdir,mkdirat,chmod,fchmod,fchmodat,chown,fchown,fchownat";

fn assert_status_read_only(o: &Outcome) {
    for c in &o.spy.calls {
        let a = c.args.join(", ");
        let bad = match c.name.as_str() {
            "openat" | "open" => {
                a.contains("O_WRONLY")
                    || a.contains("O_RDWR")
                    || a.contains("O_CREAT")
                    || a.contains("O_TRUNC")
            }
            "fcntl" => a.contains("F_SETLK") || a.contains("F_OFD_SETLK"),
            "flock" => true,
            n => n != "pidfd_open" && !n.starts_with("kill") && n != "pidfd_send_signal",
        };
        o.check(
            !bad,
            &format!("status made a writing call: {}({a})", c.name),
        );
    }
}

/// ST-01: the LSB status matrix (running / stale / none / unreadable / invalid), text
/// and kv formats; status is read-only.
#[test]
fn st01_lsb_status_matrix() {
    let o = sandbox("st01").run(&format!(
        r#"
        W={WRITE_CALLS}
        launch d
        P=$T/d.pid
        X=$(dpid d)
        before=$(stat -c '%i %s %Y %a' $P)
        SPYTRACE=$W r a spy $IMP status -p $P
        r akv $IMP status -p $P --format kv
        # (d) unreadable for the caller
        chmod 0600 $P
        r d asuser $IMP status -p $P
        r dkv asuser $IMP status -p $P --format kv
        chmod 0644 $P
        # (e) locked, invalid content
        printf 'abc\n' > $P
        r e $IMP status -p $P
        r ekv $IMP status -p $P --format kv
        printf '%s\n' $X > $P
        # (b) SIGKILL: stale
        kill -9 $X; waitdead $X
        before=$(stat -c '%i %s %Y %a' $P)
        SPYTRACE=$W r b spy $IMP status -p $P
        r bkv $IMP status -p $P --format kv
        echo "b.unchanged=$([ "$before" = "$(stat -c '%i %s %Y %a' $P)" ] && echo yes || echo no)"
        echo "b.holder=$(lockholder $P)"
        # (c) no pidfile
        rm $P
        SPYTRACE=$W r c spy $IMP status -p $P
        r ckv $IMP status -p $P --format kv
        echo "c.created=$([ -e $P ] && echo yes || echo no)"
        "#
    ));
    let pid = o.int("d.pid");
    o.expect_out("a", 0, &[&format!("running (pid {pid})")]);
    o.expect_out("akv", 0, &[&format!("state=running pid={pid}")]);
    o.expect_out("b", 1, &["not running", "stale"]);
    o.expect_out("bkv", 1, &["state=stale"]);
    o.expect_eq("b.unchanged", "yes");
    o.expect_eq("b.holder", "none");
    o.expect_out("c", 3, &["not running"]);
    o.check(!o.out("c").contains("stale"), "no pidfile is not `stale`");
    o.expect_out("ckv", 3, &["state=stopped"]);
    o.expect_eq("c.created", "no");
    o.expect("d", 4, &["Permission denied"]);
    o.expect_out("dkv", 4, &["state=unknown"]);
    o.expect("e", 4, &["invalid"]);
    o.expect_out("ekv", 4, &["state=unknown"]);
    assert_status_read_only(&o);
}

/// ST-02: after SIGKILL (pidfile left behind), start just works.
#[test]
fn st02_start_after_kill9() {
    let o = sandbox("st02").run(
        r#"
        launch d
        X=$(dpid d)
        kill -9 $X; waitdead $X
        rm $OUT/d.dump
        r again $IMP start -p $T/d.pid -- $TDAEMON --dump $OUT/d.dump --sleep 1000
        waitfile $OUT/d.dump
        echo "new=$(dpid d)"
        echo "content=$(hex $T/d.pid)"
        echo "want=$(printf '%s\n' $(dpid d) | od -An -tx1 | tr -d ' \n')"
        r st $IMP status -p $T/d.pid
        "#,
    );
    let old = o.int("d.pid");
    let new = o.int("new");
    o.check(old != new, "a new daemon");
    o.expect("again", 0, &["started", &format!("(pid {new})")]);
    o.check(
        !o.err("again").contains("already running"),
        "not `already running`",
    );
    o.expect_eq("content", o.get("want"));
    o.expect_out("st", 0, &[&format!("running (pid {new})")]);
}

/// ST-06: status run by an unprivileged user on a root daemon: 0 (or 4), never 1/3.
#[test]
fn st06_unprivileged_status_of_root_daemon() {
    let o = sandbox("st06").run(
        r#"
        launch d
        r st asuser $IMP status -p $T/d.pid
        r kv asuser $IMP status -p $T/d.pid --format kv
        "#,
    );
    let rc = o.rc("st");
    o.check(
        rc == 0 || rc == 4,
        "EPERM on the probe means alive/unknown, never dead",
    );
    if rc == 0 {
        o.expect_out("st", 0, &[&format!("running (pid {})", o.get("d.pid"))]);
    }
}

/// ST-07: status on a read-only filesystem (running and stale); stop on a stale pidfile
/// there exits 0 and says it could not remove it.
#[test]
fn st07_read_only_filesystem() {
    let o = sandbox("st07").run(&format!(
        r#"
        mkdir $T/rd
        P=$T/rd/d.pid
        r start $IMP start -p $P -- $TDAEMON --dump $OUT/d.dump --sleep 1000
        waitfile $OUT/d.dump
        X=$(dpid d)
        ro $T/rd
        echo "rofs=$(touch $T/rd/x 2>&1 | grep -c 'Read-only')"
        SPYTRACE={WRITE_CALLS} r running spy $IMP status -p $P
        kill -9 $X; waitdead $X
        SPYTRACE={WRITE_CALLS} r stale spy $IMP status -p $P
        r stop $IMP stop -p $P
        echo "exists=$([ -e $P ] && echo yes || echo no)"
        "#
    ));
    o.expect("start", 0, &["started"]);
    o.expect_eq("rofs", "1");
    o.expect_out("running", 0, &["running (pid"]);
    o.expect_out("stale", 1, &["stale"]);
    assert_status_read_only(&o);
    o.expect(
        "stop",
        0,
        &["not running", "stale", "Read-only file system"],
    );
    o.expect_eq("exists", "yes");
}

/// A FIFO as pidfile: start, status and stop must not block (O_NONBLOCK + fstat before
/// read) and refuse it.
#[test]
fn st_fifo_pidfile_never_blocks() {
    let o = sandbox("st-fifo").run(
        r#"
        mkfifo -m 0644 $T/f.pid
        r status timeout 10 $IMP status -p $T/f.pid
        r stop timeout 10 $IMP stop -p $T/f.pid
        r start timeout 10 $IMP start -p $T/f.pid -- $TDAEMON --marker $OUT/m --sleep 100
        r signal timeout 10 $IMP signal -p $T/f.pid HUP
        sleep 0.2
        echo "ran=$([ -e $OUT/m ] && echo yes || echo no)"
        echo "type=$(stat -c %F $T/f.pid)"
        "#,
    );
    o.expect("status", 4, &["not a regular file"]);
    o.expect("stop", 6, &["not a regular file"]);
    o.expect("start", 6, &["not a regular file"]);
    o.expect("signal", 6, &["not a regular file"]);
    o.expect_eq("ran", "no");
    o.expect_eq("type", "fifo");
}

/// A directory or a device as pidfile: refused, never read or written.
#[test]
fn st_directory_and_device_pidfile() {
    let o = sandbox("st-dir").run(
        r#"
        mkdir $T/d.pid
        r dstatus $IMP status -p $T/d.pid
        r dstop $IMP stop -p $T/d.pid
        r dstart $IMP start -p $T/d.pid -- $TDAEMON --marker $OUT/m --sleep 100
        r nstatus timeout 10 $IMP status -p /dev/zero
        r nstop timeout 10 $IMP stop -p /dev/zero
        sleep 0.2
        echo "ran=$([ -e $OUT/m ] && echo yes || echo no)"
        "#,
    );
    o.expect("dstatus", 4, &["not a regular file"]);
    o.expect("dstop", 6, &["not a regular file"]);
    o.expect("dstart", 6, &["not a regular file"]);
    o.expect("nstatus", 4, &[]);
    o.expect("nstop", 6, &[]);
    o.expect_eq("ran", "no");
}

/// ST-02 variant: start over an unlocked pidfile that names a live, unrelated process:
/// stale, so start proceeds; the unrelated process is never touched.
#[test]
fn st02_start_over_unlocked_pidfile_naming_live_process() {
    let o = sandbox("st02b").run(
        r#"
        sleep 1000 & v=$!
        printf '%s\n' $v > $T/d.pid
        r a spy $IMP start -p $T/d.pid -- $TDAEMON --dump $OUT/d.dump --sleep 1000
        waitfile $OUT/d.dump
        echo "content=$(cat $T/d.pid)"
        echo "dpid=$(dpid d)"
        echo "victim=$(alive $v)"
        "#,
    );
    o.expect("a", 0, &["started"]);
    o.check(
        !o.err("a").contains("already running"),
        "not `already running`",
    );
    o.expect_eq("content", o.get("dpid"));
    o.expect_eq("victim", "yes");
    o.assert_no_signals();
}
