#!/bin/sh
# t07-mesh: the control mesh, membership and failover, on 3 nodes + client.
#   nodes:  the 3-node cluster with a mesh (port 7470, heartbeat 500 ms,
#           down after 3 missed); `dtsctl peers` shows every other node up
#           over an established connection with a measured RTT;
#   client: a connection to a node's mesh port is refused (reset) and counted;
#   node1:  malformed frames sent to node 2's mesh port (bad magic, version,
#           header, length, type, payload, a foreign cluster's HELLO, a
#           truncated frame) are each answered with a reset and counted
#           under their reason on node 2; the real mesh stays up;
#   client: holds keep-alive connections on every node, then has node 3's
#           VM killed (qemu/cluster.sh, SIGKILL), while it
#           keeps opening connections from ports of node 3's share: within
#           the failure time they are all answered by nodes 1 and 2, and
#           every connection held on nodes 1 and 2 keeps working;
#   node3:  boots again (after 25 s), re-applies the configuration and rejoins; then new
#           connections of its share are its own again, while the ones the
#           others took over meanwhile (and the holders) keep working;
#   auth:   (mesh authentication) node 1 plays a stranger on its own
#           address that does not know the cluster's secret: node 2's
#           proof does not check under its key, its HELLO-PROOF is reset,
#           a CLOSED in place of the proof is reset; node 2 counts
#           mesh_auth_failed and the real mesh stays up;
#   forged: node 1's proxy hands a 16 MiB download over to node 2; while
#           it runs (rate-limited), node 3 (which knows the secret)
#           authenticates and sends node 1 a CLOSED for that connection:
#           node 1 ignores it (closed_forged) and the client's transfer
#           completes byte-exact;
#   death:  before the kill, node 1 hands a client connection over to node
#           3; killed, node 3 leaves it to no one: the client is reset
#           within twice the dead time + 1 s (the death is confirmed one
#           dead time after the node went down; node_down_reset on node 1);
#   partition: after the rejoin, node 3's mesh traffic is cut: node 3 has
#           no quorum and refuses new SYNs, nodes 1 and 2 take its share,
#           every client connection is answered exactly once; healed, node
#           3 rejoins (see "Node death and partitions" below);
#   all:    flow tables drain, guest dmesg clean (both boots of node 3).
# rig-nodes: 3
# rig-boot: own
. "$RIG_REPO/tests/vm/lib.sh"

ALL=$(all_vms)
CONF=/tmp/cluster.toml
EXAMPLES=$RIG_REPO/userspace-tools/dtsctl/examples
MESH_PORT=7470

# count NAME FILE: a named counter from `dtsctl status --json` output.
count() { json_get "counters.$1" "$2"; }

# peers_ok FILE SELF: every other node is up over an established connection
# and its RTT was measured (dtsctl peers --json).
peers_ok() {
    $PY - "$1" "$2" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
me = int(sys.argv[2])
assert d["self_id"] == me and d["mesh_enabled"] and d["ready"], d
assert sorted(d["live"]) == [1, 2, 3], d["live"]
others = {p["id"]: p for p in d["peers"]}
assert sorted(others) == sorted({1, 2, 3} - {me}), others.keys()
for i, p in others.items():
    assert p["state"] == "up" and p["conn"] == "established", p
    assert p["rtt_us"] > 0 and p["last_heard_ms"] is not None and p["last_heard_ms"] < 1500, p
    print("node %d: up, rtt %.2f ms, last heard %d ms ago, %d/%d messages" % (
        i, p["rtt_us"] / 1000, p["last_heard_ms"], p["tx_msgs"], p["rx_msgs"]))
PY
}

# wait_down ID SECONDS: poll `dtsctl peers --json` until node ID is down;
# prints how long it had been silent when it was declared down.
wait_down() {
    read _t0 _x </proc/uptime; cs_of "$_t0"; _t0=$CS
    while :; do
        "$DTSCTL" peers --json >/tmp/pd.json 2>/dev/null
        # One jq (no python start in the loop: lib.sh, before cs_of).
        if "$JQ" -e -r --argjson id "$1" '
            ([.peers[] | select(.id == $id)][0]) as $p
            | if $p.state == "down" and ((.live | index($id)) == null)
              then "node \($id) down: silent for \($p.last_heard_ms) ms when polled, live set \(.live)"
              else empty end' /tmp/pd.json 2>/dev/null
        then return 0; fi
        read _t _x </proc/uptime; cs_of "$_t"
        if [ $((CS - _t0)) -gt $(($2 * 100)) ]; then
            echo "node $1 not down after $2 s"; cat /tmp/pd.json; return 1
        fi
        sleep 0.1
    done
}

