#!/bin/sh
# t21-sc-multifail: Socket Cloning's multiple cloning when something fails
# (Documentation/socket-cloning.md, "Multiple cloning and pipelining" and
# "Failures"), on t20-sc-pipeline's rig (tests/vm/sc-lib.sh: the IPVS
# dispatcher on node 1, nodes 2..4 a 3-node cluster with one service in
# mode "sc", nginx on the clone port 8080, dts-scserver).
# The dispatcher sends every connection to node 2, the original node; /n3/
# and /n4/ are cloned. Each phase is one dts-pipeclient connection writing
# all its requests in one write (the last with Connection: close):
#   rf (a clone refused in the middle of a queue): nginx stopped on node 3;
#       /n4/s1m /n3/s100k /n4/s1k /n3/s4k /n2/s64k /n4/s100k: node 3
#       refuses each /n3/ clone (nothing listens: ECONNREFUSED) while node
#       4's clone is in flight; node 2 serves those itself after the
#       clones before them settled. All answered 200, every body
#       byte-exact and in request order; node 2's log: clone:4 for /n4/,
#       fallback:ECONNREFUSED for /n3/, local for /n2/; sc_clone_refused +2
#       on node 3, sc_clone_failed +2 on node 2, clones held on node 2
#       (sc_held), no sc_multi_reset anywhere; the client's capture
#       (pcap_check.py --sc-senders): no RST, no gap, /n4/ from node 4's
#       MAC, /n3/ and /n2/ from node 2's;
#   ul (a response of unknown length with a clone held behind it):
#       /n4/u/s4k (nginx-sc.conf serves /n4/u/ with SSI on: chunked, no
#       Content-Length) then /n3/s64k: node 2 clones both at once, node 3's
#       clone is held; node 4 reports the length unknown (sc_len_reported),
#       and node 2's router resets the connection (the documented outcome:
#       sc_multi_reset +1 on node 2, the client's connection reset, never a
#       corrupt stream): dts-pipeclient fails with a reset; node 2's log:
#       clone:4, clone:3; node 3 held the clone (sc_held) and was told to
#       end it; the client's capture: an RST from node 2's MAC, no data from
#       node 3's MAC (the held clone never sent);
#   nd (a held clone's node dies): the client slowed down (a receive
#       buffer of 8 KiB, tcp_rmem, and 100 ms netem delay on its eth0), so
#       that node 3's response of 1 MiB takes more than 20 s;
#       /n3/s1m then /n4/s64k: node 4's clone is held behind node
#       3's; once node 4 holds it (its sc_held rose) its eth0 goes down;
#       the mesh marks node 4 down on node 2 and the router resets the
#       connection (sc_multi_reset +1 on node 2, node 3 told): dts-pipeclient
#       fails with a reset; the client's capture: an RST from node 2's MAC,
#       no data from node 4's MAC; node 4's eth0 back up, the mesh heals.
#   ow (the original sends while a clone is held): on node 2 dts-scserver
#       gives way to tests/vm/sc_origwrite.py, which clones /n3/s1m to node
#       3 and /n4/s64k to node 4 (held) and at once writes a response of its
#       own on the original socket: the router drops the segment, sends the
#       client an RST and tells the clones' nodes (sc_multi_reset +1 on node
#       2): dts-pipeclient fails with a reset; the client's capture: an RST
#       from node 2's MAC before any of the original's bytes (none of them
#       reaches the client's stream), no data from node 4's MAC; the
#       original's next read fails with ECONNRESET.
# Every phase: each node's flow entries of the connection are reclaimed, no
# clone's socket seed was stale (sc_seed_stale, sc_seed_mismatch); the
# kernel logs are clean. Written for the default kernel.
# rig-nodes: 4
# rig-boot: own
. "$RIG_REPO/tests/vm/lib.sh"
# shellcheck disable=SC2034   # read by sc-lib.sh
SLOW=1 DEAD_AFTER=3 MKFILES_MAX=1048576 SC_SERVER_ARGS=""
COUNTERS="sc_clone_sent sc_clone_failed sc_clone_built sc_clone_refused sc_clone_done
          sc_forwarded sc_settled sc_stray sc_held sc_released sc_len_reported sc_multi_reset
          sc_tracked sc_seed_stale sc_seed_mismatch"
