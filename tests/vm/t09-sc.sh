#!/bin/sh
# t09-sc: socket cloning (SC) behind an IPVS direct-routing dispatcher, on
# 4 nodes + client. The service VIP is 10.0.0.200 (not the rig's 10.0.0.100):
#   node1:  the dispatcher: 10.0.0.200/32 on eth0 (it answers ARP for it),
#           ipvsadm -A -t 10.0.0.200:80 -s rr with nodes 2, 3, 4 as direct
#           routing (-g) real servers; the module is loaded, unconfigured;
#   nodes 2..4: 10.0.0.200/32 on lo; `dtsctl apply -f` of a 3-node cluster
#           (mesh on port 7470) with one service 10.0.0.200:80 in mode "sc",
#           clone port 8080; the same files under /tmp/www on every node
#           (tests/vm/mkfiles.py: n2/, n3/, n4/, 0 B to 4 MiB, n3/s32m);
#           stock nginx on 8080 only (tests/vm/nginx-sc.conf), the clones'
#           server; dts-scserver on 10.0.0.200:80, which serves /nX/ itself
#           on node X and clones the connection to node X otherwise;
#   keep-alive: one curl, 30 requests on one connection, interleaved over
#           /n2/ /n3/ /n4/ and every size up to 32 MiB: one connection;
#           every body byte-exact, in order; the original node's scserver
#           log shows the 30 requests on that connection, `local` for its
#           own paths and `clone:X` for node X's; sc_clone_built rose on the
#           other two nodes; the original's router tracked the connection
#           (sc_tracked) and every clone's socket seed matched (no
#           sc_seed_stale there, no sc_seed_mismatch anywhere); the client's capture (pcap_check.py
#           --sc-senders) has no RST, no gap in the server's sequence space,
#           and every response's new data from the MAC of the node that owns
#           its path;
#   pipelined: dts-pipeclient writes 10 requests at once (the last with
#           Connection: close): every body byte-exact and in order; the
#           original node cloned them at once (dts-scserver declares no
#           length; sc_held rose there); each clone's node reported at
#           least as many response lengths (sc_len_reported) as it got
#           clones, no connection was reset for clones out of place
#           (sc_multi_reset), no DTS_SO_CLONE_WAIT left a clone in flight
#           (no `note=` line but `note=clone-busy`, a clone retried after
#           EBUSY);
#   loss:   1 % loss (netem) on the client's and nodes 2..4's eth0: 15
#           keep-alive requests up to 4 MiB and 10 pipelined ones, all
#           byte-exact;
#   policy (phase "pc", dts-scserver --config): nodes 2..4 restart
#           dts-scserver with --config, their cluster file plus `[policy]
#           name = "chash"` (no map, no --self-node: the file's self); three
#           curls from consecutive client ports (IPVS rr: three different
#           acceptors) each fetch the same 6 files on one connection:
#           byte-exact, in order; each connection logged by one node, with
#           `policy=chash` and `local` or `clone:X` (no fallback) for every
#           request; each path served by one and the same node (X of
#           clone:X, the acceptor itself for local) whichever node accepted
#           it; no `load view:` error from the server's module poller. Then
#           dts-scserver runs with --map again for the phases below;
#   drain (phase "dr", Documentation/drain.md "Socket Cloning"): IPVS sends
#           new connections to node 4 only; the client opens a keep-alive
#           stream (ka_stream.py, one connection, local and cloned paths);
#           node 4 leaves the dispatcher (weight 0, nodes 2 and 3 back);
#           `dtsctl drain 4 --timeout 3` on node 4 exits non-zero with
#           node 4 still serving the stream (a drain moves no SC
#           connection), and nodes 2 and 3 see node 4 draining; two new
#           connections are taken by nodes 2 and 3, byte-exact; the stream
#           goes on through the drain, every body byte-exact, then the
#           client closes it and `dtsctl drain 4` exits 0 (node 4 serves
#           nothing); `dtsctl undrain 4`;
#   clone dies: IPVS sends new connections to node 2 only; the client
#           fetches /n3/s32m at 1 MiB/s, so node 2 clones it to node 3;
#           4 s into the transfer node 3 takes its eth0 down (and keeps it
#           down): curl ends with an error (exit recorded) and within 30 s
#           node 2 lists no flow of that connection any more;
#   forged copy: while that clone runs, node 4 (a node of the cluster, but
#           not the clone's origin) sends node 3 an IP-in-IP copy of a
#           client RST for the connection: node 3 drops it and counts
#           sc_forged_copy (the clone is not reset by it);
#   clone to a dead node: once nodes 2 and 4 see node 3 down, /n3/s64k and
#           /n3/s1m on one connection are served by node 2 itself
#           (`fallback:EHOSTDOWN` in its log, sc_clone_failed rose), byte-exact;
#   microsecond timestamps: node 2 routes the client through a host route
#           with the tcp_usec_ts feature (tests/vm/usec_route.py), so a new
#           connection uses microsecond TSvals: DTS_SO_CLONE refuses it
#           (`fallback:EOPNOTSUPP` for /n4/s1k and /n4/s64k, sc_clone_failed
#           rose), node 2 serves both itself, byte-exact;
#   all:    node_teardown (flow tables drain, rmmod, clean kernel logs;
#           node 3 with its eth0 still down).
# Figures (client/sc-figures.txt): the clone call latency (scserver call_us,
# median per phase), the bytes served by clones and locally, the counters.
# On the debug kernel: longer timeouts and mesh dead time, no capture, files
# of at most 1 MiB (the keep-alive phase's 20 requests), no loss phase, and
# the clone-dies phase on node 3's 1 MiB file at 25 KiB/s.
# rig-nodes: 4
# rig-boot: own
. "$RIG_REPO/tests/vm/lib.sh"
. "$RIG_REPO/tests/vm/sc-lib.sh"   # the SC cluster's set-up, VIP_SC, SC_LOG, ...

ALL=$(all_vms)
FIG=$RIG_OUT/sc-figures.txt
COUNTERS="sc_clone_sent sc_clone_failed sc_clone_built sc_clone_refused sc_clone_done
          sc_forwarded sc_settled sc_stray sc_ns_total sc_tracked sc_seed_stale
          sc_seed_mismatch sc_held sc_released sc_len_reported sc_multi_reset"
