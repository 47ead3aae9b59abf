"""The pure core on plain bytes: rendering and validation of every column type, quoting, rejects."""

from __future__ import annotations

import csv
import io
import json

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workflows.render import BlockConverter, BlockResult, convert_lines, quote_field
from workflows.schema import CONN, Column

from .reference import reference_convert


def one(zeek_type: str, name: str = "v") -> list[Column]:
    return [Column(name, zeek_type), Column("k", "string")]


def render(columns: list[Column], *records: object) -> BlockResult:
    data = b"".join((r if isinstance(r, bytes) else json.dumps(r).encode()) + b"\n" for r in records)
    return convert_lines(data, columns, "in.log")


def rows_of(result) -> list[list[str]]:
    return list(csv.reader(io.StringIO(result.csv.decode("utf-8"), newline="")))


def rejects_of(result) -> list[dict]:
    return [orjson.loads(line) for line in result.rejects.splitlines()]


@pytest.mark.parametrize(
    "zeek_type,value,text",
    [
        ("count", 0, "0"),
        ("count", 18446744073709551615, "18446744073709551615"),
        ("port", 443, "443"),
        ("int", -42, "-42"),
        ("interval", 0.012166976928710938, "0.012166976928710938"),
        ("interval", 3, "3"),
        ("double", -0.0, "-0.0"),
        ("double", 1.79e308, "1.79e+308"),
        ("time", 1591367999.305988, "1591367999.305988"),
        ("time", 1664462456.7, "1664462456.7"),
        ("time", 1700000000, "1700000000"),
        ("time", "2024-04-19T00:00:01.123456Z", "2024-04-19T00:00:01.123456Z"),
        ("bool", True, "true"),
        ("bool", False, "false"),
        ("string", "CH53301MTU21BMj2Bj", "CH53301MTU21BMj2Bj"),
        ("addr", "fd2d:8a3c::1", "fd2d:8a3c::1"),
        ("enum", "tcp", "tcp"),
        ("subnet", "10.0.0.0/24", "10.0.0.0/24"),
        ("set[string]", ["CCC", "BBB"], "CCC,BBB"),
        ("set[string]", [], ""),
        ("vector[count]", [10, 20, 30], "10,20,30"),
        ("vector[count]", [0, None, 2], "0,,2"),
        ("set[port]", [80], "80"),
        ("vector[bool]", [True, False], "true,false"),
    ],
)
def test_each_type_renders_as_designed(zeek_type: str, value: object, text: str) -> None:
    result = render(one(zeek_type), {"v": value, "k": "x"})
    assert (result.rows, result.rejected) == (1, 0)
    assert rows_of(result) == [[text, "x"]]


@pytest.mark.parametrize("zeek_type", ["count", "time", "bool", "string", "set[string]", "interval"])
def test_null_and_unset_render_empty(zeek_type: str) -> None:
    result = render(one(zeek_type), {"v": None, "k": "a"}, {"k": "b"})
    assert result.csv == b",a\n,b\n"


@pytest.mark.parametrize(
    "zeek_type,value,got",
    [
        ("count", "12", "string"),
        ("count", 1.5, "number"),
        ("count", 2.0, "number"),
        ("count", True, "boolean"),
        ("port", [80], "array"),
        ("int", {"a": 1}, "object"),
        ("interval", "0.5", "string"),
        ("double", False, "boolean"),
        ("time", True, "boolean"),
        ("bool", 1, "integer"),
        ("bool", "true", "string"),
        ("string", 5, "integer"),
        ("addr", ["1.2.3.4"], "array"),
        ("enum", 6, "integer"),
        ("set[string]", "a,b", "string"),
    ],
)
def test_values_of_the_wrong_type_are_rejected_with_the_column_and_types(zeek_type, value, got) -> None:
    result = render(one(zeek_type), {"v": "ok" if zeek_type in ("string", "addr", "enum") else None, "k": "a"},
                    {"v": value, "k": "b"})
    assert (result.lines, result.rows, result.rejected) == (2, 1, 1)
    (reject,) = rejects_of(result)
    assert reject["reason"] == f"v: expected {zeek_type}, got {got}"
    assert json.loads(reject["line"]) == {"v": value, "k": "b"}


def test_set_elements_must_have_the_element_type() -> None:
    result = render(one("set[string]"), {"v": ["a", 1], "k": "x"}, {"v": ["a", "b"], "k": "y"})
    assert result.rows == 1 and "element of type integer" in rejects_of(result)[0]["reason"]


