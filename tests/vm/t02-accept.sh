#!/bin/sh
# t02-accept: the DTS configuration and SYN acceptance, on 3 nodes + client.
#   nodes:  `dtsctl config apply` of the 3-node cluster (self = own id),
#           `config show` round-trips it, an invalid file and a hostile blob
#           are refused with precise errors and counted;
#   client: 30 connections to VIP:80, each from a fixed source port; every
#           one is answered by exactly the node `dtsctl owner` names (the
#           rendezvous hash), through that node's proxy port, byte-exact;
#   client: 300 more connections with ab (10 concurrent);
#   nodes:  syn_accepted / syn_not_owner / to_proxy / from_proxy / no_flow
#           counters agree with what the client saw; nginx logged the client's
#           own address on the proxy port; the flows created on all nodes add
#           up to the client's connections, and once closed they expire: the
#           flow tables drain to zero; kernel log clean.
# rig-nodes: 3
. "$RIG_REPO/tests/vm/lib.sh"

ALL=$(all_vms)
CONF=/tmp/cluster.toml
PORTS=$(seq 41000 41029)
EXAMPLES=$RIG_REPO/userspace-tools/dtsctl/examples

# counter NAME FILE: a named counter from `dtsctl status --json` output.
counter() {
    python3 -c 'import json,sys; print(json.load(open(sys.argv[2]))["counters"][sys.argv[1]])' "$1" "$2"
}

# refuses_blob: a hand-made ConfigV1 with a duplicate node id is refused by
# the module itself with EEXIST (dtsctl would have refused it first).
refuses_blob() {
    python3 - <<'PY'
import errno, socket, struct
blob = bytearray(1744)  # CONFIG_V1_SIZE (rust/pure/abi/config.rs)
struct.pack_into("=IIIIII", blob, 0, 1, 1744, 1, 2, 0, 0)
struct.pack_into("=II", blob, 24, 1, 0x0a00000b)
struct.pack_into("=II", blob, 32, 1, 0x0a00000c)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
try:
    s.setsockopt(0, 3401, bytes(blob))
except OSError as e:
    print("refused:", errno.errorcode.get(e.errno), e)
    raise SystemExit(0 if e.errno == errno.EEXIST else 1)
print("accepted a config with a duplicate node id")
raise SystemExit(1)
PY
}

case "$RIG_ROLE" in
node)
    sed "s/^self = 1$/self = $RIG_ID/" "$EXAMPLES/cluster3.toml" >"$CONF"
    check "dtsctl config check" "$DTSCTL" config check "$CONF"
    check "dtsctl config apply" "$DTSCTL" config apply "$CONF"
    check "dtsctl zero" "$DTSCTL" zero
    check "config show round-trips" sh -c "'$DTSCTL' config show >/tmp/shown.toml && '$DTSCTL' config check /tmp/shown.toml && grep -qx 'self = $RIG_ID' /tmp/shown.toml"
    check "config show never prints the mesh secret, only a marker" \
        sh -c "! grep -q 'dts-test-rig-mesh-secret' /tmp/shown.toml && grep -q '^secret = \"(set)\"' /tmp/shown.toml"
    check "config apply of config show's output asks for the real secret" \
        sh -c "grep -q '^secret = \"(set)\"' /tmp/shown.toml && ! '$DTSCTL' config apply /tmp/shown.toml 2>/tmp/shown.err && cat /tmp/shown.err && grep -q 'config show' /tmp/shown.err"
    check "invalid config file refused, naming the node" \
        sh -c "! '$DTSCTL' config apply '$EXAMPLES/invalid-unknown-node.toml' 2>/tmp/inv.txt && cat /tmp/inv.txt && grep -q 'node' /tmp/inv.txt"
    check "hostile config blob refused by the module (EEXIST)" refuses_blob
    check "config still in force after the refusals" sh -c "'$DTSCTL' config show | grep -qx 'self = $RIG_ID'"

    mkdir -p /tmp/www
    echo "node$RIG_ID" >/tmp/www/whoami
    dd if=/dev/urandom of=/tmp/www/file-1m bs=1M count=1 2>/dev/null
    sha256_of /tmp/www/file-1m >"$RIG_SHARED/node$RIG_ID.sha256"
    check "nginx started" nginx_start
    barrier ready "$ALL"

    barrier fetched "$ALL"
    "$DTSCTL" status --json >/tmp/st.json
    cat /tmp/st.json; echo
    owned=$(cat "$RIG_SHARED/owned.node$RIG_ID")
    created=$(counter flow_created /tmp/st.json)
    echo "$created" >"$RIG_SHARED/created.node$RIG_ID"
    noflow=$(counter no_flow /tmp/st.json)
    check "segments of other nodes' connections dropped as no_flow ($noflow)" test "$noflow" -gt 0
    check "flow_created ($created) >= connections owned ($owned)" test "$created" -ge "$owned"
    acc=$(counter syn_accepted /tmp/st.json)
    notown=$(counter syn_not_owner /tmp/st.json)
    toproxy=$(counter to_proxy /tmp/st.json)
    fromproxy=$(counter from_proxy /tmp/st.json)
    inval=$(counter config_invalid /tmp/st.json)
    log "owned $owned: syn_accepted $acc syn_not_owner $notown to_proxy $toproxy from_proxy $fromproxy"
    # SYNs may be retransmitted under TCG, so "at least".
    check "syn_accepted ($acc) >= connections owned ($owned)" test "$acc" -ge "$owned"
    check "syn_not_owner ($notown) >= connections owned by others ($((31 - owned)))" \
        test "$notown" -ge $((31 - owned))
    if [ "$owned" -gt 0 ]; then
        check "to_proxy and from_proxy counted ($toproxy, $fromproxy)" test "$toproxy" -gt 0 -a "$fromproxy" -gt 0
    else
        check "no segment delivered to the proxy ($toproxy)" test "$toproxy" -eq 0
    fi
    check "config_invalid counted the hostile blob ($inval)" test "$inval" -ge 1
    whoami=$(cat "$RIG_SHARED/whoami.node$RIG_ID")
    # curl speaks HTTP/1.1, ab HTTP/1.0: count curl's requests only.
    n=$(grep -c "^$CLIENT_IP:[0-9]* 10.0.0.100:8080 \"GET /whoami HTTP/1.1\"" /tmp/nginx/access.log)
    check "nginx on the proxy port logged $whoami whoami requests from $CLIENT_IP (got $n)" test "$n" -eq "$whoami"
    nginx_collect
    barrier counted "$ALL"
    if [ "$RIG_ID" = 1 ]; then
        total=0
        for i in 1 2 3; do total=$((total + $(cat "$RIG_SHARED/created.node$i"))); done
        want=$(cat "$RIG_SHARED/connections")
        check "flows created on all nodes ($total) = connections in the client's capture ($want)" \
            test "$total" -eq "$want"
    fi
    # Closed flows expire 10 s after their last segment; status sweeps first.
    check "flows expired (within 60 s)" flows_drain 60
    "$DTSCTL" status --json >/tmp/st2.json
    active=$(counter flows_active /tmp/st2.json)
    removed=$(counter flow_removed /tmp/st2.json)
    check "flow table drained: flows_active $active, flow_removed $removed >= $created" \
        test "$active" -eq 0 -a "$removed" -ge "$created"
    check "dtsctl config clear" "$DTSCTL" config clear
    check "rmmod dts" rmmod dts
    check "kernel log has no problem report" dmesg_clean
    ;;
