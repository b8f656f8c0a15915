#!/bin/sh
# t20-sc-pipeline: Socket Cloning's multiple cloning (Documentation/
# socket-cloning.md, "Multiple cloning and pipelining"): several pipelined
# requests of one connection cloned to different nodes at once, the
# responses in request order, the lengths learnt from the clones' nodes (no
# HEAD probe). The rig is t09-sc's (4 nodes + client: node 1 an IPVS
# direct-routing dispatcher for 10.0.0.200:80, nodes 2..4 a 3-node cluster
# with one service in mode "sc", nginx on the clone port 8080, the same
# files on every node), with dts-scserver --resp-len kernel:
#   pp: dts-pipeclient writes 8 requests in one write (the last with
#       Connection: close) for files of nodes 2, 3 and 4: all answered 200,
#       every body byte-exact, in request order; the accepting node's log
#       has the 8 requests in order, local for its own paths and clone:X
#       for node X's (no fallback); clones were held and released
#       (sc_held, sc_released on the original node), the clones' nodes
#       reported lengths (sc_len_reported), no connection was reset
#       (sc_multi_reset); the client's capture (pcap_check.py --sc-senders)
#       has no RST, no gap, and each response from the MAC of the node that
#       owns its path;
#   pl: the same with 1 % loss and 25 % reordering (netem, delay 2 ms) on
#       the client's and nodes 2..4's eth0.
# Written for the default kernel (files of at most 1 MiB).
# rig-nodes: 4
# rig-boot: own
. "$RIG_REPO/tests/vm/lib.sh"

ALL=$(all_vms)
VIP_SC=10.0.0.200
MKFILES=$RIG_REPO/tests/vm/mkfiles.py
PCAP_CHECK=$RIG_REPO/tests/vm/pcap_check.py
NGINX_CONF=$RIG_REPO/tests/vm/nginx-sc.conf   # lib.sh's nginx_stop/-collect use it
case ${DTSCTL:-dtsctl} in
    */*) TOOLS=${DTSCTL%/*}/ ;;
    *)   TOOLS= ;;
esac
SCSERVER=${TOOLS}dts-scserver
PIPECLIENT=${TOOLS}dts-pipeclient
SC_LOG=$RIG_OUT/scserver.log
COUNTERS="sc_clone_sent sc_clone_failed sc_clone_built sc_clone_refused sc_clone_done
          sc_forwarded sc_settled sc_stray sc_held sc_released sc_len_reported sc_multi_reset"
SLOW=1 DEAD_AFTER=3 MKFILES_MAX=1048576
export MKFILES_MAX
# 8 requests, files of nodes 2, 3 and 4 (at most 1 MiB).
PP="n2/s64k n3/s100k n4/s1m n3/s4k n4/s64k n2/s1k n3/s1m n4/s100k"
PHASES="pp pl"

# --- helpers (copied from t09-sc.sh; helper "scedge" moves t09's set-up
# into tests/vm/lib.sh: replace these copies with it on merge) ------------------

log_fields() {
    awk -v want="$*" 'BEGIN { n = split(want, w, " ") }
        /(^| )conn=/ && / action=/ {
            split("", kv)
            for (i = 1; i <= NF; i++) {
                p = index($i, "=")
                if (p > 1) kv[substr($i, 1, p - 1)] = substr($i, p + 1)
            }
            line = ""
            for (j = 1; j <= n; j++) {
                v = (w[j] in kv) ? kv[w[j]] : "?"
                if (w[j] == "path") sub(/^\/*/, "/", v)
                line = line (j > 1 ? " " : "") v
            }
            print line
        }'
}

sc_config() {
    cat <<EOF
self = $RIG_ID

[mesh]
port = 7470
heartbeat_ms = 500
dead_after = $DEAD_AFTER
secret = "dts-test-rig-mesh-secret-0001"

[[node]]
id = 2
addr = "10.0.0.12"

[[node]]
id = 3
addr = "10.0.0.13"

[[node]]
id = 4
addr = "10.0.0.14"

[[service]]
vip = "$VIP_SC"
port = 80
mode = "sc"
clone_port = 8080
nodes = [2, 3, 4]
EOF
}

