"""The Parquet sink over the converter's CSV rows (parquet.ParquetBlocks) against the value path
(parquet.ValueCollector): the same counts, the same reject records and tables that are equal, cell for cell,
on generated blocks and on every real JSON sample."""

from __future__ import annotations

import gzip
from pathlib import Path

import orjson
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workflows import ConvertOptions, prepare
from workflows import parquet
from workflows.parquet import CsvTableSink, ParquetBlocks, ValueCollector
from workflows.render import BlockConverter
from workflows.schema import Column

COLUMNS = (
    Column("ts", "time"), Column("uid", "string"), Column("p", "port"), Column("n", "count"), Column("i", "int"),
    Column("d", "interval"), Column("b", "bool"), Column("e", "enum"), Column("s", "set[string]"),
    Column("v", "vector[interval]"), Column("c", "vector[count]"), Column("f", "vector[bool]"),
    Column("t", "vector[time]"), Column("w", "time"),
)

# Text that exercises the CSV rules and the cells CSV cannot tell apart: commas, quotes, CR/LF, empty text.
_text = st.one_of(
    st.sampled_from(["", ",", "a,b", '"', 'x"y', "\r\n", "\r", " ", "-", "20200605", "1.5", "null", "[]", "é", "a]", "[", "],[", "\\u002c"]),
    st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=8),
)
_iso = st.sampled_from(["2020-06-05T14:39:59.305988Z", "2020-06-05T14:39:59", "2020-06-05", "20200605",
                        "2020-06-05T14:39:59,5+02:00", "1970-01-01T00:00:00.000000Z", "not a time"])
_seconds = st.floats(min_value=-6e10, max_value=2.5e11, allow_nan=False, allow_infinity=False)
_time = st.one_of(_seconds, st.integers(-10**11, 10**11), st.integers(10**11, 2 * 10**14),
                  st.integers(-2 * 10**14, -10**11), _iso,
                  st.sampled_from([1591367999.305988, 0.0000005, 0.5e-6, 1.5e-6, 2.5e-6, -0.0, 1e11, 2.5e11]))
# Integers in a double column stay within the doubles the value path can take (|n| <= 2**53).
_double = st.one_of(st.floats(allow_nan=False, allow_infinity=False), st.integers(-2**53, 2**53))


def _maybe(values, wrong=st.just("x")):
    """Mostly the column's values; sometimes null, or a value of the wrong type (the line is then rejected)."""
    return st.one_of(values, values, values, st.none(), wrong)


_FIELDS = {
    "ts": _maybe(_time, st.sampled_from([True, "x", [1]])),
    "uid": _maybe(_text, st.integers(-2**63, 2**63 - 1)),
    "p": _maybe(st.integers(0, 65535), st.sampled_from([70000, -1, 1.5])),
    "n": _maybe(st.integers(0, 2**64 - 1), st.sampled_from([-1, "1"])),
    "i": _maybe(st.integers(-2**63, 2**63 - 1), st.sampled_from([2**63, 1.0])),
    "d": _maybe(_double, st.sampled_from(["1", True])),
    "b": _maybe(st.booleans(), st.sampled_from([1, "true"])),
    "e": _maybe(st.sampled_from(["tcp", "udp", ""]), st.just(3)),
    "s": _maybe(st.lists(st.one_of(_text, st.none()), max_size=4), st.sampled_from(["a", [1], [["a"]]])),
    "v": _maybe(st.lists(st.one_of(_double, st.none()), max_size=3), st.sampled_from([["x"], 1.0])),
    "c": _maybe(st.lists(st.one_of(st.integers(0, 2**64 - 1), st.none()), max_size=3), st.just([-1])),
    "f": _maybe(st.lists(st.one_of(st.booleans(), st.none()), max_size=3), st.just([1])),
    "t": _maybe(st.lists(st.one_of(_time, st.none()), max_size=2), st.just(["x"])),
    "w": _maybe(st.sampled_from([1591367999.305988, 1591367999305, "20200605", 20200605, "2020-06-05"]),
                st.just(False)),
    "extra": _maybe(_text),  # not an output column: dropped and counted
}
_record = st.fixed_dictionaries({}, optional=_FIELDS)


def _line(record: dict, style: int) -> bytes:
    if style == 1:  # JSON spaces around every token, as no Zeek writer puts them
        return orjson.dumps(record, option=orjson.OPT_INDENT_2).replace(b"\n", b" ")
    return orjson.dumps(record)


_lines = st.one_of(
    st.builds(_line, _record, st.sampled_from([0, 0, 0, 1])),
    st.sampled_from([b"", b"  ", b"\r", b"{", b"[1]", b"not json", b'{"uid":"\xff"}', b'{"ts":1e400}',
                     b'{"s":["a\\u002cb"]}', b'{"uid":"[","s":["a,b"]}', b'{"s":["]","a,b"]}', b'{"s":[ ]}',
                     b'{"s":[ null ]}', b'{"uid":"a\\"",  "e":""}',
                     b'{"ts":"20200605","w":20200605}']),
)


def _tables(converter, block: bytes, base_offset: int = 0):
    result = converter.convert(block, base_offset)
    return result, converter.take()


def _assert_equal(got_table, want_table) -> None:
    assert got_table.schema.equals(want_table.schema, check_metadata=True)
    if not got_table.equals(want_table):
        for name in want_table.column_names:  # say which column differs
            assert got_table.column(name).to_pylist() == want_table.column(name).to_pylist(), name
    assert got_table.equals(want_table)