node_boot() {
    sed "s/^self = 1$/self = $RIG_ID/" "$EXAMPLES/cluster3-mesh.toml" >"$CONF"
    check "dtsctl config apply (self = $RIG_ID, mesh on port $MESH_PORT)" "$DTSCTL" config apply "$CONF"
    mkdir -p /tmp/www
    echo "node$RIG_ID" >/tmp/www/whoami
    check "nginx started" nginx_start
}

# The cluster's secret, as the nodes' cluster file has it.
SECRET=$(sed -n 's/^secret = "\([^"]*\)".*/\1/p' "$EXAMPLES/cluster3-mesh.toml")
FC_SIZE=16777216

# fc_file: the 16 MiB body of the forged-CLOSED download (the same bytes on
# every VM).
fc_file() { yes "dts forged CLOSED test" | head -c $FC_SIZE; }

# node_auth_phases: the mesh authentication phases on a node (issue 20,
# item 7): the stranger without the secret, then the forged CLOSED. Self-
# contained: barriers auth-injected, fc-ready, fc-done with the client's
# client_auth_phases.
node_auth_phases() {
    "$DTSCTL" status --json >/tmp/sta0.json
    if [ "$RIG_ID" = 1 ]; then
        check "a stranger on node 1's address without the secret is refused by node 2 (mesh_inject.py --wrong-key)" \
            $PY "$RIG_REPO/tests/vm/mesh_inject.py" --wrong-key "$(node_ip 1)" "$(node_ip 2)" "$MESH_PORT" 1
    fi
    barrier auth-injected "$ALL"
    if [ "$RIG_ID" = 2 ]; then
        "$DTSCTL" status --json >/tmp/sta1.json
        a0=$(count mesh_auth_failed /tmp/sta0.json)
        a1=$(count mesh_auth_failed /tmp/sta1.json)
        check "mesh_auth_failed counted the stranger's proof ($a0 -> $a1)" test "$a1" -ge $((a0 + 1))
    fi
    check "mesh intact after the stranger: every peer up" "$DTSCTL" peers --wait 10
    # The forged CLOSED: dts-proxy on the proxy port hands /fc/ to node 2.
    nginx_stop
    sleep 1
    nginx_without_proxy_port
    check "nginx restarted without the proxy port" nginx_start
    mkdir -p /tmp/www/fc
    fc_file >/tmp/www/fc/fc.bin
    check "dts-proxy on 8080 (/fc/ handed over to node 2)" \
        dts_proxy_start 8080 --listen 0.0.0.0:8080 --self-node "$RIG_ID" --nodes 1,2,3 \
        --route /fc/=2 --local 127.0.0.1:80
    "$DTSCTL" status --json >/tmp/sta2.json
    barrier fc-ready "$ALL"
    if [ "$RIG_ID" = 3 ]; then
        n=0
        while ! shared_has fc.started && [ $n -lt 600 ]; do sleep 0.1; n=$((n + 1)); done
        sleep 0.5    # the port is written
        port=$(cat "$RIG_SHARED/fc.started" 2>/dev/null)
        check "node 3 authenticates and sends node 1 a CLOSED for its connection handed to node 2 (port $port)" \
            $PY "$RIG_REPO/tests/vm/mesh_inject.py" --closed "$SECRET" "$(node_ip 3)" "$(node_ip 1)" \
            "$MESH_PORT" 3 "$CLIENT_IP" "$VIP" "$port" 80
        touch "$RIG_SHARED/fc.forged"
    fi
    barrier fc-done "$ALL"
    "$DTSCTL" status --json >/tmp/sta3.json
    if [ "$RIG_ID" = 1 ]; then
        f0=$(count closed_forged /tmp/sta2.json)
        f1=$(count closed_forged /tmp/sta3.json)
        check "closed_forged counted node 3's CLOSED ($f0 -> $f1)" test "$f1" -ge $((f0 + 1))
        h=$(count handover_done /tmp/sta3.json)
        check "the download was handed over (handover_done $h)" test "$h" -ge 1
    fi
    check "mesh intact after the forged CLOSED: every peer up" "$DTSCTL" peers --wait 10
    dts_proxy_stop
}

