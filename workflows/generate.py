"""Synthetic conn.log that looks like what Zeek writes, as NDJSON or as Zeek TSV, for demos, tests and benchmarks.

Lines follow Zeek's key order and omit unset fields the way Zeek does (an S0 connection has no service,
duration or byte counts). Numbers carry the text Zeek's writers give them (``zeek_format``): a duration is the
difference of two microsecond timestamps, so its JSON text has up to 17 significant digits in fixed notation
(``0.000025987625122070313``), and TSV prints times and intervals with six decimals. A few percent of
connections have a multi-service value (``gssapi,smb,krb``) and some have one or two ``tunnel_parents``.
``--format tsv`` writes the same events (same seed, same connections) as Zeek's default TSV log, header and
``#close`` included. The output depends only on ``seed``, ``lines``, ``bad_rate`` and the format: it is built
in fixed-size chunks, each with its own seeded generator, so any number of processes makes the same bytes.
"""

from __future__ import annotations

import os
import random
import string
import time
from collections import deque
from concurrent.futures import ProcessPoolExecutor
from typing import Iterator

from .zeek_format import json_double, tsv_double

CHUNK_LINES = 50_000
START_TS = 1_700_000_000.0
MEAN_GAP_S = 0.0021  # about 475 connections a second

_B62 = string.digits + string.ascii_letters
_SERVICES_TCP = [("http", 80), ("ssl", 443), ("ssh", 22), ("smtp", 25), ("ftp", 21), ("rdp", 3389),
                 ("ssl", 8443), ("http", 8080), ("krb_tcp", 88), ("smb", 445)]
_SERVICES_UDP = [("dns", 53), ("ntp", 123), ("dhcp", 67), ("snmp", 161), ("syslog", 514)]
# Services Zeek reports together on one connection (its service set, comma-joined in the log).
_MULTI_SERVICES = [("gssapi,smb,krb", 445), ("gssapi,ntlm,smb", 445), ("dce_rpc,gssapi,ntlm", 135),
                   ("smtp,ssl", 587)]
MULTI_SERVICE_RATE = 0.04  # of established TCP connections
TUNNEL_RATE = 0.015
_BAD_KINDS = ("truncated", "array", "utf8", "type", "garbage", "blank")
FORMATS = ("ndjson", "tsv")

# conn.log's columns (Zeek 7.1+), in Zeek's order, with their Zeek types for the TSV header.
FIELDS = (
    ("ts", "time"), ("uid", "string"), ("id.orig_h", "addr"), ("id.orig_p", "port"), ("id.resp_h", "addr"),
    ("id.resp_p", "port"), ("proto", "enum"), ("service", "string"), ("duration", "interval"),
    ("orig_bytes", "count"), ("resp_bytes", "count"), ("conn_state", "string"), ("local_orig", "bool"),
    ("local_resp", "bool"), ("missed_bytes", "count"), ("history", "string"), ("orig_pkts", "count"),
    ("orig_ip_bytes", "count"), ("resp_pkts", "count"), ("resp_ip_bytes", "count"),
    ("tunnel_parents", "set[string]"), ("ip_proto", "count"),
)
_JSON_KEYS = tuple(f'"{name}":' for name, _ in FIELDS)


def _pools(rng: random.Random) -> dict:
    """Hosts with a skewed popularity, so top-talker questions have answers."""
    internal = [f"10.{rng.randrange(0, 4)}.{rng.randrange(0, 256)}.{rng.randrange(1, 255)}" for _ in range(300)]
    internal += [f"192.168.1.{i}" for i in range(2, 60)]
    external = [f"{rng.randrange(1, 224)}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
                for _ in range(3000)]
    internal6 = [f"fd00:{rng.randrange(65536):x}::{rng.randrange(1, 65536):x}" for _ in range(60)]
    external6 = [f"2001:db8:{rng.randrange(65536):x}:{rng.randrange(65536):x}::{rng.randrange(1, 65536):x}"
                 for _ in range(400)]
    chunks = ["".join(rng.choices(_B62, k=6)) for _ in range(4096)]
    scanners = [f"203.0.113.{rng.randrange(1, 255)}" for _ in range(3)]
    return {"in4": internal, "ex4": external, "in6": internal6, "ex6": external6, "uid": chunks,
            "scan": scanners}