def assert_same(columns, blocks: list[bytes], input_name: str = "in") -> int:
    """Convert ``blocks`` (consecutive whole-line blocks of one input) both ways; return the rows compared.

    Twice: through ParquetBlocks (what a task runs, which may send a block the value path), and through
    the sink alone over a plain BlockConverter's rows, with every doubtful cell looked up however many."""
    old, new = ValueCollector(columns, input_name), ParquetBlocks(columns, input_name)
    plain, sink = BlockConverter(columns, input_name), CsvTableSink(columns)
    offset = rows = 0
    for block in blocks:
        want, want_tables = _tables(old, block, offset)
        got, got_tables = _tables(new, block, offset)
        csv_result = plain.convert(block, offset)
        for result in (got, csv_result):
            assert (result.lines, result.rows, result.rejected, result.blank, result.dropped_fields) == (
                want.lines, want.rows, want.rejected, want.blank, want.dropped_fields)
            assert result.rejects == want.rejects
        assert len(got_tables) == len(want_tables)  # one row group per block with rows, as before
        for got_table, want_table in zip(got_tables, want_tables):
            _assert_equal(got_table, want_table)
        if want.rows:
            share, parquet._LOOKUP_SHARE = parquet._LOOKUP_SHARE, 1
            try:
                table = sink.table(block, offset, csv_result)
            finally:
                parquet._LOOKUP_SHARE = share
            assert table is not None
            _assert_equal(table, want_tables[0])
        offset += len(block)
        rows += want.rows
    return rows


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_lines, min_size=1, max_size=40), st.booleans(), st.integers(1, 4))
def test_generated_blocks_give_the_value_paths_table(lines, final_newline, pieces):
    data = b"\n".join(lines) + (b"\n" if final_newline else b"")
    # The same lines in 1..4 consecutive blocks, cut at line ends.
    cut = [i for i, byte in enumerate(data) if byte == 10][:: max(1, len(lines) // pieces)]
    blocks, start = [], 0
    for end in cut[1:]:
        blocks.append(data[start:end + 1])
        start = end + 1
    blocks.append(data[start:])
    assert_same(COLUMNS, [b for b in blocks if b])


@given(st.lists(st.builds(_line, _record, st.just(0)), min_size=1, max_size=20))
@settings(max_examples=100, deadline=None)
def test_a_lone_column_and_two_columns_agree(lines):
    data = b"\n".join(lines) + b"\n"
    for columns in ((Column("uid", "string"),), (Column("s", "set[string]"),), (Column("ts", "time"),),
                    (Column("s", "set[string]"), Column("c", "vector[count]"))):
        assert_same(columns, [data])


def test_cells_csv_cannot_tell_apart_are_taken_from_their_lines():
    block = (b'{"uid":"","s":[],"v":[null],"w":"20200605"}\n'
             b'{"uid":null,"s":["a,b","c"],"w":20200605}\n'
             b'{"s":["",null],"f":[true,null]}\n'
             b'{"s":[null]}\n')
    assert_same(COLUMNS, [block])
    table = pa.concat_tables(_tables(ParquetBlocks(COLUMNS, "in"), block)[1])
    assert table.column("uid").to_pylist() == ["", None, None, None]
    assert table.column("s").to_pylist() == [[], ["a,b", "c"], ["", None], [None]]
    assert table.column("v").to_pylist()[0] == [None]
    assert [t and t.year for t in table.column("w").to_pylist()] == [2020, 1970, None, None]


def test_a_block_of_friendly_lines_needs_no_look_up(monkeypatch):
    from workflows import parquet

    def no_look_up(*args):
        raise AssertionError("no cell should need its line")

    monkeypatch.setattr(parquet, "_row_lines", no_look_up)
    block = b"".join(orjson.dumps({"ts": 1591367999.305988 + i, "uid": f"C{i}", "p": 80, "s": ["a"],
                                   "v": [0.5, 1], "b": i % 2 == 0}) + b"\n" for i in range(50))
    assert assert_same(COLUMNS, [block]) == 50


# -- the real samples --------------------------------------------------------------------------------------

JSON_SAMPLES = ["json/sdft_002_portscan_conn.ndjson", "json/zat_json_conn.ndjson",
                "other/sdft_007_honeypot_http.ndjson", "other/zed_dns.ndjson.gz", "other/zed_analyzer.ndjson.gz",
                "other/zed_ntp.ndjson.gz"]


def _blocks(data: bytes, size: int) -> list[bytes]:
    blocks, start = [], 0
    while start < len(data):
        end = data.find(b"\n", start + size)
        end = len(data) if end < 0 else end + 1
        blocks.append(data[start:end])
        start = end
    return blocks


@pytest.mark.parametrize("sample", JSON_SAMPLES)
@pytest.mark.parametrize("size", [4 * 2**20, 20_000])
def test_every_json_sample_gives_the_value_paths_table(samples, tmp_path, sample, size):
    path = samples / sample
    if not path.exists():
        pytest.skip(f"{sample} not among the samples")
    columns = prepare(ConvertOptions(inputs=[str(path)], output=str(tmp_path / "o.parquet"))).columns
    data = gzip.decompress(path.read_bytes()) if sample.endswith(".gz") else path.read_bytes()
    rows = assert_same(columns, _blocks(data, size), str(path))
    assert rows > 0


def test_the_generated_capture_gives_the_value_paths_table(small_capture: Path, tmp_path):
    columns = prepare(ConvertOptions(inputs=[str(small_capture)], output=str(tmp_path / "o.parquet"))).columns
    assert assert_same(columns, _blocks(small_capture.read_bytes(), 64 * 1024)) > 5000