def test_time_strings_must_be_iso8601() -> None:
    result = render(one("time"), {"v": "yesterday", "k": "x"}, {"v": "2020-06-05T14:39:59.305988+00:00", "k": "y"})
    assert rows_of(result) == [["2020-06-05T14:39:59.305988+00:00", "y"]]
    assert "not ISO 8601" in rejects_of(result)[0]["reason"]


@pytest.mark.parametrize(
    "text,expected",
    [
        ("plain", "plain"),
        ("a,b", '"a,b"'),
        ('say "hi"', '"say ""hi"""'),
        ("line\nbreak", '"line\nbreak"'),
        ("carriage\rreturn", '"carriage\rreturn"'),
        ("", ""),
        ("üñí©ødé 中文 🦓", "üñí©ødé 中文 🦓"),
    ],
)
def test_rfc4180_quoting(text: str, expected: str) -> None:
    assert quote_field(text) == expected
    result = render(one("string"), {"v": text, "k": "z"})
    assert result.csv.decode("utf-8") == f"{expected},z\n"


def test_json_escapes_are_decoded() -> None:
    line = rb'{"v":"tab\there \u00e9 \"q\" back\\slash \ud83e\udd93 nul\u0000","k":"x"}'
    result = render(one("string"), line)
    assert rows_of(result) == [['tab\there é "q" back\\slash 🦓 nul\x00', "x"]]


def test_raw_utf8_is_kept() -> None:
    result = render(one("string"), '{"v":"/搜索?q=1","k":"x"}'.encode())
    assert rows_of(result) == [["/搜索?q=1", "x"]]


def test_a_single_empty_column_is_quoted_so_the_row_is_not_blank() -> None:
    result = render([Column("service", "string")], {"service": None}, {"service": "dns"})
    assert result.csv == b'""\ndns\n'
    assert [r for r in csv.reader(io.StringIO(result.csv.decode()))] == [[""], ["dns"]]


@pytest.mark.parametrize(
    "line,reason",
    [
        (b'{"v":1', "invalid JSON"),
        (b'["an","array"]', "not a JSON object: got array"),
        (b'"a string"', "not a JSON object: got string"),
        (b"42", "not a JSON object: got integer"),
        (b'{"v":"\xff\xfe","k":"x"}', "invalid UTF-8 at byte 6"),
        (b"#garbage", "invalid JSON"),
        (b'{"v":1}{"v":2}', "invalid JSON"),
        (b'{"v":1},{"v":2}', "invalid JSON"),
        (b'\xef\xbb\xbf{"v":1}', "invalid JSON"),
    ],
)
def test_malformed_lines_are_rejected_with_offset_reason_and_raw_text(line: bytes, reason: str) -> None:
    good = b'{"v":"a","k":"b"}\n'
    data = good + line + b"\n" + good
    result = convert_lines(data, one("string"), "conn.log")
    assert (result.lines, result.rows, result.rejected, result.blank) == (3, 2, 1, 0)
    (reject,) = rejects_of(result)
    assert reject["input"] == "conn.log"
    assert reject["offset"] == len(good)
    assert reject["reason"].startswith(reason)
    assert reject["line"] == line.decode("utf-8", "backslashreplace")
    assert data[reject["offset"]:].split(b"\n", 1)[0] == line


def test_blank_lines_are_counted_not_rejected() -> None:
    data = b'\n{"v":"a","k":"b"}\n   \n\t\r\n\n{"v":"c","k":"d"}'
    result = convert_lines(data, one("string"))
    assert (result.lines, result.rows, result.rejected, result.blank) == (6, 2, 0, 4)
    assert result.csv == b"a,b\nc,d\n"


def test_crlf_lines_convert_like_lf_lines() -> None:
    lf = b'{"v":"a","k":"b"}\n{"v":"c","k":"d"}\n'
    assert convert_lines(lf.replace(b"\n", b"\r\n"), one("string")).csv == convert_lines(lf, one("string")).csv


def test_unknown_and_unrequested_keys_are_dropped_and_counted_by_name() -> None:
    columns = CONN.select(["uid", "proto"])
    data = b"".join([
        b'{"uid":"C1","proto":"tcp","vlan":3,"_node_name":"w1"}\n',
        b'{"uid":"C2","proto":"udp","vlan":4}\n',
        b'{"uid":"C3","proto":"icmp","service":null}\n',
        b'{"uid":"C4","proto":"tcp"}\n',
    ])
    result = convert_lines(data, columns)
    assert result.csv == b"C1,tcp\nC2,udp\nC3,icmp\nC4,tcp\n"
    assert dict(result.dropped_fields) == {"vlan": 2, "_node_name": 1, "service": 1}


