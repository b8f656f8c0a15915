#!/usr/bin/env bash
# Host test of scripts/kernel.sh under the environments it meets: run by
# hand, under MAKEFLAGS=w (what a sub-make inherits), and from inside a
# recursive `$(MAKE)`, as `make demo` -> `$(MAKE) module tools` -> kernel.sh
# does. A cold `make demo` once failed there: the captured `make
# kernelversion` held make's "Entering directory" lines.
#
# Checks, in each environment:
#   - `srcversion` of a stand-in source tree prints exactly its version, one
#     line, nothing else; `checkversion` accepts the pinned version and
#     rejects another one with the "tarball is X, expected Y" message;
#   - `key` is the same text and `dir` is one absolute path (the Makefile
#     reads it with $(shell));
#   - with the default kernel cached (make test runs this after building it),
#     `checkversion` on the real cached tree passes.
#
#   tests/host/kernel-script.sh
#
# Prints PASS/FAIL per check, then "N passed, N failed"; exit 0 iff all passed.
set -uo pipefail

. "$(dirname "$(readlink -f "$0")")/lib.sh"
ks=$repo/scripts/kernel.sh
# shellcheck source=../../scripts/versions.env
. "$repo/scripts/versions.env"
want=${KERNEL_PKG_VERSION%%-*}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# A stand-in kernel source tree: only `make kernelversion`, which (like the
# kernel's) prints the version and nothing else.
fake() { # DIR VERSION
	mkdir -p "$1"
	printf 'kernelversion:\n\t@echo %s\n' "$2" >"$1/Makefile"
}
fake "$tmp/good" "$want"
fake "$tmp/bad" 5.10.0

# checks ENV-LABEL RUNNER...: the checks above, each command run through
# RUNNER (a prefix such as `env MAKEFLAGS=w`).
checks() {
	local label=$1 out
	shift
	out=$("$@" "$ks" srcversion default "$tmp/good" 2>&1)
	if [ "$out" = "$want" ]; then
		ok "$label: srcversion prints '$want' alone"
	else
		ko "$label: srcversion printed '$(printf '%s' "$out" | tr '\n' '|')', want '$want'"
	fi
	if out=$("$@" "$ks" checkversion default "$tmp/good" 2>&1) && [ "$out" = ok ]; then
		ok "$label: checkversion accepts $want"
	else
		ko "$label: checkversion rejected the pinned version: $out"
	fi
	if out=$("$@" "$ks" checkversion default "$tmp/bad" 2>&1); then
		ko "$label: checkversion accepted 5.10.0"
	elif printf '%s' "$out" | grep -qx "kernel.sh: error: tarball is 5.10.0, expected $want"; then
		ok "$label: checkversion rejects 5.10.0 with a clear message"
	else
		ko "$label: checkversion's message for 5.10.0: '$out'"
	fi
	out=$("$@" "$ks" dir default 2>/dev/null)
	if [ "$(printf '%s\n' "$out" | wc -l)" = 1 ] && [[ $out == /*/kernel/default-* ]]; then
		ok "$label: dir is one absolute path"
	else
		ko "$label: dir printed '$out'"
	fi
	if [ "$("$@" "$ks" key default 2>/dev/null)" = "$("$ks" key default 2>/dev/null)" ]; then
		ok "$label: key is the same as by hand"
	else
		ko "$label: key differs from the one computed by hand"
	fi
}

checks "by hand" env -u MAKEFLAGS -u MAKELEVEL
checks "MAKEFLAGS=w" env MAKEFLAGS=w MAKELEVEL=1
checks "MAKEFLAGS=w -j2 --jobserver" env "MAKEFLAGS=w -j2 --jobserver-auth=fifo:/nonexistent" MAKELEVEL=2

# From inside a real recursive make: the outer make runs `$(MAKE) -C sub`,
# whose recipe runs kernel.sh and checks what it printed.
mkdir -p "$tmp/rec/sub"
cat >"$tmp/rec/Makefile" <<EOF
all:
	\$(MAKE) -C sub
EOF
cat >"$tmp/rec/sub/Makefile" <<EOF
all:
	@v=\$\$($ks srcversion default $tmp/good) && echo "srcversion=[\$\$v]"
	@$ks checkversion default $tmp/good
	@echo "dir=[\$(shell $ks dir default)]"
EOF
out=$(env -u MAKEFLAGS -u MAKELEVEL make -C "$tmp/rec" 2>&1)
rc=$?
if [ $rc = 0 ] && printf '%s\n' "$out" | grep -qx "srcversion=\[$want\]"; then
	ok "recursive make: srcversion prints '$want' alone"
else
	ko "recursive make (exit $rc): $(printf '%s' "$out" | tr '\n' '|')"
fi
if printf '%s\n' "$out" | grep -qx "dir=\[/.*/kernel/default-[0-9a-f]*\]"; then
	ok "recursive make: \$(shell kernel.sh dir) is one path"
else
	ko "recursive make: dir line: $(printf '%s\n' "$out" | grep '^dir=' || echo none)"
fi

# The real tree, when the default kernel is cached.
d=$("$ks" dir default 2>/dev/null)
if [ -f "$d/.done" ]; then
	if out=$(env MAKEFLAGS=w MAKELEVEL=1 "$ks" checkversion default "$d/linux" 2>&1) && [ "$out" = ok ]; then
		ok "MAKEFLAGS=w: checkversion on the cached tree ($want)"
	else
		ko "MAKEFLAGS=w: checkversion on the cached tree: $out"
	fi
else
	echo "note: default kernel not cached; the real-tree check runs after the kernel stage of make test"
fi

finish
