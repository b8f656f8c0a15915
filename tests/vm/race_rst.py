#!/usr/bin/env python3
"""Classifies the RSTs in a client's capture (t03's race phase).

    tcpdump -S -n -r CAPTURE | race_rst.py CLIENT_IP VIP [TEXT]

reads tcpdump's text output (from TEXT, or standard input) (absolute sequence numbers, -S) of every
segment between the client and the VIP, and prints each RST with its
verdict:

  closed  an RST from the client whose connection was already over: the
          client had sent its FIN (sequence number S - 1), and the server
          had acknowledged it (an ACK of S) before the RST. The client's
          socket is gone then, so a late duplicate segment of the server
          (under reordering, its ACK of a reordered client ACK) draws an
          RST from the client's stack. Plain TCP: a direct server gets the
          same under the same reordering.
  aborted an RST from the client that answers the SYN-ACK of a connection
          the client gave up before it was set up (it sent its SYN and
          nothing else: ab opening a connection it no longer needs as it
          exits). The client's side again.
  BAD     any other RST, and every RST from the server side.

Exit status: 0 if no RST is BAD, 1 otherwise.
"""

import re
import sys

SEG = re.compile(
    r"IP (?P<src>[\d.]+)\.(?P<sport>\d+) > (?P<dst>[\d.]+)\.(?P<dport>\d+): "
    r"Flags \[(?P<flags>[^\]]*)\](?:, seq (?P<seq>\d+)(?::(?P<end>\d+))?)?"
    r"(?:, ack (?P<ack>\d+))?")


def main(argv):
    if len(argv) not in (3, 4):
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    client, vip = argv[1], argv[2]
    src = open(argv[3]) if len(argv) == 4 else sys.stdin
    syns = {}       # client port -> (SYN sequence number, anything sent since)
    fins = {}       # client port -> sequence numbers of the client's FINs
    acked = {}      # client port -> ACK numbers the server sent
    bad = total = 0
    for line in src:
        m = SEG.search(line)
        if not m:
            continue
        flags = m.group("flags")
        if m.group("src") == client and m.group("dst") == vip:
            port = m.group("sport")
            if "S" in flags:
                # A new connection on the port: forget the old one.
                fins.pop(port, None)
                acked.pop(port, None)
                syns[port] = (int(m.group("seq") or 0), False)
            elif "R" not in flags and port in syns:
                syns[port] = (syns[port][0], True)
            if "F" in flags and m.group("seq"):
                fin = int(m.group("end") or m.group("seq"))
                fins.setdefault(port, set()).add(fin)
            if "R" in flags:
                total += 1
                seq = int(m.group("seq") or 0)
                over = (seq - 1) % 2**32 in fins.get(port, ()) and seq in acked.get(port, ())
                syn, more = syns.get(port, (None, True))
                aborted = not more and syn is not None and seq == (syn + 1) % 2**32
                verdict = "closed" if over else "aborted" if aborted else "BAD"
                if verdict == "BAD":
                    bad += 1
                print("%s %s" % (verdict, line.strip()))
        elif m.group("src") == vip and m.group("dst") == client:
            port = m.group("dport")
            if "R" in flags:
                total += 1
                bad += 1
                print("BAD " + line.strip())
            elif m.group("ack"):
                acked.setdefault(port, set()).add(int(m.group("ack")))
    print("%d RST(s), %d BAD" % (total, bad))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
