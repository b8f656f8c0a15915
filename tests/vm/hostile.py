#!/usr/bin/python3
"""Hostile traffic at a DTS cluster's VIP (VM test t11-hostile).

    hostile.py flood --dst IP:PORT --seconds S [--rate PPS] [--net A.B.0.0/16]
    hostile.py blind --src IP:PORT --dst IP:PORT --count N [--kind rst|ts]
    hostile.py frag  --src IP:PORT --dst IP:PORT [--wait SEC]
    hostile.py SUBCOMMAND ... --dry-run

flood: spoofed SYNs from random addresses of --net (default 198.18.0.0/15,
the benchmarking range: nothing answers from there) and random ports, at
--rate packets per second (0: as fast as possible) for --seconds; prints
"sent N in T s (R/s)".

blind: what an off-path attacker can do to a live connection it only knows
the 4-tuple of: --count segments from --src (spoofed: the real client's
address and port) to --dst with random sequence and acknowledgement
numbers, each either an RST (--kind rst) or an ACK carrying a timestamp
option with a TSval far in the future (--kind ts, a PAWS poisoning
attempt). The sequence numbers are random over the whole space, so almost
every one is outside the receive window (the chance that one of them lands
inside a 64 KiB window is 2^-16).

frag: one SYN to --dst split into two IPv4 fragments (the TCP header's
first 8 bytes, then the rest); with --wait SEC, listens for a SYN-ACK and
exits 1 if one comes (the module drops fragments to a VIP), 0 otherwise.

--dry-run builds the packets and prints the first in hex without sending
(no privileges needed); otherwise CAP_NET_RAW. Python 3 stdlib only.
"""

import argparse
import random
import select
import socket
import struct
import sys
import time

from inet import checksum


def endpoint(text):
    host, sep, port = text.rpartition(":")
    if not sep:
        raise argparse.ArgumentTypeError(f"{text}: expected IP:PORT")
    socket.inet_aton(host)
    return host, int(port)


def tcp(src, dst, seq, ack, flags, options=b"", window=65535):
    off = (20 + len(options)) // 4
    hdr = struct.pack("!HHIIBBHHH", src[1], dst[1], seq, ack, off << 4, flags, window, 0, 0)
    seg = hdr + options
    pseudo = socket.inet_aton(src[0]) + socket.inet_aton(dst[0]) + struct.pack("!BBH", 0, 6, len(seg))
    c = checksum(pseudo + seg)
    return seg[:16] + struct.pack("!H", c) + seg[18:]


def ip(src, dst, payload, ident, frag_off=0, more=False):
    flags_off = (0x2000 if more else 0) | (frag_off // 8)
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident, flags_off, 64, 6, 0,
                      socket.inet_aton(src), socket.inet_aton(dst))
    return hdr[:10] + struct.pack("!H", checksum(hdr)) + hdr[12:] + payload


SYN, RST, ACK = 0x02, 0x04, 0x10
MSS = struct.pack("!BBH", 2, 4, 1460)


def raw_socket():
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_HDRINCL, 1)
    return s


def flood(a):
    net, bits = a.net.split("/")
    base = struct.unpack("!I", socket.inet_aton(net))[0]
    span = 1 << (32 - int(bits))
    rnd = random.Random(a.seed)
    # A pool of prebuilt packets keeps the sending loop cheap under TCG.
    pool = []
    for i in range(4096):
        src = (socket.inet_ntoa(struct.pack("!I", base + rnd.randrange(1, span - 1))),
               rnd.randrange(1024, 65535))
        seg = tcp(src, a.dst, rnd.getrandbits(32), 0, SYN, MSS)
        pool.append(ip(src[0], a.dst[0], seg, i & 0xFFFF))
    if a.dry_run:
        print(pool[0].hex())
        return 0
    s = raw_socket()
    t0 = time.monotonic()
    end = t0 + a.seconds
    sent = 0
    gap = 1.0 / a.rate if a.rate else 0.0
    while True:
        now = time.monotonic()
        if now >= end:
            break
        for _ in range(64):
            try:
                s.sendto(pool[sent % len(pool)], (a.dst[0], 0))
                sent += 1
            except OSError:
                # A full device queue (ENOBUFS): the flood goes on.
                pass
        if gap:
            ahead = t0 + sent * gap - time.monotonic()
            if ahead > 0:
                time.sleep(ahead)
    t = time.monotonic() - t0
    print(f"sent {sent} in {t:.1f} s ({sent / t:.0f}/s)")
    return 0


