#!/bin/sh
# t17-top: dtsctl top, the live view, read off a tmux screen; and dtsctl
# metrics, on 3 nodes + client.
#   nodes:  the 3-node cluster configured (self = own id), mesh formed,
#           counters zeroed; stock nginx on port 80 and dts-proxy on the
#           proxy port 8080 (routes /n1/ /n2/ /n3/ to that node, /next/ to
#           the node after self);
#   node 1: `dtsctl top` runs in a detached tmux session of 160x48
#           (its own tmux socket, remain-on-exit on);
#   client: ab, requests to /next/whoami (each handed over) with 4
#           concurrent, for as long as node 1 looks (at most 120 s);
#   node 1: `tmux capture-pane -p` until a frame shows the nodes 1, 2 and 3,
#           each `up`, and this node's handovers per second (HO/S) above 0
#           (60 s at most; the last screen is saved as top-screen.txt); then
#           `q` ends dtsctl top: the pane's process exited with status 0;
#           `dtsctl top --once` prints the three nodes and `top --once
#           --json` has three of them;
#   nodes:  `dtsctl metrics` has `dts_module_handover_done_total{node="ID"}`
#           with a value >= the handovers this node's proxy logged as done
#           (result=ok action=handover), and `dts_module_peer_up` = 1 for
#           both peers; `dtsctl metrics --listen 127.0.0.1:9470` answers
#           GET /metrics with the same family;
#   all:    the flow tables drain, config clear, rmmod; clean kernel logs.
# Needs tmux on the host (the VMs run the host's root filesystem):
# scripts/install-deps.sh installs it.
# rig-nodes: 3
. "$RIG_REPO/tests/vm/lib.sh"

ALL=$(all_vms)
CONF=/tmp/cluster.toml
EXAMPLES=$RIG_REPO/userspace-tools/dtsctl/examples
TMUX_CMD="tmux -L dtstop -f /dev/null"     # its own server: nothing else's

# top_screen: the pane's screen now, to /tmp/top-screen.txt.
top_screen() {
    $TMUX_CMD capture-pane -p -t top >/tmp/top-screen.txt
}

# top_shows_cluster: the screen in /tmp/top-screen.txt shows the nodes 1
# (this node, "1*"), 2 and 3 all "up", and this node's HO/S (the table's
# 4th column) above 0. Prints what it found.
top_shows_cluster() {
    awk '
        $1 ~ /^[123]\*?$/ && NF >= 10 {
            id = $1; sub(/\*$/, "", id)
            state[id] = $2
            if ($1 == "1*") ho = $4
        }
        END {
            printf "node 1: %s, node 2: %s, node 3: %s; HO/S of node 1: %s\n",
                state[1], state[2], state[3], ho
            exit !(state[1] == "up" && state[2] == "up" && state[3] == "up" && ho + 0 > 0)
        }' /tmp/top-screen.txt
}

# watch_top SECONDS: capture the screen every second until it shows the
# cluster (top_shows_cluster), at most SECONDS.
watch_top() {
    uptime_s; _w0=$UPTIME_S
    while :; do
        top_screen || { echo "capture-pane failed"; return 1; }
        top_shows_cluster >/tmp/top-found.txt && { cat /tmp/top-found.txt; return 0; }
        uptime_s
        if [ $((UPTIME_S - _w0)) -ge "$1" ]; then
            cat /tmp/top-found.txt
            echo "--- the last screen:"
            cat /tmp/top-screen.txt
            return 1
        fi
        sleep 1
    done
}

# pane_exited_0: dtsctl top exited with status 0: the pane's shell
# writes the status to /tmp/top.rc when top ends (tmux's own
# #{pane_dead_status} stayed empty here); waits 10 s at most.
pane_exited_0() {
    _n=0
    while [ ! -s /tmp/top.rc ] && [ $_n -lt 50 ]; do sleep 0.2; _n=$((_n + 1)); done
    if [ ! -s /tmp/top.rc ]; then
        echo "dtsctl top still runs 10 s after q ($($TMUX_CMD display-message -p -t top '#{pane_dead}' 2>&1))"
        return 1
    fi
    echo "dtsctl top exited with status $(cat /tmp/top.rc)"
    [ "$(cat /tmp/top.rc)" = 0 ]
}

# once_shows_three: `dtsctl top --once` lists the rows 1*, 2 and 3; `top
# --once --json` has three nodes.
once_shows_three() {
    "$DTSCTL" top --once --interval 1 >/tmp/top-once.txt || return 1
    cat /tmp/top-once.txt
    _rows=$(awk '$1 ~ /^[123]\*?$/ && NF >= 10 { n++ } END { print n + 0 }' /tmp/top-once.txt)
    [ "$_rows" = 3 ] || { echo "$_rows node rows"; return 1; }
    "$DTSCTL" top --once --json --interval 1 >/tmp/top-once.json || return 1
    _n=$("$JQ" '.nodes | length' /tmp/top-once.json) || return 1
    [ "$_n" = 3 ] || { echo "$_n nodes in the JSON"; return 1; }
}

# metrics_has_handovers FILE: the exposition in FILE has
# dts_module_handover_done_total{node="ID"} >= the handovers the proxy
# logged as done, and dts_module_peer_up 1 for both peers.
metrics_has_handovers() {
    _made=$(grep 'result=ok' /tmp/proxy.log | grep -c 'action=handover')
    _v=$(awk -v k="dts_module_handover_done_total{node=\"$RIG_ID\"}" '$1 == k { print $2 }' "$1")
    _up=$(awk '$1 ~ /^dts_module_peer_up\{/ && $2 == 1 { n++ } END { print n + 0 }' "$1")
    echo "dts_module_handover_done_total $_v, proxy logged $_made handovers; peers up: $_up"
    case $_v in '' | *[!0-9]*) return 1 ;; esac
    [ "$_v" -ge "$_made" ] && [ "$_v" -gt 0 ] && [ "$_up" = 2 ]
}

