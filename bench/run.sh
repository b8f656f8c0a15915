#!/usr/bin/env bash
# The benchmark harness (`make bench [QUICK=1]`): boots the rig, runs every
# scenario of bench/guest.sh, and writes the report.
#
#   bench/run.sh --kernel BZIMAGE --module DTS_KO --tools DIR
#                [--quick] [--out DIR] [--scaling "2 4"]
#
# Runs, one after the other (never two clusters at once: the machine's CPUs
# are the measuring instrument):
#   main      3 nodes + client: efficiency, latency, locality, overhead;
#   scaling   the locality workload under LARD on 2 and 4 nodes (--scaling;
#             the 3-node figure comes from the main run).
# Every node reads the locality scenario's file set from a read-only virtio
# disk (an ext4 image built here, kept in build/bench/), throttled to
# DISK_THROTTLE so that a page-cache miss costs a disk read.
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

kernel= module= tools= quick=0 out=$REPO/bench scaling="2 4"
while [ $# -gt 0 ]; do
    case "$1" in
        --kernel) kernel=${2:?--kernel needs a value}; shift 2 ;;
        --module) module=${2:?--module needs a value}; shift 2 ;;
        --tools) tools=${2:?--tools needs a value}; shift 2 ;;
        --quick) quick=1; shift ;;
        --out) out=${2:?--out needs a value}; shift 2 ;;
        --scaling) scaling=${2?--scaling needs a value}; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; die "unknown argument: $1" ;;
    esac
done
[ -f "$kernel" ] || die "--kernel: no such file: '$kernel'"
[ -f "$module" ] || die "--module: no such file: '$module'"
[ -x "$tools/dtsctl" ] && [ -x "$tools/dts-proxy" ] && [ -x "$tools/dts-bench" ] ||
    die "--tools $tools must hold dtsctl, dts-proxy and dts-bench"
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
if [ "$quick" = 1 ]; then
    scaling=${scaling%% *}    # one extra cluster size
fi

mkdir -p "$out"
out=$(readlink -f "$out")
rm -rf "$out/runs" "$out/plots" "$out/report.md" "$out/results.json" "$out/samples.jsonl" "$out/cpu-samples.jsonl"
mkdir -p "$out/runs"
t_start=$(date +%s)
started=$(date -u +%Y-%m-%dT%H:%M:%SZ)

# --- the disk image ------------------------------------------------------
img_dir=$REPO/build/bench
img=$img_dir/files-$NFILES-$FILE_KIB.ext4
if [ ! -f "$img" ]; then
    say "building the file set: $NFILES files of $FILE_KIB KiB ($img)"
    mkdir -p "$img_dir"
    tmp=$(mktemp -d "$img_dir/files.XXXXXX")
    for ((i = 1; i <= NFILES; i++)); do
        head -c $((FILE_KIB * 1024)) /dev/urandom >"$tmp/$(printf 'f%04d' "$i")"
    done
    chmod 755 "$tmp"
    mb=$(( NFILES * FILE_KIB / 1024 * 11 / 10 + 16 ))
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
run_cluster() { # NAME NODES PART TIMEOUT
    local name=$1 nodes=$2 part=$3 timeout=$4 dir=$out/runs/$1 rc=0 cpu_pid
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
        --append "bench_part=$part bench_quick=$quick bench_files=$NFILES bench_alpha=$ALPHA bench_cache_mb=$CACHE_MB" \
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
    # The host CPU's busy share between each pair of marks.
    python3 - "$cpulog" "$name" >>"$out/cpu-samples.jsonl" <<'EOF'
import json, sys
marks = {}
for line in open(sys.argv[1]):
    f = line.split()
    kind, label = f[0].split(".", 2)[1], f[0].split(".", 2)[2]
    t = [int(x) for x in f[2:]]
    marks.setdefault(label, {})[kind] = (sum(t), t[3] + t[4])
for label, m in sorted(marks.items()):
    if "start" in m and "end" in m:
        total = m["end"][0] - m["start"][0]
        idle = m["end"][1] - m["start"][1]
        if total > 0:
            scen = label.split(".")
            print(json.dumps({"scenario": "host_cpu", "mechanism": scen[0] + ("_" + scen[1] if len(scen) > 1 else ""),
                              "param": "busy", "rep": int(scen[2]) if len(scen) > 2 else 1,
                              "metric": "busy_share", "value": round(1 - idle / total, 4),
                              "higher_is_better": False}))
EOF
}

: >"$out/cpu-samples.jsonl"
if [ "$quick" = 1 ]; then main_timeout=900; else main_timeout=2400; fi
run_cluster main 3 main "$main_timeout"
for n in $scaling; do
    run_cluster "scaling-$n" "$n" scaling 900
done

# --- results.json and the report --------------------------------------------
kernel_rel=$(cat "$out"/runs/main/shared/kernel 2>/dev/null || echo unknown)
cat "$out"/runs/*/shared/samples.*.jsonl "$out/cpu-samples.jsonl" 2>/dev/null >"$out/samples.jsonl" || true
python3 - "$out/samples.jsonl" "$out/results.json" "$(hostname)" "$(nproc)" "$kernel_rel" "$started" <<'EOF'
import json, sys
src, dst, host, cpus, kernel, date = sys.argv[1:7]
samples = [json.loads(l) for l in open(src) if l.strip()]
json.dump({"schema": 1,
           "machine": {"host": host, "cpus": int(cpus), "accel": "tcg", "kernel": kernel, "date": date},
           "samples": samples}, open(dst, "w"), indent=1)
print("bench: %d samples" % len(samples), file=sys.stderr)
EOF
rc=0
"$tools/dts-bench" report --in "$out/results.json" --out "$out/report.md" --plots "$out/plots" \
    --baseline handover_call=dts --baseline handover_phases=dts --baseline mesh_rtt=icmp --baseline clone_call=sc --baseline locality=ipvs_rr --baseline locality_hit=ipvs_rr \
    --baseline locality_served=ipvs_rr --baseline overhead_tcp=module_unloaded \
    --baseline overhead_udp=module_unloaded --baseline scaling=dts_lard \
    --baseline scaling_hit=dts_lard --baseline host_cpu=efficiency || rc=1
{
    echo
    echo "## This run"
    echo
    echo "- \`bench/run.sh$([ "$quick" = 1 ] && echo ' --quick')\`, $(( ($(date +%s) - t_start) / 60 )) min on $(hostname) ($(nproc) CPUs, QEMU TCG)."
    echo "- Locality file set: $NFILES files of $FILE_KIB KiB, Zipf alpha $ALPHA; each node's nginx page cache limited to $CACHE_MB MiB; disk reads throttled to ${DISK_THROTTLE%,*} B/s and ${DISK_THROTTLE#*,} requests/s."
    echo "- Socket Cloning (mechanism \`sc\`) is not measured: it has not landed (issue 7)."
    if [ "$fails" != 0 ]; then
        echo "- **$fails cluster run(s) FAILED**; the figures above come from what they measured before. See \`runs/\`."
    fi
} >>"$out/report.md"
say "report: $out/report.md"
[ "$fails" = 0 ] && [ "$rc" = 0 ]