sc_nginx_start() {
    mkdir -p /tmp/www /tmp/nginx/tmp
    if ! nginx -e /tmp/nginx/error.log -c "$NGINX_CONF" -p "$NGINX_PREFIX"; then
        cat /tmp/nginx/error.log 2>/dev/null
        return 1
    fi
    _n=0
    while [ $_n -lt 50 ]; do
        [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 http://127.0.0.1:8080/n2/s1)" = 200 ] &&
            return 0
        sleep 0.2; _n=$((_n + 1))
    done
    echo "nginx does not serve /n2/s1 on port 8080"
    cat /tmp/nginx/error.log 2>/dev/null
    return 1
}

sc_server_start() {
    [ -x "$SCSERVER" ] || { echo "no dts-scserver at $SCSERVER"; return 1; }
    if [ "${1:-}" = config ]; then
        { sc_config; printf '\n[policy]\nname = "chash"\n'; } >/tmp/sc-chash.toml
        set -- --config /tmp/sc-chash.toml
    else
        printf '/n2/ 2\n/n3/ 3\n/n4/ 4\n' >/tmp/sc.map
        set -- --self-node "$RIG_ID" --map /tmp/sc.map
    fi
    "$SCSERVER" --listen "$VIP_SC:80" --root /tmp/www "$@" \
        --node 2=10.0.0.12 --node 3=10.0.0.13 --node 4=10.0.0.14 --clone-port 8080 \
        --resp-len kernel --log "$SC_LOG" </dev/null >/tmp/scserver.out 2>&1 &
    _scpid=$!
    echo $_scpid >/tmp/scserver.pid
    _n=0
    while [ $_n -lt $((300 * SLOW)) ]; do
        sleep 0.2; _n=$((_n + 1))
        if ! kill -0 "$_scpid" 2>/dev/null; then
            echo "dts-scserver exited:"; cat /tmp/scserver.out
            return 1
        fi
        # /proc/net/tcp: "sl local rem st ...", port 80 = 0050, 0A = LISTEN
        # (nginx-sc.conf keeps nginx off port 80).
        awk 'substr($2, length($2) - 4) == ":0050" && $4 == "0A" { f = 1 } END { exit !f }' \
            /proc/net/tcp && return 0
    done
    echo "dts-scserver does not listen on port 80:"; cat /tmp/scserver.out
    return 1
}

sc_server_stop() {
    [ -f /tmp/scserver.pid ] || return 0
    _pid=$(cat /tmp/scserver.pid)
    kill "$_pid" 2>/dev/null
    _n=0
    while kill -0 "$_pid" 2>/dev/null && [ $_n -lt 50 ]; do sleep 0.2; _n=$((_n + 1)); done
    kill -9 "$_pid" 2>/dev/null
    rm -f /tmp/scserver.pid
    cp /tmp/scserver.out "$RIG_OUT/scserver${1:+-$1}.out" 2>/dev/null
    return 0
}

snapshot() {
    "$DTSCTL" status --json >/tmp/st.json || return 1
    # shellcheck disable=SC2086
    dts_counter_values /tmp/st.json $COUNTERS >/tmp/cnt.txt
    _rc=$?
    cp /tmp/cnt.txt "$RIG_SHARED/sc.cnt.$1.node$RIG_ID"
    return $_rc
}

log_mark() {
    if [ -f "$SC_LOG" ]; then wc -l <"$SC_LOG"; else echo 0; fi
}

publish() {
    tail -n +"$(($2 + 1))" "$SC_LOG" 2>/dev/null | grep 'conn=' >"$RIG_SHARED/sc.$1.log.node$RIG_ID"
    snapshot "$1" || log "counters after $1 not all readable: $(cat /tmp/cnt.txt)"
}

pipe_fetch() {
    _name=$1 _to=$2
    shift 2
    [ -x "$PIPECLIENT" ] || { echo "no dts-pipeclient at $PIPECLIENT"; return 1; }
    rm -rf "/tmp/$_name"; mkdir -p "/tmp/$_name"
    _paths=""
    for _p in "$@"; do _paths="$_paths /$_p"; done
    # shellcheck disable=SC2086
    "$PIPECLIENT" --connect "$VIP_SC:80" --host sc --out "/tmp/$_name" --timeout "$_to" --close $_paths \
        >"/tmp/$_name.out" 2>"/tmp/$_name.err"
    _rc=$?
    cat "/tmp/$_name.out" "/tmp/$_name.err"
    _ok=$(awk '$2 == 200' "/tmp/$_name.out" | wc -l)
    echo "exit $_rc, $_ok of $# responses 200"
    [ "$_rc" = 0 ] && [ "$_ok" = "$#" ]
}

bodies_ok() {
    _d=$1 _sfx=$2
    shift 2
    _i=0 _files=""
    for _p in "$@"; do
        _n=$_i; [ "$_n" -lt 10 ] && _n=0$_n
        _files="$_files $_d/$_n$_sfx"
        _i=$((_i + 1))
    done
    # shellcheck disable=SC2086
    sha256sum $_files >/tmp/bodies.sum 2>/dev/null
    # shellcheck disable=SC2086
    stat -c '%n %s' $_files >/tmp/bodies.size 2>/dev/null
    awk -v paths="$*" -v files="$_files" '
        FILENAME == "/tmp/sha.txt" { want[$2] = $1; next }
        FILENAME == "/tmp/bodies.size" { size[$1] = $2; next }
        { got[$2] = $1 }
        END {
            n = split(paths, p, " "); split(files, f, " "); bad = 0
            for (i = 1; i <= n; i++) {
                w = (p[i] in want) ? want[p[i]] : ""
                g = (f[i] in got) ? got[f[i]] : ""
                if (w == "" || g != w) {
                    bad++
                    printf "request %d /%s: %s bytes, sha256 %s, want %s\n", i, p[i],
                        (f[i] in size) ? size[f[i]] : "no", (g == "" ? "none" : g), (w == "" ? "?" : w)
                }
            }
            printf "%d bodies, %d wrong\n", n, bad
            exit bad != 0
        }' /tmp/sha.txt /tmp/bodies.size /tmp/bodies.sum
}

nodes_with() {
    _w=""
    for _k in 2 3 4; do
        _f=$RIG_SHARED/sc.$1.log.node$_k
        [ -s "$_f" ] || continue
        if [ -z "${2:-}" ] || log_fields conn <"$_f" | grep -qx "$2"; then
            _w="$_w${_w:+ }$_k"
        fi
    done
    echo "$_w"
}

expected_actions() {
    _o=$1
    shift
    for _p in "$@"; do
        _x=${_p#n}; _x=${_x%%/*}
        if [ "$_x" = "$_o" ]; then echo "/$_p local"; else echo "/$_p clone:$_x"; fi
    done
}

actions_ok() {
    _file=$1 _conn=$2
    shift 2
    expected_actions "$@" >/tmp/exp.txt
    log_fields conn path action <"$_file" | awk -v c="$_conn" '$1 == c { print $2, $3 }' >/tmp/got.txt
    echo "$(wc -l </tmp/got.txt) request(s) logged on $_conn, want $(wc -l </tmp/exp.txt)"
    diff /tmp/exp.txt /tmp/got.txt
}

cnt() { counter_value "$3" "$RIG_SHARED/sc.cnt.$1.node$2" 2>/dev/null || echo "?"; }
# delta FROM TO NODE NAME: how much NAME rose on NODE between two snapshots.
delta() {
    _a=$(cnt "$1" "$3" "$4") _b=$(cnt "$2" "$3" "$4")
    case "$_a$_b" in *"?"*) echo "?" ;; *) echo $((_b - _a)) ;; esac
}

