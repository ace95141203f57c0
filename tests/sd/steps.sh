# tests/sd/steps.sh SCRIPT COMM PIDFILE STEP...: drives an init script inside the root
# tests/sd/root.sh made (chrooted, PID 1 of its own PID namespace is its parent bash),
# and prints, for step number I (from 1), key=value lines:
#   sI.act    the step
#   sI.rc     the script's exit status (faults: 0)
#   sI.out / sI.err   its stdout / stderr on one line (\n for newlines)
#   sI.n      how many live processes have the command name COMM
#   sI.pid    the daemon's main pid (the lowest of those whose parent is none of them), or -
#   sI.pidrel none (no daemon) | same (as after the step before) | new
#   sI.pidfile  - (no PIDFILE given) | absent | empty | garbage | daemon (names the main
#             pid) | child (another COMM process) | bystander | other (a live process
#             that is none of these) | dead (no such process)
#   sI.content  the pidfile's first line (or -)
#   sI.uid / sI.nice  the main pid's real uid and nice value (or -)
#   sI.bystander  alive | dead | - : the unrelated process of `stale`
# STEP is an action of SCRIPT (start, stop, status, restart, reload, ...), or a fault:
#   kill9   every COMM process killed with SIGKILL (and waited for)
#   stale   an unrelated live process (sleep) started, its pid written to PIDFILE,
#           whose mtime is set an hour back (a pidfile left from before the pid's reuse)
#   reuse   every COMM process killed with SIGKILL (the pidfile left as it was), and an
#           unrelated process (sleep) started with the pid the pidfile names
#           (/proc/sys/kernel/ns_last_pid): sI.reused=yes when it got it
#   garbage PIDFILE made to hold "garbage"
#   rmpid   PIDFILE removed
# The script runs with PATH and a clean environment, as from init, under `timeout 60`.
# shellcheck shell=bash
set -u
SCRIPT=$1 COMM=$2 PIDFILE=$3
shift 3
BYSTANDER=
PREV=

oneline() { local s; s=$(cat "$1" 2>/dev/null); s=${s//\\/\\\\}; printf '%s' "${s//$'\n'/\\n}"; }

# The COMM processes, live ones only: "pid ppid" lines.
procs() {
    local p c s
    for p in /proc/[0-9]*; do
        c=$(cat "$p/comm" 2>/dev/null) || continue
        [ "$c" = "$COMM" ] || continue
        s=$(cat "$p/stat" 2>/dev/null) || continue
        s=${s##*) }
        set -- $s
        case $1 in Z|X) continue ;; esac
        echo "${p#/proc/} $2"
    done
}

content() {
    if [ -z "$PIDFILE" ]; then echo -; elif [ -e "$PIDFILE" ]; then head -n1 "$PIDFILE" 2>/dev/null; else echo -; fi
}

# Wait until the COMM processes and the pidfile's content stay the same for 150 ms
# (a daemon that forks writes its pidfile after its parent, the script's child, exited).
settle() {
    local a b i=0 same=0
    a="$(procs | sort | tr '\n' ' ')|$(content)"
    while [ $i -lt 100 ] && [ $same -lt 3 ]; do
        sleep 0.05
        b="$(procs | sort | tr '\n' ' ')|$(content)"
        if [ "$a" = "$b" ]; then same=$((same + 1)); else same=0; a=$b; fi
        i=$((i + 1))
    done
}

alive() { [ -n "$1" ] && [ -e "/proc/$1" ] && ! grep -q '^[^)]*) [ZX]' "/proc/$1/stat" 2>/dev/null; }

report() {
    local i=$1 all main= pid ppid c f uid=- nice=- s
    all=$(procs)
    local pids=" $(echo "$all" | awk '{print $1}' | tr '\n' ' ') "
    while read -r pid ppid; do
        [ -n "$pid" ] || continue
        case $pids in *" $ppid "*) continue ;; esac
        if [ -z "$main" ] || [ "$pid" -lt "$main" ]; then main=$pid; fi
    done <<<"$all"
    echo "s$i.n=$(echo "$all" | grep -c .)"
    echo "s$i.pid=${main:--}"
    if [ -z "$main" ]; then echo "s$i.pidrel=none"
    elif [ "$main" = "$PREV" ]; then echo "s$i.pidrel=same"
    else echo "s$i.pidrel=new"; fi
    PREV=$main
    c=$(content)
    echo "s$i.content=$c"
    if [ -z "$PIDFILE" ]; then f=-
    elif [ ! -e "$PIDFILE" ]; then f=absent
    elif [ ! -s "$PIDFILE" ]; then f=empty
    elif ! [[ $c =~ ^[0-9]+$ ]]; then f=garbage
    elif [ "$c" = "$main" ]; then f=daemon
    elif case $pids in *" $c "*) true ;; *) false ;; esac; then f=child
    elif [ "$c" = "$BYSTANDER" ] && alive "$c"; then f=bystander
    elif alive "$c"; then f=other
    else f=dead; fi
    echo "s$i.pidfile=$f"
    if [ -n "$main" ]; then
        uid=$(awk '/^Uid:/ {print $2}' "/proc/$main/status")
        s=$(cat "/proc/$main/stat"); s=${s##*) }; set -- $s; nice=${17}
    fi
    echo "s$i.uid=$uid"
    echo "s$i.nice=$nice"
    if [ -z "$BYSTANDER" ]; then echo "s$i.bystander=-"
    elif alive "$BYSTANDER"; then echo "s$i.bystander=alive"
    else echo "s$i.bystander=dead"; fi
}

