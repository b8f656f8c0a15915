#!/usr/bin/python3
"""Check one handed-over TCP connection in a client-side capture.

    pcap_check.py PCAP --client IP:PORT --server IP:PORT --owner-mac MAC
                  [--dest-mac MAC] [--expect-body N] [--expect-status CODE]
                  [--strict]
    pcap_check.py PCAP --client IP:PORT --server IP:PORT --owner-mac MAC
                  --sc-senders MAC,MAC,... [--expect-status CODE] [--strict]

PCAP is a classic pcap file (any byte order, microsecond or nanosecond
timestamps) of Ethernet frames, as `tcpdump -i eth0 -w` writes it on the
client. The snap length may be short: payload lengths come from the IPv4
total length, and only the HTTP response header has to be captured in full
(a snap length of 512 bytes is plenty).

The connection is CLIENT <-> SERVER (e.g. 10.0.0.2:42000 <-> 10.0.0.100:80).
The node that accepted it (the rendezvous-hash owner) has OWNER-MAC; the node
it was handed over to has DEST-MAC (omit it, or give the owner's, when no
handover is expected). Checks:

  - exactly one connection: every client SYN has the same sequence number;
  - every SYN-ACK comes from the owner's MAC and acknowledges the client's ISN;
  - server -> client segments come from the owner's or the destination's MAC
    only; from the first one sent by the destination on, every one comes
    from the destination (the owner sends nothing more for the flow); with a
    handover expected, the destination sent at least one;
  - no segment reaches the client's port from any address but the server's
    (no untranslated internal address leaks);
  - the server's sequence numbers run on from the SYN-ACK: no data before
    ISN+1, and every byte up to the highest one seen was seen (a hole left by
    a lost frame must be filled by a retransmission; with --strict, any
    segment that starts beyond the highest byte seen so far fails); a FIN
    comes right after the last data byte;
  - the client's ACKs never go backwards, and it acknowledged all the data
    (exact copies of an earlier client frame, IP ID included, are skipped:
    on the rig's hub a promiscuous capture sees the client's frames twice);
  - no RST in either direction; with --reordered, but for an RST from the
    client at its FIN's sequence number + 1 once the close was complete
    (the server acknowledged the client's FIN and the client the server's):
    the client's stack answers a segment that arrived after it closed (a
    TIME_WAIT's re-ACK of a reordered duplicate), as any stack does;
  - the server's TSvals (timestamp option) never go backwards, across the
    handover too (the client's view of one clock); with --reordered (the
    network reorders packets), by at most 1000 ticks (a clock that was not
    translated is off by a random 32-bit offset), and the client's ACKs
    may arrive out of order;
  - with --expect-ts: the client's SYN offered timestamps, and the SYN-ACK
    and every later server segment carry them; with --expect-no-ts: no
    segment of the flow has a timestamp option;
  - with --expect-status / --expect-body: the HTTP status code, and the body
    length (bytes after the response header, which must also agree with any
    Content-Length).

With --senders MAC,MAC,... (a keep-alive connection handed over again and
again) the owner/destination rule is replaced: the nodes that sent the
server's new data, in order and with consecutive repeats merged, must be
exactly that list (the first is the owner's), and no server segment may come
from another MAC. --dest-mac is then ignored.

With --sc-senders MAC,MAC,... (socket cloning: a keep-alive connection whose
responses are each sent by the node that cloned it, or by the original node
that accepted it) the connection carries exactly one HTTP response per MAC
given, in that order. The responses are delimited by their headers'
Content-Length (every header must be captured: a response must start within
the snap length of a captured segment, as it does when it opens a segment),
and every server segment carrying new data within a response (a
retransmission is not new data) must come from that response's MAC; server
segments without new data (ACKs, retransmissions) may come from the owner or
any MAC given, no server segment from another one. The SYN-ACK still comes
from --owner-mac (the node that accepted the connection); --dest-mac and
--senders do not apply. --expect-status then applies to every response;
--expect-body is refused.

Prints a summary, then "OK" or one "FAIL: reason" line per failed check.
Exit status: 0 all checks passed, 1 a check failed, 2 usage or unreadable
capture. Python 3 standard library only.
"""

import argparse
import bisect
import struct
import sys

from tcpopt import tcp_options

