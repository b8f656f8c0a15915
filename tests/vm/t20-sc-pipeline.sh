#!/bin/sh
# t20-sc-pipeline: Socket Cloning's multiple cloning (Documentation/
# socket-cloning.md, "Multiple cloning and pipelining"): several pipelined
# requests of one connection cloned to different nodes at once, the
# responses in request order, the lengths learnt from the clones' nodes
# (SC-LEN). The rig is t09-sc's (4 nodes + client: node 1 an IPVS
# direct-routing dispatcher for 10.0.0.200:80, nodes 2..4 a 3-node cluster
# with one service in mode "sc", nginx on the clone port 8080, the same
# files on every node), with dts-scserver as t09 runs it (no length
# declared, requests cloned at once):
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
#       the client's and nodes 2..4's eth0;
#   pb: the cluster file again with `[limits] sc_max_inflight = 1`, applied
#       with `dtsctl apply -f` on nodes 2..4 (`dtsctl config show` prints
#       the key; the mesh forms again), then pp's requests: the same checks
#       but that no clone is held (sc_held +0: one clone in flight at a
#       time), the module refused clone calls past the bound
#       (sc_inflight_bound +N >= 1 on the original node, and every failed
#       clone call, sc_clone_failed, was one of them), and dts-scserver
#       waited for the clone in flight and retried each (as many
#       note=clone-busy lines), so every request is still clone:X, none
#       served by a fallback. The bound is 1, not 2: with 3 serving nodes a
#       connection has at most 2 clones in flight anyway (one per other
#       node), so 2 would never bind here.
# Both phases check, on the original node, that the router tracked the
# connection and every clone's socket seed matched (no sc_seed_stale, no
# sc_seed_mismatch). Written for the default kernel (files of at most
# 1 MiB). The cluster's set-up is tests/vm/sc-lib.sh's.
# rig-nodes: 4
# rig-boot: own
. "$RIG_REPO/tests/vm/lib.sh"
# shellcheck disable=SC2034   # read by sc-lib.sh
SLOW=1 DEAD_AFTER=3 MKFILES_MAX=1048576
COUNTERS="sc_clone_sent sc_clone_failed sc_clone_built sc_clone_refused sc_clone_done
          sc_forwarded sc_settled sc_stray sc_held sc_released sc_len_reported sc_multi_reset
          sc_tracked sc_seed_stale sc_seed_mismatch sc_inflight_bound"
export MKFILES_MAX
. "$RIG_REPO/tests/vm/sc-lib.sh"   # the SC cluster's set-up (t09's), VIP_SC, SC_LOG, ...

ALL=$(all_vms)
# 8 requests, files of nodes 2, 3 and 4 (at most 1 MiB). A clone is held
# only when the next clone call comes while the previous clone's response is
# still unacknowledged, so whichever node takes the connection, the list has
# a 1 MiB clone followed at once by a clone to the third node (n3/s1m n4/...
# for node 2, n4/s1m n2/... for node 3, n2/s1m n3/... for node 4). A shorter
# response ahead can be acknowledged within the next clone call (about 30 ms
# on the debug kernel): a run where node 3 took the connection, with only
# 64 KiB ahead of its one pair, held nothing.
PP="n2/s64k n3/s1m n4/s100k n2/s1m n3/s4k n4/s1m n2/s1k n3/s100k"
PHASES="pp pl pb"

# netem_on / netem_off: 1 % loss and 25 % reordering (netem reorders only
# delayed packets: 2 ms) on eth0.
netem_on() { tc qdisc replace dev eth0 root netem delay 2ms reorder 25% loss 1%; }
netem_off() { tc qdisc del dev eth0 root 2>/dev/null; return 0; }

# config_shows_bound N: `dtsctl config show` (the configuration in force,
# from the module) has `sc_max_inflight = N` in its [limits].
config_shows_bound() {
    "$DTSCTL" config show >/tmp/shown.toml || return 1
    cat /tmp/shown.toml
    grep -qx "sc_max_inflight = $1" /tmp/shown.toml
}

case "$RIG_ROLE.$RIG_ID" in
node.1)
    log "kernel flavor: $(rig_flavor)"
    sc_dispatcher_setup
    barrier ready "$ALL"
    for ph in $PHASES; do
        [ "$ph" = pb ] && barrier pb-cfg "$ALL"
        barrier "$ph-go" "$ALL"; barrier "$ph-done" "$ALL"; barrier "$ph-pub" "$ALL"
    done
    sc_dispatcher_teardown
    ;;
node.*)
    log "kernel flavor: $(rig_flavor)"
    sc_node_setup
    barrier ready "$ALL"
    for ph in $PHASES; do
        m=$(log_mark)
        [ "$ph" = pl ] && check "netem: 1 % loss, 25 % reordering on eth0" netem_on
        if [ "$ph" = pb ]; then
            SC_MAX_INFLIGHT=1
            sc_config >/tmp/sc.toml
            check "pb: dtsctl apply -f with [limits] sc_max_inflight = 1" \
                "$DTSCTL" apply -f /tmp/sc.toml
            barrier pb-cfg "$ALL"
            check "pb: control mesh formed again (dtsctl peers --wait)" "$DTSCTL" peers --wait 120
            check "pb: dtsctl config show prints sc_max_inflight = 1" config_shows_bound 1
        fi
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
    sc_client_files 21
    barrier ready "$ALL"
    prev=setup
    for ph in $PHASES; do
        [ "$ph" = pb ] && barrier pb-cfg "$ALL"
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
        if [ "$ph" = pb ]; then
            d=$(delta "$prev" "$ph" "$orig" sc_held)
            check "$ph: no clone held on node$orig, one in flight at a time (sc_held +$d)" test "$d" = 0
            b=$(delta "$prev" "$ph" "$orig" sc_inflight_bound)
            check "$ph: node$orig refused clone calls past sc_max_inflight (sc_inflight_bound +$b)" \
                test "$b" -ge 1
            d=$(delta "$prev" "$ph" "$orig" sc_clone_failed)
            check "$ph: every failed clone call on node$orig was refused by the bound (sc_clone_failed +$d)" \
                test "$d" = "$b"
            n=$(grep -c ' note=clone-busy ' "$f")
            check "$ph: dts-scserver waited and retried each refused clone ($n note=clone-busy, bound +$b)" \
                test "$n" = "$b"
        else
            d=$(delta "$prev" "$ph" "$orig" sc_held)
            check "$ph: clones held behind others on node$orig (sc_held +$d)" test "$d" -ge 1
            d=$(delta "$prev" "$ph" "$orig" sc_released)
            check "$ph: held clones released on node$orig (sc_released +$d)" test "$d" -ge 1
            d=$(delta "$prev" "$ph" "$orig" sc_clone_failed)
            check "$ph: no clone failed on node$orig ($d)" test "$d" = 0
            d=$(delta "$prev" "$ph" "$orig" sc_inflight_bound)
            check "$ph: no clone call refused by the bound on node$orig (sc_inflight_bound +$d)" \
                test "$d" = 0
        fi
        d=$(delta "$prev" "$ph" "$orig" sc_tracked)
        check "$ph: node$orig's router tracked the connection (sc_tracked +$d)" test "$d" -ge 1
        d=$(delta "$prev" "$ph" "$orig" sc_seed_stale)
        check "$ph: every clone's socket seed matched the socket on node$orig (sc_seed_stale +$d)" test "$d" = 0
        for k in 2 3 4; do
            d=$(delta "$prev" "$ph" "$k" sc_seed_mismatch)
            check "$ph: node$k refused no seed (sc_seed_mismatch +$d)" test "$d" = 0
        done
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
