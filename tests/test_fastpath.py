"""The fast path gives exactly the reference path's bytes, takes the common block, and declines the rest."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workflows.fastpath import MAX_DROPPED_KEYS, FastPath
from workflows.generate import generate_capture
from workflows.normalize import MILLIS_THRESHOLD
from workflows.render import BlockConverter, list_cell
from workflows.schema import CONN, Column

COLUMNS = [
    Column("ts", "time"), Column("uid", "string"), Column("id.orig_p", "port"), Column("duration", "interval"),
    Column("local_orig", "bool"), Column("history", "string"), Column("tunnel_parents", "set[string]"),
    Column("ttls", "vector[interval]"), Column("ports", "set[count]"),
]


def both_ways(block: bytes, columns=COLUMNS):
    """The converter's result and the reference path's result for one block."""
    fast = BlockConverter(columns, "x", native=False).convert(block, 100)
    reference = BlockConverter(columns, "x", fast_path=False).convert(block, 100)
    return fast, reference


def offered(block: bytes, columns=COLUMNS) -> bytes | None:
    """The CSV the fast path makes of a clean block (None: it declines)."""
    rendered = FastPath(columns, list_cell).render(block, block.rstrip(b"\n").count(b"\n") + 1)
    return None if rendered is None else rendered[0]


# Values that hit each check of the fast path: text that needs quoting or escaping, brackets, "null" and
# exponent look-alikes in strings, floats where orjson and repr differ, integers at and past 64 bits.
tricky_text = st.one_of(
    st.text(max_size=8),
    st.sampled_from(["a,b", '"', "\\", "\r", "\n", "\t", "[", "]", "],[", "null", "x,null", "e-5", "1e+16", "0.0000",
                     "é", "中", "\x00", "\ue000", "'=1", ""]),
)
numbers = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False), st.floats(1e-7, 2e-4), st.floats(1e15, 1e17),
    st.integers(-(2**63), 2**64 - 1), st.integers(2**64, 2**70), st.integers(-(2**70), -(2**63) - 1),
)
anything = st.one_of(st.none(), st.booleans(), numbers, tricky_text, st.lists(tricky_text, max_size=2))


iso_times = st.datetimes().map(lambda moment: moment.isoformat() + "Z")


def typed(good, share_of_good: int = 8):
    """Mostly values of the column's type, sometimes anything (a value that must be rejected)."""
    return st.one_of(*([good] * share_of_good), anything)


record = st.fixed_dictionaries(
    {"ts": typed(st.one_of(st.floats(0, 2e9), st.integers(0, 2**40), iso_times))},
    optional={
        "uid": typed(tricky_text),
        "id.orig_p": typed(st.integers(0, 65535)),
        "duration": typed(st.one_of(st.floats(0, 1e5), st.floats(0, 2e-4), st.integers(0, 100))),
        "local_orig": typed(st.booleans()),
        "history": typed(st.one_of(st.none(), tricky_text)),
        "tunnel_parents": typed(st.lists(st.one_of(st.none(), tricky_text), max_size=2)),
        "ttls": typed(st.lists(st.one_of(st.floats(0, 1e3), st.floats(1e-6, 1e-4)), max_size=2)),
        "ports": typed(st.lists(st.integers(0, 2**64 - 1), max_size=2)),
        "extra": anything,
    },
)
clean_line = st.one_of(
    record.map(lambda r: json.dumps(r, separators=(",", ":"), ensure_ascii=False).encode()),
    record.map(lambda r: json.dumps(r, ensure_ascii=True).encode()),  # \u escapes, also inside keys' values
    record.map(lambda r: json.dumps(r, separators=(", ", ": "), ensure_ascii=False).encode()),
)


@settings(max_examples=400, deadline=None)
@given(st.lists(clean_line, min_size=1, max_size=12))
def test_any_clean_block_converts_to_the_reference_bytes(lines: list[bytes]) -> None:
    fast, reference = both_ways(b"\n".join(lines) + b"\n")
    assert fast == reference


# Values of each column's type that need no CSV quoting, no JSON escape and no second look: the block the
# fast path exists for, which it must take.
plain_text = st.text(st.characters(categories=("L", "N"), exclude_characters="\ue000"), max_size=8)
plain_record = st.fixed_dictionaries(
    # Integer times from MILLIS_THRESHOLD up are milliseconds, which the reference converts one by one.
    {"ts": st.one_of(st.floats(0, 2e9), st.integers(0, MILLIS_THRESHOLD - 1))},
    optional={
        "uid": plain_text,
        "id.orig_p": st.integers(0, 65535),
        "duration": st.one_of(st.floats(0, 1e5), st.floats(0, 2e-4), st.integers(0, 100)),
        "local_orig": st.booleans(),
        "history": plain_text,
        "tunnel_parents": st.lists(plain_text, max_size=2),
        "ttls": st.lists(st.one_of(st.floats(0, 1e3), st.floats(1e-6, 1e-4)), max_size=2),
        "ports": st.lists(st.integers(0, 2**64 - 1), max_size=2),
        "extra": st.one_of(st.integers(), plain_text),
    },
)


