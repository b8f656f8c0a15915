#!/usr/bin/env python3
"""Reads a response body from PATH (a FIFO curl writes to), hashing it on
the way: the byte count goes to --progress as it grows (every 256 KiB and
at the end, replaced atomically), the sha256 (hex) to --sha at the end.
The drain tests' downloads (t14, the benchmark's drain scenario): ten
32 MiB bodies would not fit in the client's memory, and the progress is
how the test sees that a download is under way (ss has no byte counts in
the VMs, whose kernels have no inet_diag).

  body_sink.py /tmp/big-1 --sha /tmp/sum-1 --progress /tmp/prog-1
"""

import argparse
import hashlib
import os


def put(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("path")
    p.add_argument("--sha", required=True)
    p.add_argument("--progress", required=True)
    a = p.parse_args()
    h = hashlib.sha256()
    n = last = 0
    put(a.progress, "0\n")
    with open(a.path, "rb") as f:
        while True:
            b = f.read(65536)
            if not b:
                break
            h.update(b)
            n += len(b)
            if n - last >= 262144:
                put(a.progress, "%d\n" % n)
                last = n
    put(a.progress, "%d\n" % n)
    put(a.sha, h.hexdigest() + "\n")


if __name__ == "__main__":
    main()
