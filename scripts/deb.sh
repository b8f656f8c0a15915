#!/usr/bin/env bash
# Builds the Debian packages of DTS into build/deb/ (make deb):
#
#   linux-image-<krel>_<kver>_amd64.deb   the pinned, patched kernel of the
#                                         default flavor (scripts/kernel.sh deb:
#                                         its own `make bindeb-pkg`, cached)
#   dts-module_<ver>_amd64.deb            dts.ko for that kernel, as
#                                         /lib/modules/<krel>/extra/dts.ko
#   dts-tools_<ver>_amd64.deb             dtsctl, dts-proxy, dts-scserver, the
#                                         C header, man pages, completions,
#                                         systemd units, a sample cluster.toml
#
# <krel> is the kernel release (6.12.117-dts); <kver> is the kernel
# package's version (scripts/kernel.sh: Debian's source version + "+dts." +
# the kernel cache key). <ver>, the version of the two dts packages, is the
# workspace version (userspace-tools/Cargo.toml) + "+git<N>.g<sha>": N is
# the number of commits up to HEAD (so that versions sort in history order),
# sha HEAD's short hash, and ".dirty" follows when the work tree has
# uncommitted changes. The same tree always gives the same version, and
# (files' times set to HEAD's commit time, SOURCE_DATE_EPOCH) the same
# packages.
#
# Needs the built kernel, module and tools (`make deb` builds them first:
# make module tools FLAVOR=default). A second run only re-stages the files
# and rebuilds no package whose contents are unchanged.
#
# For another kernel build (say, one with more drivers than
# scripts/kconfig/node.config) the environment names its image package and a
# dts.ko built against its tree, and another output directory:
#   DEB_KERNEL=.../linux-image-....deb DEB_MODULE=.../dts.ko DEB_OUT=DIR scripts/deb.sh
#
# Files: packaging/ (units, maintainer scripts, sample, copyright); the man
# pages and completions come from the tools' clap definitions (dts-docgen).
set -euo pipefail

REPO=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
OUT=${DEB_OUT:-$REPO/build/deb}
STAGE=$OUT/stage
PKG=$REPO/packaging
MODULE=${DEB_MODULE:-$REPO/build/default/module/rust/dts.ko}
TOOLS=$REPO/userspace-tools/target/release
BINS="dtsctl dts-proxy dts-scserver"
MAINTAINER="DTS rig <dts-handover@localhost>"

log() { printf 'deb.sh: %s\n' "$*" >&2; }
die() { printf 'deb.sh: error: %s\n' "$*" >&2; exit 1; }

for b in $BINS dts-docgen; do
    [ -x "$TOOLS/$b" ] || die "$TOOLS/$b missing: run make tools"
done
[ -f "$MODULE" ] || die "$MODULE missing: run make module FLAVOR=default"
mkdir -p "$OUT"
command -v dpkg-deb >/dev/null || die "dpkg-deb missing"

# --- the kernel image package ------------------------------------------------
if [ -n "${DEB_KERNEL:-}" ]; then
    kdeb=$(readlink -f "$DEB_KERNEL")
    [ -f "$kdeb" ] || die "DEB_KERNEL: no such file: $DEB_KERNEL"
else
    kdeb=$("$REPO/scripts/kernel.sh" deb default)
    [ -f "$kdeb" ] || die "scripts/kernel.sh deb default gave no package ($kdeb)"
