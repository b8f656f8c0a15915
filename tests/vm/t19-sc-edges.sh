#!/bin/sh
# t19-sc-edges: Socket Cloning's edges, on t09-sc's cluster (tests/vm/sc-lib.sh:
# IPVS direct-routing dispatcher on node 1, nodes 2..4 with the VIP
# 10.0.0.200 on lo, dts-scserver on :80 with the owner map /nX/ -> node X,
# stock nginx on :8080 as the clones' server). The dispatcher sends every
# connection to node 2, the original node; /n3/ and /n4/ are cloned.
#   ws (window-scale mismatch, Documentation/socket-cloning.md "Window
#           scale"): node 3's net.ipv4.tcp_rmem max is 64 MiB, so its stack
#           announces window-scale shift 11 where node 2 announces 7 (both
#           read on the wire: node 3's SYN-ACK on lo, node 2's in the
#           client's capture); a keep-alive GET of /n3/s64k: node 2 logs
#           `fallback:EPROTO` and serves it itself, byte-exact;
#           sc_clone_failed rose on node 2, sc_clone_refused on node 3
#           (sc_clone_built did not); node 3 holds no socket on :8080 for
#           the client's port (the half-open request socket was reset) and
#           no flow of it; the client's capture: no RST, nothing from node
#           3, nothing after the close;
#   nl (no listener): nginx stopped on node 4; a keep-alive GET of
#           /n4/s64k: `fallback:ECONNREFUSED`, served by node 2, byte-exact;
#           the same counters, sockets, flows and capture checks on node 4;
#           then nginx starts again on node 4;
#   rc (recovery): node 3's tcp_rmem restored, node 4's nginx back: one
#           connection, /n4/s64k and /n3/s64k: clone:4 and clone:3,
#           byte-exact;
#   ki (a keep-alive client idle after a cloned response): sc_client.py
#           idle: /n3/s64k (cloned), 15 s without a
#           segment (more than an unassured flow's 10 s), then /n2/s1k with
#           `Connection: close`: both byte-exact; node 3 reported the
#           response's length (sc_len_reported), so node 2's router settled
#           the clone once the client acknowledged it, during the pause (not
#           at the next request): 12 s into the pause sc_settled rose on
#           node 2 and sc_clone_done on node 3, which holds no socket of the
#           client's port any more (and reclaims its entry); sc_stray did
#           not rise; a clean client capture;
#   fn (the client's FIN during a cloned response): a client
#           (sc_client.py halfclose) GETs /n3/s1m (/n3/s100k on the debug
#           kernel) with `Connection: close`, which node 2 clones to node 3
#           (node 3 reports the response's length), half-closes once
#           the first bytes are in and reads the rest: byte-exact, the
#           server closes; node 3 reported the length (sc_len_reported);
#           node 2's capture (sc_edges_check.py router): the
#           router forwarded copies of the client's segments after its FIN,
#           none later than the FIN timer (FIN_ROUTE_SECS, 5 s, + 1 s for
#           the router's whole-second clock), exactly as many as
#           sc_forwarded counted; the connection's sc-origin entry on node
#           2 and its sc-clone entry on node 3 reclaimed; sc_settled rose
#           on node 2, sc_clone_done on node 3; the client's capture: no
#           RST, the response from node 3, nothing after the close;
#   ft (the FIN timer runs out during a clone of known length): the
#           same client on /n3/s4m with a 64 KiB receive buffer half-closes,
#           then reads nothing for FT_PAUSE s (longer than the FIN timer and
#           than DTS_SO_CLONE_WAIT's 10 s, so that node 2's dts-scserver
#           stops waiting and closes: the original's FIN leaves while the
#           clone still sends, and goes out after the clone's end), then
#           reads the rest. While it waits, node 2 lists the sc-origin entry and node
#           3 the sc-clone entry; the router keeps forwarding past the timer
#           while the clone's known end is unacknowledged (node 2's
#           capture: copies more than the timer after the FIN, as many as
#           sc_forwarded counted; sc_forwarded rose after the timer); the
#           whole body arrives byte-exact; node 3 reported the length
#           (sc_len_reported); the entries are reclaimed; the client's
#           capture has no RST and nothing untranslated, and node 2's FIN
#           reached the client before node 3's last byte.
#   all:    node_teardown (flow tables drain, rmmod, clean kernel logs).
# rig-nodes: 4
# rig-boot: own
. "$RIG_REPO/tests/vm/lib.sh"
. "$RIG_REPO/tests/vm/sc-lib.sh"   # the SC cluster's set-up, VIP_SC, SC_LOG, ...

