"""The type table's rules hold on every path: ranges, times every format can write, hostile nesting."""

from __future__ import annotations

import json

import pytest

from workflows.normalize import column_transforms
from workflows.render import BlockConverter
from workflows.schema import CONN, Column
from workflows.types import TYPES, Kind

COLUMNS = (Column("ts", "time"), Column("p", "port"), Column("n", "count"), Column("i", "int"),
           Column("v", "vector[count]"), Column("s", "set[string]"))


def _reasons(result) -> list[str]:
    return [json.loads(line)["reason"] for line in result.rejects.splitlines()]


@pytest.mark.parametrize("line, reason", [
    (b'{"p":70000}', "p: 70000 is out of range for port"),
    (b'{"p":-1}', "p: -1 is out of range for port"),
    (b'{"n":-1}', "n: -1 is out of range for count"),
    (b'{"n":18446744073709551615}', None),
    (b'{"i":-9223372036854775808}', None),
    (b'{"i":9223372036854775808}', "i: 9223372036854775808 is out of range for int"),
    (b'{"v":[1,-2]}', "v: -2 is out of range for vector[count]"),
    (b'{"ts":1e13}', "ts: 10000000000000.0 is out of range for time"),
    (b'{"ts":-1e11}', "ts: -100000000000.0 is out of range for time"),
    (b'{"ts":1e300}', "ts: 1e+300 is out of range for time"),
    (b'{"ts":1e20}', "ts: 1e+20 is out of range for time"),
    (b'{"ts":100000000000000000000}', "ts: 1e+20 is out of range for time"),  # orjson: beyond 64 bits, a float
    (b'{"ts":"0001-01-01T00:00:00+01:00"}', "ts: '0001-01-01T00:00:00+01:00' is out of range for time"),
    (b'{"ts":"0001-01-01T00:00:00Z"}', None),
    (b'{"ts":253402300799.0}', None),
    (b'{"ts":1591367999305}', None),  # integer milliseconds
])
@pytest.mark.parametrize("fast_path", [True, False])
def test_a_value_out_of_its_type_range_is_one_reject(line: bytes, reason: str | None, fast_path: bool) -> None:
    block = b'{"ts":1,"p":80}\n' + line + b'\n{"n":3}\n'
    result = BlockConverter(COLUMNS, "in", fast_path=fast_path).convert(block)
    assert result.lines == 3
    assert _reasons(result) == ([reason] if reason else [])
    assert result.rows == (2 if reason else 3)


@pytest.mark.parametrize("ts_format", ["iso8601", "millis", "epoch"])
def test_times_out_of_range_are_rejected_before_any_format_sees_them(ts_format: str) -> None:
    transforms = column_transforms(COLUMNS, ts_format)
    block = b'{"ts":1e13}\n{"ts":"0001-01-01T00:00:00+01:00"}\n{"ts":-1e11}\n{"ts":1591367999.5}\n'
    result = BlockConverter(COLUMNS, "in", transforms).convert(block)
    assert (result.rows, result.rejected) == (1, 3)


def test_parquet_and_csv_reject_the_same_lines() -> None:
    pytest.importorskip("pyarrow")
    from workflows.parquet import ValueCollector

    block = b'{"ts":1e300}\n{"p":65536}\n{"n":-1}\n{"ts":0,"p":65535,"n":0}\n{"v":[18446744073709551616]}\n'
    csv = BlockConverter(COLUMNS, "in").convert(block)
    collector = ValueCollector(COLUMNS, "in")
    parquet = collector.convert(block)
    assert (parquet.rows, parquet.rejected, parquet.rejects) == (csv.rows, csv.rejected, csv.rejects) == (
        1, 4, parquet.rejects)
    assert collector.take()[0].num_rows == 1


@pytest.mark.parametrize("where", ["tunnel_parents", "an extension key"])
def test_a_value_nested_a_thousand_deep_never_fails_the_block(where: str) -> None:
    deep = b"[" * 1000 + b"]" * 1000
    key = b"tunnel_parents" if where == "tunnel_parents" else b"_deep"
    line = b'{"ts":1.5,"uid":"C1","' + key + b'":' + deep + b"}"
    block = b'{"ts":1.0,"uid":"C0"}\n' * 20 + line + b"\n"
    result = BlockConverter(CONN.columns, "in").convert(block)
    assert result.lines == 21
    if where == "tunnel_parents":  # a set of strings cannot hold arrays: the line is rejected
        assert (result.rows, result.rejected) == (20, 1)
        assert _reasons(result) == ["tunnel_parents: expected set[string], got an element of type array"]
    else:  # a key that is not an output column is dropped and counted, whatever it holds
        assert (result.rows, result.rejected, dict(result.dropped_fields)) == (21, 0, {"_deep": 1})


def test_every_integer_type_has_a_range_and_every_type_an_arrow_and_pandas_type() -> None:
    for zeek_type in TYPES.values():
        assert (zeek_type.low is not None) == (zeek_type.kind is Kind.INTEGER)
        assert zeek_type.arrow and zeek_type.pandas
