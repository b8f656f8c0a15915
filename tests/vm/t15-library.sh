#!/bin/sh
# t15-library: the dts library's example proxy (userspace-tools/dts/examples/
# tiny_proxy.rs, built by make tools into target/release/examples/) hands
# connections over, on 3 nodes + client.
#   nodes:  the 3-node cluster configured (self = own id), mesh formed,
#           counters zeroed; stock nginx on port 80; under /tmp/www/lib/ a
#           1 MiB random file, whose sha256 node 2 publishes (nodes 1 and 3
#           hold other bytes under the same name, so a body served by the
#           wrong node shows); node 1 runs tiny_proxy --to 2 on the proxy
#           port 8080 instead of dts-proxy; nodes 2 and 3 run dts-proxy
#           (every /lib/ request to node 2);
#   client: N times, from a port node 1 owns (dtsctl owner), curl
#           http://VIP/lib/file: status 200, the body byte-exact node 2's
#           file (sha256);
#   nodes:  node 2's nginx logged every request from the client's own
#           address and port to VIP:80; node 1's tiny_proxy logged one line
#           per connection, "client=CLIENT:PORT node=2 result=handover";
#           node 1's handover_done >= N and handover_failed = 0;
#   refused: node 2 stops nginx; a request from a node-1 port gets tiny_proxy's
#           502, and its log line has result=ECONNREFUSED (the library's
#           HandoverError for that errno); node 2 restarts nginx and the next
#           request is handed over again;
#   all:    the flow tables drain, config clear, rmmod; clean kernel logs.
# rig-nodes: 3
. "$RIG_REPO/tests/vm/lib.sh"

ALL=$(all_vms)
CONF=/tmp/cluster.toml
EXAMPLES=$RIG_REPO/userspace-tools/dtsctl/examples
TINY_PROXY=${DTSCTL%/*}/examples/tiny_proxy
N=5                 # handed-over downloads
SIZE=1048576        # bytes of the file
PORT=23000          # port_of counts up from here

# tiny_logged PORT RESULT: tiny_proxy's line (stdout, /tmp/proxy.out) for
# client port PORT says node 2 and result=RESULT.
tiny_logged() {
    grep "^client=$CLIENT_IP:$1 node=2 result=$2" /tmp/proxy.out
}

# fetch_exact PORT: GET /lib/file from PORT; 200 and node 2's bytes.
fetch_exact() { fetch_sha256 "$1" "http://$VIP/lib/file" sha.lib; }

# fetch_502 PORT: GET /lib/file from PORT answers 502 (tiny_proxy's).
fetch_502() {
    _code=$(curl -s --max-time 60 --local-port "$1" -o /dev/null -w '%{http_code}' \
        "http://$VIP/lib/file")
    [ "$_code" = 502 ] || { echo "status $_code, not 502"; return 1; }
}

case "$RIG_ROLE" in
node)
    sed "s/^self = 1$/self = $RIG_ID/" "$EXAMPLES/cluster3.toml" >"$CONF"
    check "dtsctl config apply (self = $RIG_ID)" "$DTSCTL" config apply "$CONF"
    check "control mesh formed (dtsctl peers --wait)" "$DTSCTL" peers --wait 120
    check "dtsctl zero" "$DTSCTL" zero
    mkdir -p /tmp/www/lib
    check "a $SIZE-byte random file under /tmp/www/lib" \
        sh -c "head -c $SIZE /dev/urandom >/tmp/www/lib/file"
    if [ "$RIG_ID" = 2 ]; then
        check "node 2 publishes its file's sha256" \
            sh -c "sha256sum /tmp/www/lib/file | cut -d' ' -f1 >'$RIG_SHARED/sha.lib'"
    fi
    nginx_start_without_proxy_port
    if [ "$RIG_ID" = 1 ]; then
        check "tiny_proxy built ($TINY_PROXY)" test -x "$TINY_PROXY"
        DTS_PROXY=$TINY_PROXY check "tiny_proxy --to 2 listens on 8080" \
            dts_proxy_start 8080 --listen 0.0.0.0:8080 --to 2
    else
        check "dts-proxy listens on 8080" \
            dts_proxy_start 8080 --listen 0.0.0.0:8080 --self-node "$RIG_ID" --nodes 1,2,3 \
            --route /lib/=2 --local 127.0.0.1:80
    fi
    barrier ready "$ALL"

    # --- handed over: node 2 served, node 1's tiny_proxy logged it
    barrier fetched "$ALL"
    while read -r p; do
        if [ "$RIG_ID" = 2 ]; then
            check "access log: $CLIENT_IP:$p $VIP:80 \"GET /lib/file\" 200" \
                grep -F "$CLIENT_IP:$p $VIP:80 \"GET /lib/file HTTP/1.1\" 200" /tmp/nginx/access.log
        fi
        if [ "$RIG_ID" = 1 ]; then
            check "tiny_proxy log: $CLIENT_IP:$p handed over to node 2" \
                tiny_logged "$p" "handover "
        fi
    done <"$RIG_SHARED/lib-requests"
    if [ "$RIG_ID" = 1 ]; then
        check "status" sh -c "'$DTSCTL' status --json >/tmp/st.json"
        v=$(json_get counters.handover_done /tmp/st.json)
        check "handover_done $v >= $N" test "$v" -ge "$N"
        v=$(json_get counters.handover_failed /tmp/st.json)
        check "handover_failed = 0 ($v)" test "$v" = 0
    fi

    # --- refused: node 2's nginx down, tiny_proxy answers 502
    if [ "$RIG_ID" = 2 ]; then
        check "node 2: nginx stopped" nginx_stop_wait
    fi
    barrier down "$ALL"
    barrier refused "$ALL"
    if [ "$RIG_ID" = 1 ]; then
        p=$(cat "$RIG_SHARED/lib-refused")
        check "tiny_proxy log: $CLIENT_IP:$p refused, ECONNREFUSED" \
            tiny_logged "$p" "ECONNREFUSED "
    fi
    if [ "$RIG_ID" = 2 ]; then
        check "node 2: nginx restarted" nginx_start
    fi
    barrier up "$ALL"
    barrier again "$ALL"

    cp /tmp/proxy.out "$RIG_OUT/proxy.out" 2>/dev/null
    node_teardown
    ;;
client)
    : >"$RIG_SHARED/lib-requests"
    barrier ready "$ALL"
    i=0
    while [ "$i" -lt "$N" ]; do
        i=$((i + 1))
        port_of 1
        echo "$PORT" >>"$RIG_SHARED/lib-requests"
        check "GET /lib/file from port $PORT (node 1's): 200, node 2's bytes" fetch_exact "$PORT"
    done
    barrier fetched "$ALL"
    barrier down "$ALL"
    port_of 1
    echo "$PORT" >"$RIG_SHARED/lib-refused"
    check "GET /lib/file from port $PORT with node 2's nginx down: tiny_proxy's 502" \
        fetch_502 "$PORT"
    barrier refused "$ALL"
    barrier up "$ALL"
    port_of 1
    check "GET /lib/file from port $PORT after node 2's nginx restarted: handed over" \
        fetch_exact "$PORT"
    barrier again "$ALL"
    check "kernel log has no problem report" dmesg_clean
    ;;
esac
