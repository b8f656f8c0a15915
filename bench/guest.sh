#!/bin/sh
# The benchmark's guest side: every VM of a bench/run.sh cluster runs it
# (qemu/cluster.sh --script). Parameters come from the kernel command line
# (cluster.sh --append): bench_part=main|scaling, bench_quick=0|1,
# bench_files=N, bench_alpha=A, bench_cache_mb=M, bench_surge_users=U,
# bench_surge_think=F (the SURGE workload's users and --think-scale),
# bench_all_mechs=0|1 (scaling: every locality mechanism, both workloads).
#
# Every measurement is one JSON line (dts-bench's sample, schema 1) appended
# to /shared/samples.<vm>.jsonl; bench/run.sh gathers them. Checks (PASS/FAIL
# lines, tests/vm/lib.sh) record whether each step worked: a benchmark whose
# setup failed must not report numbers as if it had worked.
#
# main (3 nodes + client), in this order:
#   efficiency  ab (one connection per request) fetches files of 0 B to
#               32 MiB through each mechanism, interleaved: direct (node 2's
#               nginx), dts (VIP; every node's proxy hands every request to
#               the next node), nginx_relay and haproxy (on node 1, in front
#               of node 2), ipvs_dr (IPVS direct routing on node 1 to node 2);
#               metric req_per_s;
#   latency     ab's per-request wait (request sent -> first response byte)
#               for 1 KiB: p50 and p99 per batch, every mechanism; the
#               proxies' own handover time (their /metrics histogram);
#   locality    wrk, a Zipf request stream over the disk's file set (nodes
#               read it from a throttled virtio disk; nginx runs in a memory
#               cgroup of bench_cache_mb): ipvs_rr (IPVS-DR round robin over
#               the 3 nodes, layer 4) against dts_rr, dts_lard, dts_ds,
#               dts_chash (handover, dts-proxy --config [policy]); req/s
#               (locality), and each node's hit rate from its disk reads
#               (locality_hit) and the MiB it served (locality_served);
#   surge       the same mechanisms under a SURGE workload (dts-surge run:
#               bench_surge_users user-equivalents, OFF times scaled by
#               bench_surge_think, one connection per request, every body's
#               length checked against the manifest) over the disk's surge/
#               file set (URL prefix /s/): surge (req/s, param surge),
#               surge_hit and surge_served (per node), as for locality;
#   sc_locality Socket Cloning under the placement policies: IPVS-DR round
#               robin ($VIP_SC:81) over every node's dts-scserver --config
#               with [policy] rr, lard, ds, chash (sc_rr, sc_lard, sc_ds,
#               sc_chash; quick: sc_rr, sc_lard), each clone to the policy's
#               node; the Zipf stream over keep-alive connections (wrk, 4
#               connections, each placed by IPVS once, its requests by the
#               cloning server); baseline ipvs_rr_ka, IPVS-DR round robin to
#               nginx over the same keep-alive connections; sc_locality
#               (req/s), sc_locality_hit and sc_locality_served (per node;
#               nginx's bytes plus what dts-scserver served itself);
#   sc_compare  Socket Cloning against cooperative caching (coop, coop_lfu:
#               bench/nginx-coop.conf), DTS keep-alive handover (dts_chash),
#               the relays by owner (nginx_relay, haproxy), IPVS-DR round
#               robin (ipvs_rr_ka) and one plain node (plain, the baseline),
#               the Zipf stream over keep-alive connections, every file to
#               its chash owner (dts-bench owners); req/s, param N_nodes
#               (node_cmp_all, client_cmp_all; also in the scaling part);
#   cloning     Socket Cloning behind IPVS-DR (node 1 directs $VIP_SC:81 to
#               node 2, whose dts-scserver clones every /b/ request to node
#               3's nginx): ab -k (one keep-alive connection, a clone per
#               request) for 1 KiB to 1 MiB through direct (node 2's nginx,
#               keep-alive too), sc (cloned) and sc_local (the same server
#               serving /l/ itself); req_per_s; then the first-byte time of
#               1 KiB (p50, p99) for direct and sc, and node 2's clone call
#               time from its sc_ns_total counter;
#   drain       the same workload on node 2, drained by each mechanism
#               (drain.md): DR_D throttled downloads of a DR_MB MiB file and
#               DR_K keep-alive request streams (tests/vm/ka_stream.py),
#               from client ports node 2 does not accept; ipvs_w0 (IPVS-DR
#               on node 1 to node 2, then node 2's weight 0 and node 3's 1),
#               haproxy_disable (HAProxy on node 1, `disable server` of
#               node 2, node 3 enabled), dts (every proxy routes to node 2;
#               `dtsctl drain 2`). Node 2 counts its workload connections
#               until none is left or DR_T seconds have passed, when it is
#               taken down (nginx stopped: what is left is cut). Samples:
#               drain (drain_s: to zero connections, DR_T if cut),
#               drain_moved (moved_mib: bytes of /d/big the other nodes
#               served after the drain started) and drain_errors (errors:
#               failed or not byte-exact downloads, broken streams);
#   overhead    iperf3 (TCP bulk; UDP 64-byte datagrams) to node 1, which has
#               the module loaded with a service on VIP:80 (this traffic is
#               not for it): module_loaded (the two filtering hooks, the
#               default), module_hookstats (the count-only hooks on too,
#               `dtsctl hook-stats on`) and module_unloaded, interleaved.
# drain (3 nodes + client): the drain scenario alone (bench/run.sh
#   --drain-only).
# compare (N nodes + client): the sc_compare scenario alone (bench/run.sh
#   --compare-only).
# scaling (N nodes + client): the locality workload under dts_lard
#   (scaling, scaling_hit); with bench_all_mechs=1 (the full run's largest
#   cluster) instead every locality mechanism under Zipf and SURGE, one
#   repetition each: locality_scaling, surge_scaling and their _hit and
#   _served (params N_nodes, N_nodes/nodeI), scaling and scaling_hit from
#   the Zipf dts_lard run; then, in both cases, sc_compare (one repetition).
# The host's CPU share of every measured locality window is sampled by
# bench/run.sh between cpu_mark's marks (host_cpu, host_cpu_locality).
. "$RIG_REPO/tests/vm/lib.sh"