# netem_on / netem_off: 1 % loss and 25 % reordering (netem reorders only
# delayed packets: 2 ms) on eth0.
netem_on() { tc qdisc replace dev eth0 root netem delay 2ms reorder 25% loss 1%; }
netem_off() { tc qdisc del dev eth0 root 2>/dev/null; return 0; }

case "$RIG_ROLE.$RIG_ID" in
node.1)
    log "kernel flavor: $(rig_flavor)"
    check "VIP $VIP_SC on node 1's eth0 (it answers ARP)" ip addr add "$VIP_SC/32" dev eth0
    check "ipvsadm: $VIP_SC:80 rr over nodes 2, 3, 4 (direct routing)" sh -c "
        ipvsadm -A -t $VIP_SC:80 -s rr &&
        for i in 2 3 4; do ipvsadm -a -t $VIP_SC:80 -r 10.0.0.1\$i:80 -g || exit 1; done"
    barrier ready "$ALL"
    for ph in $PHASES; do
        barrier "$ph-go" "$ALL"; barrier "$ph-done" "$ALL"; barrier "$ph-pub" "$ALL"
    done
    ipvsadm -C
    ip addr del "$VIP_SC/32" dev eth0
    node_teardown
    ;;
node.*)
    log "kernel flavor: $(rig_flavor)"
    check "VIP $VIP_SC on lo" ip addr add "$VIP_SC/32" dev lo
    sc_config >/tmp/sc.toml
    check "dtsctl apply -f (self = $RIG_ID, service $VIP_SC:80 mode sc, clone port 8080)" \
        "$DTSCTL" apply -f /tmp/sc.toml
    check "control mesh formed (dtsctl peers --wait)" "$DTSCTL" peers --wait 120
    check "dtsctl zero" "$DTSCTL" zero
    check "SC counters in dtsctl status --json" snapshot setup
    check "files generated (mkfiles.py /tmp/www)" "$PY" "$MKFILES" /tmp/www
    check "nginx on the clone port 8080" sc_nginx_start
    check "dts-scserver --resp-len kernel listens on $VIP_SC:80" sc_server_start
    barrier ready "$ALL"
    for ph in $PHASES; do
        m=$(log_mark)
        [ "$ph" = pl ] && check "netem: 1 % loss, 25 % reordering on eth0" netem_on
        barrier "$ph-go" "$ALL"
        barrier "$ph-done" "$ALL"
        [ "$ph" = pl ] && netem_off
        # The settling of the last clone trails the client's last byte.
        sleep 1
        publish "$ph" "$m"
        barrier "$ph-pub" "$ALL"
    done
    sc_server_stop
    node_teardown
    ;;
