#!/bin/sh
# t12-placement: cluster-wide placement (Documentation/proxy.md,
# "Cluster-wide placement"), real load and owner re-forwarding, on 3 nodes +
# client.
#   nodes:  userspace-tools/dtsctl/examples/cluster3-keepalive.toml (mesh on,
#           handover_to = "proxy": a handed-over connection reaches the
#           destination's dts-proxy, which logs it and serves it locally, so
#           every request has exactly one `action=local` log line, on the
#           node that served it); the same 6 files under /tmp/www/w/ on every
#           node; stock nginx on port 80; dts-proxy --config on 8080 with the
#           phase's [policy] table;
#   lard:   every file requested from ports owned by node 1, 2 and 3 (each
#           node's proxy decides alone): each path is served by one and the
#           same node whichever node accepted it; bodies byte-exact;
#   ds:     the same with `ds` (cold paths: placed by the shared LARD);
#   hot:    `ds` with hot_rate = 1: one path requested 12 times from ports of
#           all three nodes is hot at once (local rate x 3 up nodes > 1, its
#           set is every node), so every proxy serves it itself: 12
#           `ds_hot_local` decisions, no handover;
#   load:   `lard` with max_load = 3. The client holds 4 idle connections on
#           the home H of a path P (ports H accepts): H's serving gauge and
#           the other nodes' view of H (`dtsctl peers --json`
#           load.serving, the proxies' dts_proxy_node_load) reach 4; P
#           requested from every node is then served elsewhere
#           (`lard_overload`), by one node; the holders close; within 3 s
#           P is served by H again (`lard_home`);
#   wrr:    weights 1 = 1, 2 = 2, 3 = 1: 8 requests accepted by each node;
#           each proxy placed exactly 2, 4 and 2 on nodes 1, 2 and 3
#           (dts_proxy_placed_total);
#   lc:     least_conn, with 3 idle connections held on node 3: 12 requests
#           accepted by nodes 1 and 2 never go to node 3, and both nodes 1
#           and 2 get some;
#   refwd:  node 1's proxy mis-places on purpose (--route /=2: everything to
#           node 2); nodes 2 and 3 run lard with reforward = "not_first". A
#           path whose home is not 2, accepted by node 1, goes 1 -> 2 -> home:
#           node 2 re-forwards it exactly once (dts_proxy_reforwards_total
#           ok 1, the module's `reforwarded` 1), the home serves it with
#           `reforwarded=yes` in its log and does not re-forward; the
#           server's TSvals the client saw run on across both handovers (a
#           capture on the client); a path whose home is 2 is served by 2
#           with no re-forward;
#   all:    dmesg clean.
# rig-nodes: 3
. "$RIG_REPO/tests/vm/lib.sh"

ALL=$(all_vms)
EXAMPLES=$RIG_REPO/userspace-tools/dtsctl/examples
NFILES=6
METRICS=127.0.0.1:9100
PHASES="lard ds hot load wrr lc refwd"

# policy_of PHASE: the [policy] table of PHASE.
policy_of() {
    case $1 in
        lard) printf '\n[policy]\nname = "lard"\n' ;;
        ds) printf '\n[policy]\nname = "ds"\n' ;;
        hot) printf '\n[policy]\nname = "ds"\nhot_rate = 1\n' ;;
        load) printf '\n[policy]\nname = "lard"\nmax_load = 3\n' ;;
        wrr) printf '\n[policy]\nname = "wrr"\nweights = { 1 = 1, 2 = 2, 3 = 1 }\n' ;;
        lc) printf '\n[policy]\nname = "least_conn"\n' ;;
        refwd) printf '\n[policy]\nname = "lard"\nreforward = "not_first"\n' ;;
    esac
}