# metrics_served: `dtsctl metrics --listen 127.0.0.1:9470` answers GET
# /metrics with the handover family.
metrics_served() {
    "$DTSCTL" metrics --listen 127.0.0.1:9470 </dev/null >/tmp/metrics-serve.log 2>&1 &
    _mp=$!
    _n=0 _ok=1
    while [ $_n -lt 50 ]; do
        if curl -sf --max-time 5 http://127.0.0.1:9470/metrics >/tmp/metrics-http.txt 2>/dev/null; then
            _ok=0
            break
        fi
        sleep 0.2; _n=$((_n + 1))
    done
    kill "$_mp" 2>/dev/null
    wait "$_mp" 2>/dev/null
    [ $_ok = 0 ] || { echo "no answer on 127.0.0.1:9470"; cat /tmp/metrics-serve.log; return 1; }
    grep "^dts_module_handover_done_total{node=\"$RIG_ID\"} " /tmp/metrics-http.txt
}

case "$RIG_ROLE" in
node)
    sed "s/^self = 1$/self = $RIG_ID/" "$EXAMPLES/cluster3.toml" >"$CONF"
    check "dtsctl config apply (self = $RIG_ID)" "$DTSCTL" config apply "$CONF"
    check "control mesh formed (dtsctl peers --wait)" "$DTSCTL" peers --wait 120
    check "dtsctl zero" "$DTSCTL" zero
    mkdir -p "/tmp/www/n$RIG_ID" /tmp/www/next
    echo "node$RIG_ID" >"/tmp/www/n$RIG_ID/whoami"
    echo "node$RIG_ID" >/tmp/www/next/whoami
    nginx_start_without_proxy_port
    check "dts-proxy listens on 8080" \
        dts_proxy_start 8080 --listen 0.0.0.0:8080 --self-node "$RIG_ID" --nodes 1,2,3 \
        --route /n1/=1 --route /n2/=2 --route /n3/=3 --route /next/=next --local 127.0.0.1:80
    if [ "$RIG_ID" = 1 ]; then
        check "tmux on the host" command -v tmux
        rm -f /tmp/top.rc
        check "dtsctl top started in tmux (160x48)" \
            $TMUX_CMD new-session -d -s top -x 160 -y 48 "$DTSCTL top; echo \$? >/tmp/top.rc" \; \
            set-option -w -t top remain-on-exit on
    fi
    barrier ready "$ALL"

    # --- load: node 1 reads the screen while the client makes handovers
    barrier load "$ALL"
    if [ "$RIG_ID" = 1 ]; then
        check "top's screen: nodes 1, 2, 3 up, handovers per second > 0 (60 s at most)" \
            watch_top 60
        cp /tmp/top-screen.txt "$RIG_OUT/top-screen.txt"
        : >"$RIG_SHARED/top-seen"
    fi
    barrier load-done "$ALL"
    if [ "$RIG_ID" = 1 ]; then
        check "q sent to dtsctl top" $TMUX_CMD send-keys -t top q
        check "dtsctl top ended by q, exit status 0" pane_exited_0
        top_screen && cp /tmp/top-screen.txt "$RIG_OUT/top-after-q.txt"
        $TMUX_CMD kill-server
        check "dtsctl top --once: three node rows; --json: three nodes" once_shows_three
        cp /tmp/top-once.txt /tmp/top-once.json "$RIG_OUT/" 2>/dev/null
    fi

    # --- metrics
    check "dtsctl metrics" sh -c "'$DTSCTL' metrics >/tmp/metrics.txt"
    cp /tmp/metrics.txt "$RIG_OUT/metrics.txt"
    check "metrics: dts_module_handover_done_total >= the handovers made, both peers up" \
        metrics_has_handovers /tmp/metrics.txt
    check "dtsctl metrics --listen 127.0.0.1:9470 serves GET /metrics" metrics_served
    barrier final "$ALL"
    node_teardown
    ;;
client)
    barrier ready "$ALL"
    # ab runs until node 1 saw the frame (or 120 s): rounds of 200
    # requests, 4 concurrent, each handed over to the next node.
    barrier load "$ALL"
    uptime_s; t0=$UPTIME_S rounds=0 failed=0
    while ! shared_has top-seen; do
        uptime_s
        [ $((UPTIME_S - t0)) -ge 120 ] && break
        ab -q -s 60 -n 200 -c 4 "http://$VIP/next/whoami" >/tmp/ab.txt 2>&1
        rounds=$((rounds + 1))
        grep -q '^Failed requests: *0$' /tmp/ab.txt || failed=$((failed + 1))
        grep -q '^Complete requests: *200$' /tmp/ab.txt || failed=$((failed + 1))
    done
    cp /tmp/ab.txt "$RIG_OUT/ab-last.txt"
    log "ab: $rounds rounds of 200 requests"
    check "ab: $rounds rounds of 200 requests to /next/whoami, none with a failure" \
        test "$rounds" -gt 0 -a "$failed" = 0
    barrier load-done "$ALL"
    barrier final "$ALL"
    check "kernel log has no problem report" dmesg_clean
    ;;
*)
    fail "unknown role '$RIG_ROLE'"
    ;;
esac
! grep -q '^FAIL' "$RIG_RESULTS"
