//! SS — the start-stop-daemon personality (issue 10): imp called as
//! `start-stop-daemon` keeps imp's guarantees where dpkg's does not. The side-by-side
//! comparison with dpkg's binary, and Debian's own init scripts, are in sd.rs.

use imp_tests::*;

/// `$SSD`: imp by the name `start-stop-daemon` (a symlink, as a board image installs
/// it); `$MYSLEEP`: a copy of sleep only the test runs (the CANARY is a sleep too).
const SSD: &str = r#"
mkdir -p $T/bin
ln -s "$IMP_BIN" $T/bin/start-stop-daemon
SSD="${IMP_RUNNER:+$IMP_RUNNER }$T/bin/start-stop-daemon"
MYSLEEP=$T/bin/mysleep
cp /bin/sleep $MYSLEEP
"#;

/// Pidfiles that name nobody valid are status 4 and signal nothing, with or without
/// `--exec`; a valid pid that is not the program is not signalled either.
#[test]
fn ss_pidfiles_naming_nobody_signal_nothing() {
    let o = sandbox("ss-nobody").full().run(&format!(
        r#"{SSD}
        i=0
        for c in "${{CANARY}}abc" "+$CANARY" "-1" "0" "" " " "99999999999"; do
            i=$((i+1))
            printf '%s\n' "$c" > $T/p.pid
            r status$i $SSD --status -p $T/p.pid
            r stop$i spy $SSD --stop -p $T/p.pid
            r stopx$i spy $SSD --stop -p $T/p.pid -x $MYSLEEP
        done
        # The script's shell (imp's grandparent here) and init: never signalled.
        echo "shell=$$"
        for c in $$ 1; do
            echo $c > $T/p.pid
            r anc$c spy $SSD --stop -p $T/p.pid
            r ancst$c $SSD --status -p $T/p.pid
        done
        echo "$CANARY" > $T/p.pid
        r other spy $SSD --stop -p $T/p.pid -x $MYSLEEP
        r othern spy $SSD --stop -p $T/p.pid -n mysleep --retry 1
        r otherst $SSD --status -p $T/p.pid -x $MYSLEEP
        "#
    ));
    let shell = o.int("shell");
    for c in [shell, 1] {
        o.expect_out(&format!("anc{c}"), 1, &["none killed."]);
    }
    // The shell is an ancestor: dead with a pidfile; 1 is no daemon's pid (status 4).
    o.expect_out(&format!("ancst{shell}"), 1, &[]);
    o.expect_out("ancst1", 4, &[]);
    for i in 1..=7 {
        o.expect_out(&format!("status{i}"), 4, &[]);
        o.expect_out(&format!("stop{i}"), 1, &["found running; none killed."]);
        o.expect_out(
            &format!("stopx{i}"),
            1,
            &["No", "found running; none killed."],
        );
    }
    o.expect_out("other", 1, &["No", "mysleep found running; none killed."]);
    o.expect_out("othern", 1, &["No mysleep found running; none killed."]);
    // A pidfile whose pid runs but is not the program: dead with a pidfile.
    o.expect_out("otherst", 1, &[]);
    o.assert_no_signals();
}

