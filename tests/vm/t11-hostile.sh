#!/bin/sh
# t11-hostile: bad input at a live cluster, on 3 nodes + client
# (Documentation/security.md; issue "Hardening").
#   nodes:  the 3-node cluster (`[mesh] dead_after = 10`) with `[limits] max_flows = 512,
#           syn_timeout = 5, closed_timeout = 3`; stock nginx on port 80
#           (with PUT under /nD/up/), dts-proxy on 8080 (/nD/ to node D);
#   userns: on node 1, as an unprivileged user in a new user and network
#           namespace (`unshare -Urn`), and as root in a new network
#           namespace, every dtsctl command that reaches the module (status,
#           config apply, flush, show flows) fails with "permission denied",
#           sockopt_denied counts each, and the configuration in force is
#           unchanged;
#   flood:  the client sends spoofed SYNs from random addresses of
#           198.18.0.0/15 at the VIP as fast as it can (thousands per second)
#           while it fetches files handed over between the nodes (each a new
#           connection whose handshake is under way while the full table
#           drops entries early; every node holds every node's 1 MiB file,
#           so that a request the proxy serves itself, because the flood
#           starved the mesh and its destination was taken for down
#           (EHOSTDOWN), gets the same bytes): every fetch is byte-exact, no node's table ever holds more than max_flows
#           entries, every node counts flow_early_drop, handovers go on
#           succeeding, and the unassured entries are gone within
#           syn_timeout plus the collector's pass after the flood;
#   blind:  during a rate-limited download handed over to another node, the
#           client sends 30 RSTs and 30 ACKs with forged timestamps on the
#           download's own 4-tuple with random (out-of-window) sequence
#           numbers while the download runs: it completes byte-exact, and
#           the destination counted every one as out_of_window (none of
#           them closed its flow or taught it a window or timestamp);
#   frag:   a SYN split into two IPv4 fragments gets no answer and every node
#           counts fragment_drop; a client whose route to the VIP has an MTU
#           of 576 (so its TCP segments are small, with DF, not fragments)
#           still fetches a handed-over file byte-exact;
#   body:   the proxies read requests of up to 256 KiB; a PUT with a 16 KiB
#           body to /nD/up/ is handed over with the body and stored
#           byte-exact on node D; a PUT with a 200 KiB body (more than one
#           HANDOVER carries, 65,415 bytes) is refused by the module with
#           EMSGSIZE and served by the accepting node's own server, also
#           byte-exact (no allocation warning in the kernel log);
#   all:    guest kernel logs clean (the rig checks them).
# On the debug kernel: an 8 s flood, an 8 MiB blind-phase download at
# 512 KB/s (some 16 s: the blind segments take about 9 s to send there).
# rig-nodes: 3
. "$RIG_REPO/tests/vm/lib.sh"

ALL=$(all_vms)
CONF=/tmp/cluster.toml
EXAMPLES=$RIG_REPO/userspace-tools/dtsctl/examples
HOSTILE=$RIG_REPO/tests/vm/hostile.py
FLAVOR=$(rig_flavor)
MAX_FLOWS=512
if [ "$FLAVOR" = debug ]; then
    FLOOD_S=8 BIG=8388608 RATE=512K SLOW=5
else
    FLOOD_S=15 BIG=33554432 RATE=2M SLOW=1
fi

count() { json_get "counters.$1" "$2"; }

# denied CMD...: CMD fails with exit 1 and a permission-denied message.
denied() {
    "$@" >/tmp/denied.out 2>&1
    rc=$?
    cat /tmp/denied.out
    [ "$rc" = 1 ] && grep -qi "permission denied" /tmp/denied.out
}

