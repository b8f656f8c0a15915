#!/bin/sh
# t06-keepalive: keep-alive re-handover. One HTTP/1.1 connection carries many
# requests, each handed over to the node that serves it, back and forth
# between 3 nodes (A -> B -> A -> C -> A -> B ...), on 3 nodes + client.
#   nodes:  the cluster of userspace-tools/dtsctl/examples/cluster3-keepalive.toml
#           (handover_to = "proxy": a handed-over connection goes to the
#           destination's proxy port; self = own id); N random files of
#           different sizes under /tmp/www/n<id>/ (sha256 published); stock
#           nginx on port 80; dts-proxy --keepalive on 8080 routing /nD/ to
#           node D;
#   ts:     from a client port node 1 owns, one curl fetches N files over one
#           connection, request i from node A=1, B=2, A, C=3, A, B, ...: curl
#           connected once; every body is byte-exact with the serving node's
#           file, in order; the capture (pcap_check.py --senders) shows one
#           connection, the server's data from exactly that sequence of nodes
#           (N runs), the client's timestamps offered and the server's TSval
#           never going backwards across all the handovers, no gap, no RST;
#   plain:  the same with a client without timestamps, SACK and window
#           scaling (M requests; no timestamp option anywhere);
#   nodes:  over both runs the nodes handed over N-1 + M-1 times, all but
#           the first of each run from a connection handed in (rehandover),
#           none failed; close notifications (CLOSED) free what each node
#           kept: a node that hands a handed-in connection on tells the node
#           it had it from, the last node tells the one before it (per node:
#           sent/received/freed); flow tables
#           drain; clean kernel logs.
# On the debug kernel: N=12, M=6, and no capture (the wire checks run on the
# default kernel; python on a KASAN kernel under TCG is slow).
# rig-nodes: 3
. "$RIG_REPO/tests/vm/lib.sh"

ALL=$(all_vms)
CONF=/tmp/cluster.toml
EXAMPLES=$RIG_REPO/userspace-tools/dtsctl/examples
PCAP_CHECK=$RIG_REPO/tests/vm/pcap_check.py
if [ "$(rig_flavor)" = debug ]; then
    N=12 M=6 SLOW=5 CAPTURE=0
else
    N=50 M=12 SLOW=1 CAPTURE=1
fi

# node_of(I), the node that serves request I (1-based): A B A C A B A C ...,
# i.e. I mod 4 = 1 or 3: node 1, 2: node 2, 0: node 3.
node_of() { case $(($1 % 4)) in 1 | 3) echo 1 ;; 2) echo 2 ;; 0) echo 3 ;; esac; }

case "$RIG_ROLE" in
node)
    log "kernel flavor: $(rig_flavor)"
    sed "s/^self = 1$/self = $RIG_ID/" "$EXAMPLES/cluster3-keepalive.toml" >"$CONF"
    if [ "$(rig_flavor)" = debug ]; then
        # The debug kernel under TCG can stall a VM for seconds: a longer
        # dead time (5 s) keeps the mesh from declaring a busy node down.
        # (The example's [mesh] table holds the rig's secret.)
        sed -i 's/^\[mesh\]$/[mesh]\nheartbeat_ms = 500\ndead_after = 10/' "$CONF"
    fi
    check "dtsctl config apply (self = $RIG_ID, handover_to = proxy)" "$DTSCTL" config apply "$CONF"
    check "control mesh formed (dtsctl peers --wait)" "$DTSCTL" peers --wait 120
    check "dtsctl config show: handover_to = \"proxy\"" \
        sh -c "'$DTSCTL' config show | grep -qx 'handover_to = \"proxy\"'"
    check "dtsctl zero" "$DTSCTL" zero
    d=/tmp/www/n$RIG_ID
    mkdir -p "$d"
    # f1..fN, random, sizes from 1 B to about 300 KB, different for every
    # request; their sha256 in one file for the client ("SHA256 fI" lines).
    # One program for all N files: under TCG every exec costs (the debug
    # kernel's more so).
    check "$N random files under $d, sha256 published" \
        "$PY" -c 'import hashlib, os, sys
