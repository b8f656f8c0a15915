#!/bin/sh
# The narrated demo run by qemu/demo.sh: the client's console shows each node's
# `dtsctl status`, fetches with sha256, the VIP ping answered by every node,
# connections to the VIP each accepted by exactly one node (the rendezvous
# hash of the client's port) and handed over by that node's dts-proxy to the
# node the request path names, a 1 MiB handover seen on the client's wire
# (which MAC sent what), the proxies' logs; then the proxies run the LARD
# placement policy of examples/cluster3-lard.toml (dts-proxy --config) and
# the client sends a Zipf-distributed workload over 20 files: a summary shows
# which node accepted each connection, the policy's decision and why, the
# node that served it, the bytes served straight from the destination nodes,
# and the failures (zero); then the counters. Not a test (no tNN- prefix),
# but it records PASS/FAIL lines like one.
. "$RIG_REPO/tests/vm/lib.sh"
ALL=$(all_vms)
ZFILES=20
ZREQS=40

say() { echo; echo "======== $* ========"; }

case "$RIG_ROLE" in
node)
    sed "s/^self = 1$/self = $RIG_ID/" "$RIG_REPO/userspace-tools/dtsctl/examples/cluster3-lard.toml" >/tmp/cluster.toml
    check "dtsctl apply -f cluster3-lard.toml" "$DTSCTL" apply -f /tmp/cluster.toml
    mkdir -p /tmp/www/z
    if [ "$RIG_ID" = 1 ]; then
        for i in $(seq 1 "$ZFILES"); do
            head -c $(( 2000 + (i * 7919) % 200000 )) /dev/urandom >"$RIG_SHARED/z.f$i"
            sha256_of "$RIG_SHARED/z.f$i" >"$RIG_SHARED/z.f$i.sha"
        done
    fi
    mkdir -p /tmp/www
    mkdir -p "/tmp/www/n$RIG_ID"
    echo "served by node$RIG_ID" >/tmp/www/whoami
    echo "served by node$RIG_ID" >"/tmp/www/n$RIG_ID/whoami"
    dd if=/dev/urandom of=/tmp/www/file-1m bs=1M count=1 2>/dev/null
    cp /tmp/www/file-1m "/tmp/www/n$RIG_ID/file-1m"
    sha256_of /tmp/www/file-1m >"$RIG_SHARED/node$RIG_ID.sha256"
    "$DTSCTL" status >"$RIG_SHARED/node$RIG_ID.status-before.txt" 2>&1
    nginx_without_proxy_port
    check "nginx started" nginx_start
    check "dts-proxy started" dts_proxy_start 8080 --listen 0.0.0.0:8080 \
        --self-node "$RIG_ID" --nodes 1,2,3 --route /n1/=1 --route /n2/=2 --route /n3/=3
    barrier ready "$ALL"
    barrier fetched "$ALL"
    cp /tmp/proxy.log "$RIG_SHARED/node$RIG_ID.proxy.log"
    dts_proxy_stop
    for i in $(seq 1 "$ZFILES"); do cp "$RIG_SHARED/z.f$i" "/tmp/www/z/f$i"; done
    check "dts-proxy --config (LARD) started" dts_proxy_start 8080 --listen 0.0.0.0:8080 \
        --config /tmp/cluster.toml --metrics 127.0.0.1:9100
    barrier lard "$ALL"
    barrier zipf "$ALL"
    cp /tmp/proxy.log "$RIG_SHARED/node$RIG_ID.lard.log"
    curl -s http://127.0.0.1:9100/metrics | grep -v '^#' | grep -v ' 0$' >"$RIG_SHARED/node$RIG_ID.metrics"
    dts_proxy_stop
    "$DTSCTL" status >"$RIG_SHARED/node$RIG_ID.status-after.txt" 2>&1
    barrier counted "$ALL"
    ;;
