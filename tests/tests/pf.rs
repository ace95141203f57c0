//! PF — pidfile content (bad input). RELIABILITY.md section 5, SPEC §3, CLI-CONTRACT.
//!
//! Two setups per content (PF-01 A/B):
//! * (A) "overwrite in place": a live daemon started by `imp start` holds the lock; the
//!   test rewrites the content with `printf > P` (same inode, lock kept):
//!   stop 6 `invalid`, status 4, the daemon untouched.
//! * (B) "hand-made": a root 0644 file nobody holds a lock on: stale whatever it says:
//!   status 1, stop 0 `not running` (stale pidfile removed).
//!
//! In both, KILLSPY must show no signal at all.

use imp_tests::*;

/// Build `F+=("fmt")` lines; `$X` (daemon pid), `$Y` (another live pid) expand in bash.
fn formats(fmts: &[&str]) -> String {
    fmts.iter()
        .map(|f| format!("F+=(\"{f}\")\n"))
        .collect::<String>()
}

/// (A): overwrite a locked pidfile in place with each format; stop and status it.
fn locked(name: &str, fmts: &[&str]) -> Outcome {
    let script = format!(
        r#"
        launch d --term-marker $OUT/d.term
        P=$T/d.pid
        X=$(dpid d); Y=$CANARY
        F=()
        {}
        i=0
        for f in "${{F[@]}}"; do
            printf -- "$f" > $P
            echo "c$i.hex=$(hex $P)"
            r stop$i spy $IMP stop -p $P
            r status$i spy $IMP status -p $P
            i=$((i + 1))
        done
        echo "n=$i"
        echo "alive=$(alive $X)"
        echo "holder=$(lockholder $P)"
        echo "term=$([ -e $OUT/d.term ] && echo yes || echo no)"
        "#,
        formats(fmts)
    );
    let o = sandbox(name).run(&script);
    o.expect("d.start", 0, &["started"]);
    let pid = o.int("d.pid");
    assert_eq!(o.int("n") as usize, fmts.len());
    for (i, f) in fmts.iter().enumerate() {
        let what = format!("content {f:?} (hex {})", o.get(&format!("c{i}.hex")));
        let (sp, st) = (format!("stop{i}"), format!("status{i}"));
        o.check(
            o.rc(&sp) == 6 && o.err(&sp).contains("invalid"),
            &format!("stop on locked pidfile with {what}: want 6 `invalid`"),
        );
        o.check(
            o.rc(&st) == 4 && o.err(&st).contains("invalid"),
            &format!("status on locked pidfile with {what}: want 4 `invalid`"),
        );
    }
    o.expect_eq("alive", "yes");
    o.expect_eq("holder", &daemon_locks(pid));
    o.expect_eq("term", "no");
    o.assert_no_signals();
    o
}

/// (B): a hand-made (unlocked) root 0644 pidfile with each format: stale.
fn handmade(name: &str, fmts: &[&str]) -> Outcome {
    let script = format!(
        r#"
        sleep 1000 & X=$!; Y=$CANARY
        P=$T/h.pid
        F=()
        {}
        i=0
        for f in "${{F[@]}}"; do
            printf -- "$f" > $P; chmod 0644 $P
            r status$i spy $IMP status -p $P
            r stop$i spy $IMP stop -p $P
            echo "h$i.exists=$([ -e $P ] && echo yes || echo no)"
            i=$((i + 1))
        done
        echo "n=$i"
        echo "victim=$(alive $X)"
        "#,
        formats(fmts)
    );
    let o = sandbox(name).run(&script);
    assert_eq!(o.int("n") as usize, fmts.len());
    for (i, f) in fmts.iter().enumerate() {
        let (sp, st) = (format!("stop{i}"), format!("status{i}"));
        o.check(
            o.rc(&st) == 1,
            &format!("status on hand-made pidfile {f:?}: want 1 (stale)"),
        );
        o.check(
            o.out(&st).contains("not running") && o.out(&st).contains("stale"),
            &format!("status on hand-made {f:?}: stdout `not running (stale pidfile)`"),
        );
        o.check(
            o.rc(&sp) == 0 && o.err(&sp).contains("not running"),
            &format!("stop on hand-made pidfile {f:?}: want 0 `not running`"),
        );
        o.expect_eq(&format!("h{i}.exists"), "no");
    }
    o.expect_eq("victim", "yes");
    o.assert_no_signals();
    o
}

const ZERO_NEG: &[&str] = &[
    "0\\n",
    "-0\\n",
    "00\\n",
    "-5\\n",
    "-1000\\n",
    "0x10\\n",
    "-1\\n",
    "-1",
    "4294967295\\n",
    "-$X\\n",
];