_POOLS = _pools(random.Random(20240601))


def _uid(rng: random.Random) -> str:
    bits = rng.getrandbits(36)
    chunks = _POOLS["uid"]
    return ("C" + chunks[bits & 4095] + chunks[(bits >> 12) & 4095] + chunks[bits >> 24])[:18]


def _hosts(rng: random.Random) -> tuple[str, str]:
    if rng.random() < 0.1:
        return rng.choice(_POOLS["in6"]), _POOLS["ex6"][int(len(_POOLS["ex6"]) * rng.random() ** 3)]
    internal = _POOLS["in4"]
    orig = internal[int(len(internal) * rng.random() ** 2)]
    resp = _POOLS["ex4"][int(len(_POOLS["ex4"]) * rng.random() ** 3)]
    return orig, resp


def _duration(ts: float, seconds: float) -> float:
    """What Zeek logs: the last packet's microsecond timestamp minus the first's, in doubles (so
    ``2.5987625122070312e-05`` rather than a round ``2.6e-05``)."""
    return round(ts + seconds, 6) - ts


Event = list  # one value per FIELDS entry; None where Zeek leaves the field unset


def _event(rng: random.Random, ts: float) -> Event:
    rand = rng.random  # int(rand() * n) instead of randrange: this loop makes millions of lines
    r = rand()
    uid = _uid(rng)
    orig_h, resp_h = _hosts(rng)
    orig_p = 1024 + int(rand() * 64512)
    # ts uid orig_h orig_p resp_h resp_p proto service duration orig_bytes resp_bytes conn_state local_orig
    # local_resp missed_bytes history orig_pkts orig_ip_bytes resp_pkts resp_ip_bytes tunnel_parents ip_proto
    if r < 0.42:  # established TCP with a service
        if rand() < MULTI_SERVICE_RATE:
            service, port = rng.choice(_MULTI_SERVICES)
        else:
            service, port = rng.choice(_SERVICES_TCP)
        duration = _duration(ts, rng.expovariate(0.5))
        ob, rb = int(rng.expovariate(1 / 900)), int(rng.expovariate(1 / 25000))
        op, rp = 3 + ob // 1200, 2 + rb // 1400
        state, history = rng.choice((("SF", "ShADadFf"), ("SF", "ShADadfF"), ("RSTO", "ShADadR"),
                                     ("RSTR", "ShADadr"), ("S1", "ShADad")))
        event = [ts, uid, orig_h, orig_p, resp_h, port, "tcp", service, duration, ob, rb, state, True, False, 0,
                 history, op, ob + 52 * op, rp, rb + 52 * rp, None, 6]
    elif r < 0.54:  # S0: a SYN with no answer, one packet so no duration
        if rand() < 0.5:
            orig_h = rng.choice(_POOLS["scan"])
        port = rng.choice((22, 23, 80, 443, 445, 3389, 8080, rng.randrange(1, 65536)))
        event = [ts, uid, orig_h, orig_p, resp_h, port, "tcp", None, None, None, None, "S0", False, True, 0,
                 "S", 1, 44, 0, 0, None, 6]
    elif r < 0.62:  # REJ: answered with a reset within a few tens of microseconds
        port = 1 + int(rand() * 1023)
        event = [ts, uid, orig_h, orig_p, resp_h, port, "tcp", None, _duration(ts, 2e-5 + rand() * 8e-5), 0, 0,
                 "REJ", True, False, 0, "Sr", 1, 44, 1, 40, None, 6]
    elif r < 0.87:  # UDP with a service (mostly DNS)
        service, port = ("dns", 53) if rand() < 0.8 else rng.choice(_SERVICES_UDP)
        ob, rb = 30 + int(rand() * 50), int(rand() * 500)
        duration = _duration(ts, rand() * 0.1)
        state, history = ("SF", "Dd") if rb else ("S0", "D")
        event = [ts, uid, orig_h, orig_p, resp_h, port, "udp", service, duration, ob, rb, state, True, False, 0,
                 history, 1, ob + 28, 1 if rb else 0, rb + 28 if rb else 0, None, 17]
    elif r < 0.95:  # UDP without a recognised service
        port = 1024 + int(rand() * 64512)
        event = [ts, uid, orig_h, orig_p, resp_h, port, "udp", None, _duration(ts, rand() * 3),
                 rng.randrange(0, 2000), 0, "S0", True, False, 0, "D", 2, 1200, 0, 0, None, 17]
    else:  # ICMP echo: ports carry type and code
        v6 = ":" in orig_h
        event = [ts, uid, orig_h, 128 if v6 else 8, resp_h, 129 if v6 else 0, "icmp", None, _duration(ts, rand()),
                 56, 56, "OTH", True, False, 0, None, 1, 84, 1, 84, None, 58 if v6 else 1]
    if rand() < TUNNEL_RATE:
        event[20] = (_uid(rng), _uid(rng)) if rand() < 0.3 else (_uid(rng),)
    return event


