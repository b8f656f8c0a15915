#!/usr/bin/env python3
"""Keep-alive request streams for the drain tests (t13-drain, t14) and the
drain scenario of the benchmark (bench/guest.sh).

One thread per client port: a TCP connection from that port to VIP:PORT
(--port, 80 by default), kept for the whole run, on which the thread
sends one request at a time
until the duration is over: files /d/f1../d/fN in turn (each body checked
against its sha256) and, every fifth request from the first, /who (the serving node's
name, recorded with the time). Any failure ends the thread's stream and is
reported: a connect error, a reset, an early close (the server's FIN),
a timeout, a status other than 200, a body that is not byte-exact. The
connection is never reopened, so a stream that completes proves the
connection survived.

  ka_stream.py --vip 10.0.0.100 --ports 27001,27005 --files 8 \\
      --sums /shared/d.sums --duration 20 --think-ms 200 \\
      --started /tmp/started --out /tmp/streams.json

--started is created once every stream has had its first response.

--paths P1,P2,... requests those paths in turn instead (no /who), each
checked against the --sums line naming it without its leading "/" (the
"SHA256  RELPATH" lines of mkfiles.py --sha, t09-sc). --until FILE ends
every stream, between two requests, once FILE exists (--duration is then
an upper bound).
Exit status: 0 if every stream completed, 1 otherwise.
"""

import argparse
import hashlib
import json
import os
import socket
import sys
import threading
import time


def read_response(sock, deadline):
    """Returns (status, body) of one response with a Content-Length."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        sock.settimeout(max(0.1, deadline - time.monotonic()))
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("the server closed the connection (EOF in a head)")
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    length = None
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    if length is None:
        raise ValueError("a response without Content-Length")
    body = rest
    while len(body) < length:
        sock.settimeout(max(0.1, deadline - time.monotonic()))
        chunk = sock.recv(min(65536, length - len(body)))
        if not chunk:
            raise ConnectionError(
                "the server closed the connection (EOF after %d of %d body bytes)"
                % (len(body), length))
        body += chunk
    if len(body) > length:
        raise ValueError("%d bytes more than Content-Length" % (len(body) - length))
    return status, body


def stream(a, port, sums, out, first, t0):
    rec = {"port": port, "requests": 0, "error": None, "whos": []}
    out.append(rec)
    end = t0 + a.duration
    try:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("", port))
        s.settimeout(30)
        s.connect((a.vip, a.port))
        i = 0
        while time.monotonic() < end:
            if a.until and os.path.exists(a.until) and i > 0:
                break
            if a.paths:
                path = a.paths[i % len(a.paths)]
            elif i % 5 == 0:
                path = "/who"
            else:
                path = "/d/f%d" % (i % a.files + 1)
            s.sendall(("GET %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (path, a.vip)).encode())
            status, body = read_response(s, time.monotonic() + 30)
            if status != 200:
                raise ValueError("%s: status %d" % (path, status))
            if path == "/who":
                rec["whos"].append([round(time.monotonic() - t0, 3),
                                    body.decode(errors="replace").strip()])
            elif hashlib.sha256(body).hexdigest() != sums[
                    path.lstrip("/") if a.paths else path.rsplit("/", 1)[1]]:
                raise ValueError("%s: body not byte-exact (%d bytes)" % (path, len(body)))
            rec["requests"] += 1
            if i == 0:
                first.release()
            i += 1
            time.sleep(a.think_ms / 1000.0)
        s.close()
    except Exception as e:  # any failure ends this stream, reported
        rec["error"] = "%s: %s" % (type(e).__name__, e)
        if rec["requests"] == 0:
            first.release()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--vip", required=True)
    p.add_argument("--port", type=int, default=80)
    p.add_argument("--ports", required=True)
    p.add_argument("--files", type=int, default=0)
    p.add_argument("--paths", type=lambda v: [x if x.startswith("/") else "/" + x
                                              for x in v.split(",") if x])
    p.add_argument("--until")
    p.add_argument("--sums", required=True)
    p.add_argument("--duration", type=float, required=True)
    p.add_argument("--think-ms", type=float, default=200)
    p.add_argument("--started")
    p.add_argument("--out", required=True)
    a = p.parse_args()
    if not a.paths and a.files < 1:
        p.error("--files N (N >= 1) or --paths is required")
    sums = {}
    with open(a.sums) as f:
        for line in f:
            digest, name = line.split()
            sums[name] = digest
    ports = [int(x) for x in a.ports.split(",")]
    out = []
    first = threading.Semaphore(0)
    t0 = time.monotonic()
    threads = [threading.Thread(target=stream, args=(a, port, sums, out, first, t0))
               for port in ports]
    for t in threads:
        t.start()
    for _ in ports:
        first.acquire()
    if a.started:
        open(a.started, "w").close()
    for t in threads:
        t.join()
    with open(a.out, "w") as f:
        json.dump(sorted(out, key=lambda r: r["port"]), f)
    bad = [r for r in out if r["error"]]
    for r in bad:
        print("port %d: %s (after %d requests)" % (r["port"], r["error"], r["requests"]))
    print("%d streams, %d requests, %d failed"
          % (len(out), sum(r["requests"] for r in out), len(bad)))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
