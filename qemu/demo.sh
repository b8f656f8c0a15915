#!/usr/bin/env bash
# Narrated demo: boots 3 nodes + client (qemu/cluster.sh) and streams the
# client's console: each node's `dtsctl status`, the client's fetches with
# sha256, a ping to the VIP answered by every node, the counters afterwards.
#
#   qemu/demo.sh --kernel BZIMAGE [--module DTS_KO] [--tools DIR] [--nodes N] [--out DIR]
set -euo pipefail

REPO=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; }

kernel= module= tools= nodes=3 out=
while [ $# -gt 0 ]; do
    case "$1" in
        --kernel) kernel=${2:?--kernel needs a value}; shift 2 ;;
        --module) module=${2:?--module needs a value}; shift 2 ;;
        --tools)  tools=${2:?--tools needs a value}; shift 2 ;;
        --nodes)  nodes=${2:?--nodes needs a value}; shift 2 ;;
        --out)    out=${2:?--out needs a value}; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; echo "demo.sh: error: unknown argument: $1" >&2; exit 2 ;;
    esac
done
[ -n "$kernel" ] || { usage >&2; echo "demo.sh: error: --kernel is required" >&2; exit 2; }
out=${out:-$REPO/build/demo-$(date +%Y%m%d-%H%M%S)}

args=(--kernel "$kernel" --nodes "$nodes" --script "$REPO/tests/vm/demo.sh" --out "$out"
      --timeout 300 --show client --append "quiet")
[ -n "$module" ] && args+=(--module "$module")
[ -n "$tools" ] && args+=(--tools "$tools")

echo "demo: booting $nodes nodes + client under QEMU; showing the client's console" >&2
rc=0
"$REPO/qemu/cluster.sh" "${args[@]}" || rc=$?
echo >&2
echo "demo: finished (cluster exit $rc); consoles and results in $out" >&2
cat "$out"/*/results.txt 2>/dev/null | grep '^FAIL' >&2 || true
exit "$rc"
