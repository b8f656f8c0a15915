#!/bin/sh
# t13-drain: live drain (Documentation/drain.md) of the node that serves
# every connection, on 3 nodes + client.
#   nodes:  userspace-tools/dtsctl/examples/cluster3.toml (mesh on,
#           handover_to = "server": a handed-over connection lives in the
#           destination's nginx); the same files /d/f1..f8 on every node,
#           and /who, the node's name; stock nginx on port 80; dts-proxy on
#           8080 with --route /=2: every connection goes to node 2's nginx;
#   range:  D downloads of /d/big (the same bytes on every node), each from a
#           client port node 1 accepts, read at a throttled rate (curl
#           --limit-rate) so that they are under way when the drain
#           starts: node 2 has another node continue each with a Range
#           request (drain_continued >= D), the drain ends while they still
#           run, every body is byte-exact with no RST, and no node refused
#           a continuation (continuation_refused 0); the first download's
#           full capture (tests/vm/tcp_stream_check.py) has one 200 head
#           and the body once, no byte missing, and the bytes from two
#           nodes' MACs;
#   streams: K keep-alive connections from client ports node 1 accepts,
#           each a stream of requests (tests/vm/ka_stream.py: files checked
#           byte-exact, /who every fifth request, 200 ms apart, never
#           reconnecting) for about 20 s;
#   drain:  once every stream had its first response (all on node 2),
#           node 1 runs `dtsctl drain 2`: it exits 0 with node 2 serving
#           nothing, well before the streams end; node 2 counts K
#           connections moved (drain_moved) and serves none; every stream
#           completes with no error and its /who moves from node2 to
#           node 1 or 3; the client's capture has no RST from the VIP;
#   new:    while node 2 drains, a new connection from a port node 2 would
#           accept is answered (by another node, within the SYN's
#           retransmission); node 2's peers show it `draining`;
#   undrain: `dtsctl undrain 2` from node 3; a new connection from a port
#           node 2 accepts is answered by node 2 again;
#   all:    dmesg clean.
# rig-nodes: 3
. "$RIG_REPO/tests/vm/lib.sh"

ALL=$(all_vms)
EXAMPLES=$RIG_REPO/userspace-tools/dtsctl/examples
NFILES=8
K=8
D=2
if [ "$(rig_flavor)" = debug ]; then
    DURATION=40 TIMEOUT=60 BIG=4194304 RATE=128K
else
    DURATION=20 TIMEOUT=30 BIG=8388608 RATE=384K
fi

case "$RIG_ROLE" in
node)
    log "kernel flavor: $(rig_flavor)"
    sed "s/^self = 1$/self = $RIG_ID/" "$EXAMPLES/cluster3.toml" >/tmp/cluster.toml
    if [ "$(rig_flavor)" = debug ]; then
        sed -i 's/^\[mesh\]$/[mesh]\nheartbeat_ms = 500\ndead_after = 10/' /tmp/cluster.toml
    fi
    check "dtsctl apply -f (self = $RIG_ID)" "$DTSCTL" apply -f /tmp/cluster.toml
    check "control mesh formed" "$DTSCTL" peers --wait 120
    mkdir -p /tmp/www/d
    echo "node$RIG_ID" >/tmp/www/who
    if [ "$RIG_ID" = 1 ]; then
        check "$NFILES files, sha256 published" \
            "$PY" -c 'import hashlib, random, sys