# The debug kernel (KASAN, lockdep) under TCG is about 10 times slower: it
# runs the same phases with files of at most 1 MiB (MKFILES_MAX, for every
# VM's mkfiles.py), without the loss phase's transfers, and the clone-dies
# phase on a 1 MiB file at 25 KiB/s (the client's receive buffer is 64 KiB
# in that phase on both kernels). Every kernel path still runs.
if [ "$(rig_flavor)" = debug ]; then
    SLOW=5 CAPTURE=0 DEAD_AFTER=10 LOSS=0 MKFILES_MAX=1048576 NFILES=21
    P5_PATH=n3/s1m P5_SIZE=1048576 P5_RATE=25K P5_SLEEP=2
else
    SLOW=1 CAPTURE=1 DEAD_AFTER=3 LOSS=1 MKFILES_MAX=0 NFILES=25
    P5_PATH=n3/s32m P5_SIZE=33554432 P5_RATE=1M P5_SLEEP=4
fi
export MKFILES_MAX
SC_VERIFY_FILES=$LOSS
# Client ports of the curl runs (the scserver logs name connections by them).
P2_PORT=40200 P4_PORT=40400 P5_PORT=40500 P6_PORT=40600 P7_PORT=40700
# The policy phase: three connections, one after the other.
PC_PORTS="40800 40801 40802"
# The drain phase: the stream held on node 4, the new connections made
# while node 4 drains (nodes 2 and 3 take them), and their paths.
DR_PORT=40900 DR_NEW_PORTS="40910 40911"
DR_PATHS=n4/s4k,n2/s64k,n4/s1,n3/s1k,n4/s100k,n2/s4k
DR_NEW="n2/s1k n3/s64k n2/s4k"

# Requests (paths under /tmp/www, the URL is /PATH). Keep-alive: the 25
# files (3 x 8 sizes + n3/s32m) and 5 small ones again, never two in a row
# from one node.
P2="n2/s0 n3/s1 n4/s1k n2/s4k n3/s64k n4/s100k n2/s1m n3/s4m n4/s0 n2/s1
    n3/s1k n4/s4k n2/s64k n3/s100k n4/s1m n2/s4m n3/s0 n4/s1 n2/s1k n3/s4k
    n4/s64k n2/s100k n3/s1m n4/s4m n3/s32m n2/s0 n4/s1 n3/s1k n2/s4k n4/s0"
# P3: whichever node takes the connection, a 1 MiB clone is followed at once
# by a clone to the third node, so a clone is held behind it (t20's PP).
P3="n2/s1k n3/s64k n4/s0 n2/s100k n3/s1 n4/s1m n2/s1m n3/s1m n4/s64k n2/s1m"
P4K="n3/s4m n2/s1k n4/s1m n2/s0 n3/s64k n4/s100k n2/s4m n3/s1 n4/s4k n2/s1m
     n3/s100k n4/s0 n2/s64k n3/s1m n4/s1k"
P4P="n4/s1m n3/s1k n2/s64k n4/s4k n3/s1m n2/s0 n4/s100k n3/s1 n2/s1m n4/s64k"
P6="n3/s64k n3/s1m"
P7="n4/s1k n4/s64k"
# The policy phase's files (at most 1 MiB: the same on the debug kernel).
PC="n2/s1k n3/s64k n4/s100k n2/s1m n3/s4k n4/s1"
if [ "$LOSS" = 0 ]; then
    # Debug: the keep-alive phase without the files above 1 MiB.
    P2="n2/s0 n3/s1 n4/s1k n2/s4k n3/s64k n4/s100k n2/s1m n4/s0 n2/s1 n3/s1k
        n4/s4k n2/s64k n3/s100k n4/s1m n3/s0 n4/s1 n2/s1k n3/s4k n4/s64k n2/s100k"
fi

# --- node helpers (set-up, counters, logs and flows: sc-lib.sh) ----------------------

# reclaimed PORT SECONDS: sc-lib.sh's, timed to the centisecond from node 3's
# failure (this phase measures it).
reclaimed() {
    read _t0 _x </proc/uptime; cs_of "$_t0"; _t0=$CS
    while :; do
        _f=$(flows_of "$1")
        read _t _x </proc/uptime; cs_of "$_t"; _dcs=$((CS - _t0))
        _dt=$((_dcs / 100)).$((_dcs % 100 / 10))
        if [ "$_f" = 0 ]; then
            echo "no flow of $CLIENT_IP:$1 listed ${_dt}s after node 3's failure"
            return 0
        fi
        if [ "$_dcs" -ge $(($2 * 100)) ]; then
            echo "still $_f flow(s) of $CLIENT_IP:$1 after ${_dt}s:"
            "$DTSCTL" show flows --client "$CLIENT_IP:$1"
            return 1
        fi
        sleep 1
    done
}

# peer_down ID SECONDS: poll `dtsctl peers` until node ID's state is "down".
peer_down() {
    uptime_s; _t0=$UPTIME_S
    while :; do
        "$DTSCTL" peers >/tmp/peers.txt 2>&1
        uptime_s
        if awk -v id="$1" '$1 == id && $3 == "down" { f = 1 } END { exit !f }' /tmp/peers.txt; then
            echo "node $1 down after $((UPTIME_S - _t0))s:"
            cat /tmp/peers.txt
            return 0
        fi
        if [ $((UPTIME_S - _t0)) -ge "$2" ]; then
            echo "node $1 not down after $2 s:"; cat /tmp/peers.txt
            return 1
        fi
        sleep 0.5
    done
}

netem_loss() {
    if [ "$1" = off ]; then
        tc qdisc del dev eth0 root 2>/dev/null
        return 0
    fi
    tc qdisc replace dev eth0 root netem loss "$1%"
}

# --- client helpers (ka_fetch, one_connection, bodies_ok, pipe_fetch, nodes_with,
# actions_ok: sc-lib.sh) ------------------------------------------------------------