d, n = sys.argv[1], int(sys.argv[2])
with open(sys.argv[3], "w") as out:
    for i in range(1, n + 1):
        b = os.urandom(1 + (i * 37813) % 300000)
        with open("%s/f%d" % (d, i), "wb") as f:
            f.write(b)
        out.write("%s f%d\n" % (hashlib.sha256(b).hexdigest(), i))' "$d" "$N" "$RIG_SHARED/ka.n$RIG_ID.sums"
    nginx_start_without_proxy_port
    check "dts-proxy --keepalive listens on 8080" \
        dts_proxy_start 8080 --listen 0.0.0.0:8080 --self-node "$RIG_ID" --nodes 1,2,3 \
        --route /n1/=1 --route /n2/=2 --route /n3/=3 --local 127.0.0.1:80 --keepalive
    barrier ready "$ALL"
    barrier fetched "$ALL"
    # The flow table as the module lists it (DTS_SO_GET_FLOWS walks it a
    # bucket at a time under RCU and copies out between buckets: on the
    # debug kernel, a copy inside the read-side section would be reported).
    check "dtsctl show flows" sh -c "'$DTSCTL' show flows | tail -n 4"
    check "status" sh -c "'$DTSCTL' status --json >/tmp/st.json"
    # One python run for all counters (a python start costs seconds on the
    # debug kernel under TCG).
    ka_counters() {
        dts_counter_values /tmp/st.json handover_done handover_failed rehandover \
            handover_accepted mesh_closed_sent mesh_closed_received mesh_closed_freed >/tmp/kc.txt
    }
    check "counters read" ka_counters
    while read -r name value; do
        echo "$value" >"$RIG_SHARED/ka.$name.node$RIG_ID"
    done </tmp/kc.txt
    log "handover_done $(cat "$RIG_SHARED/ka.handover_done.node$RIG_ID")," \
        "rehandover $(cat "$RIG_SHARED/ka.rehandover.node$RIG_ID")," \
        "mesh_closed_sent $(cat "$RIG_SHARED/ka.mesh_closed_sent.node$RIG_ID")," \
        "mesh_closed_received $(cat "$RIG_SHARED/ka.mesh_closed_received.node$RIG_ID")," \
        "mesh_closed_freed $(cat "$RIG_SHARED/ka.mesh_closed_freed.node$RIG_ID")"
    # Why handovers failed, for the client to print if they did: the
    # kernel's counters of each cause, and the proxy's failed attempts.
    {
        dts_counter_values /tmp/st.json handover_stale handover_refused \
            handover_host_down handover_late_done mesh_node_down \
            mesh_down_retracted mesh_tx_dropped mesh_connected | tr '\n' ' '
        echo
        grep 'result=' /tmp/proxy.log | grep -v 'result=ok' | head -n 8
    } >"$RIG_SHARED/ka.why.node$RIG_ID" 2>&1
    barrier counted "$ALL"
    node_teardown
    ;;
