"""Every real Zeek log in ../shared/samples converts with no unexpected reject, value for value as an
independent reading of the same file says, and JSON/TSV twins of the same events agree.

The pipeline runs in process (every partition's real task, cut into small byte ranges); test_parquet.py checks
on a cluster that the bytes are the same.
"""

from __future__ import annotations

import csv
import gzip
import io
from pathlib import Path

import pytest

from workflows.schema import get_schema

from .inprocess import convert_in_process
from .reference import reference_convert
from .reference_tsv import read_tsv

MASK = b"XXXXXXXXXX.XXXXXX"  # btest masks times in its baselines; such lines cannot be valid values
TSV_SAMPLES = [
    "tsv/rita_missing_host_conn.00-01.log.gz", "tsv/sdft_001_njrat_conn_first1000.log",
    "tsv/sdft_003_androidrat_conn.log", "tsv/zat_bro2x_conn.log", "other/sdft_009_kovter_dns.log.labeled",
    "other/zed_dns.tsv.log.gz", "other/zed_analyzer.tsv.log.gz", "other/zed_ntp.tsv.log.gz",
    "zeek-btest-baselines/core.history-flip_conn.log", "zeek-btest-baselines/core.tunnels.teredo_conn.log",
    "zeek-btest-baselines/scripts.policy.protocols.conn.vlan-logging_conn.log",
    "zeek-btest-baselines/scripts.base.frameworks.logging.json-non-printable-escaping_http.log.tsv",
]
JSON_SAMPLES = {
    "json/sdft_002_portscan_conn.ndjson": "conn", "json/zat_json_conn.ndjson": "conn",
    "other/sdft_007_honeypot_http.ndjson": "http", "other/zed_dns.ndjson.gz": "dns",
    "other/zed_analyzer.ndjson.gz": "analyzer", "other/zed_ntp.ndjson.gz": "ntp",
}
# Zeek's JSON format references: not logs of a known type, so the default columns stay empty, but every line
# that btest did not alter must still be read (its keys are counted as dropped).
BTEST_JSON = [
    "scripts.base.frameworks.logging.ascii-double_json.log",
    "scripts.base.frameworks.logging.ascii-json-utf8_ssh.log.hex",
    "scripts.base.frameworks.logging.ascii-json_ssh.log",
    "scripts.base.frameworks.logging.json-non-printable-escaping_http.log.json",
]


def _read(path: Path) -> bytes:
    data = path.read_bytes()
    return gzip.decompress(data) if path.suffix == ".gz" else data


def _csv_rows(csv_bytes: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(csv_bytes.decode("utf-8"), newline="")))


def _rejected_lines(rejects: bytes) -> list[str]:
    import json

    return [json.loads(line)["line"] for line in rejects.splitlines()]


@pytest.mark.parametrize("name", TSV_SAMPLES)
def test_tsv_sample_matches_an_independent_reading(samples, tmp_path, name):
    path = samples / name
    _, rejects, totals = convert_in_process([path], tmp_path / "default.csv", partition_size="64KiB")
    data = _read(path)
    masked = [line.decode() for line in data.split(b"\n") if MASK in line]
    # The only lines rejected are those btest masked; the default columns' extras are dropped and counted.
    assert _rejected_lines(rejects) == masked and totals["rejected"] == len(masked)
    fields = [f.decode() for f in next(line for line in data.split(b"\n") if line.startswith(b"#fields"))
              .split(b"\t")[1:]]
    if totals["rows"]:
        assert set(totals["dropped_fields"]) == set(fields) - set(totals["columns"])

    # Every field of the file, read by zeekflow and by the reference, with masked times made real.
    unmasked = tmp_path / path.name.replace(".gz", "")
    unmasked.write_bytes(data.replace(MASK, b"1700000000.123456"))
    csv_bytes, rejects, totals = convert_in_process([unmasked], tmp_path / "all.csv", partition_size="64KiB",
                                                    columns=fields)
    expected_rows, unparseable = read_tsv(unmasked.read_bytes())
    assert unparseable == [] and rejects == b"" and totals["rows"] == len(expected_rows) > 0
    rows = _csv_rows(csv_bytes)
    assert len(rows) == len(expected_rows)
    for row, expected in zip(rows, expected_rows):
        assert row == {name: expected.get(name, "") for name in fields}


