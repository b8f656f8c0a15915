#!/bin/sh
# t14-drain-load: live drain under load (Documentation/drain.md; issue
# "Live drain", item 2), on 3 nodes + client, default kernel.
#   nodes:  as t13-drain (cluster3.toml, handover_to = "server", dts-proxy
#           --route /=2: node 2 serves every connection); /d/big, 32 MiB,
#           the same bytes and mtime on every node, and /d/f1../d/f8;
#   load:   20 clients, each on one keep-alive connection from a port node
#           1 accepts: 10 request streams (tests/vm/ka_stream.py, started
#           first), and 10 fetch /d/big then /who (curl, two URLs on one
#           connection) at 400 KB/s through small receive buffers, each
#           body through a FIFO into tests/vm/body_sink.py (its sha256 and
#           its progress: the client has no room for ten bodies);
#   netem:  phase A with 1 % loss and 25 % reordering on the client's link;
#           phase B without;
#   drain:  in each phase, once every download is under way, node 1 runs
#           `dtsctl drain 2`: exit 0 with node 2 serving nothing while
#           most downloads still run (one near its end is waited for);
#           node 2 continued (drain_continued) at least every download
#           that still ran, and no move failed;
#   end:    phase A: `dtsctl undrain 2`; phase B: node 2 powers off (its
#           script ends) while the clients go on, and its peers see it
#           down and reset no client (node_down_reset 0);
#   checks: every download and stream completes with no error, byte-exact;
#           no RST from the VIP in the client's capture; one download per
#           phase captured in full and checked byte by byte
#           (tests/vm/tcp_stream_check.py: one head, the body once, no
#           byte missing, from two nodes or more); kernel logs clean.
# rig-nodes: 3
# rig-boot: own
# rig-timeout: 900
. "$RIG_REPO/tests/vm/lib.sh"

ALL=$(all_vms)
EXAMPLES=$RIG_REPO/userspace-tools/dtsctl/examples
NFILES=8 K=10 D=10 BIG=33554432 RATE=400K DURATION=60 TIMEOUT=60

# phase_node P: node I's part of phase P (A or B).
phase_node() {
    p=$1
    barrier "ready-$p" "$ALL"
    barrier "loaded-$p" "$ALL"
    if [ "$RIG_ID" = 1 ]; then
        "$DTSCTL" drain 2 --timeout "$TIMEOUT" --json >"/tmp/drain-$p.json" 2>"/tmp/drain-$p.err"
        rc=$?
        check "phase $p: dtsctl drain 2: exit 0, node 2 serves nothing ($(cat "/tmp/drain-$p.json" "/tmp/drain-$p.err" | tr '\n' ' '))" \
            sh -c "[ $rc = 0 ] && grep -q '\"drained\":true' /tmp/drain-$p.json"
    fi
    barrier "drained-$p" "$ALL"
    if [ "$RIG_ID" = 2 ]; then
        "$DTSCTL" status --json >"/tmp/st-$p.json"
        dts_counter_values "/tmp/st-$p.json" serving drain_moved drain_move_failed \
            drain_continued continuation_refused >"/tmp/dc-$p.txt"
        log "phase $p: drain counters: $(tr '\n' ' ' <"/tmp/dc-$p.txt")"
        check "phase $p: node 2 serves nothing" test "$(counter_value serving "/tmp/dc-$p.txt")" = 0
        check "phase $p: node 2 moved every connection, none failed" \
            test "$(counter_value drain_move_failed "/tmp/dc-$p.txt")" = 0
        # How many it continued (in all: the client compares this
        # phase's with the downloads that still ran after the drain).
        counter_value drain_continued "/tmp/dc-$p.txt" >"$RIG_SHARED/continued-$p"
    fi
    barrier "checked-$p" "$ALL"
}

case "$RIG_ROLE" in
node)
    sed "s/^self = 1$/self = $RIG_ID/" "$EXAMPLES/cluster3.toml" >/tmp/cluster.toml
    check "dtsctl apply -f (self = $RIG_ID)" "$DTSCTL" apply -f /tmp/cluster.toml
    check "control mesh formed" "$DTSCTL" peers --wait 120
    mkdir -p /tmp/www/d
    echo "node$RIG_ID" >/tmp/www/who
    if [ "$RIG_ID" = 1 ]; then
        check "$NFILES files and /d/big, sha256 published" \
            "$PY" -c 'import hashlib, os, random, sys
d, n, big = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
r = random.Random(14)
with open(d + "/d.sums", "w") as out:
    for i in range(1, n + 1):
        b = bytes(r.getrandbits(8) for _ in range(1000 + i * 9000))
        open("%s/d.f%d" % (d, i), "wb").write(b)
        out.write("%s f%d\n" % (hashlib.sha256(b).hexdigest(), i))
