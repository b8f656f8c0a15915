#!/usr/bin/python3
"""Send one TCP SYN carrying a forged DTS handover option (VM test t03).

    forge_syn.py --src IP:PORT --dst IP:PORT [--client IP:PORT] [--vip IP]
                 [--proxy-isn N] [--isn N] [--wait SEC] [--require-synack]
                 [--dry-run] [--spoof]

Builds a SYN from --src to --dst with two options, MSS 1460 and a
valid-looking handover option (rust/pure/hopt.rs, version 1, 20 bytes):

    kind 253, length 20, ExID 0x4454, version 1, flags 0,
    client address (4), client port (2), proxy ISN (4), VIP (4), all big-endian

claiming the connection --client (default: --src itself) to --vip (default:
--dst's address), computes the TCP
checksum over the IPv4 pseudo-header, and sends it on a raw socket
(AF_INET, SOCK_RAW, IPPROTO_TCP; the kernel builds the IP header, with the
source address --src's, to which the socket is bound). Nothing on the cluster
may honour such an option from outside the cluster: the module strips it,
counts it (hopt_forged) and lets the SYN go on as an ordinary one.

With --wait SEC it then listens on the same raw socket for the answer from
--dst to --src (the local stack answers that SYN-ACK with a RST, as no socket
owns the port) and prints it; --require-synack makes a missing SYN-ACK, or an
RST instead, exit 1. --spoof sends from an address that is not local (a
node's): the script builds the IP header itself (IP_HDRINCL); the answer
goes to that address, so there is none to wait for. --dry-run prints the
segment in hex and sends nothing
(no privileges needed). Needs CAP_NET_RAW otherwise. Python 3 stdlib only.
"""

import argparse
import os
import select
import socket
import struct
import sys
import time

from inet import checksum
from tcpopt import tcp_options

HOPT_KIND = 253
HOPT_LEN = 20
HOPT_EXID = 0x4454
HOPT_VERSION = 1
FIN, SYN, RST, ACK = 0x01, 0x02, 0x04, 0x10


def endpoint(text):
    host, sep, port = text.rpartition(":")
    try:
        socket.inet_aton(host)
        port = int(port)
        if not sep or not 0 < port < 65536 or host.count(".") != 3:
            raise ValueError
    except (OSError, ValueError):
        raise argparse.ArgumentTypeError("not an IPv4 address and port: %r" % text)
    return host, port


def ipv4(text):
    try:
        socket.inet_aton(text)
        if text.count(".") != 3:
            raise ValueError
    except (OSError, ValueError):
        raise argparse.ArgumentTypeError("not an IPv4 address: %r" % text)
    return text


def handover_option(client_ip, client_port, proxy_isn, vip):
    """The 20 bytes of a version 1 handover option (rust/pure/hopt.rs)."""
    return struct.pack("!BBHBB4sHI4s", HOPT_KIND, HOPT_LEN, HOPT_EXID, HOPT_VERSION, 0,
                       socket.inet_aton(client_ip), client_port, proxy_isn,
                       socket.inet_aton(vip))


def build_syn(src, dst, isn, option):
    """A SYN (TCP header and options, no payload) with a correct checksum."""
    opts = struct.pack("!BBH", 2, 4, 1460) + option
    assert len(opts) % 4 == 0
    doff = (20 + len(opts)) // 4
    hdr = struct.pack("!HHIIHHHH", src[1], dst[1], isn, 0, (doff << 12) | SYN, 64240, 0, 0)
    seg = hdr + opts
    pseudo = socket.inet_aton(src[0]) + socket.inet_aton(dst[0]) + struct.pack("!BBH", 0, 6, len(seg))
    c = checksum(pseudo + seg)
    return seg[:16] + struct.pack("!H", c) + seg[18:]


def options_of(tcp):
    """[(kind, bytes)] of a TCP header's options."""
    return tcp_options(tcp[20:(tcp[12] >> 4) * 4])


def wait_answer(sock, src, dst, seconds):
    """The first TCP segment from dst to src within SECONDS, as (flags, tcp) or None."""
    end = time.monotonic() + seconds
    while True:
        left = end - time.monotonic()
        if left <= 0:
            return None
        r, _, _ = select.select([sock], [], [], left)
        if not r:
            return None
        pkt = sock.recv(65535)
        if len(pkt) < 20:
            continue
        ihl = (pkt[0] & 0x0F) * 4
        if pkt[9] != 6 or len(pkt) < ihl + 20:
            continue
        sip, dip = socket.inet_ntoa(pkt[12:16]), socket.inet_ntoa(pkt[16:20])
        tcp = pkt[ihl:]
        sport, dport = struct.unpack("!HH", tcp[:4])
        if (sip, sport) == dst and (dip, dport) == src:
            return tcp[13], tcp


