//! PS — pidfile and identity security.

use imp_tests::*;

/// PS-02: stop/status through an attacker's symlink (in a nobody-owned directory) to a
/// root service's locked pidfile are refused; plain symlinks are refused too.
#[test]
fn ps02_symlinked_pidfile_refused() {
    let o = sandbox("ps02").run(
        r#"
        launch s --term-marker $OUT/s.term
        X=$(dpid s)
        mkdir $T/u; chown nobody $T/u
        asnobody ln -s $T/s.pid $T/u/a.pid
        r ustop spy $IMP stop -p $T/u/a.pid
        r ustatus spy $IMP status -p $T/u/a.pid
        r usignal spy $IMP signal -p $T/u/a.pid TERM
        ln -s $T/s.pid $T/l.pid
        r lstop spy $IMP stop -p $T/l.pid
        r lstatus spy $IMP status -p $T/l.pid
        r lstart $IMP start -p $T/l.pid -- $TDAEMON --marker $OUT/m --sleep 100
        sleep 0.2
        echo "alive=$(alive $X)"
        echo "term=$([ -e $OUT/s.term ] && echo yes || echo no)"
        echo "ran=$([ -e $OUT/m ] && echo yes || echo no)"
        echo "content=$(cat $T/s.pid)"
        "#,
    );
    for (n, code) in [("ustop", 6), ("ustatus", 4), ("usignal", 6)] {
        let e = o.err(n);
        o.check(
            o.rc(n) == code && (e.contains("insecure") || e.contains("symlink")),
            &format!("`{n}` via attacker symlink: want {code} `insecure`/`symlink`"),
        );
    }
    o.expect("lstop", 6, &["symlink"]);
    o.expect("lstatus", 4, &["symlink"]);
    o.expect("lstart", 6, &["symlink"]);
    o.expect_eq("alive", "yes");
    o.expect_eq("term", "no");
    o.expect_eq("ran", "no");
    o.expect_eq("content", o.get("s.pid"));
    o.assert_no_signals();
}

/// E15/E16: start with a pidfile that is a symlink to a victim file: refused, victim intact.
#[test]
fn ps_start_symlink_to_victim() {
    let o = sandbox("ps-e16").run(
        r#"
        printf 'SECRET\n' > $T/victim; chmod 0600 $T/victim
        ln -s $T/victim $T/d.pid
        r start $IMP start -p $T/d.pid -- $TDAEMON --marker $OUT/m --sleep 100
        sleep 0.2
        echo "victim=$(cat $T/victim)"
        echo "mode=$(stat -c %a $T/victim)"
        echo "ran=$([ -e $OUT/m ] && echo yes || echo no)"
        ln -s $T/nonexistent $T/e.pid
        r dangling $IMP start -p $T/e.pid -- $TDAEMON --marker $OUT/m2 --sleep 100
        sleep 0.2
        echo "created=$([ -e $T/nonexistent ] && echo yes || echo no)"
        "#,
    );
    o.expect("start", 6, &["symlink"]);
    o.expect_eq("victim", "SECRET");
    o.expect_eq("mode", "600");
    o.expect_eq("ran", "no");
    o.expect("dangling", 6, &["symlink"]);
    o.expect_eq("created", "no");
}

/// PS-04: never truncate a pre-existing file that is not provably ours: (a) a hard link
/// to a victim, (b) a stale pidfile owned by nobody.
#[test]
fn ps04_no_truncate_of_foreign_file() {
    let o = sandbox("ps04").run(
        r#"
        printf 'SECRET\n' > $T/victim; chmod 0644 $T/victim
        ln $T/victim $T/d.pid
        SPYTRACE=openat,open,creat,truncate,ftruncate r a spy $IMP start -p $T/d.pid -- $TDAEMON --dump $OUT/a.dump --sleep 100
        waitfile $OUT/a.dump 2
        echo "victim=$(cat $T/victim)"
        echo "vmode=$(stat -c '%a %h' $T/victim)"
        echo "a.same_inode=$([ $T/d.pid -ef $T/victim ] && echo yes || echo no)"
        [ -e $OUT/a.dump ] && $IMP stop -p $T/d.pid 2>>$H/log
        printf '12345\n' > $T/e.pid; chown nobody $T/e.pid
        SPYTRACE=openat,open,creat,truncate,ftruncate r b spy $IMP start -p $T/e.pid -- $TDAEMON --dump $OUT/b.dump --sleep 100
        waitfile $OUT/b.dump 2
        echo "b.stat=$(stat -c '%U %a' $T/e.pid)"
        echo "b.content=$(cat $T/e.pid)"
        echo "b.dpid=$(sed -n 's/^pid=//p' $OUT/b.dump 2>>$H/log)"
        "#,
    );
    o.expect_eq("victim", "SECRET");
    for c in &o.spy.calls {
        let a = c.args.join(", ");
        o.check(
            !(a.contains("d.pid") || a.contains("e.pid")) || !a.contains("O_TRUNC"),
            &format!("never O_TRUNC a pre-existing pidfile: {}({a})", c.name),
        );
    }
    if o.rc("a") == 6 {
        o.expect_eq("vmode", "644 2");
    }
    match o.rc("a") {
        6 => o.expect("a", 6, &["insecure"]),
        // Success only by unlink + O_EXCL: a fresh inode, the victim keeps nlink... 1.
        0 => o.expect_eq("a.same_inode", "no"),
        rc => o.check(
            false,
            &format!("hard-linked pidfile: exit {rc}, want 6 or 0"),
        ),
    }
    match o.rc("b") {
        6 => o.expect("b", 6, &["insecure"]),
        0 => {
            o.expect_eq("b.stat", "root 644");
            o.expect_eq("b.content", o.get("b.dpid"));
        }
        rc => o.check(
            false,
            &format!("nobody-owned stale pidfile: exit {rc}, want 6 or 0"),
        ),
    }
}

