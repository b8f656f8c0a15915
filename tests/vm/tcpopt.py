"""TCP options parsing shared by pcap_check.py and forge_syn.py (VM tests).

Python 3 standard library only.
"""


def tcp_options(area):
    """[(kind, option bytes)] of a TCP options area, NOP and EOL left out.
    Stops at EOL; a malformed last option (no length byte, a length below 2,
    or past the area's end) is returned with the rest of the area as its
    bytes, and ends the list."""
    out, i = [], 0
    while i < len(area):
        k = area[i]
        if k == 0:
            break
        if k == 1:
            i += 1
            continue
        if i + 1 >= len(area) or area[i + 1] < 2 or i + area[i + 1] > len(area):
            out.append((k, area[i:]))
            break
        out.append((k, area[i:i + area[i + 1]]))
        i += area[i + 1]
    return out