/// A start right after a start, and 20 starts at once, give one daemon; `--oknodo`
/// turns "already running" into 0; the pidfile imp made is locked by the daemon.
#[test]
fn ss_one_daemon_from_repeated_and_concurrent_starts() {
    let o = sandbox("ss-once").full().run(&format!(
        r#"{SSD}
        r first $SSD -S -b -m -p $T/p.pid -x $MYSLEEP -- 1000
        r second $SSD -S -b -m -p $T/p.pid -x $MYSLEEP -- 1000
        r okno $SSD -S -o -b -m -p $T/p.pid -x $MYSLEEP -- 1000
        P=$(cat $T/p.pid); echo "p=$P"
        echo "lock=$(lockholder $T/p.pid | cut -d, -f2)"
        echo "n1=$(pgrep -c -x mysleep)"
        r stop $SSD -K -p $T/p.pid -x $MYSLEEP --retry 5
        echo "gone=$(alive $P)"
        for i in $(seq 20); do $SSD -S -q -b -m -p $T/p.pid -x $MYSLEEP -- 1000 & done
        wait
        echo "n20=$(pgrep -c -x mysleep)"
        echo "pid20=$([ "$(cat $T/p.pid)" = "$(pgrep -x mysleep)" ] && echo same || echo differ)"
        r stop20 $SSD -K -p $T/p.pid --remove-pidfile -n mysleep --retry 5
        echo "left=$(pgrep -c -x mysleep)"
        echo "pidfile=$([ -e $T/p.pid ] && echo yes || echo no)"
        "#
    ));
    let p = o.int("p");
    o.expect_out("first", 0, &[]);
    o.expect_out("second", 1, &["mysleep already running."]);
    o.expect_out("okno", 0, &["mysleep already running."]);
    o.expect_eq("lock", &format!("POSIX-READ {p} 0-0"));
    o.expect_eq("n1", "1");
    o.expect_out("stop", 0, &[]);
    o.expect_eq("gone", "no");
    o.expect_eq("n20", "1");
    o.expect_eq("pid20", "same");
    o.expect_out("stop20", 0, &[]);
    o.expect_eq("left", "0");
    o.expect_eq("pidfile", "no");
}

/// Nothing is started when the start cannot work, and `--test` starts nothing: a
/// program that cannot be executed is exit 2 even with `--background` (dpkg says 0).
#[test]
fn ss_failed_and_test_starts_start_nothing() {
    let o = sandbox("ss-fail").full().run(&format!(
        r#"{SSD}
        printf 'not a program\n' > $T/bin/text; chmod 644 $T/bin/text
        r noexec $SSD -S -b -m -p $T/p.pid -x $T/bin/text
        echo "pidfile1=$([ -e $T/p.pid ] && echo yes || echo no)"
        r noexecfg $SSD -S -x $T/bin/text
        r missing $SSD -S -b -x $T/bin/none
        r startas $SSD -S -b -m -p $T/p.pid --startas $T/bin/none -n none
        r chuid $SSD -S -b -c no-such-user -x $MYSLEEP -- 1000
        r test $SSD -S -t -b -m -p $T/p.pid -x $MYSLEEP -- 1000
        echo "n=$(pgrep -c -x mysleep)"
        echo "pidfile2=$([ -e $T/p.pid ] && echo yes || echo no)"
        r fg $SSD -S -x /bin/sh -- -c 'exit 7'
        r fgpid $SSD -S -m -p $T/f.pid -x /bin/sh -- -c 'echo "self=$$ file=$(cat '$T'/f.pid)"'
        "#
    ));
    o.expect(
        "noexec",
        2,
        &["unable to start", "Permission denied (EACCES)"],
    );
    o.expect_eq("pidfile1", "no");
    o.expect(
        "noexecfg",
        2,
        &["unable to start", "Permission denied (EACCES)"],
    );
    o.expect(
        "missing",
        2,
        &["unable to stat", "No such file or directory (ENOENT)"],
    );
    o.expect(
        "startas",
        2,
        &["unable to start", "No such file or directory (ENOENT)"],
    );
    o.expect("chuid", 2, &["unknown user"]);
    o.expect_out("test", 0, &["Would start", "mysleep 1000."]);
    o.expect_eq("n", "0");
    o.expect_eq("pidfile2", "no");
    // Without --background the program replaces start-stop-daemon: its own status,
    // and the pidfile imp made names it.
    o.expect_out("fg", 7, &[]);
    let line = o.out("fgpid");
    let (me, file) = line
        .trim()
        .strip_prefix("self=")
        .and_then(|r| r.split_once(" file="))
        .unwrap_or(("", "x"));
    o.check(
        !me.is_empty() && me == file,
        &format!("the pidfile names the program: {line}"),
    );
}

