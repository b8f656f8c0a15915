#!/usr/bin/env python3
"""Capture checks of t19-sc-edges (Socket Cloning's edges).

router PCAP --client IP:PORT --vip IP --clone-ip IP [--fin-secs S]
       [--min-after N] [--late-client N] [--owed N] [--copies N]
    PCAP was taken on the original node's eth0 (not promiscuous): the
    client's segments to VIP:80 and the router's IP-in-IP copies (protocol
    4) to the clone's node. The router forwards a header-only copy of each
    client segment while a clone is active, and for at most S seconds (the
    FIN timer, FIN_ROUTE_SECS) after the first FIN it saw (rust/pure/sc.rs,
    `Origin::forwarding`: whole seconds, so a copy may leave up to S + 1 s
    after the FIN). Checks: the client's FIN is in the capture; every copy
    is addressed to the clone's node and carries the client's connection
    with FIN cleared; at least N copies left at or after the FIN
    (--min-after); none left more than S + 1 s after it; at least N client
    segments reached the node more than S + 1 s after the FIN
    (--late-client: the router had segments to forward and did not); the
    capture holds exactly N copies of the connection (--copies: the
    sc_forwarded counter's rise). With --owed N the clone's response has a
    known end the client had not acknowledged when the timer ran out:
    the router goes on forwarding until it has, so at least N copies leave
    more than S + 1 s after the FIN (instead of none).

client PCAP --client IP:PORT --server IP:PORT --allow-macs MAC,... [--open-ok]
    PCAP was taken on the client (lib.sh capture_start). For the
    connection: no RST in either direction; every server segment comes from
    one of the allowed MACs (a clone's node not among them: nothing of the
    clone reached the client); no segment to the client's port from the
    server's address but another port (a clone's segment left
    untranslated); the connection closed (both FINs sent and acknowledged;
    not required with --open-ok), and nothing from the server side after
    that, except a retransmission of the server's FIN.

Exit status 0 if every check passes, 1 otherwise, 2 on a usage error.
"""

import argparse
import struct
import sys

from pcap_check import (ACK, FIN, RST, Usage, flag_names, fmt_mac, parse_endpoint, parse_frame,
                        parse_mac, read_pcap)

ETH_P_IP = 0x0800


def ip_of(text):
    parts = [int(x) for x in text.split(".")]
    if len(parts) != 4 or any(not 0 <= x <= 255 for x in parts):
        raise Usage("bad IPv4 address %r" % text)
    return bytes(parts)


def ipip_frames(path):
    """(index, ts, outer src, outer dst, inner bytes) of every IP-in-IP frame."""
    for index, ts, frame in read_pcap(path):
        if len(frame) < 34 or struct.unpack_from(">H", frame, 12)[0] != ETH_P_IP:
            continue
        vihl, proto = frame[14], frame[23]
        if vihl >> 4 != 4 or proto != 4:
            continue
        ihl = (vihl & 0x0F) * 4
        yield index, ts, frame[26:30], frame[30:34], frame[14 + ihl:]


def inner_tcp(inner):
    """(src, dst, sport, dport, flags) of an inner IPv4/TCP header, or None."""
    if len(inner) < 20 or inner[0] >> 4 != 4 or inner[9] != 6:
        return None
    ihl = (inner[0] & 0x0F) * 4
    if len(inner) < ihl + 14:
        return None
    sport, dport = struct.unpack_from(">HH", inner, ihl)
    return inner[12:16], inner[16:20], sport, dport, inner[ihl + 13] & 0x3F


def router(a):
    cip, cport = parse_endpoint(a.client)
    vip, clone_ip = ip_of(a.vip), ip_of(a.clone_ip)
    problems, out = [], []
    segs = []
    for index, ts, frame in read_pcap(a.pcap):
        s = parse_frame(index, ts, frame)
        if s and s.src == cip and s.sport == cport and s.dst == vip and s.dport == 80:
            segs.append(s)
    fins = [s for s in segs if s.flags & FIN]
    copies = []
    for index, ts, osrc, odst, inner in ipip_frames(a.pcap):
        t = inner_tcp(inner)
        if t is None or t[0] != cip or t[2] != cport:
            continue
        copies.append((index, ts, odst, t))
    out.append("%d client segment(s) of %s at the router, %d FIN(s), %d copy(ies)"
               % (len(segs), a.client, len(fins), len(copies)))
    if a.copies is not None and len(copies) != a.copies:
        problems.append("%d copies in the capture, the counter sc_forwarded rose by %d"
                        % (len(copies), a.copies))
    for index, ts, odst, t in copies:
        if odst != clone_ip:
            problems.append("packet %d: copy to %s, not to the clone's node %s"
                            % (index, ".".join(map(str, odst)), a.clone_ip))
        if t[1] != vip or t[3] != 80 or t[4] & FIN:
            problems.append("packet %d: copy of %s:%d -> port %d flags %s (want VIP:80, FIN cleared)"
                            % (index, ".".join(map(str, t[1])), t[2], t[3], flag_names(t[4])))
    if not fins:
        problems.append("no FIN of the client reached the router")
    else:
        tf = fins[0].ts
        limit = tf + a.fin_secs + 1
        after = [c for c in copies if c[1] >= tf]
        late = [c for c in copies if c[1] > limit]
        late_client = [s for s in segs if s.ts > limit]
        out.append("client FIN at packet %d; copies: %d before it, %d at or after it, the last %s"
                   % (fins[0].index, len(copies) - len(after), len(after),
                      "%.3f s after the FIN" % (copies[-1][1] - tf) if copies else "-"))
        out.append("client segments more than %d s after the FIN: %d (the first %s)"
                   % (a.fin_secs + 1, len(late_client),
                      "%.3f s after it" % (late_client[0].ts - tf) if late_client else "-"))
        if len(after) < a.min_after:
            problems.append("%d copies at or after the client's FIN, want at least %d"
                            % (len(after), a.min_after))
        if a.owed:
            if len(late) < a.owed:
                problems.append("%d copies more than %d s after the client's FIN, want at least %d "
                                "(the clone's known end was still owed)"
                                % (len(late), a.fin_secs + 1, a.owed))
        else:
            for c in late:
                problems.append("packet %d: a copy %.3f s after the client's FIN (FIN timer %d s)"
                                % (c[0], c[1] - tf, a.fin_secs))
        if len(late_client) < a.late_client:
            problems.append("%d client segments more than %d s after the FIN, want at least %d"
                            % (len(late_client), a.fin_secs + 1, a.late_client))
    return out, problems


