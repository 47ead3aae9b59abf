"""The synthetic capture: deterministic, shaped like Zeek's conn.log, and with the malformed lines asked for."""

from __future__ import annotations

import csv
import ipaddress
import json
import re
from collections import Counter
from pathlib import Path

import pytest

from workflows.generate import (CHUNK_LINES, FIELDS, MULTI_SERVICE_RATE, TUNNEL_RATE, generate_capture,
                                 iter_capture)
from workflows.zeek_format import json_double
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
        if record["conn_state"] == "S0" and record["proto"] == "tcp":
            assert not {"service", "duration", "orig_bytes", "resp_bytes"} & set(record)
        if record["conn_state"] == "REJ":  # two packets, so a duration, and no payload
            assert "service" not in record and record["orig_bytes"] == record["resp_bytes"] == 0


def test_the_mix_looks_like_a_real_network(clean_lines: list[dict]) -> None:
    protos = Counter(r["proto"] for r in clean_lines)
    states = Counter(r["conn_state"] for r in clean_lines)
    assert set(protos) == {"tcp", "udp", "icmp"}
    assert {"SF", "S0", "REJ", "OTH"} <= set(states)
    versions = Counter(ipaddress.ip_address(r["id.orig_h"]).version for r in clean_lines)
    assert versions[6] > 0.05 * len(clean_lines) and versions[4] > 0.8 * len(clean_lines)
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


NUMBER = re.compile(rb'"(ts|duration)":(-?[0-9][0-9.eE+-]*)')


@pytest.fixture(scope="module")
def clean_bytes() -> bytes:
    return b"".join(iter_capture(20_000, seed=3, processes=1))


def test_numbers_carry_the_text_zeeks_json_writer_gives_them(clean_bytes: bytes) -> None:
    numbers = [(key.decode(), text.decode()) for key, text in NUMBER.findall(clean_bytes)]
    assert all(json_double(float(text)) == text for _, text in numbers)
    durations = [text for key, text in numbers if key == "duration"]
    assert not any("e" in text for text in durations)  # fixed notation, never repr's 2.6e-05
    tiny = [text for text in durations if float(text) < 1e-4]
    assert len(tiny) > 0.05 * len(durations)
    assert all(text.startswith("0.0000") for text in tiny)
    assert sum(len(text.lstrip("0.")) >= 15 for text in tiny) > 0.9 * len(tiny)  # k * 2^-22 s, seldom short
    digits = Counter(len(text.replace(".", "").lstrip("0")) for text in durations)
    assert max(digits) == 17 and digits[17] > 0.1 * len(durations)
    # Some texts differ from Python's repr (Grisu2 digits are not always the closest): zeekflow must cope.
    assert any(text != repr(float(text)) for text in durations)


def test_times_are_microseconds_and_durations_differences_of_two(clean_lines: list[dict]) -> None:
    for record in clean_lines:
        assert round(record["ts"], 6) == record["ts"]
        if "duration" in record:
            end = record["ts"] + record["duration"]
            assert round(end, 6) == end and record["duration"] >= 0


def test_a_few_percent_of_connections_have_several_services(clean_lines: list[dict]) -> None:
    services = Counter(r["service"] for r in clean_lines if "," in r.get("service", ""))
    share = sum(services.values()) / len(clean_lines)
    established = sum(r["proto"] == "tcp" and "service" in r for r in clean_lines) / len(clean_lines)
    assert 0.5 * MULTI_SERVICE_RATE * established < share < 2 * MULTI_SERVICE_RATE * established
    assert "gssapi,smb,krb" in services and len(services) >= 3


def test_some_connections_have_one_or_two_tunnel_parents(clean_lines: list[dict]) -> None:
    parents = [r["tunnel_parents"] for r in clean_lines if "tunnel_parents" in r]
    assert 0.5 * TUNNEL_RATE * len(clean_lines) < len(parents) < 2 * TUNNEL_RATE * len(clean_lines)
    assert {len(p) for p in parents} == {1, 2}
    assert all(uid.startswith("C") and len(uid) == 18 for p in parents for uid in p)


def _tsv(lines: int, **options) -> bytes:
    return b"".join(iter_capture(lines, processes=1, fmt="tsv", **options))


