//! HD — hardening options (issue 12): `--limit`, `--no-new-privs`, `--caps`, each
//! checked from the daemon's `/proc/PID/limits` and `/proc/PID/status`.

use imp_tests::*;

/// The shell helpers of these tests: `lim NAME PID "Max open files"` prints
/// NAME.soft and NAME.hard from /proc/PID/limits; `caps NAME PID` prints NAME.CapX
/// and NAME.NoNewPrivs from /proc/PID/status; `nothing NAME` says whether a start
/// left anything (marker, pidfile, process).
const HELPERS: &str = r#"
lim() {
    local l; l=$(sed -n "s/^$3  *//p" /proc/$2/limits 2>>$H/log)
    set -- "$1" $l
    echo "$1.soft=${2:-?}"; echo "$1.hard=${3:-?}"
}
caps() {
    local k
    for k in CapInh CapPrm CapEff CapBnd CapAmb NoNewPrivs Uid; do
        echo "$1.$k=$(sed -n "s/^$k:[[:space:]]*//p" /proc/$2/status 2>>$H/log | tr -s '\t ' ' ')"
    done
}
nothing() {
    echo "$1.left=$(ls $OUT/$1.m $T/$1.pid 2>/dev/null | wc -l)/$(nprocs "marker $OUT/$1.m")"
}
lines() { echo "$1.lines=$(wc -l < $H/r.err)"; }
"#;

fn run(name: &str, script: &str) -> Outcome {
    sandbox(name).full().run(&format!("{HELPERS}\n{script}"))
}

/// Soft and hard limits as given, from /proc/PID/limits: root and `-u nobody`, a
/// single value setting both, `unlimited`/`infinity`, `run` too; raising the hard
/// limit above the caller's needs CAP_SYS_RESOURCE (root here may lack it: then the
/// start fails with the step and errno, and nothing is left).
#[test]
fn hd_limits_from_proc() {
    let o = run(
        "hd-limits",
        r#"
        r a $IMP start -p $T/a.pid --limit nofile=1000:2000 --limit core=unlimited --limit nproc=500 --limit stack=1048576:infinity -- $TDAEMON --dump $OUT/a.dump --sleep 1000
        waitfile $OUT/a.dump; A=$(cat $T/a.pid)
        lim a.nofile $A "Max open files"; lim a.core $A "Max core file size"
        lim a.nproc $A "Max processes"; lim a.stack $A "Max stack size"
        r b $IMP start -p $T/b.pid -u nobody --limit NOFILE=300 --limit as=unlimited:unlimited --limit nofile=100:200 -- $TDAEMON --dump $OUT/b.dump --sleep 1000
        waitfile $OUT/b.dump; B=$(cat $T/b.pid)
        lim b.nofile $B "Max open files"; lim b.as $B "Max address space"
        echo "b.uid=$(sed -n 's/^Uid=//p' $OUT/b.dump)"
        r run $IMP run --limit nofile=77:88 -- $TDAEMON --dump $OUT/run.dump
        kv run $OUT/run.dump
        # Above the caller's hard limit (lowered to 4096 by prlimit).
        echo "sysres=$(( (0x$(sed -n 's/^CapEff:[[:space:]]*//p' /proc/self/status) >> 24) & 1 ))"
        r up prlimit --nofile=1024:4096 $IMP start -p $T/up.pid --limit nofile=8192:16384 -- $TDAEMON --marker $OUT/up.m --dump $OUT/up.dump --sleep 1000
        [ -e $T/up.pid ] && { waitfile $OUT/up.dump; lim up.nofile $(cat $T/up.pid) "Max open files"; }
        sleep 0.2; nothing up
        "#,
    );
    o.expect("a", 0, &["started"]);
    for (k, soft, hard) in [
        ("a.nofile", "1000", "2000"),
        ("a.core", "unlimited", "unlimited"),
        ("a.nproc", "500", "500"),
        ("a.stack", "1048576", "unlimited"),
        // A resource named twice: the last one counts.
        ("b.nofile", "100", "200"),
        ("b.as", "unlimited", "unlimited"),
    ] {
        // qemu-user keeps RLIMIT_STACK, _AS and _DATA for itself (it does not pass
        // the guest's setrlimit of them to the kernel).
        if emulated() && matches!(k, "a.stack" | "b.as") {
            continue;
        }
        o.expect_eq(&format!("{k}.soft"), soft);
        o.expect_eq(&format!("{k}.hard"), hard);
    }
    o.expect("b", 0, &["started"]);
    o.expect_eq("b.uid", "65534 65534 65534 65534");
    o.expect("run", 0, &[]);
    o.expect_eq("run.rlimit_nofile", "77");
    o.expect_eq("run.rlimit_nofile_max", "88");
    if o.get("sysres") == "1" {
        o.expect("up", 0, &["started"]);
        o.expect_eq("up.nofile.soft", "8192");
        o.expect_eq("up.nofile.hard", "16384");
    } else {
        // This machine's root has no CAP_SYS_RESOURCE (see README "Known limits").
        o.expect(
            "up",
            4,
            &["imp: start: rlimit nofile: Operation not permitted (EPERM)"],
        );
        o.expect_eq("up.left", "0/0");
    }
}