export MKFILES_MAX
. "$RIG_REPO/tests/vm/sc-lib.sh"   # the SC cluster's set-up (t09's), VIP_SC, SC_LOG, ...

ALL=$(all_vms)
PHASES="rf ul nd ow"
RF="n4/s1m n3/s100k n4/s1k n3/s4k n2/s64k n4/s100k"
UL="n4/u/s4k n3/s64k"
ND="n3/s1m n4/s64k"
OW="n3/s1m n4/s64k"
ORIGWRITE=$RIG_REPO/tests/vm/sc_origwrite.py

# phase_paths PHASE: the phase's request paths.
phase_paths() {
    case $1 in
        rf) echo "$RF" ;;
        ul) echo "$UL" ;;
        nd) echo "$ND" ;;
        ow) echo "$OW" ;;
    esac
}

# phase_port PHASE: the client's port of the phase's connection, from
# node 2's published log ("" if none).
phase_port() {
    _c=$(log_fields conn <"$RIG_SHARED/sc.$1.log.node2" 2>/dev/null | sort -u | head -n 1)
    [ -n "$_c" ] && echo "${_c##*:}"
}

# held_rose SECONDS: poll until this node's sc_held is above its value at
# the phase's start ($HELD0), at most SECONDS.
held_rose() {
    _n=0
    while [ $_n -lt $((5 * $1)) ]; do
        "$DTSCTL" status --json >/tmp/hr.json 2>/dev/null &&
            _h=$(json_get counters.sc_held /tmp/hr.json) &&
            [ "${_h:-0}" -gt "$HELD0" ] && { echo "sc_held $HELD0 -> $_h"; return 0; }
        sleep 0.2; _n=$((_n + 1))
    done
    echo "sc_held still $HELD0 after $1 s"
    return 1
}

# pkts PCAP FILTER: how many packets of PCAP match the tcpdump FILTER.
pkts() { tcpdump -r "$1" -n "$2" 2>/dev/null | wc -l; }

# DATA: a filter's clause for a TCP segment with payload.
DATA="(ip[2:2] - ((ip[0] & 0xf) << 2) - ((tcp[12] & 0xf0) >> 2)) > 0"

# reset_seen PCAP PORT RST_NODE SILENT_NODE: the client's capture of its
# connection from PORT has an RST from the VIP with RST_NODE's MAC and no
# payload from SILENT_NODE's MAC.
reset_seen() {
    _f="tcp and src host $VIP_SC and src port 80 and dst port $2"
    _r=$(pkts "$1" "$_f and ether src $(node_mac "$3") and tcp[tcpflags] & tcp-rst != 0")
    _s=$(pkts "$1" "$_f and ether src $(node_mac "$4") and $DATA")
    _a=$(pkts "$1" "$_f and $DATA")
    echo "RST from node $3: $_r; data segments from node $4: $_s; data segments in all: $_a"
    [ "$_r" -ge 1 ] && [ "$_s" = 0 ]
}

# rst_first PCAP PORT NODE: in the client's capture of its connection from
# PORT, the first RST from the VIP comes before any payload from NODE's MAC
# (and there is one).
rst_first() {
    tcpdump -r "$1" -n "tcp and src host $VIP_SC and src port 80 and dst port $2 and
        (tcp[tcpflags] & tcp-rst != 0 or (ether src $(node_mac "$3") and $DATA))" 2>/dev/null |
        awk '{ print } /Flags \[R/ { r = 1; exit } { d++ } END { printf "%d segment(s) with data before the RST\n", d; exit !(r && d == 0) }'
}

# expect_lines FILE: node 2's log of the phase's connection ("/PATH ACTION"
# lines) equals stdin.
expect_lines() {
    cat >/tmp/exp.txt
    log_fields conn path action <"$1" | awk '{ print $2, $3 }' >/tmp/got.txt
    echo "$(wc -l </tmp/got.txt) request(s) logged, want $(wc -l </tmp/exp.txt)"
    diff /tmp/exp.txt /tmp/got.txt
}