/// `--exec` is the binary's identity: a copy elsewhere does not match, a binary
/// replaced in place (a package upgrade) still matches its running daemon; without a
/// pidfile every matching process is found (killall-like), and only those.
#[test]
fn ss_exec_identity_and_killall() {
    let o = sandbox("ss-exec").full().run(&format!(
        r#"{SSD}
        r start $SSD -S -b -x $MYSLEEP -- 1000
        P=$(pgrep -x mysleep); echo "p=$P"
        cp $MYSLEEP $T/bin/copy
        r copy $SSD -T -x $T/bin/copy
        cp $MYSLEEP $T/bin/new && mv $T/bin/new $MYSLEEP
        r upgraded $SSD -T -x $MYSLEEP
        r name $SSD -T -n mysleep
        r user $SSD -T -n mysleep -u nobody
        r pidof $SSD --pidof -x $MYSLEEP
        r stop spy $SSD -K -x $MYSLEEP --retry 5
        echo "alive=$(alive $P)"
        r again $SSD -K -x $MYSLEEP
        "#
    ));
    let p = o.int("p");
    o.expect_out("start", 0, &[]);
    o.expect_out("copy", 3, &[]);
    o.expect_out("upgraded", 0, &[]);
    o.expect_out("name", 0, &[]);
    o.expect_out("user", 3, &[]);
    o.expect_out("pidof", 0, &[&p.to_string()]);
    o.expect_out("stop", 0, &[]);
    o.expect_eq("alive", "no");
    o.expect_out("again", 1, &["No", "mysleep found running; none killed."]);
    o.assert_signals_only_to(&[p]);
}

/// Pidfiles imp refuses: a symlink, a FIFO, a world-writable or hard-linked file; one
/// owned by another user when nothing else says which process it is (dpkg refuses
/// that too). Nothing is signalled; status is 4, a stop is trouble (2).
#[test]
fn ss_refused_pidfiles() {
    let o = sandbox("ss-refused").full().run(&format!(
        r#"{SSD}
        echo "$CANARY" > $T/victim
        ln -s $T/victim $T/link.pid
        r linkst $SSD -T -p $T/link.pid
        r link spy $SSD -K -p $T/link.pid
        mkfifo $T/fifo.pid
        r fifo spy $SSD -K -p $T/fifo.pid
        echo "$CANARY" > $T/ww.pid; chmod 666 $T/ww.pid
        r ww spy $SSD -K -p $T/ww.pid
        echo "$CANARY" > $T/hl.pid; ln $T/hl.pid $T/hl2
        r hl spy $SSD -K -p $T/hl.pid
        echo "$CANARY" > $T/u.pid; chown 1000:1000 $T/u.pid
        r user spy $SSD -K -p $T/u.pid
        r userx spy $SSD -K -p $T/u.pid -x $MYSLEEP
        mkdir $T/d; chown 1000 $T/d; echo "$CANARY" > $T/d/x.pid
        r userdir spy $SSD -K -p $T/d/x.pid
        "#
    ));
    o.expect("linkst", 4, &["refused: symlink"]);
    o.expect("link", 2, &["refused: symlink"]);
    o.expect("fifo", 2, &["refused: not a regular file"]);
    o.expect("ww", 2, &["insecure: writable by group or others"]);
    o.expect("hl", 2, &["insecure: hard-linked"]);
    o.expect("user", 2, &["insecure: owned by uid 1000"]);
    // With --exec the daemon's own pidfile may be its user's: read, and the canary is
    // not the program.
    o.expect_out("userx", 1, &["none killed"]);
    o.expect("userdir", 2, &["insecure: directory owned by uid 1000"]);
    o.assert_no_signals();
}

/// `--retry` runs its schedule and exits 2 when it runs out with the program alive;
/// a schedule that ends in KILL stops it.
#[test]
fn ss_retry_schedule() {
    let o = sandbox("ss-retry").full().run(&format!(
        r#"{SSD}
        r start $SSD -S -b -m -p $T/p.pid -x $TDAEMON -- --ignore-term --sleep 1000
        P=$(cat $T/p.pid)
        r term spy $SSD -K -p $T/p.pid -x $TDAEMON --retry TERM/1
        echo "alive1=$(alive $P)"
        r kill spy $SSD -K -p $T/p.pid -x $TDAEMON --retry TERM/1/KILL/2
        echo "alive2=$(alive $P)"
        r status $SSD -T -p $T/p.pid -x $TDAEMON
        echo "p=$P"
        "#
    ));
    let p = o.int("p");
    o.expect_out("start", 0, &[]);
    o.expect_out("term", 2, &["refused to die."]);
    o.expect_eq("alive1", "yes");
    o.expect_out("kill", 0, &[]);
    o.expect_eq("alive2", "no");
    o.expect_out("status", 1, &[]);
    o.assert_signals_only_to(&[p]);
}

