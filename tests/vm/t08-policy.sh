#!/bin/sh
# t08-policy: dts-proxy's placement policies and dtsctl's declarative
# commands, on 3 nodes + client.
#   nodes:  the cluster of userspace-tools/dtsctl/examples/cluster3.toml
#           (mesh on) with a [policy] table; the same 6 files under
#           /tmp/www/w/ on every node (sha256 published by node 1); stock
#           nginx on port 80;
#   apply:  `dtsctl apply -f` applies the file; applying a file that
#           differs only in [policy] is a no-op for the module (its
#           config_set counter does not move); `dtsctl show services|nodes|
#           stats|flows --json` parse; a file with an error is refused with
#           its line and changes nothing; `show flows` lists the connections
#           of the lard run;
#   policy: for each of lard, ds, chash, rr, wrr, least_conn, affinity,
#           owner_first: dts-proxy --config (the file's [policy]) --metrics;
#           the client fetches the 6 files twice, one connection each, from
#           consecutive client ports (spread over the nodes): every body
#           byte-exact, no failed request; the placement follows the policy
#           (lard: each proxy sends a path to one node while loads are under
#           the ceiling; chash and owner_first: every proxy sends a path to
#           the same node; affinity: each proxy keeps this client on one
#           node); requests/s, the share handed over and the fallbacks are
#           logged per policy (the metrics endpoint's counters);
#   fallback: node 3's nginx stopped: with rr, handovers to node 3 fail
#           (ECONNREFUSED), the proxy falls back to the next choice, and no
#           client request fails; malformed and oversized requests get 400
#           and 431, and the proxies keep serving;
#   keep-alive: with handover_to = "proxy" and chash, one client
#           connection carries 6 requests whose paths alternate between two
#           nodes (by the chash run's placement): the proxies re-hand it
#           over at every request (at least 5 handovers), every body
#           byte-exact, one connection;
#   all:    `dtsctl flush` leaves no configuration and no flow; dmesg clean.
# rig-nodes: 3
. "$RIG_REPO/tests/vm/lib.sh"

ALL=$(all_vms)
EXAMPLES=$RIG_REPO/userspace-tools/dtsctl/examples
POLICIES="lard ds chash rr wrr least_conn affinity owner_first"
NFILES=6
METRICS=127.0.0.1:9100
RAW=$RIG_REPO/tests/vm/raw_request.py

# policy_table NAME: the [policy] table of policy NAME.
policy_table() {
    printf '\n[policy]\nname = "%s"\n' "$1"
    case $1 in
        wrr) printf 'weights = { 1 = 1, 2 = 2, 3 = 1 }\n' ;;
        affinity) printf 'ttl_s = 600\n' ;;
        lard) printf 'max_load = 80\n' ;;
    esac
}

