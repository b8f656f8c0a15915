#!/usr/bin/env bash
# Debian 12 (bookworm) machines for the rig: the VM test t10-packages boots
# its nodes from disks made here, so that the packages of `make deb` are
# installed and run the way Documentation/install.md tells an operator to,
# on a plain Debian 12 system with systemd as PID 1.
#
#   scripts/debian-root.sh base
#       debootstrap the base system once and cache it as a tarball in
#       $DTS_CACHE_DIR/debian/bookworm-<key>/ (default ~/.cache/dts-handover);
#       prints the tarball's path. <key> hashes the suite, the mirror, the
#       package list and RECIPE, so a change of any of them makes a new base.
#       About 1 min (63 s measured on the 2-core machine, beside a kernel
#       build) and 110 MB of downloads, once.
#
#   scripts/debian-root.sh image OUT CLUSTER_TOML DEB...
#       one node disk in the directory OUT (created; must not exist):
#         OUT/disk.img     raw ext4 file system, label dts-root: the base
#                          system with the DEBs installed by `apt install`
#                          (install.md steps 1-2: the kernel package's hooks
#                          make Debian's initramfs), the network, sysctl and
#                          VIP files of step 3, nginx (step 4), CLUSTER_TOML
#                          as /etc/dts/cluster.toml (step 5), dts-cluster and
#                          dts-proxy@8080 enabled (step 6), and the rig's two
#                          units (qemu/debian/): rig-node-setup writes what
#                          differs per node at boot, rig-test runs the test;
#         OUT/vmlinuz, OUT/initrd.img   the installed kernel and the
#                          initramfs Debian made for it (QEMU boots them
#                          directly: the rig has no boot loader to test).
#       qemu/cluster.sh --node-root OUT boots every node from a copy-on-write
#       overlay of OUT/disk.img on an AHCI (SATA) disk.
#
# Needs root (chroot, mount namespaces), debootstrap and e2fsprogs
# (scripts/install-deps.sh). The mounts that the package scripts need
# (/proc, /sys, /dev) are made in a private mount namespace (unshare), so
# they vanish with it and never leak into the host.
set -euo pipefail