case "$RIG_ROLE" in
node)
    conf() { sed "s/^self = 1$/self = $RIG_ID/" "$EXAMPLES/cluster3-keepalive.toml"; policy_of "$1"; }
    conf lard >/tmp/c-base.toml
    check "dtsctl apply -f (self = $RIG_ID, handover_to = proxy)" "$DTSCTL" apply -f /tmp/c-base.toml
    check "control mesh formed" "$DTSCTL" peers --wait 120
    mkdir -p /tmp/www/w
    if [ "$RIG_ID" = 1 ]; then
        i=1
        while [ $i -le $NFILES ]; do
            head -c $(( 2000 + i * i * 3001 )) /dev/urandom >"$RIG_SHARED/pl.f$i"
            sha256_of "$RIG_SHARED/pl.f$i" >"$RIG_SHARED/pl.f$i.sha"
            i=$((i + 1))
        done
    fi
    nginx_start_without_proxy_port
    barrier files "$ALL"
    i=1
    while [ $i -le $NFILES ]; do
        cp "$RIG_SHARED/pl.f$i" "/tmp/www/w/f$i"
        i=$((i + 1))
    done
    for ph in $PHASES; do
        conf "$ph" >"/tmp/c-$ph.toml"
        role=policy
        if [ "$ph" = refwd ]; then
            # The client's plan from the lard phase: node M mis-places,
            # node 2 re-forwards to the far path's home H.
            barrier refwd-plan "$ALL"
            read -r _far H _near M <"$RIG_SHARED/refwd.plan"
            [ "$RIG_ID" = "$M" ] && role=misplace
            [ "$RIG_ID" = "$H" ] && role=loop
        fi
        if [ "$role" = misplace ]; then
            check "dts-proxy ($ph: --route /=2, mis-placing on purpose) listens on 8080" \
                dts_proxy_start 8080 --listen 0.0.0.0:8080 --self-node "$RIG_ID" --nodes 1,2,3 \
                --route /=2 --metrics "$METRICS"
        elif [ "$role" = loop ]; then
            # The home: reforward_loop.py instead of dts-proxy. It must be
            # refused a second re-forward (ELOOP), then serves the request.
            "$PY" "$RIG_REPO/tests/vm/reforward_loop.py" 8080 2 "$M" >/tmp/loop.log 2>&1 &
            loop=$!
            n=0
            while ! grep -q listening /tmp/loop.log && [ $n -lt 100 ]; do sleep 0.2; n=$((n + 1)); done
            check "reforward_loop.py listens on 8080" grep -q listening /tmp/loop.log
            echo "$loop" >/tmp/proxy.pid
            : >/tmp/proxy.log
        else
            check "dts-proxy --config ($ph) listens on 8080" \
                dts_proxy_start 8080 --listen 0.0.0.0:8080 --config "/tmp/c-$ph.toml" --metrics "$METRICS"
        fi
        barrier "$ph-ready" "$ALL"
        if [ "$ph" = load ]; then
            # While the client holds connections on the home node, every
            # node records what it sees of the home's load.
            barrier load-held "$ALL"
            "$DTSCTL" peers --json >"$RIG_SHARED/peers.load.node$RIG_ID"
            "$DTSCTL" status --json >"$RIG_SHARED/status.load.node$RIG_ID"
            curl -s "http://$METRICS/metrics" >"$RIG_SHARED/mheld.load.node$RIG_ID"
            barrier load-seen "$ALL"
        fi
        barrier "$ph-done" "$ALL"
        # (reforward_loop.py has no metrics: an empty file.)
        curl -s "http://$METRICS/metrics" >"$RIG_SHARED/m.$ph.node$RIG_ID"
        "$DTSCTL" status --json >"$RIG_SHARED/status.$ph.node$RIG_ID"
        cp /tmp/proxy.log "$RIG_SHARED/log.$ph.node$RIG_ID"
        if [ "$role" = loop ]; then
            wait "$loop"
            rc=$?
            check "reforward_loop.py: a second re-forward refused with ELOOP, the request served ($(tr '\n' ';' </tmp/loop.log))" \
                test "$rc" = 0
            cp /tmp/loop.log "$RIG_SHARED/loop.log"
            grep '^dts-proxy:' /tmp/loop.log >"$RIG_SHARED/log.$ph.node$RIG_ID"
            rm -f /tmp/proxy.pid
        else
            check "dts-proxy ($ph) still running" kill -0 "$(cat /tmp/proxy.pid)"
            dts_proxy_stop
        fi
        # Everything of this phase is published.
        : >"$RIG_SHARED/pub.$ph.node$RIG_ID"
    done
    barrier counted "$ALL"
    check "flow table drained (within 150 s)" flows_drain 150
    check "dtsctl flush" "$DTSCTL" flush
    nginx_collect
    check "rmmod dts" rmmod dts
    check "kernel log has no problem report" dmesg_clean
    ;;