def main(argv):
    p = argparse.ArgumentParser(description="Send a SYN with a forged DTS handover option.")
    p.add_argument("--src", type=endpoint, required=True, help="source IP:PORT (a local address)")
    p.add_argument("--dst", type=endpoint, required=True, help="destination IP:PORT")
    p.add_argument("--client", type=endpoint, help="client IP:PORT the option claims (default --src)")
    p.add_argument("--vip", type=ipv4, help="VIP in the option (default --dst's address)")
    p.add_argument("--proxy-isn", type=lambda x: int(x, 0), help="proxy ISN in the option (default random)")
    p.add_argument("--isn", type=lambda x: int(x, 0), help="the SYN's sequence number (default random)")
    p.add_argument("--wait", type=float, default=0, help="seconds to wait for the answer")
    p.add_argument("--require-synack", action="store_true",
                   help="exit 1 unless a SYN-ACK answered within --wait")
    p.add_argument("--dry-run", action="store_true", help="print the segment in hex, send nothing")
    p.add_argument("--spoof", action="store_true",
                   help="--src is not a local address: send with our own IP header (no --wait)")
    a = p.parse_args(argv)
    rnd = lambda: struct.unpack("!I", os.urandom(4))[0]
    client = a.client or a.src
    isn = rnd() if a.isn is None else a.isn & 0xFFFFFFFF
    pisn = rnd() if a.proxy_isn is None else a.proxy_isn & 0xFFFFFFFF
    vip = a.vip or a.dst[0]
    opt = handover_option(client[0], client[1], pisn, vip)
    seg = build_syn(a.src, a.dst, isn, opt)
    desc = ("SYN %s:%d -> %s:%d seq %d, MSS 1460 + handover option (client %s:%d, proxy ISN %d, VIP %s)"
            % (a.src + a.dst + (isn,) + client + (pisn, vip)))
    if a.dry_run:
        print(desc)
        print(seg.hex())
        return 0
    if a.require_synack and a.wait <= 0:
        a.wait = 5
    try:
        s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP)
        if a.spoof:
            # --src is another host's address: the IP header is ours
            # (IP_HDRINCL), so no local address is needed to send it.
            s.setsockopt(socket.IPPROTO_IP, socket.IP_HDRINCL, 1)
            ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(seg), 0, 0, 64, 6, 0,
                             socket.inet_aton(a.src[0]), socket.inet_aton(a.dst[0]))
            ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
            s.sendto(ip + seg, (a.dst[0], 0))
        else:
            s.bind((a.src[0], 0))
            s.sendto(seg, (a.dst[0], 0))
    except OSError as e:
        print("forge_syn: cannot send %s: %s" % (desc, e), file=sys.stderr)
        return 2
    print("sent " + desc)
    if a.wait <= 0:
        return 0
    ans = wait_answer(s, a.src, a.dst, a.wait)
    if ans is None:
        print("no answer from %s:%d within %g s" % (a.dst + (a.wait,)))
        return 1 if a.require_synack else 0
    flags, tcp = ans
    seq, ack = struct.unpack("!II", tcp[4:12])
    opts = options_of(tcp)
    names = {SYN | ACK: "SYN-ACK", RST: "RST", RST | ACK: "RST-ACK"}
    print("answer: %s (flags 0x%02x) seq %d ack %d, options %s"
          % (names.get(flags & 0x3F, "segment"), flags, seq, ack,
             " ".join("%d:%s" % (k, v.hex()) for k, v in opts) or "none"))
    if any(k == HOPT_KIND and v[2:4] == struct.pack("!H", HOPT_EXID) for k, v in opts):
        print("the answer carries a handover option")
        return 1
    if a.require_synack:
        if flags & (SYN | ACK | RST) != SYN | ACK:
            print("want a SYN-ACK")
            return 1
        if ack != (isn + 1) & 0xFFFFFFFF:
            print("the SYN-ACK acknowledges %d, want %d" % (ack, (isn + 1) & 0xFFFFFFFF))
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