/// PS-05: refuse to act on a pidfile owned or writable by others (root caller); a
/// user's own pidfile is fine for that user.
#[test]
fn ps05_foreign_owned_or_writable_pidfile() {
    let o = sandbox("ps05").run(
        r#"
        launch d --term-marker $OUT/d.term
        P=$T/d.pid
        X=$(dpid d)
        chown nobody $P
        r own_stop spy $IMP stop -p $P
        r own_status spy $IMP status -p $P
        chown root $P; chmod 0666 $P
        r ww_stop spy $IMP stop -p $P
        r ww_status spy $IMP status -p $P
        chmod 0664 $P; chgrp users $P
        r gw_stop spy $IMP stop -p $P
        r gw_status spy $IMP status -p $P
        r gw_start $IMP start -p $P -- $TDAEMON --marker $OUT/m --sleep 100
        chmod 0644 $P; chgrp root $P
        r ok_status $IMP status -p $P
        echo "alive=$(alive $X)"
        echo "term=$([ -e $OUT/d.term ] && echo yes || echo no)"
        # Exception: uid 1000 and its own pidfile.
        mkdir $T/u; chown 1000:1000 $T/u
        r u_start asuser $IMP start -p $T/u/d.pid -- $TDAEMON --dump $OUT/u.dump --sleep 100
        waitfile $OUT/u.dump
        echo "u.owner=$(stat -c '%u %a' $T/u/d.pid)"
        r u_status asuser $IMP status -p $T/u/d.pid
        r u_stop asuser $IMP stop -p $T/u/d.pid
        "#,
    );
    for n in ["own", "ww", "gw"] {
        o.expect(&format!("{n}_stop"), 6, &["insecure", "/d.pid"]);
        o.expect(&format!("{n}_status"), 4, &["insecure"]);
    }
    o.check(
        o.err("own_stop").contains("/d.pid"),
        "the message names the pidfile",
    );
    o.check(
        o.rc("gw_start") == 0 || o.rc("gw_start") == 6,
        "start never touches it",
    );
    o.expect_out("ok_status", 0, &["running"]);
    o.expect_eq("alive", "yes");
    o.expect_eq("term", "no");
    o.assert_no_signals();
    o.expect("u_start", 0, &["started"]);
    o.expect_eq("u.owner", "1000 644");
    o.expect_out("u_status", 0, &["running"]);
    o.expect("u_stop", 0, &["stopped"]);
}

/// PS-05 (directory): a pidfile directory writable by others or owned by another user.
#[test]
fn ps05_insecure_directory() {
    let o = sandbox("ps05dir").run(
        r#"
        mkdir -m 0777 $T/ww
        r ww $IMP start -p $T/ww/d.pid -- $TDAEMON --marker $OUT/m1 --sleep 100
        mkdir $T/nb; chown nobody $T/nb
        r nb $IMP start -p $T/nb/d.pid -- $TDAEMON --marker $OUT/m2 --sleep 100
        sleep 0.2
        echo "ran=$(ls $OUT | wc -l)"
        echo "files=$(ls -A $T/ww $T/nb | grep -c pid)"
        "#,
    );
    o.expect("ww", 6, &["insecure"]);
    o.expect("nb", 6, &["insecure"]);
    o.expect_eq("ran", "0");
    o.expect_eq("files", "0");
}