# pipe_reset NAME [--unknown] PATH...: dts-pipeclient as pipe_fetch runs
# it; the connection must end in a reset before every response arrived.
# --unknown: or dts-pipeclient gives up on response 00, whose length it
# cannot tell (it reads no chunked body; the capture shows the reset).
pipe_reset() {
    _name=$1 _unk=""
    shift
    [ "$1" = --unknown ] && { _unk=1; shift; }
    rm -rf "/tmp/$_name"; mkdir -p "/tmp/$_name"
    _paths=""
    for _p in "$@"; do _paths="$_paths /$_p"; done
    # shellcheck disable=SC2086
    "$PIPECLIENT" --connect "$VIP_SC:80" --host sc --out "/tmp/$_name" --timeout 120 --close $_paths \
        >"/tmp/$_name.out" 2>"/tmp/$_name.err"
    _rc=$?
    cat "/tmp/$_name.out" "/tmp/$_name.err"
    echo "exit $_rc"
    [ "$_rc" != 0 ] || return 1
    grep -q "connection reset after" "/tmp/$_name.err" ||
        { [ -n "$_unk" ] && grep -q "response 00: response body length unknown" "/tmp/$_name.err"; }
}

case "$RIG_ROLE.$RIG_ID" in
node.1)
    log "kernel flavor: $(rig_flavor)"
    sc_dispatcher_setup
    sc_ipvs_weights 1 0 0
    barrier ready "$ALL"
    for ph in $PHASES; do
        for b in go done pub rcl; do barrier "$ph-$b" "$ALL"; done
    done
    sc_dispatcher_teardown
    ;;
node.*)
    log "kernel flavor: $(rig_flavor)"
    sc_node_setup
    barrier ready "$ALL"
    for ph in $PHASES; do
        m=$(log_mark)
        [ "$ph.$RIG_ID" = rf.3 ] && check "rf: node 3: nginx stopped (nothing listens on :8080)" sc_nginx_stop
        if [ "$ph.$RIG_ID" = ow.2 ]; then
            sc_server_stop nd
            rm -f /tmp/ow.ready
            "$PY" "$ORIGWRITE" --listen "$VIP_SC:80" --nodes 3,4 --log "$SC_LOG" --ready /tmp/ow.ready \
                </dev/null >/tmp/ow.out 2>&1 &
            owpid=$!
            check "ow: node 2: sc_origwrite.py listens on $VIP_SC:80 instead of dts-scserver" sh -c "
                n=0; while [ ! -e /tmp/ow.ready ] && [ \$n -lt 100 ]; do sleep 0.2; n=\$((n + 1)); done
                [ -e /tmp/ow.ready ]"
        fi
        if [ "$ph.$RIG_ID" = nd.4 ]; then
            "$DTSCTL" status --json >/tmp/hr.json
            HELD0=$(json_get counters.sc_held /tmp/hr.json)
        fi
        barrier "$ph-go" "$ALL"
        if [ "$ph.$RIG_ID" = nd.4 ]; then
            check "nd: node 4 holds a clone (sc_held rose)" held_rose 60
            check "nd: node 4: eth0 down while its clone is held" ip link set eth0 down
        fi
        barrier "$ph-done" "$ALL"
        [ "$ph.$RIG_ID" = rf.3 ] && check "rf: node 3: nginx on :8080 again" sc_nginx_start
        if [ "$ph.$RIG_ID" = ow.2 ]; then
            wait "$owpid"
            rc=$?
            check "ow: node 2: sc_origwrite.py made both clones (exit $rc)" test "$rc" = 0
            cp /tmp/ow.out "$RIG_OUT/origwrite.out"
        fi
        if [ "$ph" = nd ]; then
            [ "$RIG_ID" = 4 ] && check "nd: node 4: eth0 up again" ip link set eth0 up
            check "nd: node $RIG_ID sees every peer up again (dtsctl peers --wait)" "$DTSCTL" peers --wait 120
        fi
        # The settling of the last clone trails the client's last byte.
        sleep 1
        publish "$ph" "$m"
        barrier "$ph-pub" "$ALL"
        port=$(phase_port "$ph")
        check "$ph: node $RIG_ID reclaimed the entries of $CLIENT_IP:${port:-?} (within 90 s)" \
            reclaimed "${port:-0}" 90
        barrier "$ph-rcl" "$ALL"
    done
    sc_server_stop
    node_teardown
    ;;
