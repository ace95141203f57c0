//! SL — `--syslog` (feature `syslog`, issue 12): imp's own lines, and the supervisor's
//! exit and restart lines, as RFC 3164 datagrams to a real receiver bound where
//! `find_syslog` looks (`/var/run/log`, on a tmpfs over `/run` in the test's own mount
//! namespace); never blocking when nobody listens.

use imp_tests::*;

/// A receiver at /var/run/log (`/run` is a private tmpfs: the host's is untouched).
const RECEIVER: &str = r#"
mount -t tmpfs imp-run /run
[ -e /dev/log ] && mount --bind /dev/null /dev/log
$TDAEMON --syslog-recv /run/log --syslog-out $T/syslog &
waitfile /run/log
"#;

/// Start, stop and a failed start with `--syslog`: each stderr line also arrives, as
/// `<29>imp[PID]: ...` (daemon.notice, ident imp, the line without `imp: `).
#[test]
fn sl_messages_to_syslog() {
    let o = sandbox("sl-msg").run(&format!(
        r#"{RECEIVER}
        r start $IMP start --syslog -p $T/d.pid -- $TDAEMON --sleep 100
        P=$(cat $T/d.pid); echo "p=$P"
        r stop $IMP stop --syslog -p $T/d.pid
        r bad $IMP start --syslog -p $T/e.pid -- /nonexistent/prog
        r quiet $IMP status --syslog -p $T/d.pid
        sleep 0.2
        echo "log=$(esc $T/syslog)"
        "#
    ));
    let p = o.get("p").to_string();
    o.expect("start", 0, &[&format!("started (pid {p})")]);
    o.expect("stop", 0, &["stopped"]);
    o.expect("bad", 5, &["exec /nonexistent/prog"]);
    o.expect_out("quiet", 3, &["not running"]);
    let log = o.get("log");
    let lines: Vec<&str> = log.split("\\n").collect();
    o.check(
        lines.iter().any(|l| {
            l.starts_with("<29>imp[") && l.ends_with(&format!("]: start: {}", tail(&o, "start")))
        }),
        &format!("the start line in syslog: {log}"),
    );
    o.check(
        lines.iter().any(|l| {
            l.starts_with("<29>imp[")
                && l.contains("]: stop: ")
                && l.ends_with(&format!("stopped (pid {p})"))
        }),
        &format!("the stop line in syslog: {log}"),
    );
    o.check(
        lines.iter().any(|l| {
            l.starts_with("<29>imp[")
                && l.ends_with(
                    "]: start: exec /nonexistent/prog: No such file or directory (ENOENT)",
                )
        }),
        &format!("the failure in syslog: {log}"),
    );
    // status prints to stdout, not stderr: nothing of it in syslog.
    o.check(!log.contains("status"), &format!("no status line: {log}"));
}

/// The stderr line after `imp: ACTION: `.
fn tail(o: &Outcome, name: &str) -> String {
    let e = o.err(name);
    let first = e.lines().next().unwrap_or("");
    first
        .split_once(": ")
        .and_then(|(_, rest)| rest.split_once(": "))
        .map_or(String::new(), |(_, rest)| rest.to_string())
}

/// With no syslog at all, `--syslog` costs nothing: the start works and says it.
#[test]
fn sl_no_syslog_no_harm() {
    let o = sandbox("sl-none").run(
        r#"
        mount -t tmpfs imp-run /run
        [ -e /dev/log ] && mount --bind /dev/null /dev/log
        r start $IMP start --syslog -p $T/d.pid -- $TDAEMON --sleep 100
        r stop $IMP stop --syslog -p $T/d.pid
        "#,
    );
    o.expect("start", 0, &["started"]);
    o.expect("stop", 0, &["stopped"]);
}

/// The supervisor's lines (imp-full): exits and restarts, tagged with `--name`, at
/// warning (an exit) and info (a restart).
#[test]
fn sl_supervisor_lines_to_syslog() {
    let o = sandbox("sl-sv").full().run(&format!(
        r#"{RECEIVER}
        r start $IMP start --respawn --respawn-delay 0.1 --respawn-max 2 --respawn-period 10 --syslog -n web -p $T/s.pid -- $TDAEMON --exit 3
        S=$(cat $T/s.pid); echo "s=$S"
        waitdead $S 10
        sleep 0.2
        echo "log=$(esc $T/syslog)"
        "#
    ));
    let s = o.int("s");
    o.expect("start", 0, &[&format!("web: started (pid {s})")]);
    let log = o.get("log");
    for (pri, what) in [
        ("<28>", "exited with status 3 (pid "),
        ("<30>", "restarted (pid "),
        ("<27>", "2 runs shorter than 10 s: giving up"),
    ] {
        o.check(
            log.split("\\n")
                .any(|l| l.starts_with(&format!("{pri}web[{s}]: ")) && l.contains(what)),
            &format!("`{pri}web[{s}]: ...{what}` in syslog: {log}"),
        );
    }
    o.check(
        log.contains("<29>imp[") && log.contains("]: start: web: started"),
        &format!("the start line too: {log}"),
    );
}

/// `--stdout syslog --stderr syslog` under `--respawn` (imp-full): the program's lines
/// reach syslog at info (stdout) and err (stderr), tagged with `--name`; a line longer
/// than the relay's 480 bytes is split, a last line without its newline is not lost
/// when the program exits; without `--respawn` the spelling is refused.
#[test]
fn sl_relay_program_output() {
    let o = sandbox("sl-relay").full().run(&format!(
        r#"{RECEIVER}
        cat > $T/prog <<'PROG'
#!/bin/sh
echo "out one"
echo "err one" >&2
head -c 1000 /dev/zero | tr '\0' x; echo
printf 'partial without newline'
exit 3
PROG
        chmod +x $T/prog
        r start $IMP start --respawn --respawn-max 1 --stdout syslog --stderr syslog -n prog -p $T/s.pid -- $T/prog
        S=$(sed -n 's/.*(pid \([0-9]*\)).*/\1/p' $H/r.err); echo "s=$S"
        waitdead $S 10
        sleep 0.2
        echo "log=$(esc $T/syslog)"
        r norespawn $IMP start --stdout syslog -p $T/n.pid -- /bin/true
        "#
    ));
    let s = o.int("s");
    o.expect("start", 0, &["prog: started"]);
    let log = o.get("log");
    let lines: Vec<&str> = log.split("\\n").collect();
    let has = |l: &str| lines.iter().any(|x| *x == l);
    for want in [
        format!("<30>prog[{s}]: out one"),
        format!("<27>prog[{s}]: err one"),
        format!("<30>prog[{s}]: {}", "x".repeat(480)),
        format!("<30>prog[{s}]: {}", "x".repeat(40)),
        format!("<30>prog[{s}]: partial without newline"),
    ] {
        o.check(has(&want), &format!("`{want}` in syslog: {log}"));
    }
    o.check(
        lines
            .iter()
            .filter(|l| l.contains(&"x".repeat(480)))
            .count()
            == 2,
        &format!("1,000 bytes in 480 + 480 + 40: {log}"),
    );
    o.expect(
        "norespawn",
        2,
        &["--stdout/--stderr syslog needs --respawn"],
    );
}
