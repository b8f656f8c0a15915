#!/bin/sh
# t10-packages: the Debian packages of `make deb` (build/deb/) on two Debian
# 12 machines, installed and started the way Documentation/install.md tells
# an operator to; 2 nodes + client.
#   nodes:  Debian 12 (bookworm) machines (run.sh "rig-root: debian":
#           scripts/debian-root.sh image installed the three packages with
#           apt into a debootstrapped root, wrote install.md's network,
#           sysctl and cluster files (tests/vm/t10-packages.toml) and
#           enabled dts-cluster and dts-proxy@8080): booted from a SATA disk
#           with the packaged kernel, Debian's initramfs and systemd as PID 1.
#           The system is up with no failed unit; uname -r is the kernel
#           package's release; dts-cluster.service loaded the packaged
#           dts.ko (vermagic: the running kernel; depmod listed it) and
#           applied the cluster file at boot; Debian's nginx and
#           dts-proxy@8080 run, the proxy as the user dts with CAP_NET_ADMIN
#           only, under its unit's seccomp filter and no-new-privileges; the
#           man pages, completions, header and sample are installed and the
#           sample validates; the mesh forms;
#   client: boots the packaged kernel too (rig-kernel: deb; the rig's own
#           root); from a client port node 1 accepts, GET /n2/file (1 MiB)
#           through the VIP, then from a port node 2 accepts, GET /n1/file:
#           each is handed over and byte-exact (sha256) with the serving
#           node's file;
#   nodes:  the owner's proxy journal has result=ok action=handover, the
#           destination's nginx access log the client's address;
#           handover_done > 0; `systemctl stop dts-cluster` stops the proxy
#           (PartOf) and its ExecStop (dtsctl flush) leaves no flow; rmmod;
#           clean kernel log.
# rig-nodes: 2
# rig-kernel: deb
# rig-root: debian
# rig-module: none
# rig-tools: none
. "$RIG_REPO/tests/vm/lib.sh"

ALL=$(all_vms)
DEBS=$RIG_REPO/build/deb
SIZE=1048576