def test_offsets_stay_right_after_blank_crlf_and_multibyte_lines() -> None:
    lines = [b"", '{"v":"é","k":"x"}\r'.encode(), b"oops", b'{"v":"a","k":5}', b"  ", b"[1]"]
    data = b"\n".join(lines) + b"\n"
    result = BlockConverter(one("string"), "f").convert(data, base_offset=1000)
    offsets = [r["offset"] - 1000 for r in rejects_of(result)]
    starts = [sum(len(x) + 1 for x in lines[:i]) for i in range(len(lines))]
    assert offsets == [starts[2], starts[3], starts[5]]
    assert (result.rows, result.rejected, result.blank) == (1, 3, 2)


def test_two_bad_lines_that_would_join_into_valid_objects_are_still_rejected() -> None:
    # Joined with a comma, these three lines parse as three objects; each alone is invalid or two objects.
    data = b'{"v":"}\n{","k":"x"}\n{"v":"a","k":"b"},{"v":"c","k":"d"}\n'
    result = convert_lines(data, one("string"))
    assert (result.rows, result.rejected) == (0, 3)


json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**63), 2**64 - 1),
    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=12),
)
string_values = st.one_of(st.none(), st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=12),
                          st.sampled_from(["a,b", '"', "\r", "\n", "\r\n", ",", "é", "中"]))
record = st.fixed_dictionaries(
    {},
    optional={
        "ts": st.one_of(st.floats(0, 2e9), st.integers(0, 2**40), json_scalars),
        "uid": string_values,
        "id.orig_p": st.one_of(st.integers(0, 65535), json_scalars),
        "duration": st.one_of(st.floats(0, 1e6), json_scalars),
        "local_orig": st.one_of(st.booleans(), json_scalars),
        "history": string_values,
        "tunnel_parents": st.one_of(st.lists(string_values.filter(lambda s: s is not None), max_size=3),
                                    json_scalars),
        "extra": json_scalars,
    },
)
any_line = st.one_of(
    record.map(lambda r: json.dumps(r, ensure_ascii=False).encode("utf-8")),
    record.map(lambda r: orjson.dumps(r)),
    st.sampled_from([b"", b"  ", b"\r", b"[]", b"{", b"null", b'{"uid":"\xff"}', b"}{", b'{"a":1},{"b":2}']),
    st.binary(max_size=20).filter(lambda b: b"\n" not in b),
)
SAMPLE_COLUMNS = CONN.select(["ts", "uid", "id.orig_p", "duration", "local_orig", "history", "tunnel_parents"])


@settings(max_examples=300, deadline=None)
@given(st.lists(any_line, max_size=25), st.booleans())
def test_agrees_with_the_plain_reference_on_any_lines(lines: list[bytes], final_newline: bool) -> None:
    data = b"\n".join(lines) + (b"\n" if final_newline and lines else b"")
    result = convert_lines(data, SAMPLE_COLUMNS, "x")
    header = (",".join(c.name for c in SAMPLE_COLUMNS) + "\n").encode()
    expected_csv, expected_offsets, counts = reference_convert(data, [(c.name, c.zeek_type) for c in SAMPLE_COLUMNS])
    assert header + result.csv == expected_csv.encode("utf-8")
    assert [r["offset"] for r in rejects_of(result)] == expected_offsets
    assert (result.lines, result.rows, result.rejected, result.blank) == (
        counts["lines"], counts["rows"], counts["rejected"], counts["blank"])
    assert result.lines == result.rows + result.rejected + result.blank


@settings(max_examples=150, deadline=None)
@given(st.lists(any_line, min_size=1, max_size=30), st.data())
def test_any_split_into_blocks_gives_the_same_bytes(lines: list[bytes], data) -> None:
    whole = b"".join(line + b"\n" for line in lines)
    expected = convert_lines(whole, SAMPLE_COLUMNS, "x")
    cuts = sorted(data.draw(st.sets(st.integers(1, len(lines) - 1), max_size=5)) if len(lines) > 1 else [])
    converter = BlockConverter(SAMPLE_COLUMNS, "x")
    csv_parts, reject_parts, offset = [], [], 0
    for start, stop in zip([0, *cuts], [*cuts, len(lines)]):
        block = b"".join(line + b"\n" for line in lines[start:stop])
        part = converter.convert(block, offset)
        csv_parts.append(part.csv)
        reject_parts.append(part.rejects)
        offset += len(block)
    assert b"".join(csv_parts) == expected.csv
    assert b"".join(reject_parts) == expected.rejects
