//! PD — privilege drop.

use imp_tests::*;

const IDCALLS: &str =
    "setgroups,setgid,setresgid,setregid,setuid,setresuid,setreuid,setfsuid,setfsgid";

/// PD-02: the drop is complete (all four ids, no capabilities, groups reset), ordered
/// (setgroups, then gid, then uid) and irreversible.
#[test]
fn pd02_complete_ordered_irreversible() {
    let o = sandbox("pd02").run(&format!(
        r#"
        add_group tuser 2000
        add_group tgrp 2001 other,tuser
        add_group wheel2 2002 other
        add_user tuser 2000 2000 $T/home
        SPYTRACE={IDCALLS} r a spy $IMP start -p $T/a.pid --user tuser -- $TDAEMON --try-setuid0 --dump $OUT/a.dump --sleep 1000
        r b $IMP start -p $T/b.pid --user tuser:tgrp -- $TDAEMON --dump $OUT/b.dump --sleep 1000
        r c $IMP start -p $T/c.pid --user tuser --group tgrp -- $TDAEMON --dump $OUT/c.dump --sleep 1000
        r d $IMP start -p $T/d.pid --user 65534 -- $TDAEMON --try-setuid0 --dump $OUT/d.dump --sleep 1000
        for x in a b c d; do waitfile $OUT/$x.dump; kv $x $OUT/$x.dump; done
        "#
    ));
    o.expect("a", 0, &["started"]);
    o.expect_eq("a.Uid", "2000 2000 2000 2000");
    o.expect_eq("a.Gid", "2000 2000 2000 2000");
    let groups: Vec<&str> = o
        .get("a.Groups")
        .split(' ')
        .filter(|s| !s.is_empty())
        .collect();
    o.check(
        groups.contains(&"2001"),
        "supplementary group from /etc/group",
    );
    o.check(
        !groups.contains(&"0") && !groups.contains(&"2002"),
        "no root group, no foreign group",
    );
    for cap in ["a.CapEff", "a.CapPrm", "a.CapAmb"] {
        o.expect_eq(cap, "0000000000000000");
    }
    o.expect_eq("a.try_setuid0", "EPERM");
    o.expect_eq("a.try_setresuid0", "EPERM");
    o.expect_eq("a.try_setgroups0", "EPERM");
    // Order of the first call of each kind in the spawned child.
    let first = |names: &[&str]| {
        o.spy
            .calls
            .iter()
            .position(|c| names.contains(&c.name.as_str()))
    };
    let g = first(&["setgroups"]);
    let gid = first(&["setgid", "setresgid", "setregid"]);
    let uid = first(&["setuid", "setresuid", "setreuid"]);
    o.check(
        g.is_some() && gid.is_some() && uid.is_some(),
        "setgroups, setgid and setuid all called",
    );
    o.check(g < gid && gid < uid, "order: setgroups -> setgid -> setuid");
    o.expect("b", 0, &["started"]);
    o.expect_eq("b.Uid", "2000 2000 2000 2000");
    o.expect_eq("b.Gid", "2001 2001 2001 2001");
    o.expect("c", 0, &["started"]);
    o.expect_eq("c.Gid", "2001 2001 2001 2001");
    o.expect("d", 0, &["started"]);
    o.expect_eq("d.Uid", "65534 65534 65534 65534");
    o.expect_eq("d.Gid", "65534 65534 65534 65534");
    o.expect_eq("d.try_setuid0", "EPERM");
    let dg = o.get("d.Groups");
    o.check(dg.is_empty() || dg == "65534", "nobody: no root groups");
}

/// PD-03: any drop failure aborts before exec.
#[test]
fn pd03_drop_failure_aborts() {
    let o = sandbox("pd03").run(
        r#"
        mkdir $T/u; chown 1000:1000 $T/u
        r user $IMP start -p $T/a.pid --user nosuchuser -- $TDAEMON --marker $OUT/a --sleep 100
        r group $IMP start -p $T/b.pid --user nobody:nosuchgroup -- $TDAEMON --marker $OUT/b --sleep 100
        r group2 $IMP start -p $T/c.pid --group nosuchgroup -- $TDAEMON --marker $OUT/c --sleep 100
        r eperm asuser $IMP start -p $T/u/d.pid --user nobody -- $TDAEMON --marker $OUT/d --sleep 100
        r eperm2 asuser $IMP start -p $T/u/e.pid --user 0 -- $TDAEMON --marker $OUT/e --sleep 100
        sleep 0.3
        echo "markers=$(ls $OUT | wc -l)"
        echo "pidfiles=$(ls $T/*.pid $T/u/*.pid 2>>$H/log | wc -l)"
        echo "n=$(nprocs "$TDAEMON")"
        "#,
    );
    o.expect("user", 2, &["unknown user", "nosuchuser"]);
    o.expect("group", 2, &["unknown group", "nosuchgroup"]);
    o.expect("group2", 2, &["unknown group", "nosuchgroup"]);
    o.expect("eperm", 4, &["Operation not permitted"]);
    o.expect("eperm2", 4, &["Operation not permitted"]);
    o.expect_eq("markers", "0");
    o.expect_eq("pidfiles", "0");
    o.expect_eq("n", "0");
}

