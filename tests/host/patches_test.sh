#!/bin/bash
# Host test of the kernel patch series, scripts/patches/ (Documentation/patches.md):
#   - each patch is in `git format-patch` form: numbered subject, a commit
#     message, a Signed-off-by, a diffstat;
#   - scripts/checkpatch.pl --strict from the pinned kernel source passes on
#     each one (FILE_PATH_CHANGES ignored: the RUST entry of MAINTAINERS
#     covers rust/, so new helper files need no MAINTAINERS change);
#   - the series applies, in order, to the pristine source;
#   - every helper it adds (rust_helper_NAME) is called by the module
#     (bindings::NAME in rust/), so the series exports nothing unused;
#   - the module names no bindgen-generated union member (__bindgen_anon_N):
#     it reaches such fields through the helpers.
# Needs the pinned linux-source tarball (scripts/install-deps.sh).
. "$(dirname "$(readlink -f "$0")")/lib.sh"
# shellcheck source=../../scripts/versions.env
. "$repo/scripts/versions.env"
d=$(mktemp -d); trap 'rm -rf "$d"' EXIT
patches=("$repo"/scripts/patches/*.patch)
n=${#patches[@]}
[ "$n" -gt 0 ] && ok "$n patches" || ko "no patch in scripts/patches"

i=0
for p in "${patches[@]}"; do
	i=$((i + 1))
	b=$(basename "$p")
	if grep -q "^Subject: \[PATCH $i/$n\] " "$p" && grep -q '^From: ' "$p" &&
		grep -q '^Signed-off-by: ' "$p" && grep -qE '^ [0-9]+ files? changed' "$p"; then
		ok "$b: format-patch form, Signed-off-by"
	else
		ko "$b: not in format-patch form ([PATCH $i/$n] subject, From, Signed-off-by, diffstat)"
	fi
	# The commit message: at least one line of text between the header and ---.
	body=$(awk '/^$/ && !h { h = 1; next } h && /^---$/ { exit } h && NF && !/^Signed-off-by:/ { n++ } END { print n + 0 }' "$p")
	[ "$body" -gt 0 ] && ok "$b: has a commit message" || ko "$b: no commit message"
done

src=linux-source-${KERNEL_PKG#linux-source-}
if [ -r "$KERNEL_TARBALL" ] &&
	tar -C "$d" -xf "$KERNEL_TARBALL" "$src/scripts/checkpatch.pl" "$src/scripts/spelling.txt" \
		"$src/scripts/const_structs.checkpatch" "$src/rust/bindings" "$src/rust/helpers" 2>/dev/null; then
	for p in "${patches[@]}"; do
		b=$(basename "$p")
		if out=$(perl "$d/$src/scripts/checkpatch.pl" --no-tree --strict --ignore FILE_PATH_CHANGES -q "$p" 2>&1); then
			ok "$b: checkpatch --strict"
		else
			ko "$b: checkpatch --strict: $out"
		fi
		if patch -d "$d/$src" -p1 --forward --batch --quiet <"$p" >/dev/null; then
			ok "$b: applies"
		else
			ko "$b: does not apply after the patches before it"
		fi
	done
else
	ko "cannot read checkpatch.pl and rust/ from $KERNEL_TARBALL (run scripts/install-deps.sh)"
fi

helpers=$(grep -ohE '^\+[A-Za-z0-9_ ]*[ *]rust_helper_[a-z0-9_]+\(' "${patches[@]}" |
	sed -E 's/.*rust_helper_([a-z0-9_]+)\(/\1/' | sort -u)
[ -n "$helpers" ] && ok "the series adds $(echo "$helpers" | wc -l) helpers" || ko "no helper found in the series"
for h in $helpers; do
	if grep -rqE "bindings::$h\b" "$repo/rust" --include='*.rs'; then
		ok "helper $h is used by the module"
	else
		ko "helper $h is added but the module never calls bindings::$h"
	fi
done

if grep -rn '__bindgen_anon' "$repo/rust" --include='*.rs'; then
	ko "the module names bindgen's anonymous-union members (above)"
else
	ok "the module names no bindgen anonymous-union member"
fi
finish
