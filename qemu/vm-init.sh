#!/bin/sh
# PID 1 of every VM started by qemu/cluster.sh (POSIX sh; runs under dash).
#
# The kernel mounts the host's / read-only over 9p and runs this file. Because
# that root is read-only, /out and /shared cannot be created on it, so stage 1
# builds a small writable root: a tmpfs holding a bind mount (or a copy of the
# symlink) of every top-level entry of the host root, plus fresh /proc, /sys,
# /dev, /tmp, /run, /out and /shared. Stage 2 runs chrooted into it:
#   - mounts devpts, tmpfs over /tmp /run /var/log /var/lib /var/cache /var/tmp,
#     and the 9p tags "out" (/out, this VM's results) and "shared" (/shared);
#   - sets the hostname (node<i> or client) and the network (see cluster.sh):
#       client 10.0.0.2/24; node i 10.0.0.(10+i)/24; VIP 10.0.0.100, which
#       nodes put on lo/32 with arp_ignore=1/arp_announce=2 and multicast MAC
#       01:00:5e:00:00:64 joined on eth0; the client has a permanent neighbour
#       entry VIP -> 01:00:5e:00:00:64;
#   - on nodes, insmod's rig_module (a PASS/FAIL line in /out/results.txt);
#   - runs rig_script with RIG_* variables, writes its exit status to
#     /out/status and dmesg to /out/dmesg.txt, and powers off.
# Parameters come from the kernel command line (rig_role, rig_id, rig_nodes,
# rig_script, rig_module, rig_tools, rig_repo, rig_timeout, rig_boot,
# rig_flavor, rig_root_cache).
#
# Systemd mode (RIG_INIT_STAGE=systemd): on the rig's Debian 12 nodes
# (qemu/cluster.sh --node-root) systemd is PID 1 and the Debian system has
# mounted its file systems and configured the network itself; the unit
# rig-test.service (qemu/debian/) runs this file once the machine is up.
# Only stage 2's results shares, repository bind, module, test script,
# status and dmesg remain, and power-off is `systemctl poweroff`.
#
# This script must never hang and never exit (PID 1 exiting panics the kernel):
# every failure is recorded and the VM powers off.

PATH=/usr/sbin:/usr/bin:/sbin:/bin
export PATH
umask 022

VIP=10.0.0.100
VIP_MAC=01:00:5e:00:00:64
CLIENT_IP=10.0.0.2
NR=/tmp     # stage 1 builds the new root on a tmpfs mounted over the host's /tmp

msg() { echo "rig-init: $*" >/dev/console 2>/dev/null || echo "rig-init: $*"; }

poweroff_now() {
    sync
    if [ "${RIG_INIT_STAGE:-1}" = systemd ]; then
        systemctl --no-block poweroff
        exit 0
    fi
    # busybox reboot -f calls reboot(2) at once; with -no-reboot QEMU exits.
    # (/sbin/reboot on the host is systemctl, which needs systemd.)
    /bin/busybox reboot -f
    sleep 5
    # Still here: let the kernel panic (panic=-1 reboots, QEMU exits). The panic
    # message makes the run fail, which is right: power-off did not work.
    msg "reboot -f failed"
    exit 1
}