# --- policy phase helpers (client) -----------------------------------------------

# pc_acceptor PHASE PORT: the node(s) whose scserver logged, in PHASE, the
# connection from client PORT.
pc_acceptor() { nodes_with "$1" "$CLIENT_IP:$2"; }

# pc_acceptors PHASE: each connection of $PC_PORTS was logged by exactly one
# node, and at least two different nodes took them (IPVS round robin over
# nodes 2..4 gives three consecutive connections three different nodes).
pc_acceptors() {
    _all="" _bad=0
    for _port in $PC_PORTS; do
        _w=$(pc_acceptor "$1" "$_port")
        echo "$CLIENT_IP:$_port taken by node(s) ${_w:-none}"
        if [ -z "$_w" ] || [ "$_w" != "${_w%% *}" ]; then _bad=1; fi
        _all="$_all $_w"
    done
    # shellcheck disable=SC2086
    _n=$(printf '%s\n' $_all | sort -u | grep -c .)
    echo "$_n different acceptor(s)"
    [ "$_bad" = 0 ] && [ "$_n" -ge 2 ]
}

# pc_logged PHASE: on each connection of $PC_PORTS its acceptor logged the
# requests for $PC in order, each `local` or `clone:X` (no fallback, no
# failed DTS_SO_CLONE_WAIT) with `policy=chash`.
pc_logged() {
    _bad=0
    for _p in $PC; do echo "/$_p"; done >/tmp/exp.pc.txt
    for _port in $PC_PORTS; do
        _conn=$CLIENT_IP:$_port
        _k=$(pc_acceptor "$1" "$_port")
        _k=${_k%% *}
        _f=$RIG_SHARED/sc.$1.log.node${_k:-none}
        if [ ! -f "$_f" ]; then
            echo "$_conn: no node logged it"; _bad=1; continue
        fi
        log_fields conn path action policy <"$_f" | awk -v c="$_conn" '$1 == c' >/tmp/got.pc.txt
        echo "$_conn (node$_k): $(wc -l </tmp/got.pc.txt) request(s) logged, want $(wc -l </tmp/exp.pc.txt)"
        awk '{ print $2 }' /tmp/got.pc.txt | diff /tmp/exp.pc.txt - || _bad=1
        # shellcheck disable=SC2016
        awk -v k="$_k" '$3 !~ /^(local|clone:[0-9]+)$/ || $4 != "chash" {
                print "node" k ": unexpected:", $0; bad = 1
            } END { exit bad }' /tmp/got.pc.txt || _bad=1
    done
    # A note but a clone retried after EBUSY (note=clone-busy) is a fault.
    grep -h ' note=' "$RIG_SHARED"/sc."$1".log.node* 2>/dev/null | grep -v ' note=clone-busy ' && _bad=1
    return $_bad
}

# pc_same_node PHASE: every path of $PC was served by one and the same node
# from every acceptor: X for `clone:X`, the acceptor itself for `local` (and
# for `fallback:*`, which pc_logged already refuses).
pc_same_node() {
    for _k in 2 3 4; do
        _f=$RIG_SHARED/sc.$1.log.node$_k
        [ -f "$_f" ] || continue
        log_fields path action <"$_f" |
            awk -v k="$_k" '{ s = ($2 ~ /^clone:/) ? substr($2, 7) : k; print $1, s, k, $2 }'
    done >/tmp/pc.served
    # shellcheck disable=SC2016
    awk -v paths="$PC" -v out=/tmp/pc.summary '
        {
            key = $1 " " $2
            if (!(key in seen)) {
                seen[key] = 1
                srv[$1] = srv[$1] (srv[$1] == "" ? "" : ",") $2
                n[$1]++
            }
            how[$1] = how[$1] " node" $3 ":" $4
        }
        END {
            np = split(paths, w, " "); bad = 0
            for (i = 1; i <= np; i++) {
                p = "/" w[i]
                printf "%s served by node %s (acceptor:action%s)\n", p, (p in srv) ? srv[p] : "none", how[p]
                printf "%s served by node %s (acceptor:action%s)\n", p, (p in srv) ? srv[p] : "none", how[p] >out
                if (n[p] != 1) bad = 1
            }
            exit bad
        }' /tmp/pc.served
}

# median: of the numbers on stdin, one a line ("none" without any).
median() {
    grep . | sort -n | awk '{ v[NR] = $1 }
        END {
            if (NR == 0) { print "none"; exit }
            if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2
        }'
}

figure() { log "$*"; echo "$*" >>"$FIG"; }

# figures: clone call latency and bytes served, from the published logs.
figures() {
    for _ph in p2 p3 p4 pc dr p5 p6 p7 all; do
        _g=$_ph
        [ "$_ph" = all ] && _g="*"
        # shellcheck disable=SC2086
        cat "$RIG_SHARED"/sc.$_g.log.node* 2>/dev/null | log_fields action call_us |
            awk '$1 ~ /^clone:/ && $2 ~ /^[0-9]+$/ { print $2 }' | sort -n >/tmp/call_us
        [ -s /tmp/call_us ] || continue
        figure "$_ph: clone call_us median $(median </tmp/call_us) over $(wc -l </tmp/call_us)" \
            "clone(s), min $(head -n 1 /tmp/call_us), max $(tail -n 1 /tmp/call_us)"
    done
    # Body bytes by who served them (file sizes from mkfiles.py --list), the
    # interrupted transfer of the clone-dies phase left out.
    cat "$RIG_SHARED"/sc.p[2346c].log.node* 2>/dev/null | log_fields conn action path |
        awk -v c="$CLIENT_IP:$P5_PORT" '$1 != c { print $2, $3 }' |
        awk 'NR == FNR { size["/" $2] = $1; next }
            {
                c = $1 ~ /^clone:/ ? "clones" : $1 == "local" ? "locally" : $1 ~ /^fallback/ ? "fallback" : "other"
                n[c]++; b[c] += size[$2]
            }
            END {
                for (c in n) printf "bytes served %s: %d in %d request(s)\n", c, b[c], n[c]
            }' /tmp/sizes.txt - | sort >/tmp/bytes.txt
    while read -r _l; do figure "$_l"; done </tmp/bytes.txt
    # dts-scserver's notes (a failed DTS_SO_CLONE_WAIT).
    cat "$RIG_SHARED"/sc.p*.log.node* 2>/dev/null | grep ' note=' | sed 's/^/scserver: /' >>"$FIG"
    _prev=setup
    for _ph in p2 p3 p4 pc dr p5 p6 p7; do
        for _k in 2 3 4; do
            _c=""
            for _n in $COUNTERS; do
                _c="$_c $_n $(delta "$_prev" "$_ph" "$_k" "$_n")"
            done
            figure "$_ph node$_k counters (rise):$_c"
        done
        _prev=$_ph
    done
}