# deb NAME: the one NAME_*.deb in $DEBS (NAME may be a pattern).
deb() {
    # shellcheck disable=SC2086
    set -- $DEBS/$1_*.deb
    [ $# = 1 ] && [ -f "$1" ] || { echo "want one $DEBS/$1_*.deb, have: $*" >&2; return 1; }
    echo "$1"
}

# kernel_release: the kernel package's release (linux-image-RELEASE).
kernel_release() {
    _k=$(deb linux-image-*) || return 1
    dpkg-deb -f "$_k" Package | sed 's/^linux-image-//'
}

# installed PATH...: every PATH exists and is not empty.
installed() {
    for _p in "$@"; do
        [ -s "$_p" ] || { echo "not installed: $_p"; return 1; }
    done
    echo "$# files"
}

# system_running: the boot finished and no unit failed.
system_running() {
    _st=$(systemctl is-system-running --wait)
    echo "$_st"
    [ "$_st" = running ] && return 0
    systemctl --failed --no-legend --no-pager
    return 1
}

# proxy_confined PID UID: PID runs as UID with CAP_NET_ADMIN (0x1000) as its
# only effective capability, in seccomp filter mode, with no_new_privs.
proxy_confined() {
    grep -E '^(Uid|CapEff|Seccomp|NoNewPrivs):' "/proc/$1/status"
    grep -q "^Uid:[[:space:]]*$2[[:space:]]" "/proc/$1/status" &&
        grep -q '^CapEff:[[:space:]]*0000000000001000$' "/proc/$1/status" &&
        grep -q '^Seccomp:[[:space:]]*2$' "/proc/$1/status" &&
        grep -q '^NoNewPrivs:[[:space:]]*1$' "/proc/$1/status"
}

case "$RIG_ROLE" in
node)
    KREL=$(uname -r)
    DTSCTL=/usr/sbin/dtsctl
    check "systemd is PID 1" sh -c '[ "$(cat /proc/1/comm)" = systemd ]'
    check "root file system: ext4 LABEL=dts-root on the SATA disk /dev/sda (AHCI)" sh -c \
        "awk '\$2 == \"/\" { print \$1, \$3 }' /proc/mounts | grep -qx '/dev/sda ext4' &&
         readlink -f /sys/block/sda/device | grep -q /ata"
    check "booted through Debian's initramfs (/boot/initrd.img-$KREL)" sh -c \
        "test -s /boot/initrd.img-$KREL && dmesg | grep -q 'Freeing initrd memory'"
    check "the system is up, no failed unit (systemctl is-system-running --wait)" system_running
    check "uname -r = the installed kernel package's release ($KREL)" \
        sh -c "dpkg-query -W -f='\${Status}\\n' linux-image-$KREL | grep -qx 'install ok installed'"
    check "dts-cluster.service active: modprobe dts and dtsctl apply ran at boot" \
        systemctl is-active dts-cluster.service
    check "dts.ko loaded from the package: /lib/modules/$KREL/extra/dts.ko" sh -c \
        "grep -q '^dts ' /proc/modules && [ \"\$(modinfo -n dts)\" = /lib/modules/$KREL/extra/dts.ko ]"
    check "packaged dts.ko's vermagic names the running kernel $KREL" \
        sh -c "modinfo -F vermagic dts | grep -q '^$KREL '"
    check "postinst: depmod listed extra/dts.ko in modules.dep" \
        grep -q '^extra/dts.ko:' "/lib/modules/$KREL/modules.dep"
    check "the cluster file is in force: service 10.0.0.100:80 (dtsctl show services)" \
        sh -c "'$DTSCTL' show services | grep -q '10\.0\.0\.100'"
    check "postinst: systemd-sysusers created the system user dts" \
        grep -q '^dts:x:[0-9]*:[0-9]*:' /etc/passwd
    check "man pages, completions, units, header, sample installed" installed \
        /usr/share/man/man8/dtsctl.8.gz /usr/share/man/man8/dtsctl-apply.8.gz \
        /usr/share/man/man8/dtsctl-config-apply.8.gz /usr/share/man/man8/dts-proxy.8.gz \
        /usr/share/man/man8/dts-scserver.8.gz /usr/share/bash-completion/completions/dtsctl \
        /usr/share/zsh/vendor-completions/_dtsctl /usr/share/fish/vendor_completions.d/dtsctl.fish \
        /usr/share/bash-completion/completions/dts-proxy /usr/include/dts_handover.h \
        /lib/systemd/system/dts-cluster.service /lib/systemd/system/dts-proxy@.service \
        /usr/lib/sysusers.d/dts-tools.conf /usr/share/doc/dts-tools/examples/cluster.toml \
        /usr/sbin/dts-scserver
    check "dtsctl.8 is a man page of section 8" \
        sh -c "zcat /usr/share/man/man8/dtsctl.8.gz | grep -q '^\.TH dtsctl 8 '"
    pv=$(dpkg-query -W -f='${Version}' dts-tools)
    check "dtsctl --version is the package's upstream version (dts-tools $pv)" \
        sh -c "'$DTSCTL' --version | grep -q '^dtsctl ${pv%%+*} '"
    check "the sample cluster.toml validates (self = $RIG_ID)" sh -c \
        "sed 's/^self = 1\$/self = $RIG_ID/' /usr/share/doc/dts-tools/examples/cluster.toml >/tmp/sample.toml &&
         '$DTSCTL' config check /tmp/sample.toml"
    check "nginx.service active (Debian's nginx, its default site)" systemctl is-active nginx.service
    check "dts-proxy@8080.service active" systemctl is-active dts-proxy@8080.service
    pid=$(systemctl show -p MainPID --value dts-proxy@8080.service)
    uid=$(awk -F: '$1 == "dts" { print $3 }' /etc/passwd)
    check "the proxy (pid $pid) runs as dts ($uid) with CAP_NET_ADMIN only, seccomp-filtered, no new privileges" \
        proxy_confined "$pid" "$uid"
    log "phase: booted"
    check "control mesh formed (dtsctl peers --wait)" "$DTSCTL" peers --wait 60
    check "dtsctl zero" "$DTSCTL" zero

    mkdir -p "/var/www/html/n$RIG_ID"
    head -c "$SIZE" /dev/urandom >"/var/www/html/n$RIG_ID/file"
    sha256_of "/var/www/html/n$RIG_ID/file" >"$RIG_SHARED/sha.n$RIG_ID"
    # A node that could not set up stops the others at once.
    if grep -q '^FAIL' "$RIG_RESULTS"; then
        echo "$RIG_VM: setup failed (its results.txt)" >>"$RIG_SHARED/abort"
        systemctl --failed --no-pager >"$RIG_OUT/failed-units.txt" 2>&1
        journalctl -b --no-pager >"$RIG_OUT/journal.txt" 2>&1
        exit 1
    fi
    barrier ready "$ALL" || exit 1
    barrier fetched "$ALL" || exit 1
    log "phase: fetched"
    journalctl -u dts-proxy@8080.service -o cat --no-pager >"$RIG_OUT/proxy.log" 2>&1
    cp /var/log/nginx/access.log "$RIG_OUT/access.log" 2>/dev/null
    while read -r o d p path; do
        if [ "$o" = "$RIG_ID" ]; then
            check "proxy journal: $CLIENT_IP:$p $path handed over to node$d" sh -c \
                "grep 'client=$CLIENT_IP:$p ' '$RIG_OUT/proxy.log' | grep 'path=$path ' | grep 'result=ok' | grep -q 'action=handover'"
        fi
        if [ "$d" = "$RIG_ID" ]; then
            check "nginx access log: $CLIENT_IP \"GET $path\" 200 $SIZE (the client's own address; handed over by node$o)" \
                grep -q "^$CLIENT_IP - .* \"GET $path HTTP/1.1\" 200 $SIZE " /var/log/nginx/access.log
        fi
    done <"$RIG_SHARED/fetches"
    "$DTSCTL" status --json >/tmp/status.json
    dts_counter_values /tmp/status.json handover_done >/tmp/counters.txt
    v=$(counter_value handover_done /tmp/counters.txt)
    check "handover_done > 0 ($v)" test "${v:-0}" -gt 0

    check "systemctl stop dts-cluster: the proxy stops with it (PartOf)" sh -c \
        "systemctl stop dts-cluster.service && ! systemctl is-active --quiet dts-proxy@8080.service"
    check "no flow left after its ExecStop (dtsctl flush)" flows_drain 15
    check "rmmod dts" rmmod dts
    journalctl -b --no-pager >"$RIG_OUT/journal.txt" 2>&1
    check "kernel log has no problem report" dmesg_clean
    log "phase: done"
    ;;
