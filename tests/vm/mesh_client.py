#!/usr/bin/env python3
"""Client side of t07-mesh: connections that must survive a node's death,
and new connections while a node dies.

Usage: mesh_client.py VIP PORTS_FILE KILL_REQUEST START_REQUEST OUT_JSON

PORTS_FILE has one "PORT OWNER" line per client source port (OWNER: the
node the rendezvous hash gives that port's SYN with every node up); node 3
is the one killed. The client

1. opens a keep-alive HTTP/1.1 connection ("holder") from two ports of each
   node and checks that GET /whoami names the owner;
2. writes "kill" to KILL_REQUEST (qemu/cluster.sh kills node 3's VM), then
   for 25 s: every 0.25 s opens a new connection
   from a port of node 3's share (connect timeout 0.3 s, then the next
   attempt), and every 0.5 s sends a request on every holder;
   then creates START_REQUEST (node 3 boots again);
3. records when the first connection of node 3's share was answered by a
   surviving node (failover_s), from when on every one was (settled_s: the
   first probe of the unbroken run of answered probes that ends the 25 s),
   each failed probe with its error (timeout, reset, ...), and whether every
   holder on nodes 1 and 2 answered every request.

The nodes declare node 3 down each on its own clock (Documentation/mesh.md,
"Limits"), so right after failover_s a probe may still go unanswered (its
SYN reached a node that had not yet declared node 3 down, and the probe's
0.5 s connect timeout is shorter than the client's SYN retransmission).
That is allowed for SETTLE_S after failover_s; a reset (two nodes answering
one SYN) is never allowed.

Writes the results to OUT_JSON and exits 0 if the surviving holders never
failed, node 3's share was taken over and settled within SETTLE_S of the
failover, and no probe was reset. Times are seconds since the kill request.
"""
import json
import select
import socket
import struct
import sys
import time

HTTP_REQ = b"GET /whoami HTTP/1.1\r\nHost: vip\r\n\r\n"
# How long after the first answered probe the nodes may still disagree on
# node 3 (two heartbeat intervals of 500 ms, plus the guests' timer lag
# under TCG).
SETTLE_S = 2.0
# A probe's connect timeout.
CONNECT_S = 0.5


def kind(e):
    """A short name for a probe's error."""
    if isinstance(e, (socket.timeout, TimeoutError)):
        return "timeout"
    if isinstance(e, ConnectionResetError):
        return "reset"
    if isinstance(e, ConnectionRefusedError):
        return "refused"
    return type(e).__name__


def read_response(s):
    """One HTTP/1.1 response with Content-Length; returns the body."""
    data = b""
    while b"\r\n\r\n" not in data:
        b = s.recv(4096)
        if not b:
            raise ConnectionError("closed in headers")
        data += b
    head, body = data.split(b"\r\n\r\n", 1)
    length = 0
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            length = int(v.strip())
    while len(body) < length:
        b = s.recv(4096)
        if not b:
            raise ConnectionError("closed in body")
        body += b
    return body[:length].decode().strip()


def connect(vip, port, timeout):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port))
    s.settimeout(timeout)
    try:
        s.connect((vip, 80))
    except OSError:
        s.close()
        raise
    s.settimeout(5)
    return s


def ask(s):
    s.sendall(HTTP_REQ)
    return read_response(s)