/// Bad command lines are exit 3 with one line naming what is wrong, and nothing is
/// done; `imp ssd` and the name `start-stop-daemon` are the same personality.
#[test]
fn ss_usage_errors() {
    let o = sandbox("ss-usage").full().run(&format!(
        r#"{SSD}
        r none $SSD
        r noaction $SSD -x $MYSLEEP
        r nomatch $SSD -S
        r two $SSD -S -K -x $MYSLEEP
        r unknown $SSD -K --bogus -x $MYSLEEP
        r sched $SSD -S --procsched other -x $MYSLEEP
        r sig $SSD -K -s FOO -x $MYSLEEP
        r retry $SSD -K -R TERM/x -x $MYSLEEP
        r output $SSD -S -b -O rel.log -x $MYSLEEP
        r noclose $SSD -S -C -x $MYSLEEP
        r novalue $SSD -K -x
        r mkpid $SSD -S -m -x $MYSLEEP
        r sigprefix $SSD -K -s SIGHUP -x $MYSLEEP
        r siglower $SSD -K -R term/5 -x $MYSLEEP
        r sigminus $SSD -K -R -SIGTERM/5 -x $MYSLEEP
        r stbogus $SSD -T --bogus -x $MYSLEEP
        r bogusst $SSD --bogus -T -x $MYSLEEP
        r stuser $SSD -T -c nosuchuser -x $MYSLEEP
        r stopgroup $SSD -K -g nosuchgroup -x $MYSLEEP
        r waitfirst $SSD -K -R 0/1/KILL/1 -x $MYSLEEP
        r longname $SSD -K -n averyveryverylongname
        r version $SSD --version
        r imp $IMP ssd -V
        r help $IMP ssd --help
        echo "n=$(pgrep -c -x mysleep)"
        "#
    ));
    o.expect("none", 3, &["need one of --start or --stop or --status"]);
    o.expect(
        "noaction",
        3,
        &["need one of --start or --stop or --status"],
    );
    o.expect("nomatch", 3, &["need at least one of --exec"]);
    o.expect("two", 3, &["only one command can be specified"]);
    o.expect("unknown", 3, &["unrecognized option '--bogus'"]);
    o.expect("sched", 3, &["--procsched: not supported by imp"]);
    o.expect("sig", 3, &["--signal: invalid value 'FOO'"]);
    o.expect("retry", 3, &["--retry: invalid value 'TERM/x'"]);
    o.expect("output", 3, &["--output: invalid value 'rel.log'"]);
    o.expect("noclose", 3, &["only relevant with --background"]);
    o.expect("novalue", 3, &["--exec: option requires an argument"]);
    o.expect("mkpid", 3, &["require --pidfile"]);
    // dpkg's spellings only: no SIG prefix, capitals.
    o.expect("sigprefix", 3, &["--signal: invalid value 'SIGHUP'"]);
    o.expect("siglower", 3, &["--retry: invalid value 'term/5'"]);
    o.expect("sigminus", 3, &["--retry: invalid value '-SIGTERM/5'"]);
    // Once --status is read, errors are "unable to determine status" (dpkg).
    o.expect("stbogus", 4, &["unrecognized option '--bogus'"]);
    o.expect("bogusst", 3, &["unrecognized option '--bogus'"]);
    // Users and groups are looked up whatever the command: trouble, before finding.
    o.expect("stuser", 4, &["cannot run as nosuchuser", "unknown user"]);
    o.expect(
        "stopgroup",
        2,
        &["cannot run as nosuchgroup", "unknown group"],
    );
    // A schedule may begin with a wait (nscd's 0/30/KILL/5): nothing to stop is 1.
    o.expect_out("waitfirst", 1, &["No ", "found running; none killed."]);
    o.expect(
        "longname",
        1,
        &["longer than 15 characters matches no process"],
    );
    o.expect_out("version", 0, &["start-stop-daemon (imp "]);
    o.expect_out("imp", 0, &["start-stop-daemon (imp "]);
    o.expect_out("help", 0, &["Usage: start-stop-daemon", "--retry"]);
    o.expect_eq("n", "0");
}