ALL=$(all_vms)
COUNTERS="sc_clone_sent sc_clone_failed sc_clone_built sc_clone_refused sc_clone_done
          sc_forwarded sc_settled sc_stray sc_len_reported"
EDGES=$RIG_REPO/tests/vm/sc_edges_check.py
SC_CLIENT=$RIG_REPO/tests/vm/sc_client.py
# The router's FIN timer (rust/pure/sc.rs FIN_ROUTE_SECS).
FIN_SECS=5
# ft's pause: past the FIN timer and past DTS_SO_CLONE_WAIT's bound
# (CLONE_WAIT_MS, 10 s), after which the original's application closes.
FT_PAUSE=13
# fn's response must be through within the FIN timer: on the debug kernel
# (about 10 times slower) a smaller one.
if [ "$(rig_flavor)" = debug ]; then
    SLOW=5 DEAD_AFTER=10 FN_PATH=n3/s100k
else
    SLOW=1 DEAD_AFTER=3 FN_PATH=n3/s1m
fi
# The keep-alive idle phase: longer than an unassured flow's timeout
# (Timeouts::syn, 10 s; the sc-clone entry is checked 12 s in).
KI_IDLE=15
# Files up to 4 MiB (no n3/s32m): 24 of them.
MKFILES_MAX=4194304 NFILES=24
export MKFILES_MAX
WS_PORT=41910 NL_PORT=41920 RC_PORT=41930 KI_PORT=41935 FN_PORT=41940 FT_PORT=41950
RC="n4/s64k n3/s64k"
# The shift node 3's stack chooses with tcp_rmem max 64 MiB
# (tcp_select_initial_window: ilog2(64 MiB) - 15).
WS_RMEM="4096 131072 67108864"

# --- helpers ---------------------------------------------------------------------

# rtcap_start FILE / rtcap_stop: on a node, tcpdump of eth0 (not
# promiscuous): the client's segments to port 80 and the router's IP-in-IP
# copies.
rtcap_start() {
    rm -f /tmp/rtcap.log
    tcpdump -Z root -p -i eth0 -n -s 200 -B 4096 -U -w "$1" \
        "(tcp and host $CLIENT_IP and port 80) or ip proto 4" >/tmp/rtcap.log 2>&1 &
    rtcap_pid=$!
    _n=0
    while ! grep -q 'listening on' /tmp/rtcap.log 2>/dev/null && [ $_n -lt 150 ]; do
        sleep 0.1; _n=$((_n + 1))
    done
}
rtcap_stop() {
    kill "$rtcap_pid"; wait "$rtcap_pid"
    log "router tcpdump: $(grep -E 'captured|dropped' /tmp/rtcap.log | tr '\n' ' ')"
}

# lo_wscale: the window-scale shift this node's stack announces for a new
# connection to nginx on :8080 (its SYN-ACK on lo).
lo_wscale() {
    rm -f /tmp/lo.txt
    timeout 20 tcpdump -p -i lo -n -v -c 1 \
        'src port 8080 and tcp[tcpflags] & (tcp-syn|tcp-ack) == (tcp-syn|tcp-ack)' \
        >/tmp/lo.txt 2>/tmp/lo.err &
    _tp=$!
    _n=0
    while ! grep -q 'listening on' /tmp/lo.err 2>/dev/null && [ $_n -lt 150 ]; do
        sleep 0.1; _n=$((_n + 1))
    done
    curl -s -o /dev/null --max-time 5 http://127.0.0.1:8080/n2/s1
    wait $_tp
    sed -n 's/.*wscale \([0-9]*\).*/\1/p' /tmp/lo.txt | head -n 1
}

# no_socket_of PORT: no TCP socket of this node (any state, half-open
# request sockets included) has the client's PORT as its peer.
no_socket_of() {
    ss -tan >/tmp/ss.txt
    if grep -q "$CLIENT_IP:$1\$\|$CLIENT_IP:$1 " /tmp/ss.txt; then
        grep "$CLIENT_IP:$1" /tmp/ss.txt
        return 1
    fi
    echo "no socket with peer $CLIENT_IP:$1"
}