/// PS-06: the pidfile is 0644 root:root with canonical content, whatever the umask and
/// --user; the directory is unchanged.
#[test]
fn ps06_pidfile_mode_owner_content() {
    let o = sandbox("ps06").run(
        r#"
        for um in 000 077; do
            mkdir $T/d$um
            dirbefore=$(stat -c '%a %U %G' $T/d$um)
            (umask $um; r s$um $IMP start -p $T/d$um/d.pid --user nobody -- $TDAEMON --dump $OUT/d$um.dump --sleep 100)
            waitfile $OUT/d$um.dump
            echo "s$um.stat=$(stat -c '%F %a %u %g' $T/d$um/d.pid)"
            echo "s$um.hex=$(hex $T/d$um/d.pid)"
            echo "s$um.want=$(printf '%s\n' $(dpid d$um) | od -An -tx1 | tr -d ' \n')"
            echo "s$um.dir=$([ "$dirbefore" = "$(stat -c '%a %U %G' $T/d$um)" ] && echo same || echo changed)"
            echo "s$um.uid=$(sed -n 's/^Uid=//p' $OUT/d$um.dump)"
        done
        "#,
    );
    for um in ["000", "077"] {
        o.expect(&format!("s{um}"), 0, &["started"]);
        o.expect_eq(&format!("s{um}.stat"), "regular file 644 0 0");
        o.expect_eq(&format!("s{um}.hex"), o.get(&format!("s{um}.want")));
        o.expect_eq(&format!("s{um}.dir"), "same");
        o.expect_eq(&format!("s{um}.uid"), "65534 65534 65534 65534");
    }
}

/// PS-07: a compromised daemon (running as nobody) cannot rewrite its own pidfile.
#[test]
fn ps07_daemon_cannot_rewrite_pidfile() {
    let o = sandbox("ps07").run(
        r#"
        mkdir $T/run
        P=$T/run/d.pid
        r start $IMP start -p $P --user nobody -- $TDAEMON --dump $OUT/d.dump --sleep 100
        waitfile $OUT/d.dump
        before=$(hex $P)
        asnobody bash -c "printf 1 > $P" 2>>$H/log; echo "w.rc=$?"
        asnobody touch $T/run/x 2>>$H/log; echo "t.rc=$?"
        asnobody ln -sf /etc/shadow $P 2>>$H/log; echo "l.rc=$?"
        asnobody rm -f $P 2>>$H/log; echo "rm.rc=$?"
        echo "same=$([ "$before" = "$(hex $P)" ] && [ ! -L $P ] && echo yes || echo no)"
        "#,
    );
    o.expect("start", 0, &["started"]);
    for k in ["w.rc", "t.rc", "l.rc", "rm.rc"] {
        o.check(
            o.get(k) != "0",
            &format!("{k}: nobody must not be able to do it"),
        );
    }
    o.expect_eq("same", "yes");
}

/// PS-09: signals go through pidfd_open + re-check (F_OFD_GETLK) + pidfd_send_signal; with
/// pidfd_open failing (ENOSYS), kill() to the daemon's pid only, after the check.
#[test]
fn ps09_pidfd_then_recheck_then_signal() {
    let o = sandbox("ps09").run(
        r#"
        launch d
        SPYTRACE=$SPYCALLS,fcntl,flock r stop spy $IMP stop -p $T/d.pid
        "#,
    );
    o.expect("stop", 0, &["stopped"]);
    let pid = o.int("d.pid");
    let calls = &o.spy.calls;
    let open = calls.iter().position(|c| {
        c.name == "pidfd_open"
            && c.args.first().map(String::as_str) == Some(&pid.to_string())
            && c.ret.is_some_and(|r| r >= 0)
    });
    o.check(open.is_some(), "pidfd_open(daemon pid) succeeded");
    let open = open.unwrap_or(0);
    let send = calls.iter().position(|c| {
        c.name == "pidfd_send_signal" && c.args.get(1).map(String::as_str) == Some("SIGTERM")
    });
    o.check(
        send.is_some_and(|s| s > open),
        "SIGTERM via pidfd_send_signal after pidfd_open",
    );
    let send = send.unwrap_or(0);
    o.check(
        calls[open..send]
            .iter()
            .any(|c| c.name == "fcntl" && c.args.iter().any(|a| a.contains("_GETLK"))),
        "lock re-checked (F_OFD_GETLK) between pidfd_open and the signal",
    );
    o.check(
        !calls
            .iter()
            .any(|c| c.name == "kill" && c.args.get(1).is_some_and(|s| s != "0")),
        "no kill() when pidfds work",
    );
    o.assert_signals_only_to(&[pid]);
}

