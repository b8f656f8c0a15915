#!/usr/bin/env python3
"""Inject malformed control-mesh frames at a node's mesh port.

Usage: mesh_inject.py SRC_ADDR DST_ADDR PORT SENDER_ID

Runs on a configured node (SRC_ADDR is its internal address, so the
listener accepts the TCP connection) and sends, on one new connection per
case, a frame that the receiving node must reject (see
Documentation/mesh-protocol.md). For each case the receiver must reset or
close the connection within 5 s. Prints one line per case and exits 1 if a
connection stayed open.
"""
import socket
import struct
import sys
import time

MAGIC = 0x4454534D
HELLO, HELLO_ACK, HEARTBEAT = 1, 2, 3


def header(mtype, length, sender, seq=1, magic=MAGIC, version=1, reserved=0):
    return struct.pack(">IBBBBII", magic, version, mtype, sender, reserved, length, seq)


def hello(sender, fingerprint=0x1234_5678_9ABC_DEF0, reserved=0):
    return header(HELLO, 16, sender) + struct.pack(">QII", fingerprint, 1, reserved)


def cases(me):
    # (name, bytes, counter the receiver increments)
    return [
        ("bad magic", b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "mesh_bad_magic"),
        ("bad version", header(HELLO, 16, me, version=9) + bytes(16), "mesh_bad_version"),
        ("reserved header byte", header(HELLO, 16, me, reserved=1) + bytes(16), "mesh_bad_header"),
        ("sender id 0", header(HELLO, 16, 0) + bytes(16), "mesh_bad_header"),
        ("length past the limit", header(HELLO, 0x7FFF_FFFF, me), "mesh_too_long"),
        ("unknown type", header(99, 0, me), "mesh_unknown_type"),
        ("wrong length for HELLO", header(HELLO, 8, me) + bytes(8), "mesh_bad_length"),
        ("HELLO with a reserved field set", hello(me, reserved=7), "mesh_bad_payload"),
        ("heartbeat before HELLO", header(HEARTBEAT, 24, me) + bytes(24), "mesh_bad_payload"),
        ("HELLO of another cluster", hello(me), "mesh_hello_refused"),
        ("HELLO claiming another node's id", hello(me % 3 + 1), "mesh_hello_refused"),
        ("truncated frame", hello(me)[:20], "mesh_truncated"),
    ]


def run_case(src, dst, port, data, truncated):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(5)
    s.bind((src, 0))
    s.connect((dst, port))
    s.sendall(data)
    if truncated:
        s.shutdown(socket.SHUT_WR)
    t0 = time.monotonic()
    try:
        while True:
            b = s.recv(4096)
            if not b:
                return "closed (FIN)", time.monotonic() - t0
    except ConnectionResetError:
        return "reset", time.monotonic() - t0
    except socket.timeout:
        return None, time.monotonic() - t0
    finally:
        s.close()


def main():
    src, dst, port, me = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    bad = 0
    for name, data, counter in cases(me):
        how, secs = run_case(src, dst, port, data, counter == "mesh_truncated")
        if how is None:
            bad += 1
            print("FAIL %-34s connection still open after %.1f s" % (name, secs))
        else:
            print("ok   %-34s %s after %.2f s (counter %s)" % (name, how, secs, counter))
        time.sleep(0.2)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