# fallback_phase PH PREV PORT ERR LABEL MINFAIL PATH...: the client's side of
# a phase in which IPVS sends new connections to node 2 only and every clone
# call fails with ERR: one keep-alive curl from PORT for PATH... (other
# nodes' files), one connection, every body byte-exact and in order; node
# 2's scserver took the connection and logged `fallback:ERR` for every
# request; its sc_clone_failed rose by at least MINFAIL since snapshot PREV.
fallback_phase() {
    _ph=$1 _prev=$2 _port=$3 _err=$4 _lbl=$5 _minf=$6
    shift 6
    _x=${1#n}; _x=${_x%%/*}
    barrier "$_ph-go" "$ALL"
    check "$_lbl: one curl, $# requests for node $_x's paths" ka_fetch "$_ph" "$_port" $((120 * SLOW)) "$@"
    check "$_lbl: curl connected once" one_connection "$_ph" "$#"
    check "$_lbl: all $# bodies byte-exact, in order" bodies_ok "/tmp/$_ph" "" "$@"
    barrier "$_ph-done" "$ALL"
    barrier "$_ph-pub" "$ALL"
    _conn=$CLIENT_IP:$_port
    check "$_lbl: node 2's scserver took $_conn (IPVS: node 2 only)" \
        test "$(nodes_with "$_ph" "$_conn")" = 2
    for _p in "$@"; do echo "/$_p fallback:$_err"; done >"/tmp/exp.$_ph.txt"
    log_fields conn path action <"$RIG_SHARED/sc.$_ph.log.node2" 2>/dev/null |
        awk -v c="$_conn" '$1 == c { print $2, $3 }' >"/tmp/got.$_ph.txt"
    check "$_lbl: node 2 logged fallback:$_err for all $#" diff "/tmp/exp.$_ph.txt" "/tmp/got.$_ph.txt"
    _d=$(delta "$_prev" "$_ph" 2 sc_clone_failed)
    check "$_lbl: sc_clone_failed rose on node 2 ($_d, at least $_minf)" test "$_d" -ge "$_minf"
}

# --- roles -----------------------------------------------------------------------
# forge_copy_p5: on node 4, once the client's clone-dies transfer runs (node
# 2 cloned it to node 3), an IP-in-IP copy of a client RST for that
# connection from node 4's address to node 3's: a node of the cluster, but
# not the clone's origin. Node 3 must drop it (sc_forged_copy); it must not
# reset the clone. Node 3 reads its counters after the p5-kill barrier, which
# the client reaches $P5_SLEEP s after it signalled the start.
forge_copy_p5() {
    n=0
    while ! shared_has p5.started && [ $n -lt $((300 * SLOW)) ]; do sleep 0.1; n=$((n + 1)); done
    check "node 4 sends node 3 a forged IP-in-IP copy (client RST) for $CLIENT_IP:$P5_PORT" \
        $PY - "$(node_ip 4)" "$(node_ip 3)" "$CLIENT_IP" "$VIP_SC" "$P5_PORT" <<'PY'
import socket, struct, sys
src, dst, client, vip, port = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
a = socket.inet_aton
ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 40, 1, 0x4000, 64, 6, 0, a(client), a(vip))
tcp = struct.pack(">HHIIBBHHH", port, 80, 1, 1, 5 << 4, 0x14, 0, 0, 0)   # RST|ACK
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, 4)   # IPPROTO_IPIP: the kernel adds the outer header
s.bind((src, 0))
for _ in range(3):
    s.sendto(ip + tcp, (dst, 0))
print("sent 3 forged copies %s -> %s for %s:%d -> %s:80" % (src, dst, client, port, vip))
PY
    touch "$RIG_SHARED/p5.forged"
}

case "$RIG_ROLE.$RIG_ID" in
node.1)
    # The IPVS dispatcher.
    log "kernel flavor: $(rig_flavor)"
    sc_dispatcher_setup
    barrier ready "$ALL"
    for ph in p2 p3 p4 pc; do
        barrier "$ph-go" "$ALL"; barrier "$ph-done" "$ALL"; barrier "$ph-pub" "$ALL"
    done
    # dr: node 4 takes the stream, then leaves the dispatcher, as an
    # operator takes a real server out before draining it.
    check "ipvsadm: new connections to node 4 only (nodes 2 and 3 weight 0)" sh -c "
        ipvsadm -e -t $VIP_SC:80 -r 10.0.0.12:80 -g -w 0 &&
        ipvsadm -e -t $VIP_SC:80 -r 10.0.0.13:80 -g -w 0"
    barrier dr-go "$ALL"
    barrier dr-held "$ALL"
    check "ipvsadm: node 4 out of the dispatcher (weight 0), nodes 2 and 3 back (weight 1)" sh -c "
        ipvsadm -e -t $VIP_SC:80 -r 10.0.0.14:80 -g -w 0 &&
        ipvsadm -e -t $VIP_SC:80 -r 10.0.0.12:80 -g -w 1 &&
        ipvsadm -e -t $VIP_SC:80 -r 10.0.0.13:80 -g -w 1"
    ipvsadm -Ln >>"$RIG_OUT/log.txt"
    for b in dr-out dr-busy dr-closed dr-done dr-pub; do barrier "$b" "$ALL"; done
    check "ipvsadm: new connections to node 2 only (nodes 3 and 4 weight 0)" sh -c "
        ipvsadm -e -t $VIP_SC:80 -r 10.0.0.13:80 -g -w 0 &&
        ipvsadm -e -t $VIP_SC:80 -r 10.0.0.14:80 -g -w 0"
    ipvsadm -Ln >>"$RIG_OUT/log.txt"
    for ph in p5 p6 p7; do
        barrier "$ph-go" "$ALL"; barrier "$ph-done" "$ALL"; barrier "$ph-pub" "$ALL"
    done
    sc_dispatcher_teardown
    ;;