/// PD-04: numeric ids work with empty /etc/passwd and /etc/group; names then fail; the
/// binary is static (no NSS).
#[test]
fn pd04_numeric_ids_without_passwd() {
    let o = sandbox("pd04").run(
        r#"
        empty_etc
        echo "passwd_size=$(stat -c %s /etc/passwd)"
        r a $IMP start -p $T/a.pid --user 1234:1234 -- $TDAEMON --dump $OUT/a.dump --sleep 1000
        waitfile $OUT/a.dump
        kv a $OUT/a.dump
        r b $IMP start -p $T/b.pid --user tuser -- $TDAEMON --marker $OUT/m --sleep 100
        "#,
    );
    o.expect_eq("passwd_size", "0");
    o.expect("a", 0, &["started"]);
    o.expect_eq("a.Uid", "1234 1234 1234 1234");
    o.expect_eq("a.Gid", "1234 1234 1234 1234");
    let g = o.get("a.Groups");
    o.check(g.is_empty() || g == "1234", "no supplementary groups");
    o.expect("b", 2, &["unknown user", "tuser"]);
    o.check(
        is_static_elf(&imp_bin()),
        "static binary (no PT_INTERP, no PT_DYNAMIC)",
    );
}

/// uid/gid (uid_t)-1 means "leave unchanged" to setresuid/setresgid: `--user 4294967295`
/// must never leave the daemon running as root; overflowing ids never wrap.
#[test]
fn pd_uid_gid_minus_one_never_root() {
    let o = sandbox("pd-minus1").run(
        r#"
        i=0
        for u in 4294967295 4294967295:4294967295 65534:4294967295 4294967296 99999999999 -1 65534:-1; do
            rm -f $OUT/d$i.dump
            r u$i $IMP start -p $T/u$i.pid --user $u -- $TDAEMON --dump $OUT/d$i.dump --sleep 1000
            [ "$(cat $H/r.out $H/r.err | grep -c started)" != 0 ] && waitfile $OUT/d$i.dump
            echo "u$i.arg=$u"
            echo "u$i.ids=$(sed -n 's/^Uid=//p' $OUT/d$i.dump 2>>$H/log)|$(sed -n 's/^Gid=//p' $OUT/d$i.dump 2>>$H/log)"
            i=$((i + 1))
        done
        echo "n=$i"
        "#,
    );
    for i in 0..o.int("n") {
        let (rc, ids, arg) = (
            o.rc(&format!("u{i}")),
            o.get(&format!("u{i}.ids")),
            o.get(&format!("u{i}.arg")),
        );
        if rc == 0 {
            o.check(
                !ids.split(['|', ' ']).any(|x| x == "0" || x == "4294967295"),
                &format!("--user {arg}: started with ids {ids}"),
            );
        } else {
            o.check(
                rc == 2 || rc == 4 || rc == 1,
                &format!("--user {arg}: exit {rc}"),
            );
        }
    }
}

/// Fixed buffers: very long /etc/passwd and /etc/group lines before (and around) the
/// target entries never corrupt the lookup.
#[test]
fn pd_long_passwd_and_group_lines() {
    let o = sandbox("pd-long").run(
        r#"
        long=$(head -c 6000 /dev/zero | tr '\0' 'x')
        add_user junk1 3001 3001 "/home/$long"
        add_group junkg 3002 "$(for i in $(seq 800); do printf 'member%04d,' $i; done)tuser"
        add_group tuser 2000
        add_user tuser 2000 2000 $T/home
        add_user "tuser$long" 2999 2999 /x
        r a $IMP start -p $T/a.pid --user tuser -- $TDAEMON --dump $OUT/a.dump --sleep 1000
        waitfile $OUT/a.dump
        kv a $OUT/a.dump
        echo "T=$T"
        "#,
    );
    // An over-long group line may be refused with a message, never silently skipped.
    if o.rc("a") != 0 {
        o.check(!o.err("a").is_empty(), "explicit failure");
        return;
    }
    o.expect_eq("a.Uid", "2000 2000 2000 2000");
    o.expect_eq("a.Gid", "2000 2000 2000 2000");
    o.expect_eq("a.env.HOME", &format!("{}/home", o.get("T")));
    let g = o.get("a.Groups");
    o.check(
        g.split(' ').any(|x| x == "3002"),
        &format!("member of junkg (its line is ~10 KB): Groups={g:?}"),
    );
}

/// Many supplementary groups: all of them, or an explicit failure; never a silent cut.
#[test]
fn pd_many_supplementary_groups() {
    let o = sandbox("pd-groups").run(
        r#"
        add_group tuser 2000
        add_user tuser 2000 2000 /
        for i in $(seq 100); do add_group g$i $((5000 + i)) tuser; done
        r a $IMP start -p $T/a.pid --user tuser -- $TDAEMON --dump $OUT/a.dump --sleep 1000
        waitfile $OUT/a.dump 3
        echo "groups=$(sed -n 's/^Groups=//p' $OUT/a.dump 2>>$H/log | wc -w)"
        "#,
    );
    if o.rc("a") == 0 {
        o.check(o.int("groups") >= 100, "all 100 supplementary groups set");
    } else {
        o.check(!o.err("a").is_empty(), "explicit failure");
    }
}
