#!/bin/sh
# t05-tcp-fidelity: handed-over connections with the client's TCP options,
# under loss and reordering, on 3 nodes + client.
#   nodes:  the 3-node cluster (self = own id), random 1 MiB and 32 MiB files
#           under /tmp/www/n<id>/ (sha256 published), /tmp/www/next/whoami;
#           stock nginx on port 80, dts-proxy on 8080 (/nD/ to node D,
#           /next/ to the node after self);
#   plain:  the client turns off timestamps, SACK and window scaling; a 1 MiB
#           file handed over is byte-exact and its capture (pcap_check.py)
#           shows no timestamp option anywhere, no gap, no RST (throughput
#           through a handover against a direct server is measured by
#           `make bench`, not here);
#   loss:   for 0 %, 1 % and 5 % loss, each with 25 % reordering (netem on
#           every VM's eth0, so both directions and the handover connection
#           suffer), with the client's options back on: the 1 MiB and 32 MiB
#           files handed over are byte-exact; their captures show the client's
#           SYN offering timestamps, the SYN-ACK and every server segment
#           carrying them, the server's TSval never going backwards across
#           the handover, no gap, no RST; ab (100 requests, 10 concurrent) and
#           wrk (4 connections, 5 s, keep-alive) on /next/whoami: none failed;
#           the client's and the nodes' retransmitted segments are logged
#           per loss rate (/out/retrans.txt on the client, a report);
#   wscale: node 3 raises its tcp_rmem maximum, so its SYN-ACKs announce a
#           larger window-scale shift than node 1's proxy promised: a request
#           node 1 would hand to node 3 is served by node 1 itself, its proxy
#           logged result=EPROTO action=local, node 1 counted
#           wscale_mismatch; with node 3's setting back, the next one is
#           handed over to node 3;
#   nodes:  handover_failed is only that one refusal, plus any handover
#           that timed out under loss (ETIMEDOUT in the proxy's log: tried
#           again, or served locally); flow tables drain; clean kernel logs.
# On the debug kernel: 1 MiB only, 0 % and 5 % loss, ab 20 requests, wrk 2 s.
# rig-nodes: 3
. "$RIG_REPO/tests/vm/lib.sh"

ALL=$(all_vms)
CONF=/tmp/cluster.toml
EXAMPLES=$RIG_REPO/userspace-tools/dtsctl/examples
PCAP_CHECK=$RIG_REPO/tests/vm/pcap_check.py
FLAVOR=$(rig_flavor)
if [ "$FLAVOR" = debug ]; then
    SIZES="1m:1048576" LOSSES="0 5" AB_N=20 WRK_S=2 SLOW=5
else
    SIZES="1m:1048576 32m:33554432" LOSSES="0 1 5" AB_N=100 WRK_S=5 SLOW=1
fi

# netem LOSS: LOSS % loss and 25 % reordering on eth0 (reordering needs a
# delay for the other packets: 2 ms), or none for "off".
netem() {
    if [ "$1" = off ]; then
        tc qdisc del dev eth0 root 2>/dev/null
        return 0
    fi
    tc qdisc replace dev eth0 root netem delay 2ms reorder 25% 50% loss "$1%"
}

# retrans: the host's retransmitted TCP segments so far.
retrans() {
    awk '$1 == "Tcp:" && !h { for (i = 1; i <= NF; i++) c[$i] = i; h = 1; next }
         $1 == "Tcp:" { print $c["RetransSegs"] }' /proc/net/snmp
}