client.*)
    log "kernel flavor: $(rig_flavor)"
    check "expected files: sha256 (mkfiles.py --sha)" sh -c "
        '$PY' '$MKFILES' --sha /tmp/www >/tmp/sha.txt && [ -s /tmp/sha.txt ]"
    barrier ready "$ALL"
    prev=setup
    for ph in $PHASES; do
        # shellcheck disable=SC2086
        set -- $PP
        what="no loss"
        reord=""
        if [ "$ph" = pl ]; then
            check "netem: 1 % loss, 25 % reordering on eth0" netem_on
            what="1 % loss, 25 % reordering"
            reord=--reordered
        fi
        barrier "$ph-go" "$ALL"
        capture_start "/tmp/$ph.pcap"
        # shellcheck disable=SC2086
        check "$ph ($what): dts-pipeclient, $# requests in one write, all answered 200" \
            pipe_fetch "$ph" 120 $PP
        capture_stop
        [ "$ph" = pl ] && netem_off
        barrier "$ph-done" "$ALL"
        # shellcheck disable=SC2086
        check "$ph: all $# bodies byte-exact, in request order" bodies_ok "/tmp/$ph" .body $PP
        barrier "$ph-pub" "$ALL"
        orig=$(nodes_with "$ph")
        check "$ph: exactly one node's scserver took the connection (node(s): ${orig:-none})" \
            test "${orig:-x}" = "${orig%% *}"
        orig=${orig%% *}
        orig=${orig:-2}
        f=$RIG_SHARED/sc.$ph.log.node$orig
        conn=$(log_fields conn <"$f" 2>/dev/null | sort -u | tr '\n' ' ')
        conn=${conn% }
        check "$ph: one connection logged (${conn:-none})" test "${conn:-x}" = "${conn%% *}"
        # shellcheck disable=SC2086
        check "$ph: node$orig's log: the $# requests in order, local for /n$orig/, clone:X for /nX/" \
            actions_ok "$f" "$conn" "$orig" $PP
        sed "s/^/$ph: logged: /" "$f" >>"$RIG_OUT/log.txt"
        d=$(delta "$prev" "$ph" "$orig" sc_held)
        check "$ph: clones held behind others on node$orig (sc_held +$d)" test "$d" -ge 1
        d=$(delta "$prev" "$ph" "$orig" sc_released)
        check "$ph: held clones released on node$orig (sc_released +$d)" test "$d" -ge 1
        d=$(delta "$prev" "$ph" "$orig" sc_clone_failed)
        check "$ph: no clone failed on node$orig ($d)" test "$d" = 0
        for k in 2 3 4; do
            [ "$k" = "$orig" ] && continue
            d=$(delta "$prev" "$ph" "$k" sc_len_reported)
            check "$ph: node$k reported its clones' response lengths (sc_len_reported +$d)" test "$d" -ge 1
        done
        for k in 2 3 4; do
            d=$(delta "$prev" "$ph" "$k" sc_multi_reset)
            check "$ph: no connection reset for clones out of place on node$k ($d)" test "$d" = 0
        done
        senders=""
        for p in $PP; do
            x=${p#n}; x=${x%%/*}
            senders="$senders${senders:+,}$(node_mac "$x")"
        done
        # shellcheck disable=SC2086
        if ! check "$ph: capture: no RST, no gap, each response from the MAC of the node owning its path" \
            "$PY" "$PCAP_CHECK" "/tmp/$ph.pcap" --client "$conn" --server "$VIP_SC:80" \
                --owner-mac "$(node_mac "$orig")" --sc-senders "$senders" --expect-status 200 $reord; then
            cp "/tmp/$ph.pcap" "$RIG_OUT/"
        fi
        rm -rf "/tmp/$ph" "/tmp/$ph.pcap"
        prev=$ph
    done
    check "kernel log has no problem report" dmesg_clean
    ;;
esac