b = os.urandom(big)
open(d + "/d.big", "wb").write(b)
open(d + "/d.big.sha", "w").write(hashlib.sha256(b).hexdigest() + "\n")' \
            "$RIG_SHARED" "$NFILES" "$BIG"
    fi
    barrier files "$ALL"
    i=1
    while [ $i -le $NFILES ]; do
        cp "$RIG_SHARED/d.f$i" "/tmp/www/d/f$i"
        i=$((i + 1))
    done
    cp -p "$RIG_SHARED/d.big" /tmp/www/d/big
    nginx_start_without_proxy_port
    check "dts-proxy (--route /=2) listens on 8080" \
        dts_proxy_start 8080 --listen 0.0.0.0:8080 --self-node "$RIG_ID" --nodes 1,2,3 \
        --route /=2 --local 127.0.0.1:80
    check "dtsctl zero" "$DTSCTL" zero
    phase_node A
    if [ "$RIG_ID" = 3 ]; then
        check "dtsctl undrain 2 (from node 3)" "$DTSCTL" undrain 2
    fi
    barrier undrained "$ALL"
    phase_node B
    if [ "$RIG_ID" = 2 ]; then
        # Drained: it powers off while the clients go on.
        cp /tmp/proxy.log "$RIG_OUT/proxy.log" 2>/dev/null
        dts_proxy_stop
        nginx_collect
        check "kernel log has no problem report" dmesg_clean
        : >"$RIG_SHARED/node2.off"
        exit 0
    fi
    barrier done "$((ALL - 1))" 600
    check "node 2 is down for node $RIG_ID" sh -c "'$DTSCTL' peers --json | grep -q '\"id\":2,[^}]*\"state\":\"down\"'"
    "$DTSCTL" status --json >/tmp/st-end.json
    dts_counter_values /tmp/st-end.json node_down_reset continuation_refused >/tmp/end.txt
    check "node $RIG_ID reset no client when node 2 went ($(tr '\n' ' ' </tmp/end.txt))" \
        sh -c "[ $(counter_value node_down_reset /tmp/end.txt) = 0 ] && [ $(counter_value continuation_refused /tmp/end.txt) = 0 ]"
    node_teardown
    ;;