case "$RIG_ROLE" in
node)
    log "kernel flavor: $FLAVOR"
    sed "s/^self = 1$/self = $RIG_ID/" "$EXAMPLES/cluster3.toml" >"$CONF"
    check "dtsctl config apply (self = $RIG_ID)" "$DTSCTL" config apply "$CONF"
    check "dtsctl zero" "$DTSCTL" zero
    d=/tmp/www/n$RIG_ID
    mkdir -p "$d" /tmp/www/next
    echo "node$RIG_ID" >/tmp/www/next/whoami
    mkdir -p /tmp/www/n3
    echo "node$RIG_ID" >/tmp/www/n3/who    # on node 3: node 3's own
    for s in $SIZES; do
        head -c "${s#*:}" /dev/urandom >"$d/file-${s%%:*}"
        sha256_of "$d/file-${s%%:*}" >"$RIG_SHARED/sha.n$RIG_ID.file-${s%%:*}"
    done
    nginx_start_without_proxy_port
    check "dts-proxy listens on 8080" \
        dts_proxy_start 8080 --listen 0.0.0.0:8080 --self-node "$RIG_ID" --nodes 1,2,3 \
        --route /n1/=1 --route /n2/=2 --route /n3/=3 --route /next/=next --local 127.0.0.1:80
    barrier ready "$ALL"
    barrier plain-done "$ALL"
    for l in $LOSSES; do
        r0=$(retrans)
        check "netem: $l % loss, 25 % reordering" netem "$l"
        barrier "loss$l" "$ALL"
        barrier "loss$l-done" "$ALL"
        netem off
        echo "node$RIG_ID loss $l%: $(( $(retrans) - r0 )) segments retransmitted" \
            >"$RIG_SHARED/retrans.$l.node$RIG_ID"
    done
    # --- window scale: node 3 announces a larger shift
    if [ "$RIG_ID" = 3 ]; then
        rmem=$(sysctl -n net.ipv4.tcp_rmem)
        check "node3: tcp_rmem maximum 64 MiB (was: $rmem)" \
            sysctl -qw net.ipv4.tcp_rmem="4096 131072 67108864"
    fi
    barrier wscale "$ALL"
    barrier wscale-done "$ALL"
    if [ "$RIG_ID" = 3 ]; then
        check "node3: tcp_rmem back to $rmem" sysctl -qw net.ipv4.tcp_rmem="$rmem"
    fi
    if [ "$RIG_ID" = 1 ]; then
        p=$(cat "$RIG_SHARED/wscale.port")
        check "proxy log: $CLIENT_IP:$p /n3/who refused (EPROTO), served locally" \
            sh -c "grep 'client=$CLIENT_IP:$p ' /tmp/proxy.log | grep 'result=EPROTO' | grep -q 'action=local'"
    fi
    barrier wscale-back "$ALL"
    barrier wscale-back-done "$ALL"
    barrier counted "$ALL"
    check "status" sh -c "'$DTSCTL' status --json >/tmp/st.json"
    v=$(json_get counters.handover_failed /tmp/st.json) w=$(json_get counters.wscale_mismatch /tmp/st.json)
    # Under 5 % loss a handover may exceed its 3 s bound (a message lost
    # twice): it fails with ETIMEDOUT, the proxy tries again (retried=...)
    # and, if every try failed, serves the request locally (the client sees
    # no error: ab and wrk count none). Those are the only other failures
    # allowed, and each must be in the proxy's log: every ETIMEDOUT of a
    # retried= list, and every last result=ETIMEDOUT.
    t=$(awk '{ for (i = 1; i <= NF; i++) {
                   if ($i ~ /^retried=/) { n = split(substr($i, 9), a, ","); for (j = 1; j <= n; j++) if (a[j] == "ETIMEDOUT") c++ }
                   if ($i == "result=ETIMEDOUT") c++ } }
             END { print c + 0 }' /tmp/proxy.log)
    if [ "$RIG_ID" = 1 ]; then
        check "node1: handover_failed = 1 + $t timed out under loss, wscale_mismatch = 1 ($v, $w)" \
            test "$v/$w" = "$((1 + t))/1"
    else
        check "handover_failed = $t timed out under loss, wscale_mismatch = 0 ($v, $w)" \
            test "$v/$w" = "$t/0"
    fi
    log "handover_done $(json_get counters.handover_done /tmp/st.json)"
    node_teardown
    ;;