LINKTYPE_ETHERNET = 1
ETH_P_IP = 0x0800
VLAN_TYPES = (0x8100, 0x88A8)
FIN, SYN, RST, ACK = 0x01, 0x02, 0x04, 0x10
HEADER_PREFIX = 16384  # bytes of the server's stream kept for the HTTP header


class Usage(Exception):
    """Bad arguments or an unreadable capture (exit status 2)."""


def seq_diff(a, b):
    """a - b in 32-bit sequence space, as a signed number."""
    d = (a - b) & 0xFFFFFFFF
    return d - (1 << 32) if d >= (1 << 31) else d


def parse_endpoint(text):
    try:
        host, port = text.rsplit(":", 1)
        parts = [int(x) for x in host.split(".")]
        port = int(port)
        if len(parts) != 4 or not all(0 <= x <= 255 for x in parts) or not 0 < port < 65536:
            raise ValueError
    except ValueError:
        raise Usage("not an IPv4 address and port: %r" % text)
    return bytes(parts), port


def parse_mac(text):
    try:
        b = bytes(int(x, 16) for x in text.split(":"))
        if len(b) != 6:
            raise ValueError
    except ValueError:
        raise Usage("not a MAC address: %r" % text)
    return b


def fmt_mac(b):
    return ":".join("%02x" % x for x in b)


def fmt_ip(b):
    return ".".join(str(x) for x in b)


