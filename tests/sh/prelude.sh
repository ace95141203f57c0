# tests/sh/prelude.sh: the shell helpers of every sandbox script, sourced by its run.sh
# before the test's own lines (see tests/src/lib.rs, `Sandbox::run`). It runs inside
# the sandbox, as root, with T (the test's tmpfs), H (the harness's own tmpfs), BASE,
# IMP_BIN, IMP_RUNNER, TDAEMON and CANARY set by tests/sh/sandbox.sh.
# shellcheck shell=bash
set -u
IMP="${IMP_RUNNER:+$IMP_RUNNER }$IMP_BIN"
OUT=$T/out
SPYLOG=$H/spy.log
SPYCALLS=kill,tkill,tgkill,pidfd_send_signal,rt_sigqueueinfo,rt_tgsigqueueinfo,pidfd_open

# esc FILE: the file on one line, newlines as \n (trailing newlines dropped).
esc() { local s; s=$(cat "$1" 2>>"$H/harness.err"); s=${s//\\/\\\\}; printf '%s' "${s//$'\n'/\\n}"; }

# hex FILE: the exact bytes of FILE as hex (e.g. 3132330a for "123\n").
hex() { od -An -tx1 -v "$1" 2>>"$H/harness.err" | tr -d ' \n'; }

# r NAME CMD...: run CMD, print NAME.rc / NAME.ms / NAME.out / NAME.err. Returns CMD's status.
r() {
    local name=$1 t0 t1 rc; shift
    t0=$(date +%s%N)
    "$@" >"$H/r.out" 2>"$H/r.err"; rc=$?
    t1=$(date +%s%N)
    echo "$name.rc=$rc"
    echo "$name.ms=$(( (t1 - t0) / 1000000 ))"
    echo "$name.out=$(esc "$H/r.out")"
    echo "$name.err=$(esc "$H/r.err")"
    return $rc
}

# spy CMD...: run CMD under strace (KILLSPY), appending to $SPYLOG. Detaches at execve so
# a daemon started by `imp start` is not traced (SPYNODETACH=1 to follow execs too).
# Traced calls: SPYTRACE (default: the signal calls); extra strace options: SPYOPTS.
spy() {
    # Each spy writes its own log, appended whole under a lock: strace's buffered
    # output from concurrent spies would otherwise interleave in the middle of lines.
    local detach="-b execve" log rc; [ "${SPYNODETACH:-}" = 1 ] && detach=""
    log=$(mktemp "$H/spy.one.XXXXXX")
    strace -f -qq -s 256 -o "$log" $detach -e signal=none \
        -e trace="${SPYTRACE:-$SPYCALLS}" ${SPYOPTS:-} "$@"
    rc=$?
    { flock 9; cat "$log" >> "$SPYLOG"; } 9>>"$SPYLOG.lock"
    rm -f "$log"
    return $rc
}

# state PID: the process state letter (R, S, D, Z, T...) or "gone".
state() {
    local s
    [ -n "${1:-}" ] || { echo gone; return; }
    s=$(cat /proc/$1/stat 2>>"$H/harness.err") || { echo gone; return; }
    s=${s##*) }; echo "${s%% *}"
}
# alive PID: yes if the process exists and is not a zombie.
alive() { case $(state "${1:-}") in gone|Z|X) echo no;; *) echo yes;; esac; }

# waitfile FILE [SECS]: wait until FILE exists (default 10 s).
waitfile() {
    local i=0 n=$(( ${2:-10} * 50 ))
    while [ ! -e "$1" ]; do
        i=$((i + 1)); [ $i -ge $n ] && { echo "waitfile_timeout=$1"; return 1; }
        sleep 0.02
    done
}
# waitdead PID [SECS]: wait until PID is gone or a zombie (default 10 s).
waitdead() {
    local i=0 n=$(( ${2:-10} * 50 ))
    while [ "$(alive "${1:-}")" = yes ]; do
        i=$((i + 1)); [ $i -ge $n ] && { echo "waitdead_timeout=$1"; return 1; }
        sleep 0.02
    done
}

# waitunlocked FILE [SECS]: wait until no process holds a lock on FILE (default 10 s).
# After waitdead: a killed process can be a zombie while its other threads (qemu-user's)
# still exit, its fds (and locks) not closed yet.
waitunlocked() {
    local i=0 n=$(( ${2:-10} * 50 ))
    while [ "$(lockholder "$1")" != none ]; do
        i=$((i + 1)); [ $i -ge $n ] && { echo "waitunlocked_timeout=$1"; return 1; }
        sleep 0.02
    done
}

# kv PREFIX FILE: print FILE's key=value lines as PREFIX.key=value.
kv() { sed "s/^/$1./" "$2" 2>>"$H/harness.err"; }

# lockholder FILE: every lock on FILE's inode, sorted, comma-separated, each as
# "KIND-MODE PID START-END" (e.g. "OFDLCK-READ -1 1-1,POSIX-READ 42 0-0" for a daemon
# imp started, "POSIX-WRITE 42 0-EOF" for a whole-file write lock), or "none".
lockholder() {
    local d ino maj min id l
    d=$(stat -c %d "$1" 2>>"$H/harness.err") || { echo none; return; }
    ino=$(stat -c %i "$1")
    maj=$(( (d >> 8) & 0xfff )); min=$(( (d & 0xff) | ((d >> 12) & 0xfff00) ))
    id=$(printf '%02x:%02x:%s' $maj $min $ino)
    l=$(awk -v id="$id" '$2 != "->" && $6 == id { print $2 "-" $4 " " $5 " " $7 "-" $8 }' /proc/locks | sort | paste -sd, -)
    echo "${l:-none}"
}

# nprocs PATTERN: number of live processes whose command line contains PATTERN.
nprocs() { pgrep -f -c -- "$1" || true; }
# zombies: how many zombies this PID namespace has, once settled: a process that just
# exited is a zombie until its parent reaps it (the sandbox's init, a moment later), so
# the count is taken again for up to 1 s while it is not 0; one that stays is a leak.
zombies() {
    local n p
    for _ in $(seq 50); do
        n=0
        for p in /proc/[0-9]*; do [ "$(state ${p#/proc/})" = Z ] && n=$((n+1)); done
        [ $n = 0 ] && break
        sleep 0.02
    done
    echo $n
}
# zombies_of PID: how many zombies are PID's children right now (not settled).
zombies_of() {
    local n=0 p
    for p in /proc/[0-9]*; do
        [ "$(state ${p#/proc/})" = Z ] && [ "$(awk '/^PPid:/{print $2}' $p/status 2>/dev/null)" = "$1" ] && n=$((n+1))
    done
    echo $n
}

# launch NAME [TDAEMON ARGS]: imp start (under KILLSPY) a tdaemon with pidfile $T/NAME.pid, dump in
# $OUT/NAME.dump; prints NAME.start.rc/err and NAME.pid (the daemon's pid from the dump).
launch() {
    local name=$1; shift
    r "$name.start" spy $IMP start -p "$T/$name.pid" -- "$TDAEMON" --dump "$OUT/$name.dump" --sleep 1000 "$@"
    waitfile "$OUT/$name.dump" && echo "$name.pid=$(sed -n 's/^pid=//p' "$OUT/$name.dump")"
    echo "$name.ppid_now=$(ppid_now "$(dpid "$name")")"
}
# ppid_now PID: the parent now (the dump's ppid was taken when the program started,
# possibly before imp's intermediate child had exited; start returns after it has).
ppid_now() { local s; s=$(cat /proc/$1/stat 2>>"$H/harness.err") || return; s=${s##*) }; set -- $s; echo "$2"; }
# dpid NAME: the daemon pid recorded in NAME's dump.
dpid() { sed -n 's/^pid=//p' "$OUT/$1.dump" 2>>"$H/harness.err"; }

# Unprivileged callers.
asuser() { setpriv --reuid 1000 --regid 1000 --clear-groups "$@"; }
asnobody() { setpriv --reuid 65534 --regid 65534 --clear-groups "$@"; }

# Private copies of /etc/passwd and /etc/group (bind-mounted in this mount namespace only).
private_etc() {
    [ -e "$H/etc.passwd" ] && return 0
    cp /etc/passwd "$H/etc.passwd"; cp /etc/group "$H/etc.group"
    chmod 0644 "$H/etc.passwd" "$H/etc.group"
    mount --bind "$H/etc.passwd" /etc/passwd && mount --bind "$H/etc.group" /etc/group
}
# add_user NAME UID GID HOME; add_group NAME GID [MEMBERS]
add_user() { private_etc; echo "$1:x:$2:$3:test user:$4:/bin/sh" >> /etc/passwd; }
add_group() { private_etc; echo "$1:x:$2:${3:-}" >> /etc/group; }
# empty_etc: empty /etc/passwd and /etc/group (static initramfs).
empty_etc() { private_etc; : > /etc/passwd; : > /etc/group; }

# ro DIR: make DIR a read-only bind mount of itself.
ro() { mount --bind "$1" "$1" && mount -o remount,bind,ro "$1"; }
