"""Synthetic conn.log NDJSON that looks like what Zeek writes, for demos, tests and benchmarks.

Lines follow Zeek's key order and omit unset fields the way Zeek does (S0 and REJ connections have no
service, duration or byte counts). The output depends only on ``seed``, ``lines`` and ``bad_rate``: it is
built in fixed-size chunks, each with its own seeded generator, so any number of processes makes the same
bytes.
"""

from __future__ import annotations

import os
import random
import string
from collections import deque
from concurrent.futures import ProcessPoolExecutor
from typing import Iterator

CHUNK_LINES = 50_000
START_TS = 1_700_000_000.0
MEAN_GAP_S = 0.0021  # about 475 connections a second

_B62 = string.digits + string.ascii_letters
_SERVICES_TCP = [("http", 80), ("ssl", 443), ("ssh", 22), ("smtp", 25), ("ftp", 21), ("rdp", 3389),
                 ("ssl", 8443), ("http", 8080), ("krb_tcp", 88), ("smb", 445)]
_SERVICES_UDP = [("dns", 53), ("ntp", 123), ("dhcp", 67), ("snmp", 161), ("syslog", 514)]
_BAD_KINDS = ("truncated", "array", "utf8", "type", "garbage", "blank")


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


def _line(rng: random.Random, ts: float) -> str:
    rand = rng.random  # int(rand() * n) instead of randrange: this loop makes millions of lines
    r = rand()
    uid = _uid(rng)
    orig_h, resp_h = _hosts(rng)
    orig_p = 1024 + int(rand() * 64512)
    ip_proto = 6
    head = f'{{"ts":{ts!r},"uid":"{uid}","id.orig_h":"{orig_h}","id.orig_p":{orig_p},"id.resp_h":"{resp_h}",'
    local = f'"local_orig":true,"local_resp":false,"missed_bytes":0,'
    if r < 0.42:  # established TCP with a service
        service, port = rng.choice(_SERVICES_TCP)
        duration = round(rng.expovariate(0.5), 4 + int(rand() * 3))
        ob, rb = int(rng.expovariate(1 / 900)), int(rng.expovariate(1 / 25000))
        op, rp = 3 + ob // 1200, 2 + rb // 1400
        state, history = rng.choice((("SF", "ShADadFf"), ("SF", "ShADadfF"), ("RSTO", "ShADadR"),
                                     ("RSTR", "ShADadr"), ("S1", "ShADad")))
        body = (f'"id.resp_p":{port},"proto":"tcp","service":"{service}","duration":{duration!r},'
                f'"orig_bytes":{ob},"resp_bytes":{rb},"conn_state":"{state}",{local}"history":"{history}",'
                f'"orig_pkts":{op},"orig_ip_bytes":{ob + 52 * op},"resp_pkts":{rp},"resp_ip_bytes":{rb + 52 * rp}')
    elif r < 0.54:  # S0: a SYN with no answer
        if rng.random() < 0.5:
            orig_h = rng.choice(_POOLS["scan"])
            head = (f'{{"ts":{ts!r},"uid":"{uid}","id.orig_h":"{orig_h}","id.orig_p":{orig_p},'
                    f'"id.resp_h":"{resp_h}",')
        port = rng.choice((22, 23, 80, 443, 445, 3389, 8080, rng.randrange(1, 65536)))
        body = (f'"id.resp_p":{port},"proto":"tcp","conn_state":"S0","local_orig":false,"local_resp":true,'
                f'"missed_bytes":0,"history":"S","orig_pkts":1,"orig_ip_bytes":44,"resp_pkts":0,"resp_ip_bytes":0')
    elif r < 0.62:  # REJ: answered with a reset
        port = 1 + int(rand() * 1023)
        body = (f'"id.resp_p":{port},"proto":"tcp","conn_state":"REJ",{local}"history":"Sr",'
                f'"orig_pkts":1,"orig_ip_bytes":44,"resp_pkts":1,"resp_ip_bytes":40')
    elif r < 0.87:  # UDP with a service (mostly DNS)
        service, port = ("dns", 53) if rng.random() < 0.8 else rng.choice(_SERVICES_UDP)
        ob, rb = 30 + int(rand() * 50), int(rand() * 500)
        duration = round(rand() * 0.1, 5 + int(rand() * 2))
        state, history = ("SF", "Dd") if rb else ("S0", "D")
        ip_proto = 17
        body = (f'"id.resp_p":{port},"proto":"udp","service":"{service}","duration":{duration!r},'
                f'"orig_bytes":{ob},"resp_bytes":{rb},"conn_state":"{state}",{local}"history":"{history}",'
                f'"orig_pkts":1,"orig_ip_bytes":{ob + 28},"resp_pkts":{1 if rb else 0},'
                f'"resp_ip_bytes":{rb + 28 if rb else 0}')
    elif r < 0.95:  # UDP without a recognised service
        port = 1024 + int(rand() * 64512)
        ip_proto = 17
        body = (f'"id.resp_p":{port},"proto":"udp","duration":{round(rng.random() * 3, 6)!r},'
                f'"orig_bytes":{rng.randrange(0, 2000)},"resp_bytes":0,"conn_state":"S0",{local}'
                f'"history":"D","orig_pkts":2,"orig_ip_bytes":1200,"resp_pkts":0,"resp_ip_bytes":0')
    else:  # ICMP echo: ports carry type and code
        ip_proto = 58 if ":" in orig_h else 1
        head = (f'{{"ts":{ts!r},"uid":"{uid}","id.orig_h":"{orig_h}","id.orig_p":{128 if ip_proto == 58 else 8},'
                f'"id.resp_h":"{resp_h}",')
        body = (f'"id.resp_p":{129 if ip_proto == 58 else 0},"proto":"icmp",'
                f'"duration":{round(rng.random(), 6)!r},"orig_bytes":56,"resp_bytes":56,"conn_state":"OTH",'
                f'{local}"orig_pkts":1,"orig_ip_bytes":84,"resp_pkts":1,"resp_ip_bytes":84')
    tunnel = f',"tunnel_parents":["{_uid(rng)}"]' if rng.random() < 0.01 else ""
    return f'{head}{body}{tunnel},"ip_proto":{ip_proto}}}\n'


