"""The Internet checksum (RFC 1071), shared by the VM tests' packet builders
(forge_syn.py, hostile.py) and tests/host/pcap_check_test.sh's synthetic
captures. The host tests that check those builders verify with their own
sum (tests/host/verify.py), so that a bug here cannot hide itself.

Python 3 standard library only.
"""

import struct


def checksum(data):
    """The one's complement of the one's complement sum of `data`'s 16-bit
    words (an odd last byte padded with zero): the value an IPv4 or TCP
    header carries, computed with the field zero."""
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF
