# Helpers for VM test scripts (POSIX sh). Source it first:
#   . "$RIG_REPO/tests/vm/lib.sh"
#
# Environment from qemu/vm-init.sh: RIG_ROLE (node|client), RIG_ID, RIG_NODES,
# RIG_VM (node<i>|client), RIG_REPO, RIG_OUT (/out), RIG_SHARED (/shared),
# DTSCTL, DTS_MODULE, NODE_IPS, VIP, CLIENT_IP, VIP_MAC.
#
# Results: /out/results.txt gets one "PASS <vm>: ..." or "FAIL <vm>: ..." line
# per check. The host runner (tests/vm/run.sh) fails a test on any FAIL line,
# on no PASS line at all, or on a non-zero script exit status.
#
# Do not print kernel problem patterns (see tests/check-dmesg.sh) to the
# console yourself: the host scans console.log for them.

: "${RIG_VM:=unknown}" "${RIG_OUT:=/out}" "${RIG_SHARED:=/shared}"
RIG_RESULTS=$RIG_OUT/results.txt
PY=/usr/bin/python3    # the host's system python (not a pyenv shim)

# Starting a program is the dear part of a shell test under TCG: a
# dynamically linked one costs 50-100 ms (150-250 ms on the debug kernel),
# most of it in ld.so and libc, a static busybox applet 5-50 ms
# (Documentation/rig.md, "Timings"). A VM that polls with
# cut, ls and grep takes that CPU from the VMs doing the work. So these
# helpers use the shell's read, globs and arithmetic instead, and
# qemu/vm-init.sh puts busybox's sleep first on PATH.

