#!/usr/bin/env bash
# Installs everything the build, the tests and the demo need, on a fresh
# Debian 12 machine, and only what is missing:
#   - Debian packages (apt-get, as root),
#   - the pinned rustc toolchain and its rust-src (rustup),
#   - bindgen-cli (cargo install --locked).
# Versions come from scripts/versions.env. Safe to run again: it is quick when
# everything is present.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=versions.env
. "$here/versions.env"

log() { printf 'install-deps: %s\n' "$*" >&2; }
die() { printf 'install-deps: error: %s\n' "$*" >&2; exit 1; }

# Package -> why (see README.md, "Dependencies").
APT_PACKAGES=(
	# kernel build (LLVM=1 is the supported way to build Rust kernels)
	clang lld llvm libclang-dev flex bison bc libelf-dev libssl-dev cpio kmod
	make patch xz-utils python3 rsync
	# the C example (examples/c/, built by make tools with cc) and the C
	# API's host tests (tests/host/c-header.sh, c-api.sh: C and C++)
	gcc g++
	# the pinned kernel source
	"${KERNEL_PKG}=${KERNEL_PKG_VERSION}"
	# the VM rig and what runs inside the VMs (from the host root over 9p)
	qemu-system-x86 qemu-utils busybox-static iproute2 util-linux
	nginx curl wrk apache2-utils tcpdump
	# the VM tests' JSON helpers (tests/vm/lib.sh; much faster to start than
	# python under TCG)
	jq
	# t17-top: dtsctl top runs under tmux, its screen read with capture-pane
	tmux
	# the benchmark harness (make bench): the relays and the layer-4 balancer
	# it compares against, unrelated traffic, the file-set disk image, plots
	haproxy ipvsadm iperf3 e2fsprogs gnuplot-nox
	# make deb: the kernel's bindeb-pkg (dpkg-buildpackage, and debian/rules
	# runs dh_* helpers); dpkg-deb and readelf/objdump (binutils, a
	# dependency of dpkg-dev) for dts-module and dts-tools
	dpkg-dev debhelper
	# t10-packages' Debian 12 nodes: a bookworm root (scripts/debian-root.sh)
	debootstrap
)

pkg_ok() {
	# "$1" may be name=version.
	local name=${1%%=*} want=${1#*=} have
	have=$(dpkg-query -W -f='${Status} ${Version}' "$name" 2>/dev/null) || return 1
	case "$have" in
	"install ok installed "*) ;;
	*) return 1 ;;
	esac
	[ "$name" = "$1" ] || [ "${have##* }" = "$want" ]
}

missing=()
for p in "${APT_PACKAGES[@]}"; do
	case "$p" in \#*) continue ;; esac
	pkg_ok "$p" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	[ "$(id -u)" = 0 ] || die "need root to install: ${missing[*]}"
	log "apt-get install ${missing[*]}"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
	for p in "${missing[@]}"; do
		pkg_ok "$p" || die "package $p did not install"
	done
fi
# nginx's and haproxy's Debian packages start a system instance; the rig runs
# its own.
for svc in nginx haproxy; do
	if systemctl is-active --quiet "$svc" 2>/dev/null; then
		systemctl stop "$svc" || true
	fi
done

# rustup toolchain + rust-src.
export PATH="$HOME/.cargo/bin:$PATH"
command -v rustup >/dev/null || die "rustup not found: install it from the distribution or rustup.rs first"
if ! rustup toolchain list | grep -q "^${RUST_TOOLCHAIN}-"; then
	log "rustup toolchain install ${RUST_TOOLCHAIN}"
	RUSTUP_AUTO_INSTALL=1 rustup toolchain install "${RUST_TOOLCHAIN}" --profile minimal
fi
if ! rustup component list --installed --toolchain "${RUST_TOOLCHAIN}" | grep -q '^rust-src'; then
	log "rustup component add rust-src --toolchain ${RUST_TOOLCHAIN}"
	rustup component add rust-src --toolchain "${RUST_TOOLCHAIN}"
fi
for c in clippy rustfmt; do
	if ! rustup component list --installed --toolchain "${RUST_TOOLCHAIN}" | grep -q "^$c"; then
		log "rustup component add $c --toolchain ${RUST_TOOLCHAIN}"
		rustup component add "$c" --toolchain "${RUST_TOOLCHAIN}"
	fi
done

# bindgen-cli (Debian's bindgen 0.60 is too old for 6.12).
if ! bindgen --version 2>/dev/null | grep -qx "bindgen ${BINDGEN_VERSION}"; then
	log "cargo install --locked bindgen-cli --version ${BINDGEN_VERSION}"
	cargo "+${RUST_TOOLCHAIN}" install --locked --force bindgen-cli --version "${BINDGEN_VERSION}"
fi
bindgen --version | grep -qx "bindgen ${BINDGEN_VERSION}" || die "bindgen ${BINDGEN_VERSION} not on PATH"

log "all dependencies present"
