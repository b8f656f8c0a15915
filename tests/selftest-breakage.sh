#!/usr/bin/env bash
# Harness self-test: proves that the VM tests catch a broken module.
#
# Builds dts.ko with DTS_FAULT=leak_hook (rust/nf.rs then leaves one netfilter
# hook registered on rmmod, so the next packet through that hook point runs
# freed module code) and runs t01-basic with it. The self-test passes only if
# that VM test FAILS. Prints `N passed, N failed` like every other stage.
set -uo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
fault=leak_hook
flavor=default

if ! make --no-print-directory module FLAVOR=$flavor DTS_FAULT=$fault; then
	echo "FAIL selftest-$fault: could not build the fault-injected module"
	echo "0 passed, 1 failed"
	exit 1
fi
kdir=$(scripts/kernel.sh dir $flavor)
out=$repo/build/vm-tests/selftest-$fault-$(date +%Y%m%d-%H%M%S)
log=$(mktemp)
tests/vm/run.sh --kernel "$kdir/bzImage" \
	--module "$repo/build/$flavor/module-fault-$fault/rust/dts.ko" \
	--tools "$repo/userspace-tools/target/release" \
	--flavor "selftest-$fault" --out "$out" --timeout 300 t01-basic >"$log" 2>&1
rc=$?
sed 's/^/    | /' "$log"
if [ $rc -ne 0 ] && grep -q '^FAIL t01-basic' "$log"; then
	echo "PASS selftest-$fault: the broken module was caught"
	echo "1 passed, 0 failed"
	rm -f "$log"
	exit 0
fi
echo "FAIL selftest-$fault: the VM test did not notice a hook left registered after rmmod"
echo "0 passed, 1 failed"
rm -f "$log"
exit 1
