#!/usr/bin/env bash
# The benchmark harness (`make bench [QUICK=1]`): boots the rig, runs every
# scenario of bench/guest.sh, and writes the report.
#
#   bench/run.sh --kernel BZIMAGE --module DTS_KO --tools DIR
#                [--quick] [--out DIR] [--scaling "2 4"] [--drain-only | --compare-only]
#
# Runs, one after the other (never two clusters at once: the machine's CPUs
# are the measuring instrument):
#   main      3 nodes + client: efficiency, latency, cloning, locality (Zipf,
#             wrk), surge (the same mechanisms under a SURGE workload,
#             dts-surge run), sc_locality (Socket Cloning under the
#             placement policies), sc_compare (Socket Cloning against
#             cooperative caching, DTS, the relays, IPVS and one plain node,
#             the Zipf stream over keep-alive connections), drain (a node
#             drained by IPVS weight 0, HAProxy's disable server and DTS's
#             live drain, under the same workload), overhead;
#   scaling   the locality workload under LARD on 2 and 4 nodes (--scaling;
#             the 3-node figure comes from the main run), then sc_compare
#             on that many nodes. In the full run
#             (not --quick) the largest of these clusters, if it has more
#             than 3 nodes, runs every locality mechanism under both
#             workloads instead (locality_scaling, surge_scaling), so that
#             the report has the policies' gains on the largest node count
#             the run uses; --quick runs the first size only, LARD only.
# --drain-only runs the drain scenario alone, on 3 nodes + client, instead.
# --compare-only runs the sc_compare scenario alone, on 3 nodes and on
# each --scaling size (--quick: the first), instead.
# Every node reads the locality scenarios' file sets from a read-only
# virtio disk (an ext4 image built here, kept in build/bench/; its name
# changes with its contents), throttled to DISK_THROTTLE so that a
# page-cache miss costs a disk read: the Zipf set (f0001 ... at the top)
# and the SURGE set (surge/, made by `dts-surge files` with a fixed seed,
# with its manifest.json, which node 1 copies to the client).
#
# Writes into --out (default <repo>/bench): results.json (the raw
# samples, dts-bench's schema 1), report.md and plots/*.png (dts-bench
# report), and the clusters' logs under runs/. Exit status: 0 if every run's
# VMs finished with no FAIL line and a clean kernel log, 1 otherwise (the
# report is still written from whatever was measured, and says so), 2 on
# usage errors.
set -euo pipefail

REPO=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; }
die() { echo "bench: error: $*" >&2; exit 2; }
say() { echo "bench: $*" >&2; }

kernel= module= tools= quick=0 out=$REPO/bench scaling="2 4" drain_only=0 compare_only=0
while [ $# -gt 0 ]; do
    case "$1" in
        --kernel) kernel=${2:?--kernel needs a value}; shift 2 ;;
        --module) module=${2:?--module needs a value}; shift 2 ;;
        --tools) tools=${2:?--tools needs a value}; shift 2 ;;
        --quick) quick=1; shift ;;
        --out) out=${2:?--out needs a value}; shift 2 ;;
        --scaling) scaling=${2?--scaling needs a value}; shift 2 ;;
        --drain-only) drain_only=1; shift ;;
        --compare-only) compare_only=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; die "unknown argument: $1" ;;
    esac
done
[ "$drain_only$compare_only" != 11 ] || die "--drain-only and --compare-only exclude each other"
[ -f "$kernel" ] || die "--kernel: no such file: '$kernel'"
[ -f "$module" ] || die "--module: no such file: '$module'"
for t in dtsctl dts-proxy dts-bench dts-surge dts-scserver; do
    [ -x "$tools/$t" ] ||
        die "--tools $tools must hold dtsctl, dts-proxy, dts-bench, dts-surge and dts-scserver (no $t)"
done
for n in $scaling; do
    [[ $n =~ ^[1-9]$ ]] && [ "$n" -ge 2 ] && [ "$n" -le 6 ] || die "--scaling: node counts 2..6 (got '$n')"
done
for p in ab wrk iperf3 haproxy ipvsadm mkfs.ext4 gnuplot; do
    command -v "$p" >/dev/null || die "$p not found (scripts/install-deps.sh installs it)"
done