def blind(a):
    rnd = random.Random(a.seed)
    pkts = []
    for i in range(a.count):
        seq, ack = rnd.getrandbits(32), rnd.getrandbits(32)
        if a.kind == "rst":
            seg = tcp(a.src, a.dst, seq, 0, RST, window=0)
        else:
            # NOP, NOP, timestamps: TSval two billion ticks ahead of anything.
            ts = struct.pack("!BBBBII", 1, 1, 8, 10, 0x7FFF0000 + i, 0)
            seg = tcp(a.src, a.dst, seq, ack, ACK, ts)
        pkts.append(ip(a.src[0], a.dst[0], seg, rnd.getrandbits(16)))
    if a.dry_run:
        print(pkts[0].hex())
        return 0
    s = raw_socket()
    for p in pkts:
        s.sendto(p, (a.dst[0], 0))
        time.sleep(0.01)
    print(f"sent {len(pkts)} blind {a.kind} segments for {a.src[0]}:{a.src[1]}")
    return 0


def frag(a):
    isn = random.getrandbits(32)
    seg = tcp(a.src, a.dst, isn, 0, SYN, MSS)
    ident = random.getrandbits(16)
    first = ip(a.src[0], a.dst[0], seg[:8], ident, 0, more=True)
    second = ip(a.src[0], a.dst[0], seg[8:], ident, 8, more=False)
    if a.dry_run:
        print(first.hex())
        print(second.hex())
        return 0
    rx = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP)
    s = raw_socket()
    s.sendto(first, (a.dst[0], 0))
    s.sendto(second, (a.dst[0], 0))
    print(f"sent a SYN in two fragments from {a.src[0]}:{a.src[1]} (ISN {isn})")
    deadline = time.monotonic() + a.wait
    while a.wait and time.monotonic() < deadline:
        r, _, _ = select.select([rx], [], [], max(0.0, deadline - time.monotonic()))
        if not r:
            break
        pkt = rx.recv(2048)
        ihl = (pkt[0] & 0xF) * 4
        sport, dport, _, ack, _, flags = struct.unpack("!HHIIBB", pkt[ihl:ihl + 14])
        if socket.inet_ntoa(pkt[12:16]) == a.dst[0] and sport == a.dst[1] and dport == a.src[1]:
            print(f"answer: flags {flags:#04x}, ack {ack}")
            return 1 if flags & SYN else 0
    print("no answer")
    return 0


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("flood")
    f.add_argument("--dst", type=endpoint, required=True)
    f.add_argument("--seconds", type=float, required=True)
    f.add_argument("--rate", type=int, default=0)
    f.add_argument("--net", default="198.18.0.0/15")
    b = sub.add_parser("blind")
    b.add_argument("--src", type=endpoint, required=True)
    b.add_argument("--dst", type=endpoint, required=True)
    b.add_argument("--count", type=int, default=20)
    b.add_argument("--kind", choices=["rst", "ts"], default="rst")
    g = sub.add_parser("frag")
    g.add_argument("--src", type=endpoint, required=True)
    g.add_argument("--dst", type=endpoint, required=True)
    g.add_argument("--wait", type=float, default=0.0)
    for q in (f, b, g):
        q.add_argument("--dry-run", action="store_true")
        q.add_argument("--seed", type=int, default=None)
    a = p.parse_args(argv)
    return {"flood": flood, "blind": blind, "frag": frag}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
