# tests/sd/direct.sh: helpers of the ssd_* cases (tests/tests/sd.rs, `side_by_side`),
# sourced after tests/sh/prelude.sh inside each side's own PID namespace, with $SSD
# the start-stop-daemon under test and $D the side's directory (cwd).
# shellcheck shell=bash

# comm PID: the process's command name, or "-" when it is gone or a zombie.
comm() { if [ "$(alive "$1")" = yes ]; then cat "/proc/$1/comm" 2>/dev/null || echo -; else echo -; fi; }

# pidin FILE: the first line of FILE, or "-".
pidin() { local l; l=$(head -n1 "$1" 2>/dev/null) && [ -n "$l" ] && echo "$l" || echo -; }

# waitcomm FILE COMM [SECS]: wait until FILE names a live process whose command name is
# COMM (a --background start returns before its child's exec; default 5 s).
waitcomm() {
    local i=0 n=$(( ${3:-5} * 50 )) p
    while :; do
        p=$(pidin "$1")
        [ "$p" != - ] && [ "$(comm "$p")" = "$2" ] && return 0
        i=$((i + 1)); [ $i -ge $n ] && { echo "waitcomm_timeout=$1:$2"; return 1; }
        sleep 0.02
    done
}

# count COMM: how many live processes have the command name COMM.
count() {
    local n=0 p
    for p in /proc/[0-9]*; do
        [ "$(cat "$p/comm" 2>/dev/null)" = "$1" ] || continue
        [ "$(alive "${p#/proc/}")" = yes ] && n=$((n + 1))
    done
    echo $n
}

# exists FILE: yes or no.
exists() { [ -e "$1" ] && echo yes || echo no; }

# status PID FIELD: a field of /proc/PID/status, tabs as spaces, trailing space dropped.
status() { sed -n "s/^$2:[[:space:]]*//p" "/proc/$1/status" 2>/dev/null | tr '\t' ' ' | sed 's/ *$//'; }

# bgtd NAME [ARGS]: start $D/td (a private copy of tdaemon) with --background
# --make-pidfile --pidfile $D/NAME.pid, wait for its exec, print NAME.pid=PID.
bgtd() {
    local name=$1; shift
    [ -x "$D/td" ] || cp "$TDAEMON" "$D/td"
    $SSD -S -b -m -p "$D/$name.pid" -x "$D/td" -- "$@" --sleep 1000
    waitcomm "$D/$name.pid" td && echo "$name.pid=$(pidin "$D/$name.pid")"
}

# waitign PID SIGNUM: wait until PID ignores signal SIGNUM (its SigIgn), up to 5 s.
waitign() {
    local i=0 m
    while :; do
        m=$(status "$1" SigIgn)
        [ -n "$m" ] && (( (16#$m >> ($2 - 1)) & 1 )) && return 0
        i=$((i + 1)); [ $i -ge 250 ] && { echo "waitign_timeout=$1:$2"; return 1; }
        sleep 0.02
    done
}