fi
kpkg=$(dpkg-deb -f "$kdeb" Package)
kver=$(dpkg-deb -f "$kdeb" Version)
krel=${kpkg#linux-image-}
arch=$(dpkg-deb -f "$kdeb" Architecture)
vermagic=$(/sbin/modinfo -F vermagic "$MODULE")
[ "${vermagic%% *}" = "$krel" ] ||
    die "$MODULE is built for ${vermagic%% *}, the kernel package is $krel: run make module FLAVOR=default"

# --- the version of the dts packages -----------------------------------------
ws_version=$(awk '/^\[workspace.package\]/ { p = 1; next } /^\[/ { p = 0 }
    p && $1 == "version" { gsub(/"/, "", $3); print $3; exit }' "$REPO/userspace-tools/Cargo.toml")
[ -n "$ws_version" ] || die "no [workspace.package] version in userspace-tools/Cargo.toml"
if git -C "$REPO" rev-parse --verify -q HEAD >/dev/null; then
    version="$ws_version+git$(git -C "$REPO" rev-list --count HEAD).g$(git -C "$REPO" rev-parse --short=7 HEAD)"
    [ -z "$(git -C "$REPO" status --porcelain)" ] || version="$version.dirty"
    export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git -C "$REPO" log -1 --format=%ct)}
else
    version="$ws_version+nogit"
    export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-0}
fi
date=$(date -u -d "@$SOURCE_DATE_EPOCH" +%F)
log "kernel $kpkg $kver; dts packages $version"

rm -rf "$STAGE"
mkdir -p "$STAGE/dts-module/DEBIAN" "$STAGE/dts-tools/DEBIAN"

# control NAME FIELDS...: DEBIAN/control of the staged package NAME, with
# the common fields and Installed-Size.
control() {
    local name=$1 root=$STAGE/$1
    shift
    {
        echo "Package: $name"
        echo "Version: $version"
        echo "Architecture: $arch"
        echo "Maintainer: $MAINTAINER"
        echo "Installed-Size: $(du -sk --exclude=DEBIAN "$root" | cut -f1)"
        printf '%s\n' "$@"
    } >"$root/DEBIAN/control"
}

# --- dts-module ---------------------------------------------------------------
r=$STAGE/dts-module
install -d "$r/lib/modules/$krel/extra" "$r/usr/share/doc/dts-module"
# What INSTALL_MOD_STRIP=1 does for the kernel's own modules.
llvm-strip --strip-debug -o "$r/lib/modules/$krel/extra/dts.ko" "$MODULE"
chmod 644 "$r/lib/modules/$krel/extra/dts.ko"
install -m 644 "$PKG/copyright" "$r/usr/share/doc/dts-module/copyright"
control dts-module \
    "Depends: $kpkg (= $kver)" \
    "Section: kernel" \
    "Priority: optional" \
    "Description: DTS kernel module: in-kernel TCP connection handover" \
    " dts.ko for $kpkg," \
    " version $kver:" \
    " the patched Debian 6.12 kernel it is built against (a Rust module, tied" \
    " to that exact build). It accepts a cluster's TCP connections on a shared" \
    " VIP and hands them over between nodes. Configure it with dtsctl (package" \
    " dts-tools)."
for s in postinst postrm; do
    sed "s/@KREL@/$krel/" "$PKG/dts-module/$s" >"$r/DEBIAN/$s"
    chmod 755 "$r/DEBIAN/$s"
done

# --- dts-tools ----------------------------------------------------------------
r=$STAGE/dts-tools
install -d "$r/usr/sbin" "$r/usr/include" "$r/usr/share/man/man8" \
    "$r/usr/share/bash-completion/completions" "$r/usr/share/zsh/vendor-completions" \
    "$r/usr/share/fish/vendor_completions.d" "$r/lib/systemd/system" \
    "$r/usr/lib/sysusers.d" "$r/usr/share/doc/dts-tools/examples" "$r/etc/dts"
for b in $BINS; do
    install -m 755 "$TOOLS/$b" "$r/usr/sbin/$b"
done
install -m 644 "$REPO/include/dts_handover.h" "$r/usr/include/dts_handover.h"
"$TOOLS/dts-docgen" "$STAGE/docgen" "$date"
for f in "$STAGE"/docgen/man8/*.8; do
    gzip -9n <"$f" >"$r/usr/share/man/man8/${f##*/}.gz"
