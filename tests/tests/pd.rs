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
        echo "file=$(file -b $IMP_BIN)"
        "#,
    );
    o.expect_eq("passwd_size", "0");
    o.expect("a", 0, &["started"]);
    o.expect_eq("a.Uid", "1234 1234 1234 1234");
    o.expect_eq("a.Gid", "1234 1234 1234 1234");
    let g = o.get("a.Groups");
    o.check(g.is_empty() || g == "1234", "no supplementary groups");
    o.expect("b", 2, &["unknown user", "tuser"]);
    let f = o.get("file");
    o.check(
        f.contains("statically linked") || f.contains("static-pie"),
        "static binary",
    );
}