client)
    barrier files "$ALL"
    PORT=28000
    rmem=$(cat /proc/sys/net/ipv4/tcp_rmem)
    echo "4096 65536 131072" >/proc/sys/net/ipv4/tcp_rmem
    # RSTs from the VIP, the whole test long.
    tcpdump -Z root -p -i eth0 -n -s 128 -U -w /tmp/rst.pcap \
        "src host $VIP and tcp[tcpflags] & tcp-rst != 0" >/tmp/tcpdump-rst.log 2>&1 &
    rstdump=$!
    for p in A B; do
        if [ $p = A ]; then
            check "netem: 1 % loss, 25 % reordering on the client's link" \
                tc qdisc add dev eth0 root netem delay 2ms reorder 25% 50% loss 1%
        fi
        # Every port first (dtsctl owner for each candidate takes long
        # under TCG), then everything starts at once.
        DPORTS="" PORTS=""
        n=0
        while [ $n -lt $D ]; do
            port_of 1
            DPORTS="$DPORTS $PORT"
            n=$((n + 1))
        done
        n=0
        while [ $n -lt $K ]; do
            port_of 1
            PORTS="$PORTS${PORTS:+,}$PORT"
            n=$((n + 1))
        done
        FULLPORT=${DPORTS# }
        FULLPORT=${FULLPORT%% *}
        tcpdump -Z root -p -i eth0 -n -s 0 -B 32768 -U -w "/tmp/full-$p.pcap" \
            "tcp and host $CLIENT_IP and port $FULLPORT" >"/tmp/tcpdump-$p.log" 2>&1 &
        fulldump=$!
        n=0
        while ! grep -q 'listening on' "/tmp/tcpdump-$p.log" && [ $n -lt 150 ]; do
            sleep 0.1
            n=$((n + 1))
        done
        barrier "ready-$p" "$ALL"
        # The streams first, then the downloads: under TCG every program
        # start costs, and the downloads must outlast the set-up and the
        # drain.
        rm -f "/tmp/started-$p"
        "$PY" "$RIG_REPO/tests/vm/ka_stream.py" --vip "$VIP" --ports "$PORTS" --files "$NFILES" \
            --sums "$RIG_SHARED/d.sums" --duration "$DURATION" --think-ms 200 \
            --started "/tmp/started-$p" --out "/tmp/streams-$p.json" >"/tmp/streams-$p.log" 2>&1 &
        streams=$!
        dpids="" spids="" progs=""
        i=1
        for dport in $DPORTS; do
            # The body goes through a FIFO into body_sink.py (its sha256
            # and its progress): ten 32 MiB bodies would not fit in the
            # client's memory.
            rm -f "/tmp/big-$p-$i" "/tmp/sum-$p-$i" "/tmp/prog-$p-$i"
            mkfifo "/tmp/big-$p-$i"
            "$PY" "$RIG_REPO/tests/vm/body_sink.py" "/tmp/big-$p-$i" \
                --sha "/tmp/sum-$p-$i" --progress "/tmp/prog-$p-$i" &
            spids="$spids $!"
            progs="$progs /tmp/prog-$p-$i"
            # --fail-early: the exit status is the download's too, not only
            # the last transfer's (/who).
            curl -sS --fail --fail-early --limit-rate "$RATE" --max-time $((TIMEOUT * 4)) --local-port "$dport" \
                -o "/tmp/big-$p-$i" -o "/tmp/who-$p-$i" \
                -w '%{http_code} %{size_download} B in %{time_total} s\n' \
                "http://$VIP/d/big" "http://$VIP/who" >"/tmp/big-$p-$i.out" 2>&1 &
            dpids="$dpids $!"
            i=$((i + 1))
        done
        # Under way: every download has received 1 MiB, for at most
        # 120 s.
        uptime_s; t0=$UPTIME_S
        while :; do
            going=$(bodies_past 1048576 $progs)
            [ "$going" -ge "$D" ] && [ -e "/tmp/started-$p" ] && break
            uptime_s; [ $((UPTIME_S - t0)) -lt 120 ] || break
            sleep 0.2
        done
        check "phase $p: $D downloads under way ($going past 1 MiB) and $K streams started" \
            sh -c "[ $going -ge $D ] && [ -e /tmp/started-$p ]"
        barrier "loaded-$p" "$ALL"
        barrier "drained-$p" "$ALL"
        # A download may end during the drain (curl's rate limit is an
        # average; one near its end is not worth a continuation and is
        # waited for): most must still run, and node 2 must have continued
        # at least those.
        running=0 first_ran=0 first=${dpids# }
        first=${first%% *}
        for pid in $dpids; do
            if kill -0 "$pid" 2>/dev/null; then
                running=$((running + 1))
                [ "$pid" = "$first" ] && first_ran=1
            fi
        done
        check "phase $p: the drain ended while most downloads ran ($running of $D running)" \
            test "$running" -ge $((D / 2))
        barrier "checked-$p" "$ALL"
        before=0
        [ $p = B ] && read before <"$RIG_SHARED/continued-A"
        read after <"$RIG_SHARED/continued-$p"
        check "phase $p: node 2 continued every download that still ran ($((after - before)) >= $running)" \
            test $((after - before)) -ge "$running"
        [ $p = A ] && barrier undrained "$ALL"
        i=0
        for pid in $dpids; do
            i=$((i + 1))
            wait "$pid"
            rc=$?
            check "phase $p: download $i: $(tr '\n' ' ' <"/tmp/big-$p-$i.out")" test "$rc" = 0
        done
        for pid in $spids; do wait "$pid"; done
        i=1
        while [ $i -le $D ]; do
            check "phase $p: download $i byte-exact" \
                test "$(cat "/tmp/sum-$p-$i")" = "$(cat "$RIG_SHARED/d.big.sha")"
            rm -f "/tmp/big-$p-$i"
            i=$((i + 1))
        done
        wait "$streams"
        rc=$?
        cat "/tmp/streams-$p.log"
        check "phase $p: every stream completed: no error, no reconnect, byte-exact ($(tail -n 1 "/tmp/streams-$p.log"))" \
            test "$rc" = 0
        sleep 1
        kill "$fulldump"
        wait "$fulldump"
        # From two nodes if it was continued (it still ran after the drain).
        senders=$((first_ran + 1))
        check "phase $p: the full capture of download 1 (port $FULLPORT): one head, the body once, no byte missing, from $senders node(s) or more" \
            "$PY" "$RIG_REPO/tests/vm/tcp_stream_check.py" --pcap "/tmp/full-$p.pcap" \
            --server "$VIP:80" --client "$CLIENT_IP:$FULLPORT" --body "$RIG_SHARED/d.big" \
            --max-spliced 1024 --min-senders "$senders" --then 1
        rm -f "/tmp/full-$p.pcap"
        if [ $p = A ]; then
            tc qdisc del dev eth0 root
        fi
    done
    echo "$rmem" >/proc/sys/net/ipv4/tcp_rmem
    check "node 2 powered off" test -e "$RIG_SHARED/node2.off"
    barrier done "$((ALL - 1))" 600
    sleep 1
    kill "$rstdump"
    wait "$rstdump"
    n=$(tcpdump -r /tmp/rst.pcap -n 2>/dev/null | wc -l)
    check "no RST from the VIP in the client's capture ($n found)" test "$n" = 0
    check "kernel log has no problem report" dmesg_clean
    ;;
esac
