#!/usr/bin/env bash
# Host test of tests/vm/pcap_check.py (the client-side capture checker of VM
# test t03-handover), on synthetic pcaps built here: good handed-over flows
# (several byte orders, timestamp units, snap lengths, sequence wraparound,
# unrelated traffic, a lost frame filled by a retransmission) must pass; bad
# ones (RST either way, but the client's after a complete close with
# --reordered, sequence gap, capture loss, wrong translation offset,
# owner segment after the handover, a third node's MAC, SYN-ACK from the
# destination, client ACK going backwards, leaked internal address, FIN in
# the wrong place, wrong body length or status, no handover, a server TSval
# going backwards, a server segment without timestamps when they were
# negotiated, timestamps when none were expected) must fail with the right
# reason; a keep-alive connection handed over again and again passes
# --senders with the right sequence of nodes and fails with a wrong one or a
# stranger's MAC; a connection served by socket cloning passes
# --sc-senders with one right MAC per response (pipelined responses sharing
# segments too) and fails with a wrong one, a stranger's MAC, new data from
# the wrong node within a response, a gap, too few or too many responses, a
# header cut by the snap length or without Content-Length; unreadable
# captures exit 2.
#
#   tests/host/pcap_check_test.sh        (needs python3 only; KEEP=1 keeps
#                                         the captures, PYTHON=... picks python)
#
# Prints PASS/FAIL per case and ends with "N passed, N failed"; exit status 0
# iff every case passed.
set -uo pipefail

. "$(dirname "$(readlink -f "$0")")/lib.sh"
checker=$repo/tests/vm/pcap_check.py
tmp=$(mktemp -d)
if [ -n "${KEEP:-}" ]; then
    echo "captures kept in $tmp" >&2
else
    trap 'rm -rf "$tmp"' EXIT
fi

# Build the captures: one NAME.pcap per case.
"$py" - "$tmp" "$repo" <<'PY' || { echo "FAIL generating the synthetic captures"; echo "0 passed, 1 failed"; exit 1; }
import os, struct, sys
sys.path.insert(0, os.path.join(sys.argv[2], "tests", "vm"))
from inet import checksum as csum

out = sys.argv[1]
CLIENT_MAC = bytes.fromhex("525400000002")
OWNER = bytes.fromhex("525400000011")
DEST = bytes.fromhex("525400000012")
OTHER = bytes.fromhex("525400000013")
VIP_MAC = bytes.fromhex("01005e000064")
CLIENT, VIP = bytes([10, 0, 0, 2]), bytes([10, 0, 0, 100])
N1, N2 = bytes([10, 0, 0, 11]), bytes([10, 0, 0, 12])
CPORT = 42000
FIN, SYN, RST, PSH, ACK = 1, 2, 4, 8, 16
MSS = 1448

def frame(src_mac, dst_mac, sip, dip, sport, dport, seq, ack, flags, payload=b"", win=502,
          ts=None):
    opts = b"\x02\x04\x05\xb4\x01\x03\x03\x07" if flags & SYN else b""
    if ts is not None:
        opts += b"\x01\x01\x08\x0a" + struct.pack("!II", ts[0] & 0xFFFFFFFF, ts[1])
    doff = (20 + len(opts)) // 4
    tcp = struct.pack("!HHIIHHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF,
                      (doff << 12) | flags, win, 0, 0) + opts + payload
    pseudo = sip + dip + struct.pack("!BBH", 0, 6, len(tcp))
    c = csum(pseudo + tcp)
    tcp = tcp[:16] + struct.pack("!H", c) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 1, 0x4000, 64, 6, 0, sip, dip)
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    f = dst_mac + src_mac + b"\x08\x00" + ip + tcp
    return f + b"\0" * max(0, 60 - len(f))   # Ethernet padding

