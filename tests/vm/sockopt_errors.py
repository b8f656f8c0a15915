#!/usr/bin/env python3
"""DTS_SO_HANDOVER's error codes, on a node, with real sockets.

Usage: sockopt_errors.py SELF_ID DEST_ID PROXY_PORT

Checks EINVAL (not TCP, not proxied, listening, bad struct, unknown or own
node, more bytes than were read, an unknown flag, HANDOVER_REFORWARD on a
connection that was not handed in), 0 then EALREADY on a proxied connection
(the client's first connection), and EBADF on a proxied connection the
client reset (its second connection). Prints one line per case; exits 0 if
every case gave the documented errno.
"""
import ctypes
import errno
import socket
import struct
import sys
import time

DTS_SO_HANDOVER = 3402
self_id, dest, port = (int(a) for a in sys.argv[1:4])
results = []


def call(s, node, buf=b"", version=1, size=32, flags=0):
    keep = ctypes.create_string_buffer(buf, max(len(buf), 1))
    ptr = ctypes.addressof(keep) if buf else 0
    req = struct.pack("=IIIIQQ", version, flags, node, 0, ptr, len(buf))[:size]
    try:
        s.setsockopt(0, DTS_SO_HANDOVER, req)
        return 0
    except OSError as e:
        return e.errno


def expect(name, got, want):
    ok = got == want
    print("%s %s: got %s, want %s" % ("ok  " if ok else "FAIL", name,
          errno.errorcode.get(got, got), errno.errorcode.get(want, want)), flush=True)
    results.append(ok)


def read_request(c):
    data = b""
    c.settimeout(60)
    while b"\r\n\r\n" not in data:
        d = c.recv(65536)
        if not d:
            break
        data += d
    return data


expect("UDP socket", call(socket.socket(socket.AF_INET, socket.SOCK_DGRAM), dest), errno.EINVAL)
t = socket.create_connection(("127.0.0.1", 80), timeout=10)
expect("TCP connection that is not proxied", call(t, dest), errno.EINVAL)
t.close()
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("0.0.0.0", port))
ls.listen(8)
expect("listening socket", call(ls, dest), errno.EINVAL)
print("listening on %d" % port, flush=True)
ls.settimeout(300)

c, a = ls.accept()
data = read_request(c)
print("first connection from %s:%d, %d bytes read" % (a[0], a[1], len(data)), flush=True)
expect("wrong struct version", call(c, dest, data, version=2), errno.EINVAL)
expect("short struct", call(c, dest, data, size=16), errno.EINVAL)
expect("unknown node 9", call(c, 9, data), errno.EINVAL)
expect("this node as destination", call(c, self_id, data), errno.EINVAL)
expect("more bytes than were read", call(c, dest, data + b"x" * 10), errno.EINVAL)
expect("unknown flag", call(c, dest, data, flags=2), errno.EINVAL)
expect("re-forward of a connection that was not handed in", call(c, dest, data, flags=1), errno.EINVAL)
expect("handover to node %d" % dest, call(c, dest, data), 0)
expect("handover again", call(c, dest, data), errno.EALREADY)
c.close()

c2, a2 = ls.accept()
data2 = read_request(c2)
print("second connection from %s:%d, %d bytes read" % (a2[0], a2[1], len(data2)), flush=True)
c2.settimeout(60)
try:
    while c2.recv(65536):
        pass
except OSError as e:
    print("second connection:", e, flush=True)
time.sleep(0.5)
expect("connection reset by the client", call(c2, dest, data2), errno.EBADF)
c2.close()
sys.exit(0 if all(results) else 1)