def json_line(event: Event) -> str:
    """The event as Zeek's JSON writer writes it: unset fields left out, numbers as ``json_double`` prints them.
    Generated strings need no JSON escape (uids, addresses, services, histories)."""
    parts = []
    for key, value in zip(_JSON_KEYS, event):
        if value is None:
            continue
        kind = type(value)
        if kind is str:
            parts.append(f'{key}"{value}"')
        elif kind is bool:
            parts.append(key + ("true" if value else "false"))
        elif kind is int:
            parts.append(f"{key}{value}")
        elif kind is float:
            parts.append(key + json_double(value))
        else:
            parts.append(key + "[" + ",".join(f'"{item}"' for item in value) + "]")
    return "{" + ",".join(parts) + "}\n"


def tsv_line(event: Event) -> str:
    """The event as Zeek's TSV writer writes it: ``-`` for unset, ``T``/``F``, sets joined by ``,`` (``(empty)``
    for an empty one), times and intervals with six decimals. Generated strings hold no tab, comma or
    backslash, so none needs Zeek's ``\\xNN`` escape."""
    out = []
    for value in event:
        kind = type(value)
        if value is None:
            out.append("-")
        elif kind is str:
            out.append(value)
        elif kind is bool:
            out.append("T" if value else "F")
        elif kind is int:
            out.append(str(value))
        elif kind is float:
            out.append(tsv_double(value))
        else:
            out.append(",".join(value) or "(empty)")
    return "\t".join(out) + "\n"


def _zeek_time(epoch: float) -> str:
    """``#open``/``#close`` stamps as Zeek writes them (UTC here, so the bytes do not depend on the machine)."""
    return time.strftime("%Y-%m-%d-%H-%M-%S", time.gmtime(epoch))


def tsv_header() -> bytes:
    """The directives Zeek's TSV writer starts a conn.log with."""
    names = "\t".join(name for name, _ in FIELDS)
    types = "\t".join(zeek_type for _, zeek_type in FIELDS)
    return (f"#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tconn\n"
            f"#open\t{_zeek_time(START_TS)}\n#fields\t{names}\n#types\t{types}\n").encode()


def tsv_footer(lines: int) -> bytes:
    """``#close`` with the time the log of ``lines`` connections would be rotated at (after its last one)."""
    return f"#close\t{_zeek_time(START_TS + (lines + 1) * MEAN_GAP_S + 1)}\n".encode()