BENCH=$RIG_REPO/bench
ALL=$(all_vms)
N=$RIG_NODES
part=main quick=0 nfiles=400 alpha=1.0 cache_mb=40 surge_users=8 surge_think=0.01 all_mechs=0
for w in $(cat /proc/cmdline); do
    case $w in
        bench_part=*) part=${w#*=} ;;
        bench_quick=*) quick=${w#*=} ;;
        bench_files=*) nfiles=${w#*=} ;;
        bench_alpha=*) alpha=${w#*=} ;;
        bench_cache_mb=*) cache_mb=${w#*=} ;;
        bench_surge_users=*) surge_users=${w#*=} ;;
        bench_surge_think=*) surge_think=${w#*=} ;;
        bench_all_mechs=*) all_mechs=${w#*=} ;;
    esac
done
if [ "$quick" = 1 ]; then
    REPS=2 EFF_T=2 SIZES="1k 64k 1m" LAT_N=30 LAT_REPS=2
    LOC_WARM=10 LOC_T=15 LOC_REPS=1 OVH_T=4 OVH_REPS=2
    SC_LOC_MECHS="ipvs_rr_ka sc_rr sc_lard"
    DR_MB=24 DR_D=2 DR_K=4 DR_T=10 DR_RUN=30 DR_REPS=1
else
    REPS=3 EFF_T=5 SIZES="0 1k 64k 1m 32m" LAT_N=60 LAT_REPS=4
    LOC_WARM=20 LOC_T=30 LOC_REPS=2 OVH_T=6 OVH_REPS=3
    SC_LOC_MECHS="ipvs_rr_ka sc_rr sc_lard sc_ds sc_chash"
    DR_MB=32 DR_D=3 DR_K=6 DR_T=15 DR_RUN=40 DR_REPS=2
fi
# The drain scenario: the downloads' rate (each lasts longer than DR_T),
# the mechanisms.
DR_RATE=1000K
DR_MECHS="ipvs_w0 haproxy_disable dts"
EFF_MECHS="direct dts nginx_relay haproxy ipvs_dr"
LAT_MECHS="direct dts nginx_relay haproxy ipvs_dr"
LOC_MECHS="ipvs_rr dts_rr dts_lard dts_ds dts_chash"
SC_MECHS="direct sc sc_local"
# sc_compare: one plain node (the baseline), then every mechanism over the
# whole cluster; the content-aware ones place each file on its owner
# (dts-policy's chash: dts-bench owners).
CMP_MECHS="plain ipvs_rr_ka sc_chash dts_chash coop coop_lfu nginx_relay haproxy"
SC_SIZES="1k 64k 1m"
VIP_DR=10.0.0.101       # IPVS-DR to node 2 (efficiency, latency)
VIP_RR=10.0.0.102       # IPVS-DR round robin over every node (locality)
VIP_SC=10.0.0.103       # Socket Cloning: IPVS-DR to node 2's dts-scserver, port 81
                        # (sc_locality: round robin over every node's)
VIP_DRAIN=10.0.0.104    # IPVS-DR round robin: node 2 (weight 1), node 3 (0) (drain)
METRICS=127.0.0.1:9100
SAMPLES=$RIG_SHARED/samples.$RIG_VM.jsonl
TOOLS=${DTSCTL%/*}
SURGE_MANIFEST=$RIG_SHARED/surge-manifest.json

# sample SCENARIO MECHANISM PARAM REP METRIC VALUE HIGHER_IS_BETTER
sample() {
    printf '{"scenario":"%s","mechanism":"%s","param":"%s","rep":%s,"metric":"%s","value":%s,"higher_is_better":%s}\n' \
        "$1" "$2" "$3" "$4" "$5" "$6" "$7" >>"$SAMPLES"
}

# cpu_mark LABEL start|end: bench/run.sh reads the host's CPU use between
# the two marks (its poll loop sees them within a second).
cpu_mark() { : >"$RIG_SHARED/cpu.$2.$1"; }

size_bytes() {
    case $1 in
        0) echo 0 ;; 1k) echo 1024 ;; 64k) echo 65536 ;;
        1m) echo 1048576 ;; 32m) echo 33554432 ;;
    esac
}

# The cluster file for N nodes (self = this node), with an optional [policy].
cluster_toml() { # POLICY|- [HANDOVER_TO]: the VIP:80 service's handover_to
    printf 'self = %s\n' "$RIG_ID"
    printf '\n[mesh]\nsecret = "%s"\n' "dts-test-rig-mesh-secret-0001"
    i=1
    while [ $i -le "$N" ]; do
        printf '\n[[node]]\nid = %s\naddr = "%s"\n' $i "$(node_ip $i)"
        i=$((i + 1))
    done
    nodes=$(seq -s, 1 "$N")
    printf '\n[[service]]\nvip = "%s"\nport = 80\nproxy_port = 8080\nnodes = [%s]\n' "$VIP" "$nodes"
    [ -n "${2:-}" ] && printf 'handover_to = "%s"\n' "$2"
    printf '\n[[service]]\nvip = "%s"\nport = 81\nmode = "sc"\nclone_port = 80\nnodes = [%s]\n' "$VIP_SC" "$nodes"
    [ "$1" = - ] && return 0
    printf '\n[policy]\nname = "%s"\n' "$1"
    case $1 in lard) printf 'max_load = 80\n' ;; esac
}

proxy_policy() { # POLICY: restart this node's proxy with that policy
    dts_proxy_stop
    cluster_toml "$1" >"/tmp/c-$1.toml"
    check "dts-proxy --config (policy $1)" \
        dts_proxy_start 8080 --listen 0.0.0.0:8080 --config "/tmp/c-$1.toml" --metrics "$METRICS"
}

proxy_route_next() { # every request to the next node
    dts_proxy_stop
    check "dts-proxy: every request to the next node" \
        dts_proxy_start 8080 --listen 0.0.0.0:8080 --self-node "$RIG_ID" --nodes "$(seq -s, 1 "$N")" \
        --route /=next --metrics "$METRICS"
}

# nginx in the memory cgroup "web" (its page cache is charged there).
web_cgroup() {
    mountpoint -q /sys/fs/cgroup || mount -t cgroup2 none /sys/fs/cgroup || return 1
    echo +memory >/sys/fs/cgroup/cgroup.subtree_control || return 1
    mkdir -p /sys/fs/cgroup/web
}
cache_limit() { echo "$1" >/sys/fs/cgroup/web/memory.max; }

disk_read_bytes() { echo $(( $(awk '{ print $3 }' /sys/block/vda/stat) * 512 )); }
# served_bytes LINE [PREFIX]: bytes nginx sent for the files under PREFIX
# (default /z/, the Zipf set; /s/ is the SURGE set), from access-log line
# LINE on.
served_bytes() {
    tail -n +"$1" /tmp/nginx/access.log |
        awk -v p="${2:-/z/}" '$3 == "\"GET" && substr($4, 1, length(p)) == p { s += $7 } END { print s + 0 }'
}
log_lines() { echo $(( $(wc -l </tmp/nginx/access.log) + 1 )); }
# The same for the locality runs' dts-scserver (sc_locality): its log's
# line count, and the bytes it served itself (`local`, or after a failed
# clone) for /z/ files from line LINE on, by the sizes in /tmp/zsizes
# ("/z/NAME SIZE" lines, node_setup).
SC_LOG=/tmp/scserver-loc.log
sc_log_lines() { echo $(( $(wc -l <"$SC_LOG") + 1 )); }
sc_local_bytes() {
    tail -n +"$1" "$SC_LOG" | awk 'NR == FNR { size[$1] = $2; next }
        $4 ~ /^action=(local|fallback:)/ { p = substr($3, 6); if (p in size) s += size[p] }
        END { print s + 0 }' /tmp/zsizes -
}
# hit_rate DISK_BYTES SERVED_BYTES: 1 - disk/served, at least 0 (0 if
# nothing was served).
hit_rate() {
    awk -v d="$1" -v s="$2" 'BEGIN { h = s > 0 ? 1 - d / s : 0; if (h < 0) h = 0; printf "%.4f\n", h }'
}

node_setup() {
    cluster_toml - >/tmp/c.toml
    check "dtsctl apply -f ($N nodes)" "$DTSCTL" apply -f /tmp/c.toml
    check "control mesh formed" "$DTSCTL" peers --wait 120
    check "memory cgroup for nginx" web_cgroup
    mkdir -p /tmp/www/b /tmp/data
    check "file-set disk mounted" mount -o ro,noload -t ext4 /dev/vda /tmp/data
    ln -s /tmp/data /tmp/www/z
    ln -s /tmp/data/surge /tmp/www/s
    find /tmp/data -maxdepth 1 -type f -printf '/z/%f %s\n' >/tmp/zsizes
    : >"$SC_LOG"
    # The SURGE set's manifest, for the client (dts-surge run checks every
    # body's length against it): the copy on the disk the nodes serve.
    if [ "$RIG_ID" = 1 ]; then
        check "SURGE manifest copied to the shared directory" \
            cp /tmp/data/surge/manifest.json "$SURGE_MANIFEST"
    fi
    for s in $SIZES; do
        head -c "$(size_bytes "$s")" /dev/zero >"/tmp/www/b/s$s"
    done
    nginx_without_proxy_port || fail "nginx config without the proxy port"
    # nginx forks from this shell: it starts (and stays) in the cgroup.
    echo $$ >/sys/fs/cgroup/web/cgroup.procs
    check "nginx started in the memory cgroup" nginx_start
    echo $$ >/sys/fs/cgroup/cgroup.procs
    # IPVS direct routing: node 1 directs; every node holds both VIPs on lo
    # (no ARP for them: arp_ignore=1), node 1 on eth0 (it answers ARP).
    if [ "$RIG_ID" = 1 ]; then
        check "VIPs $VIP_DR, $VIP_RR, $VIP_SC and $VIP_DRAIN on node 1's eth0" \
            sh -c "ip addr add $VIP_DR/32 dev eth0 && ip addr add $VIP_RR/32 dev eth0 &&
                   ip addr add $VIP_SC/32 dev eth0 && ip addr add $VIP_DRAIN/32 dev eth0"
        check "ipvsadm: $VIP_DR:80 -> node 2 (DR)" sh -c "
            ipvsadm -A -t $VIP_DR:80 -s rr && ipvsadm -a -t $VIP_DR:80 -r $(node_ip 2):80 -g"
        check "ipvsadm: $VIP_RR:80 -> every node (DR, rr)" sh -c "
            ipvsadm -A -t $VIP_RR:80 -s rr &&
            for i in \$(seq 1 $N); do ipvsadm -a -t $VIP_RR:80 -r 10.0.0.\$((10 + i)):80 -g || exit 1; done"
        check "ipvsadm: $VIP_SC:81 -> node 2 (DR, Socket Cloning)" sh -c "
            ipvsadm -A -t $VIP_SC:81 -s rr && ipvsadm -a -t $VIP_SC:81 -r $(node_ip 2):81 -g"
        check "ipvsadm: $VIP_DRAIN:80 -> node 2 (weight 1), node 3 (weight 0) (DR, rr; drain)" \
            ipvs_drain_weights 1 0 -a || : >"$RIG_SHARED/dr-broken.ipvs_w0"
        ipvsadm -Ln >>"$RIG_OUT/log.txt"
        check "iperf3 server on node 1" iperf3 -s -D -p 5201 --logfile /tmp/iperf3.log
    else
        check "VIPs $VIP_DR, $VIP_RR, $VIP_SC and $VIP_DRAIN on lo" \
            sh -c "ip addr add $VIP_DR/32 dev lo && ip addr add $VIP_RR/32 dev lo &&
                   ip addr add $VIP_SC/32 dev lo && ip addr add $VIP_DRAIN/32 dev lo"
    fi
    check "drain scenario files: /d/f1../d/f8, /d/big ($DR_MB MiB), /who" drain_files
}

# --- drain -------------------------------------------------------------------
# drain_files: the drain scenario's files, the same bytes (and for /d/big
# the same modification time: the same ETag, for a Range continuation's
# If-Range) on every node; node 1 publishes their sha256.
drain_files() {
    mkdir -p /tmp/www/d || return 1
    echo "node$RIG_ID" >/tmp/www/who
    "$PY" - "$DR_MB" "$RIG_SHARED" "$RIG_ID" <<'PYEOF' || return 1
import hashlib, random, sys
mb, shared, me = int(sys.argv[1]), sys.argv[2], sys.argv[3]
r = random.Random(23)
sums = []
for i in range(1, 9):
    b = r.randbytes(1000 + i * 9000)
    open("/tmp/www/d/f%d" % i, "wb").write(b)
    sums.append("%s f%d\n" % (hashlib.sha256(b).hexdigest(), i))
big = random.Random(24).randbytes(mb << 20)
open("/tmp/www/d/big", "wb").write(big)
if me == "1":
    open(shared + "/d.sums", "w").write("".join(sums))
    open(shared + "/d.big.sha", "w").write(hashlib.sha256(big).hexdigest() + "\n")
PYEOF
    touch -d @1767225600 /tmp/www/d/big
}

# ipvs_drain_weights W2 W3 [-a|-e]: node 1's $VIP_DRAIN:80 service with
# node 2 and node 3 at these weights (-a: created; -e: edited). Round
# robin (the rig's kernel has no other scheduler built in) skips a server
# of weight 0, as every IPVS scheduler does: no new connection for it.
ipvs_drain_weights() {
    if [ "${3:--e}" = -a ]; then
        ipvsadm -A -t "$VIP_DRAIN:80" -s rr || return 1
    fi
    ipvsadm "${3:--e}" -t "$VIP_DRAIN:80" -r "$(node_ip 2):80" -g -w "$1" &&
        ipvsadm "${3:--e}" -t "$VIP_DRAIN:80" -r "$(node_ip 3):80" -g -w "$2"
}

# haproxy_cmd CMD: one command on node 1's HAProxy admin socket; fails if
# HAProxy answers anything but an empty line.
haproxy_cmd() {
    "$PY" - "$1" <<'PYEOF'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect("/tmp/haproxy.sock")
s.sendall(sys.argv[1].encode() + b"\n")
out = b""
while True:
    b = s.recv(4096)
    if not b:
        break
    out += b
if out.strip():
    print(out.decode(errors="replace").strip())
    sys.exit(1)
PYEOF
}

# drain_conns: node 2's connections of the drain workload: established,
# on port 80 or the proxy port, with the client (DR, DTS) or node 1
# (HAProxy).
drain_conns() {
    ss -tnH state established \
        "( sport = :80 or sport = :8080 ) and ( dst $CLIENT_IP or dst $(node_ip 1) )" | wc -l
}

# now_ms: milliseconds since the epoch.
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# haproxy_pair A B: `A server drain/node2`, `B server drain/node3`.
haproxy_pair() { haproxy_cmd "$1 server drain/node2" && haproxy_cmd "$2 server drain/node3"; }

# node_drain MECH REP: this node's part of one drain run. Node 1 drains
# node 2 with MECH when the client's workload is under way; node 2 counts
# its workload connections from then on until none is left or DR_T
# seconds have passed, then it is taken down (nginx_restart_cut), and
# publishes "SECONDS CUT"; nodes 1 and 3 publish the bytes of /d/big they
# served meanwhile; then every mechanism is put back.
node_drain() {
    _m=$1 _r=$2 _b=dr-$1-$2
    # A step of MECH that fails marks it broken: the client then reports
    # no numbers for it (they would not be MECH's).
    _broken=$RIG_SHARED/dr-broken.$_m
    if [ "$_m" = dts ]; then
        dts_proxy_stop
        check "drain $_r dts: dts-proxy routes every request to node 2" \
            dts_proxy_start 8080 --listen 0.0.0.0:8080 --self-node "$RIG_ID" \
            --nodes "$(seq -s, 1 "$N")" --route /=2 --metrics "$METRICS" || : >"$_broken"
    fi
    barrier "$_b-ready" "$ALL"
    _l=$(log_lines)
    barrier "$_b-go" "$ALL"
    case "$RIG_ID:$_m" in
        1:ipvs_w0)
            check "drain $_r ipvs_w0: node 2's weight 0, node 3's 1" ipvs_drain_weights 0 1 ||
                : >"$_broken" ;;
        1:haproxy_disable)
            check "drain $_r haproxy_disable: disable server drain/node2, enable drain/node3" \
                haproxy_pair disable enable || : >"$_broken" ;;
        1:dts)
            "$DTSCTL" drain 2 --timeout "$DR_T" --json >/tmp/dr.json 2>/tmp/dr.err &
            _dpid=$! ;;
        2:*)
            _t0=$(now_ms) _cut=0
            while :; do
                _n=$(drain_conns)
                _dt=$(( $(now_ms) - _t0 ))
                [ "$_n" = 0 ] && break
                if [ "$_dt" -ge $((DR_T * 1000)) ]; then
                    _cut=$_n
                    _dt=$((DR_T * 1000))
                    # Taken down: nginx stopped at once (its connections
                    # end, as in a reboot), then started again in its
                    # memory cgroup (it forks from this shell's child).
                    check "drain $_r $_m: node 2 taken down after ${DR_T} s, $_n connection(s) cut" \
                        nginx_stop_wait
                    echo $$ >/sys/fs/cgroup/web/cgroup.procs
                    check "drain $_r $_m: nginx started again" nginx_start
                    echo $$ >/sys/fs/cgroup/cgroup.procs
                    break
                fi
                sleep 0.2
            done
            echo "$_dt $_cut" >"$RIG_SHARED/$_b.time"
            log "drain $_r $_m: node 2 had no workload connection after $_dt ms ($_cut cut)" ;;
    esac
    barrier "$_b-measured" "$ALL"
    barrier "$_b-end" "$ALL"
    if [ "$RIG_ID" != 2 ]; then
        served_bytes "$_l" /d/big >"$RIG_SHARED/$_b.moved.n$RIG_ID"
    fi
    case "$RIG_ID:$_m" in
        1:ipvs_w0) check "drain $_r ipvs_w0: weights back" ipvs_drain_weights 1 0 ;;
        1:haproxy_disable)
            check "drain $_r haproxy_disable: node 2 enabled again, node 3 disabled" \
                haproxy_pair enable disable ;;
        1:dts)
            wait "$_dpid"
            _rc=$?
            log "drain $_r dts: dtsctl drain 2 exit $_rc: $(cat /tmp/dr.json /tmp/dr.err | tr '\n' ' ')"
            check "drain $_r dts: dtsctl undrain 2" "$DTSCTL" undrain 2 ;;
        2:dts)
            "$DTSCTL" status --json >/tmp/st-dr.json
            dts_counter_values /tmp/st-dr.json drain_moved drain_continued drain_move_failed \
                continuation_refused >/tmp/drc
            log "drain $_r dts: node 2's counters: $(tr '\n' ' ' </tmp/drc)" ;;
    esac
    barrier "$_b-counted" "$ALL"
}

node_drain_all() {
    _rep=1
    while [ $_rep -le "$DR_REPS" ]; do
        for _mech in $(rotate $_rep $DR_MECHS); do
            node_drain "$_mech" "$_rep"
        done
        _rep=$((_rep + 1))
    done
    proxy_route_next
}

# --- node --------------------------------------------------------------------
node_main() {
    node_setup
    if [ "$RIG_ID" = 1 ]; then
        mkdir -p /tmp/nginx-relay/tmp
        check "nginx relay on :8081 (proxy_pass to node 2)" \
            nginx -e /tmp/nginx-relay/error.log -c "$BENCH/nginx-relay.conf" -p /tmp/nginx-relay/
        check "haproxy on :8082 (to node 2)" haproxy -f "$BENCH/haproxy.cfg" -D -p /tmp/haproxy.pid
    fi
    proxy_route_next
    [ "$RIG_ID" = 2 ] && sc_server_start
    barrier ready "$ALL"

    # efficiency, latency and cloning: the client drives.
    barrier lat-done "$ALL"
    if [ "$RIG_ID" = 2 ]; then
        # The clone call's time in the kernel (call to SC-ACK), per clone.
        "$DTSCTL" status --json >/tmp/st-sc.json
        dts_counter_values /tmp/st-sc.json sc_clone_sent sc_clone_failed sc_ns_total >/tmp/scc ||
            fail "sc counters"
        n=$(counter_value sc_clone_sent /tmp/scc)
        nf=$(counter_value sc_clone_failed /tmp/scc)
        log "cloning: $n clones, $nf failed; $(tr '\n' ' ' </tmp/scc)"
        # ab stops at its time limit by closing the connection, maybe while
        # the server clones its last request: that call fails with EBADF
        # (the connection is closing). Any other failure is a fault.
        bad=$(grep -c 'action=fallback:' /tmp/scserver.log | tr -d ' ')
        ebadf=$(grep -c 'action=fallback:EBADF' /tmp/scserver.log | tr -d ' ')
        [ "$bad" = "$ebadf" ] ||
            fail "cloning: $((bad - ebadf)) clone call(s) failed other than at ab's end (EBADF)"
        if [ "${n:-0}" -gt 0 ]; then
            sample clone_call sc node2 1 mean_ms \
                "$(awk -v n="$n" '$1 == "sc_ns_total" { printf "%.3f\n", $2 / n / 1e6 }' /tmp/scc)" false
        else
            fail "cloning: no clone was made"
        fi
    fi
    curl -s "http://$METRICS/metrics" >/tmp/m.lat
    # The proxy's time from the complete request to the handover's return.
    awk '$1 == "dts_proxy_request_seconds_sum" { s = $2 } $1 == "dts_proxy_request_seconds_count" { c = $2 }
         END { if (c > 0) printf "%.3f\n", s / c * 1000 }' /tmp/m.lat >/tmp/hcall
    [ -s /tmp/hcall ] && sample handover_call dts "node$RIG_ID" 1 proxy_ms "$(cat /tmp/hcall)" false
    # Where the module's time goes, per handover (every one so far: the
    # efficiency and latency runs), from its handover_ns_* counters; one
    # repetition per node.
    "$DTSCTL" status --json >/tmp/st-lat.json
    dts_counter_values /tmp/st-lat.json handover_done handover_ns_drain handover_ns_prepare \
        handover_ns_connect handover_ns_send handover_ns_total >/tmp/phases || fail "handover_ns counters"
    n=$(counter_value handover_done /tmp/phases)
    if [ "${n:-0}" -gt 0 ]; then
        for ph in drain prepare connect send total; do
            v=$(awk -v n="$n" -v k="handover_ns_$ph" '$1 == k { printf "%.3f\n", $2 / n / 1e6 }' /tmp/phases)
            sample handover_phases dts "$ph" "$RIG_ID" mean_ms "$v" false
        done
        log "handover phases over $n handovers: $(tr '\n' ' ' </tmp/phases)"
    fi
    # The control mesh's round trip to each peer (the heartbeat echo,
    # `dtsctl peers`: network plus both threads' wake-up) beside ICMP's
    # (busybox ping) over the same link: the floor of a handover made with
    # one mesh message.
    "$DTSCTL" peers --json >/tmp/peers.json
    for id in $("$JQ" -r '.peers[] | select(.rtt_us > 0) | .id' /tmp/peers.json); do
        rtt=$("$JQ" -r --argjson id "$id" '.peers[] | select(.id == $id) | .rtt_us / 1000' /tmp/peers.json)
        sample mesh_rtt mesh "node$RIG_ID-node$id" 1 rtt_ms "$rtt" false
        icmp=$(/bin/busybox ping -c 10 -i 0.2 -q "$(node_ip "$id")" 2>/dev/null |
            awk -F'[/ =]+' '/round-trip/ { print $(NF - 2) }')
        [ -n "$icmp" ] && sample mesh_rtt icmp "node$RIG_ID-node$id" 1 rtt_ms "$icmp" false
    done

    cache_limit $((cache_mb * 1024 * 1024))
    node_loc_all zipf "$LOC_MECHS" "$LOC_REPS"
    node_loc_all surge "$LOC_MECHS" "$LOC_REPS"
    # Socket Cloning under the policies: node 2's map-mode server gives
    # way to one dts-scserver --config per node, and node 1 directs
    # $VIP_SC:81 to every node.
    sc_server_stop
    if [ "$RIG_ID" = 1 ]; then
        check "ipvsadm: $VIP_SC:81 -> every node (DR, rr; sc_locality)" sh -c "
            ipvsadm -D -t $VIP_SC:81 && ipvsadm -A -t $VIP_SC:81 -s rr &&
            for i in \$(seq 1 $N); do ipvsadm -a -t $VIP_SC:81 -r 10.0.0.\$((10 + i)):81 -g || exit 1; done"
        ipvsadm -Ln >>"$RIG_OUT/log.txt"
    fi
    node_loc_all sc "$SC_LOC_MECHS" "$LOC_REPS"
    sc_policy_stop
    node_cmp_all "$LOC_REPS"
    cache_limit max
    node_drain_all

    # overhead: node 1 toggles the module; the client measures.
    rep=1
    while [ $rep -le $OVH_REPS ]; do
        for st in $(ovh_order $rep); do
            if [ "$RIG_ID" = 1 ]; then
                if [ "$st" = unloaded ]; then
                    if lsmod | grep -q '^dts '; then
                        dts_proxy_stop
                        check "overhead rep $rep: module unloaded" sh -c '"$DTSCTL" config clear && rmmod dts'
                    fi
                else
                    if ! lsmod | grep -q '^dts '; then
                        check "overhead rep $rep: module loaded, service on $VIP:80" \
                            sh -c 'insmod "$DTS_MODULE" && "$DTSCTL" apply -f /tmp/c.toml'
                    fi
                    # loaded: the two filtering hooks (the default);
                    # hookstats: the count-only hooks on as well.
                    if [ "$st" = hookstats ]; then hs=on; else hs=off; fi
                    check "overhead rep $rep: dtsctl hook-stats $hs" "$DTSCTL" hook-stats "$hs"
                fi
            fi
            barrier "ovh-$rep-$st" "$ALL"
            barrier "ovh-$rep-$st-done" "$ALL"
        done
        rep=$((rep + 1))
    done
    if [ "$RIG_ID" = 1 ] && ! lsmod | grep -q '^dts '; then
        check "module loaded again" sh -c 'insmod "$DTS_MODULE" && "$DTSCTL" apply -f /tmp/c.toml'
    fi
    barrier finish "$ALL"
    node_finish
}

# The overhead states, in an order that alternates between repetitions:
# unloaded, loaded (the filtering hooks only) and hookstats (the count-only
# hooks on too).
ovh_order() { if [ $(($1 % 2)) = 1 ]; then echo "loaded hookstats unloaded"; else echo "unloaded hookstats loaded"; fi; }

# loc_names WORKLOAD: the scenario ($LS; its per-node ones are ${LS}_hit
# and ${LS}_served), the param of its req/s sample ($LP) and of its
# per-node samples ($LNODE), and the barriers' prefix ($LB) of a locality
# workload (zipf, surge, sc) in this part. Client and nodes.
loc_names() {
    case $part:$1 in
        main:zipf) LS=locality LP=zipf LB=loc ;;
        main:surge) LS=surge LP=surge LB=surge ;;
        main:sc) LS=sc_locality LP=zipf LB=scloc ;;
        scaling:zipf) LS=locality_scaling LB=loc ;;
        scaling:surge) LS=surge_scaling LB=surge ;;
    esac
    if [ "$part" = main ]; then
        LNODE=node$RIG_ID
    else
        LP=${N}_nodes LNODE=${N}_nodes/node$RIG_ID
    fi
}

# node_loc_all WORKLOAD MECHS REPS: this node's part of every repetition
# of the workload's runs, each mechanism once per repetition.
node_loc_all() {
    _rep=1
    while [ $_rep -le "$3" ]; do
        for _mech in $2; do
            node_loc "$1" "$_mech" "$_rep"
        done
        _rep=$((_rep + 1))
    done
}

# node_loc WORKLOAD MECH REP: this node's part of one locality run: MECH
# set up (the proxies' policy, or the cloning servers'), the page cache
# dropped; then, around the client's measured run, the bytes this node
# read from its disk and those it served, its hit rate.
node_loc() {
    _w=$1 _m=$2 _r=$3
    loc_names "$_w"
    case $_m in
        dts_*) proxy_policy "${_m#dts_}" ;;
        sc_*) sc_policy_start "${_m#sc_}" ;;
        ipvs_rr_ka) sc_policy_stop ;;
    esac
    sync; echo 3 >/proc/sys/vm/drop_caches
    _s0=$(sc_log_lines)
    barrier "$LB-$_m-$_r-warm" "$ALL"
    barrier "$LB-$_m-$_r-go" "$ALL"
    d0=$(disk_read_bytes) l0=$(log_lines) s0=$(sc_log_lines)
    barrier "$LB-$_m-$_r-end" "$ALL"
    d1=$(disk_read_bytes)
    case $_w in
        surge) sv=$(served_bytes "$l0" /s/) ;;
        sc) sv=$(( $(served_bytes "$l0") + $(sc_local_bytes "$s0") )) ;;
        *) sv=$(served_bytes "$l0") ;;
    esac
    hit=$(hit_rate $((d1 - d0)) "$sv")
    log "$LS $_m rep $_r: served $sv B, disk read $((d1 - d0)) B, hit rate $hit"
    sample "${LS}_hit" "$_m" "$LNODE" "$_r" hit_rate "$hit" true
    sample "${LS}_served" "$_m" "$LNODE" "$_r" served_mib "$(awk -v s="$sv" 'BEGIN { printf "%.2f", s / 1048576 }')" true
    if [ "$part:$_w:$_m" = scaling:zipf:dts_lard ]; then
        sample scaling_hit dts_lard "${N}_nodes/node$RIG_ID" 1 hit_rate "$hit" true
    fi
    case $_m in
        sc_*)
            # As for the cloning scenario: wrk closes its connections at
            # the end of each run, maybe while a clone is being made
            # (EBADF); any other failed clone is a fault.
            bad=$(tail -n +"$_s0" "$SC_LOG" | grep -c 'action=fallback:')
            ebadf=$(tail -n +"$_s0" "$SC_LOG" | grep -c 'action=fallback:EBADF')
            clones=$(tail -n +"$_s0" "$SC_LOG" | grep -c 'action=clone:')
            log "$LS $_m rep $_r: $clones clones, $bad failed ($ebadf EBADF)"
            [ "$bad" = "$ebadf" ] ||
                fail "$LS $_m rep $_r: $((bad - ebadf)) clone call(s) failed other than at wrk's end (EBADF)"
            ;;
    esac
}

node_scaling() {
    node_setup
    cache_limit $((cache_mb * 1024 * 1024))
    if [ "$all_mechs" = 1 ]; then
        barrier ready "$ALL"
        node_loc_all zipf "$LOC_MECHS" 1
        node_loc_all surge "$LOC_MECHS" 1
        node_cmp_all 1
        cache_limit max
        barrier finish "$ALL"
        node_finish
        return
    fi
    proxy_policy lard
    sync; echo 3 >/proc/sys/vm/drop_caches
    barrier ready "$ALL"
    barrier scale-go "$ALL"
    d0=$(disk_read_bytes) l0=$(log_lines)
    barrier scale-end "$ALL"
    d1=$(disk_read_bytes)
    sv=$(served_bytes "$l0")
    hit=$(hit_rate $((d1 - d0)) "$sv")
    log "scaling ($N nodes): served $sv B, disk read $((d1 - d0)) B, hit rate $hit"
    sample scaling_hit dts_lard "${N}_nodes/node$RIG_ID" 1 hit_rate "$hit" true
    node_cmp_all 1
    cache_limit max
    barrier finish "$ALL"
    node_finish
}

# sc_server_start: node 2's Socket Cloning server on $VIP_SC:81: /b/ is
# node 3's (every request cloned there), /l/ (the same files) its own.
sc_server_start() {
    ln -sfn /tmp/www/b /tmp/www/l
    printf '/b/ 3\n/l/ 2\n' >/tmp/sc.map
    "${DTSCTL%/*}/dts-scserver" --listen "$VIP_SC:81" --root /tmp/www --self-node 2 \
        --map /tmp/sc.map --log /tmp/scserver.log &
    echo $! >/tmp/scserver.pid
    _n=0
    while [ $_n -lt 50 ]; do
        curl -s -o /dev/null --max-time 2 "http://$VIP_SC:81/l/s1k" 2>/dev/null && break
        sleep 0.2; _n=$((_n + 1))
    done
    check "dts-scserver on $VIP_SC:81 (clones /b/ to node 3)" \
        sh -c "curl -sf -o /dev/null --max-time 5 http://$VIP_SC:81/l/s1k"
}

# pid_stop PIDFILE: stop the process (SIGTERM), wait until it is gone (10 s
# at most), remove the file.
pid_stop() {
    [ -f "$1" ] || return 0
    _pid=$(cat "$1")
    kill "$_pid" 2>/dev/null
    _n=0
    while kill -0 "$_pid" 2>/dev/null && [ $_n -lt 50 ]; do sleep 0.2; _n=$((_n + 1)); done
    rm -f "$1"
}
sc_server_stop() { pid_stop /tmp/scserver.pid; }

# sc_policy_start POLICY: (re)start this node's locality cloning server,
# dts-scserver --config (this node's cluster file with that [policy]) on
# $VIP_SC:81, serving /tmp/www (so /z/, the disk's Zipf set), every clone
# to nginx on port 80, in nginx's memory cgroup (the files it serves
# itself are charged to the same page-cache limit). Its log: $SC_LOG.
sc_policy_start() {
    sc_policy_stop
    cluster_toml "$1" >"/tmp/c-sc-$1.toml"
    check "dts-scserver --config (policy $1) on $VIP_SC:81" sc_policy_run "/tmp/c-sc-$1.toml"
}
sc_policy_stop() { pid_stop /tmp/scserver-loc.pid; }
sc_policy_run() { # CONFIG
    # The server moves itself into the cgroup, then becomes dts-scserver.
    # shellcheck disable=SC2016
    sh -c 'echo $$ >/sys/fs/cgroup/web/cgroup.procs && exec "$@"' sh \
        "$TOOLS/dts-scserver" --listen "$VIP_SC:81" --root /tmp/www --config "$1" \
        --log "$SC_LOG" </dev/null >/dev/null 2>>/tmp/scserver-loc.err &
    echo $! >/tmp/scserver-loc.pid
    _n=0
    while [ $_n -lt 150 ]; do
        sleep 0.2; _n=$((_n + 1))
        if ! kill -0 "$(cat /tmp/scserver-loc.pid)" 2>/dev/null; then
            echo "dts-scserver exited:"; tail -n 5 /tmp/scserver-loc.err
            rm -f /tmp/scserver-loc.pid
            return 1
        fi
        # /proc/net/tcp: "sl local rem st ...", port 81 = 0051, 0A = LISTEN.
        awk 'substr($2, length($2) - 4) == ":0051" && $4 == "0A" { f = 1 } END { exit !f }' \
            /proc/net/tcp && return 0
    done
    echo "dts-scserver does not listen on port 81 after 30 s:"; tail -n 5 /tmp/scserver-loc.err
    return 1
}

# node_finish: the bench's own servers stop, then lib.sh's node_teardown
# (drain, final status, proxy and nginx logs, config clear, rmmod, dmesg).
node_finish() {
    sc_server_stop
    sc_policy_stop
    coop_stop
    cmp_relays_stop
    cp /tmp/coop/error.log "$RIG_OUT/coop-error.log" 2>/dev/null
    cp /tmp/scserver.log "$SC_LOG" /tmp/scserver-loc.err "$RIG_OUT/" 2>/dev/null
    [ -f /tmp/haproxy.pid ] && kill "$(cat /tmp/haproxy.pid)" 2>/dev/null
    [ -f /tmp/nginx-relay/nginx.pid ] && kill "$(cat /tmp/nginx-relay/nginx.pid)" 2>/dev/null
    [ "$RIG_ID" = 1 ] && ipvsadm -C
    pkill -x iperf3
    umount /tmp/data
    node_teardown
}

# --- sc_compare ----------------------------------------------------------------
# Socket Cloning against cooperative caching, DTS handover, the relays and
# the baselines, on the locality workload (the Zipf stream over the disk's
# set, every node's page cache limited to bench_cache_mb), over keep-alive
# connections (wrk, 4 connections): one plain node's nginx (plain, the
# baseline: node 1 alone), IPVS-DR round robin (ipvs_rr_ka), and, each file
# sent to its owner (the chash owner map, /tmp/cmp/owners): sc_chash
# (dts-scserver --config chash behind IPVS-DR round robin), dts_chash
# (dts-proxy --config chash --keepalive, the service's handover_to =
# "proxy": every request of a connection placed again), coop and coop_lfu
# (bench/nginx-coop.conf behind IPVS-DR round robin: the accepting node
# serves from its own disk, its cache, or the owner's nginx), nginx_relay
# and haproxy (node 1 relays every request to the owner:
# bench/nginx-relay-owner.conf, bench/haproxy-owner.cfg). Samples:
# sc_compare (req/s, param N_nodes); dts-bench compares each mechanism
# with N plain nodes.

# cmp_owner_map: /tmp/cmp/owners, "PATH NODE" for every /z/ file: the node
# consistent hashing picks with every node up (dts-bench owners: the code
# of dts-policy's chash, which dts-scserver and dts-proxy run).
cmp_owner_map() {
    mkdir -p /tmp/cmp || return 1
    awk -v n="$nfiles" 'BEGIN { for (i = 1; i <= n; i++) printf "/z/f%04d\n", i }' |
        "$TOOLS/dts-bench" owners --nodes "$(seq -s, 1 "$N")" >/tmp/cmp/owners || return 1
    _lines=$(awk 'END { print NR }' /tmp/cmp/owners)
    [ "$_lines" = "$nfiles" ] || { echo "owner map: $_lines lines for $nfiles files"; return 1; }
    echo "files per owner: $(awk '{ c[$2]++ } END { for (n in c) printf "node%s=%d ", n, c[n] }' /tmp/cmp/owners)"
}

# cmp_upstreams FILE: an nginx upstream n<ID> per node (port 80, kept-alive
# connections).
cmp_upstreams() {
    for _i in $(seq 1 "$N"); do
        printf 'upstream n%s {\n    server %s:80;\n    keepalive 8;\n}\n' "$_i" "$(node_ip "$_i")"
    done >"$1"
}

# listening PORT: something listens on TCP PORT (IPv4).
listening() {
    awk -v p="$(printf ':%04X' "$1")" 'substr($2, length($2) - 4) == p && $4 == "0A" { f = 1 }
        END { exit !f }' /proc/net/tcp
}

# cmp_ipvs (node 1): $VIP_SC:81 (the cloning servers) and $VIP_RR:84 (the
# cooperative caches) round robin to every node (DR).
cmp_ipvs() {
    for _vp in "$VIP_SC:81" "$VIP_RR:84"; do
        ipvsadm -D -t "$_vp" 2>/dev/null
        ipvsadm -A -t "$_vp" -s rr || return 1
        for _i in $(seq 1 "$N"); do
            ipvsadm -a -t "$_vp" -r "$(node_ip "$_i"):${_vp##*:}" -g || return 1
        done
    done
}

# cmp_relays_start (node 1): the nginx relay (port 8086) and HAProxy (port
# 8087), each request to its file's owner; outside the memory cgroup (they
# cache nothing).
cmp_relays_start() {
    mkdir -p /tmp/relay-owner/tmp /tmp/haproxy-owner || return 1
    cmp_upstreams /tmp/relay-owner/upstreams.conf
    awk '{ printf "%s n%s;\n", $1, $2 }' /tmp/cmp/owners >/tmp/relay-owner/owner.map
    nginx -e /tmp/relay-owner/error.log -c "$BENCH/nginx-relay-owner.conf" -p /tmp/relay-owner/ ||
        { cat /tmp/relay-owner/error.log; return 1; }
    awk '{ printf "%s n%s\n", $1, $2 }' /tmp/cmp/owners >/tmp/haproxy-owner/owner.map
    for _i in $(seq 1 "$N"); do
        printf 'backend n%s\n    server s%s %s:80\n' "$_i" "$_i" "$(node_ip "$_i")"
    done >/tmp/haproxy-owner/backends.cfg
    haproxy -f "$BENCH/haproxy-owner.cfg" -f /tmp/haproxy-owner/backends.cfg -D \
        -p /tmp/haproxy-owner/haproxy.pid || return 1
    _n=0
    while ! { listening 8086 && listening 8087; } && [ $_n -lt 50 ]; do sleep 0.2; _n=$((_n + 1)); done
    listening 8086 && listening 8087
}
cmp_relays_stop() {
    pid_stop /tmp/relay-owner/nginx.pid
    pid_stop /tmp/haproxy-owner/haproxy.pid
}

# coop_start MIN_USES: this node's cooperative cache (bench/nginx-coop.conf)
# on port 84, empty, a quarter of the page-cache budget (bench_cache_mb / 4
# MiB) at most, in nginx's memory cgroup; MIN_USES 1 (coop: every fetched
# file is cached, LRU) or 2 (coop_lfu: at its second request). The cache is
# on tmpfs, which the cgroup cannot reclaim without swap: with half the
# budget (20 of 40 MiB) the cgroup ran out of memory under load (an nginx
# worker OOM-killed), so a quarter, and node_cmp fails a run in which the
# cgroup's oom_kill count grew.
coop_start() {
    coop_stop
    rm -rf /tmp/coop
    mkdir -p /tmp/coop/tmp || return 1
    cmp_upstreams /tmp/coop/upstreams.conf
    awk -v self="$RIG_ID" '{ printf "%s %s;\n", $1, ($2 == self ? "self" : "n" $2) }' \
        /tmp/cmp/owners >/tmp/coop/owner.map
    sed -e "s/@MAX_SIZE@/$((cache_mb / 4))/" -e "s/@MIN_USES@/$1/" "$BENCH/nginx-coop.conf" \
        >/tmp/coop/nginx.conf || return 1
    # nginx daemonizes from a shell in the cgroup: it stays there.
    # shellcheck disable=SC2016
    sh -c 'echo $$ >/sys/fs/cgroup/web/cgroup.procs &&
           exec nginx -e /tmp/coop/error.log -c /tmp/coop/nginx.conf -p /tmp/coop/' ||
        { cat /tmp/coop/error.log; return 1; }
    _n=0
    while ! listening 84 && [ $_n -lt 50 ]; do sleep 0.2; _n=$((_n + 1)); done
    listening 84 || { echo "nothing listens on port 84"; cat /tmp/coop/error.log; return 1; }
}
coop_stop() { pid_stop /tmp/coop/nginx.pid; }

# coop_report MECH REP LINE: what this node's cache did from access-log
# line LINE on (hits, misses fetched from the owners, own files from the
# disk), and the cgroup's memory.
coop_report() {
    _st=$(tail -n +"$3" /tmp/coop/access.log |
        awk '{ c[$3]++; if ($4 != 200) bad++ } END { printf "hit=%d miss=%d own=%d non200=%d", c["HIT"], c["MISS"], c["-"], bad }')
    log "sc_compare $1 rep $2: $_st; cache $(du -sk /tmp/coop/cache | cut -f1) KiB; cgroup memory.current $(cat /sys/fs/cgroup/web/memory.current) B, memory.peak $(cat /sys/fs/cgroup/web/memory.peak 2>/dev/null || echo -) B"
}

# oom_kills: the memory cgroup's oom_kill count.
oom_kills() { awk '$1 == "oom_kill" { print $2 }' /sys/fs/cgroup/web/memory.events; }

# cmp_sc_check LINE: every clone or local service in dts-scserver's log
# from line LINE on went to the owner map's node; "REQUESTS WRONG".
cmp_sc_check() {
    tail -n +"$1" "$SC_LOG" | awk -v self="$RIG_ID" 'NR == FNR { own[$1] = $2; next }
        { p = substr($3, 6); a = substr($4, 8) }
        a ~ /^clone:/ { n++; if (own[p] != substr(a, 7)) bad++ }
        a == "local" { n++; if (own[p] != self) bad++ }
        END { printf "%d %d\n", n, bad }' /tmp/cmp/owners -
}

# node_cmp_all REPS: this node's part of the sc_compare runs.
node_cmp_all() {
    check "sc_compare: owner map of $nfiles files over $N nodes (dts-bench owners, chash)" cmp_owner_map
    if [ "$RIG_ID" = 1 ]; then
        check "ipvsadm: $VIP_SC:81 and $VIP_RR:84 -> every node (DR, rr; sc_compare)" cmp_ipvs
        ipvsadm -Ln >>"$RIG_OUT/log.txt"
        check "sc_compare: nginx relay (:8086) and HAProxy (:8087) to each file's owner" cmp_relays_start
        _last=$(printf 'f%04d' "$nfiles")
        (cd /tmp/data && sha256sum f0001 f0002 "$_last") >"$RIG_SHARED/cmp.sums"
    fi
    sc_server_stop
    _rep=1
    while [ $_rep -le "$1" ]; do
        for _mech in $(rotate $_rep $CMP_MECHS); do
            node_cmp "$_mech" "$_rep"
        done
        _rep=$((_rep + 1))
    done
    [ "$RIG_ID" = 1 ] && cmp_relays_stop
}

# node_cmp MECH REP: this node's part of one sc_compare run: MECH set up,
# the page cache dropped; after the client's measured run, MECH's checks
# and teardown. A failed step marks the run broken (the client then
# reports no number for it).
node_cmp() {
    _m=$1 _r=$2 _b=cmp-$1-$2
    _broken=$RIG_SHARED/cmp-broken.$1.$2
    case $_m in
        sc_chash) sc_policy_start chash || : >"$_broken" ;;
        dts_chash)
            cluster_toml chash proxy >/tmp/c-cmp.toml
            check "sc_compare dts_chash: dtsctl apply -f (handover_to = proxy, policy chash)" \
                "$DTSCTL" apply -f /tmp/c-cmp.toml || : >"$_broken" ;;
        coop)
            check "sc_compare coop: cooperative cache on :84 (LRU, $((cache_mb / 4)) MiB)" \
                coop_start 1 || : >"$_broken" ;;
        coop_lfu)
            check "sc_compare coop_lfu: cooperative cache on :84 (min_uses 2, $((cache_mb / 4)) MiB)" \
                coop_start 2 || : >"$_broken" ;;
    esac
    barrier "$_b-set" "$ALL"
    if [ "$_m" = dts_chash ]; then
        check "sc_compare dts_chash: control mesh formed again" "$DTSCTL" peers --wait 120 ||
            : >"$_broken"
        dts_proxy_stop
        check "sc_compare dts_chash: dts-proxy --config (chash) --keepalive" \
            dts_proxy_start 8080 --listen 0.0.0.0:8080 --config /tmp/c-cmp.toml --keepalive \
            --metrics "$METRICS" || : >"$_broken"
    fi
    sync; echo 3 >/proc/sys/vm/drop_caches
    _oom0=$(oom_kills)
    barrier "$_b-warm" "$ALL"
    barrier "$_b-go" "$ALL"
    _s0=$(sc_log_lines)
    _c0=1
    [ -f /tmp/coop/access.log ] && _c0=$(( $(wc -l </tmp/coop/access.log) + 1 ))
    barrier "$_b-end" "$ALL"
    _oom1=$(oom_kills)
    [ "$_oom1" = "$_oom0" ] || {
        fail "sc_compare $_m rep $_r: the memory cgroup killed $((_oom1 - _oom0)) process(es) (oom_kill)"
        : >"$_broken"
    }
    case $_m in
        sc_chash)
            set -- $(cmp_sc_check "$_s0")
            log "sc_compare sc_chash rep $_r: $1 requests placed, $2 not on the owner map's node"
            [ "${1:-0}" -gt 0 ] && [ "${2:-1}" = 0 ] ||
                { fail "sc_compare sc_chash rep $_r: $2 of $1 requests not placed on the owner map's node"; : >"$_broken"; }
            bad=$(tail -n +"$_s0" "$SC_LOG" | grep -c 'action=fallback:')
            ebadf=$(tail -n +"$_s0" "$SC_LOG" | grep -c 'action=fallback:EBADF')
            [ "$bad" = "$ebadf" ] ||
                fail "sc_compare sc_chash rep $_r: $((bad - ebadf)) clone call(s) failed other than at wrk's end (EBADF)"
            sc_policy_stop ;;
        coop | coop_lfu)
            coop_report "$_m" "$_r" "$_c0"
            coop_stop ;;
        dts_chash)
            # The proxy's handovers and local services (warm-up included).
            log "sc_compare dts_chash rep $_r: $(curl -s --max-time 5 "http://$METRICS/metrics" |
                grep -E '^dts_proxy_(handovers_total|local_total|fallbacks_total)' | tr '\n' ' ')"
            dts_proxy_stop
            check "sc_compare dts_chash: dtsctl apply -f (the main configuration again)" \
                "$DTSCTL" apply -f /tmp/c.toml ;;
    esac
    barrier "$_b-done" "$ALL"
    if [ "$_m" = dts_chash ]; then
        check "sc_compare: control mesh formed again" "$DTSCTL" peers --wait 120
        proxy_route_next
    fi
}

# --- client ------------------------------------------------------------------
mech_url() { # MECH PATH
    case $1 in
        direct) echo "http://$(node_ip 2)$2" ;;
        dts) echo "http://$VIP$2" ;;
        sc) echo "http://$VIP_SC:81$2" ;;
        sc_local) echo "http://$VIP_SC:81/l${2#/b}" ;;
        nginx_relay) echo "http://$(node_ip 1):8081$2" ;;
        haproxy) echo "http://$(node_ip 1):8082$2" ;;
        ipvs_dr) echo "http://$VIP_DR$2" ;;
    esac
}

# rotate N WORD...: the words, starting at the (N mod count)-th: an order
# that changes from one repetition to the next.
rotate() {
    _n=$1; shift
    _k=$(( _n % $# ))
    _i=0 _a= _b=
    for _w in "$@"; do
        if [ $_i -lt $_k ]; then _b="$_b $_w"; else _a="$_a $_w"; fi
        _i=$((_i + 1))
    done
    echo $_a $_b
}

# ab_run OUT ARGS...: ab; exit 1 unless every request succeeded.
ab_run() {
    _o=$1; shift
    ab -q -r "$@" >"$_o" 2>&1 || { cat "$_o"; return 1; }
    _c=$(awk '/^Complete requests:/ { print $3 }' "$_o")
    _f=$(awk '/^Failed requests:/ { print $3 }' "$_o")
    _x=$(awk '/^Non-2xx responses:/ { print $3 }' "$_o")
    [ "${_c:-0}" -gt 0 ] && [ "${_f:-1}" = 0 ] && [ -z "$_x" ] || { cat "$_o"; return 1; }
}

# rate SCENARIO MECH PARAM REP URL AB_ARGS...: ab for $EFF_T seconds;
# a req_per_s sample.
rate() {
    _sc=$1 _m=$2 _p=$3 _rep=$4 _url=$5
    shift 5
    if ab_run /tmp/ab.out "$@" -t "$EFF_T" -n 50000 "$_url"; then
        rps=$(awk '/^Requests per second:/ { print $4 }' /tmp/ab.out)
        log "$_sc rep $_rep $_p $_m: $rps req/s"
        sample "$_sc" "$_m" "$_p" "$_rep" req_per_s "$rps" true
    else
        fail "$_sc rep $_rep $_p $_m: ab $_url failed"
    fi
}

# first_byte SCENARIO MECH REP URL AB_ARGS...: ab's per-request wait
# (request sent -> first response byte) over $LAT_N requests; p50 and p99
# samples.
first_byte() {
    _sc=$1 _m=$2 _rep=$3 _url=$4
    shift 4
    if ab_run /tmp/ab.out "$@" -n "$LAT_N" -g /tmp/ab.tsv "$_url"; then
        # -g: starttime seconds ctime dtime ttime wait (ms).
        pct=$(awk -F'\t' 'NR > 1 { print $6 }' /tmp/ab.tsv | sort -n | awk '
            { v[NR] = $1 } END { i50 = int((NR - 1) * 0.50) + 1; i99 = int((NR - 1) * 0.99) + 1
                print v[i50], v[i99] }')
        set -- $pct
        log "$_sc rep $_rep $_m: first byte p50 $1 ms, p99 $2 ms"
        sample "$_sc" "$_m" p50 "$_rep" first_byte_ms "$1" false
        sample "$_sc" "$_m" p99 "$_rep" first_byte_ms "$2" false
    else
        fail "$_sc rep $_rep $_m: ab $_url failed"
    fi
}

client_efficiency() {
    rep=1
    while [ $rep -le $REPS ]; do
        for s in $SIZES; do
            for m in $(rotate $rep $EFF_MECHS); do
                rate efficiency "$m" "$s" "$rep" "$(mech_url $m "/b/s$s")"
            done
        done
        rep=$((rep + 1))
    done
}

client_latency() {
    rep=1
    while [ $rep -le $LAT_REPS ]; do
        for m in $(rotate $rep $LAT_MECHS); do
            first_byte latency "$m" "$rep" "$(mech_url $m /b/s1k)"
        done
        rep=$((rep + 1))
    done
}

# client_cloning: Socket Cloning against node 2's nginx and against the
# cloning server serving itself, all over one keep-alive connection (ab -k):
# each sc request is one clone of that connection.
client_cloning() {
    rep=1
    while [ $rep -le $REPS ]; do
        for s in $SC_SIZES; do
            for m in $(rotate $rep $SC_MECHS); do
                rate cloning "$m" "$s" "$rep" "$(mech_url $m "/b/s$s")" -k
            done
        done
        rep=$((rep + 1))
    done
    rep=1
    while [ $rep -le $LAT_REPS ]; do
        for m in $(rotate $rep direct sc); do
            first_byte clone_latency "$m" "$rep" "$(mech_url $m /b/s1k)" -k
        done
        rep=$((rep + 1))
    done
}

# wrk_zipf URL SECONDS SEED [close|keepalive]: the Zipf stream (4
# connections; by default one per request); prints req/s.
wrk_zipf() {
    wrk -t1 -c4 -d"$2s" --timeout 30s -s "$BENCH/zipf.lua" "$1" -- "$nfiles" "$alpha" "$3" "${4:-close}" \
        >/tmp/wrk.out 2>&1 || { cat /tmp/wrk.out; return 1; }
    cat /tmp/wrk.out >>"$RIG_OUT/log.txt"
    if grep -q 'Non-2xx\|Socket errors' /tmp/wrk.out; then cat /tmp/wrk.out; return 1; fi
    awk '/^Requests\/sec:/ { print $2 }' /tmp/wrk.out
}

# surge_run URL SECONDS SEED: the SURGE workload (dts-surge run, one
# connection per request) against the file set under URL; prints req/s.
# Fails on any failed request (dts-surge's exit status 1: a connection or
# socket error, a status other than 200, or a body whose length is not the
# manifest's).
surge_run() {
    "$TOOLS/dts-surge" run --manifest "$SURGE_MANIFEST" --url "$1" --users "$surge_users" \
        --duration "$2" --seed "$3" --think-scale "$surge_think" --timeout 30 --json \
        >/tmp/surge.json 2>/tmp/surge.err
    _rc=$?
    # The report without its per-file counts.
    "$JQ" -c 'del(.per_file)' /tmp/surge.json >>"$RIG_OUT/log.txt" 2>/dev/null
    if [ $_rc != 0 ]; then
        cat /tmp/surge.err
        "$JQ" -c '{requests, ok, errors}' /tmp/surge.json 2>/dev/null
        return 1
    fi
    "$JQ" -r 'if .requests > 0 and .ok == .requests then .req_per_s
              else error("\(.ok) of \(.requests) requests ok") end' /tmp/surge.json 2>&1
}

# surge_verify URL: the SURGE set's most popular, largest and smallest
# files, fetched under URL, have the manifest's SHA-256 (dts-surge run
# checks lengths only).
surge_verify() {
    for _f in $("$JQ" -r '[.files | (min_by(.rank), max_by(.size), min_by(.size)) | .name] | unique | .[]' \
        "$SURGE_MANIFEST"); do
        _want=$("$JQ" -r --arg n "$_f" '.files[] | select(.name == $n) | .sha256' "$SURGE_MANIFEST")
        curl -sf --max-time 60 -o /tmp/surge.body "$1$_f" || { echo "$1$_f: curl failed"; return 1; }
        _got=$(sha256_of /tmp/surge.body)
        [ "$_got" = "$_want" ] || { echo "$1$_f: SHA-256 $_got, manifest $_want"; return 1; }
    done
}

# loc_run WORKLOAD MECH URL SECONDS SEED: one run of the workload's
# stream; prints req/s.
loc_run() {
    case $1:$2 in
        zipf:*) wrk_zipf "$3" "$4" "$5" ;;
        surge:*) surge_run "$3s/" "$4" "$5" ;;
        sc:*) wrk_zipf "$3" "$4" "$5" keepalive ;;
    esac
}

# client_loc_all WORKLOAD MECHS REPS: every repetition of the workload's
# runs, each mechanism once per repetition (the nodes: node_loc_all).
client_loc_all() {
    _rep=1
    while [ $_rep -le "$3" ]; do
        for _mech in $2; do
            client_loc "$1" "$_mech" "$_rep"
        done
        _rep=$((_rep + 1))
    done
}

# client_loc WORKLOAD MECH REP: one locality run: a warm-up, then the
# measured run, whose req/s is the sample; the host's CPU use is marked
# around it (label locality.MECH.REP for the main run's Zipf workload, as
# always; loc.NODES.WORKLOAD.MECH.REP for the others, WORKLOAD zipf or
# surge).
client_loc() {
    _w=$1 _m=$2 _r=$3
    loc_names "$_w"
    case $_m in
        ipvs_rr | ipvs_rr_ka) _url=http://$VIP_RR/ ;;
        sc_*) _url=http://$VIP_SC:81/ ;;
        *) _url=http://$VIP/ ;;
    esac
    if [ "$part:$_w" = main:zipf ]; then
        _cpu=locality.$_m.$_r
    else
        _cpu=loc.$N.$(if [ "$_w" = surge ]; then echo surge; else echo zipf; fi).$_m.$_r
    fi
    barrier "$LB-$_m-$_r-warm" "$ALL"
    # On failure loc_run prints what went wrong instead of the rate.
    if ! rps=$(loc_run "$_w" "$_m" "$_url" "$LOC_WARM" $((_r * 100 + 1))); then
        fail "$LS rep $_r $_m: warm-up failed: $(printf '%s\n' "$rps" | tail -n 3 | tr '\n' ' ')"
    fi
    barrier "$LB-$_m-$_r-go" "$ALL"
    cpu_mark "$_cpu" start
    [ "$part:$_w:$_m" = scaling:zipf:dts_lard ] && cpu_mark "scaling.$N" start
    if rps=$(loc_run "$_w" "$_m" "$_url" "$LOC_T" $((_r * 100 + 2))); then
        log "$LS rep $_r $_m: $rps req/s"
        sample "$LS" "$_m" "$LP" "$_r" req_per_s "$rps" true
        if [ "$_w:$_m" = zipf:dts_lard ]; then
            sample scaling dts_lard "${N}_nodes" "$_r" req_per_s "$rps" true
        fi
    else
        fail "$LS rep $_r $_m: the $_w run failed: $(printf '%s\n' "$rps" | tail -n 3 | tr '\n' ' ')"
    fi
    [ "$part:$_w:$_m" = scaling:zipf:dts_lard ] && cpu_mark "scaling.$N" end
    cpu_mark "$_cpu" end
    barrier "$LB-$_m-$_r-end" "$ALL"
}

# client_surge_check: before the SURGE runs, the manifest is there and
# some bodies are byte-exact through IPVS and through DTS.
client_surge_check() {
    check "SURGE manifest from node 1" test -s "$SURGE_MANIFEST"
    check "SURGE files byte-exact through IPVS-DR ($VIP_RR)" surge_verify "http://$VIP_RR/s/"
    check "SURGE files byte-exact through DTS ($VIP)" surge_verify "http://$VIP/s/"
}

client_overhead() {
    rep=1
    while [ $rep -le $OVH_REPS ]; do
        for st in $(ovh_order $rep); do
            barrier "ovh-$rep-$st" "$ALL"
            n=0
            while ! iperf3 -c "$(node_ip 1)" -t 1 >/dev/null 2>&1 && [ $n -lt 20 ]; do sleep 0.5; n=$((n + 1)); done
            if iperf3 -c "$(node_ip 1)" -t "$OVH_T" -J >/tmp/ip.json 2>&1 &&
                v=$("$PY" -c 'import json,sys; e=json.load(open(sys.argv[1]))["end"]; print("%.2f" % (e["sum_received"]["bits_per_second"] / 1e6))' /tmp/ip.json); then
                log "overhead rep $rep $st: TCP $v Mbit/s"
                sample overhead_tcp "module_$st" tcp_bulk "$rep" mbit_per_s "$v" true
            else
                fail "overhead rep $rep $st: iperf3 TCP failed: $(tail -n 3 /tmp/ip.json | tr '\n' ' ')"
            fi
            if iperf3 -c "$(node_ip 1)" -u -b 0 -l 64 -t "$OVH_T" -J >/tmp/ip.json 2>&1 &&
                v=$("$PY" -c 'import json,sys; s=json.load(open(sys.argv[1]))["end"]["sum"]; print("%.0f" % ((s["packets"] - s["lost_packets"]) / s["seconds"]))' /tmp/ip.json); then
                log "overhead rep $rep $st: UDP 64 B $v packets/s received"
                sample overhead_udp "module_$st" udp_64B "$rep" packets_per_s "$v" true
            else
                fail "overhead rep $rep $st: iperf3 UDP failed: $(tail -n 3 /tmp/ip.json | tr '\n' ' ')"
            fi
            barrier "ovh-$rep-$st-done" "$ALL"
        done
        rep=$((rep + 1))
    done
}

# client_drain MECH REP: one drain run: the workload (DR_D throttled
# downloads of /d/big, each body through a FIFO into body_sink.py; DR_K
# keep-alive streams, ka_stream.py), from client ports node 2 does not
# accept (its own proxy's connections are not what a drain moves); once it
# is under way, the nodes drain node 2; then the errors, and the samples.
client_drain() {
    _m=$1 _r=$2 _b=dr-$1-$2
    case $_m in
        dts) _host=$VIP _port=80 ;;
        ipvs_w0) _host=$VIP_DRAIN _port=80 ;;
        haproxy_disable) _host=$(node_ip 1) _port=8083 ;;
    esac
    # The ports first (dtsctl owner per candidate is slow under TCG).
    _dports= _kports= _i=1
    while [ $_i -le $DR_D ]; do
        drain_port
        _dports="$_dports $PORT"
        _i=$((_i + 1))
    done
    _i=1
    while [ $_i -le $DR_K ]; do
        drain_port
        _kports="$_kports${_kports:+,}$PORT"
        _i=$((_i + 1))
    done
    barrier "$_b-ready" "$ALL"
    # The streams first (a program's start is dear under TCG: the
    # downloads must outlast the set-up and the drain).
    rm -f /tmp/dr-started
    "$PY" "$RIG_REPO/tests/vm/ka_stream.py" --vip "$_host" --port "$_port" --ports "$_kports" \
        --files 8 --sums "$RIG_SHARED/d.sums" --duration "$DR_RUN" --think-ms 200 \
        --started /tmp/dr-started --out /tmp/dr-streams.json >/tmp/dr-streams.log 2>&1 &
    _kpid=$!
    _dpids= _spids= _progs= _i=1
    for _dport in $_dports; do
        rm -f "/tmp/dr-big-$_i" "/tmp/dr-sum-$_i" "/tmp/dr-prog-$_i"
        mkfifo "/tmp/dr-big-$_i"
        "$PY" "$RIG_REPO/tests/vm/body_sink.py" "/tmp/dr-big-$_i" \
            --sha "/tmp/dr-sum-$_i" --progress "/tmp/dr-prog-$_i" &
        _spids="$_spids $!"
        _progs="$_progs /tmp/dr-prog-$_i"
        curl -sS --fail --limit-rate "$DR_RATE" --max-time $((DR_RUN * 4)) --local-port "$_dport" \
            -o "/tmp/dr-big-$_i" "http://$_host:$_port/d/big" >"/tmp/dr-big-$_i.out" 2>&1 &
        _dpids="$_dpids $!"
        _i=$((_i + 1))
    done
    # Under way: every download past 1 MiB, every stream answered once.
    uptime_s; _t0=$UPTIME_S
    while :; do
        _going=$(bodies_past 1048576 $_progs)
        [ "$_going" -ge "$DR_D" ] && [ -e /tmp/dr-started ] && break
        uptime_s; [ $((UPTIME_S - _t0)) -lt 120 ] || break
        sleep 0.2
    done
    [ "$_going" -ge "$DR_D" ] && [ -e /tmp/dr-started ] ||
        fail "drain $_r $_m: the workload did not get under way ($_going downloads past 1 MiB)"
    barrier "$_b-go" "$ALL"
    barrier "$_b-measured" "$ALL"
    _err=0 _i=1
    for _p in $_dpids; do
        wait "$_p" || { _err=$((_err + 1)); log "drain $_r $_m: download $_i: $(tr '\n' ' ' <"/tmp/dr-big-$_i.out")"; }
        _i=$((_i + 1))
    done
    for _p in $_spids; do wait "$_p"; done
    _i=1 _bad=0
    while [ $_i -le $DR_D ]; do
        [ "$(cat "/tmp/dr-sum-$_i")" = "$(cat "$RIG_SHARED/d.big.sha")" ] || _bad=$((_bad + 1))
        rm -f "/tmp/dr-big-$_i"
        _i=$((_i + 1))
    done
    wait "$_kpid"
    _broken=$("$JQ" '[.[] | select(.error != null)] | length' /tmp/dr-streams.json 2>/dev/null || echo "$DR_K")
    log "drain $_r $_m: $(tail -n 1 /tmp/dr-streams.log)"
    barrier "$_b-end" "$ALL"
    barrier "$_b-counted" "$ALL"
    # A failed download that also differs counts once.
    [ "$_bad" -gt "$_err" ] && _err=$_bad
    _errors=$((_err + _broken))
    read _ms _cut <"$RIG_SHARED/$_b.time" || _ms=
    if [ -e "$RIG_SHARED/dr-broken.$_m" ]; then
        fail "drain $_r $_m: a step of the mechanism failed (see the nodes' logs): no numbers"
        return
    fi
    _moved=$(cat "$RIG_SHARED/$_b".moved.n* 2>/dev/null | awk '{ s += $1 } END { printf "%.2f\n", s / 1048576 }')
    _param=${DR_D}x${DR_MB}MiB+${DR_K}ka
    if [ -n "$_ms" ]; then
        _s=$(awk -v ms="$_ms" 'BEGIN { printf "%.2f\n", ms / 1000 }')
        log "drain $_r $_m: node 2 empty after $_s s ($_cut cut), $_moved MiB moved, $_errors client-visible error(s) ($_err download(s), $_broken stream(s))"
        sample drain "$_m" "$_param" "$_r" drain_s "$_s" false
        sample drain_moved "$_m" "$_param" "$_r" moved_mib "$_moved" true
        sample drain_errors "$_m" "$_param" "$_r" errors "$_errors" false
    else
        fail "drain $_r $_m: node 2 published no drain time"
    fi
}

# drain_port: the next client port (PORT) that node 2 does not accept.
drain_port() {
    while :; do
        PORT=$((PORT + 1))
        [ "$("$DTSCTL" owner "$CLIENT_IP:$PORT" --nodes "$(seq -s, 1 "$N")")" != 2 ] && return 0
    done
}

client_drain_all() {
    PORT=29000
    _rep=1
    while [ $_rep -le "$DR_REPS" ]; do
        for _mech in $(rotate $_rep $DR_MECHS); do
            client_drain "$_mech" "$_rep"
        done
        _rep=$((_rep + 1))
    done
}

# cmp_url MECH: the client's URL (its path is zipf.lua's) of an sc_compare
# mechanism.
cmp_url() {
    case $1 in
        plain) echo "http://$(node_ip 1)/" ;;
        ipvs_rr_ka) echo "http://$VIP_RR/" ;;
        sc_chash) echo "http://$VIP_SC:81/" ;;
        dts_chash) echo "http://$VIP/" ;;
        coop | coop_lfu) echo "http://$VIP_RR:84/" ;;
        nginx_relay) echo "http://$(node_ip 1):8086/" ;;
        haproxy) echo "http://$(node_ip 1):8087/" ;;
    esac
}

# cmp_verify URL: the files of node 1's cmp.sums (the most popular, the
# second, the least), each fetched twice under URL (a cache may serve the
# second), have the disk's SHA-256.
cmp_verify() {
    while read -r _want _f; do
        for _i in 1 2; do
            curl -sf --max-time 60 -o /tmp/cmp.body "${1}z/$_f" || { echo "${1}z/$_f: curl failed"; return 1; }
            _got=$(sha256_of /tmp/cmp.body)
            [ "$_got" = "$_want" ] || { echo "${1}z/$_f: SHA-256 $_got, the disk's $_want"; return 1; }
        done
    done <"$RIG_SHARED/cmp.sums"
}

# client_cmp_all REPS / client_cmp MECH REP: the client's part of the
# sc_compare runs (node_cmp_all): per run the bodies checked, a warm-up,
# then the measured run over keep-alive connections.
client_cmp_all() {
    _rep=1
    while [ $_rep -le "$1" ]; do
        for _mech in $(rotate $_rep $CMP_MECHS); do
            client_cmp "$_mech" "$_rep"
        done
        _rep=$((_rep + 1))
    done
}
client_cmp() {
    _m=$1 _r=$2 _b=cmp-$1-$2
    _url=$(cmp_url "$_m")
    barrier "$_b-set" "$ALL"
    barrier "$_b-warm" "$ALL"
    check "sc_compare $_m: bodies byte-exact through $_url" cmp_verify "$_url"
    if ! rps=$(wrk_zipf "$_url" "$LOC_WARM" $((_r * 100 + 1)) keepalive); then
        fail "sc_compare rep $_r $_m: warm-up failed: $(printf '%s\n' "$rps" | tail -n 3 | tr '\n' ' ')"
    fi
    barrier "$_b-go" "$ALL"
    if rps=$(wrk_zipf "$_url" "$LOC_T" $((_r * 100 + 2)) keepalive); then
        log "sc_compare rep $_r $_m ($N nodes): $rps req/s"
        _ok=1
    else
        fail "sc_compare rep $_r $_m: the run failed: $(printf '%s\n' "$rps" | tail -n 3 | tr '\n' ' ')"
        _ok=0
    fi
    barrier "$_b-end" "$ALL"
    barrier "$_b-done" "$ALL"
    if [ -e "$RIG_SHARED/cmp-broken.$_m.$_r" ]; then
        fail "sc_compare rep $_r $_m: a step of the mechanism failed (see the nodes' logs): no number"
    elif [ $_ok = 1 ]; then
        sample sc_compare "$_m" "${N}_nodes" "$_r" req_per_s "$rps" true
    fi
}

client_main() {
    uname -r >"$RIG_SHARED/kernel"
    barrier ready "$ALL"
    cpu_mark efficiency start
    client_efficiency
    cpu_mark efficiency end
    client_latency
    cpu_mark cloning start
    client_cloning
    cpu_mark cloning end
    barrier lat-done "$ALL"
    client_loc_all zipf "$LOC_MECHS" "$LOC_REPS"
    client_surge_check
    client_loc_all surge "$LOC_MECHS" "$LOC_REPS"
    client_loc_all sc "$SC_LOC_MECHS" "$LOC_REPS"
    client_cmp_all "$LOC_REPS"
    client_drain_all
    client_overhead
    barrier finish "$ALL"
    pass "benchmark client finished"
}

client_scaling() {
    uname -r >"$RIG_SHARED/kernel"
    barrier ready "$ALL"
    if [ "$all_mechs" = 1 ]; then
        client_loc_all zipf "$LOC_MECHS" 1
        client_surge_check
        client_loc_all surge "$LOC_MECHS" 1
        client_cmp_all 1
        barrier finish "$ALL"
        pass "benchmark client finished"
        return
    fi
    wrk_zipf "http://$VIP/" "$LOC_WARM" 101 >/dev/null || fail "scaling: warm-up failed"
    barrier scale-go "$ALL"
    cpu_mark "scaling.$N" start
    if rps=$(wrk_zipf "http://$VIP/" "$LOC_T" 102); then
        log "scaling $N nodes: $rps req/s"
        sample scaling dts_lard "${N}_nodes" 1 req_per_s "$rps" true
    else
        fail "scaling $N nodes: wrk failed: $(tail -n 3 /tmp/wrk.out | tr '\n' ' ')"
    fi
    cpu_mark "scaling.$N" end
    barrier scale-end "$ALL"
    client_cmp_all 1
    barrier finish "$ALL"
    pass "benchmark client finished"
}

# The drain scenario alone (bench/run.sh --drain-only).
node_drain_part() {
    node_setup
    [ "$RIG_ID" = 1 ] &&
        check "haproxy on :8082 and :8083" haproxy -f "$BENCH/haproxy.cfg" -D -p /tmp/haproxy.pid
    proxy_route_next
    barrier ready "$ALL"
    node_drain_all
    barrier finish "$ALL"
    node_finish
}
client_drain_part() {
    uname -r >"$RIG_SHARED/kernel"
    barrier ready "$ALL"
    client_drain_all
    barrier finish "$ALL"
    pass "benchmark client finished"
}

# The sc_compare scenario alone (bench/run.sh --compare-only).
node_cmp_part() {
    node_setup
    cache_limit $((cache_mb * 1024 * 1024))
    proxy_route_next
    barrier ready "$ALL"
    node_cmp_all "$LOC_REPS"
    cache_limit max
    barrier finish "$ALL"
    node_finish
}
client_cmp_part() {
    uname -r >"$RIG_SHARED/kernel"
    barrier ready "$ALL"
    client_cmp_all "$LOC_REPS"
    barrier finish "$ALL"
    pass "benchmark client finished"
}

case "$RIG_ROLE:$part" in
    node:main) node_main ;;
    node:drain) node_drain_part ;;
    node:compare) node_cmp_part ;;
    client:compare) client_cmp_part ;;
    client:drain) client_drain_part ;;
    node:scaling) node_scaling ;;
    client:main) client_main ;;
    client:scaling) client_scaling ;;
    *) fail "unknown role/part $RIG_ROLE:$part" ;;
esac