/// `--no-new-privs`: NoNewPrivs 1 in /proc/PID/status, as root and as nobody, and a
/// setuid-root program run by the daemon stays unprivileged; 0 without the option.
#[test]
fn hd_no_new_privs() {
    let o = run(
        "hd-nnp",
        r#"
        r a $IMP start -p $T/a.pid --no-new-privs -- $TDAEMON --dump $OUT/a.dump --sleep 1000
        r b $IMP start -p $T/b.pid -u nobody --no-new-privs -- $TDAEMON --dump $OUT/b.dump --sleep 1000
        r c $IMP start -p $T/c.pid -u nobody -- $TDAEMON --dump $OUT/c.dump --sleep 1000
        for x in a b c; do waitfile $OUT/$x.dump; caps $x $(cat $T/$x.pid); done
        # A setuid-root copy of tdaemon, run by a nobody daemon with and without the flag.
        cp $TDAEMON $T/suid; chmod 4755 $T/suid
        r s1 $IMP start -p $T/s1.pid -u nobody --no-new-privs -- $T/suid --dump $OUT/s1.dump --sleep 1000
        r s2 $IMP start -p $T/s2.pid -u nobody -- $T/suid --dump $OUT/s2.dump --sleep 1000
        for x in s1 s2; do waitfile $OUT/$x.dump; echo "$x.resuid=$(sed -n 's/^resuid=//p' $OUT/$x.dump)"; done
        "#,
    );
    for x in ["a", "b", "c", "s1", "s2"] {
        o.expect(x, 0, &["started"]);
    }
    o.expect_eq("a.NoNewPrivs", "1");
    o.expect_eq("b.NoNewPrivs", "1");
    o.expect_eq("c.NoNewPrivs", "0");
    o.expect_eq("s1.resuid", "65534 65534 65534");
    o.expect_eq("s2.resuid", "65534 0 0");
}

