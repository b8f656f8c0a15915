#!/usr/bin/env bash
# Where a VM test run's time went: for each test of a run.sh output directory
# (build/vm-tests/<flavor>-<stamp>/), its cluster time, each VM's boot time
# (uptime when init started the test script) and script time, and the slowest
# checks and barrier waits (from the times.txt that tests/vm/lib.sh's
# `check` and `barrier` write: "START SECONDS WHAT", in the VM's uptime).
#
#   tests/vm/profile.sh DIR [TOP]      (TOP: how many checks per test, 8)
set -euo pipefail

dir=${1:?usage: $0 RUN_DIR [TOP]}
top=${2:-8}
[ -d "$dir" ] || { echo "profile.sh: no such directory: $dir" >&2; exit 2; }

for t in "$dir"/t*/; do
	[ -d "$t" ] || continue
	name=$(basename "$t")
	total=$( (sed -n 's/.*powered off after \([0-9.]*\)s.*/\1/p' "$t/cluster.log" 2>/dev/null || true) | sort -n | tail -n1)
	echo "== $name (cluster ${total:-?} s)"
	for vm in "$t"/node* "$t"/client; do
		[ -d "$vm" ] || continue
		c=$vm/console.log
		s=$( (sed -n 's/.*init starting at \([0-9.]*\)s uptime.*/\1/p' "$c" 2>/dev/null || true) | head -n1)
		e=$( (sed -n 's/.*init finished at \([0-9.]*\)s uptime.*/\1/p' "$c" 2>/dev/null || true) | tail -n1)
		printf '   %-7s boot %6ss  script %6ss\n' "$(basename "$vm")" "${s:-?}" \
			"$(awk -v s="${s:-0}" -v e="${e:-0}" 'BEGIN { printf "%.1f", e - s }')"
	done
	for f in "$t"/*/times.txt; do
		[ -f "$f" ] || continue
		awk -v vm="$(basename "$(dirname "$f")")" '!/ barrier .* \(waiting\)$/ { print vm, $0 }' "$f"
	done | sort -k3,3 -g -r | head -n "$top" |
		awk '{ vm = $1; d = $3; $1 = $2 = $3 = ""; sub(/^ +/, ""); printf "   %7.1fs  %-7s %s\n", d, vm, substr($0, 1, 84) }'
done