@settings(max_examples=200, deadline=None)
@given(st.lists(plain_record, min_size=1, max_size=12))
def test_the_fast_path_takes_a_clean_block_and_writes_the_reference_rows(records: list[dict]) -> None:
    block = b"\n".join(json.dumps(r, separators=(",", ":")).encode() for r in records) + b"\n"
    reference = BlockConverter(COLUMNS, "x", fast_path=False).convert(block, 0)
    assert reference.rows == len(records) and reference.rejected == 0
    assert offered(block) == reference.csv


@settings(max_examples=200, deadline=None)
@given(st.lists(record, min_size=1, max_size=12))
def test_the_fast_path_writes_the_reference_rows_or_declines(records: list[dict]) -> None:
    block = b"\n".join(json.dumps(r, separators=(",", ":")).encode() for r in records) + b"\n"
    reference = BlockConverter(COLUMNS, "x", fast_path=False).convert(block, 0)
    # Taken or declined, the converter's result is the reference's; what the fast path offers is never other rows.
    assert BlockConverter(COLUMNS, "x", native=False).convert(block, 0) == reference
    assert offered(block) in (None, reference.csv)


def test_a_generated_capture_takes_the_fast_path_block_after_block(tmp_path) -> None:
    path = tmp_path / "conn.ndjson"
    generate_capture(str(path), 3000, seed=7)
    data = path.read_bytes()
    blocks = [data[i:i + 40_000] for i in range(0, len(data), 40_000)]
    blocks = [b"\n".join(b.split(b"\n")[1:-1]) + b"\n" for b in blocks]  # whole lines only
    for block in blocks:
        rendered = offered(block, CONN.columns)
        assert rendered is not None
        assert rendered == BlockConverter(CONN.columns, "x", fast_path=False).convert(block, 0).csv


@pytest.mark.parametrize("line, why", [
    (b'{"ts":1.5,"uid":"say \\"hi\\""}', "a quote needs quoting"),
    (b'{"ts":1.5,"uid":"two\\nlines"}', "a newline needs quoting"),
    (b'{"ts":1.5,"uid":"a],[b"}', "a quoted cell holding a row break look-alike"),
    (b'{"ts":1.5,"uid":"a,b","history":null}', "commas in strings and a null: both found by commas"),
    (b'{"ts":1.5,"tunnel_parents":["a]","[b"]}', "a quoted set holding a row break look-alike"),
    (b'{"ts":1.5,"tunnel_parents":["a","b"],"history":null}', "a quoted set and a null"),
    (b'{"ts":1.5,"tunnel_parents":["a","\xee\x80\x80"]}', "the quote placeholder in the data"),
    (b'{"ts":"yesterday"}', "a time string that is not ISO 8601 is a reject"),
    (b'{"ts":""}', "an empty time string is a reject, unlike a missing time"),
    (b'{"ts":1.5,"id.orig_p":1.0}', "a float in a count column is a reject"),
    (b'{"ts":1.5,"id.orig_p":"80"}', "a string in a count column is a reject"),
    (b'{"ts":1.5,"local_orig":1}', "a number in a bool column is a reject"),
    (b'{"ts":1.5,"ports":[1,"2"]}', "a string in a set[count] is a reject"),
    (b'{"ts":1.5,"id.orig_p":18446744073709551616}', "orjson reads an integer past 64 bits as a float"),
])
def test_the_fast_path_declines_what_only_the_reference_gets_right(line: bytes, why: str) -> None:
    block = b'{"ts":1.25,"uid":"C1"}\n' + line + b"\n"
    assert offered(block) is None, why
    fast, reference = both_ways(block)
    assert fast == reference


