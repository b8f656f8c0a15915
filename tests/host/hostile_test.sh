#!/usr/bin/env bash
# Host test of tests/vm/hostile.py (VM test t11-hostile's hostile traffic):
# every packet it builds is a well-formed IPv4 packet whose header checksum
# verifies, with the source, destination and flags each mode promises and a
# TCP checksum that verifies over the pseudo-header; the fragmented SYN's
# two fragments reassemble into one valid SYN (MF on the first, offset 8 on
# the second, the same identification).
#
#   tests/host/hostile_test.sh
#
# Prints PASS/FAIL per check, then "N passed, N failed"; exit 0 iff all passed.
set -uo pipefail

. "$(dirname "$(readlink -f "$0")")/lib.sh"
hostile=$repo/tests/vm/hostile.py

# verify MODE HEX...: the packets (hex) are what MODE promises.
verify() {
    "$py" - "$@" <<'PY'
import socket, struct, sys
from verify import checks

mode, pkts = sys.argv[1], [bytes.fromhex(h) for h in sys.argv[2:]]
for p in pkts:
    assert p[0] == 0x45 and checks(p[:20]), "IPv4 header or its checksum"
    assert struct.unpack("!H", p[2:4])[0] == len(p), "total length"
    assert p[9] == 6, "protocol TCP"
    assert socket.inet_ntoa(p[16:20]) == "10.0.0.100", "destination"
if mode == "frag":
    a, b = pkts
    assert a[4:6] == b[4:6], "same identification"
    fa, fb = struct.unpack("!H", a[6:8])[0], struct.unpack("!H", b[6:8])[0]
    assert fa == 0x2000 and fb == 1, (hex(fa), hex(fb))
    seg = a[20:] + b[20:]
    pkts = [a[:20] + seg]
for p in pkts:
    seg = p[20:]
    pseudo = p[12:20] + struct.pack("!BBH", 0, 6, len(seg))
    assert checks(pseudo + seg), "TCP checksum"
    flags = seg[13]
    src = socket.inet_ntoa(p[12:16])
    want = {"flood": 0x02, "rst": 0x04, "ts": 0x10, "frag": 0x02}[mode]
    assert flags == want, (mode, hex(flags))
    if mode == "flood":
        assert src.startswith("198.18.") or src.startswith("198.19."), src
    else:
        assert src == "10.0.0.2", src
    if mode == "ts":
        assert seg[20:24] == b"\x01\x01\x08\x0a", "NOP NOP TS"
print("ok")
PY
}

for m in flood rst ts frag; do
    case $m in
    flood) args="flood --dst 10.0.0.100:80 --seconds 1" ;;
    rst | ts) args="blind --src 10.0.0.2:40000 --dst 10.0.0.100:80 --kind $m" ;;
    frag) args="frag --src 10.0.0.2:40001 --dst 10.0.0.100:80" ;;
    esac
    # shellcheck disable=SC2086
    if out=$("$py" "$hostile" $args --dry-run --seed 7 2>&1) &&
        res=$(verify "$m" $out 2>&1); then
        ok "$m: well-formed ($res)"
    else
        ko "$m: $out $res"
    fi
done
finish
