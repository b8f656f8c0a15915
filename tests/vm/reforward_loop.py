#!/usr/bin/env python3
"""The module's guard against re-forwarding twice, with real sockets.

Usage: reforward_loop.py PORT FROM_NODE OTHER_NODE

Stands in for dts-proxy on a node's proxy port. Takes one connection, which
must have been re-forwarded here by FROM_NODE (DTS_SO_GET_FLOW: flags
FLOW_HANDED_IN | FLOW_REFORWARDED, from_node FROM_NODE), reads its request,
asks the module to re-forward it again to OTHER_NODE (DTS_SO_HANDOVER with
HANDOVER_REFORWARD), which must fail with ELOOP, then serves the request
itself through the local nginx (127.0.0.1:80), as the proxy would. Prints
one line per check; exits 0 if every check passed.
"""
import ctypes
import errno
import socket
import struct
import sys

DTS_SO_HANDOVER = 3402   # set side
DTS_SO_GET_FLOW = 3402   # get side
FLOW_HANDED_IN, FLOW_REFORWARDED = 1, 2
HANDOVER_REFORWARD = 1
port, from_node, other = (int(a) for a in sys.argv[1:4])
results = []


def expect(name, got, want):
    ok = got == want
    print("%s %s: got %s, want %s" % ("ok  " if ok else "FAIL", name, got, want), flush=True)
    results.append(ok)


def reforward(s, node, buf):
    keep = ctypes.create_string_buffer(buf, len(buf))
    req = struct.pack("=IIIIQQ", 1, HANDOVER_REFORWARD, node, 0, ctypes.addressof(keep), len(buf))
    try:
        s.setsockopt(0, DTS_SO_HANDOVER, req)
        return 0
    except OSError as e:
        return errno.errorcode.get(e.errno, e.errno)


ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("0.0.0.0", port))
ls.listen(8)
print("listening on %d" % port, flush=True)
ls.settimeout(300)
c, a = ls.accept()
c.settimeout(60)
version, flags, frm, _state = struct.unpack("=IIII", c.getsockopt(0, DTS_SO_GET_FLOW, 16))
expect("flow flags (handed in, re-forwarded)", flags, FLOW_HANDED_IN | FLOW_REFORWARDED)
expect("handed in from", frm, from_node)
data = b""
while b"\r\n\r\n" not in data:
    d = c.recv(65536)
    if not d:
        break
    data += d
print("connection from %s:%d, %d bytes read" % (a[0], a[1], len(data)), flush=True)
expect("re-forward again to node %d" % other, reforward(c, other, data), "ELOOP")
# Served here, as dts-proxy would: the request to nginx, the response back.
# Connection: close, so that nginx ends the response by closing.
head, sep, rest = data.partition(b"\r\n")
b = socket.create_connection(("127.0.0.1", 80), timeout=30)
b.sendall(head + sep + b"Connection: close\r\n" + rest)
n = 0
while True:
    d = b.recv(65536)
    if not d:
        break
    c.sendall(d)
    n += len(d)
b.close()
c.shutdown(socket.SHUT_WR)
c.close()
print("served %d bytes" % n, flush=True)
# The line dts-proxy would have logged (the test reads who served what
# from the proxies' logs).
path = data.split(b" ", 2)[1].decode(errors="replace") if data.count(b" ") >= 2 else "-"
print("dts-proxy: client=%s:%d path=%s target=local decision=handed_in from=%d reforwarded=yes "
      "action=local" % (a[0], a[1], path, frm), flush=True)
sys.exit(0 if all(results) else 1)