done
install -m 644 "$STAGE"/docgen/bash/* "$r/usr/share/bash-completion/completions/"
install -m 644 "$STAGE"/docgen/zsh/* "$r/usr/share/zsh/vendor-completions/"
install -m 644 "$STAGE"/docgen/fish/* "$r/usr/share/fish/vendor_completions.d/"
install -m 644 "$PKG/dts-tools/dts-proxy@.service" "$PKG/dts-tools/dts-cluster.service" \
    "$r/lib/systemd/system/"
install -m 644 "$PKG/dts-tools/sysusers.conf" "$r/usr/lib/sysusers.d/dts-tools.conf"
install -m 644 "$PKG/dts-tools/cluster.toml" "$r/usr/share/doc/dts-tools/examples/cluster.toml"
install -m 644 "$PKG/grafana/dts-dashboard.json" "$r/usr/share/doc/dts-tools/examples/grafana-dts-dashboard.json"
install -m 644 "$PKG/copyright" "$r/usr/share/doc/dts-tools/copyright"
for s in postinst prerm postrm; do
    install -m 755 "$PKG/dts-tools/$s" "$r/DEBIAN/$s"
done
# The libraries the binaries link: glibc (the newest symbol version any of
# them needs) and libgcc_s (Rust's unwinder); anything else is unexpected.
needed=$(for b in $BINS; do readelf -d "$r/usr/sbin/$b"; done |
    sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | sort -u)
for lib in $needed; do
    case "$lib" in
        libc.so.6 | libm.so.6 | libgcc_s.so.1 | ld-linux-x86-64.so.2) ;;
        *) die "the tools link $lib: add its package to dts-tools' Depends" ;;
    esac
done
glibc=$(for b in $BINS; do objdump -T "$r/usr/sbin/$b"; done |
    grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -n 1)
control dts-tools \
    "Depends: libc6 (>= ${glibc:-2.36}), libgcc-s1, systemd | adduser" \
    "Recommends: dts-module (= $version)" \
    "Suggests: nginx" \
    "Section: net" \
    "Priority: optional" \
    "Description: DTS userspace tools: dtsctl, dts-proxy, dts-scserver" \
    " The tools of DTS (in-kernel TCP connection handover for L7 cluster load" \
    " balancing): dtsctl configures the dts module and shows its state," \
    " dts-proxy is the L7 proxy that hands connections over, dts-scserver the" \
    " sample Socket Cloning server. With man pages, bash/zsh/fish completions," \
    " the C header dts_handover.h, and systemd units: dts-cluster.service" \
    " (modprobe dts, dtsctl apply -f /etc/dts/cluster.toml) and" \
    " dts-proxy@PORT.service (the proxy as user dts with CAP_NET_ADMIN only)." \
    " A sample cluster.toml is in /usr/share/doc/dts-tools/examples."

# --- build -------------------------------------------------------------------
# Reproducible: every staged file gets the commit's time; dpkg-deb uses
# SOURCE_DATE_EPOCH for the archive members.
find "$STAGE/dts-module" "$STAGE/dts-tools" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +

# Old versions of the dts packages go; the kernel package is replaced when
# its version changed.
want_k="$(basename "$kdeb")"
for f in "$OUT"/*.deb; do
    [ -e "$f" ] || continue
    case "${f##*/}" in
        "dts-module_${version}_$arch.deb" | "dts-tools_${version}_$arch.deb" | "$want_k") ;;
        *) rm -f "$f" "$OUT/.${f##*/}.stamp" ;;
    esac
done
if ! cmp -s "$kdeb" "$OUT/$want_k"; then
    cp "$kdeb" "$OUT/$want_k.tmp" && mv "$OUT/$want_k.tmp" "$OUT/$want_k"
fi

