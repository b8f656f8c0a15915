#!/usr/bin/env python3
"""demo_summary.py REQUESTS LOG1 LOG2 ...: the readable summary of the
demo's Zipf workload.

REQUESTS has one line per request: `port owner path http_code bytes ok`
(the client port, the node that accepted the connection, the path, the
HTTP status, the body's size, and 1 if the body was byte-exact). Each LOGn
is node n's dts-proxy log; its line for a request is found by the client
port (`client=ADDR:PORT`). Prints, per request, which node accepted the
connection, the policy's decision and why, and which node served it; then
the bytes served directly by destination nodes against the bytes served by
the accepting nodes themselves, and the failures. Exits 1 if any request
failed.
"""
import re
import sys


def parse_log(path, node):
    by_port = {}
    for line in open(path, errors="replace"):
        m = re.search(r" client=[\d.]+:(\d+) ", line)
        if not m or " path=" not in line:
            continue
        fields = dict(re.findall(r" (\w+)=(\"[^\"]*\"|\S+)", line))
        fields["why"] = fields.get("why", "").strip('"')
        fields["node_log"] = node
        by_port[int(m.group(1))] = fields
    return by_port


def main():
    reqs = [l.split() for l in open(sys.argv[1]) if l.strip()]
    logs = {}
    for i, path in enumerate(sys.argv[2:], start=1):
        logs.update(parse_log(path, i))
    direct = local = failures = handed = 0
    print("%-6s %-9s %-12s %-10s %-14s %-9s %s" % (
        "port", "accepted", "path", "bytes", "decision", "served", "why"))
    for port, owner, path, code, size, ok in reqs:
        port, owner, size = int(port), int(owner), int(size)
        f = logs.get(port, {})
        action = f.get("action", "?")
        served = int(f["node"]) if action == "handover" and "node" in f else owner
        if code != "200" or ok != "1" or not f:
            failures += 1
        if action == "handover":
            handed += 1
            direct += size
        else:
            local += size
        print("%-6d node%-5d %-12s %-10d %-14s node%-5d %s" % (
            port, owner, path, size, f.get("decision", "?"), served, f.get("why", "")))
    n = len(reqs)
    print()
    print("requests: %d, handed over: %d (%.0f%%), served by the accepting node: %d"
          % (n, handed, 100.0 * handed / max(n, 1), n - handed))
    print("response bytes sent straight to the client by the destination node: %d" % direct)
    print("response bytes served by the accepting node itself:                 %d" % local)
    print("response bytes relayed by an accepting node for another node:       0"
          " (a handed-over connection's replies leave from the destination)")
    print("failures: %d" % failures)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