def test_tsv_has_zeeks_header_and_close() -> None:
    text = _tsv(10, seed=3).decode()
    lines = text.splitlines()
    assert lines[:6] == ["#separator \\x09", "#set_separator\t,", "#empty_field\t(empty)", "#unset_field\t-",
                         "#path\tconn", "#open\t2023-11-14-22-13-20"]
    assert lines[6] == "#fields\t" + "\t".join(ZEEK_ORDER)
    assert lines[7] == "#types\t" + "\t".join(t for _, t in FIELDS)
    assert re.fullmatch(r"#close\t\d{4}(-\d\d){5}", lines[-1])
    assert len(lines) == 8 + 10 + 1
    assert all(len(line.split("\t")) == len(FIELDS) for line in lines[8:-1])


def test_tsv_writes_the_same_events_in_zeeks_tsv_formats(clean_lines: list[dict]) -> None:
    rows = [line.split("\t") for line in _tsv(20_000, seed=3).decode().splitlines() if not line.startswith("#")]
    assert len(rows) == len(clean_lines)
    for row, record in zip(rows, clean_lines):
        for (name, zeek_type), text in zip(FIELDS, row):
            value = record.get(name)
            if value is None:
                assert text == "-", name
            elif zeek_type in ("time", "interval"):
                assert text == f"{value:.6f}", name  # six decimals, trailing zeros kept
            elif zeek_type == "bool":
                assert text == ("T" if value else "F")
            elif zeek_type.startswith("set["):
                assert text == ",".join(value)
            else:
                assert text == str(value), name


def test_tsv_same_seed_same_bytes_whatever_the_process_count() -> None:
    lines = CHUNK_LINES + 10
    assert _tsv(lines, seed=5, bad_rate=0.01) == b"".join(
        iter_capture(lines, seed=5, bad_rate=0.01, processes=2, fmt="tsv"))


def test_tsv_bad_lines_are_rejected_or_blank(tmp_path: Path) -> None:
    path = tmp_path / "bad.log"
    generate_capture(str(path), 4000, seed=1, bad_rate=0.05, processes=1, fmt="tsv")
    out = tmp_path / "bad.csv"
    done = run_cli("convert", str(path), "-o", str(out), "--workers", "1", "--no-progress",
                   "--summary-json", str(tmp_path / "s.json"), timeout=120)
    assert done.returncode == 0, done.stderr
    summary = json.loads((tmp_path / "s.json").read_text())
    bad = summary["rejected"] + summary["blank"]
    assert summary["lines"] == 4000 and 0.03 * 4000 < bad < 0.07 * 4000
    assert summary["blank"] > 0 and summary["rejected"] > summary["blank"]


def test_tsv_twin_converts_to_the_ndjson_twins_csv_but_for_duration_decimals(tmp_path: Path) -> None:
    """Same events, two formats, one CSV: every cell equal except ``duration``, which Zeek's TSV writer
    rounds to six decimals (the JSON one keeps every digit): there the TSV cell is the JSON value rounded."""
    lines = 3000
    outputs = {}
    for fmt, name in (("ndjson", "twin.ndjson"), ("tsv", "twin.log")):
        source = tmp_path / name
        generate_capture(str(source), lines, seed=4, processes=1, fmt=fmt)
        outputs[fmt] = tmp_path / f"{fmt}.csv"
        done = run_cli("convert", str(source), "-o", str(outputs[fmt]), "--workers", "1", "--no-progress",
                       timeout=120)
        assert done.returncode == 0, done.stderr
    from_json = list(csv.reader(outputs["ndjson"].open()))
    from_tsv = list(csv.reader(outputs["tsv"].open()))
    assert from_json[0] == from_tsv[0] == ZEEK_ORDER
    assert len(from_json) == len(from_tsv) == lines + 1
    at = ZEEK_ORDER.index("duration")
    rounded = 0
    for a, b in zip(from_json[1:], from_tsv[1:]):
        assert a[:at] + a[at + 1:] == b[:at] + b[at + 1:]
        if a[at]:
            assert b[at] == repr(float(f"{float(a[at]):.6f}"))
            rounded += a[at] != b[at]
        else:
            assert b[at] == ""
    assert rounded > 0.5 * lines


def test_generate_command_writes_tsv(tmp_path: Path) -> None:
    out = tmp_path / "g.log"
    result = run_cli("generate", "-n", "100", "-o", str(out), "--seed", "2", "--processes", "1", "--format", "tsv")
    assert result.returncode == 0, result.stderr
    assert out.read_bytes() == _tsv(100, seed=2)
    bad = run_cli("generate", "-n", "10", "-o", str(out), "--format", "csv")
    assert bad.returncode == 2 and "--format" in bad.stderr
