"""The fast path for the common block: typed decoding with msgspec, the CSV text from one ``orjson.dumps``.

``render.BlockConverter``'s column-at-a-time path is the reference: it takes every line, finds every reject
and applies every option. This path takes only the common case, a block where every line is one object whose
output columns' values all fit their types, and it returns CSV bytes only when checks on the text prove them
to be the reference's bytes; otherwise it returns None and the block goes the reference way (where each bad
line is found, rejected and counted as usual).

How, for a block of whole lines:

* msgspec decodes its lines (``decode_lines``) into structs with one field per output column. The field
  types are the rules of "what is a rejected line" (a ``count`` takes only integers, a ``time`` only numbers,
  a ``bool`` only booleans), so decoding *is* the type check. A key that is not an output column is learned
  as an extra field, decoded without being parsed and counted for ``dropped_fields``. A set or vector is
  joined into its cell text while decoding. A line that is not one JSON object fails the decode or changes the
  record count.
* each struct becomes a tuple and the tuples one JSON text (``[[v,v,...],[v,...]]``), both in C;
* byte passes make it CSV: the outer brackets go, every quote is deleted and ``],[`` becomes a newline (a
  missing key decodes to ``""``, which then vanishes; a set of several elements was wrapped by the hook in a
  placeholder that becomes its CSV quotes; an escaped backslash becomes one again).

That is exact when the only escape in orjson's text is an escaped backslash: a quote, CR, LF or control
character in a string needs CSV quoting or is rare, and its block takes the reference path. When other
strings hold commas (the count of commas is off), their rows are split on their quotes and those cells
quoted, as CSV wants. The few numbers orjson writes in a notation ``repr`` does not use (an exponent, or a
float below 1e-4 written in full) are rewritten with ``repr``.
"""

from __future__ import annotations

import re
from itertools import compress, repeat
from operator import itemgetter
from typing import Annotated, Any, Callable, Sequence

import msgspec
import orjson
from msgspec.structs import astuple

from .normalize import MILLIS_THRESHOLD, is_iso8601, time_fits
from .schema import Column, Kind

# The JSON types each kind of column takes, as in render._ALLOWED_TYPES (sets and vectors: the list_cell hook).
# An explicit null fits every column too, but Zeek leaves unset fields out unless told to write them as null
# (LogAscii::json_include_unset_fields): blocks are decoded without null first, so the common text needs no
# search for nulls, and only a block that fails on a null is decoded again with it.
_FIELD_TYPES: dict[Kind, Any] = {
    Kind.NUMBER: int | float,
    # A string must be ISO 8601: checked after decoding (_numbers_fit). Numbers are epoch seconds well inside
    # the years every output can represent; anything else (integer milliseconds included) the reference
    # checks one by one.
    Kind.TIME: Annotated[int, msgspec.Meta(gt=-62_000_000_000, lt=MILLIS_THRESHOLD)]
    | Annotated[float, msgspec.Meta(gt=-62_000_000_000.0, lt=250_000_000_000.0)] | str,
    Kind.BOOL: bool,
    Kind.STRING: str,
}


def _field_type(column: Column) -> Any:
    """The msgspec type that decodes exactly the values the reference takes for ``column`` (or fewer)."""
    if column.kind is Kind.INTEGER:
        rules = column.scalar
        # msgspec takes int64 bounds only; above that it decodes at most 2**64 - 1, a count's own bound.
        high = rules.high if rules.high < 2**63 else None
        return Annotated[int, msgspec.Meta(ge=rules.low, le=high)]
    return _FIELD_TYPES[column.kind]