# The locality file set: NFILES files of FILE_KIB KiB; each node's nginx
# may keep CACHE_MB of it in its page cache (a memory cgroup), so the set
# is larger than one node's cache and smaller than the cluster's.
NFILES=400 FILE_KIB=256 ALPHA=0.9 CACHE_MB=40
DISK_THROTTLE=4194304,50       # bytes/s, requests/s: a slow disk
# The SURGE file set (Documentation/surge.md): SURGE_FILES files with the
# paper's size model, cut at SURGE_MAX bytes, Zipf popularity (alpha 1.0),
# from a fixed seed: 94.5 MiB with these values, like the Zipf set more
# than one node's cache and less than the cluster's. SURGE_USERS
# user-equivalents, every OFF time scaled by SURGE_THINK: a mean OFF time
# of about 23 ms per request, well below a request's time under TCG, so
# that the cluster, not the users' think times, sets the pace.
SURGE_FILES=2000 SURGE_SEED=1 SURGE_MAX=4194304 SURGE_USERS=8 SURGE_THINK=0.01
if [ "$quick" = 1 ]; then
    scaling=${scaling%% *}    # one extra cluster size
fi
# The full run's largest scaling cluster, if larger than the main run's 3
# nodes, runs every locality mechanism (above); 0: none does.
all_mechs_n=0
if [ "$quick" = 0 ] && [ "$compare_only" = 0 ]; then
    for n in $scaling; do
        if [ "$n" -gt 3 ] && [ "$n" -gt "$all_mechs_n" ]; then all_mechs_n=$n; fi
    done
fi

mkdir -p "$out"
out=$(readlink -f "$out")
rm -rf "$out/runs" "$out/plots" "$out/report.md" "$out/results.json" "$out/samples.jsonl" "$out/cpu-samples.jsonl" "$out/scenarios.txt"
mkdir -p "$out/runs"
t_start=$(date +%s)
started=$(date -u +%Y-%m-%dT%H:%M:%SZ)

# --- the disk image ------------------------------------------------------
img_dir=$REPO/build/bench
img=$img_dir/files-$NFILES-$FILE_KIB-surge-$SURGE_FILES-$SURGE_SEED-$SURGE_MAX.ext4
if [ ! -f "$img" ]; then
    say "building the file sets: $NFILES files of $FILE_KIB KiB, $SURGE_FILES SURGE files ($img)"
    mkdir -p "$img_dir"
    # Images of other file sets would only take room.
    rm -f "$img_dir"/files-*.ext4 "$img_dir"/files-*.ext4.tmp
    tmp=$(mktemp -d "$img_dir/files.XXXXXX")
    for ((i = 1; i <= NFILES; i++)); do
        head -c $((FILE_KIB * 1024)) /dev/urandom >"$tmp/$(printf 'f%04d' "$i")"
    done
    "$tools/dts-surge" files --seed "$SURGE_SEED" --count "$SURGE_FILES" --max-size "$SURGE_MAX" \
        --out "$tmp/surge" || die "dts-surge files failed"
    chmod -R a+rX "$tmp"
    mb=$(( $(du -sm "$tmp" | cut -f1) * 11 / 10 + 16 ))
    mkfs.ext4 -q -F -O ^has_journal -d "$tmp" "$img.tmp" "${mb}M"
    rm -rf "$tmp"
    mv "$img.tmp" "$img"
fi

# --- the host's CPU use between the guests' marks ------------------------
# The client writes shared/cpu.start.LABEL and shared/cpu.end.LABEL; this
# loop snapshots /proc/stat when it first sees each (within 0.5 s).
cpu_watch() { # SHARED_DIR LOG
    declare -A seen=()
    while :; do
        for f in "$1"/cpu.start.* "$1"/cpu.end.*; do
            [ -e "$f" ] || continue
            [ -n "${seen[$f]:-}" ] && continue
            seen[$f]=1
            echo "${f##*/} $(head -n 1 /proc/stat)" >>"$2"
        done
        sleep 0.5
    done
}