# client_auth_phases: the client's part of node_auth_phases: a download from
# a port node 1 owns, which node 1's proxy hands over to node 2, slow enough
# (512 KiB/s: 32 s) that node 3's forged CLOSED arrives while it runs; it
# must complete byte-exact.
client_auth_phases() {
    barrier auth-injected "$ALL"
    fc_file | sha256sum | cut -d' ' -f1 >/tmp/fc.want
    port=
    for p in $(seq 43000 43200); do
        if [ "$("$DTSCTL" owner "$CLIENT_IP:$p" --nodes 1,2,3)" = 1 ]; then port=$p; break; fi
    done
    barrier fc-ready "$ALL"
    rm -f /tmp/fc.bin
    curl -s --local-port "$port" --limit-rate 512K --max-time 120 -o /tmp/fc.bin \
        "http://$VIP/fc/fc.bin" &
    cpid=$!
    n=0
    while [ "$(stat -c %s /tmp/fc.bin 2>/dev/null || echo 0)" -lt 1000000 ] && [ $n -lt 300 ]; do
        sleep 0.1; n=$((n + 1))
    done
    echo "$port" >"$RIG_SHARED/fc.started"
    n=0
    while ! shared_has fc.forged && [ $n -lt 900 ]; do sleep 0.1; n=$((n + 1)); done
    at=$(stat -c %s /tmp/fc.bin 2>/dev/null || echo 0)
    wait $cpid
    rc=$?
    check "the forged CLOSED came while the download was running ($at of $FC_SIZE bytes)" \
        test "$at" -lt $FC_SIZE
    check "the download (port $port, handed over to node 2) completed after the forged CLOSED (curl exit $rc)" \
        test "$rc" = 0
    check "the download is byte-exact (sha256)" \
        test "$(sha256sum </tmp/fc.bin | cut -d' ' -f1)" = "$(cat /tmp/fc.want)"
    barrier fc-done "$ALL"
}

# node_finish: after the client, the shared teardown (it collects nginx's
# logs, clears the configuration and unloads the module).
node_finish() {
    barrier client-done "$ALL"
    "$DTSCTL" peers >"$RIG_OUT/peers-final.txt" 2>&1
    node_teardown
}

# --- Node death and partitions (issue 20, items 5 and 6; mesh.md "Node
# death", "Partitions"). Self-contained phases, each a node side and a
# client side that meet at their own barriers.
#
# node death: before the kill, node 1 hands a client connection over to node
#   3 (a one-shot proxy on VIP:8080, which takes precedence over nginx's
#   wildcard listener while it listens, calls DTS_SO_HANDOVER); the client
#   holds it, idle, through node 3's death and must be reset within twice the
#   dead time (2 x 1.5 s: down, then confirmed) plus one second of the kill,
#   not left hanging; node 1 counts node_down_reset.
# partition: after the rejoin, node 3's traffic to and from the other nodes'
#   internal addresses is blackholed (routes on both sides; the client still
#   reaches every node). Node 3 alone has no quorum (dtsctl peers says NO
#   QUORUM) and refuses new SYNs (syn_no_quorum rises); nodes 1 and 2 keep
#   it and take node 3's share. 60 client connections from varied ports are
#   each answered once, by node 1 or 2, and a capture shows one SYN-ACK
#   sender per connection and no RST. Then the routes go, node 3 rejoins and
#   its share is its own again.
DEAD_S=1.5            # heartbeat_ms 500 x dead_after 3 (cluster3-mesh.toml)