# Where, in a text, the numbers of repr_writes_otherwise show.
_NOTATION_MARKERS = (b"e-", b"e+", b"0.0000")
_NUMBER_START = frozenset(b"-0123456789")
_OPEN_BRACKET = ord("[")
# Stands for the quotes around a set or vector cell of several elements until the text is CSV: a private-use
# character, which orjson writes as is (a quote would be escaped). Seen anywhere else, the block is declined.
_CELL_QUOTE = "\ue000"
_CELL_QUOTE_BYTES = _CELL_QUOTE.encode("utf-8")
# Keys that are not output columns the fast path learns, at most: past that, a block with yet another one
# takes the reference path (which counts any number of them).
MAX_DROPPED_KEYS = 64
# A line holding nothing but JSON whitespace (msgspec's decode_lines yields no record for it).
_BLANK_LINE = re.compile(rb"(?:\A|\n)[ \t\r]*(?:\n|\Z)")
_LINE_STARTS_BLANK = (b"\n\n", b"\n ", b"\n\t", b"\n\r")


def _has_blank_line(block: bytes) -> bool:
    """Whether some line of ``block`` (its final newline aside) is empty or only JSON whitespace. The
    substring tests run first: the regex runs only where a line may start with whitespace."""
    body = block[:-1] if block.endswith(b"\n") else block
    if (not body or body[:1] in b" \t\r\n" or body[-1:] in b" \t\r\n"
            or any(start in body for start in _LINE_STARTS_BLANK)):
        return _BLANK_LINE.search(body) is not None
    return False
_UNKNOWN_KEY = re.compile(r"Object contains unknown field `(.*)` - at `\$")
# orjson.JSONEncodeError (an int beyond 64 bits) is a TypeError; a value nested deeper than msgspec recurses is
# a RecursionError (the reference path then finds that line and rejects or drops it as usual).
_DECODE_ERRORS = (msgspec.DecodeError, TypeError, RecursionError)


def repr_writes_otherwise(numbers: bytes) -> bool:
    """Whether ``numbers``, orjson's text of some numbers, may hold one that ``repr`` writes in another
    notation: an exponent (orjson 6e-6, repr 6e-06) or a float below 1e-4 written in full (orjson 0.000072,
    repr 7.2e-05). Otherwise orjson writes the same shortest round-trip digits as ``repr``."""
    return b"e" in numbers or b"0.0000" in numbers


class _Missing(str):
    """The value of a time column whose key is absent: written ``""`` like any missing value, but not taken
    for a string (an explicit ``""`` time is a reject)."""


_MISSING_TIME = _Missing("")


class _JoinedList(str):
    """A set or vector column's cell text; one subclass per such column tells the decode hook its column."""


