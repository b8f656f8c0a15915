#!/usr/bin/env bash
# Builds the patched cluster-node kernel for one flavor, cached outside the repo.
#
#   scripts/kernel.sh key   FLAVOR   print the cache key
#   scripts/kernel.sh dir   FLAVOR   print the cache directory (the kernel tree
#                                    to build modules against is DIR/linux)
#   scripts/kernel.sh build FLAVOR   build unless cached; print the directory
#   scripts/kernel.sh deb   FLAVOR   build unless cached, then package it once
#                                    (`make bindeb-pkg`) into DIR/deb/; print
#                                    the linux-image .deb's path
#   scripts/kernel.sh srcversion FLAVOR SRC   `make kernelversion` of tree SRC
#   scripts/kernel.sh checkversion FLAVOR SRC fail unless SRC is the pinned
#                                    version (both for tests/host/kernel-script.sh)
#
# FLAVOR is `default` (scripts/kconfig/base.config plus node.config: what a
# stock Debian 12 node needs) or `debug` (base.config
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

# Any make whose output is captured runs through this. Under a recursive
# `$(MAKE)` the environment carries MAKEFLAGS (with `w`, --print-directory)
# and MAKELEVEL, and make would then print "Entering directory" lines into
# the captured value (`make demo` on a cold cache once failed that way).
sub_make() { env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u MAKEOVERRIDES make -s --no-print-directory "$@"; }
log() { printf 'kernel.sh: %s\n' "$*" >&2; }

cmd=${1:-}
flavor=${2:-default}
case "$flavor" in
default) fragments=("$here/kconfig/base.config" "$here/kconfig/node.config") ;;
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

# The kernel version of source tree $1, exactly as `make kernelversion` prints it.
src_version() { sub_make -C "$1" kernelversion; }