# wait_quorum WANT SECONDS: until `dtsctl peers --json` says no_quorum =
# WANT (true or false).
wait_quorum() {
    uptime_s; _t0=$UPTIME_S
    while :; do
        "$DTSCTL" peers --json >/tmp/pq.json 2>/dev/null
        _q=$(json_get no_quorum /tmp/pq.json 2>/dev/null)
        if [ "$_q" = "$1" ]; then
            echo "no_quorum = $_q, live $(json_get live /tmp/pq.json), quorum $(json_get quorum /tmp/pq.json)"
            return 0
        fi
        uptime_s
        if [ $((UPTIME_S - _t0)) -ge "$2" ]; then
            echo "no_quorum still $_q after $2 s"; cat /tmp/pq.json; return 1
        fi
        sleep 0.2
    done
}

node_death_node() {
    if [ "$RIG_ID" = 1 ]; then
        $PY - "$VIP" 8080 3 >/tmp/ho.out 2>&1 <<'PY' &
import ctypes, socket, struct, sys
vip, port, dest = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
DTS_SO_HANDOVER = 3402
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)   # nginx's has it too
ls.bind((vip, port))
ls.listen(1)
ls.settimeout(120)
print("listening", flush=True)
c, peer = ls.accept()
ls.close()
c.settimeout(30)
data = b""
while b"\r\n\r\n" not in data:
    d = c.recv(65536)
    if not d:
        sys.exit("closed before the request")
    data += d
keep = ctypes.create_string_buffer(data, len(data))
c.setsockopt(0, DTS_SO_HANDOVER, struct.pack("=IIIIQQ", 1, 0, dest, 0, ctypes.addressof(keep), len(data)))
print("handed %s:%d over to node %d" % (peer[0], peer[1], dest), flush=True)
c.close()
PY
        ho=$!
        n=0
        while ! grep -q '^listening' /tmp/ho.out && kill -0 $ho 2>/dev/null && [ $n -lt 300 ]; do
            sleep 0.2; n=$((n + 1))
        done
    fi
    barrier death-listen "$ALL"
    barrier death-held "$ALL"
    if [ "$RIG_ID" = 1 ]; then
        wait $ho
        rc=$?
        cat /tmp/ho.out
        check "node death: node 1 handed the client's connection over to node 3 (exit $rc)" test $rc = 0
    fi
}

# node_death_counted: on nodes 1 and 2 once node 3 is down. The features
# give up what node 3 served when its death is confirmed, one dead time
# after it went down (mesh.md, "Node death"): read the counters after that.
node_death_counted() {
    sleep 3    # the dead time (1.5 s) after "down", and a margin
    "$DTSCTL" status --json >/tmp/nd.json
    n=$(count node_down_reset /tmp/nd.json)
    if [ "$RIG_ID" = 1 ]; then
        check "node death: node 1 reset the client of the connection handed over to node 3 (node_down_reset $n)" \
            test "$n" -ge 1
    else
        check "node death: node 2 handed nothing over to node 3, reset nothing (node_down_reset $n)" \
            test "$n" = 0
    fi
}

