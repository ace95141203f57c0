# tests/sd/root.sh: a Debian package's init script run with a given start-stop-daemon,
# without touching the machine (tests/tests/sd.rs, `sd_script_*`). Sourced by a sandbox
# script (tests/sh/prelude.sh's $T and $H are set), as root.
#
# sd_root TAG SSD DEB...: a root at $T/TAG/root where the packages appear at their real
# paths: an overlayfs whose lower layers are the unpacked .debs (dpkg-deb -x, made
# merged-/usr as Debian 12's dpkg would install them) over the machine's own /, whose
# upper layer is on $T (so nothing of the machine changes), with fresh /run, /tmp,
# /dev (a tmpfs with null, zero, full, random, urandom, tty) and SSD bind-mounted over
# /usr/sbin/start-stop-daemon (/sbin is a link to usr/sbin). The root is $R.
#
# sd_steps TAG STEP...: runs tests/sd/steps.sh chrooted into TAG's root, in a new PID,
# mount and network namespace (loopback up: the daemons bind their ports there, never
# on the machine), and prints its key=value lines prefixed with TAG. (STEP: see
# steps.sh.) Every process of the namespace dies with its PID 1 at the end.
# shellcheck shell=bash

SD_DIR=${SD_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)}

sd_root() {
    local tag=$1 ssd=$2 d n; shift 2
    local top=$T/$tag
    mkdir -p "$top/pkg" "$top/upper" "$top/work" "$top/root"
    for d in "$@"; do
        dpkg-deb -x "$d" "$top/pkg" || { echo "$tag.setup=dpkg-deb -x $d failed"; return 1; }
    done
    # Merged /usr: a package's /bin, /sbin, /lib... go below /usr, as dpkg installs them
    # through the root's symlinks (a real directory in the upper layer would hide them).
    for n in bin sbin lib lib32 lib64 libx32; do
        if [ -d "$top/pkg/$n" ] && [ ! -L "$top/pkg/$n" ]; then
            mkdir -p "$top/pkg/usr/$n"
            cp -a "$top/pkg/$n/." "$top/pkg/usr/$n/" && rm -rf "${top:?}/pkg/$n"
        fi
    done
    for n in run lock; do
        if [ -d "$top/pkg/var/$n" ] && [ ! -L "$top/pkg/var/$n" ]; then
            rm -rf "${top:?}/pkg/var/$n"
        fi
    done
    R=$top/root
    mount -t overlay "sd-$tag" -o "lowerdir=$top/pkg:/,upperdir=$top/upper,workdir=$top/work" "$R" \
        || { echo "$tag.setup=overlay mount failed"; return 1; }
    mount -t tmpfs -o mode=0755 "sd-$tag-run" "$R/run"
    mkdir -p "$R/run/lock" && chmod 1777 "$R/run/lock"
    mount -t tmpfs -o mode=1777 "sd-$tag-tmp" "$R/tmp"
    mount -t tmpfs -o mode=0755 "sd-$tag-dev" "$R/dev"
    for n in null zero full random urandom tty; do
        : > "$R/dev/$n" && mount --bind "/dev/$n" "$R/dev/$n"
    done
    mkdir -p "$R/dev/pts" "$R/dev/shm"
    ln -s /proc/self/fd "$R/dev/fd"
    ln -s /proc/self/fd/0 "$R/dev/stdin"
    ln -s /proc/self/fd/1 "$R/dev/stdout"
    ln -s /proc/self/fd/2 "$R/dev/stderr"
    mount --bind "$ssd" "$R/usr/sbin/start-stop-daemon" \
        || { echo "$tag.setup=bind $ssd failed"; return 1; }
    mkdir -p "$R/.sd"
    cp "$SD_DIR/steps.sh" "$R/.sd/steps.sh"
    echo "$tag.setup=ok"
}

sd_steps() {
    local tag=$1; shift
    local R=$T/$tag/root
    # PID 1 of the namespace is bash (it reaps the orphans the daemons leave); the
    # steps run as its child.
    unshare --pid --fork --kill-child --mount-proc="$R/proc" --net \
        chroot "$R" /bin/bash -c 'ip link set lo up; cd /; /bin/bash /.sd/steps.sh "$@" & wait $!' steps "$@" \
        </dev/null 2>"$H/$tag.steps.err" | sed "s/^/$tag./"
    echo "$tag.steps_err=$(esc "$H/$tag.steps.err")"
}
