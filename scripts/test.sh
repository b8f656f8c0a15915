#!/usr/bin/env bash
# `make test`: everything from a fresh machine to a verdict.
#
#  1. install what is missing (scripts/install-deps.sh)
#  2. host tests: cargo test over userspace-tools (pure logic, ABI, dtsctl,
#     dts-proxy), and tests/host/*.sh: the C header of the ABI and the C
#     example that uses it (c-header, c-api), the VM tests'
#     capture checker (pcap_check.py), forged-SYN builder (forge_syn.py) and
#     hostile-traffic builder (hostile.py);
#     then every cargo-fuzz target for a bounded time (scripts/fuzz.sh)
#  3. for each flavor in $TEST_FLAVORS (default: "default debug"): build the
#     patched kernel (cached), dts.ko against it, and run the VM tests
#     (and, on the default kernel: tests/host/kernel-script.sh, clippy over
#     the module and the tools, rustfmt --check, and `make deb`, whose
#     packages t10-packages installs)
#  4. harness self-test: a deliberately broken dts.ko (one netfilter hook left
#     registered after rmmod) must make the VM test fail
#
# Prints a line per stage, then a table of every stage and every VM test with
# its wall time (also in build/test-times.txt), and ends with one
# `N passed, N failed` line that adds up every test run. Exits non-zero if
# anything failed.
set -uo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
flavors=${TEST_FLAVORS:-default debug}
selftest=${TEST_SELFTEST:-1}
passed=0
failed=0
t0=$SECONDS

