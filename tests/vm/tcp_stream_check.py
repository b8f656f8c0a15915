#!/usr/bin/env python3
"""Checks, from a client's capture, what one connection's server side put
on the wire (t13-drain: a response cut on one node and continued on
another).

Reassembles the byte stream the server side (--server ADDR:PORT) sent to
the client (--client ADDR:PORT), from its SYN-ACK's ISN on, keeping the
first captured copy of every byte (the copy the client's TCP kept: a later
one is a duplicate it drops), and checks that:

- no byte is missing: the segments cover the stream from ISN + 1 to its
  end without a gap;
- the stream is exactly one HTTP response head followed by the expected
  body (--body FILE): no byte duplicated, none from a second head; then,
  with --then N, N more whole responses (a head with a Content-Length and
  that many bytes: later requests on the same connection) and nothing
  else;
- segments that overlap bytes already seen carry the same bytes, except
  for at most --max-spliced bytes in all (a continuation's head, which
  the node that continued the response maps onto bytes the client has,
  Documentation/drain.md): reported;
- the data came from at least --min-senders nodes (source MACs).

Prints one line per finding and a summary; exit status 0 if the stream is
right, 1 otherwise. The capture must keep whole segments (tcpdump -s 0),
classic pcap format, Ethernet.

  tcp_stream_check.py --pcap /tmp/big.pcap --server 10.0.0.100:80 \\
      --client 10.0.0.2:27003 --body /shared/d.big --max-spliced 1024
"""

import argparse
import struct
import sys


def addr(s):
    host, _, port = s.rpartition(":")
    return bytes(int(x) for x in host.split(".")), int(port)


def segments(path):
    """Yields (src_mac, saddr, sport, daddr, dport, flags, seq, payload)."""
    with open(path, "rb") as f:
        data = f.read()
    magic = struct.unpack("<I", data[:4])[0]
    if magic in (0xA1B2C3D4, 0xA1B23C4D):
        endian = "<"
    elif magic in (0xD4C3B2A1, 0x4D3CB2A1):
        endian = ">"
    else:
        raise ValueError("not a classic pcap file")
    link = struct.unpack(endian + "I", data[20:24])[0]
    if link != 1:
        raise ValueError("link type %d, not Ethernet" % link)
    at = 24
    while at + 16 <= len(data):
        incl = struct.unpack(endian + "I", data[at + 8:at + 12])[0]
        frame = data[at + 16:at + 16 + incl]
        at += 16 + incl
        if len(frame) < 34 or frame[12:14] != b"\x08\x00":
            continue
        ip = frame[14:]
        ihl = (ip[0] & 15) * 4
        if ip[9] != 6 or len(ip) < ihl + 20:
            continue
        total = struct.unpack("!H", ip[2:4])[0]
        tcp = ip[ihl:total]
        thl = (tcp[12] >> 4) * 4
        sport, dport, seq = struct.unpack("!HHI", tcp[:8])
        payload = tcp[thl:]
        if len(payload) != total - ihl - thl:
            raise ValueError("a truncated segment: capture with -s 0")
        yield (frame[6:12].hex(":"), ip[12:16], sport, ip[16:20], dport, tcp[13], seq,
               payload)


def rest_ok(rest, n):
    """Whether `rest` is exactly `n` whole responses with a Content-Length."""
    for _ in range(n):
        end = rest.find(b"\r\n\r\n")
        if end < 0 or not rest.startswith(b"HTTP/1.1 "):
            return False
        length = None
        for line in rest[:end].split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        if length is None or len(rest) < end + 4 + length:
            return False
        rest = rest[end + 4 + length:]
    return rest == b""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pcap", required=True)
    ap.add_argument("--server", required=True, type=addr)
    ap.add_argument("--client", required=True, type=addr)
    ap.add_argument("--body", required=True)
    ap.add_argument("--max-spliced", type=int, default=0)
    ap.add_argument("--then", type=int, default=0,
                    help="whole responses that follow the body on the connection")
    ap.add_argument("--min-senders", type=int, default=1,
                    help="the data must come from at least this many MACs")
    a = ap.parse_args()
    body = open(a.body, "rb").read()
    isn = None
    stream = bytearray()
    have = bytearray()  # 1 where `stream` holds the first copy of a byte
    spliced = 0
    macs = {}
    for mac, sa, sp, da, dp, flags, seq, payload in segments(a.pcap):
        if (sa, sp, da, dp) != (a.server[0], a.server[1], a.client[0], a.client[1]):
            continue
        if flags & 0x12 == 0x12:
            isn = seq
            continue
        if isn is None or not payload:
            continue
        start = (seq - isn - 1) % (1 << 32)
        end = start + len(payload)
        if start > 1 << 30:
            continue  # below the ISN: not this connection's data
        macs[mac] = macs.get(mac, 0) + len(payload)
        if end > len(stream):
            stream.extend(bytes(end - len(stream)))
            have.extend(bytes(end - len(have)))
        seen = have[start:end]
        if seen.count(1) == 0:
            stream[start:end] = payload
            have[start:end] = b"\x01" * len(payload)
        elif seen.count(0) == 0:
            if stream[start:end] != payload:
                spliced += sum(x != y for x, y in zip(stream[start:end], payload))
        else:
            for i, b in enumerate(payload):
                if have[start + i]:
                    spliced += stream[start + i] != b
                else:
                    stream[start + i] = b
                    have[start + i] = 1
    ok = True
    if isn is None:
        print("no SYN-ACK from the server in the capture")
        return 1
    n = len(stream)
    holes = have.count(0)
    if holes:
        print("%d bytes missing, the first at offset %d" % (holes, have.index(0)))
        ok = False
    stream = bytes(stream)
    head_end = stream.find(b"\r\n\r\n")
    if head_end < 0 or not stream.startswith(b"HTTP/1.1 200 "):
        print("the stream does not start with a 200 head")
        ok = False
    elif stream[head_end + 4:head_end + 4 + len(body)] == body \
            and not rest_ok(stream[head_end + 4 + len(body):], a.then):
        print("after the body: not exactly %d whole response(s) (%d bytes)"
              % (a.then, len(stream) - head_end - 4 - len(body)))
        ok = False
    elif stream[head_end + 4:head_end + 4 + len(body)] != body:
        rest = stream[head_end + 4:]
        first = next((i for i in range(min(len(rest), len(body))) if rest[i] != body[i]),
                     min(len(rest), len(body)))
        print("the body differs from the file: %d bytes for %d, the first difference at %d"
              % (len(rest), len(body), first))
        ok = False
    if spliced > a.max_spliced:
        print("%d overlapping bytes differ from the first copy (at most %d allowed)"
              % (spliced, a.max_spliced))
        ok = False
    if len(macs) < a.min_senders:
        print("the data came from %d MAC(s), not %d or more" % (len(macs), a.min_senders))
        ok = False
    senders = ", ".join("%s %d B" % (m, c) for m, c in sorted(macs.items()))
    print("%s: %d stream bytes, %d overlapping bytes differed (spliced heads), sent by %s"
          % ("ok" if ok else "WRONG", n, spliced, senders))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
