#!/usr/bin/python3
"""Deterministic test files for the socket-cloning VM test (t09-sc).

    mkfiles.py DIR          create the files under DIR
    mkfiles.py --sha DIR    print "SHA256  RELPATH" for every file
    mkfiles.py --list DIR   print "SIZE  RELPATH" for every file

The files are DIR/n2, DIR/n3 and DIR/n4, each holding s0 (0 bytes), s1 (1),
s1k (1024), s4k (4096), s64k (65536), s100k (100000), s1m (1 MiB) and s4m
(4 MiB), plus DIR/n3/s32m (32 MiB) only. RELPATH is relative to DIR
("n3/s32m"), so `cd DIR && mkfiles.py --sha DIR | sha256sum -c` checks a
tree on disk.

Every VM generates the same bytes, so nodes and client need not exchange
files: a file's content is SHAKE-256 output keyed by its relative path and
the index of each 1 MiB chunk (every chunk of every file differs, so a
response that lands at a wrong offset, repeats or loses a chunk, or comes
from another file, has another sha256). --sha and --list compute from the
generator and never read DIR (the client has no copy). Generating all files
(about 48 MiB) takes a fraction of a second on a host and a few seconds in
a TCG guest.

Python 3 standard library only. Exit status 0, or 2 on usage errors.
"""

import hashlib
import os
import sys

CHUNK = 1 << 20
SIZES = [("s0", 0), ("s1", 1), ("s1k", 1024), ("s4k", 4096), ("s64k", 65536),
         ("s100k", 100000), ("s1m", 1 << 20), ("s4m", 4 << 20)]
EXTRA = [("n3/s32m", 32 << 20)]


def files():
    """[(relpath, size)] of every file, in a fixed order; with MKFILES_MAX
    set (bytes, > 0) in the environment, only those of at most that size
    (a slow debug kernel skips the big ones)."""
    out = [("n%d/%s" % (n, name), size) for n in (2, 3, 4) for name, size in SIZES] + EXTRA
    limit = int(os.environ.get("MKFILES_MAX", "0") or "0")
    return [(r, n) for r, n in out if limit <= 0 or n <= limit]


def chunks(relpath, size):
    """The file's content, in chunks of at most 1 MiB."""
    for i in range(0, size, CHUNK):
        key = b"dts-sc-test\0%s\0%d" % (relpath.encode(), i // CHUNK)
        yield hashlib.shake_256(key).digest(min(CHUNK, size - i))


def create(top):
    for rel, size in files():
        path = os.path.join(top, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = path + ".tmp"
        with open(tmp, "wb") as f:
            for c in chunks(rel, size):
                f.write(c)
        os.replace(tmp, path)


def sha(_top):
    for rel, size in files():
        h = hashlib.sha256()
        for c in chunks(rel, size):
            h.update(c)
        print("%s  %s" % (h.hexdigest(), rel))


def listing(_top):
    for rel, size in files():
        print("%d  %s" % (size, rel))


def main(argv):
    modes = {"--sha": sha, "--list": listing}
    if len(argv) == 1 and not argv[0].startswith("-"):
        create(argv[0])
        return 0
    if len(argv) == 2 and argv[0] in modes:
        modes[argv[0]](argv[1])
        return 0
    print("usage: mkfiles.py [--sha | --list] DIR", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