def write_pcap(name, frames, snaplen=65535, endian="<", nano=False, linktype=1):
    magic = 0xA1B23C4D if nano else 0xA1B2C3D4
    with open(os.path.join(out, name + ".pcap"), "wb") as f:
        f.write(struct.pack(endian + "IHHiIII", magic, 2, 4, 0, 0, snaplen, linktype))
        for i, fr in enumerate(frames):
            cap = fr[:snaplen]
            f.write(struct.pack(endian + "IIII", 1700000000 + i // 1000, (i % 1000) * 1000,
                                len(cap), len(fr)))
            f.write(cap)

BODY = 100000
HEAD = ("HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Type: application/octet-stream\r\n"
        "Content-Length: %d\r\nConnection: keep-alive\r\n\r\n" % BODY).encode()
REQ = b"GET /n2/file-x HTTP/1.1\r\nHost: 10.0.0.100\r\nUser-Agent: curl\r\nAccept: */*\r\n\r\n"

def flow(c_isn=1000, s_isn=500000, owner=OWNER, dest=DEST, synack_mac=None, body=BODY,
         head=HEAD, dest_seq_off=0, drop=None, move=None, keep_acks=True, extra=None,
         ts=None):
    """The frames of one handed-over HTTP exchange, as a list of
    (kind, frame) where kind is 'c' (client), 's' (server data), 'x' (other).
    ts: None (no timestamps) or a dict of first TSvals by sender, "client",
    "owner", "dest" (None: that sender sends none); each frame adds 1."""
    ev = []
    clock = dict(ts or {})
    def tick(who):
        if not ts or clock.get(who) is None:
            return None
        clock[who] += 1
        return (clock[who], 0)
    def c(seq, ack, flags, payload=b""):
        ev.append(("c", frame(CLIENT_MAC, VIP_MAC, CLIENT, VIP, CPORT, 80, seq, ack, flags, payload,
                              ts=tick("client"))))
    def s(mac, seq, ack, flags, payload=b""):
        who = "owner" if mac == owner else "dest"
        ev.append(("s", frame(mac, CLIENT_MAC, VIP, CLIENT, 80, CPORT, seq, ack, flags, payload,
                              ts=tick(who))))
    c(c_isn, 0, SYN)
    s(synack_mac or owner, s_isn, c_isn + 1, SYN | ACK)
    c(c_isn + 1, s_isn + 1, ACK)
    c(c_isn + 1, s_isn + 1, PSH | ACK, REQ)
    cack = c_isn + 1 + len(REQ)
    s(owner, s_isn + 1, cack, ACK)
    stream = head + os.urandom(body)
    segs = [(i, stream[i:i + MSS]) for i in range(0, len(stream), MSS)]
    base = s_isn + 1 + dest_seq_off
    held = None
    acked = 0
    for k, (off, data) in enumerate(segs):
        if drop is not None and k == drop:
            continue
        if move is not None and k == move:
            held = (off, data)
            continue
        s(dest, base + off, cack, ACK | (PSH if k == len(segs) - 1 else 0), data)
        if held is not None and k == move + 3:
            s(dest, base + held[0], cack, ACK, held[1])
            held = None
        if k % 2 == 1 or k == len(segs) - 1:
            end = off + len(data)
            if drop is not None and not keep_acks and k > drop:
                end = segs[drop][0]
            if move is not None and move <= k < move + 3:
                end = segs[move][0]
            acked = max(acked, end)
            c(cack, s_isn + 1 + acked, ACK)
    total = len(stream)
    c(cack, s_isn + 1 + acked, FIN | ACK)
    s(dest, base + total, cack + 1, FIN | ACK)
    if drop is not None and not keep_acks:
        c(cack + 1, s_isn + 1 + acked, ACK)  # a real gap: never acknowledged
    else:
        c(cack + 1, s_isn + 1 + total + 1, ACK)
    if extra:
        extra(ev, c, s, dict(c_isn=c_isn, s_isn=s_isn, cack=cack, total=total, base=base))
    return ev