client)
    log "kernel flavor: $(rig_flavor)"
    PORT=27000
    # run NAME COUNT PCAP_ARG...: one curl, COUNT requests on one connection
    # from a port node 1 owns, under capture.
    run() {
        name=$1 count=$2
        shift 2
        port_of 1
        urls="" senders=""
        rm -rf "/tmp/ka-$name"; mkdir -p "/tmp/ka-$name"
        i=1
        while [ $i -le "$count" ]; do
            # node_of and node_mac without a subshell each (a fork per
            # request costs on the debug kernel).
            case $(( i % 4 )) in 1|3) k=1 ;; 2) k=2 ;; *) k=3 ;; esac
            : >"/tmp/ka-$name/f$i"
            urls="$urls http://$VIP/n$k/f$i -o /tmp/ka-$name/f$i"
            senders="$senders${senders:+,}52:54:00:00:00:$((10 + k))"
            i=$((i + 1))
        done
        if [ "$CAPTURE" = 1 ]; then capture_start "/tmp/ka-$name.pcap"; fi
        # shellcheck disable=SC2086
        check "curl: $count requests on one connection from port $PORT (owner node1)" \
            sh -c "curl -sS --fail --http1.1 --max-time $((600 * SLOW)) --local-port $PORT \
                -w '%{num_connects} %{http_code} %{size_download}\n' $urls >/tmp/ka-$name.w"
        if [ "$CAPTURE" = 1 ]; then capture_stop; fi
        check "curl connected once: $(awk '$1 > 0' "/tmp/ka-$name.w" | wc -l) connect(s), $count responses" \
            sh -c "[ \$(awk '\$1 > 0' /tmp/ka-$name.w | wc -l) = 1 ] &&
                [ \$(awk '\$2 == 200' /tmp/ka-$name.w | wc -l) = $count ]"
        # Request i's body against node_of(i)'s fI: one sha256sum and one awk
        # for all of them (an exec per file costs seconds on the debug kernel).
        (cd "/tmp/ka-$name" && sha256sum f*) >"/tmp/ka-$name.got"
        bad=$(awk -v count="$count" '
            FILENAME != "-" && FNR == 1 { k = substr(FILENAME, length(FILENAME) - 5, 1) }
            FILENAME != "-" { want[k, $2] = $1; next }
            { got[$2] = $1 }
            END {
                bad = 0
                for (i = 1; i <= count; i++) {
                    m = i % 4; k = (m == 1 || m == 3) ? 1 : (m == 2 ? 2 : 3)
                    if (!(("f" i) in got) || got["f" i] != want[k, "f" i]) {
                        bad++
                        printf "request %d (/n%d/f%d): not node%d'"'"'s file\n", i, k, i, k > "/dev/stderr"
                    }
                }
                print bad
            }' "$RIG_SHARED/ka.n1.sums" "$RIG_SHARED/ka.n2.sums" "$RIG_SHARED/ka.n3.sums" - \
            <"/tmp/ka-$name.got" 2>>"$RIG_OUT/log.txt")
        check "$name: all $count bodies byte-exact, each from its node, in order ($bad wrong)" \
            test "$bad" = 0
        [ "$CAPTURE" = 1 ] || return 0
        if ! check "capture ($name): one connection, data from node1,2,1,3,... ($count runs), no gap, no RST" \
            "$PY" "$PCAP_CHECK" "/tmp/ka-$name.pcap" --client "$CLIENT_IP:$PORT" --server "$VIP:80" \
            --owner-mac "$(node_mac 1)" --senders "$senders" "$@"; then
            cp "/tmp/ka-$name.pcap" "$RIG_OUT/"
        fi
        rm -rf "/tmp/ka-$name" "/tmp/ka-$name.pcap"
    }

    barrier ready "$ALL"
    run ts "$N" --expect-ts
    for k in tcp_timestamps tcp_sack tcp_window_scaling; do
        sysctl -qw "net.ipv4.$k=0"
    done
    run plain "$M" --expect-no-ts
    for k in tcp_timestamps tcp_sack tcp_window_scaling; do
        sysctl -qw "net.ipv4.$k=1"
    done
    barrier fetched "$ALL"
    barrier counted "$ALL"
    sum() { cat "$RIG_SHARED"/ka."$1".node* | awk '{ s += $1 } END { print s + 0 }'; }
    if ! check "handovers: $(sum handover_done) done (want $((N + M - 2))), $(sum handover_failed) failed" \
        test "$(sum handover_done)/$(sum handover_failed)" = "$((N + M - 2))/0"; then
        why=1
    fi
    check "re-handovers of handed-in connections: $(sum rehandover) (want $((N + M - 4)))" \
        test "$(sum rehandover)" = "$((N + M - 4))"
    check "handovers accepted: $(sum handover_accepted) (want $((N + M - 2)))" \
        test "$(sum handover_accepted)" = "$((N + M - 2))"
    # Close notifications. A node that hands over again a connection it was
    # handed (request i, i >= 2, at node_of(i)) tells the node it had it
    # from (node_of(i-1)) that it is off the path (CLOSED, freed there) and
    # reports the connection's end no further, unless the connection goes
    # back to that very node (node_of(i+1) = node_of(i-1)), whose takeover
    # replaced its entry. At the end, the last node Z (node_of(count), never
    # node 1) sends CLOSED to the node that handed it over last (node 1),
    # which frees its entry and, having told its own origin already, passes
    # nothing on. expected_closed computes sent/received/freed per node.
    expected_closed() {
        s1=0 r1=0 f1=0 s2=0 r2=0 f2=0 s3=0 r3=0 f3=0
        for count in "$@"; do
            i=2
            while [ "$i" -lt "$count" ]; do
                a=$(node_of $((i - 1))) b=$(node_of "$i") c=$(node_of $((i + 1)))
                if [ "$a" != "$c" ]; then
                    eval "s$b=\$((s$b + 1)) r$a=\$((r$a + 1)) f$a=\$((f$a + 1))"
                fi
                i=$((i + 1))
            done
            z=$(node_of "$count") y=$(node_of $((count - 1)))
            eval "s$z=\$((s$z + 1)) r$y=\$((r$y + 1)) f$y=\$((f$y + 1))"
        done
        echo "$s1/$r1/$f1 $s2/$r2/$f2 $s3/$r3/$f3"
    }
    want=$(expected_closed "$N" "$M")
    closed=""
    for k in 1 2 3; do
        c=""
        for w in sent received freed; do
            c="$c${c:+/}$(cat "$RIG_SHARED/ka.mesh_closed_$w.node$k")"
        done
        closed="$closed${closed:+ }$c"
    done
    check "close notifications sent/received/freed per node: $closed (want $want)" \
        test "$closed" = "$want"
    check "kernel log has no problem report" dmesg_clean
    # Last, so that it is in the console's tail the harness shows.
    if [ -n "${why:-}" ]; then
        for k in 1 2 3; do
            sed "s/^/why node$k: /" "$RIG_SHARED/ka.why.node$k" | while IFS= read -r l; do log "$l"; done
        done
    fi
    ;;
esac