node.*)
    log "kernel flavor: $(rig_flavor)"
    sc_node_setup
    barrier ready "$ALL"

    # keep-alive, pipelined
    for ph in p2 p3; do
        m=$(log_mark)
        barrier "$ph-go" "$ALL"
        barrier "$ph-done" "$ALL"
        publish "$ph" "$m"
        barrier "$ph-pub" "$ALL"
    done

    # loss
    m=$(log_mark)
    [ "$LOSS" = 0 ] || check "netem: 1 % loss on eth0" netem_loss 1
    barrier p4-go "$ALL"
    barrier p4-done "$ALL"
    [ "$LOSS" = 0 ] || netem_loss off
    publish p4 "$m"
    barrier p4-pub "$ALL"

    # >>> policy phase (pc): dts-scserver --config, [policy] chash >>>>>>>>>>>>>>>>
    sc_server_stop map
    check "dts-scserver --config /tmp/sc-chash.toml ([policy] chash) listens on $VIP_SC:80" \
        sc_server_start config
    m=$(log_mark)
    barrier pc-go "$ALL"
    barrier pc-done "$ALL"
    publish pc "$m"
    barrier pc-pub "$ALL"
    sc_server_stop config
    check "dts-scserver --config took node $RIG_ID and policy chash over nodes 2,3,4 from the file" \
        grep "listening on $VIP_SC:80 (node $RIG_ID, policy chash over nodes 2,3,4," /tmp/scserver.out
    check "dts-scserver --config: its load poller read the module (no 'load view:' error)" \
        sh -c 'cat /tmp/scserver.out; ! grep -q "load view:" /tmp/scserver.out'
    check "dts-scserver --map again (the next phases place by the map)" sc_server_start
    # <<< policy phase (pc) <<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<

    # >>> drain phase (dr): node 4 out of the dispatcher, then dtsctl drain >>>>>>>>
    m=$(log_mark)
    for b in dr-go dr-held dr-out; do barrier "$b" "$ALL"; done
    if [ "$RIG_ID" = 4 ]; then
        "$DTSCTL" drain 4 --timeout $((3 * SLOW)) --json >/tmp/drain1.json 2>/tmp/drain1.err
        rc=$?
        check "drain 4 while the stream lives: exit non-zero at the timeout, node 4 still serving ($(cat /tmp/drain1.json /tmp/drain1.err | tr '\n' ' '))" \
            sh -c "[ $rc != 0 ] && grep -q '\"drained\":false' /tmp/drain1.json &&
                   grep -q '\"serving\":[1-9]' /tmp/drain1.json"
    fi
    barrier dr-busy "$ALL"
    if [ "$RIG_ID" != 4 ]; then
        check "node $RIG_ID sees node 4 draining" \
            sh -c "'$DTSCTL' peers --json | grep -q '\"id\":4,[^}]*\"state\":\"draining\"'"
    fi
    barrier dr-closed "$ALL"
    if [ "$RIG_ID" = 4 ]; then
        "$DTSCTL" drain 4 --timeout $((30 * SLOW)) --json >/tmp/drain2.json 2>/tmp/drain2.err
        rc=$?
        check "drain 4 once the client closed the stream: exit 0, node 4 serves nothing ($(cat /tmp/drain2.json /tmp/drain2.err | tr '\n' ' '))" \
            sh -c "[ $rc = 0 ] && grep -q '\"drained\":true' /tmp/drain2.json"
        check "dtsctl undrain 4" "$DTSCTL" undrain 4
    fi
    barrier dr-done "$ALL"
    publish dr "$m"
    barrier dr-pub "$ALL"
    # <<< drain phase (dr) <<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<

    # the clone's node dies mid-response
    m=$(log_mark)
    barrier p5-go "$ALL"
    if [ "$RIG_ID" = 2 ]; then
        n=0
        while [ "$(flows_of $P5_PORT)" = 0 ] && [ $n -lt $((75 * SLOW)) ]; do
            sleep 0.2; n=$((n + 1))
        done
        "$DTSCTL" show flows --client "$CLIENT_IP:$P5_PORT" >"$RIG_OUT/flows-p5-before.txt" 2>&1
        check "node 2 lists the client's connection $CLIENT_IP:$P5_PORT before node 3 fails" \
            test "$(flows_of $P5_PORT)" -gt 0
    fi
    if [ "$RIG_ID" = 4 ]; then
        forge_copy_p5
    fi
    if [ "$RIG_ID" != 4 ]; then
        barrier p5-kill 3    # client, node 2, node 3
    fi
    if [ "$RIG_ID" = 3 ]; then
        check "node 3: eth0 down, 4 s into the cloned response" ip link set eth0 down
        n=0
        while ! shared_has p5.forged && [ $n -lt $((300 * SLOW)) ]; do sleep 0.1; n=$((n + 1)); done
        "$DTSCTL" status --json >/tmp/st-p5.json
        check "node 3 dropped node 4's forged copy (sc_forged_copy $(json_get counters.sc_forged_copy /tmp/st-p5.json))" \
            test "$(json_get counters.sc_forged_copy /tmp/st-p5.json)" -ge 1
    fi
    if [ "$RIG_ID" = 2 ]; then
        check "node 2 reclaimed the connection's state within $((30 * SLOW)) s of node 3's failure" \
            reclaimed $P5_PORT $((30 * SLOW))
    fi
    barrier p5-done "$ALL"
    publish p5 "$m"
    barrier p5-pub "$ALL"

    # clone to a node that is down
    if [ "$RIG_ID" != 3 ]; then
        check "node 3 seen down (dtsctl peers)" peer_down 3 $((30 * SLOW))
    fi
    m=$(log_mark)
    barrier p6-go "$ALL"
    barrier p6-done "$ALL"
    publish p6 "$m"
    barrier p6-pub "$ALL"

    # microsecond timestamps (node 2 only takes new connections)
    m=$(log_mark)
    if [ "$RIG_ID" = 2 ]; then
        check "node 2: host route to $CLIENT_IP with features tcp_usec_ts (usec_route.py)" sh -c "
            '$PY' '$RIG_REPO/tests/vm/usec_route.py' add '$CLIENT_IP' eth0 &&
            ip route show '$CLIENT_IP' | tee /dev/stderr | grep -q 'features 0x10'"
    fi
    barrier p7-go "$ALL"
    barrier p7-done "$ALL"
    if [ "$RIG_ID" = 2 ]; then
        check "node 2: the tcp_usec_ts route removed" "$PY" "$RIG_REPO/tests/vm/usec_route.py" del "$CLIENT_IP" eth0
    fi
    publish p7 "$m"
    barrier p7-pub "$ALL"

    "$DTSCTL" peers >"$RIG_OUT/peers-final.txt" 2>&1
    sc_server_stop
    if [ "$RIG_ID" = 3 ]; then
        # With eth0 down, the clone the failure left behind cannot reach the
        # client any more: stop nginx, which holds it.
        nginx -e /tmp/nginx/error.log -c "$NGINX_CONF" -p "$NGINX_PREFIX" -s stop
        sleep 1
    fi
    node_teardown
    ;;
