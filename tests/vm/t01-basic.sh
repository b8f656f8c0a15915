#!/bin/sh
# t01-basic: the rig and the module's basics, on 3 nodes + client.
#   nodes:  dts.ko loaded, `dtsctl status` (text and JSON: abi_version 1, the
#           two filtering hooks only; `dtsctl hook-stats on` adds the two
#           count-only ones), a random 1 MiB file served by nginx;
#   client: fetches every node's file by its internal address (sha256), pings
#           the VIP and sees every node answer;
#   nodes:  hook counters went up, dtsctl refuses without CAP_NET_ADMIN,
#           `dtsctl zero`, `hook-stats off` and on again, rmmod (with the
#           count-only hooks on), dtsctl then reports "not loaded";
#   client: fetches again through the unregistered hook points;
#   nodes:  kernel log clean.
# rig-nodes: 3
. "$RIG_REPO/tests/vm/lib.sh"

ALL=$(all_vms)
S1=/tmp/status-before.json
S2=/tmp/status-after.json
S3=/tmp/status-zeroed.json

# status_json FILE: `dtsctl status --json` into FILE, checked for abi_version
# 1 and the four hooks; their packet counters go to FILE.counters.
status_json() {
    "$DTSCTL" status --json >"$1" || return 1
    cat "$1"; echo
    abi=$(json_get abi_version "$1") || return 1
    [ "$abi" = 1 ] || { echo "abi_version is $abi, want 1"; return 1; }
    dts_counters "$1" >"$1.counters"
}

# hooks_are FILE NAMES: the hooks listed in the `dtsctl status --json` output
# in FILE are exactly NAMES (space-separated, in hook-number order).
hooks_are() {
    _h=$("$JQ" -r '[.hooks[].name] | join(" ")' "$1") || return 1
    echo "hooks: $_h"
    [ "$_h" = "$2" ] || { echo "want: $2"; return 1; }
}

# status_hooks NAMES: `dtsctl status --json` lists exactly the hooks NAMES.
status_hooks() {
    "$DTSCTL" status --json >/tmp/status-hooks.json || return 1
    hooks_are /tmp/status-hooks.json "$1"
}

# counters_compare OLD NEW OP: for every hook, NEW's packets OP OLD's (OP: -gt
# or -lt), from the .counters files of two status_json runs.
counters_compare() {
    _ok=0
    for h in $DTS_HOOKS; do
        a=$(dts_hook_packets "$1.counters" "$h") || { echo "$h missing in $1"; return 1; }
        b=$(dts_hook_packets "$2.counters" "$h") || { echo "$h missing in $2"; return 1; }
        echo "$h: $a -> $b"
        [ "$b" "$3" "$a" ] || _ok=1
    done
    return $_ok
}

# counters_at_most FILE MAX: every hook's packet counter is <= MAX.
counters_at_most() {
    _ok=0
    for h in $DTS_HOOKS; do
        n=$(dts_hook_packets "$1.counters" "$h") || { echo "$h missing in $1"; return 1; }
        echo "$h: $n"
        [ "$n" -le "$2" ] || _ok=1
    done
    return $_ok
}

# dtsctl_fails_with STATUS PATTERN CMD...: CMD exits STATUS and its output
# (stdout+stderr) contains PATTERN (case-insensitive).
dtsctl_fails_with() {
    _want=$1 _pat=$2; shift 2
    _o=$("$@" 2>&1); _rc=$?
    printf '%s\n' "$_o"
    [ "$_rc" = "$_want" ] || { echo "exit status $_rc, want $_want"; return 1; }
    printf '%s\n' "$_o" | grep -qi -- "$_pat" || { echo "output lacks '$_pat'"; return 1; }
}

# fetch_all ROUND: fetch file-1m from every node; compare sha256 with the one
# the node published. A live node answers a connection at once: 5 s to
# connect (the harness self-test's crashed node fails in 5 s, not 15).
fetch_all() {
    for i in $(seq 1 "$RIG_NODES"); do
        ip=$(node_ip "$i")
        f=/tmp/file-1m.node$i.$1
        check "$1: GET http://$ip/file-1m" \
            curl -sS --fail --connect-timeout 5 --max-time 60 -o "$f" "http://$ip/file-1m" || continue
        want=$(cat "$RIG_SHARED/node$i.sha256")
        got=$(sha256_of "$f")
        log "$1: node$i file-1m sha256 $got (want $want)"
        if [ "$got" = "$want" ] && [ "$(stat -c %s "$f")" = 1048576 ]; then
            pass "$1: node$i file-1m sha256 matches"
        else
            fail "$1: node$i file-1m sha256 $got, want $want"
        fi
    done
}

