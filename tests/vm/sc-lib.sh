# Socket Cloning cluster helpers for VM tests (POSIX sh), shared by t09-sc,
# t19-sc-edges and t20-sc-pipeline. Source it after lib.sh:
#   . "$RIG_REPO/tests/vm/lib.sh"
#   . "$RIG_REPO/tests/vm/sc-lib.sh"
#
# The topology (4 nodes + client, Documentation/socket-cloning.md):
#   node 1:     the IPVS dispatcher (sc_dispatcher_setup): VIP_SC on its eth0
#               (it answers ARP for it), rr over nodes 2, 3, 4 as direct
#               routing real servers; the module is loaded, unconfigured;
#   nodes 2..4: sc_node_setup: VIP_SC on lo, `dtsctl apply -f` of a 3-node
#               cluster (sc_config: mesh on port 7470, one service
#               VIP_SC:80 in mode "sc", clone port 8080), the files of
#               tests/vm/mkfiles.py under /tmp/www, stock nginx on 8080 only
#               (tests/vm/nginx-sc.conf), the clones' server, and
#               dts-scserver on VIP_SC:80 with the owner map /nX/ -> node X;
#   client:     sc_client_files: the files' sha256 and sizes.
#
# Settings (set before calling; defaults below): SLOW (timeouts' factor,
# 1), DEAD_AFTER (the mesh's dead_after, 3), COUNTERS (the counters
# snapshot saves), SC_VERIFY_FILES (1: check the generated files' sha256 on
# every node), SC_SERVER_ARGS (more dts-scserver options, e.g.
# --max-inflight 1), MKFILES_MAX (exported: mkfiles.py's largest file),
# SC_MAX_INFLIGHT (set: sc_config adds `[limits] sc_max_inflight`, read
# whenever sc_config runs; empty: the key is left out, the default 8).

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
: "${SLOW:=1}" "${DEAD_AFTER:=3}" "${SC_VERIFY_FILES:=0}" "${SC_SERVER_ARGS:=}"
: "${SC_MAX_INFLIGHT:=}"
: "${COUNTERS:=sc_clone_sent sc_clone_failed sc_clone_built sc_clone_refused sc_clone_done
          sc_forwarded sc_settled sc_stray sc_ns_total}"

# --- set-up ------------------------------------------------------------------------

# sc_dispatcher_setup: node 1 becomes the IPVS dispatcher (checks).
sc_dispatcher_setup() {
    check "VIP $VIP_SC on node 1's eth0 (it answers ARP)" ip addr add "$VIP_SC/32" dev eth0
    check "ipvsadm: $VIP_SC:80 rr over nodes 2, 3, 4 (direct routing)" sh -c "
        ipvsadm -A -t $VIP_SC:80 -s rr &&
        for i in 2 3 4; do ipvsadm -a -t $VIP_SC:80 -r 10.0.0.1\$i:80 -g || exit 1; done"
    ipvsadm -Ln >>"$RIG_OUT/log.txt"
}

# sc_ipvs_weights W2 W3 W4: the real servers' weights (0: no new
# connections), as a check.
sc_ipvs_weights() {
    check "ipvsadm: weights node2 $1, node3 $2, node4 $3" sh -c "
        ipvsadm -e -t $VIP_SC:80 -r 10.0.0.12:80 -g -w $1 &&
        ipvsadm -e -t $VIP_SC:80 -r 10.0.0.13:80 -g -w $2 &&
        ipvsadm -e -t $VIP_SC:80 -r 10.0.0.14:80 -g -w $3"
    ipvsadm -Ln >>"$RIG_OUT/log.txt"
}

# sc_dispatcher_teardown: node 1's end (IPVS statistics to $RIG_OUT).
sc_dispatcher_teardown() {
    ipvsadm -Ln --stats >"$RIG_OUT/ipvs-stats.txt" 2>&1
    ipvsadm -C
    ip addr del "$VIP_SC/32" dev eth0
    node_teardown
}

# sc_config: this node's cluster file.
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
    [ -z "$SC_MAX_INFLIGHT" ] || printf '\n[limits]\nsc_max_inflight = %s\n' "$SC_MAX_INFLIGHT"
}

# sc_node_setup: a serving node (2..4) up to dts-scserver listening (checks);
# the counters' snapshot "setup" is taken after `dtsctl zero`.
sc_node_setup() {
    check "VIP $VIP_SC on lo" ip addr add "$VIP_SC/32" dev lo
    sc_config >/tmp/sc.toml
    check "dtsctl apply -f (self = $RIG_ID, service $VIP_SC:80 mode sc, clone port 8080)" \
        "$DTSCTL" apply -f /tmp/sc.toml
    check "control mesh formed (dtsctl peers --wait)" "$DTSCTL" peers --wait 120
    "$DTSCTL" config show >>"$RIG_OUT/log.txt" 2>&1
    check "dtsctl zero" "$DTSCTL" zero
    check "SC counters in dtsctl status --json" snapshot setup
    check "files generated (mkfiles.py /tmp/www)" "$PY" "$MKFILES" /tmp/www
    [ "$SC_VERIFY_FILES" = 0 ] || check "files on disk match mkfiles.py --sha" \
        sh -c "cd /tmp/www && '$PY' '$MKFILES' --sha /tmp/www | sha256sum -c --quiet"
    check "nginx on the clone port 8080" sc_nginx_start
    check "dts-scserver listens on $VIP_SC:80" sc_server_start
}

