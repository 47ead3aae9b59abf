"""An independent, deliberately plain conversion (json + csv modules, one line at a time).

It follows DESIGN.md's CSV conventions and rejection rules without sharing any code with the package, so the
tests can compare zeekflow's output with it byte for byte.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta, timezone

INTEGER_RANGES = {"count": (0, 2**64 - 1), "port": (0, 65535), "int": (-(2**63), 2**63 - 1)}
INTEGER_TYPES = set(INTEGER_RANGES)
NUMBER_TYPES = {"interval", "double"}
STRING_TYPES = {"string", "addr", "enum", "subnet", "pattern"}


def _fits(zeek_type: str, value) -> bool:
    if value is None:
        return True
    if zeek_type in INTEGER_TYPES:
        low, high = INTEGER_RANGES[zeek_type]
        return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high
    if zeek_type in NUMBER_TYPES:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if zeek_type == "time":
        if isinstance(value, str):
            try:
                datetime.fromisoformat(value)
            except ValueError:
                return False
        elif not isinstance(value, (int, float)) or isinstance(value, bool):
            return False
        return _representable(value)
    if zeek_type == "bool":
        return isinstance(value, bool)
    if zeek_type in STRING_TYPES:
        return isinstance(value, str)
    if zeek_type.startswith(("set[", "vector[")):
        inner = zeek_type[zeek_type.index("[") + 1:-1]
        return isinstance(value, list) and all(_fits(inner, element) for element in value)
    raise AssertionError(f"reference does not know {zeek_type}")


def _representable(value) -> bool:
    """A time that every output format can write: a datetime of years 1 to 9999 (integers of 10**11 or more
    are milliseconds, as Zeek's JSON::TS_MILLIS writes them)."""
    epoch = datetime(1970, 1, 1, tzinfo=timezone.utc)
    try:
        if isinstance(value, str):
            moment = datetime.fromisoformat(value)
            moment = moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
            moment.astimezone(timezone.utc)
        elif isinstance(value, int):
            epoch + timedelta(milliseconds=value) if abs(value) >= 10**11 else epoch + timedelta(seconds=value)
        else:
            epoch + timedelta(microseconds=round(value * 1_000_000))
    except (OverflowError, ValueError):
        return False
    return True


def _text(value) -> str:
    if value is None:
        return ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, list):
        return ",".join(_text(element) for element in value)
    if isinstance(value, str):
        return value
    return repr(value)


def _csv_row(fields: list[str]) -> str:
    buffer = io.StringIO()
    # "\r\n" as terminator makes the csv module quote fields holding a lone CR too; the row end is then
    # replaced by "\n", DESIGN.md's line end.
    csv.writer(buffer, lineterminator="\r\n").writerow(fields)
    return buffer.getvalue()[:-2] + "\n"


def reference_convert(data: bytes, columns: list[tuple[str, str]]) -> tuple[str, list[int], dict]:
    """Return (CSV text with header, byte offsets of rejected lines, counts)."""
    out = [_csv_row([name for name, _ in columns])]
    rejected_offsets: list[int] = []
    counts = {"lines": 0, "rows": 0, "rejected": 0, "blank": 0}
    offset = 0
    for raw in _split_lf(data):
        start = offset
        offset += len(raw)
        line = raw.rstrip(b"\n")
        counts["lines"] += 1
        if not line.strip(b" \t\r"):
            counts["blank"] += 1
            continue
        try:
            record = json.loads(line.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            record = None
        if not isinstance(record, dict) or not all(_fits(t, record.get(n)) for n, t in columns):
            counts["rejected"] += 1
            rejected_offsets.append(start)
            continue
        counts["rows"] += 1
        fields = [_text(record.get(name)) for name, _ in columns]
        out.append('""\n' if fields == [""] else _csv_row(fields))
    return "".join(out), rejected_offsets, counts


def _split_lf(data: bytes) -> list[bytes]:
    """Split on LF only (a CR is part of its line), keeping the LF."""
    parts = data.split(b"\n")
    lines = [part + b"\n" for part in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1])
    return lines