def read_pcap(path):
    """Yield (index, timestamp, frame bytes) for every record of a classic pcap."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise Usage("cannot read %s: %s" % (path, e))
    if len(data) < 24:
        raise Usage("%s: not a pcap file (%d bytes)" % (path, len(data)))
    magic = data[:4]
    formats = {
        b"\xd4\xc3\xb2\xa1": ("<", 1e-6),
        b"\xa1\xb2\xc3\xd4": (">", 1e-6),
        b"\x4d\x3c\xb2\xa1": ("<", 1e-9),
        b"\xa1\xb2\x3c\x4d": (">", 1e-9),
    }
    if magic not in formats:
        raise Usage("%s: not a classic pcap file (magic %s; pcapng is not supported)"
                    % (path, magic.hex()))
    endian, unit = formats[magic]
    linktype = struct.unpack(endian + "I", data[20:24])[0] & 0x0FFFFFFF
    if linktype != LINKTYPE_ETHERNET:
        raise Usage("%s: link type %d, want Ethernet (1): capture on eth0, not 'any'"
                    % (path, linktype))
    rec = struct.Struct(endian + "IIII")
    off, index = 24, 0
    while off < len(data):
        if off + 16 > len(data):
            raise Usage("%s: truncated record header at offset %d" % (path, off))
        sec, frac, incl, _orig = rec.unpack_from(data, off)
        off += 16
        if off + incl > len(data):
            raise Usage("%s: truncated record %d at offset %d" % (path, index, off))
        yield index, sec + frac * unit, data[off:off + incl]
        off += incl
        index += 1


class Segment:
    __slots__ = ("index", "ts", "src_mac", "src", "dst", "sport", "dport", "seq", "ack",
                 "flags", "win", "plen", "payload", "opts", "tsopt")


def parse_options(area):
    """(kinds, (tsval, tsecr) or None) of a TCP options area; a malformed
    option ends it and is not counted."""
    kinds, tsopt = [], None
    for k, b in tcp_options(area):
        if len(b) < 2 or b[1] != len(b):
            break
        kinds.append(k)
        if k == 8 and len(b) == 10:
            tsopt = struct.unpack_from(">II", b, 2)
    return kinds, tsopt


def parse_frame(index, ts, frame):
    """A Segment for an IPv4/TCP frame (first fragment only), else None."""
    if len(frame) < 14:
        return None
    src_mac = frame[6:12]
    etype = struct.unpack_from(">H", frame, 12)[0]
    off = 14
    while etype in VLAN_TYPES and len(frame) >= off + 4:
        etype = struct.unpack_from(">H", frame, off + 2)[0]
        off += 4
    if etype != ETH_P_IP or len(frame) < off + 20:
        return None
    vihl, _tos, tot_len, _id, frag, _ttl, proto = struct.unpack_from(">BBHHHBB", frame, off)
    if vihl >> 4 != 4 or proto != 6 or frag & 0x1FFF:
        return None
    ihl = (vihl & 0x0F) * 4
    if ihl < 20:
        return None
    src, dst = frame[off + 12:off + 16], frame[off + 16:off + 20]
    t = off + ihl
    if len(frame) < t + 20:
        return None  # snap length too short for the TCP header
    sport, dport, seq, ack, doff_flags, win = struct.unpack_from(">HHIIHH", frame, t)
    doff = (doff_flags >> 12) * 4
    if tot_len == 0:  # e.g. a TSO frame on the sending host: trust the frame
        tot_len = len(frame) - off
    s = Segment()
    s.index, s.ts, s.src_mac, s.src, s.dst = index, ts, src_mac, src, dst
    s.sport, s.dport, s.seq, s.ack = sport, dport, seq, ack
    s.flags, s.win = doff_flags & 0x3F, win
    s.plen = max(0, tot_len - ihl - doff)
    s.opts, s.tsopt = parse_options(frame[t + 20:min(len(frame), t + doff)])
    # Captured payload: stops at the snap length and never includes padding.
    s.payload = frame[t + doff:min(len(frame), off + tot_len)]
    return s


def flag_names(flags):
    names = [n for bit, n in ((SYN, "S"), (FIN, "F"), (RST, "R"), (0x08, "P"), (ACK, "."))
             if flags & bit]
    return "".join(names) or "none"


class Checker:
    def __init__(self, args):
        self.client_ip, self.client_port = parse_endpoint(args.client)
        self.server_ip, self.server_port = parse_endpoint(args.server)
        self.owner = parse_mac(args.owner_mac)
        self.dest = parse_mac(args.dest_mac) if args.dest_mac else self.owner
        self.senders = ([parse_mac(m) for m in args.senders.split(",")]
                        if args.senders else None)
        self.sc_senders = ([parse_mac(m) for m in args.sc_senders.split(",")]
                           if getattr(args, "sc_senders", None) else None)
        if self.senders is not None or self.sc_senders is not None:
            self.dest = self.owner
        self.runs = []             # --senders: the data senders seen, in order
        self.sc_new = []           # --sc-senders: (rel, end, mac) of new-data segments
        self.sc_payload = {}       # --sc-senders: rel -> the longest captured payload there
        self.sc_maxlen = 0         # --sc-senders: the longest captured payload
        self.sc_responses = []     # --sc-senders: (start, end, status, header len, body len)
        self.sc_bytes = {}         # --sc-senders: new data bytes by sender MAC
        self.handover = self.dest != self.owner
        self.args = args
        self.fails = []
        self.c_isn = None          # client SYN sequence number
        self.s_isn = None          # server SYN-ACK sequence number
        self.synacks = 0
        self.handover_pkt = None   # first server segment from the destination
        self.owner_after = 0       # owner segments after that
        self.s2c = self.c2s = 0
        self.from_owner = self.from_dest = 0
        self.ranges = []           # server data byte ranges, relative to ISN+1
        self.highest = 0           # highest relative end of the server's data seen
        self.max_rel = 0           # highest relative sequence number of any segment
        self.jumps = []            # (at, to, packet index) segments beyond it
        self.fins = set()
        self.last_ack = None       # client's last ACK (absolute)
        self.c_fin_next = None     # the client's FIN's sequence number + 1
        self.cfin_acked = False    # the server acknowledged the client's FIN
        self.late_rsts = 0         # client RSTs after a complete close (--reordered)
        self.max_ack_rel = None
        self.prefix = bytearray(HEADER_PREFIX)
        self.known = bytearray(HEADER_PREFIX)  # 1 where prefix holds a captured byte
        self.retrans_bytes = 0
        self.pkts = 0
        self.client_frames = set()  # the client's frames from the IP header on
        self.client_dups = 0
        self.t_first = self.t_handover = self.t_last = None
        self.syn_opts = None        # option kinds of the client's SYN
        self.ts_segs = 0            # segments with a timestamp option
        self.s_tsval = None         # the server's last TSval
        self.s_tsval_first = None
        self.ts_backwards = 0
        self.t_syn = self.t_synack = None   # handshake as the client saw it
        self.t_request = None       # the client's first data segment
        self.t_first_dest_data = None  # the destination's first data segment

    def fail(self, msg):
        if msg not in self.fails:
            self.fails.append(msg)

    def run(self, path):
        for index, ts, frame in read_pcap(path):
            s = parse_frame(index, ts, frame)
            if s is None:
                continue
            if s.src == self.client_ip and s.sport == self.client_port:
                if s.dst == self.server_ip and s.dport == self.server_port:
                    # On the rig's hub (QEMU multicast sockets with loopback)
                    # a capture in promiscuous mode also sees the client's own
                    # frames come back, later: skip exact copies (IP ID and
                    # all) of a frame already seen.
                    ip = frame[14:]
                    if ip in self.client_frames:
                        self.client_dups += 1
                        continue
                    self.client_frames.add(ip)
                    self.client_segment(s)
            elif s.dst == self.client_ip and s.dport == self.client_port:
                if s.src == self.server_ip and s.sport == self.server_port:
                    self.server_segment(s)
                else:
                    self.fail("packet %d: segment to the client's port from %s:%d, not from "
                              "the server %s:%d (untranslated address?)"
                              % (s.index, fmt_ip(s.src), s.sport, fmt_ip(self.server_ip),
                                 self.server_port))
        self.finish()

    def note(self, s):
        self.pkts += 1
        if self.t_first is None:
            self.t_first = s.ts
        self.t_last = s.ts

    def timestamps(self, s, where):
        if s.tsopt is not None:
            self.ts_segs += 1
            if self.args.expect_no_ts:
                self.fail("%s: a timestamp option, but none was negotiated" % where)
        if s.src != self.server_ip or s.flags & RST:
            return
        if s.tsopt is None:
            if self.args.expect_ts:
                self.fail("%s: a server segment without a timestamp option" % where)
            return
        tsval = s.tsopt[0]
        if self.s_tsval is None:
            self.s_tsval_first = tsval
        elif seq_diff(tsval, self.s_tsval) < -(1000 if self.args.reordered else 0):
            self.ts_backwards += 1
            self.fail("%s: the server's TSval went backwards (%d after %d; MAC %s)"
                      % (where, tsval, self.s_tsval, fmt_mac(s.src_mac)))
        if self.s_tsval is None or seq_diff(tsval, self.s_tsval) > 0:
            self.s_tsval = tsval

    def client_segment(self, s):
        self.note(s)
        self.c2s += 1
        self.timestamps(s, "packet %d (client, %s)" % (s.index, flag_names(s.flags)))
        if s.plen and self.t_request is None:
            self.t_request = s.ts
        if s.flags & SYN and not s.flags & ACK and self.t_syn is None:
            self.t_syn = s.ts
        if s.flags & SYN and not s.flags & ACK and self.syn_opts is None:
            self.syn_opts = s.opts
            if self.args.expect_ts and 8 not in s.opts:
                self.fail("packet %d: the client's SYN offers no timestamps" % s.index)
        if s.flags & RST:
            if self.args.reordered and self.closed() and s.seq == self.c_fin_next:
                self.late_rsts += 1
            else:
                self.fail("packet %d: RST from the client (flags %s)"
                          % (s.index, flag_names(s.flags)))
            return
        if s.flags & FIN and self.c_fin_next is None:
            self.c_fin_next = (s.seq + len(s.payload) + 1) & 0xFFFFFFFF
        if s.flags & SYN and not s.flags & ACK:
            if self.c_isn is None:
                self.c_isn = s.seq
            elif s.seq != self.c_isn:
                self.fail("packet %d: a second client SYN with another ISN (%d, first %d): "
                          "the capture holds more than one connection from this port"
                          % (s.index, s.seq, self.c_isn))
            return
        if s.flags & ACK:
            if (self.last_ack is not None and seq_diff(s.ack, self.last_ack) < 0
                    and not self.args.reordered):
                self.fail("packet %d: the client's ACK went backwards (%d after %d)"
                          % (s.index, s.ack, self.last_ack))
            if self.last_ack is None or seq_diff(s.ack, self.last_ack) > 0:
                self.last_ack = s.ack
            if self.s_isn is not None:
                rel = seq_diff(s.ack, self.s_isn + 1)
                if self.max_ack_rel is None or rel > self.max_ack_rel:
                    self.max_ack_rel = rel

    def closed(self):
        """Whether the close was complete: the server acknowledged the
        client's FIN, and the client the server's."""
        return (self.cfin_acked and bool(self.fins) and self.max_ack_rel is not None
                and self.max_ack_rel >= max(self.fins) + 1)

    def server_segment(self, s):
        if (self.c_fin_next is not None and s.flags & ACK
                and seq_diff(s.ack, self.c_fin_next) >= 0):
            self.cfin_acked = True
        self.note(s)
        self.s2c += 1
        where = "packet %d (%s)" % (s.index, flag_names(s.flags))
        self.timestamps(s, where)
        if s.flags & RST:
            self.fail("%s: RST from the server side (MAC %s)" % (where, fmt_mac(s.src_mac)))
        # Who sent it.
        if self.sc_senders is not None:
            if s.src_mac != self.owner and s.src_mac not in self.sc_senders:
                self.fail("%s: server segment from MAC %s, neither the owner's (%s) nor one "
                          "of the responses' senders" % (where, fmt_mac(s.src_mac),
                                                          fmt_mac(self.owner)))
        elif self.senders is not None:
            if s.src_mac not in self.senders:
                self.fail("%s: server segment from MAC %s, not one of the senders"
                          % (where, fmt_mac(s.src_mac)))
            elif (s.plen and self.s_isn is not None
                  and seq_diff(s.seq, self.s_isn + 1) + s.plen > self.highest
                  and (not self.runs or self.runs[-1] != s.src_mac)):
                self.runs.append(s.src_mac)
        elif s.src_mac == self.owner:
            self.from_owner += 1
            if self.handover and self.handover_pkt is not None:
                self.owner_after += 1
                self.fail("%s: the owner (%s) sent a segment after the destination took "
                          "over at packet %d" % (where, fmt_mac(self.owner), self.handover_pkt))
        elif s.src_mac == self.dest:
            self.from_dest += 1
            if s.plen and self.t_first_dest_data is None:
                self.t_first_dest_data = s.ts
            if self.handover_pkt is None:
                self.handover_pkt, self.t_handover = s.index, s.ts
        else:
            self.fail("%s: server segment from MAC %s, neither the owner's (%s) nor the "
                      "destination's (%s)" % (where, fmt_mac(s.src_mac), fmt_mac(self.owner),
                                              fmt_mac(self.dest)))
        if s.flags & SYN:
            if not s.flags & ACK:
                self.fail("%s: a SYN without ACK from the server side" % where)
                return
            self.synacks += 1
            if self.t_synack is None:
                self.t_synack = s.ts
            if s.src_mac != self.owner:
                self.fail("%s: SYN-ACK from MAC %s, not from the owner (%s)"
                          % (where, fmt_mac(s.src_mac), fmt_mac(self.owner)))
            if self.c_isn is not None and s.ack != (self.c_isn + 1) & 0xFFFFFFFF:
                self.fail("%s: the SYN-ACK acknowledges %d, not the client's ISN+1 (%d)"
                          % (where, s.ack, (self.c_isn + 1) & 0xFFFFFFFF))
            if self.s_isn is None:
                self.s_isn = s.seq
            elif s.seq != self.s_isn:
                self.fail("%s: SYN-ACK with ISN %d, an earlier one had %d"
                          % (where, s.seq, self.s_isn))
            return
        if self.s_isn is None:
            self.fail("%s: server segment before any SYN-ACK" % where)
            return
        rel = seq_diff(s.seq, self.s_isn + 1)
        end = rel + s.plen
        if s.plen:
            if rel < 0:
                self.fail("%s: data at relative sequence %d, before the first byte after the "
                          "SYN-ACK (ISN %d)" % (where, rel, self.s_isn))
                return
            if end <= self.highest:
                self.retrans_bytes += s.plen
            elif self.sc_senders is not None:
                self.sc_new.append((rel, end, s.src_mac))
            if self.sc_senders is not None and s.payload:
                if len(s.payload) > len(self.sc_payload.get(rel, b"")):
                    self.sc_payload[rel] = s.payload
                    self.sc_maxlen = max(self.sc_maxlen, len(s.payload))
            self.ranges.append((rel, end))
            # Keep the HTTP header's bytes.
            for i, b in enumerate(s.payload[:max(0, HEADER_PREFIX - rel)]):
                self.prefix[rel + i] = b
                self.known[rel + i] = 1
        # The next sequence number the server may use: after the highest data
        # byte seen, or one more once a FIN there was seen.
        nxt = self.highest + (1 if self.highest in self.fins else 0)
        if rel > nxt:
            self.jumps.append((nxt, rel, s.index))
            if self.args.strict:
                self.fail("%s: starts at relative sequence %d, beyond the highest byte seen "
                          "so far (%d): a gap of %d bytes" % (where, rel, nxt, rel - nxt))
        self.max_rel = max(self.max_rel, rel)
        if s.flags & FIN:
            self.fins.add(end)
        self.highest = max(self.highest, end)

    def coverage(self):
        """(covered end, [holes]) of the server's data ranges, merged."""
        holes, covered = [], 0
        for a, b in sorted(self.ranges):
            if a > covered:
                holes.append((covered, a))
            covered = max(covered, b)
        return covered, holes

    def http(self, data_end):
        """(status, header length, content length or None) or None if not found."""
        n = 0
        while n < min(data_end, HEADER_PREFIX) and self.known[n]:
            n += 1
        head = bytes(self.prefix[:n])
        cut = head.find(b"\r\n\r\n")
        if cut < 0:
            return None
        lines = head[:cut].decode("latin-1").split("\r\n")
        parts = lines[0].split()
        if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
            return None
        clen = None
        for line in lines[1:]:
            k, _, v = line.partition(":")
            if k.strip().lower() == "content-length" and v.strip().isdigit():
                clen = int(v.strip())
        return int(parts[1]), cut + 4, clen

    def finish(self):
        a = self.args
        if self.pkts == 0:
            self.fail("no segment of %s:%d <-> %s:%d in the capture"
                      % (fmt_ip(self.client_ip), self.client_port, fmt_ip(self.server_ip),
                         self.server_port))
            return
        if self.c_isn is None:
            self.fail("no SYN from the client")
        if self.s_isn is None:
            self.fail("no SYN-ACK from the server side")
            return
        if self.senders is not None and self.runs != self.senders:
            self.fail("the server's data came from %s (%d runs), want %s (%d)"
                      % (",".join(fmt_mac(m) for m in self.runs), len(self.runs),
                         ",".join(fmt_mac(m) for m in self.senders), len(self.senders)))
        if self.handover and self.handover_pkt is None:
            self.fail("no segment from the destination (%s): the connection was not handed "
                      "over" % fmt_mac(self.dest))
        data_end, holes = self.coverage()
        self.data_end = data_end
        for lo, hi in holes:
            if self.max_ack_rel is not None and self.max_ack_rel >= hi:
                why = ("although the client acknowledged them: the capture lost them "
                       "(tcpdump dropped packets?)")
            else:
                why = "and the client never acknowledged them: the sequence space has a gap"
            self.fail("server bytes %d..%d (relative to ISN+1) never seen, %s" % (lo, hi, why))
        limit = data_end + (1 if data_end in self.fins else 0)
        if self.max_rel > limit:
            # A segment without data whose sequence number ran ahead of all data.
            self.fail("a server segment's sequence number (%d relative) is beyond the last "
                      "data byte seen (%d)" % (self.max_rel, data_end))
        for f in sorted(self.fins):
            if f != data_end:
                self.fail("server FIN at relative sequence %d, not right after the last data "
                          "byte (%d)" % (f, data_end))
        if data_end and (self.max_ack_rel is None or self.max_ack_rel < data_end):
            self.fail("the client acknowledged only %s of %d server bytes"
                      % (self.max_ack_rel, data_end))
        if self.sc_senders is not None:
            self.sc_finish(data_end)
            return
        self.head = self.http(data_end) if data_end else None
        if a.expect_status is not None or a.expect_body is not None:
            if self.head is None:
                self.fail("no complete HTTP response header in the captured bytes (snap length "
                          "too short, or not HTTP)")
                return
            status, hlen, clen = self.head
            body = data_end - hlen
            if a.expect_status is not None and status != a.expect_status:
                self.fail("HTTP status %d, want %d" % (status, a.expect_status))
            if a.expect_body is not None and body != a.expect_body:
                self.fail("%d body bytes on the wire, want %d" % (body, a.expect_body))
            if clen is not None and body != clen:
                self.fail("%d body bytes on the wire, but Content-Length is %d" % (body, clen))

    def sc_read(self, pos, limit):
        """Up to LIMIT captured bytes of the server's stream from relative
        position POS on (fewer where the capture has none)."""
        starts = self.sc_starts
        out = bytearray()
        while len(out) < limit:
            i = bisect.bisect_right(starts, pos) - 1
            best = None
            while i >= 0 and starts[i] > pos - self.sc_maxlen:
                st = starts[i]
                end = st + len(self.sc_payload[st])
                if end > pos and (best is None or end > best[1]):
                    best = (st, end)
                i -= 1
            if best is None:
                break
            take = min(best[1], pos + limit - len(out))
            out += self.sc_payload[best[0]][pos - best[0]:take - best[0]]
            pos = take
        return bytes(out)

    def sc_header(self, pos):
        """(status, header length, Content-Length or None) of the HTTP
        response header captured at POS, or None."""
        head = self.sc_read(pos, HEADER_PREFIX)
        cut = head.find(b"\r\n\r\n")
        if cut < 0:
            return None
        lines = head[:cut].decode("latin-1").split("\r\n")
        parts = lines[0].split()
        if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
            return None
        clen = None
        for line in lines[1:]:
            k, _, v = line.partition(":")
            if k.strip().lower() == "content-length" and v.strip().isdigit():
                clen = int(v.strip())
        return int(parts[1]), cut + 4, clen

    def sc_finish(self, data_end):
        """--sc-senders: delimit the responses, check each one's sender."""
        a = self.args
        want = self.sc_senders
        self.sc_starts = sorted(self.sc_payload)
        pos = 0
        for n in range(len(want)):
            if pos >= data_end:
                self.fail("%d response(s) on the wire, want %d" % (n, len(want)))
                break
            head = self.sc_header(pos)
            if head is None:
                self.fail("response %d (at relative byte %d): no complete HTTP response header "
                          "captured there (snap length too short, not HTTP, or an offset "
                          "error)" % (n + 1, pos))
                break
            status, hlen, clen = head
            if clen is None:
                self.fail("response %d (at relative byte %d): no Content-Length, cannot "
                          "delimit it" % (n + 1, pos))
                break
            self.sc_responses.append((pos, pos + hlen + clen, status, hlen, clen))
            if a.expect_status is not None and status != a.expect_status:
                self.fail("response %d: HTTP status %d, want %d" % (n + 1, status,
                                                                    a.expect_status))
            pos += hlen + clen
        else:
            if pos < data_end:
                self.fail("%d server bytes after the %d expected responses (relative bytes "
                          "%d..%d)" % (data_end - pos, len(want), pos, data_end))
        if pos > data_end and self.sc_responses:
            self.fail("response %d is incomplete: it ends at relative byte %d, the server's "
                      "data at %d" % (len(self.sc_responses), pos, data_end))
        # Who sent each response's new data.
        starts = [r[0] for r in self.sc_responses]
        wrong = {}   # response index -> {mac: segments}
        for rel, end, mac in self.sc_new:
            self.sc_bytes[mac] = self.sc_bytes.get(mac, 0) + end - rel
            i = max(0, bisect.bisect_right(starts, rel) - 1)
            while i < len(self.sc_responses) and self.sc_responses[i][0] < end:
                if self.sc_responses[i][1] > rel and mac != want[i]:
                    wrong.setdefault(i, {})
                    wrong[i][mac] = wrong[i].get(mac, 0) + 1
                i += 1
        for i in sorted(wrong):
            r0, r1, status, _hlen, clen = self.sc_responses[i]
            self.fail("response %d (relative bytes %d..%d, HTTP %d, body %d): new data from %s, "
                      "want all of it from %s"
                      % (i + 1, r0, r1, status, clen,
                         ", ".join("%s (%d segment(s))" % (fmt_mac(m), k)
                                   for m, k in sorted(wrong[i].items())),
                         fmt_mac(want[i])))

    def summary(self):
        out = ["flow %s:%d <-> %s:%d: %d packets (%d from the client, %d to it)"
               % (fmt_ip(self.client_ip), self.client_port, fmt_ip(self.server_ip),
                  self.server_port, self.pkts, self.c2s, self.s2c)]
        if self.pkts:
            out.append("  client ISN %s, server ISN %s, %d SYN-ACK(s)"
                       % (self.c_isn, self.s_isn, self.synacks))
            if self.sc_senders is not None:
                out.append("  socket cloning: %d of %d response(s) delimited; new data bytes "
                           "by sender: %s"
                           % (len(self.sc_responses), len(self.sc_senders),
                              ", ".join("%s %d" % (fmt_mac(m)[-2:], n)
                                        for m, n in sorted(self.sc_bytes.items())) or "none"))
                out.append("  responses' senders: %s"
                           % " ".join(fmt_mac(m)[-2:] for m in self.sc_senders))
            elif self.senders is None:
                out.append("  server segments: %d from the owner %s, %d from the destination %s"
                           % (self.from_owner, fmt_mac(self.owner), self.from_dest
                              if self.handover else 0, fmt_mac(self.dest)))
            if self.senders is not None:
                out.append("  data senders in order (%d runs): %s"
                           % (len(self.runs), " ".join(fmt_mac(m)[-2:] for m in self.runs)))
            if self.handover_pkt is not None and self.handover:
                out.append("  handed over at packet %d, %.3f s after the first packet; owner "
                           "segments after it: %d" % (self.handover_pkt,
                                                      self.t_handover - self.t_first,
                                                      self.owner_after))
            de = getattr(self, "data_end", None)
            out.append("  server data: %s bytes, %d retransmitted, %d segment(s) started "
                       "beyond the highest byte seen (lost frames), FIN %s; client ACKed %s"
                       % (de, self.retrans_bytes, len(self.jumps),
                          sorted(self.fins) or "none", self.max_ack_rel))
            head = getattr(self, "head", None)
            if head and self.sc_senders is None:
                out.append("  HTTP %d, header %d bytes, body %d bytes, Content-Length %s"
                           % (head[0], head[1], de - head[1], head[2]))
            names = {2: "mss", 3: "ws", 4: "sack", 8: "ts"}
            syn = ",".join(names.get(k, str(k)) for k in self.syn_opts or []) or "none"
            out.append("  client SYN options: %s; %d segment(s) with timestamps; server TSval "
                       "%s .. %s, %d backwards" % (syn, self.ts_segs, self.s_tsval_first,
                                                   self.s_tsval, self.ts_backwards))
            if None not in (self.t_syn, self.t_synack, self.t_request,
                            self.t_first_dest_data) and self.handover:
                rtt = self.t_synack - self.t_syn
                ttfb = self.t_first_dest_data - self.t_request
                out.append("  handshake RTT %.3f ms; request to the destination's first byte "
                           "%.3f ms (%s RTTs)" % (rtt * 1e3, ttfb * 1e3,
                                                  "%.1f" % (ttfb / rtt) if rtt > 0 else "?"))
            out.append("  duration %.3f s; %d exact copies of client frames skipped"
                       % (self.t_last - self.t_first, self.client_dups))
            if self.late_rsts:
                out.append("  %d RST(s) from the client after the close was complete (it "
                           "answered a late segment)" % self.late_rsts)
        return "\n".join(out)