node_death_client() {
    barrier death-listen "$ALL"
    PORT=43000
    port_of 1
    rm -f "$RIG_OUT/node-death.json"
    $PY - "$VIP" "$PORT" "$RIG_SHARED/killed.node3" "$RIG_OUT/node-death.json" >/tmp/hold.out 2>&1 <<'PY' &
import json, os, socket, sys, time
vip, port, killed, out = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", port))
s.settimeout(30)
s.connect((vip, 80))
s.sendall(b"GET /whoami HTTP/1.1\r\nHost: vip\r\n\r\n")
data = b""
while b"\r\n\r\n" not in data:
    data += s.recv(4096) or sys.exit("closed in the headers")
head, body = data.split(b"\r\n\r\n", 1)
length = [int(l.split(b":")[1]) for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")][0]
while len(body) < length:
    body += s.recv(4096) or sys.exit("closed in the body")
who = body.decode().strip()
print("held: %s (port %d)" % (who, port), flush=True)
t_end = time.monotonic() + 600
while not os.path.exists(killed) and time.monotonic() < t_end:
    time.sleep(0.02)
t_kill = time.monotonic()
s.settimeout(60)
try:
    b = s.recv(100)
    result = "closed" if not b else "data"
except ConnectionResetError:
    result = "reset"
except socket.timeout:
    result = "hang"
delay = time.monotonic() - t_kill
print("after the kill: %s after %.3f s" % (result, delay), flush=True)
json.dump({"served_by": who, "result": result, "delay_s": round(delay, 3)}, open(out, "w"))
PY
    holder=$!
    n=0
    while ! grep -q '^held' /tmp/hold.out && kill -0 $holder 2>/dev/null && [ $n -lt 300 ]; do
        sleep 0.2; n=$((n + 1))
    done
    cat /tmp/hold.out
    check "node death: the client's connection (port $PORT, node 1's) is served by node 3" \
        grep -q '^held: node3 ' /tmp/hold.out
    barrier death-held "$ALL"
}

# node_death_result: on the client, once node 3's VM was killed.
node_death_result() {
    wait $holder
    cat /tmp/hold.out
    result=$(json_get result "$RIG_OUT/node-death.json")
    delay=$(json_get delay_s "$RIG_OUT/node-death.json")
    log "node death: the client of the connection handed over to node 3 got '$result' $delay s after the kill"
    check "node death: the client was reset ($result) within twice the dead time + 1 s ($delay s, limit 2 x $DEAD_S + 1 s)" \
        test "$result" = reset -a "$(echo "$delay <= 2 * $DEAD_S + 1" | bc)" = 1
}

partition_node() {
    barrier partition "$ALL"
    if [ "$RIG_ID" = 3 ]; then cut="$(node_ip 1) $(node_ip 2)"; else cut=$(node_ip 3); fi
    for a in $cut; do
        check "partition: blackhole route to $a (node $RIG_ID)" ip route add blackhole "$a/32"
    done
    if [ "$RIG_ID" = 3 ]; then
        check "partition: node 3 alone has no quorum" wait_quorum true 30
        "$DTSCTL" peers | tee "$RIG_OUT/peers-partition.txt"
        check "partition: dtsctl peers on node 3 says NO QUORUM" \
            grep -q '^NO QUORUM: 1 of 3 nodes live, 2 needed: new connections refused' "$RIG_OUT/peers-partition.txt"
    else
        check "partition: node 3 marked down" wait_down 3 30
        check "partition: node $RIG_ID keeps the quorum" wait_quorum false 10
        "$DTSCTL" peers | tee "$RIG_OUT/peers-partition.txt"
        check "partition: dtsctl peers on node $RIG_ID says quorum ok" \
            grep -q '^quorum: 2 of 3 nodes live, 2 needed (ok)' "$RIG_OUT/peers-partition.txt"
    fi
    "$DTSCTL" status --json >/tmp/pq0.json
    barrier partitioned "$ALL"
    barrier partition-probed "$ALL"
    "$DTSCTL" status --json >/tmp/pq1.json
    a=$(count syn_no_quorum /tmp/pq0.json) b=$(count syn_no_quorum /tmp/pq1.json)
    if [ "$RIG_ID" = 3 ]; then
        check "partition: node 3 refused the new SYNs for want of quorum (syn_no_quorum $a -> $b)" \
            test "$b" -gt "$a"
    else
        check "partition: node $RIG_ID kept accepting (syn_no_quorum $a -> $b)" test "$b" = "$a"
    fi
    for a in $cut; do
        check "heal: blackhole route to $a removed (node $RIG_ID)" ip route del blackhole "$a/32"
    done
    check "healed: node $RIG_ID sees every peer up again" "$DTSCTL" peers --wait 120
    check "healed: node $RIG_ID has the quorum" wait_quorum false 10
    barrier healed "$ALL"
    barrier partition-done "$ALL"
}

# owners FILE FIRST COUNT: "PORT OWNER" lines for COUNT client ports from FIRST.
owners() {
    : >"$1"
    for p in $(seq "$2" $(($2 + $3 - 1))); do
        echo "$p $("$DTSCTL" owner "$CLIENT_IP:$p" --nodes 1,2,3)" >>"$1"
    done
}

# one_synack_sender PCAP: every client port got SYN-ACKs from one MAC only,
# and nothing was reset.
one_synack_sender() {
    tcpdump -nn -e -r "$1" 'tcp[13] & 0x12 == 0x12' 2>/dev/null | awk -v c="$CLIENT_IP" '
        { for (i = 1; i <= NF; i++) if (index($i, c ".") == 1) { p = $i; sub(/:$/, "", p) } }
        !seen[p " " $2]++ { n[p]++ }
        END {
            for (p in n) { ports++; if (n[p] > 1) { bad++; print "two SYN-ACK senders for " p } }
            printf "%d connections, %d with more than one SYN-ACK sender\n", ports, bad
            exit bad > 0 || ports == 0
        }' || return 1
    rst=$(tcpdump -nn -r "$1" 'tcp[13] & 4 != 0' 2>/dev/null | wc -l)
    echo "$rst RST segments"
    [ "$rst" = 0 ]
}

partition_client() {
    owners /tmp/pports 44000 60
    owners /tmp/hports 45000 40
    barrier partition "$ALL"
    barrier partitioned "$ALL"
    capture_start /tmp/partition.pcap
    $PY "$RIG_REPO/tests/vm/whoami.py" partition "$VIP" /tmp/pports >/tmp/partition.out 2>&1
    rc=$?
    capture_stop
    cat /tmp/partition.out
    check "partition: every connection answered once, by node 1 or 2 (node 3's share included)" test $rc = 0
    if ! check "partition capture: one SYN-ACK sender per connection, no RST" one_synack_sender /tmp/partition.pcap; then
        cp /tmp/partition.pcap "$RIG_OUT/"
    fi
    barrier partition-probed "$ALL"
    barrier healed "$ALL"
    check "healed: node 3's share is node 3's again" \
        $PY "$RIG_REPO/tests/vm/whoami.py" back "$VIP" /tmp/hports --first 4
    barrier partition-done "$ALL"
}

case "$RIG_ROLE.$RIG_BOOT" in
node.1)
    node_boot
    check "mesh formed: dtsctl peers --wait shows every peer up" "$DTSCTL" peers --wait 60
    barrier mesh-up "$ALL"
    sleep 2    # a few heartbeats: the RTT is measured from their echoes
    "$DTSCTL" peers --json >"$RIG_OUT/peers-formed.json"
    "$DTSCTL" peers
    check "peers: both other nodes up and established, RTT measured" peers_ok "$RIG_OUT/peers-formed.json" "$RIG_ID"
    check "status shows the membership" sh -c "'$DTSCTL' status | grep -i 'membership'"
    if [ "$RIG_ID" = 1 ]; then
        "$DTSCTL" status --json >/tmp/st0.json
        check "malformed frames to node 2 each reset (mesh_inject.py)" \
            $PY "$RIG_REPO/tests/vm/mesh_inject.py" "$(node_ip 1)" "$(node_ip 2)" "$MESH_PORT" 1
    fi
    barrier injected "$ALL"
    "$DTSCTL" status --json >/tmp/st1.json
    if [ "$RIG_ID" = 2 ]; then
        for c in mesh_bad_magic mesh_bad_version mesh_too_long mesh_unknown_type \
                 mesh_bad_length mesh_truncated; do
            n=$(count $c /tmp/st1.json)
            check "$c counted ($n)" test "$n" -ge 1
        done
        for c in mesh_bad_header mesh_bad_payload mesh_hello_refused; do
            n=$(count $c /tmp/st1.json)
            check "$c counted ($n, want >= 2)" test "$n" -ge 2
        done
    fi
    if [ "$RIG_ID" = 1 ]; then
        n=$(count mesh_refused /tmp/st1.json)
        check "mesh_refused counted the client's connection ($n)" test "$n" -ge 1
    fi
    check "mesh intact after the bad frames: every peer up" "$DTSCTL" peers --wait 10
    "$DTSCTL" peers --json >/tmp/p1.json
    check "the injection did not take the real mesh down (no peer down since it formed)" \
        $PY -c 'import json,sys; d=[{p["id"]: p["down_count"] for p in json.load(open(f))["peers"]} for f in sys.argv[1:]]; print(d); sys.exit(d[0] != d[1])' "$RIG_OUT/peers-formed.json" /tmp/p1.json
    node_death_node
    "$DTSCTL" zero
    barrier failover "$ALL"
    if [ "$RIG_ID" = 3 ]; then
        log "waiting to be killed"
        sleep 600
        exit 1
    fi
    check "node 3 marked down (membership)" wait_down 3 30
    "$DTSCTL" peers --json >"$RIG_OUT/peers-node3-down.json"
    node_death_counted
    barrier node3-back "$ALL"
    check "node 3 rejoined: every peer up again" "$DTSCTL" peers --wait 120
    "$DTSCTL" peers --json >"$RIG_OUT/peers-rejoined.json"
    "$DTSCTL" status --json >/tmp/st2.json
    n=$(count syn_failover /tmp/st2.json)
    log "syn_failover $n, mesh_node_down $(count mesh_node_down /tmp/st2.json), mesh_node_up $(count mesh_node_up /tmp/st2.json)"
    echo "$n" >"$RIG_SHARED/syn_failover.node$RIG_ID"
    barrier rejoined "$ALL"
    # The partition needs nginx on the proxy port; the authentication
    # phases end without it: partition first.
    partition_node
    node_auth_phases
    node_finish
    ;;
