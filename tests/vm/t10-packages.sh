#!/bin/sh
# t10-packages: the Debian packages of `make deb` (build/deb/), installed
# and used, on 2 nodes + client.
#   every VM: boots the packaged kernel (run.sh "rig-kernel: deb": the
#           vmlinuz of linux-image-*.deb); uname -r is that package's
#           release; the rig loads no module and gives no tools (rig-module,
#           rig-tools: none);
#   nodes:  the kernel package's files (dpkg -x) and dts-module and
#           dts-tools (dpkg --root -i) go into /tmp/root (the latter
#           chrootless, so that their postinst run there: depmod lists
#           extra/dts.ko, systemd-sysusers creates the user dts); the
#           packaged dts.ko's vermagic names the running kernel; the man
#           pages, completions, units, header and sample are installed and
#           the sample validates; dts-cluster.service's ExecStart lines run
#           (root-relative): `modprobe dts` loads the packaged module and
#           `dtsctl apply -f` the packaged dtsctl applies a 2-node cluster
#           (owner_first: /n1/ -> node 1, /n2/ -> node 2); the mesh forms;
#           nginx on port 80; dts-proxy@8080.service's ExecStart runs as
#           the user dts with CAP_NET_ADMIN only (setpriv, as the unit's
#           User= and capability lines give it);
#   client: from a client port node 1 accepts, GET /n2/file (1 MiB) through
#           the VIP, then from a port node 2 accepts, GET /n1/file: each is
#           handed over and byte-exact (sha256) with the serving node's
#           file;
#   nodes:  the owner's proxy logged result=ok action=handover, the
#           destination's nginx the client's own address and port;
#           handover_done > 0; the proxy stops; dts-cluster.service's
#           ExecStop (dtsctl flush) leaves no flow; rmmod; clean kernel log.
# rig-nodes: 2
# rig-kernel: deb
# rig-module: none
# rig-tools: none
. "$RIG_REPO/tests/vm/lib.sh"

ALL=$(all_vms)
DEBS=$RIG_REPO/build/deb
R=/tmp/root                    # the nodes' install root
UNITS=$R/lib/systemd/system
CONF=$R/etc/dts/cluster.toml
SIZE=1048576

