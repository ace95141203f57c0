# tests/sh/sandbox.sh: PID 1 of every sandbox (tests/src/lib.rs, `Sandbox::run_unchecked`),
# run as `unshare --pid --fork --kill-child --mount-proc --propagation private setsid
# bash tests/sh/sandbox.sh` with BASE, T and H in its environment. It closes every fd
# but 0-2, mounts the tmpfs $T and $H, starts the CANARY, runs $BASE/run.sh (the
# prelude, the test script, `echo __end=1`) and reports in key=value lines
# (__canary_pid, __rc, __canary=alive|dead), then the KILLSPY log as `__spy: ` lines.
# shellcheck shell=bash

# Nothing from the test runner leaks in: every fd but stdin, stdout and stderr closed.
for f in /proc/self/fd/*; do
    n=${f##*/}
    case $n in 0|1|2) ;; *) eval "exec $n>&-" 2>/dev/null ;; esac
done
# $T for the test (root:root 0755, remounted as tests like), $H for the harness alone.
mount -t tmpfs -o mode=0755,size=512m imp-sbx "$T" || { echo "__setup=mount T failed"; exit 99; }
mount -t tmpfs -o mode=0755,size=64m imp-sbx-h "$H" || { echo "__setup=mount H failed"; exit 99; }
mkdir -m 1777 "$T/out"
# The CANARY: an unrelated process that a stray kill(-1) or a wrong group kill would hit.
sleep 100000 </dev/null >/dev/null 2>&1 &
CANARY=$!
echo "__canary_pid=$CANARY"
CANARY=$CANARY bash "$BASE/run.sh" </dev/null
rc=$?
echo "__rc=$rc"
# Alive and not a zombie.
if kill -0 $CANARY 2>/dev/null && ! grep -q '^[^)]*) Z' /proc/$CANARY/stat 2>/dev/null; then
    echo "__canary=alive"
else
    echo "__canary=dead"
fi
# The KILLSPY log of every `spy` call, for `Outcome::spy`.
if [ -f "$H/spy.log" ]; then sed 's/^/__spy: /' "$H/spy.log"; fi
true