# sc_client_files COUNT: the client's expected files (/tmp/sha.txt,
# /tmp/sizes.txt from mkfiles.py --sha, --list), COUNT of them (a check).
sc_client_files() {
    check "expected files: sha256 and sizes (mkfiles.py --sha, --list)" sh -c "
        '$PY' '$MKFILES' --sha /tmp/www >/tmp/sha.txt && '$PY' '$MKFILES' --list /tmp/www >/tmp/sizes.txt &&
        [ \$(wc -l </tmp/sha.txt) = $1 ]"
}

# sc_nginx_start: nginx on port 8080 only (tests/vm/nginx-sc.conf).
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

# sc_nginx_stop: nginx stops at once (-s stop); returns once its master has
# exited and nothing listens on port 8080 any more (10 s at most).
sc_nginx_stop() {
    nginx -e /tmp/nginx/error.log -c "$NGINX_CONF" -p "$NGINX_PREFIX" -s stop || return 1
    _n=0
    while [ $_n -lt 50 ]; do
        # /proc/net/tcp: port 8080 = 1F90, 0A = LISTEN.
        if [ ! -e /tmp/nginx/nginx.pid ] &&
            ! awk 'substr($2, length($2) - 4) == ":1F90" && $4 == "0A" { f = 1 } END { exit !f }' \
                /proc/net/tcp; then
            return 0
        fi
        sleep 0.2; _n=$((_n + 1))
    done
    echo "nginx still listens on port 8080 10 s after -s stop"
    return 1
}

# sc_server_start [config]: dts-scserver on VIP:80 in the background (its own
# output to /tmp/scserver.out, its request log appended to $SC_LOG), until it
# listens. By default with the owner map /tmp/sc.map (/nX/ is node X's); with
# "config", with --config /tmp/sc-chash.toml instead: this node's cluster
# file (sc_config) plus `[policy] name = "chash"`, --self-node left out (the
# file's self).
sc_server_start() {
    [ -x "$SCSERVER" ] || { echo "no dts-scserver at $SCSERVER"; return 1; }
    if [ "${1:-}" = config ]; then
        { sc_config; printf '\n[policy]\nname = "chash"\n'; } >/tmp/sc-chash.toml
        set -- --config /tmp/sc-chash.toml
    else
        printf '/n2/ 2\n/n3/ 3\n/n4/ 4\n' >/tmp/sc.map
        set -- --self-node "$RIG_ID" --map /tmp/sc.map
    fi
    # shellcheck disable=SC2086
    "$SCSERVER" --listen "$VIP_SC:80" --root /tmp/www "$@" \
        $SC_SERVER_ARGS --log "$SC_LOG" </dev/null >/tmp/scserver.out 2>&1 &
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

# sc_server_stop [NAME]: stops dts-scserver; its own output goes to
# $RIG_OUT/scserver[-NAME].out.
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

# --- counters, logs, flows (nodes) ---------------------------------------------------

# snapshot TAG: the SC counters ("NAME VALUE" lines) to
# /shared/sc.cnt.TAG.node<id> (exit 1 naming any missing one).
snapshot() {
    "$DTSCTL" status --json >/tmp/st.json || return 1
    # shellcheck disable=SC2086
    dts_counter_values /tmp/st.json $COUNTERS >/tmp/cnt.txt
    _rc=$?
    cp /tmp/cnt.txt "$RIG_SHARED/sc.cnt.$1.node$RIG_ID"
    return $_rc
}

# log_mark: the scserver log's current line count.
log_mark() {
    if [ -f "$SC_LOG" ]; then wc -l <"$SC_LOG"; else echo 0; fi
}

# publish PHASE MARK: the request lines logged since MARK go to
# /shared/sc.PHASE.log.node<id>, the counters to sc.cnt.PHASE.node<id>.
# Called after the phase's "done" barrier: the client has every byte, and
# dts-scserver logged each request before it was answered. The counters the
# checks read (sc_clone_built, sc_clone_failed) rose when the clone was
# made; the clones' ends (sc_clone_done, sc_settled) trail over the mesh and
# may show in the next phase's figures only.
publish() {
    tail -n +"$(($2 + 1))" "$SC_LOG" 2>/dev/null | grep 'conn=' >"$RIG_SHARED/sc.$1.log.node$RIG_ID"
    snapshot "$1" || log "counters after $1 not all readable: $(cat /tmp/cnt.txt)"
}

# flows_of PORT: how many flows of the client's connection from PORT the
# module lists ("N of TOTAL flows shown").
# ("err" if dtsctl fails).
flows_of() {
    _o=$("$DTSCTL" show flows --client "$CLIENT_IP:$1" 2>&1) || { echo err; return 0; }
    printf '%s\n' "$_o" | tail -n 1 | awk '{ print $1 + 0 }'
}

# reclaimed PORT SECONDS: poll until no flow of the client's PORT is listed,
# at most SECONDS.
reclaimed() {
    uptime_s; _t0=$UPTIME_S
    while :; do
        _f=$(flows_of "$1")
        uptime_s
        if [ "$_f" = 0 ]; then
            echo "no flow of $CLIENT_IP:$1 listed after $((UPTIME_S - _t0)) s"
            return 0
        fi
        if [ $((UPTIME_S - _t0)) -ge "$2" ]; then
            echo "still $_f flow(s) of $CLIENT_IP:$1 after $2 s:"
            "$DTSCTL" show flows --client "$CLIENT_IP:$1"
            return 1
        fi
        sleep 1
    done
}

# --- logs and counters (any VM, from /shared) ------------------------------------------

# log_fields FIELD...: for every scserver request line on stdin ("conn=IP:PORT
# req=N path=P action=A call_us=N|-", in any order, other words
# ignored; the extra "conn=... req=N note=..." lines have no action= and are
# skipped), the named fields' values ("?" if absent); paths with one
# leading "/".
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

# cnt TAG NODE NAME: a counter of node NODE's snapshot TAG ("?" if none).
cnt() { counter_value "$3" "$RIG_SHARED/sc.cnt.$1.node$2" 2>/dev/null || echo "?"; }
# delta FROM TO NODE NAME: how much NAME rose on NODE between two snapshots.
delta() {
    _a=$(cnt "$1" "$3" "$4") _b=$(cnt "$2" "$3" "$4")
    case "$_a$_b" in *"?"*) echo "?" ;; *) echo $((_b - _a)) ;; esac
}

