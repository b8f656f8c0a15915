#!/usr/bin/env bash
# Host test of tests/vm/forge_syn.py (VM test t03-handover's forged handover
# SYN): the segment it builds has the handover option byte for byte as
# rust/pure/hopt.rs lays it out (kind 253, length 20, ExID 0x4454, version 1,
# flags 0, client address, port, proxy ISN, VIP, big-endian) after an MSS option,
# a data offset covering both, the SYN flag only, and a TCP checksum that
# verifies over the IPv4 pseudo-header. As root, it also sends one on the
# loopback to a listening socket, which must answer with a SYN-ACK (an
# unknown option does not stop the stack).
#
#   tests/host/forge_syn_test.sh
#
# Prints PASS/FAIL per check, then "N passed, N failed"; exit 0 iff all passed.
set -uo pipefail

. "$(dirname "$(readlink -f "$0")")/lib.sh"
forge=$repo/tests/vm/forge_syn.py

out=$("$py" "$forge" --dry-run --src 10.0.0.2:43000 --dst 10.0.0.100:80 \
    --client 10.0.0.2:41000 --proxy-isn 0x01020304 --vip 10.0.0.101 --isn 0xfffffffe 2>&1)
if [ $? = 0 ]; then ok "dry run"; else ko "dry run: $out"; fi
hex=$(printf '%s\n' "$out" | tail -n 1)
if res=$("$py" - "$hex" <<'PY' 2>&1
import socket, struct, sys
from verify import checks
seg = bytes.fromhex(sys.argv[1])
sport, dport, seq, ack, off_flags = struct.unpack("!HHIIH", seg[:14])
assert (sport, dport) == (43000, 80), (sport, dport)
assert seq == 0xFFFFFFFE and ack == 0, (seq, ack)
assert off_flags & 0x3F == 0x02, "flags %#x, want SYN only" % (off_flags & 0x3F)
doff = (off_flags >> 12) * 4
assert doff == len(seg) == 44, (doff, len(seg))
assert seg[20:24] == bytes([2, 4, 0x05, 0xB4]), seg[20:24].hex()
want = bytes([253, 20, 0x44, 0x54, 1, 0, 10, 0, 0, 2, 0xA0, 0x28, 1, 2, 3, 4, 10, 0, 0, 101])
assert seg[24:44] == want, "option %s, want %s" % (seg[24:44].hex(), want.hex())
pseudo = socket.inet_aton("10.0.0.2") + socket.inet_aton("10.0.0.100") + struct.pack("!BBH", 0, 6, len(seg))
assert checks(pseudo + seg), "checksum does not verify"
print("layout and checksum ok")
PY
); then ok "segment: $res"; else ko "segment: $res"; fi

out=$("$py" "$forge" --dry-run --src 10.0.0.2:0 --dst 10.0.0.100:80 2>&1)
if [ $? = 2 ] && printf '%s' "$out" | grep -q 'not an IPv4 address and port'; then
    ok "port 0 refused"
else
    ko "port 0 not refused: $out"
fi

if [ "$(id -u)" = 0 ]; then
    port=$(( 20000 + RANDOM % 20000 ))
    "$py" -c 'import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(); print("up", flush=True); time.sleep(10)' "$port" >"${TMPDIR:-/tmp}/forge_listen.$$" &
    lpid=$!
    n=0
    while ! grep -q up "${TMPDIR:-/tmp}/forge_listen.$$" 2>/dev/null && [ $n -lt 50 ]; do sleep 0.1; n=$((n + 1)); done
    out=$("$py" "$forge" --src 127.0.0.1:$((port + 1)) --dst 127.0.0.1:$port --wait 3 --require-synack 2>&1)
    rc=$?
    kill "$lpid" 2>/dev/null; wait "$lpid" 2>/dev/null
    rm -f "${TMPDIR:-/tmp}/forge_listen.$$"
    if [ $rc = 0 ] && printf '%s' "$out" | grep -q 'answer: SYN-ACK'; then
        ok "loopback: a listener answers the forged SYN with a SYN-ACK"
    else
        ko "loopback (exit $rc): $out"
    fi
    out=$("$py" "$forge" --src 127.0.0.1:$((port + 2)) --dst 127.0.0.1:$port --wait 3 --require-synack 2>&1)
    if [ $? = 1 ] && printf '%s' "$out" | grep -q 'want a SYN-ACK'; then
        ok "loopback: no listener, RST, --require-synack fails"
    else
        ko "loopback without listener: $out"
    fi
else
    echo "SKIP loopback send (not root)"
fi

finish