client)
    check "uname -r = the kernel package's release ($(uname -r))" \
        test "$(uname -r)" = "$(kernel_release)"
    # The packaged dtsctl, for `dtsctl owner`.
    check "dpkg -x dts-tools" dpkg -x "$(deb dts-tools)" /tmp/pkg
    DTSCTL=/tmp/pkg/usr/sbin/dtsctl
    PORT=41000
    : >"$RIG_SHARED/fetches"
    barrier ready "$ALL" || exit 1
    for pair in 1:2 2:1; do
        o=${pair%:*} d=${pair#*:}
        port_of "$o" 1,2
        rm -f /tmp/got
        check "GET /n$d/file from port $PORT (owner node$o): 200" \
            curl -sS --fail --max-time 60 --local-port "$PORT" -o /tmp/got "http://$VIP/n$d/file"
        check "/n$d/file byte-exact with node$d's ($(stat -c %s /tmp/got 2>/dev/null) B)" \
            test "$(sha256_of /tmp/got)" = "$(cat "$RIG_SHARED/sha.n$d")"
        echo "$o $d $PORT /n$d/file" >>"$RIG_SHARED/fetches"
    done
    barrier fetched "$ALL"
    check "kernel log has no problem report" dmesg_clean
    ;;
*)
    fail "unknown role '$RIG_ROLE'"
    ;;
esac
! grep -q '^FAIL' "$RIG_RESULTS"