i=0
for step in "$@"; do
    i=$((i + 1))
    echo "s$i.act=$step"
    rc=0
    : > /tmp/.sd.out; : > /tmp/.sd.err
    case $step in
        kill9)
            for p in $(procs | awk '{print $1}'); do kill -9 "$p"; done
            for _ in $(seq 200); do [ -z "$(procs)" ] && break; sleep 0.02; done
            ;;
        stale)
            sleep 100000 </dev/null >/dev/null 2>&1 &
            BYSTANDER=$!
            mkdir -p "$(dirname "$PIDFILE")"
            echo "$BYSTANDER" > "$PIDFILE"
            # Stale: written before the process started (its pid reused since).
            touch -d '1 hour ago' "$PIDFILE"
            ;;
        reuse)
            # The daemon dies without cleaning up (SIGKILL), and its pid goes to an
            # unrelated process: the pidfile left names that process.
            P=$(content)
            for p in $(procs | awk '{print $1}'); do kill -9 "$p"; done
            for _ in $(seq 250); do [ -z "$(procs)" ] && { [[ $P =~ ^[0-9]+$ ]] || break; [ ! -e "/proc/$P" ] && break; }; sleep 0.02; done
            if [[ $P =~ ^[0-9]+$ ]]; then
                [ -n "$BYSTANDER" ] && { disown "$BYSTANDER" 2>/dev/null; kill -9 "$BYSTANDER" 2>/dev/null; }
                echo $((P - 1)) > /proc/sys/kernel/ns_last_pid
                sleep 100000 </dev/null >/dev/null 2>&1 &
                BYSTANDER=$!
                [ "$BYSTANDER" = "$P" ] && echo "s$i.reused=yes" || echo "s$i.reused=no ($BYSTANDER for $P)"
            else
                echo "s$i.reused=no pid in $PIDFILE"
            fi
            ;;
        garbage)
            mkdir -p "$(dirname "$PIDFILE")"
            echo garbage > "$PIDFILE"
            ;;
        rmpid) rm -f "$PIDFILE" ;;
        *)
            env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin TERM=dumb \
                timeout -s KILL 60 "$SCRIPT" "$step" </dev/null >/tmp/.sd.out 2>/tmp/.sd.err
            rc=$?
            ;;
    esac
    echo "s$i.rc=$rc"
    echo "s$i.out=$(oneline /tmp/.sd.out)"
    echo "s$i.err=$(oneline /tmp/.sd.err)"
    settle
    report $i
done
echo "steps=$i"
[ -n "$BYSTANDER" ] && { disown "$BYSTANDER" 2>/dev/null; kill -9 "$BYSTANDER" 2>/dev/null; }
true