client.*)
    log "kernel flavor: $(rig_flavor)"
    sc_client_files 21
    barrier ready "$ALL"
    prev=setup
    for ph in $PHASES; do
        # shellcheck disable=SC2046
        set -- $(phase_paths "$ph")
        if [ "$ph" = nd ]; then
            rmem=$(sysctl -n net.ipv4.tcp_rmem)
            check "nd: the client slowed: tcp_rmem 4096 8192 8192, 100 ms delay on eth0" sh -c "
                sysctl -q -w net.ipv4.tcp_rmem='4096 8192 8192' &&
                tc qdisc replace dev eth0 root netem delay 100ms"
        fi
        barrier "$ph-go" "$ALL"
        capture_start "/tmp/$ph.pcap"
        if [ "$ph" = rf ]; then
            check "rf: dts-pipeclient, $# requests in one write, all answered 200" pipe_fetch rf 120 "$@"
        elif [ "$ph" = ul ]; then
            check "ul: dts-pipeclient, $# requests in one write: reset, or it gave up on response 00 (chunked)" \
                pipe_reset ul --unknown "$@"
        else
            check "$ph: dts-pipeclient, $# requests in one write: the connection is reset" pipe_reset "$ph" "$@"
        fi
        capture_stop
        if [ "$ph" = nd ]; then
            tc qdisc del dev eth0 root
            check "nd: the client's tcp_rmem restored ($rmem)" sysctl -q -w net.ipv4.tcp_rmem="$rmem"
        fi
        barrier "$ph-done" "$ALL"
        barrier "$ph-pub" "$ALL"
        f=$RIG_SHARED/sc.$ph.log.node2
        sed "s/^/$ph: logged: /" "$f" >>"$RIG_OUT/log.txt"
        conn=$(log_fields conn <"$f" 2>/dev/null | sort -u | tr '\n' ' ')
        conn=${conn% }
        check "$ph: node 2 took one connection (${conn:-none})" test "${conn:-x}" = "${conn%% *}"
        for k in 3 4; do
            check "$ph: node $k's scserver took no connection" test ! -s "$RIG_SHARED/sc.$ph.log.node$k"
        done
        port=${conn##*:}
        case $ph in
        rf)
            check "rf: all $# bodies byte-exact, in request order" bodies_ok /tmp/rf .body "$@"
            for p in "$@"; do
                case $p in
                    n4/*) echo "/$p clone:4" ;;
                    n3/*) echo "/$p fallback:ECONNREFUSED" ;;
                    *) echo "/$p local" ;;
                esac
            done | check "rf: node 2's log: clone:4 for /n4/, fallback:ECONNREFUSED for /n3/, local for /n2/" \
                expect_lines "$f"
            d=$(delta "$prev" rf 3 sc_clone_refused)
            check "rf: node 3 refused the 2 /n3/ clones (sc_clone_refused +$d)" test "$d" = 2
            d=$(delta "$prev" rf 2 sc_clone_failed)
            check "rf: 2 clones failed on node 2 (sc_clone_failed +$d)" test "$d" = 2
            d=$(delta "$prev" rf 3 sc_clone_built)
            check "rf: node 3 built no clone (sc_clone_built +$d)" test "$d" = 0
            d=$(delta "$prev" rf 2 sc_held)
            check "rf: clones held behind node 4's on node 2 (sc_held +$d)" test "$d" -ge 1
            senders=""
            for p in "$@"; do
                case $p in n4/*) x=4 ;; *) x=2 ;; esac
                senders="$senders${senders:+,}$(node_mac "$x")"
            done
            if ! check "rf: capture: no RST, no gap, /n4/ from node 4's MAC, /n3/ and /n2/ from node 2's" \
                "$PY" "$PCAP_CHECK" /tmp/rf.pcap --client "$conn" --server "$VIP_SC:80" \
                    --owner-mac "$(node_mac 2)" --sc-senders "$senders" --expect-status 200; then
                cp /tmp/rf.pcap "$RIG_OUT/"
            fi
            for k in 2 3 4; do
                d=$(delta "$prev" rf "$k" sc_multi_reset)
                check "rf: no connection reset on node $k (sc_multi_reset +$d)" test "$d" = 0
            done
            ;;
        ul)
            printf '/%s clone:4\n/%s clone:3\n' "$1" "$2" |
                check "ul: node 2's log: /$1 clone:4, /$2 clone:3 (held)" expect_lines "$f"
            d=$(delta "$prev" ul 4 sc_len_reported)
            check "ul: node 4 reported its clone's response length (sc_len_reported +$d)" test "$d" -ge 1
            d=$(delta "$prev" ul 3 sc_held)
            check "ul: node 3 held its clone (sc_held +$d)" test "$d" -ge 1
            d=$(delta "$prev" ul 2 sc_multi_reset)
            check "ul: node 2 reset the connection for the clone held behind an unknown length (sc_multi_reset +$d)" \
                test "$d" = 1
            for k in 3 4; do
                d=$(delta "$prev" ul "$k" sc_multi_reset)
                check "ul: node $k reset nothing itself (sc_multi_reset +$d)" test "$d" = 0
            done
            check "ul: capture: an RST from node 2's MAC, no data from node 3's (the held clone)" \
                reset_seen /tmp/ul.pcap "$port" 2 3 || cp /tmp/ul.pcap "$RIG_OUT/"
            ;;
        nd)
            printf '/%s clone:3\n/%s clone:4\n' "$1" "$2" |
                check "nd: node 2's log: /$1 clone:3, /$2 clone:4 (held)" expect_lines "$f"
            d=$(delta "$prev" nd 2 sc_held)
            check "nd: node 2 held node 4's clone (sc_held +$d)" test "$d" -ge 1
            d=$(delta "$prev" nd 2 sc_multi_reset)
            check "nd: node 2 reset the connection when node 4 died (sc_multi_reset +$d)" test "$d" = 1
            d=$(delta "$prev" nd 2 sc_released)
            check "nd: node 2 released no clone to node 4 (sc_released +$d)" test "$d" = 0
            check "nd: capture: an RST from node 2's MAC, no data from node 4's (the held clone)" \
                reset_seen /tmp/nd.pcap "$port" 2 4 || cp /tmp/nd.pcap "$RIG_OUT/"
            ;;
        ow)
            printf '/%s clone:3\n/%s clone:4\n' "$1" "$2" |
                check "ow: node 2's log: /$1 clone:3, /$2 clone:4 (held)" expect_lines "$f"
            check "ow: node 2's original wrote, then its read failed with ECONNRESET" sh -c "
                grep -q 'note=original-wrote' '$f' && grep -q 'note=read-failed errno=104' '$f'"
            d=$(delta "$prev" ow 2 sc_held)
            check "ow: node 2 held node 4's clone (sc_held +$d)" test "$d" -ge 1
            d=$(delta "$prev" ow 2 sc_multi_reset)
            check "ow: node 2 reset the connection when the original sent (sc_multi_reset +$d)" test "$d" = 1
            check "ow: capture: an RST from node 2's MAC, no data from node 4's (the held clone)" \
                reset_seen /tmp/ow.pcap "$port" 2 4 || cp /tmp/ow.pcap "$RIG_OUT/"
            check "ow: capture: the RST before any of the original's bytes" \
                rst_first /tmp/ow.pcap "$port" 2 || cp /tmp/ow.pcap "$RIG_OUT/"
            ;;
        esac
        d=$(delta "$prev" "$ph" 2 sc_seed_stale)
        check "$ph: every clone's socket seed matched the socket on node 2 (sc_seed_stale +$d)" test "$d" = 0
        for k in 3 4; do
            d=$(delta "$prev" "$ph" "$k" sc_seed_mismatch)
            check "$ph: node $k refused no seed (sc_seed_mismatch +$d)" test "$d" = 0
        done
        # The reset phases' captures (small) stay with the results.
        [ "$ph" = rf ] || cp "/tmp/$ph.pcap" "$RIG_OUT/" 2>/dev/null
        rm -rf "/tmp/$ph" "/tmp/$ph.pcap"
        barrier "$ph-rcl" "$ALL"
        prev=$ph
    done
    check "kernel log has no problem report" dmesg_clean
    ;;
esac