# cs_of SECONDS.HUNDREDTHS (as /proc/uptime has them): that time in
# hundredths of a second, in $CS (no process started).
cs_of() {
    CS=${1%.*}${1#*.}
    while [ ${#CS} -gt 1 ] && [ "${CS#0}" != "$CS" ]; do CS=${CS#0}; done
}

# uptime_s: this VM's uptime in whole seconds, in $UPTIME_S (no process).
uptime_s() {
    read UPTIME_S _up_rest </proc/uptime
    UPTIME_S=${UPTIME_S%.*}
}

# log MSG...: to the console (this script's stdout) and /out/log.txt.
log() {
    echo "[$RIG_VM] $*"
    read _log_up _log_rest </proc/uptime
    echo "$_log_up $*" >>"$RIG_OUT/log.txt"
}

pass() { echo "PASS $RIG_VM: $*" >>"$RIG_RESULTS"; echo "[$RIG_VM] PASS: $*"; }

# fail MSG: record a failure (the test fails); returns 1.
fail() {
    echo "FAIL $RIG_VM: $*" >>"$RIG_RESULTS"
    echo "[$RIG_VM] FAIL: $*"
    return 1
}

# check DESC CMD [ARGS...]: run CMD (output to the console and /out/log.txt),
# record PASS/FAIL under DESC, return CMD's status. CMD's output is captured,
# so a background process it leaves behind must not keep stdout open (start
# daemons that detach, like nginx, or redirect their output).
check() {
    _check_desc=$1; shift
    read _check_t0 _check_x </proc/uptime
    _check_out=$("$@" 2>&1)
    _check_rc=$?
    read _check_t1 _check_x </proc/uptime
    # The test's profile (tests/vm/profile.sh): start, seconds, what.
    cs_of "$_check_t1"; _check_d=$CS
    cs_of "$_check_t0"; _check_d=$((_check_d - CS))
    printf '%s %d.%02d %s\n' "$_check_t0" $((_check_d / 100)) $((_check_d % 100)) \
        "$_check_desc" >>"$RIG_OUT/times.txt"
    if [ -n "$_check_out" ]; then
        printf '%s\n' "$_check_out" | while IFS= read -r _check_l; do
            printf '[%s]   %s\n' "$RIG_VM" "$_check_l"
        done
        printf '%s\n' "$_check_out" >>"$RIG_OUT/log.txt"
    fi
    if [ $_check_rc -eq 0 ]; then
        pass "$_check_desc"
    else
        fail "$_check_desc (exit $_check_rc)"
    fi
    return $_check_rc
}

# barrier NAME COUNT [TIMEOUT]: wait until COUNT VMs reached barrier NAME.
# Each participant creates /shared/barrier.NAME.<vm>. The default TIMEOUT is
# the time the script has left ($RIG_DEADLINE, from the cluster's --timeout):
# the debug kernel under TCG is ~10x slower than the default one, so no fixed
# number fits both; a VM that crashes is noticed at once through
# /shared/abort anyway (qemu/cluster.sh writes it).
# On timeout, or when another VM gave up (/shared/abort) or crashed (the
# boot's $RIG_BOOT_SHARED/abort, which qemu/cluster.sh writes; the same file
# unless tests share a boot), record a FAIL line, write /shared/abort (so
# the others stop waiting) and return 1.
barrier() {
    _b_name=$1 _b_count=$2
    uptime_s; _b_t0=$UPTIME_S
    _b_timeout=${3:-$(( ${RIG_DEADLINE:-$((_b_t0 + 180))} - _b_t0 ))}
    [ "$_b_timeout" -ge 10 ] || _b_timeout=10
    : >"$RIG_SHARED/barrier.$_b_name.$RIG_VM"
    while :; do
        # Counted by a glob: no process per round (see cs_of above).
        _b_n=0
        for _b_f in "$RIG_SHARED/barrier.$_b_name."*; do
            [ -e "$_b_f" ] && _b_n=$((_b_n + 1))
        done
        uptime_s
        if [ "$_b_n" -ge "$_b_count" ]; then
            log "barrier $_b_name: $_b_n/$_b_count"
            echo "$_b_t0 $((UPTIME_S - _b_t0)) barrier $_b_name (waiting)" >>"$RIG_OUT/times.txt"
            return 0
        fi
        # The test's own abort file, or the boot's (a crashed VM), which
        # differ when tests share a boot (qemu/vm-init.sh).
        for _b_abort in "$RIG_SHARED/abort" "${RIG_BOOT_SHARED:-$RIG_SHARED}/abort"; do
            if [ -e "$_b_abort" ]; then
                fail "barrier $_b_name ($_b_n/$_b_count): aborted: $(head -n 3 "$_b_abort" | tr '\n' ' ')"
                return 1
            fi
        done
        if [ $((UPTIME_S - _b_t0)) -ge "$_b_timeout" ]; then
            fail "barrier $_b_name: only $_b_n/$_b_count after ${_b_timeout}s"
            echo "$RIG_VM: barrier $_b_name timed out" >>"$RIG_SHARED/abort"
            return 1
        fi
        sleep 0.2
    done
}

# shared_has NAME: /shared/NAME exists. Read through the directory (a glob),
# as the barrier counts, not a cached lookup; and no process started.
shared_has() {
    for _sh_f in "$RIG_SHARED/$1"*; do
        [ "$_sh_f" = "$RIG_SHARED/$1" ] && [ -e "$_sh_f" ] && return 0
    done
    return 1
}

# all_vms: the number of VMs in the run (nodes + client), for barriers.
all_vms() { echo $((RIG_NODES + 1)); }

# JSON helpers use jq, not python: under TCG a python start costs a second
# or more (several on the debug kernel), jq a small fraction of that.
JQ=/usr/bin/jq

# json_get PATH [FILE]: print the field at PATH (dot-separated keys and list
# indices, e.g. "hooks.pre_routing.packets") of the JSON in FILE (default
# stdin). Scalars are printed bare (true/false/null as in JSON), objects and
# lists as JSON. Exit non-zero with a message if the input is not JSON or PATH
# does not exist.
json_get() {
    _jg_p=$1; shift
    "$JQ" -r --arg p "$_jg_p" '
        reduce ($p | split(".") | map(select(length > 0)))[] as $k (.;
            if type == "array" and ($k | test("^-?[0-9]+$"))
                and ($k | tonumber) < length and ($k | tonumber) >= -length then .[$k | tonumber]
            elif type == "object" and has($k) then .[$k]
            else error("json_get: no field \($p) (at \($k))") end)
        | if type == "object" or type == "array" then tojson else . end' "$@"
}

# --- dts ---------------------------------------------------------------------
DTS_HOOKS="pre_routing local_in local_out post_routing"

# dts_counters FILE: one "HOOK PACKETS" line per hook in $DTS_HOOKS, read from
# the `dtsctl status --json` output stored in FILE (one jq run for all
# hooks). dtsctl's shape:
#   {"abi_version": 1, "hooks": [{"name": "pre_routing", "packets": N, ...}, ...]}
# Also accepted: "hooks": {"pre_routing": {"packets": N}} or {"pre_routing": N}.
# Exit 1 with a message if a hook or its integer packet counter is missing.
dts_counters() {
    "$JQ" -r '
        (.hooks? // null) as $h
        | (if ($h | type) == "array"
            then [$h[] | select(type == "object") | {key: (.name | tostring), value: .}] | from_entries
            else $h end) as $hooks
        | if ($hooks | type) != "object" then error("no hooks in status") else . end
        | $ARGS.positional[] as $name
        | $hooks[$name] as $x
        | (if ($x | type) == "object" then $x.packets else $x end) as $n
        | if ($n | type) == "number" and $n == ($n | floor) then "\($name) \($n)"
          else error("hook \($name): no integer packet counter (\($x | tojson))") end
        ' "$1" --args $DTS_HOOKS
}

# dts_hook_packets COUNTERS HOOK: HOOK's packet count from dts_counters output.
dts_hook_packets() {
    awk -v h="$2" '$1 == h { print $2; found = 1 } END { exit !found }' "$1"
}

# dts_counter_values FILE NAME...: one "NAME VALUE" line per named counter of
# the `dtsctl status --json` output stored in FILE ("counters": {"name": N});
# one jq run for all of them. Exit non-zero naming a missing or non-integer one.
dts_counter_values() {
    _dcv_f=$1; shift
    "$JQ" -r '
        .counters as $c
        | if ($c | type) != "object" then error("no counters in dtsctl status JSON") else . end
        | $ARGS.positional[] as $name
        | $c[$name] as $v
        | if ($v | type) == "number" and $v == ($v | floor) then "\($name) \($v)"
          else error("counter \($name): not an integer (\($v | tojson))") end
        ' "$_dcv_f" --args "$@"
}

# counter_value NAME FILE: NAME's value from dts_counter_values output in FILE.
counter_value() {
    awk -v n="$1" '$1 == n { print $2; found = 1 } END { exit !found }' "$2"
}

# metric FILE NAME [LABEL]: a counter from a saved /metrics answer (0 if
# absent); without LABEL, the sum over all its labels.
metric() {
    if [ -n "${3:-}" ]; then
        awk -v k="$2{$3}" '$1 == k { v = $2 } END { print v + 0 }' "$1"
    else
        awk -v k="$2" '$1 == k || index($1, k "{") == 1 { v += $2 } END { print v + 0 }' "$1"
    fi
}

# sum_metric SAVED NAME [LABEL]: metric NAME [LABEL] summed over nodes 1 to 3,
# from the /metrics answers they saved as $RIG_SHARED/m.SAVED.node<k>.
sum_metric() {
    _sm=0
    for _sm_k in 1 2 3; do
        _sm=$((_sm + $(metric "$RIG_SHARED/m.$1.node$_sm_k" "$2" "${3:-}")))
    done
    echo "$_sm"
}

# DTS_PROXY: the L7 proxy dts-proxy, built next to dtsctl.
case ${DTSCTL:-dtsctl} in
    */*) DTS_PROXY=${DTSCTL%/*}/dts-proxy ;;
    *)   DTS_PROXY=dts-proxy ;;
esac

# dts_proxy_start PORT ARG...: start "$DTS_PROXY ARG..." in the background
# (stderr, its log, to /tmp/proxy.log; stdout to /tmp/proxy.out; pid in
# /tmp/proxy.pid) and wait until a socket listens on TCP PORT (60 s at most).
# The proxy's output goes to files, so this may run under `check`. With
# DTS_PROXY_TAG=T in the environment the files are /tmp/proxyT.{log,out,pid},
# so that several proxies can run (stop each with the same tag).
dts_proxy_start() {
    _pp=$1; shift
    _t=${DTS_PROXY_TAG:-}
    [ -x "$DTS_PROXY" ] || command -v "$DTS_PROXY" >/dev/null 2>&1 ||
        { echo "no dts-proxy at $DTS_PROXY"; return 1; }
    "$DTS_PROXY" "$@" </dev/null >/tmp/proxy$_t.out 2>/tmp/proxy$_t.log &
    _ppid=$!
    echo $_ppid >/tmp/proxy$_t.pid
    _hex=$(printf '%04X' "$_pp")
    _n=0
    while [ $_n -lt 300 ]; do
        sleep 0.2; _n=$((_n + 1))
        if ! kill -0 "$_ppid" 2>/dev/null; then
            echo "dts-proxy exited:"; cat /tmp/proxy$_t.log /tmp/proxy$_t.out
            return 1
        fi
        # /proc/net/tcp: "sl local rem st ...", state 0A = LISTEN.
        awk -v p=":$_hex" 'substr($2, length($2) - 4) == p && $4 == "0A" { f = 1 } END { exit !f }' \
            /proc/net/tcp && return 0
    done
    echo "dts-proxy does not listen on port $_pp after 60 s:"; cat /tmp/proxy$_t.log
    return 1
}

# dts_proxy_stop: stop the proxy dts_proxy_start started (the same
# DTS_PROXY_TAG).
dts_proxy_stop() {
    _t=${DTS_PROXY_TAG:-}
    [ -f /tmp/proxy$_t.pid ] || return 0
    _pid=$(cat /tmp/proxy$_t.pid)
    kill "$_pid" 2>/dev/null
    _n=0
    while kill -0 "$_pid" 2>/dev/null && [ $_n -lt 50 ]; do sleep 0.2; _n=$((_n + 1)); done
    rm -f /tmp/proxy$_t.pid
    return 0
}

# flows_drain SECONDS: poll `dtsctl status` until flows_active is 0, at most
# SECONDS (every second; the text output's "flows_active N" line, so that no
# python starts in the loop); prints how long it took, or the status at the
# end.
flows_drain() {
    uptime_s; _t0=$UPTIME_S
    while :; do
        "$DTSCTL" status >/tmp/drain.txt || return 1
        _a=
        while read -r _k _v _r; do
            [ "$_k" = flows_active ] && _a=$_v
        done </tmp/drain.txt
        case $_a in
        '' | *[!0-9]*)
            echo "no flows_active counter in dtsctl status:"; cat /tmp/drain.txt; return 1 ;;
        esac
        uptime_s; _dt=$((UPTIME_S - _t0))
        [ "$_a" = 0 ] && { echo "flows_active 0 after ${_dt}s"; return 0; }
        [ "$_dt" -ge "$1" ] && { echo "flows_active still $_a after ${_dt}s"; cat /tmp/drain.txt; return 1; }
        sleep 1
    done
}

# node_teardown: the end of a node's part in a test with nginx and
# dts-proxy: the flow table drains (150 s at most), the final status and the
# proxy's log go to $RIG_OUT, the proxy and nginx stop (nginx's logs kept),
# the configuration is cleared, the module unloads, and the kernel log is
# clean. Each step is a check.
node_teardown() {
    check "flow table drained (within 150 s)" flows_drain 150
    "$DTSCTL" status --json >"$RIG_OUT/status-final.json"
    check "handover time counters: the phases add up to the total" \
        handover_times_ok "$RIG_OUT/status-final.json"
    cp /tmp/proxy.log "$RIG_OUT/proxy.log" 2>/dev/null
    dts_proxy_stop
    nginx_collect
    check "dtsctl config clear" "$DTSCTL" config clear
    check "rmmod dts" rmmod dts
    check "kernel log has no problem report" dmesg_clean
}

# handover_times_ok FILE: the handover_ns_* counters of the `dtsctl status
# --json` output in FILE are consistent: drain + prepare + connect + send =
# total (each successful handover adds its phases, which partition its
# time), and the total is positive iff handover_done is. Call it when no
# handover is in flight (the counters are read one by one).
handover_times_ok() {
    dts_counter_values "$1" handover_done handover_ns_drain handover_ns_prepare \
        handover_ns_connect handover_ns_send handover_ns_total >/tmp/times || return 1
    awk '{ v[$1] = $2 }
        END {
            n = v["handover_done"]; t = v["handover_ns_total"]
            s = v["handover_ns_drain"] + v["handover_ns_prepare"] + v["handover_ns_connect"] + v["handover_ns_send"]
            printf "%d handovers, %.3f ms each (drain %.3f, prepare %.3f, connect %.3f, send %.3f)\n",
                n, n ? t / n / 1e6 : 0, n ? v["handover_ns_drain"] / n / 1e6 : 0,
                n ? v["handover_ns_prepare"] / n / 1e6 : 0, n ? v["handover_ns_connect"] / n / 1e6 : 0,
                n ? v["handover_ns_send"] / n / 1e6 : 0
            if (s != t) { print "phases sum to " s " ns, total " t " ns"; exit 1 }
            if ((n > 0) != (t > 0)) { print "handover_done " n ", total " t " ns"; exit 1 }
        }' /tmp/times
}

# rig_flavor: the nodes' kernel flavor, "debug" or "default", for tests
# that scale their load (the debug kernel under TCG is ~10x slower).
# $RIG_FLAVOR (run.sh --flavor, through vm-init.sh) wins if set: the client
# may boot another kernel than the nodes (run.sh --client-kernel). Otherwise
# it is detected: only the debug flavor has lockdep (CONFIG_PROVE_LOCKING in
# scripts/kconfig/debug.config), which creates /proc/lockdep.
rig_flavor() {
    if [ -n "${RIG_FLAVOR:-}" ]; then
        echo "$RIG_FLAVOR"
    elif [ -e /proc/lockdep ]; then
        echo debug
    else
        echo default
    fi
}

# --- nginx -------------------------------------------------------------------
# Serves /tmp/www on port 80; logs under /tmp/nginx (access.log has the client
# address first on each line).
NGINX_CONF=$RIG_REPO/tests/vm/nginx.conf
NGINX_PREFIX=/tmp/nginx/

nginx_start() {
    mkdir -p /tmp/www /tmp/nginx/tmp
    # -e: error log before the config is read (the built-in default is under
    # /var/log/nginx, which is an empty tmpfs in the VM).
    if ! nginx -e /tmp/nginx/error.log -c "$NGINX_CONF" -p "$NGINX_PREFIX"; then
        cat /tmp/nginx/error.log 2>/dev/null
        return 1
    fi
    _n=0
    while [ $_n -lt 50 ]; do
        # any HTTP status (even 403/404) means nginx answers
        [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 http://127.0.0.1/)" != 000 ] && return 0
        sleep 0.2; _n=$((_n + 1))
    done
    echo "nginx did not answer on port 80"
    cat /tmp/nginx/error.log 2>/dev/null
    return 1
}

nginx_stop() {
    nginx -e /tmp/nginx/error.log -c "$NGINX_CONF" -p "$NGINX_PREFIX" -s quit
}

# nginx_without_proxy_port: point NGINX_CONF (for nginx_start/_stop) at a copy
# of nginx.conf without its server on the proxy port 8080, for tests that run
# dts-proxy there. Call it directly, not under `check` (it sets a variable).
nginx_without_proxy_port() {
    mkdir -p /tmp/nginx
    sed '/# begin proxy-port server/,/# end proxy-port server/d' \
        "$RIG_REPO/tests/vm/nginx.conf" >/tmp/nginx/nginx-noproxy.conf || return 1
    if grep -v '^ *#' /tmp/nginx/nginx-noproxy.conf | grep -q 8080; then
        echo "nginx.conf: the proxy-port server is not between its markers"
        return 1
    fi
    NGINX_CONF=/tmp/nginx/nginx-noproxy.conf
}

# nginx_start_without_proxy_port: nginx_without_proxy_port, then nginx_start,
# each reported as a check (call it directly, not under `check`).
nginx_start_without_proxy_port() {
    if nginx_without_proxy_port; then
        check "nginx started (port 80 only)" nginx_start
    else
        fail "nginx config without the proxy port"
    fi
}

# nginx_stop_wait: stop nginx at once (-s stop) and wait until its master has
# exited (pid file gone) and nothing answers on port 80 (up to 60 s).
nginx_stop_wait() {
    nginx -e /tmp/nginx/error.log -c "$NGINX_CONF" -p "$NGINX_PREFIX" -s stop || return 1
    uptime_s; _t0=$UPTIME_S
    while uptime_s; [ $((UPTIME_S - _t0)) -lt 60 ]; do
        if [ ! -e /tmp/nginx/nginx.pid ] &&
            [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 http://127.0.0.1/)" = 000 ]; then
            return 0
        fi
        sleep 0.2
    done
    echo "nginx still running 60 s after -s stop"
    return 1
}

# nginx_collect: copy nginx's logs to /out/nginx-*.log.
nginx_collect() {
    cp /tmp/nginx/access.log "$RIG_OUT/nginx-access.log" 2>/dev/null
    cp /tmp/nginx/error.log "$RIG_OUT/nginx-error.log" 2>/dev/null
    return 0
}

# --- misc --------------------------------------------------------------------
# capture_start FILE / capture_stop: tcpdump of the client's TCP traffic,
# any port (an untranslated proxy port or internal address would show),
# headers and the start of payloads (the HTTP response header); not
# promiscuous (-p), so the hub's copies of the client's own frames stay
# out (pcap_check.py skips them anyway). Client VM.
capture_start() {
    rm -f /tmp/tcpdump.log
    tcpdump -Z root -p -i eth0 -n -s 512 -B 8192 -U -w "$1" "tcp and host $CLIENT_IP" \
        >/tmp/tcpdump.log 2>&1 &
    tcpdump_pid=$!
    _n=0
    while ! grep -q 'listening on' /tmp/tcpdump.log 2>/dev/null && [ $_n -lt 150 ]; do
        sleep 0.1; _n=$((_n + 1))
    done
}
capture_stop() {
    sleep 1
    kill "$tcpdump_pid"; wait "$tcpdump_pid"
    log "tcpdump: $(grep -E 'captured|dropped' /tmp/tcpdump.log | tr '\n' ' ')"
}

# port_of NODE [NODES]: advances $PORT to the next client port whose
# connections NODE accepts among NODES (default 1,2,3; the rendezvous hash,
# `dtsctl owner`).
port_of() {
    while :; do
        PORT=$((PORT + 1))
        [ "$("$DTSCTL" owner "$CLIENT_IP:$PORT" --nodes "${2:-1,2,3}")" = "$1" ] && return 0
    done
}

# bodies_past BYTES FILE...: how many of these progress files
# (tests/vm/body_sink.py --progress) say BYTES or more; shell built-ins
# only (a program's start is dear under TCG).
bodies_past() {
    _bp_min=$1 _bp_c=0
    shift
    for _bp_f in "$@"; do
        _bp_n=0
        [ -f "$_bp_f" ] && read _bp_n <"$_bp_f"
        [ "${_bp_n:-0}" -ge "$_bp_min" ] && _bp_c=$((_bp_c + 1))
    done
    echo "$_bp_c"
}

# sha256_of FILE: the hex digest only.
sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

# fetch_sha256 PORT URL SHA_FILE: a GET of URL from client port PORT answers
# 200 with the body whose sha256 is in $RIG_SHARED/SHA_FILE (/tmp/body).
fetch_sha256() {
    rm -f /tmp/body
    _fs_code=$(curl -sS --max-time 60 --local-port "$1" -o /tmp/body -w '%{http_code}' "$2") ||
        { echo "curl failed ($_fs_code)"; return 1; }
    [ "$_fs_code" = 200 ] || { echo "status $_fs_code"; return 1; }
    _fs_got=$(sha256_of /tmp/body)
    _fs_want=$(cat "$RIG_SHARED/$3")
    [ "$_fs_got" = "$_fs_want" ] ||
        { echo "sha256 $_fs_got, want $_fs_want ($3; $(stat -c %s /tmp/body) bytes)"; return 1; }
}

# node_ip I, node_mac I: internal address and MAC of node I (qemu/cluster.sh).
node_ip() { echo "10.0.0.$((10 + $1))"; }
node_mac() { echo "52:54:00:00:00:$((10 + $1))"; }

# dmesg_clean: the kernel log has no problem report (same patterns as the host).
dmesg_clean() {
    dmesg >/tmp/dmesg.check 2>&1 || return 1
    "$RIG_REPO/tests/check-dmesg.sh" /tmp/dmesg.check
}
