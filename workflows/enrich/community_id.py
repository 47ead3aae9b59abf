"""Community ID v1 (corelight/community-id-spec): one flow hash that Zeek, Suricata and EDR tools agree on.

The hash is SHA-1 over seed (2 bytes), the two addresses, the IP protocol number, a zero byte and, for
protocols with ports, the two ports, all in network order, the endpoint pair ordered so that both directions
of a flow give the same ID. ICMP and ICMPv6 use the message type and code as ports: a request or reply type is
paired with its counterpart type (so an echo and its reply share an ID); every other type is one-way and is not
reordered.
"""

from __future__ import annotations

import socket
import struct
from binascii import b2a_base64
from functools import lru_cache
from hashlib import sha1

ICMP, TCP, UDP, ICMP6, SCTP = 1, 6, 17, 58, 132
PORTED = frozenset({ICMP, TCP, UDP, ICMP6, SCTP})
# Zeek's conn.log `proto` (transport_proto): ICMP and ICMPv6 are both "icmp", the address family decides.
ZEEK_PROTOS = {"tcp": TCP, "udp": UDP, "icmp": ICMP, "sctp": SCTP}
# Request/reply types and their counterparts (the spec's tables, as Zeek maps them).
ICMP_COUNTERPART = {8: 0, 0: 8, 13: 14, 14: 13, 15: 16, 16: 15, 10: 9, 9: 10, 17: 18, 18: 17}
ICMP6_COUNTERPART = {128: 129, 129: 128, 130: 131, 131: 130, 133: 134, 134: 133, 135: 136, 136: 135,
                     139: 140, 140: 139, 144: 145, 145: 144}

# The fields around the addresses, in network order: seed, then protocol, a zero byte and the two ports.
_SEED = struct.Struct("!H")
_SEED_PROTO_PORTS = struct.Struct("!HBBHH")


@lru_cache(maxsize=65536)
def packed_address(text: str) -> bytes | None:
    """The address in network order (4 or 16 bytes); None for anything that is not an IP address."""
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            return socket.inet_pton(family, text)
        except (OSError, ValueError):
            continue
    return None


def community_id(saddr: str, daddr: str, sport: int | None, dport: int | None, proto: int, seed: int = 0,
                 use_base64: bool = True) -> str | None:
    """The Community ID of one flow tuple (``proto`` as an IP protocol number); None if an address is not one.

    >>> community_id("1.2.3.4", "5.6.7.8", 1122, 3344, 6)
    '1:wCb3OG7yAFWelaUydu0D+125CLM='
    """
    src, dst = packed_address(saddr), packed_address(daddr)
    if src is None or dst is None or len(src) != len(dst):
        return None
    ported = proto in PORTED and sport is not None and dport is not None
    one_way = False
    if ported and proto in (ICMP, ICMP6):
        counterpart = (ICMP_COUNTERPART if proto == ICMP else ICMP6_COUNTERPART).get(sport)
        if counterpart is None:
            one_way = True  # type and code stay as they are, and the tuple is not reordered
        else:
            dport = counterpart
    if not ported:
        sport = dport = 0
    if not (one_way or src < dst or (src == dst and sport < dport)):
        src, dst, sport, dport = dst, src, dport, sport
    if ported:
        fields = _SEED_PROTO_PORTS.pack(seed, proto, 0, sport, dport)
        digest = sha1(fields[:2] + src + dst + fields[2:])
    else:
        digest = sha1(_SEED.pack(seed) + src + dst + bytes((proto, 0)))
    if use_base64:
        return "1:" + b2a_base64(digest.digest(), newline=False).decode("ascii")
    return "1:" + digest.hexdigest()


def zeek_proto_number(proto: object, orig_h: str, ip_proto: object = None) -> int | None:
    """The IP protocol number of a Zeek log's ``proto`` (``icmp`` is 58 for an IPv6 pair), or its
    ``ip_proto`` (Zeek 7.1+) when ``proto`` names no transport Community ID knows; None when neither tells."""
    number = ZEEK_PROTOS.get(proto) if type(proto) is str else None
    if number == ICMP and ":" in orig_h:
        return ICMP6
    if number is None and type(ip_proto) is int and 0 <= ip_proto <= 255:
        return ip_proto
    return number