class FastPath:
    """Renders whole clean blocks for one list of output columns, or declines them.

    Keys that are not output columns (extension keys such as ``_path``, columns left out by ``--columns``) are
    learned as they show up: the decode fails naming the key, which becomes an extra field of the records,
    decoded without being parsed (``msgspec.Raw``) and only counted for ``dropped_fields``.
    """

    def __init__(self, columns: Sequence[Column], list_cell: Callable[[Column], Callable[[Any], str]]) -> None:
        """``list_cell(column)``: the reference's function giving the cell text of a set or vector value of
        ``column``, raising ValueError when the value does not fit it."""
        if len(columns) < 2:
            raise ValueError("the fast path needs two columns or more (a lone empty field is quoted)")
        self._columns = tuple(columns)
        cells = {}  # the _JoinedList subclass of each set or vector column -> its list_cell function
        for position, column in enumerate(columns):
            if column.kind is Kind.LIST:
                cells[type(f"JoinedList{position}", (_JoinedList,), {})] = list_cell(column)
        lists = iter(cells)
        self._types = [next(lists) if column.kind is Kind.LIST else _field_type(column) for column in columns]

        wrapped = self._wrapped = [0, 0]  # list cells wrapped in _CELL_QUOTE, and the commas inside them

        def join_list(kind: type, value: Any) -> _JoinedList:
            # msgspec's decode hook, called for each set or vector value.
            cell = cells.get(kind)
            if cell is None:
                raise NotImplementedError(kind)
            text = cell(value)
            if "," in text:  # several elements: a CSV cell in quotes
                wrapped[0] += 1
                wrapped[1] += text.count(",")
                text = _CELL_QUOTE + text + _CELL_QUOTE
            return kind(text)

        self._join_list = join_list
        self._width = len(columns)
        self._outputs = itemgetter(*range(self._width))
        self._number_columns = [(itemgetter(p), c.kind is Kind.TIME) for p, c in enumerate(columns)
                                if c.kind in (Kind.NUMBER, Kind.TIME)]
        self._dropped: list[str] = []
        self._build_decoders()

    def _build_decoders(self) -> None:
        def record_type(nullable: bool) -> type:
            fields = [(f"c{position}", field_type | None if nullable else field_type,
                       msgspec.field(default=_MISSING_TIME if column.kind is Kind.TIME else "", name=column.name))
                      for position, (column, field_type) in enumerate(zip(self._columns, self._types))]
            fields += [(f"d{position}", msgspec.Raw, msgspec.field(default=msgspec.UNSET, name=name))
                       for position, name in enumerate(self._dropped)]
            return msgspec.defstruct("Record", fields, forbid_unknown_fields=True, gc=False)

        self._decoder = msgspec.json.Decoder(record_type(nullable=False), dec_hook=self._join_list)
        self._nullable_decoder = msgspec.json.Decoder(record_type(nullable=True), dec_hook=self._join_list)

    def render(self, block: bytes, n_lines: int) -> tuple[bytes, dict[str, int]] | None:
        """CSV rows of ``block`` (``n_lines`` whole lines, the last one may lack its newline) and the count of
        lines holding each key that is not an output column; None to decline the block."""
        try:
            records, nulls = self._decode(block)
            values = list(map(astuple, records))
            rows = list(map(self._outputs, values)) if self._dropped else values
            text = orjson.dumps(rows)
        except _DECODE_ERRORS:
            return None
        # Every line that is not exactly one JSON object fails the decode, or yields no record (blank) or
        # two (two objects on one line): with no blank line, the right count means one object a line (a blank
        # line and a line of two objects would cancel out).
        if len(records) != n_lines or _has_blank_line(block):
            return None
        backslashes = b"\\" in text
        if backslashes and text.count(b"\\") != 2 * text.count(b"\\\\"):
            # Some escape is not an escaped backslash: a string holds a quote, CR, LF, tab... which the
            # reference renders. (Zeek writes a non-printable byte as the four characters \x00, which JSON
            # escapes as \\x00: backslashes only.)
            return None
        fit, need_repr = self._numbers_fit(rows)
        if not fit:
            return None
        cells, cell_commas = self._wrapped
        if cells and text.count(_CELL_QUOTE_BYTES) != 2 * cells:
            return None  # the placeholder also shows in the data
        if need_repr:
            text = _rewrite_notation(text)
        plain = text.count(b",") == n_lines * self._width - 1 + cell_commas  # no other string holds a comma
        if nulls:
            if cells or not plain:
                return None  # a string holding ",null" would be taken for a null below
            # Both patterns hold a comma, which no string holds: they can only be JSON nulls.
            text = text.replace(b",null", b",").replace(b"[null,", b"[,")
        if cells and text.count(b"],[") != n_lines - 1:
            return None  # a wrapped cell holds "],[", which would look like a row break
        if not plain:
            # Some string holds a comma (a User-Agent...): CSV quotes those cells.
            csv = _quoted_rows(text.replace(_CELL_QUOTE_BYTES, b""), n_lines, self._width)
            if csv is None:
                return None
            return csv.replace(b"\\\\", b"\\") if backslashes else csv, self._count_dropped(values)
        # Strings hold no quote (it would be escaped), and only wrapped cells hold commas (checked above for
        # "],["), so "],[" only separates rows.
        body = text[2:-2].translate(None, b'"')
        if cells:
            body = body.replace(_CELL_QUOTE_BYTES, b'"')
        if backslashes:
            body = body.replace(b"\\\\", b"\\")  # each escaped backslash back to one
        rows_text = body.split(b"],[")
        rows_text.append(b"")  # the last row's newline
        return b"\n".join(rows_text), self._count_dropped(values)

    def _decode(self, block: bytes) -> tuple[list, bool]:
        """The block's records, and whether they were decoded with null allowed; learns dropped keys."""
        while True:
            try:
                try:
                    self._wrapped[:] = [0, 0]
                    return self._decoder.decode_lines(block), False
                except msgspec.ValidationError as error:
                    if "got `null`" not in str(error):
                        raise
                    self._wrapped[:] = [0, 0]
                    return self._nullable_decoder.decode_lines(block), True
            except msgspec.ValidationError as error:
                key = _UNKNOWN_KEY.match(str(error))
                if key is None or len(self._dropped) >= MAX_DROPPED_KEYS:
                    raise
                self._dropped.append(key[1])
                self._build_decoders()

    def _count_dropped(self, values: list[tuple]) -> dict[str, int]:
        counts = {}
        for position, name in enumerate(self._dropped, start=self._width):
            absent = list(map(itemgetter(position), values)).count(msgspec.UNSET)
            if absent < len(values):
                counts[name] = len(values) - absent
        return counts

    def _numbers_fit(self, rows: list[tuple]) -> tuple[bool, bool]:
        """Whether every time string is ISO 8601, and whether orjson may have written a number in a notation
        of its own. Checked on each number column's own text, much shorter than the block's."""
        need_repr = False
        for column, is_time in self._number_columns:
            values = list(map(column, rows))
            text = orjson.dumps(values)
            if repr_writes_otherwise(text):
                need_repr = True
            if is_time and b'"' in text:
                if not all(is_iso8601(v) and time_fits(v) for v in values if type(v) is str):
                    return False, need_repr
        return True, need_repr



