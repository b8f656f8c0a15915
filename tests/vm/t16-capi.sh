#!/bin/sh
# t16-capi: a handover made by a C program through include/dts_handover.h,
# on 3 nodes + client. Node 1 runs examples/c/handover_proxy.c
# (dts-c-handover-proxy, built by `make tools` next to dtsctl) on the proxy
# port instead of dts-proxy; it hands every connection to one node.
#   nodes:  the 3-node cluster configured (self = own id), counters zeroed;
#           stock nginx on port 80 (node 1: port 80 only; 2 and 3 also on
#           8080); node 2 has random files of 1 KiB, 64 KiB and 4 MiB under
#           /tmp/www/c/ (sha256 published) and a writable /tmp/www/n2/up/;
#           node 1 runs `dts-c-handover-proxy 8080 2`;
#   client: from ports node 1 owns, GET /c/file-1k, -64k and -4m: each
#           body is node 2's file, byte-exact (sha256 and length); the 4 MiB
#           one under tcpdump, where pcap_check.py shows the SYN-ACK from
#           node 1's MAC, then only node 2's, no gap, no RST, timestamps;
#           then PUT /n2/up/body-16k, a 16 KiB body sent with the head (no
#           100-continue), so the handover carries the bytes the C program
#           read and the module adds the ones it did not: 201;
#   nodes:  node 2's nginx logged each GET from the client's own address
#           and port to VIP:80 with status 200 and the file's length, and
#           stored the PUT body byte-exact; node 1's C program logged one
#           line per connection, result=ok action=handover target=2;
#           node 1 counted handover_done >= 4 and handover_failed 0,
#           node 2 handover_completed >= 4;
#   refused: node 1 restarts the C program with node 9 (not in the
#           cluster), then with node 1 (itself): a GET from a port node 1
#           owns is answered "502 Bad Gateway" with the body "handover to
#           node N failed: EINVAL", and the program logged result=EINVAL
#           action=close status=502 for that client port;
#   nodes:  the flow tables drain, the handover time counters add up,
#           config clear, rmmod; every VM's kernel log is clean.
# On the debug kernel the time limits are 5 times longer; the load is the
# same (four handovers and two refusals).
# rig-nodes: 3
. "$RIG_REPO/tests/vm/lib.sh"

ALL=$(all_vms)
CONF=/tmp/cluster.toml
EXAMPLES=$RIG_REPO/userspace-tools/dtsctl/examples
PCAP_CHECK=$RIG_REPO/tests/vm/pcap_check.py
FLAVOR=$(rig_flavor)
if [ "$FLAVOR" = debug ]; then SLOW=5; else SLOW=1; fi
SIZES="1k:1024 64k:65536 4m:4194304"
CAPTURED=4m
COUNTERS="handover_requested handover_done handover_failed handover_completed"

# The C example, built next to dtsctl (make tools). lib.sh's
# dts_proxy_start/_stop start and stop "$DTS_PROXY": on node 1 that is the
# C program, so its log is /tmp/proxy*.log like dts-proxy's (and run.sh
# shows its failed decisions, the result= lines, on a failure).
case ${DTSCTL:-dtsctl} in
    */*) C_PROXY=${DTSCTL%/*}/dts-c-handover-proxy ;;
    *)   C_PROXY=dts-c-handover-proxy ;;
esac

# c_proxy_logged FILE PORT PATTERN...: the C program's log line in FILE for
# client port PORT contains every PATTERN.
c_proxy_logged() {
    _f=$1 _p=$2
    shift 2
    _l=$(grep "^dts-c-handover-proxy: client=$CLIENT_IP:$_p " "$_f")
    printf '%s\n' "$_l"
    [ -n "$_l" ] || { echo "no log line for client $CLIENT_IP:$_p in $_f"; return 1; }
    [ "$(printf '%s\n' "$_l" | wc -l)" = 1 ] || { echo "more than one line"; return 1; }
    for _pat in "$@"; do
        printf '%s\n' "$_l" | grep -q -- "$_pat" || { echo "lacks '$_pat'"; return 1; }
    done
}

# c_proxy_stop: stop the C program, whichever of its tags ("", -to9, -to1:
# its log is /tmp/proxyTAG.log) runs (no-ops for the others).
c_proxy_stop() {
    for _t in "" -to9 -to1; do
        DTS_PROXY_TAG=$_t dts_proxy_stop
    done
}

# c_proxy_restart TAG NODE: stop the C program, start it again handing to
# NODE, with tag TAG. (It runs under `check`, in a subshell: no state is
# kept in variables.)
c_proxy_restart() {
    c_proxy_stop
    DTS_PROXY_TAG=$1 dts_proxy_start 8080 8080 "$2" || return 1
    # Its start line follows the listen(2) that dts_proxy_start waited for.
    _n=0
    while ! grep -q "listening on 0.0.0.0:8080 node=$2\$" "/tmp/proxy$1.log"; do
        [ $_n -ge 50 ] && { cat "/tmp/proxy$1.log"; return 1; }
        sleep 0.1; _n=$((_n + 1))
    done
}

node2_setup_files() {
    mkdir -p /tmp/www/c /tmp/www/n2/up || return 1
    chmod 777 /tmp/www/n2/up || return 1
    for _s in $SIZES; do
        _name=${_s%%:*} _bytes=${_s#*:}
        head -c "$_bytes" /dev/urandom >"/tmp/www/c/file-$_name" || return 1
        [ "$(stat -c %s "/tmp/www/c/file-$_name")" = "$_bytes" ] || { echo "file-$_name: wrong size"; return 1; }
        sha256_of "/tmp/www/c/file-$_name" >"$RIG_SHARED/sha.file-$_name" || return 1
    done
}

# status_counters FILE: `dtsctl status --json` to FILE.json, the counters
# above as "NAME VALUE" lines to FILE.
status_counters() {
    "$DTSCTL" status --json >"$1.json" || return 1
    dts_counter_values "$1.json" $COUNTERS >"$1"
}

case "$RIG_ROLE" in
node)
    log "kernel flavor: $FLAVOR"
    sed "s/^self = 1$/self = $RIG_ID/" "$EXAMPLES/cluster3.toml" >"$CONF"
    check "dtsctl config apply (self = $RIG_ID)" "$DTSCTL" config apply "$CONF"
    check "control mesh formed (dtsctl peers --wait)" "$DTSCTL" peers --wait 120
    check "dtsctl zero" "$DTSCTL" zero
    if [ "$RIG_ID" = 2 ]; then
        check "files under /tmp/www/c, sha256 published; /tmp/www/n2/up writable" node2_setup_files
    fi
    if [ "$RIG_ID" = 1 ]; then
        nginx_start_without_proxy_port
        DTS_PROXY=$C_PROXY
        check "the C example is built ($C_PROXY)" test -x "$C_PROXY"
        check "dts-c-handover-proxy listens on 8080, hands every connection to node2" \
            c_proxy_restart "" 2
    else
        check "nginx started" nginx_start
    fi
    barrier ready "$ALL"

    # --- handovers by the C program
    barrier fetched "$ALL"
    if [ "$RIG_ID" = 2 ]; then
        while read -r p path bytes; do
            check "access log: $CLIENT_IP:$p $VIP:80 \"GET $path\" 200 $bytes (handed over by node1's C program)" \
                grep -F "$CLIENT_IP:$p $VIP:80 \"GET $path HTTP/1.1\" 200 $bytes " /tmp/nginx/access.log
        done <"$RIG_SHARED/fetches"
        read -r p sha <"$RIG_SHARED/put"
        check "access log: $CLIENT_IP:$p $VIP:80 \"PUT /n2/up/body-16k\" 201" \
            grep -F "$CLIENT_IP:$p $VIP:80 \"PUT /n2/up/body-16k HTTP/1.1\" 201 " /tmp/nginx/access.log
        check "the 16 KiB body is stored byte-exact" \
            test "$(sha256_of /tmp/www/n2/up/body-16k 2>&1)" = "$sha"
    fi
    if [ "$RIG_ID" = 1 ]; then
        while read -r p path bytes; do
            check "C program's log: $CLIENT_IP:$p $path handed over to node2" \
                c_proxy_logged /tmp/proxy.log "$p" "path=$path " "target=2 " "result=ok action=handover"
        done <"$RIG_SHARED/fetches"
        read -r p sha <"$RIG_SHARED/put"
        check "C program's log: $CLIENT_IP:$p PUT /n2/up/body-16k handed over to node2" \
            c_proxy_logged /tmp/proxy.log "$p" "path=/n2/up/body-16k " "result=ok action=handover" "method=PUT "
    fi
    check "status after the handovers" status_counters /tmp/st1 && cat /tmp/st1
    case $RIG_ID in
    1)
        v=$(counter_value handover_done /tmp/st1)
        check "node1 handed the connections over: handover_done $v >= 4" test "$v" -ge 4
        v=$(counter_value handover_failed /tmp/st1)
        check "handover_failed = 0 ($v)" test "$v" = 0
        ;;
    2)
        v=$(counter_value handover_completed /tmp/st1)
        check "node2 took them: handover_completed $v >= 4" test "$v" -ge 4
        ;;
    esac
    barrier checked "$ALL"

    # --- refused: a destination the module refuses (EINVAL)
    for bad in 9 1; do
        if [ "$RIG_ID" = 1 ]; then
            check "dts-c-handover-proxy restarted, handing every connection to node$bad" \
                c_proxy_restart "-to$bad" "$bad"
        fi
        barrier "refuse$bad" "$ALL"
        barrier "refused$bad" "$ALL"
        if [ "$RIG_ID" = 1 ]; then
            p=$(cat "$RIG_SHARED/refused$bad.port")
            check "C program's log: $CLIENT_IP:$p to node$bad refused with EINVAL, answered 502" \
                c_proxy_logged "/tmp/proxy-to$bad.log" "$p" "target=$bad " "result=EINVAL action=close" "status=502"
        fi
    done
    barrier final "$ALL"

    if [ "$RIG_ID" = 1 ]; then
        c_proxy_stop
        cat /tmp/proxy-to9.log /tmp/proxy-to1.log >>/tmp/proxy.log 2>/dev/null
    fi
    node_teardown
    ;;
client)
    log "kernel flavor: $FLAVOR"
    PORT=21000          # fixed client ports, below the ephemeral range, never reused
    : >"$RIG_SHARED/fetches"
    barrier ready "$ALL"

    # fetch NAME BYTES: GET /c/file-NAME from a port node 1 owns.
    fetch() {
        port_of 1
        _p=$PORT _path=/c/file-$1 _f=/tmp/got-$1
        : >"$_f"
        _cap=0
        case " $CAPTURED " in *" $1 "*) _cap=1; capture_start "/tmp/c-$1.pcap" ;; esac
        check "GET $_path ($2 B) from port $_p: node1's C program hands it to node2" \
            curl -sS --fail --max-time $((300 * SLOW)) --local-port "$_p" -o "$_f" \
            -w '%{http_code} %{size_download} B in %{time_total} s\n' "http://$VIP$_path"
        [ $_cap = 1 ] && capture_stop
        echo "$_p $_path $2" >>"$RIG_SHARED/fetches"
        _want=$(cat "$RIG_SHARED/sha.file-$1")
        _got=$(sha256_of "$_f" 2>/dev/null)
        if [ "$_got" = "$_want" ] && [ "$(stat -c %s "$_f")" = "$2" ]; then
            pass "file-$1: body is node2's file, byte-exact"
        else
            fail "file-$1: $(stat -c %s "$_f" 2>/dev/null) B, sha256 $_got, want node2's $2 B $_want"
        fi
        rm -f "$_f"
        [ $_cap = 1 ] || return 0
        check "capture of file-$1: SYN-ACK from node1, then only node2, no gap, no RST" \
            "$PY" "$PCAP_CHECK" "/tmp/c-$1.pcap" --client "$CLIENT_IP:$_p" --server "$VIP:80" \
            --owner-mac "$(node_mac 1)" --dest-mac "$(node_mac 2)" \
            --expect-body "$2" --expect-status 200 --expect-ts ||
            cp "/tmp/c-$1.pcap" "$RIG_OUT/"
        rm -f "/tmp/c-$1.pcap"
    }

    # put_body PORT: PUT /tmp/body-16k to /n2/up/body-16k from PORT; 201.
    put_body() {
        _code=$(curl -sS --max-time $((60 * SLOW)) --local-port "$1" -H 'Expect:' \
            -T /tmp/body-16k -o /dev/null -w '%{http_code}' "http://$VIP/n2/up/body-16k")
        echo "HTTP $_code"
        [ "$_code" = 201 ]
    }

    for s in $SIZES; do
        fetch "${s%%:*}" "${s#*:}"
    done
    # A body sent with the head (no "Expect: 100-continue"): the C program
    # reads some of it with the head, the module sends the rest after.
    head -c 16384 /dev/urandom >/tmp/body-16k
    port_of 1
    echo "$PORT $(sha256_of /tmp/body-16k)" >"$RIG_SHARED/put"
    check "PUT /n2/up/body-16k (16 KiB body with the head) from port $PORT: handed to node2, 201" \
        put_body "$PORT"
    barrier fetched "$ALL"
    barrier checked "$ALL"

    for bad in 9 1; do
        barrier "refuse$bad" "$ALL"
        port_of 1
        echo "$PORT" >"$RIG_SHARED/refused$bad.port"
        code=$(curl -sS --max-time $((60 * SLOW)) --local-port "$PORT" -o /tmp/refused.txt \
            -w '%{http_code}' "http://$VIP/c/file-1k" 2>/tmp/refused.err)
        body=$(cat /tmp/refused.txt 2>/dev/null)
        if [ "$code" = 502 ] && [ "$body" = "handover to node $bad failed: EINVAL" ]; then
            pass "handover to node$bad (port $PORT): 502, '$body'"
        else
            fail "handover to node$bad (port $PORT): HTTP $code, body '$body', want 502 'handover to node $bad failed: EINVAL' $(cat /tmp/refused.err)"
        fi
        barrier "refused$bad" "$ALL"
    done
    barrier final "$ALL"
    check "kernel log has no problem report" dmesg_clean
    ;;
*)
    fail "unknown role '$RIG_ROLE'"
    ;;
esac
! grep -q '^FAIL' "$RIG_RESULTS"