/// PF-02 (A) "0", "-0", "00", negative ids, "-1", 4294967295 in a locked pidfile.
#[test]
fn pf02_zero_and_negative_locked() {
    locked("pf02a", ZERO_NEG);
}

/// PF-02 (B) the same in a hand-made pidfile: stale, `not running`, no signal
/// (dpkg and BusyBox send SIGTERM to everyone for "-1": E1, E8).
#[test]
fn pf02_zero_and_negative_handmade() {
    handmade("pf02b", ZERO_NEG);
}

/// PF-04 (a): the pidfile names imp's parent and that parent holds the lock.
#[test]
fn pf04_pidfile_names_callers_parent() {
    let o = sandbox("pf04a").run(
        r#"
        P=$T/c.pid
        # holder CMD: a bash that holds the lock on P (fd kept across exec), writes its
        # own pid into P (from a subshell: closing any fd of P in the holder drops its lock),
        # then runs CMD ("$@" of the inner bash).
        holder() {
            $TDAEMON --lock $P --exec bash -c '(printf "%s\n" $$ > "$0"); "$@"; rc=$?; exit $rc' $P "$@"
        }
        # imp's parent holds the lock and is named.
        r stop holder $IMP stop -p $P
        r status holder $IMP status -p $P
        # Under KILLSPY: strace is the named lock holder and imp's parent.
        r spystop $TDAEMON --lock $P --exec bash -c '(printf "%s\n" $$ > "$0"); exec "$@"' $P \
            strace -f -qq -o $SPYLOG -e trace=$SPYCALLS $IMP stop -p $P
        # A helper holds the lock, the content is the test shell's pid ($$ = imp's parent).
        $TDAEMON --lock $P --sleep 1000 & helper=$!
        sleep 0.3
        printf '%s\n' $$ > $P
        r stop2 $IMP stop -p $P
        r status2 $IMP status -p $P
        echo "helper=$(alive $helper)"
        "#,
    );
    for name in ["stop", "spystop", "stop2"] {
        o.check(
            o.rc(name) == 6,
            &format!("`{name}`: stop of a pidfile naming imp's parent must exit 6"),
        );
        let e = o.err(name);
        o.check(
            e.contains("invalid") || e.contains("insecure"),
            &format!("`{name}`: stderr names the problem"),
        );
    }
    o.check(
        o.err("stop").contains("invalid"),
        "locked by the parent itself: `invalid pidfile: names imp or its parent`",
    );
    o.expect("status", 4, &[]);
    o.expect("status2", 4, &[]);
    o.expect_eq("helper", "yes");
    o.assert_no_signals();
}

/// Hand-made pidfiles naming live, unrelated processes (a sleeper, the canary, init,
/// the calling shell): stale, nothing signalled (SPEC §3: "nothing is ever signalled
/// because of" an unlocked pidfile).
#[test]
fn pf_handmade_naming_live_processes() {
    handmade("pf-live", &["$X\\n", "$Y\\n", "1\\n", "$$\\n", "$X"]);
}

/// PF-04 (a'): imp itself holds the lock (inherited fd, e.g. `imp run -p P -- imp stop
/// -p P`) and the pidfile names imp. F_GETLK does not report the caller's own locks, so
/// the pidfile looks unlocked; it must still be refused (SPEC §3: never the caller's own
/// pid), not removed as stale.
#[test]
fn pf04_imp_holds_the_lock_itself() {
    let o = sandbox("pf04self").run(
        r#"
        P=$T/c.pid
        r self $TDAEMON --lock $P --exec bash -c '(printf "%s\n" $$ > "$0"); exec "$@"' $P $IMP stop -p $P
        echo "exists=$([ -e $P ] && echo yes || echo no)"
        "#,
    );
    o.expect("self", 6, &["invalid"]);
    o.expect_eq("exists", "yes");
}

/// PF-04 (b): PIDREUSE makes `imp stop` itself get the pid written in a locked pidfile.
#[test]
fn pf04_pidfile_names_imp_itself() {
    let o = sandbox("pf04b").run(
        r#"
        P=$T/c.pid
        $TDAEMON --lock $P --sleep 1000 & helper=$!
        sleep 0.3
        for what in stop status; do
            n=$(( $(cat /proc/sys/kernel/ns_last_pid) + 50 ))
            printf '%s\n' $n > $P
            echo $((n - 1)) > /proc/sys/kernel/ns_last_pid
            $IMP $what -p $P >$H/o 2>$H/e
            echo "$what.rc=$?"
            echo "$what.err=$(esc $H/e)"
            echo "$what.n=$n"
        done
        echo "helper=$(alive $helper)"
        "#,
    );
    o.check(o.rc("stop") == 6, "stop of a pidfile naming imp itself: 6");
    let e = o.err("stop");
    o.check(
        e.contains("invalid") || e.contains("insecure"),
        "stderr says invalid/insecure",
    );
    o.expect("status", 4, &[]);
    o.expect_eq("helper", "yes");
}