def frames(ev):
    return [f for _, f in ev]

def noise(ev):
    """Unrelated traffic between the flow's frames: ARP, the handover
    connection N1 -> N2:80, another client port, a non-TCP IPv4 packet."""
    arp = b"\xff" * 6 + OWNER + b"\x08\x06" + b"\0" * 28
    other = [arp,
             frame(OWNER, DEST, N1, N2, 50000, 80, 1, 1, ACK, b"GET / HTTP/1.1\r\n\r\n"),
             frame(CLIENT_MAC, VIP_MAC, CLIENT, VIP, CPORT + 1, 80, 7, 0, SYN),
             frame(OTHER, CLIENT_MAC, VIP, CLIENT, 80, CPORT + 1, 9, 8, SYN | ACK)]
    udp = bytearray(frame(OWNER, CLIENT_MAC, N1, CLIENT, 1, 2, 0, 0, ACK))
    udp[14 + 9] = 17
    other.append(bytes(udp))
    res = []
    for i, (k, f) in enumerate(ev):
        res.append(f)
        if i % 7 == 3:
            res.append(other[i % len(other)])
    return res

# --- good captures
write_pcap("good", frames(flow()))
write_pcap("good_snap200", frames(flow()), snaplen=200)
write_pcap("good_be_nano", frames(flow()), endian=">", nano=True)
write_pcap("good_wrap", frames(flow(c_isn=0xFFFFFFF0, s_isn=0xFFFFFF00)))
write_pcap("good_noise", noise(flow()))
write_pcap("good_nohandover", frames(flow(dest=OWNER)))
write_pcap("good_empty_body", frames(flow(body=0, head=HEAD.replace(b"100000", b"0"))))
write_pcap("loss_filled", frames(flow(move=20)))
# The destination's clock continues the owner's (translated), across the wrap.
write_pcap("ts_good", frames(flow(ts={"client": 7, "owner": 0xFFFFFFF0, "dest": 0xFFFFFFF5})))
write_pcap("ts_backwards", frames(flow(ts={"client": 7, "owner": 5000, "dest": 100})))
write_pcap("ts_missing", frames(flow(ts={"client": 7, "owner": 5000, "dest": None})))
# Reordering: one server frame arrives after the next one (TSval 1 lower).
def swapped(ev):
    ev = list(ev)
    i = max(i for i, (k, _) in enumerate(ev[:len(ev) // 2]) if k == "s")
    j = max(j for j, (k, _) in enumerate(ev[:i]) if k == "s")
    ev[i], ev[j] = ev[j], ev[i]
    return ev
write_pcap("ts_step_back", frames(swapped(flow(ts={"client": 7, "owner": 5000, "dest": 5003}))))

def echoed(ev):
    """Every client frame comes back once more, three frames later (the hub
    loops a VM's own multicast frames back to it)."""
    res, pending = [], []
    for k, f in ev:
        res.append(f)
        pending = [(n - 1, g) for n, g in pending]
        while pending and pending[0][0] <= 0:
            res.append(pending.pop(0)[1])
        if k == "c":
            pending.append((3, f))
    return res + [g for _, g in pending]
write_pcap("good_echoed", echoed(flow()))

# --- bad captures
def add(kind_mac, seq_of, flags, payload=b"", where=None):
    def f(ev, c, s, v):
        n = len(ev)
        s(kind_mac, seq_of(v), v["cack"], flags, payload)
        item = ev.pop()
        ev.insert(where(ev) if where else n, item)
    return f

def rst_server(ev, c, s, v):
    s(DEST, v["base"] + v["total"] + 1, v["cack"] + 1, RST)

def rst_client(ev, c, s, v):
    c(v["cack"] + 1, 0, RST)

def owner_after(ev, c, s, v):
    # the owner retransmits its pure ACK in the middle of the transfer
    s(OWNER, v["s_isn"] + 1, v["cack"], ACK)
    ev.insert(len(ev) // 2, ev.pop())

def wrong_mac(ev, c, s, v):
    s(OTHER, v["base"] + 2 * MSS, v["cack"], ACK, b"x" * MSS)
    ev.insert(len(ev) // 2, ev.pop())

def ack_back(ev, c, s, v):
    c(v["cack"], v["s_isn"] + 1 + MSS, ACK)
    ev.insert(len(ev) - 3, ev.pop())

def leak(ev, c, s, v):
    ev.insert(len(ev) // 2, ("x", frame(DEST, CLIENT_MAC, N2, CLIENT, 80, CPORT,
                                        v["base"], v["cack"], ACK)))

def before_isn(ev, c, s, v):
    s(DEST, v["s_isn"] - 10, v["cack"], ACK, b"y" * 20)
    ev.insert(6, ev.pop())

def second_syn(ev, c, s, v):
    c(v["c_isn"] + 77777, 0, SYN)

def fin_wrong(ev, c, s, v):
    s(DEST, v["base"] + v["total"] + 10, v["cack"] + 1, FIN | ACK)

def ack_ahead(ev, c, s, v):
    s(DEST, v["base"] + v["total"] + 5000, v["cack"] + 1, ACK)

def rst_client_early(ev, c, s, v):
    # before the server's FIN: the close is not complete
    c(v["cack"] + 1, 0, RST)
    ev.insert(len(ev) - 3, ev.pop())

def rst_client_seq(ev, c, s, v):
    # after the close, but not at the client's FIN + 1
    c(v["cack"] + 5, 0, RST)

write_pcap("rst_server", frames(flow(extra=rst_server)))
write_pcap("rst_client", frames(flow(extra=rst_client)))
write_pcap("rst_client_early", frames(flow(extra=rst_client_early)))
write_pcap("rst_client_seq", frames(flow(extra=rst_client_seq)))
write_pcap("gap", frames(flow(drop=30, keep_acks=False)))
write_pcap("capture_loss", frames(flow(drop=30, keep_acks=True)))
write_pcap("bad_offset", frames(flow(dest_seq_off=5000)))
write_pcap("owner_after", frames(flow(extra=owner_after)))
write_pcap("wrong_mac", frames(flow(extra=wrong_mac)))
write_pcap("synack_dest", frames(flow(synack_mac=DEST)))
write_pcap("ack_back", frames(flow(extra=ack_back)))
write_pcap("leak", frames(flow(extra=leak)))
write_pcap("before_isn", frames(flow(extra=before_isn)))
write_pcap("second_syn", frames(flow(extra=second_syn)))
write_pcap("fin_wrong", frames(flow(extra=fin_wrong)))
write_pcap("seq_ahead", frames(flow(extra=ack_ahead)))
# --- a keep-alive connection handed over again and again: each exchange's
# response comes from the MAC given (the first is the owner's SYN-ACK).
def keepalive(macs, c_isn=7000, s_isn=900000):
    ev = []
    def c(seq, ack, flags, payload=b""):
        ev.append(frame(CLIENT_MAC, VIP_MAC, CLIENT, VIP, CPORT, 80, seq, ack, flags, payload))
    def s(mac, seq, ack, flags, payload=b""):
        ev.append(frame(mac, CLIENT_MAC, VIP, CLIENT, 80, CPORT, seq, ack, flags, payload))
    c(c_isn, 0, SYN)
    s(macs[0], s_isn, c_isn + 1, SYN | ACK)
    cs, ss = c_isn + 1, s_isn + 1
    c(cs, ss, ACK)
    for mac in macs:
        c(cs, ss, PSH | ACK, REQ)
        cs += len(REQ)
        stream = HEAD + os.urandom(3000)
        for off in range(0, len(stream), MSS):
            s(mac, ss + off, cs, ACK, stream[off:off + MSS])
        ss += len(stream)
        c(cs, ss, ACK)
    c(cs, ss, FIN | ACK)
    s(macs[-1], ss, cs + 1, FIN | ACK)
    c(cs + 1, ss + 1, ACK)
    return ev

M13 = bytes.fromhex("525400000013")
write_pcap("keepalive", keepalive([OWNER, DEST, OWNER, M13, OWNER, DEST]))
write_pcap("keepalive_stranger", keepalive([OWNER, DEST, bytes.fromhex("525400000014")]))
write_pcap("no_flow", [frame(OWNER, DEST, N1, N2, 50000, 80, 1, 1, ACK)])
write_pcap("snap_too_short", frames(flow()), snaplen=80)

# --- socket cloning (--sc-senders): each response of a keep-alive
# connection comes from the node that serves it (the original node for its
# own paths, a clone's node for the others); the original node (the owner,
# which took the SYN) acknowledges the requests and may send pure ACKs
# while a clone sends.
def sc_flow(resps, c_isn=3000, s_isn=700000, coalesce=False, drop=None, stranger=False,
            owner_data_in=None, retrans_by_owner=False, no_clen=False):
    """resps: [(mac, body length)]; coalesce: consecutive responses from one
    MAC share segments (pipelined); drop: (response, segment) never sent;
    owner_data_in: a response index whose second segment the owner sends."""
    ev = []
    def c(seq, ack, flags, payload=b""):
        ev.append(frame(CLIENT_MAC, VIP_MAC, CLIENT, VIP, CPORT, 80, seq, ack, flags, payload))
    def s(mac, seq, ack, flags, payload=b""):
        ev.append(frame(mac, CLIENT_MAC, VIP, CLIENT, 80, CPORT, seq, ack, flags, payload))
    c(c_isn, 0, SYN)
    s(OWNER, s_isn, c_isn + 1, SYN | ACK)
    cs, ss = c_isn + 1, s_isn + 1
    c(cs, ss, ACK)
    # group consecutive responses of one MAC when coalescing
    groups = []
    gap = None   # the first relative byte never sent (drop): the client's ACKs stop there
    for k, (mac, n) in enumerate(resps):
        head = HEAD.replace(b"100000", str(n).encode())
        if no_clen:
            head = head.replace(b"Content-Length: %d\r\n" % n, b"")
        body = head + os.urandom(n)
        if coalesce and groups and groups[-1][0] == mac:
            groups[-1][1].append(k)
            groups[-1][2] += body
        else:
            groups.append([mac, [k], body])
    for mac, ks, stream in groups:
        for _ in ks:
            c(cs, ss if gap is None else gap, PSH | ACK, REQ)
            cs += len(REQ)
        s(OWNER, ss, cs, ACK)                       # the original acknowledges
        for j, off in enumerate(range(0, len(stream), MSS)):
            if drop == (ks[0], j):
                gap = ss + off
                continue
            m = mac
            if owner_data_in == ks[0] and j == 1:
                m = OWNER
            s(m, ss + off, cs, ACK, stream[off:off + MSS])
            if j == 1 and mac != OWNER:
                s(OWNER, ss, cs, ACK)               # a pure ACK amid the clone's data
                if retrans_by_owner:
                    s(OWNER, ss, cs, ACK, stream[:MSS])
            if stranger and j == 1:
                s(bytes.fromhex("525400000014"), ss + off, cs, ACK)
        ss += len(stream)
        c(cs, ss if gap is None else gap, ACK)
    c(cs, ss if gap is None else gap, FIN | ACK)
    s(OWNER, ss, cs + 1, FIN | ACK)
    c(cs + 1, ss + 1 if gap is None else gap, ACK)
    return ev

SC = [(OWNER, 3000), (DEST, 0), (OTHER, 5000), (DEST, 100), (OWNER, 2000)]
write_pcap("sc_good", sc_flow(SC))
write_pcap("sc_snap200", sc_flow(SC), snaplen=200)
write_pcap("sc_snap_short", sc_flow(SC), snaplen=90)
write_pcap("sc_owner_retrans", sc_flow(SC, retrans_by_owner=True))
write_pcap("sc_pipelined", sc_flow([(OWNER, 3000), (DEST, 10), (DEST, 4000), (OWNER, 0),
                                    (OWNER, 1), (OTHER, 2500)], coalesce=True))
write_pcap("sc_stranger", sc_flow(SC, stranger=True))
write_pcap("sc_owner_data", sc_flow(SC, owner_data_in=2))
write_pcap("sc_gap", sc_flow(SC, drop=(2, 2)))
write_pcap("sc_no_clen", sc_flow(SC, no_clen=True))

# --- unreadable captures
with open(os.path.join(out, "not_pcap.pcap"), "wb") as f:
    f.write(b"this is not a capture at all, just text\n")
with open(os.path.join(out, "pcapng.pcap"), "wb") as f:
    f.write(bytes.fromhex("0a0d0d0a") + b"\0" * 40)
write_pcap("linux_sll", frames(flow()), linktype=113)
with open(os.path.join(out, "good.pcap"), "rb") as f:
    data = f.read()
with open(os.path.join(out, "truncated.pcap"), "wb") as f:
    f.write(data[:-100])
PY

FLOW=(--client 10.0.0.2:42000 --server 10.0.0.100:80 --owner-mac 52:54:00:00:00:11)
HO=("${FLOW[@]}" --dest-mac 52:54:00:00:00:12 --expect-body 100000 --expect-status 200)

# case NAME WANT_RC WANT_TEXT ARGS...: run the checker on NAME.pcap with ARGS;
# it must exit WANT_RC and print WANT_TEXT (a grep -E pattern, "" for any).
case_() {
    local name=$1 want=$2 pat=$3 out rc
    shift 3
    out=$("$py" "$checker" "$tmp/$name.pcap" "$@" 2>&1)
    rc=$?
    if [ "$rc" = "$want" ] && { [ -z "$pat" ] || printf '%s\n' "$out" | grep -Eq -- "$pat"; }; then
        ok "$name (exit $rc)"
    else
        ko "$name: exit $rc (want $want), output lacks /$pat/ or differs:"
        printf '%s\n' "$out" | sed 's/^/    /'
    fi
}

case_ good 0 '^OK$' "${HO[@]}"
case_ good 0 'handed over at packet' "${HO[@]}"
case_ good_snap200 0 '^OK$' "${HO[@]}"
case_ good_be_nano 0 '^OK$' "${HO[@]}"
case_ good_wrap 0 '^OK$' "${HO[@]}"
case_ good_noise 0 '^OK$' "${HO[@]}"
case_ good_echoed 0 '40 exact copies of client frames skipped' "${HO[@]}"
case_ good_nohandover 0 '^OK$' "${FLOW[@]}" --expect-body 100000
case_ good_nohandover 1 'not handed over' "${HO[@]}"
case_ good_empty_body 0 'body 0 bytes' "${FLOW[@]}" --dest-mac 52:54:00:00:00:12 --expect-body 0 --expect-status 200
case_ good 1 'body bytes on the wire, want 99999' "${HO[@]}" --expect-body 99999
case_ good 1 'HTTP status 200, want 404' "${HO[@]}" --expect-status 404
case_ good 1 'neither the owner' "${FLOW[@]/52:54:00:00:00:11/52:54:00:00:00:13}" --dest-mac 52:54:00:00:00:12
case_ loss_filled 0 '1 segment\(s\) started beyond' "${HO[@]}"
case_ loss_filled 1 'a gap of 1448 bytes' "${HO[@]}" --strict
case_ rst_server 1 'RST from the server side' "${HO[@]}"
case_ rst_client 1 'RST from the client' "${HO[@]}"
# With --reordered, the client's RST at its FIN + 1 once the close was
# complete answers a late segment (a TIME_WAIT's re-ACK of a reordered
# duplicate): noted, not a failure; before the close, or elsewhere, it is.
case_ rst_client 0 '1 RST\(s\) from the client after the close was complete' "${HO[@]}" --reordered
case_ rst_client_early 1 'RST from the client' "${HO[@]}" --reordered
case_ rst_client_seq 1 'RST from the client' "${HO[@]}" --reordered
case_ gap 1 'never seen, and the client never acknowledged them' "${HO[@]}"
case_ capture_loss 1 'never seen, although the client acknowledged them' "${HO[@]}"
case_ bad_offset 1 'bytes 0\.\.5000 .*never seen' "${HO[@]}"
case_ owner_after 1 'the owner \(52:54:00:00:00:11\) sent a segment after the destination took over' "${HO[@]}"
case_ wrong_mac 1 'from MAC 52:54:00:00:00:13, neither' "${HO[@]}"
case_ synack_dest 1 'SYN-ACK from MAC 52:54:00:00:00:12, not from the owner' "${HO[@]}"
case_ ack_back 1 "the client's ACK went backwards" "${HO[@]}"
case_ leak 1 'from 10\.0\.0\.12:80, not from the server' "${HO[@]}"
case_ before_isn 1 'before the first byte after the SYN-ACK' "${HO[@]}"
case_ second_syn 1 'more than one connection' "${HO[@]}"
case_ fin_wrong 1 'FIN at relative sequence' "${HO[@]}"
case_ seq_ahead 1 'beyond the last data byte seen' "${HO[@]}"
KA=("${FLOW[@]}")
S4=52:54:00:00:00:11,52:54:00:00:00:12,52:54:00:00:00:11,52:54:00:00:00:13,52:54:00:00:00:11,52:54:00:00:00:12
case_ keepalive 0 '^OK$' "${KA[@]}" --senders "$S4"
case_ keepalive 0 'data senders in order \(6 runs\): 11 12 11 13 11 12' "${KA[@]}" --senders "$S4"
case_ keepalive 1 "the server's data came from .* \(6 runs\), want .* \(3\)" "${KA[@]}" \
    --senders 52:54:00:00:00:11,52:54:00:00:00:12,52:54:00:00:00:13
case_ keepalive 1 'not handed over|neither the owner' "${HO[@]}"
case_ keepalive_stranger 1 'from MAC 52:54:00:00:00:14, not one of the senders' "${KA[@]}" \
    --senders 52:54:00:00:00:11,52:54:00:00:00:12
case_ no_flow 1 'no segment of 10\.0\.0\.2:42000' "${HO[@]}"
case_ snap_too_short 1 'no complete HTTP response header' "${HO[@]}"
case_ ts_good 0 'client SYN options: mss,ws,ts' "${HO[@]}" --expect-ts
case_ ts_good 0 '^OK$' "${HO[@]}"
case_ ts_good 1 'a timestamp option, but none was negotiated' "${HO[@]}" --expect-no-ts
case_ good 0 '^OK$' "${HO[@]}" --expect-no-ts
case_ good 1 "the client's SYN offers no timestamps" "${HO[@]}" --expect-ts
case_ ts_backwards 1 "the server's TSval went backwards \(101 after 50" "${HO[@]}"
case_ ts_missing 1 'a server segment without a timestamp option' "${HO[@]}" --expect-ts
case_ ts_missing 0 '^OK$' "${HO[@]}"
case_ ts_backwards 1 "the server's TSval went backwards" "${HO[@]}" --reordered
case_ ts_step_back 1 "the server's TSval went backwards \\(5036 after 5037" "${HO[@]}"
case_ ts_step_back 0 '^OK$' "${HO[@]}" --reordered
case_ ack_back 0 '^OK$' "${HO[@]}" --reordered
case_ snap_too_short 0 '^OK$' "${FLOW[@]}" --dest-mac 52:54:00:00:00:12
case_ not_pcap 2 'not a pcap|not a classic pcap' "${HO[@]}"
case_ pcapng 2 'pcapng is not supported' "${HO[@]}"
case_ linux_sll 2 'link type 113' "${HO[@]}"
case_ truncated 2 'truncated record' "${HO[@]}"
# --sc-senders (socket cloning): one sender per response.
M11=52:54:00:00:00:11 M12=52:54:00:00:00:12 M13=52:54:00:00:00:13
SC5=$M11,$M12,$M13,$M12,$M11
case_ sc_good 0 '^OK$' "${KA[@]}" --sc-senders "$SC5" --expect-status 200
case_ sc_good 0 '5 of 5 response\(s\) delimited; new data bytes by sender: 11 [0-9]+, 12 [0-9]+, 13 [0-9]+' \
    "${KA[@]}" --sc-senders "$SC5"
case_ sc_good 1 'response 3 \(relative bytes [0-9]+\.\.[0-9]+, HTTP 200, body 5000\): new data from 52:54:00:00:00:13 \([0-9]+ segment\(s\)\), want all of it from 52:54:00:00:00:12' \
    "${KA[@]}" --sc-senders $M11,$M12,$M12,$M12,$M11
case_ sc_good 1 'server segment from MAC 52:54:00:00:00:13, neither the owner' \
    "${KA[@]}" --sc-senders $M11,$M12,$M12,$M12,$M11
case_ sc_good 1 'server bytes after the 4 expected responses' "${KA[@]}" --sc-senders $M11,$M12,$M13,$M12
case_ sc_good 1 '5 response\(s\) on the wire, want 6' "${KA[@]}" --sc-senders "$SC5,$M11"
case_ sc_good 1 'response 1: HTTP status 200, want 404' "${KA[@]}" --sc-senders "$SC5" --expect-status 404
case_ sc_good 1 'SYN-ACK from MAC 52:54:00:00:00:11, not from the owner' \
    --client 10.0.0.2:42000 --server 10.0.0.100:80 --owner-mac $M12 --sc-senders "$SC5"
case_ sc_good 2 'exclude each other' "${KA[@]}" --sc-senders "$SC5" --senders "$SC5"
case_ sc_good 2 'does not apply with --sc-senders' "${KA[@]}" --sc-senders "$SC5" --expect-body 3000
case_ sc_snap200 0 '^OK$' "${KA[@]}" --sc-senders "$SC5"
case_ sc_snap_short 1 'response 1 \(at relative byte 0\): no complete HTTP response header' \
    "${KA[@]}" --sc-senders "$SC5"
case_ sc_owner_retrans 0 '^OK$' "${KA[@]}" --sc-senders "$SC5"
case_ sc_pipelined 0 '^OK$' "${KA[@]}" --sc-senders $M11,$M12,$M12,$M11,$M11,$M13
case_ sc_pipelined 1 'response 4 .*new data from 52:54:00:00:00:11' "${KA[@]}" \
    --sc-senders $M11,$M12,$M12,$M12,$M11,$M13
case_ sc_stranger 1 'server segment from MAC 52:54:00:00:00:14, neither the owner' \
    "${KA[@]}" --sc-senders "$SC5"
case_ sc_owner_data 1 'response 3 .*new data from 52:54:00:00:00:11 \(1 segment\(s\)\), want all of it from 52:54:00:00:00:13' \
    "${KA[@]}" --sc-senders "$SC5"
case_ sc_gap 1 'never seen, and the client never acknowledged them' "${KA[@]}" --sc-senders "$SC5"
case_ sc_no_clen 1 'response 1 \(at relative byte 0\): no Content-Length' "${KA[@]}" --sc-senders "$SC5"
case_ good 2 'not an IPv4 address' --client 10.0.0.2 --server 10.0.0.100:80 --owner-mac 52:54:00:00:00:11

finish
