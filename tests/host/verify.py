"""What the host tests of the VM tests' packet builders verify with
(tests/host/forge_syn_test.sh, tests/host/hostile_test.sh), written apart
from the builders' own checksum (tests/vm/inet.py) so that a bug there
cannot hide itself.

Python 3 standard library only.
"""

import struct


def ones_sum(b):
    """The one's complement sum of `b`'s 16-bit words, folded (an odd last
    byte padded with zero): 0xFFFF over a header whose checksum is right."""
    if len(b) % 2:
        b += b"\0"
    s = 0
    for i in range(0, len(b), 2):
        s += (b[i] << 8) | b[i + 1]
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def checks(header):
    """Whether `header` (with its checksum field) sums to 0xFFFF."""
    return ones_sum(header) == 0xFFFF