@pytest.mark.parametrize("block, csv, why", [
    (b'{"ts":1700000000.000046,"duration":0.000072,"ttls":[0.00002]}\n{"ts":1e9,"duration":1e16,"ttls":[6e-6]}\n',
     b"1700000000.000046,,,7.2e-05,,,,2e-05,\n1000000000.0,,,1e+16,,,,6e-06,\n", "numbers orjson writes its own way: repr"),
    (b'{"ts":"2020-06-05T14:39:59.305988Z","uid":"a"}\n{"uid":"b"}\n{"ts":1591367999.5}\n',
     b"2020-06-05T14:39:59.305988Z,a,,,,,,,\n,b,,,,,,,\n1591367999.5,,,,,,,,\n",
     "ISO 8601 times kept as written, a missing time left empty"),
    (b'{"ts":1,"uid":"Mozilla/5.0 (KHTML, like Gecko)","tunnel_parents":["a","b"],"history":"[x"}\n'
     b'{"ts":2,"uid":",","ports":[80,443]}\n',
     b'1,"Mozilla/5.0 (KHTML, like Gecko)",,,,[x,"a,b",,\n2,",",,,,,,,"80,443"\n', "cells holding commas quoted"),
    (b'{"ts":1,"uid":"a,1e-7","duration":1e-7,"ttls":[1e-05,2.5]}\n'
     b'{"ts":2,"uid":"x","history":"0.00001,b","duration":0.00002}\n',
     b'1,"a,1e-7",,1e-07,,,,"1e-05,2.5",\n2,x,,2e-05,,"0.00001,b",,,\n',
     "numbers rewritten beside strings holding commas and exponent look-alikes"),
    (b'{"ts":1,"uid":"[null","history":"]] 5e-3 0.00001"}\n{"ts":2,"uid":"[5e-3","history":"null]"}\n',
     b"1,[null,,,,]] 5e-3 0.00001,,,\n2,[5e-3,,,,null],,,\n", "text that looks like punctuation or numbers"),
    (b'{"ts":1,"uid":"\\\\x00\\\\x01","history":"a\\\\","tunnel_parents":["\\\\","b"]}\n{"ts":2,"uid":"x,\\\\"}\n',
     b'1,\\x00\\x01,,,,a\\,"\\,b",,\n2,"x,\\",,,,,,,\n', "backslashes, as Zeek escapes non-printable bytes"),
    (b'{"ts":1,"ts":2,"u\\u0069d":"a"}\n{"ts":3,"x":1,"x":2}\n', b"2,a,,,,,,,\n3,,,,,,,,\n",
     "a repeated key keeps its last value (as orjson), an escaped key is its decoded name"),
])
def test_the_fast_path_writes_what_the_reference_writes(block: bytes, csv: bytes, why: str) -> None:
    assert offered(block) == csv, why
    assert csv == BlockConverter(COLUMNS, "x", fast_path=False).convert(block, 0).csv


def test_missing_keys_and_nulls_both_render_empty() -> None:
    assert offered(b'{"ts":1,"uid":"null","tunnel_parents":[null]}\n{"ts":2}\n') == b"1,null,,,,,,,\n2,,,,,,,,\n"
    # As Zeek writes unset fields with LogAscii::json_include_unset_fields=T: decoded a second time, with null.
    block = b'{"ts":null,"uid":"null","history":null,"ports":null}\n{"ts":2,"uid":null}\n'
    assert offered(block) == b",null,,,,,,,\n2,,,,,,,,\n"
    fast, reference = both_ways(block)
    assert fast == reference


def test_keys_that_are_not_output_columns_are_learned_and_counted() -> None:
    block = (b'{"_path":"conn","ts":1,"uid":"a","proto":"tcp"}\n{"ts":2,"uid":"b","_path":"conn","p\\u0072oto":null}\n'
             b'{"ts":3,"weird":{"x":[1,2]}}\n')
    fast = FastPath(COLUMNS, list_cell)
    csv, dropped = fast.render(block, 3)
    reference = BlockConverter(COLUMNS, "x", fast_path=False).convert(block, 0)
    assert csv == reference.csv
    assert dropped == dict(reference.dropped_fields) == {"_path": 2, "proto": 2, "weird": 1}
    # A new block with the same keys decodes at once; a key past the limit sends the block the reference way.
    assert fast.render(b'{"ts":4,"_path":"conn"}\n', 1) == (b"4,,,,,,,,\n", {"_path": 1})
    many = b"{" + b",".join(b'"k%d":1' % i for i in range(MAX_DROPPED_KEYS + 1)) + b"}\n"
    assert FastPath(COLUMNS, list_cell).render(many, 1) is None
    assert both_ways(many)[0] == both_ways(many)[1]


def test_value_transforms_and_parquet_collection_never_take_the_fast_path() -> None:
    from workflows.normalize import column_transforms

    assert BlockConverter(COLUMNS, "x", native=False)._fast_path is not None
    assert BlockConverter(COLUMNS, "x", column_transforms(COLUMNS, csv_safe=True))._fast_path is None
    assert BlockConverter(COLUMNS[:1], "x", native=False)._fast_path is None  # a lone empty field is quoted
    pytest.importorskip("pyarrow")
    from workflows.parquet import ValueCollector

    assert ValueCollector(COLUMNS, "x").converter._fast_path is None


def test_a_converter_stops_offering_blocks_the_fast_path_keeps_declining() -> None:
    from workflows.render import FAST_PATH_TRIAL

    escaped = b'{"ts":1,"uid":"tab\\there"}\n'  # escaped text: the reference's
    converter = BlockConverter(COLUMNS, "x", native=False)
    for _ in range(FAST_PATH_TRIAL - 1):
        converter.convert(escaped)
    assert converter._fast_path is not None
    converter.convert(escaped)
    assert converter._fast_path is None
    clean = b'{"ts":1,"uid":"a"}\n'
    assert converter.convert(clean) == BlockConverter(COLUMNS, "x", native=False).convert(clean)
    mostly_clean = BlockConverter(COLUMNS, "x", native=False)
    for _ in range(FAST_PATH_TRIAL * 2):
        mostly_clean.convert(clean)
        mostly_clean.convert(escaped)
    assert mostly_clean._fast_path is not None
