#!/usr/bin/env python3
"""HTTP clients for t19-sc-edges (Socket Cloning's edges).

    sc_client.py halfclose --vip IP --local-port PORT --path /n3/s4m --out FILE
                    [--rcvbuf BYTES] [--first BYTES] [--pause SECS]
                    [--timeout SECS] [--fin-mark FILE]

Connects from PORT to IP:80, sends one `GET PATH HTTP/1.1` with
`Connection: close` (so that the router must know the cloned response's
length, which the clone's node reports), reads until it has FIRST bytes of the response (head included,
default 1), then shuts its sending side down (its FIN goes out while the
response still flows) and touches FIN_MARK. With --pause it then reads
nothing for SECS seconds (the response stops at its receive buffer,
--rcvbuf, set before connecting), then reads the rest until the server
closes, each read waiting at most --timeout seconds (default 30).

    sc_client.py idle --vip IP --local-port PORT --path /n3/s64k --out FILE
                    --then /n2/s1k --then-out FILE --idle SECS
                    [--timeout SECS] [--idle-mark FILE]

One keep-alive connection: `GET PATH` (persistent: the clone ends once the
client acknowledged the length the clone's node reported), its whole
response read; then
SECS seconds without a segment (IDLE_MARK touched at their start); then
`GET THEN` with `Connection: close`, read until the server closes.

Writes the bodies to the files and prints one line per response:
    status=200 length=N body=N first=N eof=yes|no error=TEXT
Exit status 0 if every answer was 200 with a Content-Length, each whole
body arrived and the server closed the connection (EOF) after the last;
1 otherwise; 2 on a usage error.
"""


import argparse
import socket
import sys
import time


def head_of(buf):
    """(status, content length or None, head length) once the head is in."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return None
    lines = buf[:end].decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
    length = None
    for line in lines[1:]:
        k, _, v = line.partition(":")
        if k.strip().lower() == "content-length" and v.strip().isdigit():
            length = int(v.strip())
    return status, length, end + 4


def read_response(s, buf, eof_ok):
    """Reads one response from `s` (bytes already read in `buf`): (status,
    length, body, rest of buf, eof)."""
    eof = False
    while head_of(bytes(buf)) is None:
        chunk = s.recv(65536)
        if not chunk:
            return 0, None, b"", b"", True
        buf += chunk
    status, length, hlen = head_of(bytes(buf))
    while length is None or len(buf) < hlen + length:
        chunk = s.recv(262144)
        if not chunk:
            eof = True
            break
        buf += chunk
    end = len(buf) if length is None else hlen + length
    if eof_ok and not eof:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                eof = True
                break
            buf += chunk
    return status, length, bytes(buf[hlen:end]), bytes(buf[end:]), eof


def report(status, length, body, first, eof, error):
    print("status=%d length=%s body=%d first=%d eof=%s error=%s"
          % (status, "-" if length is None else length, len(body), first,
             "yes" if eof else "no", error.replace(" ", "_")))
    return status == 200 and length is not None and len(body) == length


def connect(a):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if getattr(a, "rcvbuf", 0):
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, a.rcvbuf)
    s.bind(("", a.local_port))
    s.settimeout(a.timeout)
    s.connect((a.vip, 80))
    return s


def halfclose(a):
    buf = bytearray()
    eof = False
    error = "-"
    first = 0
    s = None
    try:
        s = connect(a)
        s.sendall(b"GET %s HTTP/1.1\r\nHost: sc\r\nConnection: close\r\n\r\n" % a.path.encode())
        while len(buf) < a.first:
            chunk = s.recv(65536)
            if not chunk:
                eof = True
                break
            buf += chunk
        first = len(buf)
        s.shutdown(socket.SHUT_WR)
        if a.fin_mark:
            with open(a.fin_mark, "w") as f:
                f.write("%d\n" % first)
        if a.pause > 0:
            time.sleep(a.pause)
        while not eof:
            chunk = s.recv(262144)
            if not chunk:
                eof = True
                break
            buf += chunk
    except OSError as e:
        error = "%s:%s" % (type(e).__name__, e)
    finally:
        if s:
            s.close()
    h = head_of(bytes(buf))
    status, length, hlen = h if h else (0, None, len(buf))
    body = bytes(buf[hlen:])
    with open(a.out, "wb") as f:
        f.write(body)
    return 0 if report(status, length, body, first, eof, error) and eof else 1


def idle(a):
    results = []
    s = None
    error = "-"
    try:
        s = connect(a)
        s.sendall(b"GET %s HTTP/1.1\r\nHost: sc\r\n\r\n" % a.path.encode())
        status, length, body, rest, eof = read_response(s, bytearray(), False)
        results.append((a.out, status, length, body, eof, False))
        if not eof and not rest:
            if a.idle_mark:
                with open(a.idle_mark, "w") as f:
                    f.write("idle\n")
            time.sleep(a.idle)
            s.sendall(b"GET %s HTTP/1.1\r\nHost: sc\r\nConnection: close\r\n\r\n"
                      % a.then.encode())
            status, length, body, _, eof = read_response(s, bytearray(), True)
            results.append((a.then_out, status, length, body, eof, True))
    except OSError as e:
        error = "%s:%s" % (type(e).__name__, e)
    finally:
        if s:
            s.close()
    # The first response must leave the connection open, the last end it.
    ok = len(results) == 2
    for out, status, length, body, eof, want_eof in results:
        with open(out, "wb") as f:
            f.write(body)
        ok = report(status, length, body, 0, eof, error) and eof == want_eof and ok
    if len(results) < 2:
        print("error=%s after %d response(s)" % (error.replace(" ", "_"), len(results)))
    return 0 if ok else 1


def main(argv):
    ap = argparse.ArgumentParser(description="HTTP clients for t19-sc-edges")
    sub = ap.add_subparsers(dest="mode", required=True)
    h = sub.add_parser("halfclose")
    i = sub.add_parser("idle")
    for p in (h, i):
        p.add_argument("--vip", required=True)
        p.add_argument("--local-port", type=int, required=True)
        p.add_argument("--path", required=True)
        p.add_argument("--out", required=True)
        p.add_argument("--timeout", type=float, default=30.0)
    h.add_argument("--rcvbuf", type=int, default=0)
    h.add_argument("--first", type=int, default=1)
    h.add_argument("--pause", type=float, default=0.0)
    h.add_argument("--fin-mark")
    i.add_argument("--then", required=True)
    i.add_argument("--then-out", required=True)
    i.add_argument("--idle", type=float, required=True)
    i.add_argument("--idle-mark")
    a = ap.parse_args(argv)
    return halfclose(a) if a.mode == "halfclose" else idle(a)

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