# deb NAME: the one NAME_*.deb in $DEBS (NAME may be a pattern).
deb() {
    # shellcheck disable=SC2086
    set -- $DEBS/$1_*.deb
    [ $# = 1 ] && [ -f "$1" ] || { echo "want one $DEBS/$1_*.deb, have: $*" >&2; return 1; }
    echo "$1"
}

# unit_cmd UNIT KEY: the UNIT's KEY= command lines, made to run in this VM:
# /usr/sbin/ and /etc/ paths under $R, modprobe with -d $R, dts-proxy@'s
# instance 8080 with its default (empty) DTS_PROXY_ARGS.
unit_cmd() {
    sed -n "s/^$2=//p" "$UNITS/$1" | sed -e "s|^/sbin/modprobe |modprobe -d $R |" \
        -e "s|^/usr/sbin/|$R/usr/sbin/|" -e "s| /etc/| $R/etc/|g" -e "s|%i|8080|g" \
        -e "s|\${DTS_PROXY_CONFIG}|$CONF|g" -e "s| *\$DTS_PROXY_ARGS||g"
}

# run_lines: run each line of stdin as a command (words split on blanks).
run_lines() {
    _rc=0
    while IFS= read -r _l; do
        echo "+ $_l"
        # shellcheck disable=SC2086
        $_l || { _rc=1; break; }
    done
    return $_rc
}

# kernel_release: the kernel package's release (linux-image-RELEASE).
kernel_release() {
    _k=$(deb linux-image-*) || return 1
    dpkg-deb -f "$_k" Package | sed 's/^linux-image-//'
}

# installed PATH...: every PATH exists under $R.
installed() {
    for _p in "$@"; do
        [ -s "$R$_p" ] || { echo "not installed: $_p"; return 1; }
    done
    echo "$# files"
}

# unit_has UNIT LINE...: the installed UNIT has every LINE.
unit_has() {
    _u=$1; shift
    for _x in "$@"; do
        grep -qxF -- "$_x" "$UNITS/$_u" || { echo "$_u lacks '$_x'"; return 1; }
    done
}

# dts_stat NAME: the module's counter NAME (`dtsctl show stats`; no python,
# which costs a second per start under TCG).
dts_stat() {
    "$DTSCTL" show stats | awk -v n="$1" '$1 == n { print $2; f = 1 } END { exit !f }'
}

# no_flows SECONDS: poll until flows_active is 0, at most SECONDS.
no_flows() {
    _n=0
    while [ "$(dts_stat flows_active)" != 0 ]; do
        [ $_n -lt $(($1 * 5)) ] || { echo "flows_active $(dts_stat flows_active) after ${1}s"; return 1; }
        sleep 0.2; _n=$((_n + 1))
    done
    echo "flows_active 0 after $((_n / 5)).$((_n % 5 * 2))s"
}

check "uname -r = the kernel package's release ($(uname -r))" \
    test "$(uname -r)" = "$(kernel_release)"

case "$RIG_ROLE" in
node)
    KREL=$(uname -r)
    mkdir -p "$R/var/lib/dpkg/info" "$R/var/lib/dpkg/updates"
    : >"$R/var/lib/dpkg/status"
    # The running kernel's package, as if installed (its maintainer
    # scripts would run the host's kernel hooks): depmod then finds
    # modules.order, modules.builtin, ... as on a real system.
    check "dpkg -x linux-image into $R" dpkg -x "$(deb linux-image-*)" "$R"
    # --force-depends: the kernel and libc are the VM's own, not in $R's
    # package database.
    check "dpkg --root $R -i dts-module dts-tools (chrootless maintainer scripts)" \
        dpkg --root="$R" --force-script-chrootless --force-depends --log=/tmp/dpkg.log \
        -i "$(deb dts-module)" "$(deb dts-tools)"
    DTSCTL=$R/usr/sbin/dtsctl
    log "phase: packages installed"
    check "packaged dts.ko's vermagic names the running kernel $KREL" \
        sh -c "modinfo -F vermagic '$R/lib/modules/$KREL/extra/dts.ko' | grep -q '^$KREL '"
    check "postinst: depmod listed extra/dts.ko in $R/lib/modules/$KREL/modules.dep" \
        grep -q '^extra/dts.ko:' "$R/lib/modules/$KREL/modules.dep"
    check "postinst: systemd-sysusers created the system user dts in $R" \
        grep -q '^dts:x:[0-9]*:[0-9]*:' "$R/etc/passwd"
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
        sh -c "zcat '$R/usr/share/man/man8/dtsctl.8.gz' | grep -q '^\.TH dtsctl 8 '"
    pv=$(dpkg-query --admindir="$R/var/lib/dpkg" -W -f='${Version}' dts-tools)
    check "dtsctl --version is the package's upstream version (dts-tools $pv)" \
        sh -c "'$DTSCTL' --version | grep -q '^dtsctl ${pv%%+*} '"
    check "the sample cluster.toml validates (self = $RIG_ID)" sh -c \
        "sed 's/^self = 1\$/self = $RIG_ID/' '$R/usr/share/doc/dts-tools/examples/cluster.toml' >/tmp/sample.toml &&
         '$DTSCTL' config check /tmp/sample.toml"
    check "dts-proxy@.service: user dts, CAP_NET_ADMIN only, no new privileges" \
        unit_has dts-proxy@.service User=dts AmbientCapabilities=CAP_NET_ADMIN \
        CapabilityBoundingSet=CAP_NET_ADMIN NoNewPrivileges=yes

    cat >"$CONF" <<EOF
self = $RIG_ID

[[node]]
id = 1
addr = "$(node_ip 1)"

[[node]]
id = 2
addr = "$(node_ip 2)"

[[service]]
vip = "$VIP"
port = 80
proxy_port = 8080
nodes = [1, 2]

# A long dead time (10 s): on a busy host TCG can starve a VM for seconds,
# and a peer declared down would turn a handover into local service. Failure
# detection is t07's business.
[mesh]
port = 7470
heartbeat_ms = 500
dead_after = 20

