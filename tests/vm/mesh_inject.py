#!/usr/bin/env python3
"""Inject malformed, unauthenticated or forged control-mesh frames at a
node's mesh port.

Usage: mesh_inject.py SRC_ADDR DST_ADDR PORT SENDER_ID
       mesh_inject.py --wrong-key SRC_ADDR DST_ADDR PORT SENDER_ID
       mesh_inject.py --closed SECRET SRC_ADDR DST_ADDR PORT SENDER_ID \
                      CLIENT_ADDR VIP CLIENT_PORT APP_PORT

--wrong-key: a stranger with a configured node's address (SRC_ADDR) that
does not know the cluster's secret. It learns the (public) configuration
fingerprint from a refused HELLO, then runs the HELLO exchange with a key
of its own: the listener's proof must not check under that key, and the
listener must reset the connection after the stranger's HELLO-PROOF
(counted as mesh_auth_failed). A second connection sends a CLOSED instead of
the proof: it must be reset too (nothing but the proof is taken before it).
Exits 1 otherwise.

--closed: a node that knows the secret (SECRET, the string of `[mesh]
secret`) authenticates as SENDER_ID from SRC_ADDR and sends a CLOSED for
the given connection; exits 0 once the CLOSED is sent and the connection
stayed up for a second after it.

Runs on a configured node (SRC_ADDR is its internal address, so the
listener accepts the TCP connection) and sends, on one new connection per
case, a frame that the receiving node must reject (see
Documentation/mesh-protocol.md). For each case the receiver must reset or
close the connection within 5 s. Prints one line per case and exits 1 if a
connection stayed open.
"""
import hashlib
import hmac
import os
import socket
import struct
import sys
import time

MAGIC = 0x4454534D
VERSION = 2
HELLO, HELLO_ACK, HEARTBEAT, CLOSED, HELLO_PROOF = 1, 2, 3, 5, 10
LABEL_LISTENER = b"DTS mesh v2 lstn"
LABEL_CONNECTOR = b"DTS mesh v2 conn"


def header(mtype, length, sender, seq=1, magic=MAGIC, version=VERSION, reserved=0):
    return struct.pack(">IBBBBII", magic, version, mtype, sender, reserved, length, seq)


def hello(sender, fingerprint=0x1234_5678_9ABC_DEF0, reserved=0, nonce=bytes(16), seq=1):
    return header(HELLO, 32, sender, seq) + struct.pack(">QII", fingerprint, 1, reserved) + nonce


def proof(key, label, connector, listener, fingerprint, cnonce, lnonce):
    msg = label + bytes([connector, listener]) + struct.pack(">Q", fingerprint) + cnonce + lnonce
    return hmac.new(key, msg, hashlib.sha256).digest()


def recv_frame(s):
    """One frame: (type, sender, payload); None at the end of the stream."""
    def exact(n):
        b = b""
        while len(b) < n:
            c = s.recv(n - len(b))
            if not c:
                return None
            b += c
        return b
    h = exact(16)
    if h is None:
        return None
    magic, version, mtype, sender, _, length, _ = struct.unpack(">IBBBBII", h)
    if magic != MAGIC or version != VERSION:
        raise ValueError("bad frame header %r" % h)
    return mtype, sender, exact(length)