d, n = sys.argv[1], int(sys.argv[2])
r = random.Random(13)
with open(d + "/d.sums", "w") as out:
    for i in range(1, n + 1):
        b = bytes(r.getrandbits(8) for _ in range(1000 + i * 9000))
        open("%s/d.f%d" % (d, i), "wb").write(b)
        out.write("%s f%d\n" % (hashlib.sha256(b).hexdigest(), i))' "$RIG_SHARED" "$NFILES"
        head -c "$BIG" /dev/urandom >"$RIG_SHARED/d.big"
        sha256_of "$RIG_SHARED/d.big" >"$RIG_SHARED/d.big.sha"
    fi
    barrier files "$ALL"
    i=1
    while [ $i -le $NFILES ]; do
        cp "$RIG_SHARED/d.f$i" "/tmp/www/d/f$i"
        i=$((i + 1))
    done
    # The same bytes and modification time everywhere: the same ETag, so
    # a continuation's If-Range holds on every node.
    cp -p "$RIG_SHARED/d.big" /tmp/www/d/big
    nginx_start_without_proxy_port
    check "dts-proxy (--route /=2) listens on 8080" \
        dts_proxy_start 8080 --listen 0.0.0.0:8080 --self-node "$RIG_ID" --nodes 1,2,3 \
        --route /=2 --local 127.0.0.1:80
    check "dtsctl zero" "$DTSCTL" zero
    barrier ready "$ALL"
    barrier streaming "$ALL"
    if [ "$RIG_ID" = 1 ]; then
        "$DTSCTL" drain 2 --timeout "$TIMEOUT" --json >/tmp/drain.json 2>/tmp/drain.err
        rc=$?
        cp /tmp/drain.json "$RIG_SHARED/drain.json"
        check "dtsctl drain 2 (from node 1): exit 0, node 2 serves nothing ($(cat /tmp/drain.json /tmp/drain.err | tr '\n' ' '))" \
            sh -c "[ $rc = 0 ] && grep -q '\"drained\":true' /tmp/drain.json"
    fi
    barrier drained "$ALL"
    if [ "$RIG_ID" = 2 ]; then
        "$DTSCTL" status --json >/tmp/st.json
        dts_counter_values /tmp/st.json serving drain_started drain_moved drain_move_failed \
            drain_continued handover_done handover_failed >/tmp/dc.txt
        log "drain counters: $(tr '\n' ' ' </tmp/dc.txt)"
        check "node 2 serves no connection" test "$(counter_value serving /tmp/dc.txt)" = 0
        check "node 2 drained once, moved $K connections or more ($(tr '\n' ' ' </tmp/dc.txt))" \
            sh -c "[ $(counter_value drain_started /tmp/dc.txt) = 1 ] && [ $(counter_value drain_moved /tmp/dc.txt) -ge $K ]"
        check "node 2 had the $D downloads under way continued elsewhere ($(tr '\n' ' ' </tmp/dc.txt))" \
            test "$(counter_value drain_continued /tmp/dc.txt)" -ge "$D"
        check "dtsctl peers on node 2: DRAINING" sh -c "'$DTSCTL' peers | grep -q DRAINING"
    elif [ "$RIG_ID" = 3 ]; then
        check "node 3 sees node 2 draining" \
            sh -c "'$DTSCTL' peers --json | grep -q '\"id\":2,[^}]*\"state\":\"draining\"'"
    fi
    "$DTSCTL" status --json >/tmp/st2.json
    dts_counter_values /tmp/st2.json continuation_refused >/tmp/cr.txt
    check "node $RIG_ID refused no continuation" test "$(counter_value continuation_refused /tmp/cr.txt)" = 0
    barrier checked "$ALL"
    # The client tried a new connection node 2 would accept.
    barrier new-tried "$ALL"
    if [ "$RIG_ID" = 3 ]; then
        check "dtsctl undrain 2 (from node 3)" "$DTSCTL" undrain 2
    fi
    barrier undrained "$ALL"
    barrier new-again "$ALL"
    nginx_collect
    node_teardown
    ;;