def _bad_line(rng: random.Random, good: str) -> bytes:
    kind = rng.choice(_BAD_KINDS)
    if kind == "truncated":
        return good[: rng.randrange(1, len(good) - 2)].encode() + b"\n"
    if kind == "array":
        return b'["not","an","object"]\n'
    if kind == "utf8":
        return good.replace('"uid":"C', '"uid":"\xff', 1).encode("utf-8").replace(b"\xc3\xbf", b"\xff")
    if kind == "type":
        return good.replace('"id.orig_p":', '"id.orig_p":"', 1).replace(',"id.resp_h"', '","id.resp_h"', 1).encode()
    if kind == "garbage":
        return b"#garbage: not a JSON line\n"
    return b"\n"


def generate_chunk(seed: int, chunk: int, lines: int, bad_rate: float) -> bytes:
    """Lines ``chunk * CHUNK_LINES`` onwards: the same bytes whichever process makes them."""
    rng = random.Random(f"zeekflow-{seed}-{chunk}")
    first = chunk * CHUNK_LINES
    out = []
    for i in range(first, first + lines):
        ts = round(START_TS + i * MEAN_GAP_S + rng.random() * MEAN_GAP_S, 6)
        line = _line(rng, ts)
        if bad_rate and rng.random() < bad_rate:
            out.append(_bad_line(rng, line))
        else:
            out.append(line.encode())
    return b"".join(out)


def iter_capture(lines: int, seed: int = 0, bad_rate: float = 0.0, processes: int | None = None) -> Iterator[bytes]:
    """Yield the capture in chunks, in order."""
    if lines < 0:
        raise ValueError("lines must be at least 0")
    if not 0.0 <= bad_rate <= 1.0:
        raise ValueError("bad rate must be between 0 and 1")
    sizes = [min(CHUNK_LINES, lines - start) for start in range(0, lines, CHUNK_LINES)]
    processes = processes or os.cpu_count() or 1
    if processes == 1 or len(sizes) < 2:
        for chunk, size in enumerate(sizes):
            yield generate_chunk(seed, chunk, size, bad_rate)
        return
    with ProcessPoolExecutor(processes) as pool:
        # At most two chunks per process are in flight, so memory stays flat for any number of lines.
        ahead: deque = deque()
        for chunk, size in enumerate(sizes):
            ahead.append(pool.submit(generate_chunk, seed, chunk, size, bad_rate))
            if len(ahead) >= 2 * processes:
                yield ahead.popleft().result()
        while ahead:
            yield ahead.popleft().result()


def generate_capture(path: str, lines: int, seed: int = 0, bad_rate: float = 0.0,
                     processes: int | None = None) -> int:
    """Write a capture of ``lines`` lines to ``path`` (atomically); return its size in bytes."""
    temporary = path + ".tmp"
    size = 0
    with open(temporary, "wb") as f:
        for data in iter_capture(lines, seed, bad_rate, processes):
            f.write(data)
            size += len(data)
    os.replace(temporary, path)
    return size