client)
    barrier ready "$ALL" >/dev/null
    for i in $(seq 1 "$RIG_NODES"); do
        say "node$i ($(node_ip "$i")): dtsctl status"
        cat "$RIG_SHARED/node$i.status-before.txt"
    done

    say "client $CLIENT_IP fetches a random 1 MiB file from every node"
    for i in $(seq 1 "$RIG_NODES"); do
        f=/tmp/file-1m.node$i
        t=$(curl -sS --fail --max-time 60 -o "$f" -w '%{size_download} bytes in %{time_total} s' \
            "http://$(node_ip "$i")/file-1m") || { fail "GET from node$i"; continue; }
        got=$(sha256_of "$f") want=$(cat "$RIG_SHARED/node$i.sha256")
        echo "node$i: $t"
        echo "    sha256 received  $got"
        echo "    sha256 published $want"
        [ "$got" = "$want" ] && pass "node$i sha256 matches" || fail "node$i sha256 differs"
    done

    say "ping the shared VIP $VIP: every node answers (DUP!)"
    /bin/busybox ping -c 3 -W 3 "$VIP"   # the last one exits on its first reply

    say "the nodes run the cluster configuration (node1's copy)"
    cat "$RIG_REPO/userspace-tools/dtsctl/examples/cluster3.toml" | grep -v '^#'
    say "TCP to the VIP: one node accepts, its proxy hands the connection over"
    echo "(the rendezvous hash of the client's port picks the accepting node; the"
    echo " path /nD/ names the node the proxy hands the connection to)"
    i=0
    for p in 42000 42001 42002 42003 42004 42005; do
        owner=$("$DTSCTL" owner "$CLIENT_IP:$p" --nodes 1,2,3)
        dest=$(( (owner + i % 2) % 3 + 1 ))
        i=$((i + 1))
        body=$(curl -sS --max-time 20 --local-port "$p" "http://$VIP/n$dest/whoami" 2>&1)
        echo "port $p: accepted by node$owner, GET /n$dest/whoami -> \"$body\""
        [ "$body" = "served by node$dest" ] && pass "port $p: node$owner -> node$dest" ||
            fail "port $p: $body"
    done

    p=42100
    owner=$("$DTSCTL" owner "$CLIENT_IP:$p" --nodes 1,2,3)
    dest=$((owner % 3 + 1))
    say "a 1 MiB fetch handed over from node$owner to node$dest, on the client's wire"
    tcpdump -Z root -p -i eth0 -n -e -s 128 -U -w /tmp/demo.pcap "tcp port 80 and port $p" \
        >/tmp/tcpdump.log 2>&1 &
    tp=$!
    n=0
    while ! grep -q 'listening on' /tmp/tcpdump.log && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
    curl -sS --fail --max-time 60 --local-port "$p" -o /tmp/h-1m "http://$VIP/n$dest/file-1m" ||
        fail "handover fetch"
    sleep 1
    kill "$tp"; wait "$tp" 2>/dev/null
    got=$(sha256_of /tmp/h-1m) want=$(cat "$RIG_SHARED/node$dest.sha256")
    echo "    sha256 received          $got"
    echo "    sha256 of node$dest's file $want"
    [ "$got" = "$want" ] && pass "handover 1 MiB sha256 matches" || fail "handover sha256 differs"
    echo "first segments (node MACs are 52:54:00:00:00:1<id>):"
    tcpdump -r /tmp/demo.pcap -n -e 2>/dev/null | head -12 | cut -c1-150
    echo "segments towards the client, per sender MAC:"
    tcpdump -r /tmp/demo.pcap -n -e "dst host $CLIENT_IP" 2>/dev/null |
        awk '{print $2}' | sort | uniq -c
    barrier fetched "$ALL" >/dev/null
    for i in $(seq 1 "$RIG_NODES"); do
        say "node$i: dts-proxy log"
        cat "$RIG_SHARED/node$i.proxy.log"
    done

    barrier lard "$ALL" >/dev/null
    say "a Zipf workload under the LARD policy (dts-proxy --config cluster3-lard.toml)"
    echo "$ZREQS requests over $ZFILES files (Zipf, s = 1), one connection each; the"
    echo "accepting node's proxy asks LARD which node serves the path and hands the"
    echo "connection over to it, or serves it itself"
    "$PY" -c "
import random
random.seed(7)
n = $ZFILES
w = [1.0 / k for k in range(1, n + 1)]
print('\n'.join(str(random.choices(range(1, n + 1), weights=w)[0]) for _ in range($ZREQS)))
" >/tmp/zipf.txt
    : >/tmp/zipf-requests.txt
    p=43000
    while read -r f; do
        p=$((p + 1))
        owner=$("$DTSCTL" owner "$CLIENT_IP:$p" --nodes 1,2,3)
        code=$(curl -sS --max-time 60 --local-port "$p" -o /tmp/z.body -w '%{http_code}' \
            "http://$VIP/z/f$f" 2>/dev/null)
        ok=0
        [ "$(sha256_of /tmp/z.body)" = "$(cat "$RIG_SHARED/z.f$f.sha")" ] && ok=1
        echo "$p $owner /z/f$f $code $(stat -c %s /tmp/z.body) $ok" >>/tmp/zipf-requests.txt
    done </tmp/zipf.txt
    barrier zipf "$ALL" >/dev/null
    n=0
    while [ $n -lt 50 ] && [ "$(ls "$RIG_SHARED"/node*.lard.log 2>/dev/null | wc -l)" -lt "$RIG_NODES" ]; do
        sleep 0.2; n=$((n + 1))
    done
    sleep 1
    say "summary: where each request went and why"
    if "$PY" "$RIG_REPO/tests/vm/demo_summary.py" /tmp/zipf-requests.txt \
        $(for i in $(seq 1 "$RIG_NODES"); do echo "$RIG_SHARED/node$i.lard.log"; done); then
        pass "Zipf workload: every request byte-exact"
    else
        fail "Zipf workload: failed requests"
    fi
    for i in $(seq 1 "$RIG_NODES"); do
        say "node$i: dts-proxy metrics (non-zero)"
        cat "$RIG_SHARED/node$i.metrics"
    done
    barrier counted "$ALL" >/dev/null
    for i in $(seq 1 "$RIG_NODES"); do
        say "node$i: dtsctl status after the traffic"
        cat "$RIG_SHARED/node$i.status-after.txt"
    done
    say "demo done"
    ;;
esac
exit 0