fails=0
run_cluster() { # NAME NODES PART TIMEOUT [ALL_MECHS]
    local name=$1 nodes=$2 part=$3 timeout=$4 all_mechs=${5:-0} dir=$out/runs/$1 rc=0 cpu_pid
    say "$name: booting $nodes nodes + client (part $part) ..."
    local cpulog=$out/runs/$name.cpu.log t0
    : >"$cpulog"
    t0=$(date +%s)
    # cluster.sh creates $dir (it must not exist yet).
    cpu_watch "$dir/shared" "$cpulog" &
    cpu_pid=$!
    "$REPO/qemu/cluster.sh" --kernel "$kernel" --module "$module" --tools "$tools" \
        --script "$REPO/bench/guest.sh" --out "$dir" --nodes "$nodes" --timeout "$timeout" \
        --disk "$img" --disk-throttle "$DISK_THROTTLE" \
        --append "bench_part=$part bench_quick=$quick bench_files=$NFILES bench_alpha=$ALPHA bench_cache_mb=$CACHE_MB bench_surge_users=$SURGE_USERS bench_surge_think=$SURGE_THINK bench_all_mechs=$all_mechs" \
        >"$out/runs/$name.log" 2>&1 || rc=$?
    kill "$cpu_pid" 2>/dev/null; wait "$cpu_pid" 2>/dev/null || true
    say "$name: finished in $(( $(date +%s) - t0 )) s (cluster.sh exit $rc)"
    local bad=0 vm
    [ "$rc" = 0 ] || bad=1
    for vm in "$dir"/node* "$dir"/client; do
        [ -d "$vm" ] || continue
        if [ "$(cat "$vm/status" 2>/dev/null)" != 0 ] || grep -q '^FAIL' "$vm/results.txt" 2>/dev/null; then
            bad=1
            grep '^FAIL' "$vm/results.txt" 2>/dev/null | sed 's/^/    /' >&2 || true
        fi
        local logs=()
        for f in "$vm"/console*.log; do [ -f "$f" ] && logs+=("$f"); done
        if [ ${#logs[@]} -gt 0 ] && ! "$REPO/tests/check-dmesg.sh" "${logs[@]}" >"$vm/check-dmesg.txt" 2>&1; then
            say "$name: ${vm##*/}: kernel problem report (see $vm/check-dmesg.txt)"
            bad=1
        fi
    done
    if [ $bad = 1 ]; then
        say "$name: FAILED (consoles in $dir)"
        fails=$((fails + 1))
    fi
    # The host CPU's busy share between each pair of marks: host_cpu (one
    # column per window: efficiency, cloning, locality_MECH, scaling_N),
    # and for every locality window host_cpu_locality, by mechanism, with
    # the param NODES_nodes/WORKLOAD (from guest.sh's labels
    # locality.MECH.REP, the main run's Zipf windows, which host_cpu has
    # too, and loc.NODES.WORKLOAD.MECH.REP).
    python3 - "$cpulog" "$nodes" >>"$out/cpu-samples.jsonl" <<'EOF'
import json, sys
marks = {}
for line in open(sys.argv[1]):
    f = line.split()
    kind, label = f[0].split(".", 2)[1], f[0].split(".", 2)[2]
    t = [int(x) for x in f[2:]]
    marks.setdefault(label, {})[kind] = (sum(t), t[3] + t[4])
def sample(scenario, mechanism, param, rep, share):
    print(json.dumps({"scenario": scenario, "mechanism": mechanism, "param": param, "rep": rep,
                      "metric": "busy_share", "value": share, "higher_is_better": False}))
def shares(items):
    for label, m in items:
        if "start" in m and "end" in m:
            total = m["end"][0] - m["start"][0]
            idle = m["end"][1] - m["start"][1]
            if total > 0:
                yield label.split("."), round(1 - idle / total, 4)
for scen, share in shares(sorted(marks.items())):
    if scen[0] != "loc":
        sample("host_cpu", scen[0] + ("_" + scen[1] if len(scen) > 1 else ""), "busy",
               int(scen[2]) if len(scen) > 2 else 1, share)
# In the order of the runs (the marks' order in the log).
for scen, share in shares(marks.items()):
    if scen[0] == "loc" and len(scen) == 5:
        sample("host_cpu_locality", scen[3], scen[1] + "_nodes/" + scen[2], int(scen[4]), share)
    elif scen[0] == "locality" and len(scen) == 3:
        sample("host_cpu_locality", scen[1], sys.argv[2] + "_nodes/zipf", int(scen[2]), share)
EOF
}

: >"$out/cpu-samples.jsonl"
if [ "$quick" = 1 ]; then main_timeout=1800; else main_timeout=4800; fi
if [ "$drain_only" = 1 ]; then
    run_cluster main 3 drain 1200
    scaling=
elif [ "$compare_only" = 1 ]; then
    run_cluster compare-3 3 compare 1800
    for n in $scaling; do
        run_cluster "compare-$n" "$n" compare 1800
    done
    scaling=
else
    run_cluster main 3 main "$main_timeout"
fi
# The scaling clusters run sc_compare too (8 more locality runs).
for n in $scaling; do
    if [ "$n" = "$all_mechs_n" ]; then
        run_cluster "scaling-$n" "$n" scaling 3600 1
    else
        run_cluster "scaling-$n" "$n" scaling 1800
    fi
done

# --- results.json and the report --------------------------------------------
# The first cluster's kernel release (awk reads all: no SIGPIPE for cat,
# which pipefail would turn into an exit; none: unknown).
kernel_rel=$(cat "$out"/runs/*/shared/kernel 2>/dev/null | awk 'NR == 1' || true)
[ -n "$kernel_rel" ] || kernel_rel=unknown
cat "$out"/runs/*/shared/samples.*.jsonl "$out/cpu-samples.jsonl" 2>/dev/null >"$out/samples.jsonl" || true
python3 - "$out/samples.jsonl" "$out/results.json" "$(hostname)" "$(nproc)" "$kernel_rel" "$started" \
    "$out/scenarios.txt" <<'EOF'
import json, sys
src, dst, host, cpus, kernel, date, names = sys.argv[1:8]
samples = [json.loads(l) for l in open(src) if l.strip()]
json.dump({"schema": 1,
           "machine": {"host": host, "cpus": int(cpus), "accel": "tcg", "kernel": kernel, "date": date},
           "samples": samples}, open(dst, "w"), indent=1)
open(names, "w").write("".join(sorted({"%s=%s\n" % (s["scenario"], s["mechanism"]) for s in samples})))
print("bench: %d samples" % len(samples), file=sys.stderr)
EOF
# Each scenario's baseline, and the second baseline of those whose report
# also compares with DTS's (or Socket Cloning's) own round robin; only
# those with samples ($out/scenarios.txt: SCENARIO=MECH lines), since
# dts-bench refuses a baseline for a scenario without any (a quick run has
# no locality_scaling) and a second baseline without samples (a failed
# run).
baselines=(handover_call=dts handover_phases=dts mesh_rtt=icmp clone_call=sc
    locality=ipvs_rr locality_hit=ipvs_rr locality_served=ipvs_rr
    surge=ipvs_rr surge_hit=ipvs_rr surge_served=ipvs_rr
    sc_locality=ipvs_rr_ka sc_locality_hit=ipvs_rr_ka sc_locality_served=ipvs_rr_ka
    locality_scaling=ipvs_rr locality_scaling_hit=ipvs_rr locality_scaling_served=ipvs_rr
    surge_scaling=ipvs_rr surge_scaling_hit=ipvs_rr surge_scaling_served=ipvs_rr
    drain=ipvs_w0 drain_moved=ipvs_w0 drain_errors=ipvs_w0
    overhead_tcp=module_unloaded overhead_udp=module_unloaded scaling=dts_lard
    scaling_hit=dts_lard host_cpu=efficiency host_cpu_locality=ipvs_rr sc_compare=plain)
second_baselines=(locality=dts_rr surge=dts_rr sc_locality=sc_rr locality_scaling=dts_rr
    surge_scaling=dts_rr sc_compare=ipvs_rr_ka)
report_args=()
for b in "${baselines[@]}"; do
    if grep -qx "$b" "$out/scenarios.txt"; then report_args+=(--baseline "$b"); fi
done
for b in "${second_baselines[@]}"; do
    if grep -qx "$b" "$out/scenarios.txt"; then report_args+=(--second-baseline "$b"); fi
done
# sc_compare's baseline is one plain node: every mechanism against N of it
# (params N_nodes), Socket Cloning's normalized efficiency of a cluster.
if grep -qx sc_compare=plain "$out/scenarios.txt"; then
    report_args+=(--per-node-baseline sc_compare)
fi
rc=0
"$tools/dts-bench" report --in "$out/results.json" --out "$out/report.md" --plots "$out/plots" \
    "${report_args[@]}" || rc=1
# surge_set: ", N files, X MiB (median, largest)" of the SURGE manifest the
# main run's client read, or nothing.
surge_set() {
    [ -f "$out/runs/main/shared/surge-manifest.json" ] || return 0
    python3 - "$out/runs/main/shared/surge-manifest.json" <<'EOF' || true
import json, sys
sizes = sorted(f["size"] for f in json.load(open(sys.argv[1]))["files"])
print(", %d files, %.1f MiB (median %.1f KiB, largest %.1f MiB)"
      % (len(sizes), sum(sizes) / 2**20, sizes[len(sizes) // 2] / 1024, sizes[-1] / 2**20), end="")
EOF
}
{
    echo
    echo "## This run"
    echo
    echo "- \`bench/run.sh$([ "$quick" = 1 ] && echo ' --quick')$([ "$compare_only" = 1 ] && echo ' --compare-only')$([ "$drain_only" = 1 ] && echo ' --drain-only')\`, $(( ($(date +%s) - t_start) / 60 )) min on $(hostname) ($(nproc) CPUs, QEMU TCG)."
    echo "- Locality file set: $NFILES files of $FILE_KIB KiB, Zipf alpha $ALPHA; each node's nginx page cache limited to $CACHE_MB MiB; disk reads throttled to ${DISK_THROTTLE%,*} B/s and ${DISK_THROTTLE#*,} requests/s."
    echo "- Socket Cloning compared (\`sc_compare\`): the Zipf stream over wrk's 4 keep-alive connections on every node count of the run (param \`N_nodes\`); the normalized efficiency is each mechanism's req/s over N times one plain node's (\`plain\`, node 1's nginx alone under the same page-cache limit); cooperative caches of $((CACHE_MB / 4)) MiB per node (\`bench/nginx-coop.conf\`)."
    # The other scenarios (not in a --compare-only run).
    if [ "$compare_only" = 0 ]; then
        echo "- SURGE file set (\`surge\`, \`surge_scaling\`): \`dts-surge files --seed $SURGE_SEED --count $SURGE_FILES --max-size $SURGE_MAX\`$(surge_set), Zipf alpha 1.0; \`dts-surge run\` with $SURGE_USERS users and \`--think-scale $SURGE_THINK\`, one connection per request."
        echo "- Socket Cloning under the policies (\`sc_locality\`): the Zipf stream over wrk's 4 keep-alive connections; baseline \`ipvs_rr_ka\` (IPVS round robin over the same kind of connections), second baseline \`sc_rr\`."
        echo "- Drain (\`drain\`, \`drain_moved\`, \`drain_errors\`): node 2 serves throttled downloads of one file and keep-alive request streams (the param says how many of each), then is drained by IPVS weight 0 (\`ipvs_w0\`, the baseline), HAProxy's \`disable server\` (\`haproxy_disable\`) or \`dtsctl drain\` (\`dts\`); after the drain timeout node 2 is taken down and what it still served is cut. \`drain_s\`: until node 2 had no workload connection (the timeout if cut); \`moved_mib\`: bytes of the file the other nodes served after the drain started; \`errors\`: failed or not byte-exact downloads plus broken streams, as the client saw them (the target is 0)."
        if [ "$all_mechs_n" != 0 ]; then
            echo "- Largest node count: $all_mechs_n nodes (\`locality_scaling\`, \`surge_scaling\`: every locality mechanism, one repetition each); 3 nodes in the main run (\`locality\`, \`surge\`)."
        else
            echo "- Largest node count with every locality mechanism: 3 nodes (the main run)$([ "$quick" = 1 ] && echo '; a quick run measures LARD alone on the other size')."
        fi
    fi
    if [ "$fails" != 0 ]; then
        echo "- **$fails cluster run(s) FAILED**; the figures above come from what they measured before. See \`runs/\`."
    fi
} >>"$out/report.md"
say "report: $out/report.md"
[ "$fails" = 0 ] && [ "$rc" = 0 ]