client.*)
    log "kernel flavor: $(rig_flavor)"
    : >"$FIG"
    sc_client_files "$NFILES"
    barrier ready "$ALL"

    # --- keep-alive: 30 requests on one connection, under capture
    # shellcheck disable=SC2086
    set -- $P2
    n2=$#
    barrier p2-go "$ALL"
    if [ "$CAPTURE" = 1 ]; then capture_start /tmp/p2.pcap; fi
    # shellcheck disable=SC2086
    check "keep-alive: one curl, $n2 requests (0 B to 32 MiB) from port $P2_PORT" \
        ka_fetch p2 $P2_PORT $((300 * SLOW)) $P2
    if [ "$CAPTURE" = 1 ]; then capture_stop; fi
    barrier p2-done "$ALL"
    check "keep-alive: curl connected once" one_connection p2 "$n2"
    # shellcheck disable=SC2086
    check "keep-alive: all $n2 bodies byte-exact, in order" bodies_ok /tmp/p2 "" $P2
    rm -rf /tmp/p2
    check "the dispatcher (node 1) answered ARP for $VIP_SC" \
        sh -c "ip neigh show $VIP_SC | tee /dev/stderr | grep -q '$(node_mac 1)'"
    barrier p2-pub "$ALL"
    conn=$CLIENT_IP:$P2_PORT
    orig=$(nodes_with p2 "$conn")
    check "keep-alive: exactly one node's scserver took $conn (node(s): ${orig:-none})" \
        test "${orig:-x}" = "${orig%% *}"
    orig=${orig%% *}
    orig=${orig:-2}
    check "keep-alive: no other connection logged in this phase" \
        sh -c "cat '$RIG_SHARED'/sc.p2.log.node* | grep -o 'conn=[^ ]*' | sort -u | tee /dev/stderr | grep -qvx 'conn=$conn' && exit 1 || exit 0"
    # shellcheck disable=SC2086
    check "keep-alive: node$orig's log: the $n2 requests on $conn in order, local for /n$orig/, clone:X for /nX/" \
        actions_ok "$RIG_SHARED/sc.p2.log.node$orig" "$conn" "$orig" $P2
    for k in 2 3 4; do
        [ "$k" = "$orig" ] && continue
        d=$(delta setup p2 "$k" sc_clone_built)
        check "keep-alive: clones built on node$k rose by $d (requests for /n$k/: 10)" test "$d" -ge 1
    done
    d=$(delta setup p2 "$orig" sc_clone_failed)
    check "keep-alive: no clone failed on node$orig ($d)" test "$d" = 0
    # The socket seed: the router tracked the connection from its first
    # segment past the handshake, and every clone's seed matched the socket
    # (no EAGAIN) and its SC-CLONE's fields (no refusal on the clones' nodes).
    d=$(delta setup p2 "$orig" sc_tracked)
    check "keep-alive: node$orig's router tracked the connection (sc_tracked +$d)" test "$d" -ge 1
    d=$(delta setup p2 "$orig" sc_seed_stale)
    check "keep-alive: no clone of node$orig lacked a matching seed (sc_seed_stale +$d)" test "$d" = 0
    for k in 2 3 4; do
        d=$(delta setup p2 "$k" sc_seed_mismatch)
        check "keep-alive: node$k refused no seed (sc_seed_mismatch +$d)" test "$d" = 0
    done
    if [ "$CAPTURE" = 1 ]; then
        senders=""
        for p in $P2; do
            x=${p#n}; x=${x%%/*}
            senders="$senders${senders:+,}$(node_mac "$x")"
        done
        # In the background (the later phases do not need it): a 48 MiB
        # capture takes the guest's python a while. The original node's
        # pure ACKs and the clones' data carry two translated clocks, which
        # may differ by a few ticks: --reordered (1000 ticks) still catches
        # an untranslated one.
        (
            "$PY" "$PCAP_CHECK" /tmp/p2.pcap --client "$conn" --server "$VIP_SC:80" \
                --owner-mac "$(node_mac "$orig")" --sc-senders "$senders" --expect-status 200 \
                --reordered >/tmp/p2.pcapcheck 2>&1
            echo $? >/tmp/p2.pcaprc
        ) &
        pcap_pid=$!
    fi

    # --- pipelined: 10 requests written at once
    # shellcheck disable=SC2086
    set -- $P3
    barrier p3-go "$ALL"
    # shellcheck disable=SC2086
    check "pipelined: dts-pipeclient, $# requests at once, all answered 200" \
        pipe_fetch p3 $((120 * SLOW)) $P3
    barrier p3-done "$ALL"
    # shellcheck disable=SC2086
    check "pipelined: all $# bodies byte-exact, in order" bodies_ok /tmp/p3 .body $P3
    barrier p3-pub "$ALL"
    orig3=$(nodes_with p3)
    check "pipelined: exactly one node's scserver took the connection (node(s): ${orig3:-none})" \
        test "${orig3:-x}" = "${orig3%% *}"
    orig3=${orig3%% *}
    orig3=${orig3:-2}
    f3=$RIG_SHARED/sc.p3.log.node$orig3
    conn3=$(log_fields conn <"$f3" 2>/dev/null | sort -u | tr '\n' ' ')
    conn3=${conn3% }
    check "pipelined: one connection logged (${conn3:-none})" test "${conn3:-x}" = "${conn3%% *}"
    # shellcheck disable=SC2086
    check "pipelined: node$orig3's log: the $# requests in order, local or clone:X" \
        actions_ok "$f3" "$conn3" "$orig3" $P3
    # The lengths: dts-scserver declares none, the clones' nodes report
    # them (SC-LEN). A clone whose length its node did not report would
    # leave the clones held behind it unplaceable (sc_multi_reset, the
    # connection reset) or leave DTS_SO_CLONE_WAIT with a clone in flight
    # (`note=wait-failed`, the connection dropped).
    log_fields conn action <"$f3" 2>/dev/null | awk -v c="$conn3" '$1 == c && $2 ~ /^clone:/' >/tmp/p3.cl
    check "pipelined: node$orig3 cloned requests ($(wc -l </tmp/p3.cl) clone(s))" test -s /tmp/p3.cl
    d=$(delta p2 p3 "$orig3" sc_held)
    check "pipelined: node$orig3 cloned at once, clones held behind others (sc_held +$d)" test "$d" -ge 1
    for k in 2 3 4; do
        [ "$k" = "$orig3" ] && continue
        nk=$(grep -c " clone:$k\$" /tmp/p3.cl)
        d=$(delta p2 p3 "$k" sc_len_reported)
        check "pipelined: node$k reported its clones' response lengths (sc_len_reported +$d, clones to it: $nk)" \
            test "$d" -ge "$nk"
    done
    for k in 2 3 4; do
        d=$(delta p2 p3 "$k" sc_multi_reset)
        check "pipelined: no connection reset for clones out of place on node$k (sc_multi_reset +$d)" test "$d" = 0
    done
    check "pipelined: no DTS_SO_CLONE_WAIT failed (no note= line in node$orig3's log but clone-busy retries)" \
        sh -c "! grep ' note=' '$f3' | grep -v ' note=clone-busy '"
    rm -rf /tmp/p3

    # --- 1 % loss
    if [ "$LOSS" = 1 ]; then
        check "netem: 1 % loss on eth0" netem_loss 1
        # shellcheck disable=SC2086
        set -- $P4K
        n4k=$#
        barrier p4-go "$ALL"
        # shellcheck disable=SC2086
        check "loss: one curl, $n4k keep-alive requests (up to 4 MiB)" ka_fetch p4k $P4_PORT 300 $P4K
        check "loss: keep-alive curl connected once" one_connection p4k "$n4k"
        # shellcheck disable=SC2086
        check "loss: all $n4k keep-alive bodies byte-exact, in order" bodies_ok /tmp/p4k "" $P4K
        rm -rf /tmp/p4k
        # shellcheck disable=SC2086
        set -- $P4P
        # shellcheck disable=SC2086
        check "loss: dts-pipeclient, $# requests at once, all answered 200" pipe_fetch p4p 300 $P4P
        # shellcheck disable=SC2086
        check "loss: all $# pipelined bodies byte-exact, in order" bodies_ok /tmp/p4p .body $P4P
        rm -rf /tmp/p4p
    else
        barrier p4-go "$ALL"
        log "loss: skipped on the debug kernel"
    fi
    barrier p4-done "$ALL"
    [ "$LOSS" = 0 ] || netem_loss off
    barrier p4-pub "$ALL"
    fb=$(cat "$RIG_SHARED"/sc.p4.log.node* 2>/dev/null | log_fields action | grep -c '^fallback')
    figure "p4 (1 % loss): $fb request(s) fell back to local service"

    # >>> policy phase (pc): dts-scserver --config, [policy] chash >>>>>>>>>>>>>>>>
    # The nodes restart dts-scserver with --config before pc-go. One curl per
    # port, one after the other: IPVS rr gives each a different acceptor.
    # shellcheck disable=SC2086
    set -- $PC
    barrier pc-go "$ALL"
    for port in $PC_PORTS; do
        # shellcheck disable=SC2086
        check "policy: one curl from port $port, $# requests (chash places them)" \
            ka_fetch "pc$port" "$port" $((120 * SLOW)) $PC
        check "policy: the curl from port $port connected once" one_connection "pc$port" "$#"
        # shellcheck disable=SC2086
        check "policy: all $# bodies from port $port byte-exact, in order" bodies_ok "/tmp/pc$port" "" $PC
        rm -rf "/tmp/pc$port"
    done
    barrier pc-done "$ALL"
    barrier pc-pub "$ALL"
    check "policy: each connection taken by one node, at least two different acceptors" \
        pc_acceptors pc
    check "policy: each acceptor logged its $# requests in order, local or clone:X, policy=chash" \
        pc_logged pc
    check "policy: each of the $# paths served by one and the same node from every acceptor" \
        pc_same_node pc
    [ -f /tmp/pc.summary ] && while read -r _l; do figure "pc (chash): $_l"; done </tmp/pc.summary
    # <<< policy phase (pc) <<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<

    # >>> drain phase (dr): node 4 out of the dispatcher, then dtsctl drain >>>>>>>>
    barrier dr-go "$ALL"
    rm -f /tmp/dr.started /tmp/dr.stop
    "$PY" "$RIG_REPO/tests/vm/ka_stream.py" --vip "$VIP_SC" --ports "$DR_PORT" --paths "$DR_PATHS" \
        --sums /tmp/sha.txt --duration $((300 * SLOW)) --think-ms 100 --started /tmp/dr.started \
        --until /tmp/dr.stop --out /tmp/dr.json >/tmp/dr.out 2>&1 &
    drs=$!
    n=0
    while [ ! -e /tmp/dr.started ] && [ $n -lt $((600 * SLOW)) ]; do sleep 0.1; n=$((n + 1)); done
    check "drain: the keep-alive stream from port $DR_PORT (to node 4) had its first response" \
        test -e /tmp/dr.started
    for b in dr-held dr-out dr-busy; do barrier "$b" "$ALL"; done
    # shellcheck disable=SC2086
    set -- $DR_NEW
    for port in $DR_NEW_PORTS; do
        # shellcheck disable=SC2086
        check "drain: a new connection from port $port while node 4 drains, $# requests" \
            ka_fetch "dr$port" "$port" $((60 * SLOW)) $DR_NEW
        # shellcheck disable=SC2086
        check "drain: all $# bodies from port $port byte-exact, in order" bodies_ok "/tmp/dr$port" "" $DR_NEW
        rm -rf "/tmp/dr$port"
    done
    touch /tmp/dr.stop
    wait $drs
    rc=$?
    check "drain: the stream on node 4 went on through the drain, every body byte-exact, no error ($(tr '\n' ' ' </tmp/dr.out))" \
        test $rc = 0
    barrier dr-closed "$ALL"
    barrier dr-done "$ALL"
    barrier dr-pub "$ALL"
    w=$(nodes_with dr "$CLIENT_IP:$DR_PORT")
    check "drain: node 4 alone logged the stream's connection (node(s): ${w:-none})" test "$w" = 4
    for port in $DR_NEW_PORTS; do
        w=$(nodes_with dr "$CLIENT_IP:$port")
        check "drain: node 2 or 3 alone took the new connection from port $port (node(s): ${w:-none})" \
            sh -c "[ '$w' = 2 ] || [ '$w' = 3 ]"
    done
    # <<< drain phase (dr) <<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<

    # --- the clone's node dies mid-response
    barrier p5-go "$ALL"
    rm -f /tmp/p5.body
    # A small receive buffer keeps most of the response in the clone's send
    # queue: with the default (up to 6 MiB), a 1 MiB response sits whole in
    # the client's socket before node 3 goes down and curl completes from it.
    rmem=$(sysctl -n net.ipv4.tcp_rmem)
    sysctl -qw net.ipv4.tcp_rmem="4096 32768 65536"
    curl -sS --http1.1 --limit-rate $P5_RATE --max-time $((120 * SLOW)) --local-port $P5_PORT -o /tmp/p5.body \
        -w '%{http_code} %{size_download}\n' "http://$VIP_SC/$P5_PATH" >/tmp/p5.w 2>/tmp/p5.err &
    p5=$!
    size5() { stat -c %s /tmp/p5.body 2>/dev/null || echo 0; }
    n=0
    while kill -0 $p5 2>/dev/null && [ "$(size5)" -eq 0 ] && [ $n -lt $((300 * SLOW)) ]; do
        sleep 0.2; n=$((n + 1))
    done
    check "clone dies: the transfer of /$P5_PATH started ($(size5) bytes after $((n / 5)) s)" \
        test "$(size5)" -gt 0
    touch "$RIG_SHARED/p5.started"    # node 4 forges a copy now (forge_copy_p5)
    sleep "$P5_SLEEP"
    log "clone dies: $(size5) bytes received, node 3 goes down now"
    check "clone dies: the transfer is still under way ($(size5) of $P5_SIZE bytes)" \
        test "$(size5)" -lt $((P5_SIZE / 2))
    barrier p5-kill 3    # client, node 2, node 3
    tk=$(cut -d' ' -f1 /proc/uptime)
    wait $p5
    rc=$?
    te=$(cut -d' ' -f1 /proc/uptime)
    el=$(awk -v a="$tk" -v b="$te" 'BEGIN { printf "%.1f", b - a }')
    case $rc in
        0)  why="completed" ;;
        56) why="connection reset or receive error, exit 56" ;;
        28) why="timeout, exit 28" ;;
        18) why="partial file, exit 18" ;;
        *)  why="exit $rc" ;;
    esac
    log "clone dies: curl: $(cat /tmp/p5.err /tmp/p5.w | tr '\n' ' ')"
    figure "clone dies: curl ended ${el}s after node 3's failure ($why), $(size5) of $P5_SIZE bytes"
    check "clone dies: curl ended with an error ($why) ${el}s after node 3's failure, $(size5) of $P5_SIZE bytes" \
        test "$rc" != 0
    rm -f /tmp/p5.body
    sysctl -qw net.ipv4.tcp_rmem="$rmem"
    barrier p5-done "$ALL"
    barrier p5-pub "$ALL"
    cat "$RIG_SHARED"/sc.p5.log.node* "$RIG_SHARED"/sc.p6.log.node* 2>/dev/null |
        grep "conn=$CLIENT_IP:$P5_PORT" | sed 's/^/clone dies: logged: /' >>"$FIG"

    # --- clone to a node that is down
    # shellcheck disable=SC2086
    fallback_phase p6 p5 $P6_PORT EHOSTDOWN "node 3 down" 1 $P6

    # --- microsecond timestamps: the clone call refuses, the original serves
    # shellcheck disable=SC2086
    fallback_phase p7 p6 $P7_PORT EOPNOTSUPP "usec timestamps" 2 $P7

    # --- the capture, figures
    if [ "$CAPTURE" = 1 ]; then
        wait "$pcap_pid"
        # shellcheck disable=SC2016
        if ! check "keep-alive capture: no RST, no gap, each response from the node owning its path" \
            sh -c 'cat /tmp/p2.pcapcheck; exit "$(cat /tmp/p2.pcaprc 2>/dev/null || echo 2)"'; then
            cp /tmp/p2.pcap "$RIG_OUT/"
        fi
        grep -E 'socket cloning|server data' /tmp/p2.pcapcheck | sed 's/^ */capture: /' >>"$FIG"
        rm -f /tmp/p2.pcap
    fi
    figures
    check "kernel log has no problem report" dmesg_clean
    ;;
esac