# --- client ------------------------------------------------------------------------------

# ka_fetch NAME PORT MAXTIME PATH...: one curl, one request per PATH on one
# connection from client PORT; bodies to /tmp/NAME/00, 01, ...; one
# "num_connects status size" line per request in /tmp/NAME.w.
ka_fetch() {
    _name=$1 _port=$2 _max=$3
    shift 3
    rm -rf "/tmp/$_name"; mkdir -p "/tmp/$_name"
    _args="" _i=0
    for _p in "$@"; do
        _f=/tmp/$_name/$(printf %02d $_i)
        : >"$_f"
        _args="$_args -o $_f http://$VIP_SC/$_p"
        _i=$((_i + 1))
    done
    # shellcheck disable=SC2086
    curl -sS --fail --http1.1 --max-time "$_max" --local-port "$_port" \
        -w '%{num_connects} %{http_code} %{size_download}\n' $_args >"/tmp/$_name.w"
}

# one_connection NAME COUNT: curl connected once and got COUNT 200s.
one_connection() {
    _c=$(awk '$1 > 0' "/tmp/$1.w" | wc -l)
    _ok=$(awk '$2 == 200' "/tmp/$1.w" | wc -l)
    echo "$_c connect(s), $_ok of $2 responses 200"
    [ "$_c" = 1 ] && [ "$_ok" = "$2" ]
}

# bodies_ok DIR SUFFIX PATH...: DIR/NN SUFFIX (NN from 00) holds PATH's
# content (sha256 from mkfiles.py --sha), each file checked on its own. One
# sha256sum, one stat and one awk for all of them: under TCG every exec
# costs (the debug kernel's more so).
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

# --- pipelining and request logs (client) ------------------------------------

# pipe_fetch NAME TIMEOUT PATH...: dts-pipeclient, every request at once on
# one connection, the last with "Connection: close" (--close: the
# connection ends with the last response); bodies
# /tmp/NAME/00.body ...; "NN status len" lines in /tmp/NAME.out; all
# answered 200.
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

# nodes_with PHASE [CONN]: the nodes whose scserver logged, in PHASE, a
# request on connection CONN (any connection without CONN), separated by
# single spaces.
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

# expected_actions ORIG PATH...: "/PATH ACTION" lines: local on ORIG's own
# paths, clone:X for node X's.
expected_actions() {
    _o=$1
    shift
    for _p in "$@"; do
        _x=${_p#n}; _x=${_x%%/*}
        if [ "$_x" = "$_o" ]; then echo "/$_p local"; else echo "/$_p clone:$_x"; fi
    done
}

# actions_ok FILE CONN ORIG PATH...: the requests FILE logs on CONN are
# PATH... in order, each with the expected action.
actions_ok() {
    _file=$1 _conn=$2
    shift 2
    expected_actions "$@" >/tmp/exp.txt
    log_fields conn path action <"$_file" | awk -v c="$_conn" '$1 == c { print $2, $3 }' >/tmp/got.txt
    echo "$(wc -l </tmp/got.txt) request(s) logged on $_conn, want $(wc -l </tmp/exp.txt)"
    diff /tmp/exp.txt /tmp/got.txt
}