const BLANK: &[&str] = &[
    "",
    "\\n",
    "   ",
    "abc",
    "\\0\\0",
    "\\xd9\\xa4\\xd9\\xa2",
    "42\\r\\n",
];

/// PF-05 (A): empty, blank, non-numeric content in a locked pidfile.
#[test]
fn pf05_blank_and_garbage_locked() {
    locked("pf05a", BLANK);
}

/// PF-05 (B): the same, hand-made: stale.
#[test]
fn pf05_blank_and_garbage_handmade() {
    handmade("pf05b", BLANK);
}

/// PF-06: trailing garbage, signs, hex, leading zero, spaces, several lines around the
/// live daemon's real pid X.
#[test]
fn pf06_garbage_around_real_pid() {
    locked(
        "pf06",
        &[
            "${X}abc\\n",
            "+$X\\n",
            "0$X\\n",
            " $X\\n",
            "$X \\n",
            "$X\\n$Y\\n",
            "$X\\n\\n",
            "\\n$X\\n",
            "0x$(printf %x $X)\\n",
            "$X\\0",
        ],
    );
}

/// PF-06 control: the canonical content, with or without the newline, is accepted.
#[test]
fn pf06_canonical_content_accepted() {
    let o = sandbox("pf06ok").run(
        r#"
        launch d
        X=$(dpid d)
        printf '%s' $X > $T/d.pid
        r st1 $IMP status -p $T/d.pid
        printf '%s\n' $X > $T/d.pid
        r st2 $IMP status -p $T/d.pid
        "#,
    );
    let pid = o.int("d.pid");
    o.expect_out("st1", 0, &[&format!("running (pid {pid})")]);
    o.expect_out("st2", 0, &[&format!("running (pid {pid})")]);
}

/// PF-07: values above pid_max / INT_MAX / 32 bits never wrap into a signal.
#[test]
fn pf07_values_above_pid_max() {
    locked(
        "pf07",
        &[
            "2147483648\\n",
            "99999999999\\n",
            "$(( $(cat /proc/sys/kernel/pid_max) + 1 ))\\n",
            "1073741824\\n",
            "4194305\\n",
            "18446744073709551617\\n",
            "99999999999999999999999999999\\n",
        ],
    );
}

/// PF-09: a 64 MiB pidfile (valid pid followed by digits) is never read whole.
#[test]
fn pf09_oversized_pidfile() {
    let o = sandbox("pf09").run(
        r#"
        launch d
        X=$(dpid d)
        { printf '%s' $X; head -c 67108864 /dev/zero | tr '\0' '1'; } > $T/d.pid
        echo "size=$(stat -c %s $T/d.pid)"
        SPYTRACE=$SPYCALLS,read,pread64,readv,preadv,mmap r status spy $IMP status -p $T/d.pid
        SPYTRACE=$SPYCALLS,read,pread64,readv,preadv,mmap r stop spy $IMP stop -p $T/d.pid
        echo "alive=$(alive $X)"
        # Hand-made (unlocked) big file: stale.
        cp $T/d.pid $T/h.pid
        r hstatus $IMP status -p $T/h.pid
        r hstop $IMP stop -p $T/h.pid
        "#,
    );
    o.expect_eq("size", &(67108864 + o.get("d.pid").len()).to_string());
    o.expect("status", 4, &["invalid"]);
    o.expect("stop", 6, &["invalid"]);
    o.check(o.ms("status") < 5000 && o.ms("stop") < 5000, "bounded time");
    o.expect_eq("alive", "yes");
    // Under qemu-user, strace sees the emulator map and read its own files.
    if !emulated() {
        let read: i64 = o
            .spy
            .calls
            .iter()
            .filter(|c| c.name.contains("read"))
            .filter_map(|c| c.ret)
            .filter(|&r| r > 0)
            .sum();
        o.check(
            read < 1 << 20,
            &format!("imp read {read} bytes: it must read a bounded prefix, not the file"),
        );
        o.check(
            !o.spy
                .calls
                .iter()
                .any(|c| c.name == "mmap" && c.args.get(4).is_some_and(|fd| fd != "-1")),
            "no file mmap",
        );
    }
    o.expect_out("hstatus", 1, &["stale"]);
    o.expect("hstop", 0, &["not running"]);
    o.assert_no_signals();
}
