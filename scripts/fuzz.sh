#!/usr/bin/env bash
# Runs every cargo-fuzz target of userspace-tools/fuzz for a bounded time (a
# stage of `make test`).
#
#  1. installs what is missing: the pinned nightly ($FUZZ_TOOLCHAIN in
#     scripts/versions.env, through rustup) and cargo-fuzz
#     ($CARGO_FUZZ_VERSION, `cargo install --locked`)
#  2. builds every target once (build/fuzz/target)
#  3. runs each for FUZZ_SECONDS (default 8) from its checked-in seeds
#     (userspace-tools/fuzz/seeds/<target>/, only read) and the run corpus
#     build/fuzz/corpus/<target>/ (kept between runs; FUZZ_FRESH=1 empties
#     it first), with libFuzzer's -max_total_time
#  4. prints a table "target, executions, corpus size, result" (executions:
#     libFuzzer's stat::number_of_executed_units) and one
#     `N passed, N failed` line: a target that ran clean passed, one that
#     crashed (a failed property, a panic, a timeout of a single input)
#     failed, with its input in build/fuzz/artifacts/<target>/ and its log
#     in build/fuzz/<target>.log. Exits non-zero on any failure.
#
# FUZZ_TARGETS="xlate abi" runs a subset. FUZZ_SANITIZER (default none: the
# fuzzed crate has no unsafe code, and without ASan a target runs about
# three times as many inputs) is passed to `cargo fuzz -s`. The build uses
# one job (FUZZ_JOBS) to leave the machine's other core alone.
set -uo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=versions.env
. "$repo/scripts/versions.env"
secs=${FUZZ_SECONDS:-8}
sanitizer=${FUZZ_SANITIZER:-none}
out=$repo/build/fuzz
fuzz_dir=$repo/userspace-tools/fuzz
tc=$FUZZ_TOOLCHAIN

log() { printf 'fuzz.sh: %s\n' "$*"; }
fail() {
	printf 'fuzz.sh: error: %s\n' "$*" >&2
	printf '0 passed, 1 failed\n'
	exit 1
}

command -v rustup >/dev/null || fail "rustup not found"
if ! rustup run "$tc" rustc -V >/dev/null 2>&1; then
	log "rustup toolchain install $tc"
	rustup toolchain install "$tc" --profile minimal || fail "cannot install $tc"
fi
if ! cargo fuzz --version 2>/dev/null | grep -qx "cargo-fuzz $CARGO_FUZZ_VERSION"; then
	log "cargo install --locked cargo-fuzz --version $CARGO_FUZZ_VERSION"
	cargo install --locked --force cargo-fuzz --version "$CARGO_FUZZ_VERSION" -j "${FUZZ_JOBS:-1}" ||
		fail "cannot install cargo-fuzz $CARGO_FUZZ_VERSION"
fi

cd "$fuzz_dir" || fail "no $fuzz_dir"
targets=${FUZZ_TARGETS:-$(cargo "+$tc" fuzz list)}
[ -n "$targets" ] || fail "no fuzz targets"
mkdir -p "$out"
t0=$SECONDS
log "building the fuzz targets with $(rustup run "$tc" rustc -V)"
CARGO_BUILD_JOBS=${FUZZ_JOBS:-1} cargo "+$tc" fuzz build -s "$sanitizer" --target-dir "$out/target" ||
	fail "building the fuzz targets failed"
# The seed generator (examples/seeds.rs) builds the same messages the
# targets parse: it must keep compiling when they change.
CARGO_BUILD_JOBS=${FUZZ_JOBS:-1} cargo "+$tc" check --example seeds --target-dir "$out/target" ||
	fail "the seed generator (examples/seeds.rs) does not compile"
log "built in $((SECONDS - t0)) s; running each target for ${secs} s"

passed=0 failed=0 rows=()
for t in $targets; do
	corpus=$out/corpus/$t artifacts=$out/artifacts/$t tlog=$out/$t.log
	[ "${FUZZ_FRESH:-0}" = 1 ] && rm -rf "$corpus"
	mkdir -p "$corpus" "$artifacts"
	seeds=()
	[ -d "seeds/$t" ] && seeds=("seeds/$t")
	# The first directory takes what libFuzzer finds; the seeds are only read.
	cargo "+$tc" fuzz run -s "$sanitizer" --target-dir "$out/target" "$t" "$corpus" "${seeds[@]}" -- \
		-max_total_time="$secs" -timeout=10 -print_final_stats=1 \
		-artifact_prefix="$artifacts/" >"$tlog" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$tlog" | tail -n1)
	size=$(find "$corpus" -type f | wc -l)
	if [ "$rc" -eq 0 ]; then
		result=ok
		passed=$((passed + 1))
	else
		art=$(grep -oE "Test unit written to [^ ]+" "$tlog" | tail -n1 | sed 's/.* //')
		result="FAIL (exit $rc${art:+, input $art})"
		failed=$((failed + 1))
		log "$t failed; the end of $tlog:"
		tail -n 30 "$tlog" | sed 's/^/    /'
	fi
	rows+=("$(printf '%-14s %12s %8s  %s' "$t" "${execs:-?}" "$size" "$result")")
done

printf '\n%-14s %12s %8s  %s\n' target executions corpus result
printf '%s\n' "${rows[@]}"
log "done in $((SECONDS - t0)) s"
printf '%d passed, %d failed\n' "$passed" "$failed"
[ "$failed" -eq 0 ]