[policy]
name = "owner_first"
owners = [{ prefix = "/n1/", node = 1 }, { prefix = "/n2/", node = 2 }]
EOF
    unit_cmd dts-cluster.service ExecStart >/tmp/cluster-start
    check "dts-cluster.service ExecStart: modprobe dts, dtsctl apply -f (packaged, $(wc -l </tmp/cluster-start) lines)" \
        run_lines </tmp/cluster-start
    check "dts loaded from the package" sh -c "grep -q '^dts ' /proc/modules"
    log "phase: cluster configured"
    check "control mesh formed (dtsctl peers --wait)" "$DTSCTL" peers --wait 60
    check "dtsctl zero" "$DTSCTL" zero

    mkdir -p "/tmp/www/n$RIG_ID"
    head -c "$SIZE" /dev/urandom >"/tmp/www/n$RIG_ID/file"
    sha256_of "/tmp/www/n$RIG_ID/file" >"$RIG_SHARED/sha.n$RIG_ID"
    nginx_start_without_proxy_port
    uid=$(awk -F: '$1 == "dts" { print $3 }' "$R/etc/passwd")
    gid=$(awk -F: '$1 == "dts" { print $4 }' "$R/etc/passwd")
    # shellcheck disable=SC2046
    set -- $(unit_cmd dts-proxy@.service ExecStart)
    log "dts-proxy@8080: $*"
    DTS_PROXY=/usr/bin/setpriv
    check "dts-proxy@8080.service's command listens on 8080 as dts ($uid:$gid), CAP_NET_ADMIN only" \
        dts_proxy_start 8080 --reuid="$uid" --regid="$gid" --clear-groups --no-new-privs \
        --inh-caps=-all,+net_admin --ambient-caps=-all,+net_admin --bounding-set=-all,+net_admin "$@"
    check "the proxy runs as uid $uid with CAP_NET_ADMIN (0x1000) only" sh -c \
        "grep -q '^Uid:[[:space:]]*$uid[[:space:]]' /proc/\$(cat /tmp/proxy.pid)/status &&
         grep -q '^CapEff:[[:space:]]*0000000000001000\$' /proc/\$(cat /tmp/proxy.pid)/status"
    # A node that could not set up stops the others at once (a missing
    # module would leave the client waiting for timeouts).
    if grep -q '^FAIL' "$RIG_RESULTS"; then
        echo "$RIG_VM: setup failed (its results.txt)" >>"$RIG_SHARED/abort"
        exit 1
    fi
    barrier ready "$ALL" || exit 1
    barrier fetched "$ALL" || exit 1
    log "phase: fetched"
    while read -r o d p path; do
        if [ "$o" = "$RIG_ID" ]; then
            check "proxy log: $CLIENT_IP:$p $path handed over to node$d" sh -c \
                "grep 'client=$CLIENT_IP:$p ' /tmp/proxy.log | grep 'path=$path ' | grep 'result=ok' | grep -q 'action=handover'"
        fi
        if [ "$d" = "$RIG_ID" ]; then
            check "access log: $CLIENT_IP:$p $VIP:80 \"GET $path\" (handed over by node$o)" \
                grep -qF "$CLIENT_IP:$p $VIP:80 \"GET $path HTTP/1.1\" 200" /tmp/nginx/access.log
        fi
    done <"$RIG_SHARED/fetches"
    v=$(dts_stat handover_done)
    check "handover_done > 0 ($v)" test "${v:-0}" -gt 0

    cp /tmp/proxy.log "$RIG_OUT/proxy.log" 2>/dev/null
    dts_proxy_stop
    check "nginx stopped" nginx_stop_wait
    nginx_collect
    unit_cmd dts-cluster.service ExecStop >/tmp/cluster-stop
    check "dts-cluster.service ExecStop (dtsctl flush)" run_lines </tmp/cluster-stop
    check "no flow left after ExecStop" no_flows 15
    check "rmmod dts" rmmod dts
    check "kernel log has no problem report" dmesg_clean
    log "phase: done"
    ;;
client)
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
