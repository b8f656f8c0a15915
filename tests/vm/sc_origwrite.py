#!/usr/bin/env python3
"""A cloning server that writes on the original while clones are held
(t21-sc-multifail's `ow` phase, Documentation/socket-cloning.md, "Multiple
cloning and pipelining": "Data or a FIN from the original while clones are
held cannot be placed").

Listens on ADDR:PORT (a `mode = "sc"` service), accepts one connection,
reads until it has two request heads, clones the first to node N1 and the
second to node N2 (`DTS_SO_CLONE`, no declared length: the second is held
behind the first), then writes a response of its own on the original
socket at once, without `DTS_SO_CLONE_WAIT`. Logs dts-scserver's request
lines (`conn=IP:PORT req=N path=P action=clone:N call_us=-`)
to --log, and what became of the write and of the next read ("note="
lines). Exit 0 if both clone calls succeeded, 1 otherwise.
"""

import argparse
import ctypes
import socket
import struct
import sys

# rust/pure/abi/mod.rs, rust/pure/abi/clone.rs.
DTS_SO_LEVEL = 0
DTS_SO_CLONE = 3400 + 5
CLONE_REQ_VERSION = 1


def clone(sock, node, asf):
    """DTS_SO_CLONE of the connection `sock` to `node` with the ASF `asf`,
    no declared response length."""
    buf = ctypes.create_string_buffer(asf, len(asf))
    req = struct.pack("=IIIIQQ", CLONE_REQ_VERSION, 0, node, 0,
                      ctypes.addressof(buf), len(asf))
    sock.setsockopt(DTS_SO_LEVEL, DTS_SO_CLONE, req)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--listen", required=True, help="ADDR:PORT")
    ap.add_argument("--nodes", required=True, help="N1,N2: the clones' nodes")
    ap.add_argument("--log", required=True)
    ap.add_argument("--ready", help="file created once listening")
    a = ap.parse_args()
    host, port = a.listen.rsplit(":", 1)
    nodes = [int(n) for n in a.nodes.split(",")]
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((host, int(port)))
    ls.listen(4)
    if a.ready:
        open(a.ready, "w").close()
    s, peer = ls.accept()
    ls.close()
    conn = "%s:%d" % peer
    log = open(a.log, "a", buffering=1)
    buf = b""
    heads = []
    s.settimeout(60)
    while len(heads) < len(nodes):
        while b"\r\n\r\n" not in buf:
            got = s.recv(65536)
            if not got:
                log.write("conn=%s note=eof-before-requests\n" % conn)
                return 1
            buf += got
        head, buf = buf.split(b"\r\n\r\n", 1)
        heads.append(head + b"\r\n\r\n")
    ok = True
    for i, (head, node) in enumerate(zip(heads, nodes)):
        path = head.split(b" ", 2)[1].decode("ascii", "replace")
        try:
            clone(s, node, head)
            action = "clone:%d" % node
        except OSError as e:
            action = "fallback:%s" % (e.strerror or e.errno)
            ok = False
        log.write("conn=%s req=%d path=%s action=%s call_us=-\n"
                  % (conn, i + 1, path, action))
    body = b"the original's own bytes\n"
    try:
        n = s.send(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        log.write("conn=%s note=original-wrote bytes=%d\n" % (conn, n))
    except OSError as e:
        log.write("conn=%s note=original-write-failed why=%s\n" % (conn, e.errno))
    try:
        got = s.recv(65536)
        log.write("conn=%s note=read bytes=%d\n" % (conn, len(got)))
    except OSError as e:
        log.write("conn=%s note=read-failed errno=%s\n" % (conn, e.errno))
    s.close()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
