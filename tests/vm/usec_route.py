#!/usr/bin/python3
"""Adds or deletes a host route with the tcp_usec_ts feature (rtnetlink).

    usec_route.py add ADDR DEV    ADDR/32 dev DEV, features tcp_usec_ts
    usec_route.py del ADDR DEV

TCP connections whose SYN-ACK takes such a route use microsecond
timestamps (Linux 6.7 and later: RTAX_FEATURE_TCP_USEC_TS). Debian 12's
iproute2 (6.1) has no `features tcp_usec_ts` keyword, so the VM test t09-sc
sets the route with this script; `ip route show ADDR` then prints
"features 0x10".

Python 3 standard library only. Exit status 0; 1 if the kernel refused
(its errno printed); 2 on usage errors.
"""

import os
import socket
import struct
import sys

RTM_NEWROUTE, RTM_DELROUTE = 24, 25
NLM_F_REQUEST, NLM_F_ACK, NLM_F_EXCL, NLM_F_CREATE = 0x1, 0x4, 0x200, 0x400
NLMSG_ERROR = 2
RT_TABLE_MAIN, RTPROT_STATIC, RT_SCOPE_LINK, RTN_UNICAST = 254, 4, 253, 1
RTA_DST, RTA_OIF, RTA_METRICS = 1, 4, 8
RTAX_FEATURES = 12
RTAX_FEATURE_TCP_USEC_TS = 1 << 4


def rta(kind, payload):
    """One route attribute, padded to 4 bytes."""
    n = 4 + len(payload)
    return struct.pack("=HH", n, kind) + payload + b"\0" * (-n % 4)


def request(cmd, addr, dev):
    ifindex = socket.if_nametoindex(dev)
    flags = NLM_F_REQUEST | NLM_F_ACK
    if cmd == "add":
        kind = RTM_NEWROUTE
        flags |= NLM_F_CREATE | NLM_F_EXCL
    else:
        kind = RTM_DELROUTE
    rtm = struct.pack("=BBBBBBBBI", socket.AF_INET, 32, 0, 0, RT_TABLE_MAIN,
                      RTPROT_STATIC, RT_SCOPE_LINK, RTN_UNICAST, 0)
    attrs = rta(RTA_DST, socket.inet_aton(addr)) + rta(RTA_OIF, struct.pack("=I", ifindex))
    if cmd == "add":
        metrics = rta(RTAX_FEATURES, struct.pack("=I", RTAX_FEATURE_TCP_USEC_TS))
        attrs += rta(RTA_METRICS, metrics)
    body = rtm + attrs
    return struct.pack("=IHHII", 16 + len(body), kind, flags, 1, 0) + body


def main(argv):
    if len(argv) != 3 or argv[0] not in ("add", "del"):
        sys.stderr.write(__doc__)
        return 2
    cmd, addr, dev = argv
    try:
        msg = request(cmd, addr, dev)
    except (OSError, ValueError) as e:
        sys.stderr.write("usec_route.py: %s\n" % e)
        return 2
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE) as s:
        s.bind((0, 0))
        s.sendto(msg, (0, 0))
        reply = s.recv(65536)
    if len(reply) < 20:
        sys.stderr.write("usec_route.py: short netlink reply\n")
        return 1
    _, kind = struct.unpack_from("=IH", reply)
    if kind != NLMSG_ERROR:
        sys.stderr.write("usec_route.py: unexpected netlink reply type %d\n" % kind)
        return 1
    (err,) = struct.unpack_from("=i", reply, 16)
    if err != 0:
        sys.stderr.write("usec_route.py: %s %s dev %s: %s\n" % (cmd, addr, dev, os.strerror(-err)))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
