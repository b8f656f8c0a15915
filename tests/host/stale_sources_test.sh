#!/bin/bash
# Host test of scripts/stale-sources.sh: the module's object goes when the
# set of its source files changes (a file moved into a directory module),
# and stays when it does not.
. "$(dirname "$(readlink -f "$0")")/lib.sh"
d=$(mktemp -d); trap 'rm -rf "$d"' EXIT
mkdir -p "$d/rust"
: >"$d/rust/dts.rs"; : >"$d/rust/sc.rs"
"$repo/scripts/stale-sources.sh" "$d"
: >"$d/rust/dts.o"
"$repo/scripts/stale-sources.sh" "$d"
[ -e "$d/rust/dts.o" ] && ok "same sources: the object is kept" || ko "same sources: the object went"
rm "$d/rust/sc.rs"; mkdir "$d/rust/sc"; : >"$d/rust/sc/mod.rs"
"$repo/scripts/stale-sources.sh" "$d"
[ ! -e "$d/rust/dts.o" ] && ok "rust/sc.rs -> rust/sc/mod.rs: the object went" || ko "moved source: the object was kept"
: >"$d/rust/dts.o"
"$repo/scripts/stale-sources.sh" "$d"
[ -e "$d/rust/dts.o" ] && ok "after the move, unchanged again: kept" || ko "unchanged after the move: the object went"
finish