client)
    # Every connection attempt to the VIP, on the wire: its SYNs.
    tcpdump -Z root -i eth0 -n -U -w "$RIG_OUT/syns.pcap" \
        "dst host $VIP and dst port 80 and tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn" \
        >/tmp/tcpdump.log 2>&1 &
    tcpdump_pid=$!
    n=0
    while ! grep -q 'listening on' /tmp/tcpdump.log && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
    barrier ready "$ALL"
    for i in 1 2 3; do : >"$RIG_SHARED/owned.node$i"; done
    c1=0 c2=0 c3=0
    for p in $PORTS; do
        want=$("$DTSCTL" owner "$CLIENT_IP:$p" --nodes 1,2,3)
        got=$(curl -sS --fail --max-time 20 --local-port "$p" "http://$VIP/whoami" 2>&1)
        if [ "$got" = "node$want" ]; then
            pass "port $p: answered by node$want, the rendezvous-hash owner"
        else
            fail "port $p: answered by '$got', want node$want"
        fi
        eval "c$want=\$((c$want + 1))"
    done
    echo "$c1" >"$RIG_SHARED/whoami.node1"
    echo "$c2" >"$RIG_SHARED/whoami.node2"
    echo "$c3" >"$RIG_SHARED/whoami.node3"
    # One more connection, for a byte-exact 1 MiB body through the VIP.
    p=41100
    want=$("$DTSCTL" owner "$CLIENT_IP:$p" --nodes 1,2,3)
    eval "c$want=\$((c$want + 1))"
    check "GET VIP/file-1m from port $p" \
        curl -sS --fail --max-time 60 --local-port "$p" -o /tmp/file-1m "http://$VIP/file-1m"
    got=$(sha256_of /tmp/file-1m)
    if [ "$got" = "$(cat "$RIG_SHARED/node$want.sha256")" ]; then
        pass "VIP/file-1m sha256 matches node$want's file"
    else
        fail "VIP/file-1m sha256 $got does not match node$want's file"
    fi
    echo "$c1" >"$RIG_SHARED/owned.node1"
    echo "$c2" >"$RIG_SHARED/owned.node2"
    echo "$c3" >"$RIG_SHARED/owned.node3"
    log "connections per owner: node1 $c1, node2 $c2, node3 $c3"
    check "every node owned at least one of 31 connections" test "$c1" -gt 0 -a "$c2" -gt 0 -a "$c3" -gt 0
    check "ab: 300 requests, 10 concurrent, through the VIP" \
        sh -c "ab -q -n 300 -c 10 http://$VIP/whoami >/tmp/ab.txt 2>&1; cat /tmp/ab.txt; grep -q '^Failed requests: *0' /tmp/ab.txt && grep -q '^Complete requests: *300' /tmp/ab.txt"
    sleep 1
    kill "$tcpdump_pid"; wait "$tcpdump_pid"
    # Distinct client ports = distinct connections (SYN retransmissions share
    # their port).
    conns=$(tcpdump -r "$RIG_OUT/syns.pcap" -n 2>/dev/null | awk '{print $3}' | sort -u | wc -l)
    log "the capture has SYNs of $conns connections"
    check "the capture saw at least the 331 connections made ($conns)" test "$conns" -ge 331
    echo "$conns" >"$RIG_SHARED/connections"
    barrier fetched "$ALL"
    barrier counted "$ALL"
    ;;
*)
    fail "unknown role '$RIG_ROLE'"
    ;;
esac
! grep -q '^FAIL' "$RIG_RESULTS"
