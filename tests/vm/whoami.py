#!/usr/bin/env python3
"""GET /whoami from fixed client ports (VM test t07-mesh, client side).

Each line of PORTS is "PORT OWNER": a client port and the node that owns it
by the rendezvous hash (tests/vm/lib.sh `owners`). Two checks:

  whoami.py partition VIP PORTS
      one connection per port, no retry: node 3 is cut off, so every
      connection must be answered once, by node 1 or 2; nodes 1 and 2 keep
      their own share and take node 3's (at least one). Exit 1 otherwise.
  whoami.py back VIP PORTS (--first N | --last N)
      node 3 is back: the first (last) N of its ports must be answered by
      node 3, each retried for up to 30 s while the connection fails (not
      when another node answers). Exit 1 otherwise.

Prints one line per connection. Python 3 standard library only.
"""

import argparse
import socket
import sys
import time

REQUEST = b"GET /whoami HTTP/1.0\r\n\r\n"


def whoami(vip, port, timeout):
    """The body of GET /whoami to VIP:80 from client port `port` (the
    answering node's name); OSError if the connection fails."""
    s = socket.socket()
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("0.0.0.0", port))
        s.settimeout(timeout)
        s.connect((vip, 80))
        s.sendall(REQUEST)
        data = b""
        while True:
            b = s.recv(4096)
            if not b:
                break
            data += b
        return data.split(b"\r\n\r\n", 1)[-1].decode(errors="replace").strip()
    finally:
        s.close()


def ports_of(path):
    """[(port, owner)] from PORTS."""
    out = []
    for line in open(path):
        f = line.split()
        if len(f) >= 2:
            out.append((int(f[0]), f[1]))
    return out


def partition(vip, ports):
    bad, taken, slowest = 0, 0, 0.0
    for port, owner in ports:
        t0 = time.monotonic()
        try:
            who = whoami(vip, port, 10)
        except OSError as e:
            who = "error %s" % type(e).__name__
        slowest = max(slowest, time.monotonic() - t0)
        # Node 3's share moves to nodes 1 and 2; theirs stays theirs.
        ok = who in ("node1", "node2") and (owner == "3" or who == "node" + owner)
        taken += owner == "3" and ok
        bad += not ok
        print("port %d (owner %s): %s%s" % (port, owner, who, "" if ok else "  <-- wrong"))
    print("%d wrong; %d of node 3's share taken by nodes 1 and 2; slowest %.2f s" % (bad, taken, slowest))
    return 0 if not bad and taken else 1


def back(vip, ports):
    for port in ports:
        t0 = time.monotonic()
        while True:
            try:
                who = whoami(vip, port, 5)
            except OSError as e:
                if time.monotonic() - t0 > 30:
                    print("port %d: %s" % (port, e))
                    return 1
                time.sleep(0.5)
                continue
            print("port %d: %s" % (port, who))
            if who != "node3":
                return 1
            break
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("mode", choices=("partition", "back"))
    ap.add_argument("vip")
    ap.add_argument("ports")
    n = ap.add_mutually_exclusive_group()
    n.add_argument("--first", type=int)
    n.add_argument("--last", type=int)
    a = ap.parse_args()
    ports = ports_of(a.ports)
    if a.mode == "partition":
        return partition(a.vip, ports)
    mine = [p for p, o in ports if o == "3"]
    if a.first is not None:
        mine = mine[: a.first]
    elif a.last is not None:
        mine = mine[-a.last:]
    return back(a.vip, mine)


if __name__ == "__main__":
    sys.exit(main())