client)
    PORT=32000
    # get PHASE PATH: one request for PATH from port $PORT (set by the
    # caller); "PORT PATH CODE" appended to /tmp/req.PHASE, the body kept.
    get() {
        mkdir -p "/tmp/b-$1"
        curl -sS --http1.1 --max-time 60 --local-port "$PORT" -o "/tmp/b-$1/$PORT" \
            -w "$PORT $2 %{http_code}\n" "http://$VIP$2" >>"/tmp/req.$1" 2>>"/tmp/req.$1.err" ||
            echo "$PORT $2 000" >>"/tmp/req.$1"
    }
    # wait_logs PHASE: the nodes' logs, metrics and status of PHASE are
    # published (each node's pub.PHASE marker, written last; 120 s at most:
    # the debug kernel is slow).
    wait_logs() {
        n=0
        while [ $n -lt 600 ]; do
            c=0
            for f in "$RIG_SHARED/pub.$1.node"*; do [ -e "$f" ] && c=$((c + 1)); done
            [ $c -ge 3 ] && return 0
            sleep 0.2; n=$((n + 1))
        done
        log "wait_logs $1: not every node published"
    }
    # analyse PHASE: checks every request of PHASE (200, byte-exact, one
    # `action=local` line on exactly one node) and writes "PORT PATH NODE
    # DECISION ACCEPTOR" per request to /tmp/served.PHASE (NODE served it,
    # ACCEPTOR took the client's SYN and decided: DECISION), or fails.
    analyse() {
        "$PY" - "$1" "$RIG_SHARED" <<'EOF'
import hashlib, re, sys
ph, shared = sys.argv[1], sys.argv[2]
want = {}
for i in range(1, 7):
    want["/w/f%d" % i] = open("%s/pl.f%d.sha" % (shared, i)).read().split()[0]
lines = {}   # port -> [(node, fields)]
for k in (1, 2, 3):
    for line in open("%s/log.%s.node%d" % (shared, ph, k), errors="replace"):
        if " path=" not in line:
            continue
        f = dict(m.groups() for m in re.finditer(r'(\w+)=("[^"]*"|\S+)', line))
        port = f.get("client", "").rsplit(":", 1)[-1]
        lines.setdefault(port, []).append((k, f))
bad = []
out = open("/tmp/served.%s" % ph, "w")
for req in open("/tmp/req.%s" % ph):
    port, path, code = req.split()
    body = open("/tmp/b-%s/%s" % (ph, port), "rb").read() if code == "200" else b""
    if code != "200" or hashlib.sha256(body).hexdigest() != want[path]:
        bad.append("%s from %s: HTTP %s, body wrong or missing" % (path, port, code))
        continue
    got = lines.get(port, [])
    local = [k for k, f in got if f.get("action") == "local"]
    first = [f for k, f in got if "from" not in f]
    if len(local) != 1 or len(first) != 1:
        bad.append("%s from %s: %d local lines, %d acceptor lines: %s" % (path, port, len(local), len(first), got))
        continue
    acc = [k for k, f in got if "from" not in f][0]
    out.write("%s %s %d %s %d\n" % (port, path, local[0], first[0].get("decision", "-"), acc))
out.close()
if bad:
    print("\n".join(bad))
    sys.exit(1)
EOF
    }
    # owners_of PHASE: "PATH NODES" per path: the distinct serving nodes.
    owners_of() {
        awk '{ k = $2 " " $3; if (!(k in s)) { s[k] = 1; o[$2] = o[$2] " " $3 } }
             END { for (p in o) print p o[p] }' "/tmp/served.$1" | sort
    }
    # ports_of N OWNER: N more client ports OWNER accepts, in $PORTS. In
    # the test's own shell: `check` runs its command in a subshell, whose
    # $PORT would not move on.
    ports_of() {
        PORTS=""
        j=0
        while [ $j -lt "$1" ]; do port_of "$2"; PORTS="$PORTS $PORT"; j=$((j + 1)); done
    }
    # hold TAG PORT...: idle connections to the VIP from the PORTs, held
    # until /tmp/release.TAG exists; waits until all are connected. The
    # holder's output goes to a file: `check` waits for the end of a
    # command's output, which a holder left on it would never give.
    hold() {
        tag=$1; shift
        set -- "$tag" "$@"
        rm -f "/tmp/held.$tag" "/tmp/release.$tag"
        # shellcheck disable=SC2086
        "$PY" -c '
import os, socket, sys, time
vip, tag = sys.argv[1], sys.argv[2]
socks = []
for p in sys.argv[3:]:
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("", int(p)))
    s.connect((vip, 80))
    socks.append(s)
open("/tmp/held." + tag, "w").close()
while not os.path.exists("/tmp/release." + tag):
    time.sleep(0.1)