# no_socket_within PORT SECONDS: poll no_socket_of PORT, at most SECONDS.
no_socket_within() {
    uptime_s; _t0=$UPTIME_S
    while ! no_socket_of "$1" >/tmp/ns.txt; do
        uptime_s
        if [ $((UPTIME_S - _t0)) -ge "$2" ]; then
            echo "after $2 s:"; cat /tmp/ns.txt
            return 1
        fi
        sleep 1
    done
    cat /tmp/ns.txt
}

# flows_listed PORT ROLE: dtsctl lists a flow of the client's PORT with ROLE.
flows_listed() {
    "$DTSCTL" show flows --client "$CLIENT_IP:$1" >/tmp/fl.txt 2>&1
    cat /tmp/fl.txt
    grep -q "$2" /tmp/fl.txt
}

# wait_shared NAME SECONDS: until /shared/NAME exists.
wait_shared() {
    _n=0
    while ! shared_has "$1" && [ $_n -lt $(($2 * 10)) ]; do sleep 0.1; _n=$((_n + 1)); done
    shared_has "$1"
}

# logged PHASE PORT: node 2's log lines of the client's PORT in PHASE, as
# "PATH ACTION" lines.
logged() {
    log_fields conn path action <"$RIG_SHARED/sc.$1.log.node2" 2>/dev/null |
        awk -v c="$CLIENT_IP:$2" '$1 == c { print $2, $3 }'
}

# log_is PHASE PORT WANT: node 2 logged exactly WANT ("PATH ACTION" lines,
# separated by ";") for PORT in PHASE.
log_is() {
    logged "$1" "$2" >/tmp/got.txt
    printf '%s\n' "$3" | tr ';' '\n' >/tmp/want.txt
    cat /tmp/got.txt
    diff /tmp/want.txt /tmp/got.txt
}

# rose FROM TO NODE NAME MIN [MAX]: counter NAME of NODE rose by MIN..MAX
# (MAX default: any) between two snapshots.
rose() {
    _d=$(delta "$1" "$2" "$3" "$4")
    echo "node$3 $4 rose by $_d"
    [ "$_d" != "?" ] && [ "$_d" -ge "$5" ] && { [ -z "${6:-}" ] || [ "$_d" -le "$6" ]; }
}

# fin_before_last_data PCAP PORT FIN_MAC DATA_MAC: the first FIN to the
# client's PORT from FIN_MAC comes before the last segment with data from
# DATA_MAC.
fin_before_last_data() {
    tcpdump -nn -e -r "$1" "tcp dst port $2" 2>/dev/null | awk -v f="$3" -v d="$4" '
        $2 == f && /Flags \[F/ && !fin { fin = NR }
        $2 == d && !/length 0$/ { last = NR }
        END {
            printf "first FIN from %s: packet %s; last data from %s: packet %s\n", f, fin ? fin : "none", d, last ? last : "none"
            exit !(fin && last && fin < last)
        }'
}

# syn_ack_wscale PCAP PORT: the shift in the server's SYN-ACK to the
# client's PORT in the client's capture.
syn_ack_wscale() {
    tcpdump -r "$1" -n -v "src port 80 and dst port $2 and tcp[tcpflags] & tcp-syn != 0" 2>/dev/null |
        sed -n 's/.*wscale \([0-9]*\).*/\1/p' | head -n 1
}

# client_capture_ok PCAP PORT MACS [--open-ok]: sc_edges_check.py client.
client_capture_ok() {
    "$PY" "$EDGES" client "$1" --client "$CLIENT_IP:$2" --server "$VIP_SC:80" --allow-macs "$3" ${4:+"$4"}
}

# phase_barriers PHASE: the go/done/pub barriers of a phase this VM only
# waits through.
phase_barriers() {
    barrier "$1-go" "$ALL"; barrier "$1-done" "$ALL"; barrier "$1-pub" "$ALL"
}

# --- roles -----------------------------------------------------------------------

case "$RIG_ROLE.$RIG_ID" in
node.1)
    log "kernel flavor: $(rig_flavor)"
    sc_dispatcher_setup
    sc_ipvs_weights 1 0 0
    barrier ready "$ALL"
    for ph in ws nl rc ki fn ft; do phase_barriers "$ph"; done
    sc_dispatcher_teardown
    ;;