def _quoted_rows(text: bytes, rows: int, width: int) -> bytes | None:
    """The CSV rows of ``text`` (no escaped quote in it) when some strings hold commas: those cells quoted.

    A row with more commas than field separators is split on its quotes: nothing being escaped, every quote
    delimits a string, so the strings are at odd positions. Declines (None) when a string holds "],[", which
    would look like a row break.
    """
    if text.count(b"],[") != rows - 1:
        return None
    lines = []
    for row in text[2:-2].split(b"],["):
        if row.count(b",") == width - 1:
            lines.append(row.translate(None, b'"'))
            continue
        parts = row.split(b'"')
        for index in compress(range(1, len(parts), 2), map(bytes.__contains__, parts[1::2], repeat(b","))):
            parts[index] = b'"' + parts[index] + b'"'  # the few strings holding a comma
        lines.append(b"".join(parts))
    lines.append(b"")  # the last row's newline
    return b"\n".join(lines)


def _rewrite_notation(text: bytes) -> bytes:
    """``text`` with every number orjson wrote in a notation of its own written as ``repr`` writes it.

    Runs on a text without backslashes, so every quote delimits a string: a marker is in a number when an
    even number of quotes comes before it. The number starts after the "," before it (and the "[" of its
    row, for a row's first field) with a digit or "-", and ends at the next "," or "]".
    """
    candidates = []
    for marker in _NOTATION_MARKERS:
        at = text.find(marker)
        while at >= 0:
            start = text.rfind(b",", 0, at) + 1
            while text[start] == _OPEN_BRACKET:
                start += 1
            comma, bracket = text.find(b",", at), text.find(b"]", at)  # every row ends with "]"
            end = bracket if comma < 0 or bracket < comma else comma
            if text[start] in _NUMBER_START and (marker != b"0.0000" or at == start or at == start + 1):
                candidates.append((at, start, end))
            at = text.find(marker, at + 1)
    spans = set()
    quotes = counted_to = 0
    for at, start, end in sorted(candidates):
        quotes += text.count(b'"', counted_to, at)
        counted_to = at
        if quotes % 2 == 0:  # outside every string
            spans.add((start, end))
    pieces = []
    done = 0
    for start, end in sorted(spans):
        # orjson's digits are the shortest that read back to the same double, so float() gets the value back.
        pieces += [text[done:start], repr(float(text[start:end])).encode("ascii")]
        done = end
    pieces.append(text[done:])
    return b"".join(pieces)
