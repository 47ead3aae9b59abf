"""Value normalisations applied to checked column values before rendering: ``--ts-format`` and ``--csv-safe``.

Zeek writes a ``time`` as epoch seconds, as an ISO 8601 string or as integer milliseconds depending on
``LogAscii::json_timestamps`` (TSV always uses epoch seconds with 6 decimals); ``--ts-format`` renders every
``time`` column one way whatever the input used. ``--csv-safe`` applies OWASP's guard against formula injection.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Sequence

from .schema import Column, Kind

TS_FORMATS = ("epoch", "iso8601", "millis")
# An integer time of at least 10**11 is read as milliseconds (JSON::TS_MILLIS): as seconds it would be past
# the year 5000, while milliseconds reach it in 1973.
MILLIS_THRESHOLD = 10**11
# Characters that make a spreadsheet read a cell as a formula (OWASP "CSV Injection").
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MICROSECOND = timedelta(microseconds=1)


def is_iso8601(text: str) -> bool:
    """True when ``text`` is a time Zeek may write as ISO 8601 (what ``datetime.fromisoformat`` reads)."""
    try:
        datetime.fromisoformat(text)
    except ValueError:
        return False
    return True


# The times every output format can represent: datetime's years 1 to 9999 (ISO 8601 is the narrowest).
MIN_MICROS = (datetime(1, 1, 1, tzinfo=timezone.utc) - _EPOCH) // _MICROSECOND
MAX_MICROS = (datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=timezone.utc) - _EPOCH) // _MICROSECOND
# Epoch seconds beyond these bounds are out of range whatever their digits (so round() never meets inf).
_SECONDS_BOUND = 2.6e11


def time_fits(value: int | float | str) -> bool:
    """Whether a time value (already known to be a number or an ISO 8601 string) is one every output format
    can represent (``--ts-format iso8601`` needs a year from 1 to 9999)."""
    if type(value) is float and not -_SECONDS_BOUND < value < _SECONDS_BOUND:
        return False
    return MIN_MICROS <= to_microseconds(value) <= MAX_MICROS


def to_microseconds(value: int | float | str) -> int:
    """A Zeek time value (epoch seconds, integer milliseconds or ISO 8601 text) as integer epoch microseconds.

    >>> to_microseconds(1591367999.305988), to_microseconds("2020-06-05T14:39:59.305988Z")
    (1591367999305988, 1591367999305988)
    """
    if type(value) is str:
        moment = datetime.fromisoformat(value)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)  # Zeek's ISO 8601 times are UTC
        return (moment - _EPOCH) // _MICROSECOND
    if type(value) is int:
        return value * 1000 if abs(value) >= MILLIS_THRESHOLD else value * 1_000_000
    return round(value * 1_000_000)


def _iso8601(micros: int) -> str:
    return (_EPOCH + timedelta(microseconds=micros)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _time_converter(ts_format: str) -> Callable[[Any], Any]:
    if ts_format == "epoch":
        # A float already is epoch seconds; microseconds / 1e6 is the double nearest the 6-decimal text.
        return lambda v: v if type(v) is float else to_microseconds(v) / 1_000_000
    if ts_format == "iso8601":
        return lambda v: _iso8601(to_microseconds(v))
    if ts_format == "millis":
        return lambda v: to_microseconds(v) // 1000  # truncated, as Zeek's JSON::TS_MILLIS writes them
    raise ValueError(f"unknown time format {ts_format!r}; use one of {', '.join(TS_FORMATS)}")


def _guard(text: Any) -> Any:
    if type(text) is str and text.startswith(FORMULA_TRIGGERS):
        return "'" + text
    return text


def _map_values(function: Callable[[Any], Any]) -> Callable[[list[Any]], list[Any]]:
    return lambda values: [None if v is None else function(v) for v in values]


def _map_first_element(function: Callable[[Any], Any]) -> Callable[[list[Any]], list[Any]]:
    # A set renders as its elements joined by ",": guarding the first element guards the whole cell.
    return lambda values: [v if not v else [function(v[0]), *v[1:]] for v in values]


def column_transforms(
    columns: Sequence[Column], ts_format: str | None = None, csv_safe: bool = False
) -> dict[int, Callable[[list[Any]], list[Any]]]:
    """The per-column value transforms for BlockConverter: time columns reformatted, text cells guarded."""
    transforms: dict[int, Callable[[list[Any]], list[Any]]] = {}
    convert_time = _time_converter(ts_format) if ts_format else None
    for position, column in enumerate(columns):
        kind, element_kind = column.kind, column.element_kind
        if kind is Kind.TIME and convert_time:
            transforms[position] = _map_values(convert_time)
        elif kind is Kind.STRING and csv_safe:
            transforms[position] = _map_values(_guard)
        elif kind is Kind.LIST and element_kind is Kind.TIME and convert_time:
            transforms[position] = _map_values(lambda v: [None if e is None else convert_time(e) for e in v])
        elif kind is Kind.LIST and element_kind is Kind.STRING and csv_safe:
            transforms[position] = _map_first_element(_guard)
    return transforms