def client(a):
    cip, cport = parse_endpoint(a.client)
    sip, sport = parse_endpoint(a.server)
    allow = {parse_mac(m) for m in a.allow_macs.split(",") if m}
    problems, out = [], []
    c_fin = s_fin = closed_at = None
    c_fin_acked = s_fin_acked = False
    n_c = n_s = 0
    for index, ts, frame in read_pcap(a.pcap):
        s = parse_frame(index, ts, frame)
        if s is None:
            continue
        from_client = s.src == cip and s.sport == cport and s.dst == sip and s.dport == sport
        from_server = s.src == sip and s.sport == sport and s.dst == cip and s.dport == cport
        if s.src == sip and s.dst == cip and s.dport == cport and s.sport != sport:
            problems.append("packet %d: a segment from %s port %d (flags %s, MAC %s): an "
                            "untranslated clone" % (index, a.server.rsplit(":", 1)[0], s.sport,
                                                     flag_names(s.flags), fmt_mac(s.src_mac)))
            continue
        if not (from_client or from_server):
            continue
        if s.flags & RST:
            problems.append("packet %d: RST from the %s (flags %s, MAC %s)"
                            % (index, "client" if from_client else "server side",
                               flag_names(s.flags), fmt_mac(s.src_mac)))
        if from_client:
            n_c += 1
            if s.flags & FIN and c_fin is None:
                c_fin = (s.seq + s.plen) % 2**32
            if s_fin is not None and s.flags & ACK and (s.ack - s_fin - 1) % 2**32 == 0:
                s_fin_acked = True
            if closed_at is None and c_fin_acked and s_fin_acked:
                closed_at = index
            continue
        n_s += 1
        if s.src_mac not in allow:
            problems.append("packet %d: server segment (flags %s, %d bytes) from MAC %s, not one of %s"
                            % (index, flag_names(s.flags), s.plen, fmt_mac(s.src_mac), a.allow_macs))
        if closed_at is not None and not (s.flags & FIN and s.seq == s_fin and s.plen == 0):
            problems.append("packet %d: server segment (flags %s, %d bytes) after the close (packet %d)"
                            % (index, flag_names(s.flags), s.plen, closed_at))
        if s.flags & FIN and s_fin is None:
            s_fin = (s.seq + s.plen) % 2**32
        if c_fin is not None and s.flags & ACK and (s.ack - c_fin - 1) % 2**32 == 0:
            c_fin_acked = True
        if closed_at is None and c_fin_acked and s_fin_acked:
            closed_at = index
    out.append("%s: %d client and %d server segment(s); client FIN %s, server FIN %s, closed %s"
               % (a.client, n_c, n_s, "yes" if c_fin is not None else "no",
                  "yes" if s_fin is not None else "no",
                  "at packet %d" % closed_at if closed_at is not None else "no"))
    if n_s == 0:
        problems.append("no server segment of the connection in the capture")
    if closed_at is None and not a.open_ok:
        problems.append("the connection did not close in the capture (both FINs, the last ACK)")
    return out, problems


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="mode", required=True)
    r = sub.add_parser("router")
    r.add_argument("pcap")
    r.add_argument("--client", required=True)
    r.add_argument("--vip", required=True)
    r.add_argument("--clone-ip", required=True)
    r.add_argument("--fin-secs", type=int, default=5)
    r.add_argument("--min-after", type=int, default=0)
    r.add_argument("--late-client", type=int, default=0)
    r.add_argument("--owed", type=int, default=0)
    r.add_argument("--copies", type=int)
    c = sub.add_parser("client")
    c.add_argument("pcap")
    c.add_argument("--client", required=True)
    c.add_argument("--server", required=True)
    c.add_argument("--allow-macs", required=True)
    c.add_argument("--open-ok", action="store_true")
    a = ap.parse_args(argv)
    try:
        out, problems = router(a) if a.mode == "router" else client(a)
    except Usage as e:
        print("usage: %s" % e)
        return 2
    for line in out:
        print(line)
    for p in problems:
        print("FAIL: %s" % p)
    print("%s check: %s" % (a.mode, "ok" if not problems else "%d problem(s)" % len(problems)))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