def _bad_line(kind: str, cut: float, good: str, fmt: str) -> bytes:
    """A malformed version of ``good``. ``kind`` and ``cut`` are drawn whatever the format, so a TSV capture
    and its NDJSON twin keep the same events."""
    if kind == "truncated":
        return good[: 1 + int(cut * (len(good) - 3))].encode() + b"\n"
    if kind == "blank":
        return b"\n"
    if fmt == "tsv":
        fields = good.rstrip("\n").split("\t")
        if kind == "array":  # a field too many
            return ("\t".join(fields + ["extra"]) + "\n").encode()
        if kind == "utf8":
            return ("\t".join(fields[:1] + ["\xff" + fields[1][1:]] + fields[2:]) + "\n").encode(
                "utf-8").replace(b"\xc3\xbf", b"\xff")
        if kind == "type":
            return ("\t".join(fields[:3] + ["port" + fields[3]] + fields[4:]) + "\n").encode()
        return b"garbage: not a Zeek TSV line\n"
    if kind == "array":
        return b'["not","an","object"]\n'
    if kind == "utf8":
        return good.replace('"uid":"C', '"uid":"\xff', 1).encode("utf-8").replace(b"\xc3\xbf", b"\xff")
    if kind == "type":
        return good.replace('"id.orig_p":', '"id.orig_p":"', 1).replace(',"id.resp_h"', '","id.resp_h"', 1).encode()
    return b"#garbage: not a JSON line\n"


def generate_chunk(seed: int, chunk: int, lines: int, bad_rate: float, fmt: str = "ndjson") -> bytes:
    """Lines ``chunk * CHUNK_LINES`` onwards: the same bytes whichever process makes them."""
    rng = random.Random(f"zeekflow-{seed}-{chunk}")
    render = tsv_line if fmt == "tsv" else json_line
    first = chunk * CHUNK_LINES
    out = []
    for i in range(first, first + lines):
        ts = round(START_TS + i * MEAN_GAP_S + rng.random() * MEAN_GAP_S, 6)
        line = render(_event(rng, ts))
        if bad_rate and rng.random() < bad_rate:
            out.append(_bad_line(rng.choice(_BAD_KINDS), rng.random(), line, fmt))
        else:
            out.append(line.encode())
    return b"".join(out)


def iter_capture(lines: int, seed: int = 0, bad_rate: float = 0.0, processes: int | None = None,
                 fmt: str = "ndjson") -> Iterator[bytes]:
    """Yield the capture in chunks, in order (for TSV, the header first and ``#close`` last)."""
    if lines < 0:
        raise ValueError("lines must be at least 0")
    if not 0.0 <= bad_rate <= 1.0:
        raise ValueError("bad rate must be between 0 and 1")
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; known: {', '.join(FORMATS)}")
    if fmt == "tsv":
        yield tsv_header()
        yield from _iter_lines(lines, seed, bad_rate, processes, fmt)
        yield tsv_footer(lines)
        return
    yield from _iter_lines(lines, seed, bad_rate, processes, fmt)


def _iter_lines(lines: int, seed: int, bad_rate: float, processes: int | None, fmt: str) -> Iterator[bytes]:
    sizes = [min(CHUNK_LINES, lines - start) for start in range(0, lines, CHUNK_LINES)]
    processes = processes or os.cpu_count() or 1
    if processes == 1 or len(sizes) < 2:
        for chunk, size in enumerate(sizes):
            yield generate_chunk(seed, chunk, size, bad_rate, fmt)
        return
    with ProcessPoolExecutor(processes) as pool:
        # At most two chunks per process are in flight, so memory stays flat for any number of lines.
        ahead: deque = deque()
        for chunk, size in enumerate(sizes):
            ahead.append(pool.submit(generate_chunk, seed, chunk, size, bad_rate, fmt))
            if len(ahead) >= 2 * processes:
                yield ahead.popleft().result()
        while ahead:
            yield ahead.popleft().result()


def generate_capture(path: str, lines: int, seed: int = 0, bad_rate: float = 0.0,
                     processes: int | None = None, fmt: str = "ndjson") -> int:
    """Write a capture of ``lines`` lines to ``path`` (atomically) as ``fmt`` (``ndjson`` or ``tsv``); return
    its size in bytes."""
    temporary = path + ".tmp"
    size = 0
    with open(temporary, "wb") as f:
        for data in iter_capture(lines, seed, bad_rate, processes, fmt):
            f.write(data)
            size += len(data)
    os.replace(temporary, path)
    return size