case "$RIG_ROLE" in
node)
    log "kernel flavor: $FLAVOR"
    # A dead time of 5 s (10 heartbeats): on this rig the flood can starve
    # a node's heartbeats for more than the default 1.5 s, and a peer that
    # takes a live node for dead resets the clients it handed over to it.
    sed "s/^self = 1$/self = $RIG_ID\n\n[limits]\nmax_flows = $MAX_FLOWS\nsyn_timeout = 5\nclosed_timeout = 3\n/; s/^\[mesh\]$/[mesh]\ndead_after = 10/" \
        "$EXAMPLES/cluster3.toml" >"$CONF"
    check "dtsctl config apply (self = $RIG_ID, max_flows $MAX_FLOWS)" "$DTSCTL" config apply "$CONF"
    check "dtsctl zero" "$DTSCTL" zero
    d=/tmp/www/n$RIG_ID
    mkdir -p "$d"
    head -c 1048576 /dev/urandom >"$d/file-1m"
    head -c "$BIG" /dev/urandom >"$d/file-big"
    sha256_of "$d/file-1m" >"$RIG_SHARED/sha.n$RIG_ID.file-1m"
    cp "$d/file-1m" "$RIG_SHARED/file-1m.n$RIG_ID"
    sha256_of "$d/file-big" >"$RIG_SHARED/sha.n$RIG_ID.file-big"
    # nginx (user nobody) stores the uploads of every /nD/up/ here.
    for i in 1 2 3; do mkdir -p "/tmp/www/n$i/up" && chmod 777 "/tmp/www/n$i/up"; done
    nginx_start_without_proxy_port
    check "dts-proxy listens on 8080" \
        dts_proxy_start 8080 --listen 0.0.0.0:8080 --self-node "$RIG_ID" --nodes 1,2,3 \
        --route /n1/=1 --route /n2/=2 --route /n3/=3 --local 127.0.0.1:80 \
        --max-request 262144
    check "mesh up" "$DTSCTL" peers --wait 30

    # --- userns: only the host's admin reaches the module
    if [ "$RIG_ID" = 1 ]; then
        "$DTSCTL" config show >/tmp/before.toml
        "$DTSCTL" status --json >/tmp/u0.json
        NOBODY="setpriv --reuid=65534 --regid=65534 --clear-groups"
        for c in "status" "config apply $CONF" "flush" "show flows"; do
            # shellcheck disable=SC2086
            check "unprivileged user namespace: dtsctl $c: permission denied" \
                denied $NOBODY unshare -Urn "$DTSCTL" $c
            # shellcheck disable=SC2086
            check "root in a new network namespace: dtsctl $c: permission denied" \
                denied unshare -n "$DTSCTL" $c
        done
        "$DTSCTL" status --json >/tmp/u1.json
        n=$(( $(count sockopt_denied /tmp/u1.json) - $(count sockopt_denied /tmp/u0.json) ))
        check "sockopt_denied counted the 8 refused commands ($n)" test "$n" -ge 8
        check "configuration unchanged" sh -c "'$DTSCTL' config show | cmp - /tmp/before.toml"
    fi
    # Every node's 1 MiB file on every node: a fetch the proxy serves
    # itself during the flood (its destination taken for down for a moment,
    # EHOSTDOWN) is still byte-exact.
    barrier files "$ALL"
    for i in 1 2 3; do
        [ "$i" = "$RIG_ID" ] || cp "$RIG_SHARED/file-1m.n$i" "/tmp/www/n$i/file-1m"
    done
    barrier ready "$ALL"

    # --- flood
    "$DTSCTL" status --json >/tmp/f0.json
    barrier flood "$ALL"
    peak=0
    while [ ! -e "$RIG_SHARED/flood-done" ]; do
        n=$("$DTSCTL" status --json | json_get counters.flows_active)
        [ "$n" -gt "$peak" ] && peak=$n
        sleep 0.5
    done
    "$DTSCTL" status --json >/tmp/f1.json
    check "flow table bounded during the flood: peak $peak <= $MAX_FLOWS" test "$peak" -le "$MAX_FLOWS"
    e=$(( $(count flow_early_drop /tmp/f1.json) - $(count flow_early_drop /tmp/f0.json) ))
    check "flow_early_drop rose during the flood ($e)" test "$e" -gt 0
    log "flood: $(( $(count flow_table_full /tmp/f1.json) - $(count flow_table_full /tmp/f0.json) )) SYNs refused (table full, nothing to drop), syn_accepted +$(( $(count syn_accepted /tmp/f1.json) - $(count syn_accepted /tmp/f0.json) )), entries picked up again (flow_pickup) +$(( $(count flow_pickup /tmp/f1.json) - $(count flow_pickup /tmp/f0.json) )), segments that met their entry as it was removed (flow_gone_drop) +$(( $(count flow_gone_drop /tmp/f1.json) - $(count flow_gone_drop /tmp/f0.json) ))"
    h=$(( $(count handover_done /tmp/f1.json) - $(count handover_done /tmp/f0.json) ))
    log "handovers done by node$RIG_ID during the flood: $h"
    echo "$h" >"$RIG_SHARED/flood-handovers.n$RIG_ID"
    # Unassured entries live syn_timeout (5 s); the collector passes every second.
    check "unassured entries gone after the flood" sh -c "
        for i in \$(seq 1 $((30 * SLOW))); do
            u=\$('$DTSCTL' status --json | $JQ -r .counters.flows_unassured)
            echo \"flows_unassured \$u\"
            [ \"\$u\" = 0 ] && exit 0
            sleep 1
        done
        exit 1"
    barrier flood-checked "$ALL"

    # --- blind RSTs and forged timestamps
    "$DTSCTL" status --json >/tmp/b0.json
    barrier blind "$ALL"
    barrier blind-rst "$ALL"
    log "after the blind RSTs: out_of_window $("$DTSCTL" status --json | json_get counters.out_of_window); flows: $("$DTSCTL" show flows | grep -F "$CLIENT_IP" | tr -s ' ' | tr '\n' ';')"
    barrier blind-done "$ALL"
    "$DTSCTL" status --json >/tmp/b1.json
    o=$(( $(count out_of_window /tmp/b1.json) - $(count out_of_window /tmp/b0.json) ))
    log "out_of_window +$o"
    if [ "$RIG_ID" = "$(cat "$RIG_SHARED/blind.dest")" ]; then
        check "destination counted the 60 blind segments as out_of_window ($o)" test "$o" -ge 60
    fi

    # --- fragments
    "$DTSCTL" status --json >/tmp/g0.json
    barrier frag "$ALL"
    barrier frag-done "$ALL"
    "$DTSCTL" status --json >/tmp/g1.json
    g=$(( $(count fragment_drop /tmp/g1.json) - $(count fragment_drop /tmp/g0.json) ))
    check "fragment_drop counted both fragments ($g)" test "$g" -ge 2

    # --- large bodies: each node reports what it stored
    barrier body-done "$ALL"
    for f in /tmp/www/n*/up/*; do
        [ -f "$f" ] && echo "$f $(sha256_of "$f")" >>"$RIG_SHARED/stored.n$RIG_ID"
    done
    barrier body-reported "$ALL"
    if [ "$RIG_ID" = "$(cat "$RIG_SHARED/body.owner")" ]; then
        check "proxy log: the 200 KiB body refused by the module (EMSGSIZE), served locally" \
            sh -c "grep 'result=EMSGSIZE' /tmp/proxy.log | grep -q 'action=local'"
    fi
    node_teardown
    ;;
client)
    log "kernel flavor: $FLAVOR"
    PORT=24000
    # owner PORT: the node that accepts CLIENT_IP:PORT; dest O: another one.
    owner() { "$DTSCTL" owner "$CLIENT_IP:$1" --nodes 1,2,3; }
    other() { echo $(( $1 % 3 + 1 )); }
    # fetch NAME D [CURL_ARGS...]: GET /nD/file-NAME from a new port,
    # byte-exact with node D's file.
    fetch() {
        name=$1 d=$2
        shift 2
        PORT=$((PORT + 1))
        f=/tmp/got-$name
        check "GET /n$d/file-$name from port $PORT (owner node$(owner $PORT))" \
            curl -sS --fail --max-time $((120 * SLOW)) --local-port "$PORT" -o "$f" "$@" \
            -w '%{http_code} %{size_download} B in %{time_total} s\n' "http://$VIP/n$d/file-$name"
        want=$(cat "$RIG_SHARED/sha.n$d.file-$name")
        check "file-$name from node$d byte-exact" test "$(sha256_of "$f")" = "$want"
        rm -f "$f"
    }
    barrier files "$ALL"
    barrier ready "$ALL"

    # --- flood
    barrier flood "$ALL"
    "$PY" "$HOSTILE" flood --dst "$VIP:80" --seconds "$FLOOD_S" >/tmp/flood.out 2>&1 &
    fpid=$!
    sleep 1
    i=0
    while kill -0 "$fpid" 2>/dev/null && [ "$i" -lt 6 ]; do
        i=$((i + 1))
        o=$(owner $((PORT + 1)))
        fetch 1m "$(other "$o")"
    done
    wait "$fpid"
    check "flood sent: $(cat /tmp/flood.out)" grep -q '^sent [1-9]' /tmp/flood.out
    check "fetches ran during the flood ($i)" test "$i" -ge 1
    : >"$RIG_SHARED/flood-done"
    barrier flood-checked "$ALL"
    h=$(cat "$RIG_SHARED"/flood-handovers.n* | awk '{ s += $1 } END { print s + 0 }')
    check "handovers succeeded during the flood ($h)" test "$h" -ge 1

    # --- blind RSTs and forged timestamps on a live handed-over download
    barrier blind "$ALL"
    PORT=$((PORT + 1))
    o=$(owner $PORT)
    d=$(other "$o")
    echo "$d" >"$RIG_SHARED/blind.dest"
    curl -sS --fail --max-time $((300 * SLOW)) --limit-rate "$RATE" --local-port "$PORT" \
        -o /tmp/got-big "http://$VIP/n$d/file-big" >/tmp/big.out 2>&1 &
    cpid=$!
    sleep 2
    check "30 blind RSTs on $CLIENT_IP:$PORT" "$PY" "$HOSTILE" blind --src "$CLIENT_IP:$PORT" \
        --dst "$VIP:80" --count 30 --kind rst
    barrier blind-rst "$ALL"
    check "30 forged timestamps on $CLIENT_IP:$PORT" "$PY" "$HOSTILE" blind --src "$CLIENT_IP:$PORT" \
        --dst "$VIP:80" --count 30 --kind ts
    check "the download was still running: the blind segments hit a live connection" \
        kill -0 "$cpid"
    wait "$cpid"
    rc=$?
    cat /tmp/big.out
    check "download from node$d (owner node$o) completed" test "$rc" = 0
    check "download byte-exact after the blind segments" \
        test "$(sha256_of /tmp/got-big)" = "$(cat "$RIG_SHARED/sha.n$d.file-big")"
    rm -f /tmp/got-big
    barrier blind-done "$ALL"

    # --- fragments
    barrier frag "$ALL"
    check "a fragmented SYN gets no answer" \
        "$PY" "$HOSTILE" frag --src "$CLIENT_IP:$((PORT + 1))" --dst "$VIP:80" --wait 3
    PORT=$((PORT + 1))
    check "route to the VIP with MTU 576" ip route add "$VIP/32" dev eth0 mtu 576
    o=$(owner $((PORT + 1)))
    fetch 1m "$(other "$o")"
    ip route del "$VIP/32" dev eth0 mtu 576
    barrier frag-done "$ALL"

    # --- large bodies through a handover
    head -c 16384 /dev/urandom >/tmp/body-16k
    head -c 204800 /dev/urandom >/tmp/body-200k
    for b in 16k 200k; do
        PORT=$((PORT + 1))
        o=$(owner $PORT)
        d=$(other "$o")
        [ "$b" = 200k ] && echo "$o" >"$RIG_SHARED/body.owner"
        check "PUT /n$d/up/body-$b ($b body) from port $PORT (owner node$o)" \
            curl -sS --fail --max-time $((60 * SLOW)) --local-port "$PORT" -H 'Expect:' \
            -T "/tmp/body-$b" -o /dev/null -w '%{http_code}\n' "http://$VIP/n$d/up/body-$b"
        echo "$b $o $d $(sha256_of "/tmp/body-$b")" >>/tmp/bodies
    done
    barrier body-done "$ALL"
    barrier body-reported "$ALL"
    while read -r b o d sha; do
        if [ "$b" = 16k ]; then where=$d; else where=$o; fi
        check "body-$b stored byte-exact on node$where" \
            grep -q "^/tmp/www/n$d/up/body-$b $sha\$" "$RIG_SHARED/stored.n$where"
    done </tmp/bodies
    check "kernel log has no problem report" dmesg_clean
    ;;
esac