def connect(src, dst, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(5)
    s.bind((src, 0))
    s.connect((dst, port))
    return s


def learn_fingerprint(src, dst, port, me):
    """The listener's fingerprint, from its answer to a foreign HELLO."""
    s = connect(src, dst, port)
    try:
        s.sendall(hello(me))
        f = recv_frame(s)
        assert f and f[0] == HELLO_ACK, f
        fp, _, status = struct.unpack(">QII", f[2][:16])
        assert status == 1, "config_mismatch expected, got %d" % status
        return fp
    finally:
        s.close()
        time.sleep(0.2)


def handshake(src, dst, port, me, key, fp):
    """HELLO and HELLO-ACK; returns (socket, listener id, nonces, the
    listener's proof, whether it checks under KEY)."""
    s = connect(src, dst, port)
    cnonce = os.urandom(16)
    s.sendall(hello(me, fp, nonce=cnonce, seq=100))
    f = recv_frame(s)
    assert f and f[0] == HELLO_ACK, f
    _, _, status = struct.unpack(">QII", f[2][:16])
    assert status == 0, "HELLO refused: status %d" % status
    lnonce, lproof = f[2][16:32], f[2][32:64]
    want = proof(key, LABEL_LISTENER, me, f[1], fp, cnonce, lnonce)
    return s, f[1], cnonce, lnonce, hmac.compare_digest(want, lproof)


def wait_closed(s, secs=5):
    """How the peer ended the connection, or None if it stayed open."""
    s.settimeout(secs)
    try:
        while True:
            if not s.recv(4096):
                return "closed (FIN)"
    except ConnectionResetError:
        return "reset"
    except socket.timeout:
        return None
    finally:
        s.close()


def wrong_key(src, dst, port, me):
    fp = learn_fingerprint(src, dst, port, me)
    print("fingerprint %016x learnt from a refused HELLO" % fp)
    key = os.urandom(32)
    bad = 0
    s, listener, cnonce, lnonce, ok = handshake(src, dst, port, me, key, fp)
    if ok:
        bad += 1
        print("FAIL the listener's proof checks under a random key")
    else:
        print("ok   the listener's proof does not check under a random key")
    s.sendall(header(HELLO_PROOF, 32, me, 101)
              + proof(key, LABEL_CONNECTOR, me, listener, fp, cnonce, lnonce))
    how = wait_closed(s)
    print("%s HELLO-PROOF under a wrong key: %s" % ("ok  " if how == "reset" else "FAIL", how))
    bad += how != "reset"
    time.sleep(0.2)
    s, listener, cnonce, lnonce, _ = handshake(src, dst, port, me, key, fp)
    s.sendall(header(CLOSED, 16, me, 101) + struct.pack(">IIHHB3x", 1, 2, 3, 4, 2))
    how = wait_closed(s)
    print("%s CLOSED instead of the proof: %s" % ("ok  " if how == "reset" else "FAIL", how))
    bad += how != "reset"
    return 1 if bad else 0


def forged_closed(secret, src, dst, port, me, client, vip, cport, aport):
    key = hashlib.sha256(secret.encode()).digest()
    fp = learn_fingerprint(src, dst, port, me)
    s, listener, cnonce, lnonce, ok = handshake(src, dst, port, me, key, fp)
    if not ok:
        print("FAIL the listener's proof does not check under the cluster's key")
        return 1
    s.sendall(header(HELLO_PROOF, 32, me, 101)
              + proof(key, LABEL_CONNECTOR, me, listener, fp, cnonce, lnonce))
    ip = lambda a: struct.unpack(">I", socket.inet_aton(a))[0]
    s.sendall(header(CLOSED, 16, me, 102)
              + struct.pack(">IIHHB3x", ip(client), ip(vip), cport, aport, 2))
    print("authenticated as node %d to node %d; CLOSED (rst) for %s:%d -> %s:%d sent"
          % (me, listener, client, cport, vip, aport))
    # Read (the listener's heartbeats) for a second: the connection must stay
    # up. Then close at once: the listener replaced the real node's
    # connection with this one, and reconnects when it ends.
    deadline = time.monotonic() + 1
    try:
        while time.monotonic() < deadline:
            s.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                if not s.recv(4096):
                    print("FAIL the listener closed the connection after the CLOSED")
                    return 1
            except socket.timeout:
                pass
    except ConnectionResetError:
        print("FAIL the listener reset the connection after the CLOSED")
        return 1
    finally:
        s.close()
    print("the connection stayed up (the CLOSED was no protocol error)")
    return 0


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
        ("HELLO of protocol version 1", header(HELLO, 16, me, version=1) + bytes(16), "mesh_bad_version"),
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
    if sys.argv[1] == "--wrong-key":
        return wrong_key(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
    if sys.argv[1] == "--closed":
        a = sys.argv[2:]
        return forged_closed(a[0], a[1], a[2], int(a[3]), int(a[4]), a[5], a[6], int(a[7]), int(a[8]))
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