# Dies unless source tree $1 is the pinned version.
check_version() {
	local want=${KERNEL_PKG_VERSION%%-*} got
	got=$(src_version "$1") || die "make kernelversion failed in $1"
	[ "$got" = "$want" ] || die "tarball is $got, expected $want"
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
		# A tree cached before build() relocated its trees (idempotent).
		relocate "$d"
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
	check_version "$src"

	for p in "$here"/patches/*.patch; do
		log "applying $(basename "$p")"
		patch -d "$src" -p1 --forward --batch --quiet <"$p" || die "patch $(basename "$p") does not apply"
	done

	jobs=$(nproc)
	(
		cd "$src"
		sub_make LLVM=1 rustavailable >/dev/null || die "the Rust toolchain is not usable for this kernel"
		sub_make LLVM=1 tinyconfig >/dev/null
		env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u MAKEOVERRIDES \
			scripts/kconfig/merge_config.sh -m .config "${fragments[@]}" >/dev/null
		sub_make LLVM=1 olddefconfig >/dev/null
	)
	check_config "$src/.config" || die "config fragment not honoured (see above)"
	log "make LLVM=1 -j$jobs bzImage modules (log: $d/build.log)"
	local start=$SECONDS
	if ! sub_make -C "$src" LLVM=1 -j"$jobs" bzImage modules >"$tmp/build.log" 2>&1; then
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
	relocate "$d"
	touch "$d/.done"
	log "built in $((SECONDS - start)) s: $d"
	echo "$d"
}

# The Debian package version of the kernel image: the Debian source's
# version, then "+dts." and the cache key, so that the same inputs always
# give the same version and any change of patch, config or toolchain a new
# one (the package is linux-image-<release>, the release 6.12.117-dts from
# CONFIG_LOCALVERSION in base.config).
deb_version() { echo "${KERNEL_PKG_VERSION}+dts.$(key_hash)"; }

# relocate DIR: build() builds in DIR.tmp.PID (so that a failed or
# interrupted build never looks done) and renames it DIR at the end; then it
# calls this.
# A few commands kbuild records in .cmd files hold the absolute build path
# (OBJTREE=... of every rustc run, tools/objtool's whole build), and make
# compares the recorded command with the new one: after the rename it would
# rebuild the Rust crates, objtool, and through objtool every object, i.e.
# the whole kernel. Rewriting the old path to DIR in the files make reads
# (.cmd, and the .d dependency files of tools/) makes the tree consistent
# again, before anything (the module build, bindeb-pkg) runs make in it.
# Idempotent: a tree without the old path is left alone.
relocate() {
	local d=$1 old files
	old=$(grep -rhoE --include='*.cmd' "$(printf '%s' "$d" | sed 's/[.[\*^$]/\\&/g')\.tmp\.[0-9]+" \
		"$d/linux/rust" "$d/linux/tools" 2>/dev/null | head -n 1 || true)
	[ -n "$old" ] || return 0
	log "relocating the tree: $old -> $d"
	files=$(grep -rlF --include='*.cmd' --include='*.d' -e "$old" "$d/linux" || true)
	[ -z "$files" ] || printf '%s\n' "$files" | xargs -d '\n' sed -i "s|$old|$d|g"
}

# Packages the built tree once: make bindeb-pkg (the kernel's own Debian
# packaging; needs dpkg-dev and debhelper) writes linux-image-<release>,
# linux-libc-dev and their .buildinfo/.changes next to the tree; they are
# kept in DIR/deb/, which holds .done once complete (a later call only
# prints the path). The headers package is not built (build profile
# pkg.linux-dts.nokernelheaders): dts.ko is built against the cached tree.
deb() {
	local d debdir tmp jobs start ver
	d=$(build)
	debdir=$d/deb
	if [ -f "$debdir/.done" ]; then
		log "cached: $debdir"
		ls "$debdir"/linux-image-*.deb
		return 0
	fi
	command -v dpkg-buildpackage >/dev/null || die "dpkg-buildpackage missing: run scripts/install-deps.sh (dpkg-dev)"
	command -v dh_prep >/dev/null || die "debhelper missing: run scripts/install-deps.sh"
	rm -rf "$debdir" "$d"/*.deb "$d"/*.buildinfo "$d"/*.changes
	tmp=$debdir.tmp
	rm -rf "$tmp"
	mkdir -p "$tmp"
	jobs=$(nproc)
	ver=$(deb_version)
	log "make LLVM=1 -j$jobs bindeb-pkg, version $ver (log: $d/deb.log)"
	start=$SECONDS
	# KBUILD_BUILD_USER/HOST (in /proc/version) and the changelog's
	# maintainer: fixed, not whoever packaged where. gzip, not xz: the VM
	# test t10-packages unpacks the package under TCG, where xz is slow.
	if ! KDEB_PKGVERSION="$ver" KDEB_SOURCENAME=linux-dts KDEB_CHANGELOG_DIST=bookworm \
		KDEB_COMPRESS=gzip \
		DEBEMAIL="dts-handover@localhost" DEBFULLNAME="DTS rig" \
		KBUILD_BUILD_USER=dts KBUILD_BUILD_HOST=dts-rig \
		sub_make -C "$d/linux" LLVM=1 -j"$jobs" \
		DPKG_FLAGS="-Ppkg.linux-dts.nokernelheaders" bindeb-pkg >"$d/deb.log" 2>&1; then
		tail -n 40 "$d/deb.log" >&2
		die "make bindeb-pkg failed (log: $d/deb.log)"
	fi
	mv "$d"/*.deb "$d"/*.buildinfo "$d"/*.changes "$tmp"/
	echo "$((SECONDS - start))" >"$tmp/deb-seconds"
	mv "$tmp" "$debdir"
	touch "$debdir/.done"
	log "packaged in $((SECONDS - start)) s: $debdir"
	ls "$debdir"/linux-image-*.deb
}

case "$cmd" in
key) key ;;
# For tests/host/kernel-script.sh: the version check on any source tree.
srcversion) src_version "${3:?usage: $0 srcversion FLAVOR SRCDIR}" ;;
checkversion) check_version "${3:?usage: $0 checkversion FLAVOR SRCDIR}" && echo ok ;;
dir) dir ;;
build)
	mkdir -p "$cache_root/kernel"
	# One builder per key at a time; a second caller waits, then finds it cached.
	exec 9>"$cache_root/kernel/.lock-$flavor"
	flock 9
	build
	;;
deb)
	mkdir -p "$cache_root/kernel"
	# The same lock as build: packaging writes into the tree.
	exec 9>"$cache_root/kernel/.lock-$flavor"
	flock 9
	deb
	;;
*) die "usage: $0 key|dir|build|deb [default|debug]" ;;
esac
