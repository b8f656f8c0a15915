#!/bin/sh
# stale-sources.sh DIR: forces a rebuild of the module's crate in DIR (a
# per-flavor copy of Kbuild and rust/, see the Makefile's module target)
# when its set of source files changed.
#
# rustc's dependency list, which kbuild reads, names the files the last
# build read. A file that is gone is ignored there (kbuild wraps the list in
# $(wildcard)), and a new file is not in it: after a file is moved (rust/x.rs
# -> rust/x/mod.rs), the object looks up to date and the old module is kept.
# So the list of source files is recorded, and when it differs the crate's
# object goes.
set -eu
dir=${1:?usage: $0 DIR}
cd "$dir"
find rust -name '*.rs' | LC_ALL=C sort >.sources.new
if cmp -s .sources.new .sources 2>/dev/null; then
	rm -f .sources.new
else
	rm -f rust/dts.o
	mv .sources.new .sources
fi