# ping_vip: every node answers an echo request to the VIP. busybox ping prints
# one line per reply, extra replies to one sequence number marked "(DUP!)".
# The last sequence number is not counted: ping exits on its first reply.
ping_vip() {
    tcpdump -Z root -i eth0 -n -e -U -w "$RIG_OUT/ping-vip.pcap" icmp >/tmp/tcpdump.log 2>&1 &
    tcpdump_pid=$!
    _n=0
    while ! grep -q 'listening on' /tmp/tcpdump.log && [ $_n -lt 100 ]; do
        sleep 0.1; _n=$((_n + 1))
    done
    /bin/busybox ping -c 3 -W 3 "$VIP" >/tmp/ping.txt 2>&1
    sleep 1
    kill "$tcpdump_pid"; wait "$tcpdump_pid"
    cat /tmp/ping.txt
    _ok=0
    for seq in 0 1; do
        n=$(grep -c "from $VIP: seq=$seq " /tmp/ping.txt)
        d=$(grep "from $VIP: seq=$seq " /tmp/ping.txt | grep -c 'DUP!')
        echo "seq=$seq: $n replies ($d DUP), want $RIG_NODES"
        [ "$n" = "$RIG_NODES" ] && [ "$d" = $((RIG_NODES - 1)) ] || _ok=1
    done
    # The source MACs of the echo replies in the capture: one per node.
    macs=$(tcpdump -r "$RIG_OUT/ping-vip.pcap" -n -e 'icmp[icmptype] = icmp-echoreply' 2>/dev/null |
        awk '{print $2}' | sort -u)
    echo "echo replies came from: $(echo $macs)"
    for i in $(seq 1 "$RIG_NODES"); do
        mac=$(node_mac "$i")
        echo "$macs" | grep -qx "$mac" || { echo "no echo reply from node$i ($mac)"; _ok=1; }
    done
    return $_ok
}

case "$RIG_ROLE" in
node)
    check "dts module loaded (/sys/module/dts)" test -d /sys/module/dts
    check "dtsctl status" "$DTSCTL" status
    check "by default only the filtering hooks are registered" \
        status_hooks "pre_routing local_out"
    check "dtsctl hook-stats on" "$DTSCTL" hook-stats on
    check "dtsctl hook-stats on again (no error)" "$DTSCTL" hook-stats on
    check "dtsctl hook-stats with a bad value exits 2" \
        dtsctl_fails_with 2 "invalid value" "$DTSCTL" hook-stats yes
    check "dtsctl status --json: abi_version 1, four hooks" status_json "$S1"
    check "the count-only hooks are registered" \
        hooks_are "$S1" "pre_routing local_in local_out post_routing"

    mkdir -p /tmp/www
    dd if=/dev/urandom of=/tmp/www/file-1m bs=1M count=1 2>/dev/null
    sha256_of /tmp/www/file-1m >"$RIG_SHARED/node$RIG_ID.sha256"
    check "nginx started" nginx_start
    barrier ready "$ALL"

    barrier fetched "$ALL"
    check "dtsctl status --json after traffic" status_json "$S2"
    check "hook packet counters went up" counters_compare "$S1" "$S2" -gt
    check "dtsctl without CAP_NET_ADMIN exits 1 naming CAP_NET_ADMIN" \
        dtsctl_fails_with 1 CAP_NET_ADMIN \
        setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all "$DTSCTL" status
    check "dtsctl zero" "$DTSCTL" zero
    check "dtsctl status --json after zero" status_json "$S3"
    check "counters reset by dtsctl zero" counters_compare "$S2" "$S3" -lt
    check "counters near zero after dtsctl zero" counters_at_most "$S3" 20
    check "dtsctl hook-stats off" "$DTSCTL" hook-stats off
    check "hook-stats off: only the filtering hooks remain" \
        status_hooks "pre_routing local_out"
    check "dtsctl hook-stats off again (no error)" "$DTSCTL" hook-stats off
    check "dtsctl hook-stats on (rmmod then unregisters them too)" "$DTSCTL" hook-stats on
    check "rmmod dts" rmmod dts
    check "dtsctl status after rmmod exits 1: not loaded" \
        dtsctl_fails_with 1 "not loaded" "$DTSCTL" status
    barrier unloaded "$ALL"

    barrier after "$ALL"
    nginx_collect
    check "nginx logged the client's requests" grep -q "^$CLIENT_IP:" /tmp/nginx/access.log
    check "kernel log has no problem report" dmesg_clean
    cp "$S1" "$S1.counters" "$S2" "$S2.counters" "$S3" "$S3.counters" "$RIG_OUT/" 2>/dev/null
    ;;
client)
    barrier ready "$ALL"
    fetch_all before
    check "ping VIP $VIP: every node answers" ping_vip
    barrier fetched "$ALL"

    barrier unloaded "$ALL"
    fetch_all unloaded
    barrier after "$ALL"
    ;;
*)
    fail "unknown role '$RIG_ROLE'"
    ;;
esac
# The runner reads results.txt; the exit status just mirrors it.
! grep -q '^FAIL' "$RIG_RESULTS"