/// `--caps`: with `-u nobody`, exactly the list in every set (permitted, effective,
/// inheritable, ambient, bounding) and root cannot be regained; as root, root keeps
/// only the list; without `--caps`, `-u` drops every capability as before; `run` the
/// same; a kept `setuid` lets the program change its uid (documented).
#[test]
fn hd_caps_from_proc() {
    let o = run(
        "hd-caps",
        r#"
        r a $IMP start -p $T/a.pid -u nobody --caps net_bind_service,CAP_NET_RAW -- $TDAEMON --try-setuid0 --dump $OUT/a.dump --sleep 1000
        r b $IMP start -p $T/b.pid --caps Net_Bind_Service -- $TDAEMON --dump $OUT/b.dump --sleep 1000
        r c $IMP start -p $T/c.pid -u nobody -- $TDAEMON --dump $OUT/c.dump --sleep 1000
        r d $IMP start -p $T/d.pid -u nobody --caps setuid -- $TDAEMON --dump $OUT/d.dump --sleep 1000
        r e $IMP start -p $T/e.pid -u nobody --caps 10 --no-new-privs -- $TDAEMON --dump $OUT/e.dump --sleep 1000
        for x in a b c d e; do waitfile $OUT/$x.dump; caps $x $(cat $T/$x.pid); done
        kv a $OUT/a.dump | grep try_
        echo "self.CapBnd=$(sed -n 's/^CapBnd:[[:space:]]*//p' /proc/self/status)"
        r run $IMP run -u nobody --caps net_bind_service -- $TDAEMON --dump $OUT/run.dump
        kv run $OUT/run.dump | grep -E 'Cap|Uid'
        "#,
    );
    for x in ["a", "b", "c", "d", "e"] {
        o.expect(x, 0, &["started"]);
    }
    for k in ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"] {
        o.expect_eq(&format!("a.{k}"), "0000000000002400");
        o.expect_eq(&format!("b.{k}"), "0000000000000400");
        o.expect_eq(&format!("d.{k}"), "0000000000000080");
        o.expect_eq(&format!("e.{k}"), "0000000000000400");
        o.expect_eq(&format!("run.{k}"), "0000000000000400");
    }
    o.expect_eq("a.Uid", "65534 65534 65534 65534");
    o.expect_eq("a.try_setuid0", "EPERM");
    o.expect_eq("a.try_setresuid0", "EPERM");
    o.expect_eq("a.try_setgroups0", "EPERM");
    o.expect_eq("b.Uid", "0 0 0 0");
    o.expect_eq("d.Uid", "65534 65534 65534 65534");
    o.expect_eq("e.NoNewPrivs", "1");
    o.expect_eq("run.Uid", "65534 65534 65534 65534");
    for k in ["CapInh", "CapPrm", "CapEff", "CapAmb"] {
        o.expect_eq(&format!("c.{k}"), "0000000000000000");
    }
    // Without --caps the bounding set is left as it was.
    let bnd = o.get("self.CapBnd").to_string();
    o.expect_eq("c.CapBnd", &bnd);
}

/// A daemon as nobody binds port 80 with `--caps net_bind_service` (tdaemon and busybox
/// httpd), and fails to without it (each in its own network namespace).
#[test]
fn hd_caps_bind_port_80() {
    let o = run(
        "hd-bind",
        r#"
        r a unshare --net $IMP start -p $T/a.pid -u nobody --caps net_bind_service -- $TDAEMON --bind-tcp 80 --dump $OUT/a.dump --sleep 1000
        r b unshare --net $IMP start -p $T/b.pid -u nobody -- $TDAEMON --bind-tcp 80 --dump $OUT/b.dump --sleep 1000
        for x in a b; do waitfile $OUT/$x.dump; echo "$x.bind=$(sed -n 's/^bind_tcp=//p' $OUT/$x.dump)"; done
        mkdir -p $T/www; echo hello > $T/www/index.html
        r h unshare --net $IMP start -p $T/h.pid -u nobody --caps net_bind_service --stderr $T/h.err -- busybox httpd -f -p 80 -h $T/www
        r i unshare --net $IMP start -p $T/i.pid -u nobody --stderr $T/i.err -- busybox httpd -f -p 80 -h $T/www
        sleep 0.5
        HP=$(cat $T/h.pid); IP=$(cat $T/i.pid)
        # Port 80 is 0050; state 0A is LISTEN (httpd listens on [::]:80 where IPv6 is).
        echo "h.listen=$(cat /proc/$HP/net/tcp /proc/$HP/net/tcp6 2>>$H/log | awk '$2 ~ /:0050$/ && $4 == "0A"' | wc -l)"
        echo "h.alive=$(alive $HP)"; echo "i.alive=$(alive $IP)"
        echo "h.log=$(esc $T/h.err)"; echo "i.log=$(esc $T/i.err)"
        "#,
    );
    o.expect("a", 0, &["started"]);
    o.expect_eq("a.bind", "ok");
    o.expect("b", 0, &["started"]);
    o.expect_eq("b.bind", "EACCES");
    o.expect("h", 0, &["started"]);
    o.expect_eq("h.listen", "1");
    o.expect_eq("h.alive", "yes");
    o.expect("i", 0, &["started"]);
    o.expect_eq("i.alive", "no");
    o.check(
        o.get("i.log").contains("bind: Permission denied"),
        "httpd without the capability: bind refused",
    );
}