/// PS-09 variant: pidfd_open forced to ENOSYS: fallback to kill(pid) after the check.
#[test]
fn ps09_fallback_without_pidfd() {
    let o = sandbox("ps09b").run(
        r#"
        launch d
        SPYOPTS="-e inject=pidfd_open:error=ENOSYS" SPYTRACE=$SPYCALLS,fcntl r stop spy $IMP stop -p $T/d.pid
        echo "alive=$(alive $(dpid d))"
        "#,
    );
    o.expect("stop", 0, &["stopped"]);
    o.expect_eq("alive", "no");
    let pid = o.int("d.pid");
    let calls = &o.spy.calls;
    let kill = calls
        .iter()
        .position(|c| c.name == "kill" && c.args.get(1).map(String::as_str) == Some("SIGTERM"));
    o.check(kill.is_some(), "fallback kill(pid, SIGTERM)");
    let kill = kill.unwrap_or(0);
    o.check(
        calls[..kill]
            .iter()
            .any(|c| c.name == "fcntl" && c.args.iter().any(|a| a.contains("_GETLK"))),
        "identity (lock) checked before kill()",
    );
    o.assert_signals_only_to(&[pid]);
}

/// SPEC §3 (as docs/CLI-CONTRACT.md's lock protocol amends it): a lock holder that
/// contradicts the content — a read lock (the daemon's own kind since issue 8's F3) or
/// a write lock — is reported as insecure; nothing is signalled.
#[test]
fn ps_read_lock_or_contradicting_holder_is_insecure() {
    let o = sandbox("ps-holder").run(
        r#"
        sleep 1000 & A=$!
        # (1) read lock held by a helper, content names another live process A
        $TDAEMON --lock-read $T/r.pid --dump $OUT/r.dump --sleep 1000 &
        waitfile $OUT/r.dump
        printf '%s\n' $A > $T/r.pid
        r rstatus spy $IMP status -p $T/r.pid
        r rstop spy $IMP stop -p $T/r.pid
        r rsignal spy $IMP signal -p $T/r.pid TERM
        # (2) write lock held by helper B, content names another live process A
        $TDAEMON --lock $T/w.pid --dump $OUT/w.dump --sleep 1000 &
        waitfile $OUT/w.dump
        printf '%s\n' $A > $T/w.pid
        r wstatus spy $IMP status -p $T/w.pid
        r wstop spy $IMP stop -p $T/w.pid
        r wsignal spy $IMP signal -p $T/w.pid TERM
        r wstart spy $IMP start -p $T/w.pid -- $TDAEMON --marker $OUT/m --sleep 100
        sleep 0.2
        echo "A=$(alive $A)"
        echo "B=$(alive $(dpid w))"
        echo "R=$(alive $(dpid r))"
        echo "ran=$([ -e $OUT/m ] && echo yes || echo no)"
        echo "wcontent=$(cat $T/w.pid)"
        echo "Apid=$A"
        "#,
    );
    o.expect("rstatus", 4, &["insecure"]);
    o.expect("rstop", 6, &["insecure"]);
    o.expect("rsignal", 6, &["insecure"]);
    o.expect("wstatus", 4, &["insecure"]);
    o.expect("wstop", 6, &["insecure"]);
    o.expect("wsignal", 6, &["insecure"]);
    o.check(
        o.rc("wstart") == 0 || o.rc("wstart") == 6,
        "start: already running or refused",
    );
    o.expect_eq("ran", "no");
    o.expect_eq("wcontent", o.get("Apid"));
    o.expect_eq("A", "yes");
    o.expect_eq("B", "yes");
    o.expect_eq("R", "yes");
    o.assert_no_signals();
}

/// A root-owned symlinked directory in the pidfile path (`/var/run -> /run`) is normal
/// and works; only the pidfile itself must not be a symlink.
#[test]
fn ps_root_owned_directory_symlink_ok() {
    let o = sandbox("ps-dirlink").run(
        r#"
        mkdir $T/run
        ln -s $T/run $T/varrun
        r a $IMP start -p $T/varrun/d.pid -- $TDAEMON --dump $OUT/d.dump --sleep 1000
        waitfile $OUT/d.dump
        kv d $OUT/d.dump
        echo "content=$(cat $T/run/d.pid)"
        r st $IMP status -p $T/varrun/d.pid
        r stop $IMP stop -p $T/varrun/d.pid
        echo "exists=$([ -e $T/run/d.pid ] && echo yes || echo no)"
        "#,
    );
    o.expect("a", 0, &["started"]);
    o.expect_eq("content", o.get("d.pid"));
    o.expect_out("st", 0, &["running"]);
    o.expect("stop", 0, &["stopped"]);
    o.expect_eq("exists", "no");
}