client)
    log "kernel flavor: $FLAVOR"
    PORT=23000
    # fetch NAME BYTES D PCAP_ARG...: GET /nD/file-NAME from a new port
    # under capture (D: the owner's next node if the owner is D); byte-exact
    # with node D's file; pcap_check.py with PCAP_ARG... too.
    fetch() {
        name=$1 bytes=$2
        shift 2
        PORT=$((PORT + 1))
        o=$("$DTSCTL" owner "$CLIENT_IP:$PORT" --nodes 1,2,3) || { fail "dtsctl owner"; return 1; }
        d=$1
        shift
        [ "$d" = "$o" ] && d=$(( o % 3 + 1 ))
        set -- "$name" "$bytes" "$d" "$@"
        f=/tmp/got-$1
        : >"$f"
        capture_start "/tmp/c-$1.pcap"
        check "GET /n$d/file-$1 from port $PORT (owner node$o, handed to node$d)" \
            curl -sS --fail --max-time $((600 * SLOW)) --local-port "$PORT" -o "$f" \
            -w '%{http_code} %{size_download} B in %{time_total} s\n' "http://$VIP/n$d/file-$1"
        capture_stop
        want=$(cat "$RIG_SHARED/sha.n$d.file-$1")
        if [ "$(sha256_of "$f")" = "$want" ] && [ "$(stat -c %s "$f")" = "$2" ]; then
            pass "file-$1 from node$d: byte-exact ($2 B)"
        else
            fail "file-$1 from node$d: $(stat -c %s "$f") B, sha256 $(sha256_of "$f"), want $want"
        fi
        rm -f "$f"
        shift 3
        if ! check "capture of file-$name: owner node$o, then node$d, $*, no gap, no RST" \
            "$PY" "$PCAP_CHECK" "/tmp/c-$name.pcap" --client "$CLIENT_IP:$PORT" --server "$VIP:80" \
            --owner-mac "$(node_mac "$o")" --dest-mac "$(node_mac "$d")" \
            --expect-body "$bytes" --expect-status 200 "$@"; then
            cp "/tmp/c-$name.pcap" "$RIG_OUT/"
        fi
        rm -f "/tmp/c-$name.pcap"
    }

    barrier ready "$ALL"
    # --- a client without timestamps, SACK or window scaling
    for k in tcp_timestamps tcp_sack tcp_window_scaling; do
        sysctl -qw "net.ipv4.$k=0"
    done
    fetch 1m 1048576 2 --expect-no-ts
    for k in tcp_timestamps tcp_sack tcp_window_scaling; do
        sysctl -qw "net.ipv4.$k=1"
    done

    barrier plain-done "$ALL"

    # --- loss and reordering
    : >"$RIG_OUT/retrans.txt"
    for l in $LOSSES; do
        r0=$(retrans)
        check "netem: $l % loss, 25 % reordering" netem "$l"
        barrier "loss$l" "$ALL"
        dest=1
        for s in $SIZES; do
            dest=$(( dest % 3 + 1 ))
            fetch "${s%%:*}" "${s#*:}" "$dest" --expect-ts --reordered
        done
        ab -q -s $((60 * SLOW)) -n "$AB_N" -c 10 "http://$VIP/next/whoami" >/tmp/ab.txt 2>&1
        check "ab at $l % loss: $AB_N requests, 10 concurrent, all complete, none failed" \
            sh -c "cat /tmp/ab.txt; grep -q '^Complete requests: *$AB_N\$' /tmp/ab.txt &&
                grep -q '^Failed requests: *0\$' /tmp/ab.txt && ! grep -q '^Non-2xx' /tmp/ab.txt"
        wrk -c 4 -t 2 -d "${WRK_S}s" --timeout 30s "http://$VIP/next/whoami" >/tmp/wrk.txt 2>&1
        check "wrk at $l % loss: 4 connections, ${WRK_S} s: requests done, no errors" \
            sh -c "cat /tmp/wrk.txt; grep -Eq '^ +[1-9][0-9]* requests in' /tmp/wrk.txt &&
                ! grep -Eq 'Socket errors|Non-2xx' /tmp/wrk.txt"
        netem off
        echo "client loss $l%: $(( $(retrans) - r0 )) segments retransmitted" >>"$RIG_OUT/retrans.txt"
        barrier "loss$l-done" "$ALL"
    done
    # --- window scale (see the node side): from a port node 1 owns
    barrier wscale "$ALL"
    port_of 1
    echo "$PORT" >"$RIG_SHARED/wscale.port"
    body=$(curl -sS --max-time $((60 * SLOW)) --local-port "$PORT" "http://$VIP/n3/who" 2>&1)
    check "node3 announces another window scale: /n3/who from port $PORT served by node1 ('$body')" \
        test "$body" = node1
    barrier wscale-done "$ALL"
    barrier wscale-back "$ALL"
    port_of 1
    body=$(curl -sS --max-time $((60 * SLOW)) --local-port "$PORT" "http://$VIP/n3/who" 2>&1)
    check "node3's setting back: /n3/who from port $PORT handed over to node3 ('$body')" \
        test "$body" = node3
    barrier wscale-back-done "$ALL"
    barrier counted "$ALL"
    cat "$RIG_SHARED"/retrans.* >>"$RIG_OUT/retrans.txt" 2>/dev/null
    log "retransmissions: $(tr '\n' ';' <"$RIG_OUT/retrans.txt")"
    check "kernel log has no problem report" dmesg_clean
    ;;
esac