node.2)
    # Node 3 again, after its VM was killed: join the running cluster.
    log "second boot: rejoining the cluster"
    node_boot
    check "rejoined: every peer up" "$DTSCTL" peers --wait 120
    check "ready: this node takes its share again" sh -c "'$DTSCTL' peers --json | grep -q '\"ready\": *true'"
    "$DTSCTL" peers
    barrier node3-back "$ALL"
    barrier rejoined "$ALL"
    # The partition needs nginx on the proxy port; the authentication
    # phases end without it: partition first.
    partition_node
    node_auth_phases
    node_finish
    ;;
client.*)
    barrier mesh-up "$ALL"
    check "connection to node 1's mesh port from the client refused" $PY - "$(node_ip 1)" "$MESH_PORT" <<'PY'
import socket, sys
try:
    s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10)
    s.settimeout(5)
    s.sendall(b"hello?")
    b = s.recv(100)
    print("closed by the node" if not b else "got %r" % b)
    sys.exit(0 if not b else 1)
except ConnectionResetError:
    print("reset by the node")
except socket.timeout:
    print("still open after 5 s")
    sys.exit(1)
PY
    # Source ports and their owners with every node up (the rendezvous hash).
    : >/tmp/ports
    for p in $(seq 42000 42059); do
        echo "$p $("$DTSCTL" owner "$CLIENT_IP:$p" --nodes 1,2,3)" >>/tmp/ports
    done
    barrier injected "$ALL"
    node_death_client
    barrier failover "$ALL"
    rm -f /tmp/go; mkfifo /tmp/go
    exec 3<>/tmp/go
    $PY "$RIG_REPO/tests/vm/mesh_client.py" "$VIP" /tmp/ports "$RIG_SHARED/kill.node3" \
        "$RIG_SHARED/start.node3" "$RIG_OUT/failover.json" <&3 >/tmp/mc.out 2>&1 &
    mc=$!
    n=0
    while ! grep -q '^ready' /tmp/mc.out && kill -0 $mc 2>/dev/null && [ $n -lt 600 ]; do
        sleep 0.5; n=$((n + 1))
    done
    cat /tmp/mc.out
    check "failover: node 3's share answered by nodes 1 and 2, every holder on them unharmed" \
        $PY -c 'import json,sys; sys.exit(0 if json.load(open(sys.argv[1]))["ok"] else 1)' "$RIG_OUT/failover.json"
    node_death_result
    barrier node3-back "$ALL"
    barrier rejoined "$ALL"
    check "node 3's share is node 3's again for new connections" \
        $PY "$RIG_REPO/tests/vm/whoami.py" back "$VIP" /tmp/ports --last 4
    echo again >&3
    wait $mc
    rc=$?
    tail -n 6 /tmp/mc.out
    check "after the rejoin, the holders and the taken-over connection still work (exit $rc)" test $rc = 0
    cp /tmp/mc.out "$RIG_OUT/mesh_client.out"
    partition_client
    client_auth_phases
    barrier client-done "$ALL"
    ;;
esac
