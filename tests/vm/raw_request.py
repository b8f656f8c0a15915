#!/usr/bin/env python3
"""raw_request.py HOST PORT LOCAL_PORT KIND: sends a bad HTTP request and
prints the first line of the answer, or "closed" if the server closed (or
reset) without one.

KIND: "garbage" (a request line that is not HTTP) or "oversized" (a header
section of 100 000 bytes).
"""
import socket
import sys


def main():
    host, port, lport, kind = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    if kind == "garbage":
        req = b"GARBAGE\r\n\r\n"
    elif kind == "oversized":
        req = b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 100000 + b"\r\n\r\n"
    else:
        sys.exit("unknown kind: " + kind)
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("", lport))
    s.settimeout(30)
    s.connect((host, port))
    try:
        s.sendall(req)
    except OSError:
        pass  # the server may refuse before reading everything
    data = b""
    try:
        while b"\r\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    except OSError:
        pass
    line = data.split(b"\r\n", 1)[0].decode("latin-1")
    print(line if line else "closed")


if __name__ == "__main__":
    main()