def main():
    vip, ports_file, kill_req, start_req, out = sys.argv[1:6]
    owner = {}
    for line in open(ports_file):
        p, o = line.split()
        owner[int(p)] = int(o)
    by_node = {n: [p for p, o in sorted(owner.items()) if o == n] for n in (1, 2, 3)}
    res = {"holders": [], "probes": [], "errors": []}
    holders = []
    for n in (1, 2, 3):
        for p in by_node[n][:2]:
            s = connect(vip, p, 10)
            who = ask(s)
            holders.append({"port": p, "owner": n, "sock": s, "who": who, "ok": 0, "failed": 0})
            if who != "node%d" % n:
                res["errors"].append("holder port %d: answered by %s, owner node%d" % (p, who, n))
    share3 = by_node[3][2:]
    t0 = time.monotonic()
    with open(kill_req, "w") as f:
        f.write("kill\n")
    # The holders on node 3 die with it: no more requests on them.
    for h in holders:
        if h["owner"] == 3:
            h["sock"].close()
            h["sock"] = None
    next_hold = 0.0
    i = 0
    first_ok = None
    while time.monotonic() - t0 < 25:
        now = time.monotonic() - t0
        if now >= next_hold:
            next_hold = now + 0.5
            for h in holders:
                if h["sock"] is None:
                    continue
                try:
                    who = ask(h["sock"])
                    if who == h["who"]:
                        h["ok"] += 1
                    else:
                        h["failed"] += 1
                except OSError as e:
                    h["failed"] += 1
                    h["error"] = "%s at %.2f s" % (e, time.monotonic() - t0)
                    h["sock"].close()
                    h["sock"] = None
        port = share3[i % len(share3)]
        i += 1
        t = time.monotonic() - t0
        s = None
        try:
            s = connect(vip, port, CONNECT_S)
            who = ask(s)
            s.close()
            res["probes"].append({"t": round(t, 3), "port": port, "who": who})
            if first_ok is None and who in ("node1", "node2"):
                first_ok = t
        except OSError as e:
            res["probes"].append({"t": round(t, 3), "port": port, "who": None,
                                  "kind": kind(e), "error": str(e)})
            if s is not None:
                # Connected, then no answer: the node that took the SYN died
                # (a probe just before the kill). Abort (RST) rather than
                # close: a FIN to a dead node is retransmitted for minutes,
                # and meanwhile every later probe from this port would fail
                # with EADDRNOTAVAIL (its 4-tuple still in use here).
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                s.close()
        time.sleep(max(0.0, 0.25 - (time.monotonic() - t0 - t)))
    open(start_req, "w").close()
    res["failover_s"] = None if first_ok is None else round(first_ok, 3)
    after = [p for p in res["probes"] if first_ok is not None and p["t"] >= first_ok]
    failed = [p for p in after if p["who"] not in ("node1", "node2")]
    res["after_failover"] = len(after)
    res["after_failover_failed"] = len(failed)
    settled = None
    for p in reversed(res["probes"]):
        if p["who"] not in ("node1", "node2"):
            break
        settled = p["t"]
    res["settled_s"] = settled
    res["resets"] = sum(1 for p in res["probes"] if p.get("kind") == "reset")
    for h in holders:
        d = {k: v for k, v in h.items() if k != "sock"}
        res["holders"].append(d)
    ok = (first_ok is not None and settled is not None and settled - first_ok <= SETTLE_S
          and res["resets"] == 0 and not res["errors"])
    for h in holders:
        if h["owner"] != 3 and (h["failed"] or h["ok"] == 0):
            ok = False
    # Keep the surviving holders open for the rejoin phase: hand their
    # ports to the caller, which asks again after node 3 is back.
    res["ok"] = ok
    json.dump(res, open(out, "w"), indent=1)
    print(json.dumps({k: res[k] for k in ("failover_s", "settled_s", "after_failover",
                                          "after_failover_failed", "resets", "ok")}))
    for p in failed:
        print("after the failover: probe at %.2f s from port %d: %s (%s)" % (
            p["t"], p["port"], p.get("kind", "answered by %s" % p["who"]), p.get("error", "")))
    for h in res["holders"]:
        print("holder port %d owner node%d: %d ok, %d failed %s" % (h["port"], h["owner"], h["ok"], h["failed"], h.get("error", "")))
    # Phase 3 (rejoin) is driven by the test script through stdin: one line
    # "again" means: send one more request on each surviving holder and on a
    # kept failover connection, print the result and exit.
    kept = None
    for p in share3:
        try:
            s = connect(vip, p, 2)
            who = ask(s)
            if who in ("node1", "node2"):
                kept = (p, s, who)
                break
            s.close()
        except OSError:
            pass
    print("ready", flush=True)
    # Until the script says "again", keep the connections busy (nginx
    # closes idle keep-alive connections after 75 s): one request on each
    # every 5 s. A failure here counts like one after the rejoin.
    bad = 0
    while not select.select([sys.stdin], [], [], 5)[0]:
        for h in holders:
            if h["owner"] == 3 or h["sock"] is None:
                continue
            try:
                ask(h["sock"])
            except OSError as e:
                print("while node 3 rejoins: holder port %d FAILED: %s" % (h["port"], e), flush=True)
                h["sock"] = None
                bad += 1
        if kept is not None:
            try:
                ask(kept[1])
            except OSError as e:
                print("while node 3 rejoins: failover connection FAILED: %s" % e, flush=True)
                kept = None
                bad += 1
    sys.stdin.readline()
    for h in holders:
        if h["owner"] == 3 or h["sock"] is None:
            continue
        try:
            who = ask(h["sock"])
            print("after rejoin: holder port %d still served by %s" % (h["port"], who))
            bad += who != h["who"]
        except OSError as e:
            print("after rejoin: holder port %d FAILED: %s" % (h["port"], e))
            bad += 1
    if kept is None:
        print("after rejoin: no failover connection was kept")
        bad += 1
    else:
        p, s, who0 = kept
        try:
            who = ask(s)
            print("after rejoin: failover connection port %d (node 3's share) still served by %s" % (p, who))
            bad += who != who0
        except OSError as e:
            print("after rejoin: failover connection port %d FAILED: %s" % (p, e))
            bad += 1
    return 0 if ok and bad == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