here=$(cd "$(dirname "$(readlink -f "$0")")" && pwd)
REPO=$(cd "$here/.." && pwd)
cache_root=${DTS_CACHE_DIR:-$HOME/.cache/dts-handover}
SUITE=bookworm
MIRROR=${DTS_DEBIAN_MIRROR:-http://deb.debian.org/debian}
# What a Debian 12 server with nginx has, for a minbase system: systemd as
# init, udev, D-Bus (logind), kmod, initramfs-tools (zstd: its default
# compression), ifupdown (the installer's network configuration), iproute2,
# procps, nginx; jq for the test's JSON helpers (tests/vm/lib.sh).
PACKAGES=(systemd-sysv udev dbus kmod initramfs-tools zstd ifupdown iproute2 procps nginx jq)
# Bump when the way the base is made changes.
RECIPE=1
# The node disk's size (sparse: only what is written takes space).
DISK_SIZE=1536M

log() { printf 'debian-root.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 2; }
usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; }

key() {
	printf '%s\n' "$SUITE" "$MIRROR" "${PACKAGES[*]}" "$RECIPE" | sha256sum | cut -c1-16
}

base() {
	local d tmp start
	d=$cache_root/debian/$SUITE-$(key)
	if [ -f "$d/.done" ]; then
		echo "$d/root.tar"
		return 0
	fi
	command -v debootstrap >/dev/null || die "debootstrap missing: run scripts/install-deps.sh"
	mkdir -p "$cache_root/debian"
	tmp=$d.tmp.$$
	rm -rf "$tmp"
	mkdir -p "$tmp/root"
	trap 'rm -rf "$tmp"' EXIT
	log "debootstrap $SUITE (minbase + ${PACKAGES[*]}) from $MIRROR into $d (log: $d/debootstrap.log)"
	start=$SECONDS
	if ! debootstrap --variant=minbase --include="$(IFS=,; echo "${PACKAGES[*]}")" \
		"$SUITE" "$tmp/root" "$MIRROR" >"$tmp/debootstrap.log" 2>&1; then
		tail -n 30 "$tmp/debootstrap.log" >&2
		die "debootstrap failed"
	fi
	# No package lists or downloaded archives in the base: the image step
	# installs only local packages whose dependencies are already there.
	rm -rf "$tmp"/root/var/cache/apt/archives/*.deb "$tmp"/root/var/lib/apt/lists/*_*
	tar -C "$tmp/root" --numeric-owner -cf "$tmp/root.tar" .
	rm -rf "$tmp/root"
	echo "$((SECONDS - start))" >"$tmp/seconds"
	rm -rf "$d"
	mv "$tmp" "$d"
	trap - EXIT
	touch "$d/.done"
	log "base made in $((SECONDS - start)) s: $d/root.tar"
	echo "$d/root.tar"
}

# in_root ROOT CMD...: CMD chrooted into ROOT with /proc, /sys and /dev
# (private mount namespace: the mounts end with CMD).
in_root() {
	local r=$1; shift
	unshare --mount --propagation private -- sh -euc '
		r=$1; shift
		mount -t proc proc "$r/proc"
		mount -t sysfs sysfs "$r/sys"
		mount --rbind /dev "$r/dev"
		exec chroot "$r" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
			DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8 "$@"
	' in_root "$r" "$@"
}

image() {
	local out=${1:?usage: $0 image OUT CLUSTER_TOML DEB...} toml=${2:?usage: $0 image OUT CLUSTER_TOML DEB...}
	shift 2
	[ $# -gt 0 ] || die "image: no packages given"
	[ ! -e "$out" ] || die "image: $out exists"
	[ -f "$toml" ] || die "image: no such file: $toml"
	local f tar root start krel
	for f in "$@"; do [ -f "$f" ] || die "image: no such package: $f"; done
	command -v mkfs.ext4 >/dev/null || die "mkfs.ext4 missing: run scripts/install-deps.sh (e2fsprogs)"
	tar=$(base)
	start=$SECONDS
	mkdir -p "$out"
	root=$out/root
	mkdir "$root"
	tar -C "$root" --numeric-owner -xf "$tar"

	# Steps 1 and 2 of install.md: apt install the kernel, then the module
	# and the tools (one apt run; the kernel's postinst runs Debian's hooks:
	# initramfs-tools makes /boot/initrd.img-<release>).
	mkdir -p "$root/tmp/debs"
	cp "$@" "$root/tmp/debs/"
	if ! in_root "$root" sh -c 'apt-get install -y --no-install-recommends /tmp/debs/*.deb' \
		>"$out/apt.log" 2>&1; then
		tail -n 30 "$out/apt.log" >&2
		die "image: apt install of the packages failed (log: $out/apt.log)"
	fi
	rm -rf "$root/tmp/debs"
	krel=$(cd "$root/boot" && ls vmlinuz-* | sed 's/^vmlinuz-//' | head -n 1)
	[ -n "$krel" ] && [ -f "$root/boot/initrd.img-$krel" ] ||
		die "image: no kernel and initramfs in /boot after apt install (log: $out/apt.log)"

	# Step 3: ARP for the VIP, and the VIP on lo with its multicast MAC on
	# eth0 (ifupdown). The node's own address is per node: rig-node-setup
	# writes /etc/network/interfaces.d/eth0 at boot.
	cat >"$root/etc/sysctl.d/60-dts.conf" <<-'EOF'
	net.ipv4.conf.all.arp_ignore = 1
	net.ipv4.conf.all.arp_announce = 2
	net.ipv4.tcp_max_tw_buckets = 262144
	EOF
	cat >"$root/etc/network/interfaces.d/dts-vip" <<-'EOF'
	# DTS: the cluster's VIP (Documentation/install.md, step 3)
	auto lo:dts
	iface lo:dts inet static
	    address 10.0.0.100/32
	    post-up ip maddr add 01:00:5e:00:00:64 dev eth0
	    pre-down ip maddr del 01:00:5e:00:00:64 dev eth0
	EOF
	# Step 5: the cluster file (rig-node-setup sets `self` at boot).
	install -m 0644 "$toml" "$root/etc/dts/cluster.toml"
	# Step 6, and the rig's units.
	install -m 0755 "$REPO/qemu/debian/rig-node-setup" "$root/usr/local/sbin/rig-node-setup"
	install -m 0755 "$REPO/qemu/debian/rig-test" "$root/usr/local/sbin/rig-test"
	install -m 0644 "$REPO/qemu/debian/rig-node-setup.service" "$REPO/qemu/debian/rig-test.service" \
		"$root/etc/systemd/system/"
	if ! in_root "$root" systemctl enable dts-cluster.service dts-proxy@8080.service \
		rig-node-setup.service rig-test.service >"$out/enable.log" 2>&1; then
		cat "$out/enable.log" >&2
		die "image: systemctl enable failed"
	fi
	echo "LABEL=dts-root / ext4 errors=remount-ro 0 1" >"$root/etc/fstab"
	# No password for root on the console (a test machine); no machine id
	# (systemd makes one at first boot, as on a freshly installed machine).
	in_root "$root" passwd -d root >/dev/null
	: >"$root/etc/machine-id"

	cp "$root/boot/vmlinuz-$krel" "$out/vmlinuz"
	cp "$root/boot/initrd.img-$krel" "$out/initrd.img"
	mkfs.ext4 -q -F -L dts-root -d "$root" "$out/disk.img" "$DISK_SIZE" ||
		die "image: mkfs.ext4 -d failed"
	# Nothing may be mounted under it (in_root's mounts were private).
	if findmnt -rn -o TARGET | grep -qF "$root"; then
		die "image: something is still mounted under $root; not removing it"
	fi
	rm -rf "$root"
	log "node disk for $krel made in $((SECONDS - start)) s: $out"
}

cmd=${1:-}
case "$cmd" in
base) base ;;
image) shift; image "$@" ;;
-h|--help) usage ;;
*) usage >&2; exit 2 ;;
esac