/// Bad values are usage errors (exit 2), one line naming what is wrong, nothing
/// started; failures in the daemon are reported as the step and errno.
#[test]
fn hd_bad_input_and_failures() {
    let o = run(
        "hd-bad",
        r#"
        t() { local n=$1; shift; r $n $IMP start -p $T/$n.pid "$@" -- $TDAEMON --marker $OUT/$n.m --sleep 100; lines $n; }
        t res --limit files=10
        t abc --limit nofile=abc
        t order --limit nofile=10:5
        t inf --limit nofile=unlimited:5
        t half --limit nofile=10:
        t cap --caps net_bind_service,bogus
        t empty --caps ''
        t many $(for i in 1 2 3 4 5 6 7 8 9; do echo --limit nofile=$i; done)
        t stopcaps -u nobody --no-new-privs=1
        r stop $IMP stop -p $T/x.pid --caps net_raw; lines stop
        mkdir $T/u; chown 1000:1000 $T/u
        r eperm asuser $IMP start -p $T/u/eperm.pid --caps net_raw -- $TDAEMON --marker $OUT/eperm.m --sleep 100; lines eperm
        r hard asuser $IMP start -p $T/u/hard.pid --limit nofile=30000:30000 -- $TDAEMON --marker $OUT/hard.m --sleep 100; lines hard
        r nocap $IMP start -p $T/nocap.pid -u nobody --caps 63 -- $TDAEMON --marker $OUT/nocap.m --sleep 100; lines nocap
        sleep 0.3
        for n in res abc order inf half cap empty many stopcaps eperm hard nocap; do nothing $n; done
        echo "u.pids=$(ls $T/u | wc -l)"
        "#,
    );
    let usage = |name: &str, words: &[&str]| {
        o.expect(name, 2, words);
        o.expect_eq(&format!("{name}.lines"), "1");
    };
    usage("res", &["imp: usage: --limit: unknown resource 'files=10'"]);
    usage("abc", &["--limit: invalid value 'nofile=abc'"]);
    usage(
        "order",
        &["--limit: soft limit above hard limit 'nofile=10:5'"],
    );
    usage("inf", &["soft limit above hard limit"]);
    usage("half", &["--limit: invalid value 'nofile=10:'"]);
    usage("cap", &["imp: usage: --caps: unknown capability 'bogus'"]);
    usage("empty", &["--caps: unknown capability ''"]);
    usage("many", &["--limit: too many (at most 8)"]);
    usage("stopcaps", &["option takes no value '--no-new-privs=1'"]);
    usage("stop", &["option not accepted by this command '--caps'"]);
    // The daemon's failures: the step, the errno, the exit code of SPEC §2.1.
    o.expect(
        "eperm",
        4,
        &["imp: start: caps: Operation not permitted (EPERM)"],
    );
    o.expect(
        "hard",
        4,
        &["imp: start: rlimit nofile: Operation not permitted (EPERM)"],
    );
    o.expect("nocap", 1, &["imp: start: caps: Invalid argument (EINVAL)"]);
    for n in ["eperm", "hard", "nocap"] {
        o.expect_eq(&format!("{n}.lines"), "1");
    }
    for n in [
        "res", "abc", "order", "inf", "half", "cap", "empty", "many", "stopcaps", "eperm", "hard",
        "nocap",
    ] {
        o.expect_eq(&format!("{n}.left"), "0/0");
    }
    o.expect_eq("u.pids", "0");
}

/// `--dry-run` prints the hardening steps in the order they would run, and does
/// nothing.
#[test]
fn hd_dry_run() {
    let o = run(
        "hd-dry",
        r#"
        r a $IMP start --dry-run -p $T/a.pid -u nobody --limit nofile=10:20 --limit core=unlimited --caps net_raw,net_bind_service --no-new-privs -- $TDAEMON --marker $OUT/a.m --sleep 100
        sleep 0.2; nothing a
        "#,
    );
    o.expect_out(
        "a",
        0,
        &[
            "would set rlimit nofile 10 20\nwould set rlimit core unlimited unlimited\nwould drop to uid 65534",
            "\nwould keep only capabilities net_bind_service,net_raw\nwould set no_new_privs\nwould exec ",
        ],
    );
    o.expect_eq("a.left", "0/0");
}
