"""--ts-format renders every time column one way whatever the input used; --csv-safe guards text cells."""

from __future__ import annotations

import csv
import io

import pytest
from hypothesis import given, strategies as st

from workflows import ConvertOptions, UsageError
from workflows.normalize import column_transforms, to_microseconds
from workflows.render import BlockConverter
from workflows.schema import Column

COLUMNS = [Column("ts", "time"), Column("uid", "string"), Column("n", "count"), Column("tags", "set[string]"),
           Column("times", "vector[time]")]
# The same instant as Zeek writes it with each LogAscii::json_timestamps setting, then as TSV would.
SAME_INSTANT = [b'{"ts":1591367999.305988}', b'{"ts":"2020-06-05T14:39:59.305988Z"}',
                b'{"ts":"2020-06-05T14:39:59.305988+00:00"}']


def render(lines: list[bytes], ts_format=None, csv_safe=False, columns=COLUMNS) -> list[list[str]]:
    converter = BlockConverter(columns, "in", column_transforms(columns, ts_format, csv_safe))
    result = converter.convert(b"\n".join(lines) + b"\n")
    assert result.rejected == 0
    return list(csv.reader(io.StringIO(result.csv.decode())))


@pytest.mark.parametrize("ts_format,expected", [
    ("epoch", "1591367999.305988"), ("iso8601", "2020-06-05T14:39:59.305988Z"), ("millis", "1591367999305"),
])
def test_every_input_time_form_gives_one_output_form(ts_format, expected):
    assert {row[0] for row in render(SAME_INSTANT, ts_format)} == {expected}


def test_millisecond_integers_and_epoch_zero():
    rows = render([b'{"ts":1591367999305}', b'{"ts":"1970-01-01T00:00:00.000000Z"}', b'{"ts":0}'], "iso8601")
    assert [r[0] for r in rows] == ["2020-06-05T14:39:59.305000Z", "1970-01-01T00:00:00.000000Z",
                                    "1970-01-01T00:00:00.000000Z"]


def test_without_ts_format_times_stay_as_written_and_vectors_of_time_follow_the_format():
    assert render(SAME_INSTANT[:2])[1][0] == "2020-06-05T14:39:59.305988Z"
    row = render([b'{"times":[1.5,"1970-01-01T00:00:02Z",null]}'], "epoch")[0]
    assert row[4] == "1.5,2.0,"


@given(st.integers(min_value=0, max_value=4_102_444_800_000_000))
def test_iso8601_and_epoch_agree_to_the_microsecond(micros):
    iso = render([b'{"ts":%d.%06d}' % divmod(micros, 1_000_000)], "iso8601")[0][0]
    back = render([b'{"ts":"%s"}' % iso.encode()], "epoch")[0][0]
    assert to_microseconds(float(back)) == to_microseconds(iso) == micros


def test_csv_safe_guards_text_only():
    lines = [b'{"uid":"=HYPERLINK(\\"http://x\\")","n":5,"tags":["@SUM(1)","b"]}',
             b'{"uid":"-2+3","tags":["ok","=x"]}', b'{"uid":"\\tcmd","ts":-1.5}', b'{"uid":"safe=1"}']
    assert [row[1] for row in render(lines, csv_safe=True)] == ["'=HYPERLINK(\"http://x\")", "'-2+3", "'\tcmd",
                                                                "safe=1"]
    rows = render(lines, csv_safe=True)
    assert rows[0][3] == "'@SUM(1),b" and rows[1][3] == "ok,=x"  # the cell starts with its first element
    assert rows[2][0] == "-1.5" and rows[0][2] == "5"  # numbers and times are never changed
    assert [row[1] for row in render(lines)][0] == '=HYPERLINK("http://x")'  # off by default


def test_options_are_validated():
    with pytest.raises(UsageError, match="--ts-format must be one of"):
        ConvertOptions(inputs=["a"], output="o.csv", ts_format="nanos").validate()
    with pytest.raises(UsageError, match="do not apply"):
        ConvertOptions(inputs=["a"], output="o.parquet", csv_safe=True).validate()