case "$RIG_ROLE" in
node)
    conf() { sed "s/^self = 1$/self = $RIG_ID/" "$EXAMPLES/cluster3.toml"; policy_table "$1"; }
    conf rr >/tmp/c-first.toml
    check "dtsctl apply -f (self = $RIG_ID, policy rr)" "$DTSCTL" apply -f /tmp/c-first.toml
    check "control mesh formed" "$DTSCTL" peers --wait 120
    "$DTSCTL" status --json >/tmp/st0.json
    set0=$(json_get counters.config_set /tmp/st0.json)
    conf lard >/tmp/c-lard.toml
    check "dtsctl apply -f of a file that differs only in [policy]: no change for the module" \
        "$DTSCTL" apply -f /tmp/c-lard.toml
    "$DTSCTL" status --json >/tmp/st1.json
    set1=$(json_get counters.config_set /tmp/st1.json)
    check "config_set counter unchanged by the no-op apply ($set0 -> $set1)" test "$set1" = "$set0"
    # An invalid file (a service on a node that does not exist) is refused
    # with its line, and the configuration in force stays.
    { conf rr; printf '\n[[service]]\nvip = "10.0.0.101"\nport = 80\nproxy_port = 8080\nnodes = [1, 9]\n'; } >/tmp/c-bad.toml
    check "dtsctl apply -f of an invalid file fails and names the line" \
        sh -c "! '$DTSCTL' apply -f /tmp/c-bad.toml 2>/tmp/bad.err && grep -q 'line' /tmp/bad.err && cat /tmp/bad.err"
    "$DTSCTL" status --json >/tmp/st2.json
    set2=$(json_get counters.config_set /tmp/st2.json)
    check "the refused apply changed nothing (config_set $set2)" test "$set2" = "$set0"
    for what in services nodes stats flows peers; do
        check "dtsctl show $what --json parses" \
            sh -c "'$DTSCTL' show $what --json >/tmp/show.json && '$PY' -c 'import json,sys; json.load(open(\"/tmp/show.json\"))'"
    done
    check "show services lists the VIP" sh -c "'$DTSCTL' show services | grep -q 10.0.0.100"

    mkdir -p /tmp/www/w
    if [ "$RIG_ID" = 1 ]; then
        i=1
        while [ $i -le $NFILES ]; do
            head -c $(( 1000 + i * i * 7919 )) /dev/urandom >"$RIG_SHARED/pol.f$i"
            sha256_of "$RIG_SHARED/pol.f$i" >"$RIG_SHARED/pol.f$i.sha"
            i=$((i + 1))
        done
    fi
    nginx_start_without_proxy_port
    barrier files "$ALL"
    cp "$RIG_SHARED"/pol.f[0-9]* /tmp/www/w/ 2>/dev/null
    for f in /tmp/www/w/pol.f*; do mv "$f" "/tmp/www/w/${f##*/pol.}"; done
    rm -f /tmp/www/w/*.sha

    for pol in $POLICIES fallback; do
        p=$pol
        [ "$pol" = fallback ] && p=rr
        conf "$p" >"/tmp/c-$pol.toml"
        check "dts-proxy --config ($pol: policy $p) listens on 8080" \
            dts_proxy_start 8080 --listen 0.0.0.0:8080 --config "/tmp/c-$pol.toml" --metrics "$METRICS"
        if [ "$pol" = fallback ] && [ "$RIG_ID" = 3 ]; then
            check "nginx on node 3 stopped (handovers to node 3 are refused)" nginx_stop_wait
        fi
        barrier "$pol-ready" "$ALL"
        barrier "$pol-done" "$ALL"
        if [ "$pol" = lard ]; then
            # The client holds a connection open: the module lists it
            # (DTS_SO_GET_FLOWS) on the node that took it, and maybe some of
            # the run's own (they linger for 10 s after their end); the
            # client checks the sum.
            check "dtsctl show flows --json: the listing is consistent" \
                sh -c "'$DTSCTL' show flows --json >/tmp/flows.json && '$PY' -c '
import json
d = json.load(open(\"/tmp/flows.json\"))
assert d[\"shown\"] == len(d[\"flows\"]) == d[\"total\"] and not d[\"truncated\"], d
print(\"%d flows, roles %s\" % (d[\"total\"], sorted(set(f[\"role\"] for f in d[\"flows\"]))))
open(\"$RIG_SHARED/flows.node$RIG_ID\", \"w\").write(\"%d\\n\" % d[\"total\"])'"
        fi
        curl -s "http://$METRICS/metrics" >"$RIG_SHARED/m.$pol.node$RIG_ID"
        cp /tmp/proxy.log "$RIG_SHARED/log.$pol.node$RIG_ID"
        check "dts-proxy ($pol) still running" kill -0 "$(cat /tmp/proxy.pid)"
        dts_proxy_stop
    done

    # Keep-alive re-handover under a policy: handed-over connections go to
    # the destination's proxy (handover_to = "proxy"), which places every
    # later request again (chash).
    sed "s/^self = 1$/self = $RIG_ID/" "$EXAMPLES/cluster3-keepalive.toml" >/tmp/c-ka.toml
    policy_table chash >>/tmp/c-ka.toml
    check "dtsctl apply -f (handover_to = proxy, policy chash)" "$DTSCTL" apply -f /tmp/c-ka.toml
    check "control mesh formed again" "$DTSCTL" peers --wait 120
    if [ "$RIG_ID" = 3 ]; then
        check "nginx on node 3 started again" nginx_start
    fi
    check "dts-proxy --config --keepalive (chash) listens on 8080" \
        dts_proxy_start 8080 --listen 0.0.0.0:8080 --config /tmp/c-ka.toml --keepalive --metrics "$METRICS"
    barrier ka-ready "$ALL"
    barrier ka-done "$ALL"
    curl -s "http://$METRICS/metrics" >"$RIG_SHARED/m.ka.node$RIG_ID"
    cp /tmp/proxy.log "$RIG_SHARED/log.ka.node$RIG_ID"
    dts_proxy_stop
    barrier counted "$ALL"
    check "flow table drained (within 150 s)" flows_drain 150
    check "dtsctl flush" "$DTSCTL" flush
    check "after flush: no configuration, no flow" \
        sh -c "'$DTSCTL' config show --json | '$PY' -c 'import json,sys; d=json.load(sys.stdin); assert not d.get(\"services\"), d' &&
               '$DTSCTL' show flows --json | '$PY' -c 'import json,sys; d=json.load(sys.stdin); assert d[\"total\"] == 0, d'"
    "$DTSCTL" status --json >"$RIG_OUT/status-final.json"
    nginx_collect
    check "rmmod dts" rmmod dts
    check "kernel log has no problem report" dmesg_clean
    ;;
client)
    PORT=31000
    # fetch NAME [OWNERS]: every file twice, one connection each, from
    # consecutive client ports (which the rendezvous hash spreads over the
    # nodes), or from ports owned in turn by the nodes in OWNERS; writes
    # "WRONG REQ/S" to /tmp/fetch.res, where REQ/S is the requests over the
    # sum of curl's own times (connect to last byte: the client's process
    # start-up under TCG left out).
    fetch() {
        name=$1 owners=${2:-}
        rm -rf "/tmp/p-$name"; mkdir -p "/tmp/p-$name"
        : >/tmp/fetch.ports
        k=0
        while [ $k -lt $((2 * NFILES)) ]; do
            if [ -n "$owners" ]; then
                # shellcheck disable=SC2086
                set -- $owners
                shift $(( k % $# ))
                port_of "$1"
            else
                PORT=$((PORT + 1))
            fi
            echo "$PORT $(( k % NFILES + 1 ))" >>/tmp/fetch.ports
            k=$((k + 1))
        done
        : >/tmp/fetch.times
        while read -r port i; do
            # "PORT I HTTP_CODE TIME" per request; the bodies are checked
            # after the loop, all at once (an exec per body costs under TCG).
            curl -sS --http1.1 --max-time 60 --local-port "$port" -o "/tmp/p-$name/f$i.$port" \
                -w "$port $i %{http_code} %{time_total}\n" "http://$VIP/w/f$i" \
                >>/tmp/fetch.times 2>>"/tmp/p-$name.err"
        done </tmp/fetch.ports
        (cd "/tmp/p-$name" && sha256sum f*) >"/tmp/p-$name.sums" 2>/dev/null
        # Every request of /tmp/fetch.ports needs a 200 and f$i's sha256
        # ($RIG_SHARED/pol.f$i.sha); a request curl did not answer counts.
        bad=$(awk -v shared="$RIG_SHARED" '
            FILENAME == "/tmp/fetch.ports" { port[++n] = $1; file[n] = $2; next }
            FILENAME == "/tmp/fetch.times" { code[$1] = $3; next }
            { got[$2] = $1 }
            END {
                bad = 0
                for (r = 1; r <= n; r++) {
                    f = "pol.f" file[r] ".sha"; want = ""
                    if ((getline want < (shared "/" f)) <= 0) want = "?"
                    close(shared "/" f)
                    b = "f" file[r] "." port[r]
                    if (code[port[r]] != 200 || got[b] != want) {
                        bad++
                        printf "/w/f%d from port %d: HTTP %s, sha256 %s\n", file[r], port[r],
                            (port[r] in code) ? code[port[r]] : "none", (b in got) ? got[b] : "none" > "/dev/stderr"
                    }
                }
                print bad
            }' /tmp/fetch.ports /tmp/fetch.times "/tmp/p-$name.sums" 2>>"$RIG_OUT/log.txt")
        echo "$bad $(awk '{ t += $4; n++ } END { printf "%.1f", (t > 0) ? n / t : 0 }' /tmp/fetch.times)" >/tmp/fetch.res
    }
    # served_by POL: "path node" for every request POL's proxies logged
    # (the node that took the connection, or the proxy's own node).
    served_by() {
        for k in 1 2 3; do
            awk -v self="$k" '/ path=/ {
                p = ""; n = self
                for (i = 1; i <= NF; i++) {
                    if ($i ~ /^path=/) p = substr($i, 6)
                    if ($i ~ /^node=/) n = substr($i, 6)
                }
                print k, p, n
            }' k="$k" "$RIG_SHARED/log.$1.node$k"
        done
    }
    barrier files "$ALL"
    for pol in $POLICIES fallback; do
        barrier "$pol-ready" "$ALL"
        owners=""
        [ "$pol" = fallback ] && owners="1 2"
        fetch "$pol" "$owners"
        res=$(cat /tmp/fetch.res)
        bad=${res% *} rps=${res#* }
        check "$pol: $((2 * NFILES)) requests, every body byte-exact ($bad wrong or failed)" test "$bad" = 0
        if [ "$pol" = fallback ]; then
            check "malformed request: 400 ($("$PY" "$RAW" "$VIP" 80 30001 garbage | tee /tmp/raw1))" \
                grep -q ' 400 ' /tmp/raw1
            check "oversized header: 431 or a close ($("$PY" "$RAW" "$VIP" 80 30002 oversized | tee /tmp/raw2))" \
                grep -Eq ' 431 |^closed$' /tmp/raw2
            fetch fallback2 "1 2"
            res=$(cat /tmp/fetch.res)
            check "fallback: requests after the bad ones all byte-exact (${res% *} wrong)" test "${res% *}" = 0
        fi
        hold=""
        if [ "$pol" = lard ]; then
            # An open connection the nodes' `dtsctl show flows` must list
            # (the run's own ones may have left the table by then).
            # It says when it is connected: starting python can take
            # seconds on a loaded host.
            rm -f /tmp/held
            "$PY" -c 'import socket, sys, time; s = socket.create_connection((sys.argv[1], 80), 30); open("/tmp/held", "w").close(); time.sleep(120)' "$VIP" &
            hold=$!
            n=0
            while [ ! -e /tmp/held ] && kill -0 "$hold" 2>/dev/null && [ $n -lt 300 ]; do
                sleep 0.2; n=$((n + 1))
            done
            check "a connection to the VIP held open for dtsctl show flows" test -e /tmp/held
            sleep 1
        fi
        barrier "$pol-done" "$ALL"
        # The proxies wrote their metrics and logs after the barrier.
        n=0
        while [ $n -lt 100 ] && [ "$(ls "$RIG_SHARED"/log."$pol".node* 2>/dev/null | wc -l)" -lt 3 ]; do
            sleep 0.2; n=$((n + 1))
        done
        sleep 1
        ok=$(sum_metric "$pol" dts_proxy_handovers_total 'result="ok"')
        fb=$(sum_metric "$pol" dts_proxy_fallbacks_total)
        reqs=$(sum_metric "$pol" dts_proxy_requests_total)
        log "policy $pol: $rps req/s, handed over $ok of $reqs, fallbacks $fb"
        echo "$pol $rps $ok $reqs $fb" >>"$RIG_OUT/policy-figures.txt"
        served_by "$pol" >"/tmp/served.$pol"
        case $pol in
            lard)
                nf=$(cat "$RIG_SHARED"/flows.node* 2>/dev/null | awk '{ s += $1 } END { print s + 0 }')
                kill "$hold" 2>/dev/null
                check "dtsctl show flows listed the client's open connection on the nodes ($nf flows)" \
                    test "$nf" -ge 1
                check "lard: each proxy sent each path to one node (loads under the ceiling)" \
                    sh -c "sort -u /tmp/served.lard | awk '{ print \$1, \$2 }' | sort | uniq -d | grep -q . && exit 1 || exit 0" ;;
            chash|owner_first)
                check "$pol: every proxy sent each path to the same node" \
                    sh -c "awk '{ print \$2, \$3 }' /tmp/served.$pol | sort -u | awk '{ print \$1 }' | uniq -d | grep -q . && exit 1 || exit 0" ;;
            affinity)
                check "affinity: each proxy kept this client on one node" \
                    sh -c "awk '{ print \$1, \$3 }' /tmp/served.affinity | sort -u | awk '{ print \$1 }' | uniq -d | grep -q . && exit 1 || exit 0" ;;
            fallback)
                r3=$(sum_metric fallback dts_proxy_handovers_total 'result="ECONNREFUSED"')
                check "fallback: handovers to node 3 refused ($r3) and each fell back ($fb fallbacks), none placed on node 3" \
                    sh -c "[ $r3 -gt 0 ] && [ $fb -ge $r3 ] && [ $(sum_metric fallback dts_proxy_placed_total 'node="3"') = 0 ]" ;;
        esac
        if [ "$pol" != fallback ]; then
            check "$pol: $reqs requests counted by the proxies, none fell back ($fb)" \
                test "$reqs/$fb" = "$((2 * NFILES))/0"
        fi
    done

    # Keep-alive: one connection, 6 requests whose paths alternate between
    # two nodes by the chash run's placement, so every request after the
    # first needs the connection on another node: each is re-handed over by
    # the proxy of the node that served the one before.
    seq=$("$PY" -c '
import collections
own = collections.defaultdict(list)
for line in open("/tmp/served.chash"):
    _, path, node = line.split()
    if path not in own[node]:
        own[node].append(path)
a, b = sorted(own, key=lambda n: -len(own[n]))[:2]
print(" ".join(own[a if i % 2 == 0 else b][(i // 2) % len(own[a if i % 2 == 0 else b])] for i in range(6)))
')
    barrier ka-ready "$ALL"
    PORT=$((PORT + 1))
    urls="" i=0
    rm -rf /tmp/ka; mkdir -p /tmp/ka
    for path in $seq; do
        i=$((i + 1))
        urls="$urls http://$VIP$path -o /tmp/ka/$i"
    done
    # shellcheck disable=SC2086
    check "keep-alive: 6 requests on one connection ($seq)" \
        sh -c "curl -sS --fail --http1.1 --max-time 120 --local-port $PORT \
            -w '%{num_connects} %{http_code}\n' $urls >/tmp/ka.w"
    bad=0 i=0
    (cd /tmp/ka && sha256sum -- *) >/tmp/ka.sums 2>/dev/null
    for path in $seq; do
        i=$((i + 1))
        [ "$(awk -v f="$i" '$2 == f { print $1 }' /tmp/ka.sums)" = "$(cat "$RIG_SHARED/pol.${path##*/}.sha")" ] ||
            bad=$((bad + 1))
    done
    check "keep-alive: connected once, 6 responses, all byte-exact ($bad wrong)" \
        sh -c "[ \$(awk '\$1 > 0' /tmp/ka.w | wc -l) = 1 ] && [ \$(awk '\$2 == 200' /tmp/ka.w | wc -l) = 6 ] && [ $bad = 0 ]"
    barrier ka-done "$ALL"
    n=0
    while [ $n -lt 100 ] && [ "$(ls "$RIG_SHARED"/log.ka.node* 2>/dev/null | wc -l)" -lt 3 ]; do
        sleep 0.2; n=$((n + 1))
    done
    sleep 1
    ok=$(sum_metric ka dts_proxy_handovers_total 'result="ok"')
    hin=$(sum_metric ka dts_proxy_requests_total 'decision="handed_in"')
    check "keep-alive: the connection was handed over $ok times (want >= 5), $hin handed-in first requests" \
        test "$ok" -ge 5
    barrier counted "$ALL"
    check "kernel log has no problem report" dmesg_clean
    ;;
esac