@pytest.mark.parametrize("name", sorted(JSON_SAMPLES))
def test_json_sample_matches_the_reference(samples, tmp_path, name):
    path = samples / name
    csv_bytes, rejects, totals = convert_in_process([path], tmp_path / "out.csv", partition_size="256KiB")
    assert totals["log_type"] == JSON_SAMPLES[name]
    schema = get_schema(totals["log_type"])
    expected_csv, expected_offsets, counts = reference_convert(
        _read(path), [(c.name, c.zeek_type) for c in schema.columns])
    assert rejects == b"" and expected_offsets == [] and totals["rejected"] == 0
    assert csv_bytes == expected_csv.encode("utf-8")
    assert totals["rows"] == counts["rows"] > 0


@pytest.mark.parametrize("name", BTEST_JSON)
def test_btest_json_references_have_no_unexpected_reject(samples, tmp_path, name):
    path = samples / "zeek-btest-baselines" / name
    _, rejects, totals = convert_in_process([path], tmp_path / "out.csv")
    lines = path.read_bytes().splitlines()
    expected = [line.decode() for line in lines if line.startswith(b"### BTest") or MASK in line]
    assert _rejected_lines(rejects) == expected
    assert totals["rows"] == len(lines) - len(expected)


def _by_column(csv_bytes: bytes) -> dict[str, list[str]]:
    rows = _csv_rows(csv_bytes)
    return {name: [row[name] for row in rows] for name in rows[0]}


def _microseconds(text: str) -> str:
    return "" if text == "" else ",".join(f"{float(v):.6f}" for v in text.split(","))


@pytest.mark.parametrize("kind", ["dns", "analyzer", "ntp"])
def test_json_and_tsv_twins_give_the_same_csv(samples, tmp_path, kind):
    """The documented rule: with --ts-format, twins agree exactly except that time and interval values
    agree to the microsecond (TSV writes 6 decimals, the JSON writer full doubles). The twins are Zeek 6.2's
    (SOURCES.md): the JSON one takes that version's columns, the TSV one its header's."""
    outputs = []
    for twin in (f"other/zed_{kind}.ndjson.gz", f"other/zed_{kind}.tsv.log.gz"):
        csv_bytes, rejects, totals = convert_in_process([samples / twin], tmp_path / "o.csv", ts_format="epoch",
                                                        zeek_version="6.2")
        assert rejects == b""
        outputs.append(_by_column(csv_bytes))
    from_json, from_tsv = outputs
    assert list(from_json) == list(from_tsv)
    schema = get_schema(kind).for_version("6.2")
    for column in schema.columns:
        left, right = from_json[column.name], from_tsv[column.name]
        if column.zeek_type in ("interval", "time", "vector[interval]"):
            left, right = list(map(_microseconds, left)), list(map(_microseconds, right))
        assert left == right, column.name


def test_btest_http_twins_agree_on_non_printable_bytes(samples, tmp_path):
    """Zeek's own JSON and TSV renderings of the same requests (emoji, byte 0x07, literal backslash-x07)."""
    base = samples / "zeek-btest-baselines" / "scripts.base.frameworks.logging.json-non-printable-escaping_http.log"
    outputs = []
    for suffix in (".json", ".tsv"):
        data = Path(str(base) + suffix).read_bytes().split(b"\n", 1)[1].replace(MASK, b"1700000000.123456")
        copy = tmp_path / f"http{suffix}"
        copy.write_bytes(data)
        csv_bytes, rejects, totals = convert_in_process([copy], tmp_path / "o.csv")
        assert rejects == b"" and totals["rows"] == 4 and totals["log_type"] == "http"
        outputs.append(csv_bytes)
    assert outputs[0] == outputs[1]
    uris = _by_column(outputs[0])["uri"]
    assert uris[1] == "/printable_\N{SMILING FACE WITH OPEN MOUTH AND SMILING EYES}"
    assert uris[2:] == ["/non_printable_\\x07", "/non_printable_literal_\\x07"]


