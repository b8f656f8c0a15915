#!/usr/bin/env python3
"""A client that half-closes its connection during the response (t19-sc-edges).

    sc_halfclose.py --vip IP --local-port PORT --path /n3/s4m --out FILE
                    [--rcvbuf BYTES] [--first BYTES] [--pause SECS]
                    [--timeout SECS] [--fin-mark FILE]

Connects from PORT to IP:80, sends one `GET PATH HTTP/1.1` with
`Connection: close` (so that dts-scserver declares the cloned response's
length), reads until it has FIRST bytes of the response (head included,
default 1), then shuts its sending side down (its FIN goes out while the
response still flows) and touches FIN_MARK. With --pause it then reads
nothing for SECS seconds (the response stops at its receive buffer,
--rcvbuf, set before connecting), then reads the rest until the server
closes, each read waiting at most --timeout seconds (default 30).

Writes the body to FILE and prints one line:
    status=200 length=N body=N first=N eof=yes|no error=TEXT
Exit status 0 if the answer was 200 with a Content-Length, the whole body
arrived and the server closed the connection (EOF) after it; 1 otherwise;
2 on a usage error.
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


def main(argv):
    ap = argparse.ArgumentParser(description="half-closing HTTP client")
    ap.add_argument("--vip", required=True)
    ap.add_argument("--local-port", type=int, required=True)
    ap.add_argument("--path", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--rcvbuf", type=int, default=0)
    ap.add_argument("--first", type=int, default=1)
    ap.add_argument("--pause", type=float, default=0.0)
    ap.add_argument("--timeout", type=float, default=30.0)
    ap.add_argument("--fin-mark")
    a = ap.parse_args(argv)

    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if a.rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, a.rcvbuf)
    s.bind(("", a.local_port))
    s.settimeout(a.timeout)
    buf = bytearray()
    eof = False
    error = "-"
    first = 0
    try:
        s.connect((a.vip, 80))
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
        s.close()
    h = head_of(bytes(buf))
    status, length, hlen = h if h else (0, None, len(buf))
    body = bytes(buf[hlen:])
    with open(a.out, "wb") as f:
        f.write(body)
    print("status=%d length=%s body=%d first=%d eof=%s error=%s"
          % (status, "-" if length is None else length, len(body), first,
             "yes" if eof else "no", error.replace(" ", "_")))
    ok = status == 200 and length is not None and len(body) == length and eof
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