# ---------------------------------------------------------------------------
# Stage 1: build the writable root and chroot into it.
if [ "${RIG_INIT_STAGE:-1}" = 1 ]; then
    # -n: do not try to record the mounts in /run/mount/utab (read-only here).
    mount -n -t proc proc /proc
    mount -n -t sysfs sysfs /sys
    mount -n -t devtmpfs devtmpfs /dev
    msg "init started, building the writable root"
    mount -n -t tmpfs -o mode=0755 rigroot "$NR" || { msg "cannot mount tmpfs root"; poweroff_now; }
    for p in /* /.[!.]*; do
        [ -e "$p" ] || [ -L "$p" ] || continue
        e=${p#/}
        case "$e" in
            proc|sys|dev|tmp|run|out|shared|lost+found) continue ;;
        esac
        if [ -L "$p" ]; then
            ln -s "$(readlink "$p")" "$NR/$e"
        elif [ -d "$p" ]; then
            mkdir "$NR/$e" && mount -n --bind "$p" "$NR/$e"
        else
            : >"$NR/$e" && mount -n --bind "$p" "$NR/$e"
        fi || msg "warning: could not bring $p into the new root"
    done
    for d in proc sys dev tmp run out shared .rig-repo; do mkdir -p "$NR/$d"; done
    # The repository (9p tag "repo") at /.rig-repo and bound at its host path,
    # which may lie under a directory the new root leaves empty (/tmp).
    rig_root_cache=none
    for w in $(cat /proc/cmdline); do
        case "$w" in
            rig_repo=*) rig_repo=${w#*=} ;;
            rig_root_cache=*) rig_root_cache=${w#*=} ;;
        esac
    done
    # The repository is read-only here too: the same 9p cache mode as the
    # root (qemu/cluster.sh --root-cache).
    if mount -n -t 9p -o "trans=virtio,version=9p2000.L,ro,msize=262144,cache=$rig_root_cache" repo "$NR/.rig-repo"; then
        if [ -n "${rig_repo:-}" ]; then
            [ -d "$NR$rig_repo" ] || mkdir -p "$NR$rig_repo"
            mount -n --bind "$NR/.rig-repo" "$NR$rig_repo" || msg "warning: cannot bind the repo at $rig_repo"
        fi
    else
        msg "warning: cannot mount 9p tag 'repo'"
    fi
    chmod 1777 "$NR/tmp"
    for d in proc sys dev; do mount -n --move "/$d" "$NR/$d"; done
    cd "$NR" || poweroff_now
    # Make the new tmpfs the root mount (like switch_root), then chroot into it.
    mount -n --move . / || msg "warning: mount --move to / failed; using chroot only"
    RIG_INIT_STAGE=2 exec chroot . /bin/sh "$0"
    msg "chroot failed"
    poweroff_now
fi

# ---------------------------------------------------------------------------
# Stage 2.
cd /
for w in $(cat /proc/cmdline); do
    case "$w" in
        rig_role=*)    rig_role=${w#*=} ;;
        rig_id=*)      rig_id=${w#*=} ;;
        rig_nodes=*)   rig_nodes=${w#*=} ;;
        rig_script=*)  rig_script=${w#*=} ;;
        rig_module=*)  rig_module=${w#*=} ;;
        rig_tools=*)   rig_tools=${w#*=} ;;
        rig_repo=*)    rig_repo=${w#*=} ;;
        rig_timeout=*) rig_timeout=${w#*=} ;;
        rig_boot=*)    rig_boot=${w#*=} ;;
        rig_flavor=*)  rig_flavor=${w#*=} ;;
    esac
done
rig_role=${rig_role:-client}
rig_id=${rig_id:-0}
rig_nodes=${rig_nodes:-0}
case "$rig_role" in
    node) vm=node$rig_id ;;
    *)    rig_role=client; vm=client ;;
esac

systemd=0
[ "${RIG_INIT_STAGE:-}" = systemd ] && systemd=1
if [ $systemd = 0 ]; then
    mount -t tmpfs -o mode=0755 tmpfs /run     # first: mount(8) keeps its utab there
    mkdir -p /dev/pts /dev/shm
    mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /dev/pts
    mount -t tmpfs -o mode=1777 tmpfs /dev/shm
    mount -t tmpfs -o mode=1777 tmpfs /tmp
    for d in /var/log /var/lib /var/cache /var/tmp; do
        [ -d "$d" ] && mount -t tmpfs -o mode=0755 tmpfs "$d"
    done
    chmod 1777 /var/tmp 2>/dev/null
fi
# The tmpfs mounts above may have covered the repository (a clone under /tmp
# or /var/tmp): bind it back from /.rig-repo.
if [ -n "${rig_repo:-}" ] && [ ! -e "$rig_repo/qemu/vm-init.sh" ] && [ -e /.rig-repo/qemu/vm-init.sh ]; then
    mkdir -p "$rig_repo" && mount --bind /.rig-repo "$rig_repo" || msg "cannot bind the repo at $rig_repo"
fi
# 9p shares, cache=none (the default): writes by one VM are seen by all others.
mkdir -p /out /shared
mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 out /out \
    || msg "cannot mount 9p tag 'out' on /out"
mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 shared /shared \
    || msg "cannot mount 9p tag 'shared' on /shared"
msg "$vm: init starting at $(cut -d' ' -f1 /proc/uptime)s uptime (role=$rig_role id=$rig_id nodes=$rig_nodes)"

RES=/out/results.txt
record() { echo "$1 $vm: $2" >>"$RES"; }
# step DESC CMD...: run CMD; on failure print its output and record a FAIL line.
step() {
    _d=$1; shift
    if ! _o=$("$@" 2>&1); then
        msg "$vm: FAIL: $_d: $_o"
        record FAIL "$_d ($_o)"
        return 1
    fi
}

# --- network ---------------------------------------------------------------
# (In systemd mode the node's own Debian configuration did it: hostname from
# systemd.hostname=, addresses and the VIP from ifupdown; only NODE_IPS.)
[ $systemd = 0 ] && echo "$vm" >/proc/sys/kernel/hostname
i=0
while [ ! -e /sys/class/net/eth0 ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
NODE_IPS=
i=1
while [ "$i" -le "$rig_nodes" ]; do
    NODE_IPS="$NODE_IPS${NODE_IPS:+ }10.0.0.$((10 + i))"
    i=$((i + 1))
done
if [ "$rig_role" = node ]; then my_ip=10.0.0.$((10 + rig_id)); else my_ip=$CLIENT_IP; fi
if [ $systemd = 0 ]; then
    step "network: lo up" ip link set lo up
    step "network: eth0 up" ip link set eth0 up
    step "network: $my_ip/24 on eth0" ip addr add "$my_ip/24" dev eth0
    if [ "$rig_role" = node ]; then
        # No node answers ARP for the VIP (it is on lo) nor uses it as ARP source.
        echo 1 >/proc/sys/net/ipv4/conf/all/arp_ignore
        echo 2 >/proc/sys/net/ipv4/conf/all/arp_announce
        # A server that closes first keeps each connection in TIME_WAIT for
        # 60 s; the default bound (half the established hash: 2048 in a
        # small VM) is passed under the tests' load, and a socket that
        # cannot enter TIME_WAIT answers the client's FIN with an RST
        # (install.md, step 3).
        echo 262144 >/proc/sys/net/ipv4/tcp_max_tw_buckets
        step "network: VIP $VIP/32 on lo" ip addr add "$VIP/32" dev lo
        step "network: join $VIP_MAC on eth0" ip maddr add "$VIP_MAC" dev eth0
    else
        step "network: neighbour $VIP -> $VIP_MAC" \
            ip neigh replace "$VIP" lladdr "$VIP_MAC" dev eth0 nud permanent
    fi
fi

# --- module ----------------------------------------------------------------
# load_module: insmod's rig_module on a node unless it is loaded (a test
# script removes it at its end); a PASS/FAIL line in $RES.
load_module() {
    [ "$rig_role" = node ] && [ -n "${rig_module:-}" ] || return 0
    [ -d /sys/module/dts ] && return 0
    if o=$(insmod "$rig_module" 2>&1); then
        record PASS "insmod $rig_module"
    else
        msg "$vm: insmod $rig_module failed: $o"
        record FAIL "insmod $rig_module ($o)"
    fi
}

# --- test scripts ----------------------------------------------------------
export RIG_ROLE="$rig_role" RIG_ID="$rig_id" RIG_NODES="$rig_nodes" RIG_VM="$vm"
# 1, or 2 when qemu/cluster.sh restarted this VM after killing it.
export RIG_BOOT="${rig_boot:-1}"
# The nodes' kernel flavor (tests/vm/run.sh --flavor); empty outside run.sh.
export RIG_FLAVOR="${rig_flavor:-}"
export RIG_REPO="${rig_repo:-}"
# The boot's shared directory, where qemu/cluster.sh reports a crashed VM
# (barriers in tests/vm/lib.sh look there too).
export RIG_BOOT_SHARED=/shared
export DTSCTL="${rig_tools:+$rig_tools/}dtsctl" DTS_MODULE="${rig_module:-}"
export NODE_IPS VIP CLIENT_IP VIP_MAC
export HOME=/tmp TERM=dumb LANG=C.UTF-8 LC_ALL=C.UTF-8
# Busybox's static sleep first on PATH: the tests' polling loops sleep
# often, and under TCG a dynamically linked program costs 50-250 ms to start,
# a static one 5-50 ms (tests/vm/lib.sh, before cs_of).
if [ -x /bin/busybox ] && mkdir -p /run/rig-bin && ln -sf /bin/busybox /run/rig-bin/sleep; then
    PATH=/run/rig-bin:$PATH
    export PATH
fi
# Each script has its share of the cluster's timeout (rig_timeout: per
# script, tests/vm/run.sh gives a shared boot that many times its
# per-test timeout) less 20 s, so that a hung script still gets its status
# and dmesg written.
nscripts=$(echo "${rig_script:-x}" | tr ',' '\n' | wc -l)
limit=$(( ${rig_timeout:-600} / nscripts - 20 ))
[ "$limit" -ge 10 ] || limit=10

# run_script PATH: runs one test script with RIG_OUT=$RIG_OUT and
# RIG_SHARED=$RIG_SHARED; its exit status to $RIG_OUT/status, the kernel log
# of its run to $RIG_OUT/dmesg.txt, its wall time to $RIG_OUT/elapsed.
run_script() {
    _s=$1
    _t0=$(cut -d. -f1 /proc/uptime)
    # When the script will be stopped, in /proc/uptime seconds, less a 10 s
    # margin: the default limit of barriers (tests/vm/lib.sh).
    export RIG_DEADLINE=$(( _t0 + limit - 10 ))
    status=1
    if [ ! -r "$_s" ]; then
        msg "$vm: test script '$_s' missing"
        record FAIL "test script '$_s' missing"
    else
        msg "$vm: running $_s (limit ${limit}s)"
        if [ -x "$_s" ]; then set -- "$_s"; else set -- /bin/sh "$_s"; fi
        timeout -k 5 "$limit" "$@" </dev/null
        status=$?
        if [ "$status" = 124 ] || [ "$status" = 137 ]; then
            record FAIL "test script timed out after ${limit}s"
        fi
    fi
    echo "$status" >"$RIG_OUT/status"
    echo $(( $(cut -d. -f1 /proc/uptime) - _t0 )) >"$RIG_OUT/elapsed"
    dmesg >"$RIG_OUT/dmesg.txt" 2>&1
    msg "$vm: finished $_s at $(cut -d' ' -f1 /proc/uptime)s uptime, status $status"
}

# clean_up: between two scripts of one boot, undoes what a script may leave
# behind: every process but this one (daemons, servers, captures), the
# client's netem qdisc, routes and addresses added by hand, the module (if
# still loaded), and the files in /tmp (but the repository, if it lies
# there); clears the kernel log, so that the next script's dmesg.txt is its
# own.
clean_up() {
    kill -9 -1 2>/dev/null     # from PID 1: every process but init
    sleep 0.5
    # A script that failed before its end may have left the module loaded
    # (configured): the next one starts from a fresh module, as after a boot.
    [ -d /sys/module/dts ] && rmmod dts 2>/dev/null
    tc qdisc del dev eth0 root 2>/dev/null
    ip route flush proto boot 2>/dev/null
    for a in $(ip -4 -o addr show dev lo | awk '{ print $4 }'); do
        case "$a" in 127.0.0.1/8|"$VIP/32") ;; *) ip addr del "$a" dev lo ;; esac
    done
    keep=
    case "${rig_repo:-}" in /tmp/?*) keep=/tmp/$(echo "${rig_repo#/tmp/}" | cut -d/ -f1) ;; esac
    for f in /tmp/* /tmp/.[!.]*; do
        [ -e "$f" ] || [ -L "$f" ] || continue
        [ "$f" = "$keep" ] || rm -rf "$f"
    done
    dmesg -C
}

if [ -z "${rig_script:-}" ]; then
    msg "$vm: no test script"
    RIG_OUT=/out RES=/out/results.txt
    record FAIL "no test script (rig_script=)"
    echo 1 >/out/status
    dmesg >/out/dmesg.txt 2>&1
    status=1
elif [ "${rig_script#*,}" = "$rig_script" ]; then
    # One script: its results in /out and /shared themselves.
    export RIG_OUT=/out RIG_SHARED=/shared
    load_module
    run_script "$rig_script"
else
    # Several scripts in one boot (tests/vm/run.sh groups tests that boot
    # the same cluster): each in /out/<name> and /shared/<name>, which the
    # host moves into place as if each had booted alone.
    first=1
    for s in $(echo "$rig_script" | tr ',' ' '); do
        [ $first = 1 ] || clean_up
        first=0
        n=$(basename "$s" .sh)
        export RIG_OUT=/out/$n RIG_SHARED=/shared/$n
        mkdir -p "$RIG_OUT" "$RIG_SHARED"
        RES=$RIG_OUT/results.txt
        load_module
        run_script "$s"
    done
    echo 0 >/out/status
fi
sync
msg "$vm: init finished at $(cut -d' ' -f1 /proc/uptime)s uptime, script status $status, powering off"
poweroff_now