def test_zeek_cut_output_is_read_with_the_schema_types(samples, tmp_path):
    """zeek-cut drops the # header but keeps a line of column names: their types come from the schema. The
    only rejects are the rows whose time btest masked; unmasked, every field matches the reference."""
    path = samples / "zeek-btest-baselines" / "scripts.policy.frameworks.conn_key.vlan_fivetuple-2_conn.log.cut"
    data = path.read_bytes().split(b"\n", 1)[1]  # without btest's own first line
    names = data.split(b"\n", 1)[0].decode().split("\t")
    copy = tmp_path / "vlan_conn.log.cut"
    copy.write_bytes(data)
    _, rejects, totals = convert_in_process([copy], tmp_path / "masked.csv", columns=names)
    assert totals["rows"] == 0 and _rejected_lines(rejects) == [l.decode() for l in data.splitlines() if MASK in l]
    copy.write_bytes(data.replace(MASK, b"1700000000.123456"))
    csv_bytes, rejects, totals = convert_in_process([copy], tmp_path / "all.csv", columns=names)
    assert rejects == b"" and totals["rows"] == 3 and totals["lines"] == 3
    header = (b"#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#fields\t"
              + "\t".join(names).encode() + b"\n#types\t"
              + "\t".join(get_schema("conn").known()[n].zeek_type for n in names).encode() + b"\n")
    expected, _ = read_tsv(header + copy.read_bytes().split(b"\n", 1)[1])
    assert _csv_rows(csv_bytes) == [{n: row.get(n, "") for n in names} for row in expected]
    assert _csv_rows(csv_bytes)[1]["id.ctx.vlan"] == "10" and _csv_rows(csv_bytes)[0]["id.ctx.vlan"] == ""


@pytest.mark.parametrize("name", sorted(JSON_SAMPLES) + [f"zeek-btest-baselines/{n}" for n in BTEST_JSON])
def test_fast_path_and_reference_agree_on_every_json_sample(samples, name):
    from workflows.render import BlockConverter

    data = _read(samples / name)
    columns = get_schema(JSON_SAMPLES.get(name, "conn")).columns
    fast, reference = BlockConverter(columns, name, native=False), BlockConverter(columns, name, fast_path=False)
    kernel = BlockConverter(columns, name)  # the native kernel where it is built
    lines = data.splitlines(keepends=True)
    offset = 0
    for start in range(0, len(lines), 64):
        block = b"".join(lines[start:start + 64])
        expected = reference.convert(block, offset)
        assert fast.convert(block, offset) == expected
        assert kernel.convert(block, offset) == expected
        offset += len(block)
    if name.startswith("json/") or name == "other/zed_dns.ndjson.gz":
        assert fast._fast_blocks > 0  # these do take the fast path; the others hold escaped text everywhere


@pytest.mark.parametrize("name", TSV_SAMPLES)
def test_every_tsv_sample_converts_with_its_own_header_columns(samples, tmp_path, name):
    """The header is the schema: the output columns are the file's #fields (those of a type an output can
    hold), none added from another Zeek version's schema, and every line is accounted for."""
    from workflows.inputs import sniff
    from workflows.schema import Column

    path = samples / name
    header = sniff(str(path)).header
    own = []
    for field, zeek_type in zip(header.fields, header.types):
        try:
            Column(field, zeek_type).kind
            own.append(field)
        except ValueError:
            pass
    _, _, totals = convert_in_process([path], tmp_path / "o.csv")
    assert totals["columns"] == own
    assert totals["rows"] + totals["rejected"] + totals["blank"] == totals["lines"] > 0