client)
    log "kernel flavor: $(rig_flavor)"
    barrier files "$ALL"
    PORT=27000
    PORTS=""
    n=0
    while [ $n -lt $K ]; do
        port_of 1
        PORTS="$PORTS${PORTS:+,}$PORT"
        n=$((n + 1))
    done
    barrier ready "$ALL"
    capture_start /tmp/drain.pcap
    # The downloads, throttled, started first; small receive buffers, so
    # that the server cannot send the whole file ahead into the client's.
    rmem=$(cat /proc/sys/net/ipv4/tcp_rmem)
    echo "4096 65536 131072" >/proc/sys/net/ipv4/tcp_rmem
    dpids=""
    i=1
    while [ $i -le $D ]; do
        port_of 1
        if [ $i = 1 ]; then
            # Every byte of the first download, for tcp_stream_check.py.
            BIGPORT=$PORT
            tcpdump -Z root -p -i eth0 -n -s 0 -B 16384 -U -w /tmp/big1.pcap \
                "tcp and host $CLIENT_IP and port $PORT" >/tmp/tcpdump-big.log 2>&1 &
            bigdump=$!
            n=0
            while ! grep -q 'listening on' /tmp/tcpdump-big.log && [ $n -lt 150 ]; do
                sleep 0.1
                n=$((n + 1))
            done
        fi
        curl -sS --fail --limit-rate "$RATE" --max-time $((TIMEOUT * 4)) --local-port "$PORT" \
            -o "/tmp/big-$i" -w '%{http_code} %{size_download} B in %{time_total} s\n' \
            "http://$VIP/d/big" >"/tmp/big-$i.out" 2>&1 &
        dpids="$dpids $!"
        i=$((i + 1))
    done
    # Under way: each has some of the body (and all of the head).
    n=0
    while [ $n -lt 300 ]; do
        small=0
        for i in $(seq 1 $D); do
            [ "$(stat -c %s "/tmp/big-$i" 2>/dev/null || echo 0)" -ge 262144 ] || small=1
        done
        [ $small = 0 ] && break
        sleep 0.1
        n=$((n + 1))
    done
    check "$D throttled downloads of /d/big under way" test "$small" = 0
    rm -f /tmp/started
    "$PY" "$RIG_REPO/tests/vm/ka_stream.py" --vip "$VIP" --ports "$PORTS" --files "$NFILES" \
        --sums "$RIG_SHARED/d.sums" --duration "$DURATION" --think-ms 200 \
        --started /tmp/started --out /tmp/streams.json >/tmp/streams.log 2>&1 &
    streams=$!
    n=0
    while [ ! -e /tmp/started ] && [ $n -lt 300 ]; do sleep 0.1; n=$((n + 1)); done
    check "$K keep-alive streams started (ports $PORTS, accepted by node 1)" test -e /tmp/started
    barrier streaming "$ALL"
    barrier drained "$ALL"
    running=0
    for p in $dpids; do kill -0 "$p" 2>/dev/null && running=$((running + 1)); done
    check "the drain ended while the downloads still ran ($running of $D running)" \
        test "$running" = "$D"
    barrier checked "$ALL"
    # A new connection from a port node 2 accepts while node 2 drains.
    port_of 2
    body=$(curl -sS --max-time 20 --local-port "$PORT" "http://$VIP/who" 2>&1)
    check "while node 2 drains, a new connection from port $PORT (node 2's) is served elsewhere ('$body')" \
        sh -c "[ '$body' = node1 ] || [ '$body' = node3 ]"
    barrier new-tried "$ALL"
    barrier undrained "$ALL"
    port_of 2
    body=$(curl -sS --max-time 20 --local-port "$PORT" "http://$VIP/who" 2>&1)
    check "after the undrain, a new connection from port $PORT (node 2's) is served by node 2 again ('$body')" \
        test "$body" = node2
    barrier new-again "$ALL"
    i=0
    for p in $dpids; do
        i=$((i + 1))
        wait "$p"
        rc=$?
        check "download $i: $(cat "/tmp/big-$i.out")" test "$rc" = 0
        check "download $i byte-exact, one body (the node that continued it spliced its 206 head away)" \
            test "$(sha256_of "/tmp/big-$i")" = "$(cat "$RIG_SHARED/d.big.sha")"
    done
    echo "$rmem" >/proc/sys/net/ipv4/tcp_rmem
    sleep 1
    kill "$bigdump"
    wait "$bigdump"
    check "the capture of download 1 (port $BIGPORT): one head, the body once, no byte missing, the continuation's head off the client's stream" \
        "$PY" "$RIG_REPO/tests/vm/tcp_stream_check.py" --pcap /tmp/big1.pcap \
        --server "$VIP:80" --client "$CLIENT_IP:$BIGPORT" --body "$RIG_SHARED/d.big" --max-spliced 512 --min-senders 2
    wait "$streams"
    rc=$?
    cat /tmp/streams.log
    cp /tmp/streams.json "$RIG_OUT/" 2>/dev/null
    check "every stream completed: no error, no reconnect, bodies byte-exact ($(tail -n 1 /tmp/streams.log))" \
        test "$rc" = 0
    check "every stream moved off node 2: first /who node2, last node1 or node3" \
        "$PY" -c 'import json, sys
bad = []
for r in json.load(open(sys.argv[1])):
    w = [x[1] for x in r["whos"]]
    if not w or w[0] != "node2" or w[-1] not in ("node1", "node3"):
        bad.append((r["port"], w))
print(bad or "ok")
sys.exit(1 if bad else 0)' /tmp/streams.json
    capture_stop
    tcpdump -r /tmp/drain.pcap -n 'src host '"$VIP"' and tcp[tcpflags] & tcp-rst != 0' \
        >/tmp/rst.txt 2>/dev/null
    check "no RST from the VIP in the client's capture ($(wc -l </tmp/rst.txt) found)" \
        sh -c "head -n 5 /tmp/rst.txt; [ ! -s /tmp/rst.txt ]"
    [ -s /tmp/rst.txt ] && cp /tmp/drain.pcap "$RIG_OUT/"
    check "kernel log has no problem report" dmesg_clean
    ;;
esac