/// `--notify-await` (dpkg's sd_notify readiness): the start returns once the program
/// sent READY=1; one that stays silent past `--notify-timeout` is stopped and the
/// start fails (2, as dpkg's "timed out waiting for a notification").
#[test]
fn ss_notify_await() {
    let o = sandbox("ss-notify").full().run(&format!(
        r#"{SSD}
        r ready $SSD -S -b --notify-await -m -p $T/n.pid -x $TDAEMON -- --dump $OUT/n.dump --notify-ready --ready-after 0.4 --sleep 1000
        echo "env=$(sed -n 's/^env.NOTIFY_SOCKET=//p' $OUT/n.dump)"
        r status $SSD -T -p $T/n.pid -x $TDAEMON
        r stop $SSD -K -p $T/n.pid -x $TDAEMON --retry 5 --remove-pidfile
        r silent $SSD -S -b --notify-await --notify-timeout 1 -m -p $T/s.pid -x $TDAEMON -- --sleep 1000
        echo "left=$(nprocs "^$TDAEMON")"
        echo "pidfile=$([ -e $T/s.pid ] && echo yes || echo no)"
        r fg $SSD -S --notify-await -x $TDAEMON -- --exit 0
        "#
    ));
    o.expect_out("ready", 0, &[]);
    o.check(o.ms("ready") >= 400, "not before READY=1");
    o.check(
        o.get("env").starts_with("@imp-notify/"),
        &format!("NOTIFY_SOCKET in the program: {}", o.get("env")),
    );
    o.expect_out("status", 0, &[]);
    o.expect_out("stop", 0, &[]);
    o.expect("silent", 2, &["unable to start", "readiness timeout"]);
    o.expect_eq("left", "0");
    o.expect_eq("pidfile", "no");
    o.expect("fg", 3, &["only relevant with --background"]);
}

/// A pidfile imp made (`--make-pidfile`) is stale once its daemon is gone, whatever it
/// says later: a stop by pidfile alone (rsync's init script) spares the process a
/// reused pid names, where dpkg kills it. `--pidfile /dev/null` (LSB's `start_daemon`)
/// names nobody.
#[test]
fn ss_stale_pidfile_imp_made_and_dev_null() {
    let o = sandbox("ss-stale").full().run(&format!(
        r#"{SSD}
        cp /bin/sleep $T/bin/other
        r start $SSD -S -q -b -m -p $T/p.pid -x $MYSLEEP -- 1000
        P=$(cat $T/p.pid)
        kill -9 $P; waitunlocked $T/p.pid
        $T/bin/other 1000 & B=$!
        echo $B > $T/p.pid
        r status $SSD -T -p $T/p.pid
        r stop spy $SSD -K -p $T/p.pid --retry 1
        echo "bystander=$(alive $B)"
        r restart $SSD -S -b -m -p $T/p.pid -x $MYSLEEP -- 1000
        echo "new=$([ "$(cat $T/p.pid)" != "$B" ] && alive "$(cat $T/p.pid)" || echo no)"
        r stopnew $SSD -K -p $T/p.pid --retry 5
        r nullst $SSD -T -p /dev/null
        r nullstart $SSD -S -p /dev/null -b -x $MYSLEEP -- 1000
        echo "n=$(pgrep -c -x mysleep)"
        r nullstop $SSD -K -p /dev/null -x $MYSLEEP --retry 5
        kill $B
        "#
    ));
    o.expect_out("start", 0, &[]);
    o.expect_out("status", 1, &[]);
    o.expect_out("stop", 1, &["none killed."]);
    o.expect_eq("bystander", "yes");
    o.expect_out("restart", 0, &[]);
    o.expect_eq("new", "yes");
    o.expect_out("stopnew", 0, &[]);
    o.expect_out("nullst", 4, &[]);
    o.expect_out("nullstart", 0, &[]);
    o.expect_eq("n", "1");
    o.expect_out("nullstop", 1, &["none killed."]);
}