# gzip, not xz: t10-packages installs them under TCG, where xz is slow.
DPKG_DEB_FLAGS="--root-owner-group -Zgzip -z9"
# stamp DIR: what the package built from DIR will hold (paths, modes,
# sizes, contents) and how it is built.
stamp() {
    (echo "$DPKG_DEB_FLAGS" && cd "$1" && find . -printf '%p %m %s %l\n' | LC_ALL=C sort &&
        find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum) | sha256sum | cut -d' ' -f1
}
debs=("$OUT/$want_k")
for name in dts-module dts-tools; do
    deb="$OUT/${name}_${version}_$arch.deb"
    st=$(stamp "$STAGE/$name")
    if [ -f "$deb" ] && [ "$(cat "$OUT/.${deb##*/}.stamp" 2>/dev/null)" = "$st" ]; then
        log "unchanged: ${deb##*/}"
    else
        # shellcheck disable=SC2086
        dpkg-deb $DPKG_DEB_FLAGS --build "$STAGE/$name" "$deb.tmp" >/dev/null
        mv "$deb.tmp" "$deb"
        echo "$st" >"$OUT/.${deb##*/}.stamp"
        log "built: ${deb##*/}"
    fi
    debs+=("$deb")
done

# --- sanity checks -----------------------------------------------------------
# has DEB PATH...: the package holds every PATH.
has() {
    local deb=$1 list p
    shift
    list=$(dpkg-deb --contents "$deb" | awk '{ print $6 }' | sed 's|^\./|/|')
    for p in "$@"; do
        printf '%s\n' "$list" | grep -qxF -- "$p" || die "${deb##*/} lacks $p"
    done
}
for deb in "${debs[@]}"; do
    dpkg-deb --info "$deb" >/dev/null || die "${deb##*/}: dpkg-deb --info failed"
done
has "$OUT/$want_k" "/boot/vmlinuz-$krel" "/boot/config-$krel" "/lib/modules/$krel/modules.builtin"
has "$OUT/dts-module_${version}_$arch.deb" "/lib/modules/$krel/extra/dts.ko"
dpkg-deb -f "$OUT/dts-module_${version}_$arch.deb" Depends | grep -qxF "$kpkg (= $kver)" ||
    die "dts-module does not depend on $kpkg (= $kver)"
mkdir -p "$STAGE/check"
dpkg-deb --fsys-tarfile "$OUT/dts-module_${version}_$arch.deb" |
    tar -xOf - "./lib/modules/$krel/extra/dts.ko" >"$STAGE/check/dts.ko"
got=$(/sbin/modinfo -F vermagic "$STAGE/check/dts.ko" 2>/dev/null || true)
[ "${got%% *}" = "$krel" ] || die "the packaged dts.ko's vermagic is '$got', not $krel"
man=()
for f in "$STAGE"/docgen/man8/*.8; do man+=("/usr/share/man/man8/${f##*/}.gz"); done
[ ${#man[@]} -ge 4 ] || die "only ${#man[@]} man pages generated"
tool_paths=()
for b in $BINS; do
    tool_paths+=("/usr/sbin/$b" "/usr/share/bash-completion/completions/$b"
        "/usr/share/zsh/vendor-completions/_$b" "/usr/share/fish/vendor_completions.d/$b.fish"
        "/usr/share/man/man8/$b.8.gz")
done
has "$OUT/dts-tools_${version}_$arch.deb" "${tool_paths[@]}" "${man[@]}" \
    /usr/include/dts_handover.h /lib/systemd/system/dts-proxy@.service \
    /lib/systemd/system/dts-cluster.service /usr/lib/sysusers.d/dts-tools.conf \
    /usr/share/doc/dts-tools/examples/cluster.toml \
    /usr/share/doc/dts-tools/examples/grafana-dts-dashboard.json
"$TOOLS/dtsctl" config check "$PKG/dts-tools/cluster.toml" >/dev/null ||
    die "the sample cluster.toml does not validate"

log "ok: ${#man[@]} man pages; packages in $OUT:"
for deb in "${debs[@]}"; do
    printf '%s\n' "$deb"
done