node.*)
    log "kernel flavor: $(rig_flavor)"
    sc_node_setup
    barrier ready "$ALL"

    # --- ws: window-scale mismatch on node 3
    m=$(log_mark)
    if [ "$RIG_ID" = 3 ]; then
        rmem=$(sysctl -n net.ipv4.tcp_rmem)
        check "node 3: net.ipv4.tcp_rmem = $WS_RMEM" sysctl -qw net.ipv4.tcp_rmem="$WS_RMEM"
        lo_wscale >"$RIG_SHARED/ws.shift.node3"
        log "node 3 announces window-scale shift $(cat "$RIG_SHARED/ws.shift.node3") on :8080"
    fi
    barrier ws-go "$ALL"
    barrier ws-done "$ALL"
    if [ "$RIG_ID" = 3 ]; then
        check "ws: node 3 holds no socket of $CLIENT_IP:$WS_PORT (the request socket was reset)" \
            no_socket_of $WS_PORT
        check "ws: node 3 lists no flow of $CLIENT_IP:$WS_PORT" test "$(flows_of $WS_PORT)" = 0
        check "node 3: net.ipv4.tcp_rmem restored ($rmem)" sysctl -qw net.ipv4.tcp_rmem="$rmem"
    fi
    publish ws "$m"
    barrier ws-pub "$ALL"

    # --- nl: nothing listens on node 4's clone port
    m=$(log_mark)
    [ "$RIG_ID" = 4 ] && check "node 4: nginx stopped (nothing listens on :8080)" sc_nginx_stop
    barrier nl-go "$ALL"
    barrier nl-done "$ALL"
    if [ "$RIG_ID" = 4 ]; then
        check "nl: node 4 holds no socket of $CLIENT_IP:$NL_PORT" no_socket_of $NL_PORT
        check "nl: node 4 lists no flow of $CLIENT_IP:$NL_PORT" test "$(flows_of $NL_PORT)" = 0
        check "node 4: nginx on :8080 again" sc_nginx_start
    fi
    publish nl "$m"
    barrier nl-pub "$ALL"

    # --- rc: clones to nodes 3 and 4 work again
    m=$(log_mark)
    barrier rc-go "$ALL"
    barrier rc-done "$ALL"
    publish rc "$m"
    barrier rc-pub "$ALL"

    # --- ki: a keep-alive client idle after a cloned response
    m=$(log_mark)
    barrier ki-go "$ALL"
    if [ "$RIG_ID" = 2 ] || [ "$RIG_ID" = 3 ]; then
        check "ki: the client went idle after the cloned response (its mark)" wait_shared ki.idle $((60 * SLOW))
        sleep 12
        snapshot ki-idle
    fi
    if [ "$RIG_ID" = 3 ]; then
        # The length node 3 reported let node 2 settle the clone when the
        # client acknowledged the response, during the pause.
        check "ki: the clone was reset during the pause: node 3 holds no socket of $CLIENT_IP:$KI_PORT 12 s into it" \
            no_socket_within $KI_PORT 1
    fi
    barrier ki-done "$ALL"
    if [ "$RIG_ID" = 3 ]; then
        check "ki: node 3 reclaimed the entry of $CLIENT_IP:$KI_PORT (within $((60 * SLOW)) s)" \
            reclaimed $KI_PORT $((60 * SLOW))
    fi
    publish ki "$m"
    barrier ki-pub "$ALL"

    # --- fn: the client's FIN during a cloned response
    m=$(log_mark)
    [ "$RIG_ID" = 2 ] && rtcap_start /tmp/fn.pcap
    barrier fn-go "$ALL"
    barrier fn-done "$ALL"
    if [ "$RIG_ID" = 2 ] || [ "$RIG_ID" = 3 ]; then
        check "fn: node $RIG_ID reclaimed the entry of $CLIENT_IP:$FN_PORT (within $((60 * SLOW)) s)" \
            reclaimed $FN_PORT $((60 * SLOW))
    fi
    publish fn "$m"
    if [ "$RIG_ID" = 2 ]; then
        rtcap_stop
        fwd=$(delta ki fn 2 sc_forwarded)
        check "fn: node 2's capture: copies after the client's FIN, none later than the FIN timer, as many as sc_forwarded counted ($fwd)" \
            "$PY" "$EDGES" router /tmp/fn.pcap --client "$CLIENT_IP:$FN_PORT" --vip "$VIP_SC" \
            --clone-ip "$(node_ip 3)" --fin-secs $FIN_SECS --min-after 1 --copies "$fwd" ||
            cp /tmp/fn.pcap "$RIG_OUT/"
    fi
    barrier fn-pub "$ALL"

    # --- ft: the FIN timer expires while the clone is active
    m=$(log_mark)
    [ "$RIG_ID" = 2 ] && rtcap_start /tmp/ft.pcap
    barrier ft-go "$ALL"
    if [ "$RIG_ID" = 2 ] || [ "$RIG_ID" = 3 ]; then
        role=sc-origin
        [ "$RIG_ID" = 3 ] && role=sc-clone
        check "ft: the client half-closed (its mark)" wait_shared ft.fin $((60 * SLOW))
        check "ft: node $RIG_ID lists the $role entry of $CLIENT_IP:$FT_PORT while the client waits" \
            flows_listed $FT_PORT $role
        if [ "$RIG_ID" = 2 ]; then
            # The client waits FT_PAUSE s after its FIN before it reads
            # again: FIN_SECS + 2 s after its mark the timer has run out.
            sleep $((FIN_SECS + 2))
            snapshot ft-timer
        fi
    fi
    barrier ft-done "$ALL"
    if [ "$RIG_ID" = 2 ] || [ "$RIG_ID" = 3 ]; then
        check "ft: node $RIG_ID reclaimed the entry of $CLIENT_IP:$FT_PORT (within $((150 * SLOW)) s)" \
            reclaimed $FT_PORT $((150 * SLOW))
    fi
    publish ft "$m"
    if [ "$RIG_ID" = 2 ]; then
        rtcap_stop
        fwd=$(delta fn ft 2 sc_forwarded)
        check "ft: node 2's capture: copies after the client's FIN and past the FIN timer (the clone's known end was owed), as many as sc_forwarded counted ($fwd)" \
            "$PY" "$EDGES" router /tmp/ft.pcap --client "$CLIENT_IP:$FT_PORT" --vip "$VIP_SC" \
            --clone-ip "$(node_ip 3)" --fin-secs $FIN_SECS --min-after 1 --owed 1 \
            --copies "$fwd" || cp /tmp/ft.pcap "$RIG_OUT/"
        check "ft: sc_forwarded rose after the FIN timer ran out (the client's later ACKs reached the clone)" \
            rose ft-timer ft 2 sc_forwarded 1 1000000
    fi
    barrier ft-pub "$ALL"

    sc_server_stop
    node_teardown
    ;;
