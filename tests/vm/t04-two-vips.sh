#!/bin/sh
# t04-two-vips: two services on the same application port (80) and different
# VIPs, on 3 nodes + client. The handover connection is addressed to the
# destination's internal address and port 80 only, so the handover option's
# VIP is what keeps the two services apart.
#   nodes:  VIP2 (10.0.0.101) on lo next to the rig's VIP; the cluster of
#           userspace-tools/dtsctl/examples/cluster3-two-vips.toml (VIP:80
#           proxied on 8080, VIP2:80 on 8081; self = own id); stock nginx on
#           port 80; one dts-proxy per proxy port, both routing /next/ to the
#           node after self;
#   client: VIP2 resolves to the cluster's multicast MAC; 4 requests for
#           /next/whoami to each VIP, each from its own fixed port: every one
#           is handed over (body "node<N>") and nginx on the serving node
#           logged it from the client's own address and port to the VIP the
#           client asked for (not the other one);
#   nodes:  handover_failed = 0 and hopt_invalid = 0; every proxy logged only
#           result=ok action=handover; the flow tables drain; clean kernel
#           log.
# rig-nodes: 3
. "$RIG_REPO/tests/vm/lib.sh"

ALL=$(all_vms)
CONF=/tmp/cluster.toml
EXAMPLES=$RIG_REPO/userspace-tools/dtsctl/examples
VIP2=10.0.0.101
N=4     # requests per VIP

# logged_to PORT VIP: nginx's access log has the request from the client's
# port PORT, to VIP:80 and to no other address.
logged_to() {
    _l=$(grep "^$CLIENT_IP:$1 " /tmp/nginx/access.log)
    printf '%s\n' "$_l"
    printf '%s\n' "$_l" | grep -q " $2:80 \"GET /next/whoami " || { echo "not to $2:80"; return 1; }
    ! printf '%s\n' "$_l" | grep -v " $2:80 " | grep -q . || { echo "also to another address"; return 1; }
}

case "$RIG_ROLE" in
node)
    check "VIP2 $VIP2/32 on lo" ip addr add "$VIP2/32" dev lo
    sed "s/^self = 1$/self = $RIG_ID/" "$EXAMPLES/cluster3-two-vips.toml" >"$CONF"
    check "dtsctl config check (two services on port 80)" "$DTSCTL" config check "$CONF"
    check "dtsctl config apply (self = $RIG_ID)" "$DTSCTL" config apply "$CONF"
    check "dtsctl zero" "$DTSCTL" zero
    mkdir -p /tmp/www/next
    echo "node$RIG_ID" >/tmp/www/next/whoami
    nginx_start_without_proxy_port
    for pp in 8080 8081; do
        DTS_PROXY_TAG=$pp check "dts-proxy listens on $pp" \
            dts_proxy_start "$pp" --listen "0.0.0.0:$pp" --self-node "$RIG_ID" --nodes 1,2,3 \
            --route /next/=next --local 127.0.0.1:80
    done
    barrier ready "$ALL"
    barrier fetched "$ALL"
    while read -r p vip; do
        if grep -q "^$CLIENT_IP:$p " /tmp/nginx/access.log; then
            check "access log: $CLIENT_IP:$p to $vip:80 only" logged_to "$p" "$vip"
        fi
    done <"$RIG_SHARED/requests"
    check "status" sh -c "'$DTSCTL' status --json >/tmp/st.json"
    for c in handover_failed hopt_invalid; do
        v=$(json_get "counters.$c" /tmp/st.json)
        check "$c = 0 ($v)" test "$v" = 0
    done
    v=$(json_get counters.handover_done /tmp/st.json)
    log "handover_done $v"
    for pp in 8080 8081; do
        cat /tmp/proxy$pp.log
        check "proxy on $pp: every request handed over" \
            sh -c "! grep 'client=' /tmp/proxy$pp.log | grep -v 'result=ok action=handover'"
        cp /tmp/proxy$pp.log "$RIG_OUT/"
        DTS_PROXY_TAG=$pp dts_proxy_stop
    done
    check "flow table drained (within 150 s)" flows_drain 150
    nginx_collect
    check "dtsctl config clear" "$DTSCTL" config clear
    check "rmmod dts" rmmod dts
    check "kernel log has no problem report" dmesg_clean
    ;;
client)
    check "neighbour $VIP2 -> $VIP_MAC" \
        ip neigh replace "$VIP2" lladdr "$VIP_MAC" dev eth0 nud permanent
    : >"$RIG_SHARED/requests"
    barrier ready "$ALL"
    port=22000
    for vip in "$VIP" "$VIP2"; do
        for _i in $(seq 1 "$N"); do
            port=$((port + 1))
            echo "$port $vip" >>"$RIG_SHARED/requests"
            body=$(curl -sS --max-time 60 --local-port "$port" "http://$vip/next/whoami" 2>&1)
            case $body in
                node[123]) pass "GET http://$vip/next/whoami from port $port: $body" ;;
                *) fail "GET http://$vip/next/whoami from port $port: got '$body'" ;;
            esac
        done
    done
    barrier fetched "$ALL"
    check "kernel log has no problem report" dmesg_clean
    ;;
esac
