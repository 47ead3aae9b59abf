"""The synthetic capture: deterministic, shaped like Zeek's conn.log, and with the malformed lines asked for."""

from __future__ import annotations

import ipaddress
import json
from collections import Counter
from pathlib import Path

import pytest

from workflows.generate import CHUNK_LINES, generate_capture, iter_capture
from workflows.render import convert_lines
from workflows.schema import CONN

from .conftest import run_cli

ZEEK_ORDER = [c.name for c in CONN.columns]


@pytest.fixture(scope="module")
def clean_lines() -> list[dict]:
    data = b"".join(iter_capture(20_000, seed=3, processes=1))
    return [json.loads(line) for line in data.splitlines()]


def test_same_seed_same_bytes_whatever_the_process_count() -> None:
    lines = CHUNK_LINES + 1234
    one = b"".join(iter_capture(lines, seed=5, bad_rate=0.01, processes=1))
    two = b"".join(iter_capture(lines, seed=5, bad_rate=0.01, processes=2))
    other = b"".join(iter_capture(lines, seed=6, bad_rate=0.01, processes=1))
    assert one == two and one != other
    assert one.count(b"\n") == lines


def test_clean_capture_converts_without_a_single_reject(clean_lines: list[dict]) -> None:
    data = b"".join(iter_capture(20_000, seed=3, processes=1))
    result = convert_lines(data, CONN.columns)
    assert (result.rows, result.rejected, result.blank) == (20_000, 0, 0)
    assert not result.dropped_fields


def test_keys_come_in_zeek_order_and_unset_fields_are_left_out(clean_lines: list[dict]) -> None:
    for record in clean_lines:
        keys = list(record)
        assert keys == [name for name in ZEEK_ORDER if name in record]
        if record["conn_state"] in ("S0", "REJ") and record["proto"] == "tcp":
            assert not {"service", "duration", "orig_bytes", "resp_bytes"} & set(record)


def test_the_mix_looks_like_a_real_network(clean_lines: list[dict]) -> None:
    protos = Counter(r["proto"] for r in clean_lines)
    states = Counter(r["conn_state"] for r in clean_lines)
    assert set(protos) == {"tcp", "udp", "icmp"}
    assert {"SF", "S0", "REJ", "OTH"} <= set(states)
    versions = Counter(ipaddress.ip_address(r["id.orig_h"]).version for r in clean_lines)
    assert versions[6] > 0.05 * len(clean_lines) and versions[4] > 0.8 * len(clean_lines)
    assert 0 < sum("tunnel_parents" in r for r in clean_lines) < 0.05 * len(clean_lines)
    decimals = Counter(len(repr(r["ts"]).split(".")[1]) for r in clean_lines)
    assert len(decimals) >= 3 and max(decimals) == 6
    timestamps = [r["ts"] for r in clean_lines]
    assert timestamps == sorted(timestamps)
    services = Counter(r.get("service") for r in clean_lines)
    assert services["dns"] > services["http"] > 0


def test_bad_rate_mixes_in_malformed_lines_of_several_kinds(tmp_path: Path) -> None:
    path = tmp_path / "bad.ndjson"
    generate_capture(str(path), 20_000, seed=1, bad_rate=0.05, processes=1)
    result = convert_lines(path.read_bytes(), CONN.columns)
    bad = result.rejected + result.blank
    assert 0.03 * 20_000 < bad < 0.07 * 20_000
    kinds = Counter(json.loads(r)["reason"].split(":")[0].split(" at byte")[0] for r in result.rejects.splitlines())
    assert set(kinds) == {"invalid JSON", "not a JSON object", "invalid UTF-8", "id.orig_p"}, kinds
    assert result.blank > 0


def test_generate_command_writes_the_file(tmp_path: Path) -> None:
    out = tmp_path / "g.ndjson"
    result = run_cli("generate", "-n", "1000", "-o", str(out), "--seed", "2", "--processes", "1")
    assert result.returncode == 0, result.stderr
    assert "wrote 1,000 lines" in result.stdout
    assert out.read_bytes() == b"".join(iter_capture(1000, seed=2, processes=1))
    bad = run_cli("generate", "-n", "10", "-o", str(out), "--bad-rate", "1.5")
    assert bad.returncode == 2 and "--bad-rate" in bad.stderr