client.*)
    log "kernel flavor: $(rig_flavor)"
    sc_client_files $NFILES
    barrier ready "$ALL"
    n2=$(node_mac 2) n3=$(node_mac 3) n4=$(node_mac 4)

    # --- ws
    barrier ws-go "$ALL"
    capture_start /tmp/ws.pcap
    check "ws: one keep-alive GET of /n3/s64k from port $WS_PORT" ka_fetch ws $WS_PORT $((60 * SLOW)) n3/s64k
    capture_stop
    check "ws: the body is byte-exact" bodies_ok /tmp/ws "" n3/s64k
    barrier ws-done "$ALL"
    barrier ws-pub "$ALL"
    s2=$(syn_ack_wscale /tmp/ws.pcap $WS_PORT) s3=$(cat "$RIG_SHARED/ws.shift.node3")
    check "ws: the shifts differ: node 2 announced ${s2:-none} to the client, node 3 announces ${s3:-none}" \
        sh -c "[ -n '$s2' ] && [ -n '$s3' ] && [ '$s2' != '$s3' ]"
    check "ws: node 2 logged fallback:EPROTO and served /n3/s64k itself" \
        log_is ws $WS_PORT "/n3/s64k fallback:EPROTO"
    check "ws: sc_clone_failed rose by 1 on node 2" rose setup ws 2 sc_clone_failed 1 1
    check "ws: sc_clone_refused rose by 1 on node 3" rose setup ws 3 sc_clone_refused 1 1
    check "ws: sc_clone_built did not rise on node 3" rose setup ws 3 sc_clone_built 0 0
    check "ws: node 2 forwarded nothing to node 3 (sc_forwarded)" rose setup ws 2 sc_forwarded 0 0
    check "ws: node 3 dropped no stray copy (sc_stray)" rose setup ws 3 sc_stray 0 0
    check "ws: client capture: no RST, nothing from node 3, nothing after the close" \
        client_capture_ok /tmp/ws.pcap $WS_PORT "$n2" || cp /tmp/ws.pcap "$RIG_OUT/"

    # --- nl
    barrier nl-go "$ALL"
    capture_start /tmp/nl.pcap
    check "nl: one keep-alive GET of /n4/s64k from port $NL_PORT" ka_fetch nl $NL_PORT $((60 * SLOW)) n4/s64k
    capture_stop
    check "nl: the body is byte-exact" bodies_ok /tmp/nl "" n4/s64k
    barrier nl-done "$ALL"
    barrier nl-pub "$ALL"
    check "nl: node 2 logged fallback:ECONNREFUSED and served /n4/s64k itself" \
        log_is nl $NL_PORT "/n4/s64k fallback:ECONNREFUSED"
    check "nl: sc_clone_failed rose by 1 on node 2" rose ws nl 2 sc_clone_failed 1 1
    check "nl: sc_clone_refused rose by 1 on node 4" rose ws nl 4 sc_clone_refused 1 1
    check "nl: sc_clone_built did not rise on node 4" rose ws nl 4 sc_clone_built 0 0
    check "nl: node 2 forwarded nothing to node 4 (sc_forwarded)" rose ws nl 2 sc_forwarded 0 0
    check "nl: node 4 dropped no stray copy (sc_stray)" rose ws nl 4 sc_stray 0 0
    check "nl: client capture: no RST, nothing from node 4, nothing after the close" \
        client_capture_ok /tmp/nl.pcap $NL_PORT "$n2" || cp /tmp/nl.pcap "$RIG_OUT/"

    # --- rc
    # shellcheck disable=SC2086
    set -- $RC
    barrier rc-go "$ALL"
    # shellcheck disable=SC2086
    check "rc: one curl, /n4/s64k then /n3/s64k on one connection" ka_fetch rc $RC_PORT $((60 * SLOW)) $RC
    check "rc: curl connected once" one_connection rc $#
    # shellcheck disable=SC2086
    check "rc: both bodies byte-exact" bodies_ok /tmp/rc "" $RC
    barrier rc-done "$ALL"
    barrier rc-pub "$ALL"
    check "rc: node 2 cloned both again (clone:4, clone:3)" \
        log_is rc $RC_PORT "/n4/s64k clone:4;/n3/s64k clone:3"
    check "rc: sc_clone_built rose on node 4" rose nl rc 4 sc_clone_built 1 1
    check "rc: sc_clone_built rose on node 3" rose nl rc 3 sc_clone_built 1 1

    # --- ki
    barrier ki-go "$ALL"
    capture_start /tmp/ki.pcap
    rm -rf /tmp/ki; mkdir -p /tmp/ki
    check "ki: GET /n3/s64k on a keep-alive connection from port $KI_PORT, $KI_IDLE s idle, then GET /n2/s1k (Connection: close)" \
        "$PY" "$SC_CLIENT" idle --vip "$VIP_SC" --local-port $KI_PORT --path /n3/s64k --out /tmp/ki/00 \
        --then /n2/s1k --then-out /tmp/ki/01 --idle $KI_IDLE --timeout $((30 * SLOW)) \
        --idle-mark "$RIG_SHARED/ki.idle"
    capture_stop
    check "ki: both bodies byte-exact" bodies_ok /tmp/ki "" n3/s64k n2/s1k
    barrier ki-done "$ALL"
    barrier ki-pub "$ALL"
    check "ki: node 2 cloned /n3/s64k and served /n2/s1k itself" \
        log_is ki $KI_PORT "/n3/s64k clone:3;/n2/s1k local"
    check "ki: node 3 reported the response's length (sc_len_reported)" rose rc ki-idle 3 sc_len_reported 1 1
    check "ki: sc_settled rose by 1 on node 2 during the pause" rose rc ki-idle 2 sc_settled 1 1
    check "ki: sc_clone_done rose by 1 on node 3 during the pause" rose rc ki-idle 3 sc_clone_done 1 1
    check "ki: and not again by the next request (sc_settled, node 2)" rose ki-idle ki 2 sc_settled 0 0
    check "ki: node 3 dropped no stray copy (sc_stray)" rose rc ki 3 sc_stray 0 0
    check "ki: client capture: no RST, nothing untranslated, data from nodes 2 and 3 only, nothing after the close" \
        client_capture_ok /tmp/ki.pcap $KI_PORT "$n2,$n3" || cp /tmp/ki.pcap "$RIG_OUT/"

    # --- fn
    barrier fn-go "$ALL"
    capture_start /tmp/fn.pcap
    rm -rf /tmp/fn; mkdir -p /tmp/fn
    check "fn: GET /$FN_PATH (Connection: close) from port $FN_PORT, the client half-closes after the first bytes" \
        "$PY" "$SC_CLIENT" halfclose --vip "$VIP_SC" --local-port $FN_PORT --path "/$FN_PATH" --out /tmp/fn/00 \
        --timeout $((30 * SLOW))
    capture_stop
    check "fn: the body is byte-exact" bodies_ok /tmp/fn "" "$FN_PATH"
    barrier fn-done "$ALL"
    barrier fn-pub "$ALL"
    check "fn: node 2 cloned it (clone:3)" log_is fn $FN_PORT "/$FN_PATH clone:3"
    check "fn: node 3 reported the response's length (sc_len_reported)" rose ki fn 3 sc_len_reported 1 1
    check "fn: sc_settled rose by 1 on node 2" rose ki fn 2 sc_settled 1 1
    check "fn: sc_clone_built rose by 1 on node 3" rose ki fn 3 sc_clone_built 1 1
    check "fn: sc_clone_done rose by 1 on node 3" rose ki fn 3 sc_clone_done 1 1
    check "fn: client capture: no RST, data from node 3, the rest from node 2, nothing after the close" \
        client_capture_ok /tmp/fn.pcap $FN_PORT "$n2,$n3" || cp /tmp/fn.pcap "$RIG_OUT/"

    # --- ft
    barrier ft-go "$ALL"
    capture_start /tmp/ft.pcap
    rm -rf /tmp/ft; mkdir -p /tmp/ft
    # The FIN timer runs out while the clone's known end is owed: the
    # router goes on forwarding the client's ACKs until the client has the
    # whole response (socket-cloning.md, "Closing").
    "$PY" "$SC_CLIENT" halfclose --vip "$VIP_SC" --local-port $FT_PORT --path /n3/s4m --out /tmp/ft/00 \
        --rcvbuf 65536 --pause $FT_PAUSE --timeout $((20 * SLOW)) \
        --fin-mark "$RIG_SHARED/ft.fin" >/tmp/ft.out 2>&1
    log "ft: GET /n3/s4m (Connection: close, 64 KiB receive buffer), half-close, $FT_PAUSE s without reading, then the rest: exit $?, $(cat /tmp/ft.out)"
    capture_stop
    check "ft: the whole body arrived, byte-exact" bodies_ok /tmp/ft "" n3/s4m
    barrier ft-done "$ALL"
    barrier ft-pub "$ALL"
    check "ft: node 2 cloned it (clone:3)" log_is ft $FT_PORT "/n3/s4m clone:3"
    check "ft: node 3 reported the response's length (sc_len_reported)" rose fn ft 3 sc_len_reported 1 1
    check "ft: client capture: no RST, nothing untranslated, data from nodes 2 and 3 only, closed, nothing after the close" \
        client_capture_ok /tmp/ft.pcap $FT_PORT "$n2,$n3" || cp /tmp/ft.pcap "$RIG_OUT/"
    # The original's application stopped waiting (DTS_SO_CLONE_WAIT's
    # bound) and closed while the clone was still sending: its FIN went out
    # after the clone's end, and the clone went on until the client had it.
    check "ft: node 2's FIN reached the client before node 3's last data byte (the original closed during the clone)" \
        fin_before_last_data /tmp/ft.pcap $FT_PORT "$n2" "$n3"
    check "kernel log has no problem report" dmesg_clean
    ;;
esac