for s in socks:
    s.close()
' "$VIP" "$@" >"/tmp/hold.$tag.log" 2>&1 </dev/null &
        n=0
        while [ ! -e "/tmp/held.$tag" ] && [ $n -lt 300 ]; do sleep 0.2; n=$((n + 1)); done
        test -e "/tmp/held.$tag" || { cat "/tmp/hold.$tag.log"; return 1; }
    }

    barrier files "$ALL"
    for ph in $PHASES; do
        : >"/tmp/req.$ph"
        if [ "$ph" = refwd ]; then
            # A path whose home is not node 2 (far, home H) and one whose
            # home is 2 (near), by the lard phase; M, the third node,
            # accepts both and mis-places them on node 2.
            far=$(awk '$3 != 2 { print $2; exit }' /tmp/served.lard)
            H=$(awk -v p="$far" '$2 == p { print $3; exit }' /tmp/served.lard)
            near=$(awk '$3 == 2 { print $2; exit }' /tmp/served.lard)
            M=$((6 - 2 - H))
            echo "$far $H ${near:--} $M" >"$RIG_SHARED/refwd.plan"
            log "refwd: $far (home $H) and ${near:-no path} (home 2), accepted by node $M"
            barrier refwd-plan "$ALL"
        fi
        barrier "$ph-ready" "$ALL"
        case $ph in
            lard|ds)
                i=1
                while [ $i -le $NFILES ]; do
                    for o in 1 2 3; do port_of "$o"; get "$ph" "/w/f$i"; done
                    i=$((i + 1))
                done ;;
            hot)
                k=0
                while [ $k -lt 4 ]; do
                    for o in 1 2 3; do port_of "$o"; get hot /w/f1; done
                    k=$((k + 1))
                done ;;
            load)
                # P: the lard phase's first path; H: its home.
                P=$(awk 'NR == 1 { print $2 }' /tmp/served.lard)
                H=$(awk 'NR == 1 { print $3 }' /tmp/served.lard)
                log "load: path $P, home node $H"
                ports_of 4 "$H"
                # shellcheck disable=SC2086
                check "load: 4 idle connections held on node $H" hold load $PORTS
                # The LOAD reaches the peers within 50 ms, the proxies poll
                # every 250 ms.
                sleep 2
                barrier load-held "$ALL"
                barrier load-seen "$ALL"
                seen=$("$JQ" -r --argjson h "$H" '.peers[] | select(.id == $h) | .load.serving' \
                    "$RIG_SHARED/peers.load.node$(( H % 3 + 1 ))")
                own=$(json_get counters.serving "$RIG_SHARED/status.load.node$H")
                gauge=$(metric "$RIG_SHARED/mheld.load.node$(( H % 3 + 1 ))" dts_proxy_node_load "node=\"$H\"")
                check "load: node $H serves $own connections (serving gauge), node $(( H % 3 + 1 )) sees $seen (dtsctl peers) and its proxy $gauge (want >= 4 each)" \
                    sh -c "[ $own -ge 4 ] && [ $seen -ge 4 ] && [ $gauge -ge 4 ]"
                for o in 1 2 3; do port_of "$o"; get load "$P"; done
                touch /tmp/release.load
                sleep 3
                for o in 1 2 3; do port_of "$o"; get load "$P"; done ;;
            wrr)
                k=0
                while [ $k -lt 8 ]; do
                    for o in 1 2 3; do port_of "$o"; get wrr "/w/f$(( k % NFILES + 1 ))"; done
                    k=$((k + 1))
                done ;;
            lc)
                ports_of 3 3
                # shellcheck disable=SC2086
                check "lc: 3 idle connections held on node 3" hold lc $PORTS
                sleep 2
                k=0
                while [ $k -lt 6 ]; do
                    for o in 1 2; do port_of "$o"; get lc "/w/f$(( k % NFILES + 1 ))"; done
                    k=$((k + 1))
                done
                touch /tmp/release.lc ;;
            refwd)
                capture_start /tmp/refwd.pcap
                port_of "$M"; get refwd "$far"
                capture_stop
                [ -n "$near" ] && { port_of "$M"; get refwd "$near"; } ;;
        esac
        barrier "$ph-done" "$ALL"
        wait_logs "$ph"
        check "$ph: every request 200, byte-exact, served by exactly one node" analyse "$ph"
        case $ph in
            lard|ds)
                owners_of "$ph" >"/tmp/owners.$ph"
                check "$ph: each path served by one and the same node from all three acceptors ($(tr '\n' ';' <"/tmp/owners.$ph"))" \
                    sh -c "awk 'NF != 2 { exit 1 }' /tmp/owners.$ph && [ \$(wc -l </tmp/owners.$ph) = $NFILES ]" ;;
            hot)
                hl=$(sum_metric hot dts_proxy_requests_total 'decision="ds_hot_local"')
                ho=$(sum_metric hot dts_proxy_handovers_total)
                check "hot: 12 ds_hot_local decisions ($hl), no handover ($ho)" test "$hl/$ho" = "12/0" ;;
            load)
                check "load: with node $H overloaded, $P served by one other node, decision lard_overload" \
                    sh -c "head -n 3 /tmp/served.load | awk -v h=$H '\$3 == h || \$4 != \"lard_overload\" { exit 1 } { s[\$3] = 1 } END { n = 0; for (x in s) n++; exit n != 1 }'"
                check "load: once the holders closed, $P served by node $H again (lard_home)" \
                    sh -c "tail -n 3 /tmp/served.load | awk -v h=$H '\$3 != h || \$4 != \"lard_home\" { exit 1 }'"
                log "load: $(tr '\n' ';' </tmp/served.load)" ;;
            wrr)
                # What each acceptor's proxy placed (a destination's proxy
                # counts the requests handed in to it too: its metrics
                # would not say).
                for k in 1 2 3; do
                    got=$(awk -v k="$k" '$5 == k { n[$3]++ } END { printf "%d %d %d", n[1], n[2], n[3] }' /tmp/served.wrr)
                    check "wrr: node $k's proxy placed 2 4 2 on nodes 1 2 3 (got $got)" test "$got" = "2 4 2"
                done ;;
            lc)
                on1=$(awk '$3 == 1' /tmp/served.lc | wc -l)
                on2=$(awk '$3 == 2' /tmp/served.lc | wc -l)
                on3=$(awk '$3 == 3' /tmp/served.lc | wc -l)
                check "lc: node 3 (3 held connections) got none of 12 ($on3), nodes 1 and 2 got $on1 and $on2" \
                    sh -c "[ $on3 = 0 ] && [ $on1 -ge 1 ] && [ $on2 -ge 1 ] && [ $((on1 + on2)) = 12 ]" ;;
            refwd)
                r2=$(metric "$RIG_SHARED/m.refwd.node2" dts_proxy_reforwards_total 'result="ok"')
                rall=$(sum_metric refwd dts_proxy_reforwards_total)
                k2=$(json_get counters.reforwarded "$RIG_SHARED/status.refwd.node2")
                kh=$(json_get counters.reforwarded "$RIG_SHARED/status.refwd.node$H")
                rh=$(json_get counters.reforward_refused "$RIG_SHARED/status.refwd.node$H")
                check "refwd: $far (home $H) went $M -> 2 -> $H and was served there, re-forwarded exactly once (proxy $r2 of $rall, module $k2 on node 2, $kh on node $H; a second one refused there: reforward_refused $rh)" \
                    sh -c "grep -q '^ok *re-forward again' $RIG_SHARED/loop.log && grep -q '^served' $RIG_SHARED/loop.log &&
                           [ $r2/$rall/$k2/$kh/$rh = 1/1/1/0/1 ]"
                # The client's view of the server's clock across both hops:
                # its TSvals never go back, nor jump (PAWS would drop a
                # segment that seems older than the last one).
                tcpdump -nn -r /tmp/refwd.pcap "src host $VIP and src port 80" 2>/dev/null |
                    sed -n 's/.*TS val \([0-9]*\).*/\1/p' >/tmp/refwd.tsvals
                check "refwd: the server's TSvals as the client saw them run on across both handovers ($(tr '\n' ' ' </tmp/refwd.tsvals))" \
                    "$PY" -c '
import sys
v = [int(x) for x in open("/tmp/refwd.tsvals")]
assert len(v) >= 2, v
for a, b in zip(v, v[1:]):
    d = (b - a) % 2**32
    assert d < 100000, (a, b)
'
                if [ "$near" != - ]; then
                    check "refwd: $near (home 2) served by node 2, not re-forwarded" \
                        awk -v p="$near" '$2 == p && $3 == 2 { f = 1 } END { exit !f }' /tmp/served.refwd
                fi ;;
        esac
    done
    barrier counted "$ALL"
    check "kernel log has no problem report" dmesg_clean
    ;;
esac