# The time table: one "SECONDS<TAB>WHAT" line per finished stage or VM test.
times=()
cur_stage= cur_t0=
end_stage() {
	[ -n "$cur_stage" ] && times+=("$((SECONDS - cur_t0))	$cur_stage")
	cur_stage=
}
stage() {
	end_stage
	cur_stage=$* cur_t0=$SECONDS
	printf '\n=== %s (t=%ds)\n' "$*" "$((SECONDS - t0))"
}
fmt_time() { printf '%d:%02d' "$(($1 / 60))" "$(($1 % 60))"; }
print_times() {
	end_stage
	local row secs what
	{
		echo "make test: wall time per stage and per VM test (cluster time)"
		for row in "${times[@]}"; do
			secs=${row%%	*} what=${row#*	}
			printf '  %-58s %7s\n' "$what" "$(fmt_time "$secs")"
		done
		printf '  %-58s %7s\n' "total" "$(fmt_time $((SECONDS - t0)))"
	} | tee build/test-times.txt
}
# vm_times LOG: a row per VM test from run.sh's "cluster finished" lines.
vm_times() {
	local name secs verdict
	while read -r name secs; do
		verdict=$(grep -E "^(PASS|FAIL) $(printf '%s' "$name" | sed 's/[][]/\\&/g')" "$1" | head -n1 | cut -d' ' -f1)
		times+=("$secs	  $name ${verdict:-?}")
	done < <(sed -n 's/^run\.sh: \(.*\): cluster finished in \([0-9]*\)s$/\1 \2/p' "$1")
}
die() {
	printf 'test.sh: error: %s\n' "$*" >&2
	mkdir -p build && print_times
	printf '%d passed, %d failed\n' "$passed" "$((failed + 1))"
	exit 1
}
# Adds the counts of a `N passed, N failed` line (last one in file $1).
add_counts() {
	local line p f
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$1" | tail -n1)
	if [ -z "$line" ]; then
		failed=$((failed + 1))
		return
	fi
	p=${line%% passed*}
	f=${line#*passed, }
	f=${f%% failed*}
	passed=$((passed + p))
	failed=$((failed + f))
}

stage "dependencies"
scripts/install-deps.sh || die "installing dependencies failed"

stage "host tests (cargo test)"
mkdir -p build
log=build/host-test.log
(cd userspace-tools && cargo test --locked 2>&1) | tee "$log"
rc=${PIPESTATUS[0]}
hp=$(grep -E '^test result:' "$log" | sed -E 's/.* ([0-9]+) passed.*/\1/' | awk '{s+=$1} END {print s+0}')
hf=$(grep -E '^test result:' "$log" | sed -E 's/.* ([0-9]+) failed.*/\1/' | awk '{s+=$1} END {print s+0}')
passed=$((passed + ${hp:-0}))
failed=$((failed + ${hf:-0}))
if [ "$rc" -ne 0 ] && [ "${hf:-0}" -eq 0 ]; then
	failed=$((failed + 1))
	echo "FAIL host tests: cargo test exited $rc"
fi
echo "host tests: ${hp:-0} passed, ${hf:-0} failed"

for ht in c-header c-api pcap_check_test forge_syn_test hostile_test stale_sources_test patches_test; do
	stage "host tests ($ht)"
	if tests/host/$ht.sh; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
	fi
done

# Every cargo-fuzz target for FUZZ_SECONDS (8 s) each, from its seeds:
# one test per target (scripts/fuzz.sh).
stage "fuzz (cargo-fuzz, ${FUZZ_SECONDS:-8} s per target)"
scripts/fuzz.sh 2>&1 | tee build/fuzz.log
add_counts build/fuzz.log

stage "userspace tools"
make --no-print-directory tools || die "building the tools failed"

for fl in $flavors; do
	stage "kernel ($fl)"
	make --no-print-directory kernel FLAVOR="$fl" || die "kernel build ($fl) failed"
	if [ "$fl" = default ]; then
		# After the build, so that it also checks the real cached tree.
		stage "host tests (kernel-script)"
		if tests/host/kernel-script.sh; then
			passed=$((passed + 1))
		else
			failed=$((failed + 1))
		fi
	fi
	stage "module ($fl)"
	make --no-print-directory module FLAVOR="$fl" || die "module build ($fl) failed"
	if [ "$fl" = default ]; then
		stage "lint: clippy (module and tools), rustfmt"
		if make --no-print-directory clippy FLAVOR=default &&
			rustfmt --check rust/dts.rs &&
			(cd userspace-tools && cargo fmt --all --check); then
			echo "PASS lint"
			passed=$((passed + 1))
		else
			echo "FAIL lint"
			failed=$((failed + 1))
		fi
	fi
	if [ "$fl" = default ]; then
		# t10-packages installs them (make vm-test would build them too).
		stage "packages (make deb)"
		make --no-print-directory deb || die "make deb failed"
	fi
	stage "VM tests ($fl)"
	vlog=build/vm-test-$fl.log
	# The debug kernel under TCG is several times slower (a debug node
	# reaches init in about 30 s): it runs t06-keepalive with a lighter
	# load, which exercises SYN acceptance, redirection, the handover
	# itself, re-handover back and forth (with and without timestamps), the
	# drain and rmmod; and t09-sc with files of at most 1 MiB and no loss
	# phase, which exercises every Socket Cloning path (clone, fake
	# handshake, forwarding, settling, pipelining, node-down reset); and
	# t11-hostile with a shorter flood, which runs every bad-input path of
	# the hardening (namespaces, early drop, window checks, fragments,
	# the collector, oversized handovers) under KASAN and lockdep; and
	# t12-placement, which runs the LOAD reports on change, the load
	# census and owner re-forwarding (the HANDOVER flag, FLOW_REFORWARDED,
	# ELOOP); and t13-drain, which runs the drain (DRAIN frames, the
	# response tracker on the send path, the evictions' handovers and
	# socket aborts); and t18-unpriv, which runs the service grants'
	# credential checks (fsuid, groups, user namespaces); and t19-sc-edges
	# and t20-sc-pipeline, which run Socket Cloning's refusals, the FIN
	# timer and the concurrent clones (held clones, SC-LEN, SC-RELEASE).
	# The default kernel runs them all. TEST_DEBUG_VM_TESTS="t03 t06 t09 t11 t12 t13"
	# adds t03-handover (sockopt errors, concurrent handovers).
	# run.sh lets tests share a boot (up to 8 with the same node count:
	# Documentation/rig.md, "Sharing a boot"); RIG_SHARE=1 boots each alone.
	if [ "$fl" = debug ]; then vmt=${TEST_DEBUG_VM_TESTS:-t06 t09 t11 t12 t13 t18 t19 t20}; else vmt=${TEST_VM_TESTS:-}; fi
	make --no-print-directory vm-test FLAVOR="$fl" VM_TESTS="$vmt" 2>&1 | tee "$vlog"
	add_counts "$vlog"
	end_stage
	vm_times "$vlog"
done

if [ "$selftest" = 1 ]; then
	stage "harness self-test: a module that leaks a hook must fail"
	tests/selftest-breakage.sh 2>&1 | tee build/selftest.log
	add_counts build/selftest.log
fi

end_stage
printf '\n=== done in %d s\n' "$((SECONDS - t0))"
print_times
printf '%d passed, %d failed\n' "$passed" "$failed"
[ "$failed" -eq 0 ]
