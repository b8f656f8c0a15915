#!/usr/bin/env bash
# Builds the patched cluster-node kernel for one flavor, cached outside the repo.
#
#   scripts/kernel.sh key   FLAVOR   print the cache key
#   scripts/kernel.sh dir   FLAVOR   print the cache directory (the kernel tree
#                                    to build modules against is DIR/linux)
#   scripts/kernel.sh build FLAVOR   build unless cached; print the directory
#
# FLAVOR is `default` (scripts/kconfig/base.config) or `debug` (base.config
# plus debug.config: KASAN, PROVE_LOCKING, DEBUG_ATOMIC_SLEEP, ...).
#
# The key hashes everything that changes the result: the Debian kernel
# package version, every patch in scripts/patches/, the config fragments, the
# flavor, the rustc, bindgen and clang versions, and RECIPE (bump it when the
# steps below change). The cache root is $DTS_CACHE_DIR, by default
# ~/.cache/dts-handover. A finished build holds DIR/.done; an interrupted one
# never does and is rebuilt from scratch.
set -euo pipefail

RECIPE=1

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=versions.env
. "$here/versions.env"
export PATH="$HOME/.cargo/bin:$PATH"
export RUSTUP_TOOLCHAIN="$RUST_TOOLCHAIN"

die() { printf 'kernel.sh: error: %s\n' "$*" >&2; exit 1; }
log() { printf 'kernel.sh: %s\n' "$*" >&2; }

cmd=${1:-}
flavor=${2:-default}
case "$flavor" in
default) fragments=("$here/kconfig/base.config") ;;
debug) fragments=("$here/kconfig/base.config" "$here/kconfig/debug.config") ;;
*) die "unknown FLAVOR '$flavor' (default or debug)" ;;
esac
cache_root=${DTS_CACHE_DIR:-$HOME/.cache/dts-handover}

key() {
	{
		echo "recipe $RECIPE"
		echo "flavor $flavor"
		echo "kernel $KERNEL_PKG $KERNEL_PKG_VERSION"
		for p in "$here"/patches/*.patch; do
			echo "patch $(basename "$p") $(sha256sum <"$p" | cut -d' ' -f1)"
		done
		for f in "${fragments[@]}"; do
			echo "config $(basename "$f") $(sha256sum <"$f" | cut -d' ' -f1)"
		done
		echo "rustc $(rustc --version 2>/dev/null || echo none)"
		echo "bindgen $(bindgen --version 2>/dev/null || echo none)"
		echo "clang $(clang --version 2>/dev/null | head -n1 || echo none)"
	}
}

key_hash() { key | sha256sum | cut -c1-16; }
dir() { echo "$cache_root/kernel/$flavor-$(key_hash)"; }

# Checks that every line of every fragment holds in the final .config.
check_config() {
	local cfg=$1 bad=0 line name want have
	for f in "${fragments[@]}"; do
		while IFS= read -r line; do
			case "$line" in '' | \#*) continue ;; esac
			name=${line%%=*}
			want=${line#*=}
			if grep -q "^$name=" "$cfg"; then
				have=$(grep "^$name=" "$cfg" | cut -d= -f2-)
			else
				have=n
			fi
			if [ "$have" != "$want" ]; then
				log "config: $name wanted $want, got $have (from $(basename "$f"))"
				bad=1
			fi
		done <"$f"
	done
	return $bad
}

build() {
	local d tmp src jobs
	d=$(dir)
	if [ -f "$d/.done" ]; then
		log "cached: $d"
		echo "$d"
		return 0
	fi
	[ -r "$KERNEL_TARBALL" ] || die "$KERNEL_TARBALL missing: run scripts/install-deps.sh"
	have=$(dpkg-query -W -f='${Version}' "$KERNEL_PKG" 2>/dev/null || true)
	[ "$have" = "$KERNEL_PKG_VERSION" ] ||
		die "$KERNEL_PKG is '$have', pinned $KERNEL_PKG_VERSION: run scripts/install-deps.sh"
	bindgen --version | grep -qx "bindgen $BINDGEN_VERSION" ||
		die "bindgen $BINDGEN_VERSION not found: run scripts/install-deps.sh"

	mkdir -p "$cache_root/kernel"
	tmp="$d.tmp.$$"
	rm -rf "$tmp"
	mkdir -p "$tmp"
	trap 'rm -rf "$tmp"' EXIT
	key >"$tmp/key.txt"
	log "building $flavor kernel in $d (key $(key_hash))"
	log "unpacking $KERNEL_TARBALL"
	tar -C "$tmp" -xf "$KERNEL_TARBALL"
	src="$tmp/linux"
	mv "$tmp"/linux-source-* "$src"
	local want_ver=${KERNEL_PKG_VERSION%%-*}
	local got_ver
	got_ver=$(make -s -C "$src" kernelversion)
	[ "$got_ver" = "$want_ver" ] || die "tarball is $got_ver, expected $want_ver"

	for p in "$here"/patches/*.patch; do
		log "applying $(basename "$p")"
		patch -d "$src" -p1 --forward --batch --quiet <"$p" || die "patch $(basename "$p") does not apply"
	done

	jobs=$(nproc)
	(
		cd "$src"
		make LLVM=1 rustavailable >/dev/null || die "the Rust toolchain is not usable for this kernel"
		make LLVM=1 tinyconfig >/dev/null
		scripts/kconfig/merge_config.sh -m .config "${fragments[@]}" >/dev/null
		make LLVM=1 olddefconfig >/dev/null
	)
	check_config "$src/.config" || die "config fragment not honoured (see above)"
	log "make LLVM=1 -j$jobs bzImage modules (log: $d/build.log)"
	local start=$SECONDS
	if ! make -C "$src" LLVM=1 -j"$jobs" bzImage modules >"$tmp/build.log" 2>&1; then
		tail -n 40 "$tmp/build.log" >&2
		die "kernel build failed"
	fi
	if grep -n 'warning:' "$tmp/build.log" | grep -E '\.rs|rust' >&2; then
		log "note: Rust warnings in the kernel build (listed above)"
	fi
	cp "$src/arch/x86/boot/bzImage" "$tmp/bzImage"
	echo "$((SECONDS - start))" >"$tmp/build-seconds"
	rm -rf "$d"
	mv "$tmp" "$d"
	trap - EXIT
	touch "$d/.done"
	log "built in $((SECONDS - start)) s: $d"
	echo "$d"
}

case "$cmd" in
key) key ;;
dir) dir ;;
build)
	mkdir -p "$cache_root/kernel"
	# One builder per key at a time; a second caller waits, then finds it cached.
	exec 9>"$cache_root/kernel/.lock-$flavor"
	flock 9
	build
	;;
*) die "usage: $0 key|dir|build [default|debug]" ;;
esac