def main(argv):
    p = argparse.ArgumentParser(
        description="Check one handed-over TCP connection in a client-side pcap.")
    p.add_argument("pcap")
    p.add_argument("--client", required=True, help="client IP:PORT")
    p.add_argument("--server", required=True, help="server (VIP) IP:PORT")
    p.add_argument("--owner-mac", required=True, help="MAC of the node that accepted the SYN")
    p.add_argument("--dest-mac", help="MAC of the node the connection was handed over to")
    p.add_argument("--senders", help="MAC,MAC,...: the nodes that send the server's data, "
                   "in order (a connection handed over again and again)")
    p.add_argument("--sc-senders", help="MAC,MAC,...: socket cloning, the sender of each "
                   "HTTP response on the connection, in order (one per response)")
    p.add_argument("--expect-body", type=int, help="HTTP body length")
    p.add_argument("--expect-status", type=int, help="HTTP status code")
    ts = p.add_mutually_exclusive_group()
    ts.add_argument("--expect-ts", action="store_true",
                    help="timestamps negotiated: on the client's SYN and every server segment")
    ts.add_argument("--expect-no-ts", action="store_true",
                    help="no timestamp option on any segment of the flow")
    p.add_argument("--reordered", action="store_true",
                   help="the network reorders: TSvals may step back by up to 1000 ticks, "
                        "client ACKs may arrive out of order")
    p.add_argument("--strict", action="store_true",
                   help="fail on any segment that starts beyond the highest byte seen, even "
                        "if a retransmission fills the hole later")
    args = p.parse_args(argv)
    if args.sc_senders is not None and args.senders is not None:
        p.error("--sc-senders and --senders exclude each other")
    if args.sc_senders is not None and args.expect_body is not None:
        p.error("--expect-body does not apply with --sc-senders (several responses)")
    try:
        c = Checker(args)
        c.run(args.pcap)
    except Usage as e:
        print("pcap_check: error: %s" % e, file=sys.stderr)
        return 2
    print(c.summary())
    for f in c.fails:
        print("FAIL: %s" % f)
    if c.fails:
        return 1
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
