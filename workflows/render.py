"""The pure core: a block of NDJSON lines in, CSV rows, reject records and counts out.

No I/O and no Dask here, so every rule of the CSV conventions and of "what is a rejected line" is tested on
plain bytes. The common clean block first goes the fast path (fastpath.py: typed decoding with msgspec, rows
written by one orjson.dumps), which gives the same bytes or declines; the path here is the reference for every
block, and handles every block the fast path declines. It too does per-block what can be done per-block:

* a block whose lines all look like one object each is parsed with a single ``orjson.loads`` of
  ``[line,line,...]``; a block that fails is bisected so each bad line is still found and rejected alone;
* values are pulled out and checked a column at a time (one ``set(map(type, ...))`` per column), and rows are
  joined in bulk instead of a writer call per line;
* a column of numbers is rendered by one ``orjson.dumps`` of the whole column (its text is Python's ``repr``
  except for exponents and ``0.0000...``, which are detected and fall back to ``repr``).

Blocks of about a hundred KiB are much faster than blocks of several MiB: the passes over a block's records
then run over objects that are still in the CPU cache (see ``plan.DEFAULT_BLOCK_SIZE``).
"""

from __future__ import annotations

import re
from collections import Counter
from itertools import accumulate, chain
from typing import Any, Callable, Iterable, Mapping, Sequence

import orjson

from .fastpath import FastPath, repr_writes_otherwise
from .kernel import native_blocks
from .normalize import is_iso8601, time_fits
from .records import BlockResult
from .schema import Column, Kind
from .types import JSON_TYPES

_NONE = type(None)
_JSON_TYPE_NAMES = {str: "string", int: "integer", float: "number", bool: "boolean", list: "array",
                    dict: "object", _NONE: "null"}
_ALLOWED_TYPES = JSON_TYPES
# Element types of a set/vector: null elements are what Zeek writes for unset vector slots.
_ALLOWED_ELEMENT_TYPES = {kind: allowed for kind, allowed in _ALLOWED_TYPES.items() if kind is not Kind.LIST}

_BOOL_TEXT = {True: "true", False: "false", None: ""}
# Blocks a converter offers the fast path before giving up on it, if it declined more than it took.
FAST_PATH_TRIAL = 8
# Two objects separated by a comma inside one line would let a bad block parse as the right number of
# objects; lines containing this pattern are always parsed on their own.
_OBJECT_SEPARATOR = re.compile(rb"\}[ \t\r\n]*,[ \t\r\n]*\{")
_JSON_SPACE = b" \t\r"
_QUOTE_TRIGGERS = (",", '"', "\r", "\n")


class RejectCollector:
    """Collects rejected lines of a block with their byte offsets (computed only when a line is rejected).

    Every input format (NDJSON here, TSV in tsv.py) collects its rejects through it."""

    def __init__(self, input_name: str, raw_lines: Sequence[bytes] | bytes, base_offset: int) -> None:
        """``raw_lines``: the block's lines, or the block itself (without its final newline), then split only
        when needed: a clean block with no reject never splits its lines."""
        self.input_name = input_name
        self._raw_lines = raw_lines
        self.base_offset = base_offset
        self._offsets: list[int] | None = None
        self.records: list[tuple[int, bytes]] = []

    @property
    def raw_lines(self) -> Sequence[bytes]:
        if isinstance(self._raw_lines, bytes):
            self._raw_lines = self._raw_lines.split(b"\n")
        return self._raw_lines

    def add(self, line_index: int, reason: str) -> None:
        if self._offsets is None:
            self._offsets = [0, *accumulate(len(line) + 1 for line in self.raw_lines)]
        raw = self.raw_lines[line_index]
        if raw.endswith(b"\r"):
            raw = raw[:-1]
        record = {
            "input": self.input_name,
            "offset": self.base_offset + self._offsets[line_index],
            "reason": reason,
            "line": raw.decode("utf-8", "backslashreplace"),
        }
        self.records.append((line_index, orjson.dumps(record) + b"\n"))

    def to_bytes(self) -> bytes:
        self.records.sort(key=lambda item: item[0])
        return b"".join(record for _, record in self.records)


def json_type_name(value: Any) -> str:
    return _JSON_TYPE_NAMES.get(type(value), type(value).__name__)


def quote_field(text: str) -> str:
    """RFC 4180 quoting: a field holding ``,`` ``"`` CR or LF is wrapped in quotes with quotes doubled."""
    if any(c in text for c in _QUOTE_TRIGGERS):
        return '"' + text.replace('"', '""') + '"'
    return text


def csv_header(columns: Sequence[Column]) -> bytes:
    """The header line of a CSV output: the column names as Zeek writes them, quoted by the same rules."""
    return (",".join(quote_field(c.name) for c in columns) + "\n").encode("utf-8")


def _quote_column(texts: list[str]) -> list[str]:
    joined = "\x00".join(texts)
    if not any(c in joined for c in _QUOTE_TRIGGERS):
        return texts
    return [quote_field(t) for t in texts]


def _scalar_error(column: Column, kind: Kind, value: Any, element: bool = False) -> str | None:
    """Why a scalar ``value`` (a column's value, or a set's or vector's element) does not fit; None if it fits."""
    expected = f"{column.name}: expected {column.zeek_type}, got "
    if type(value) not in _ALLOWED_TYPES[kind]:
        return expected + ("an element of type " if element else "") + json_type_name(value)
    if value is None:
        return None
    if kind is Kind.TIME:
        if type(value) is str and not is_iso8601(value):
            return expected + ("an element that is not ISO 8601" if element
                               else f"a string that is not ISO 8601: {value[:40]!r}")
        if not time_fits(value):
            return f"{column.name}: {value!r} is out of range for {column.zeek_type}"
    elif kind is Kind.INTEGER and not column.scalar.fits_range(value):
        return f"{column.name}: {value} is out of range for {column.zeek_type}"
    return None


def _value_error(column: Column, value: Any) -> str | None:
    """Why ``value`` does not fit ``column`` (None when it fits). Used on the rare columns that fail a check."""
    if column.kind is not Kind.LIST or type(value) is not list:
        return _scalar_error(column, column.kind, value)
    for element in value:
        reason = _scalar_error(column, column.element_kind, element, element=True)
        if reason is not None:
            return reason
    return None


def _out_of_range(column: Column, kind: Kind, values: Iterable[Any]) -> bool:
    """Whether some number among ``values`` (of types that fit ``kind``) may be out of its type's range."""
    if kind is Kind.INTEGER:
        numbers = [v for v in values if v is not None]
        rules = column.scalar
        return bool(numbers) and rules.low is not None and not (rules.low <= min(numbers) and max(numbers) <= rules.high)
    if kind is Kind.TIME:
        numbers = [v for v in values if v is not None and type(v) is not str]
        # Epoch seconds well inside years 1..9999 need no further look; anything else is checked one by one.
        return bool(numbers) and not (-6.2e10 < min(numbers) and max(numbers) < 2.5e11)
    return False


def _column_needs_scan(column: Column, values: list[Any]) -> bool:
    """True when some value of the column may not fit, so each value must be checked on its own."""
    kind = column.kind
    types = set(map(type, values))
    if not types <= _ALLOWED_TYPES[kind]:
        return True
    if kind is Kind.TIME:
        return str in types or _out_of_range(column, kind, values)
    if kind is Kind.INTEGER:
        return _out_of_range(column, kind, values)
    if kind is Kind.LIST:
        elements = list(chain.from_iterable(v for v in values if v is not None))
        element_types = set(map(type, elements))
        element_kind = column.element_kind
        if not element_types <= _ALLOWED_ELEMENT_TYPES[element_kind]:
            return True
        return (element_kind is Kind.TIME and str in element_types) or _out_of_range(column, element_kind, elements)
    return False


def _render_scalar(kind: Kind, value: Any) -> str:
    if value is None:
        return ""
    if kind is Kind.BOOL:
        return _BOOL_TEXT[value]
    if type(value) is str:
        return value
    return repr(value)  # int, or float as the shortest text that reads back to the same double


def _list_text(element_kind: Kind, value: list) -> str:
    return ",".join([_render_scalar(element_kind, element) for element in value])


def list_cell(column: Column) -> Callable[[Any], str]:
    """The function giving the cell text (before quoting) of ``column``'s set or vector values; it raises
    ValueError saying why when a value does not fit. All strings, or all numbers of the element type, are
    joined at once: the common set costs one join."""
    element_kind = column.element_kind
    allowed = _ALLOWED_ELEMENT_TYPES[element_kind]

    def checked(value: Any) -> str:
        reason = _value_error(column, value)
        if reason is None and type(value) is list:
            return _list_text(element_kind, value)
        raise ValueError(reason or f"{column.name}: does not fit {column.zeek_type}")

    if element_kind is Kind.STRING:
        def strings(value: Any) -> str:
            if type(value) is list:
                try:
                    return ",".join(value)
                except TypeError:  # a null or a non-string element
                    pass
            return checked(value)

        return strings
    if element_kind in (Kind.INTEGER, Kind.NUMBER):
        numbers = allowed - {_NONE}

        def numbers_text(value: Any) -> str:
            if type(value) is list and set(map(type, value)) <= numbers and not (
                    element_kind is Kind.INTEGER and _out_of_range(column, element_kind, value)):
                return ",".join(map(repr, value))
            return checked(value)

        return numbers_text
    return checked


def _numbers_text(values: list[Any]) -> list[str] | None:
    """Texts of a column of ints, floats and None in one orjson call; None when repr must be used instead.

    A text where ``repr`` may write some number otherwise (``fastpath.repr_writes_otherwise``) sends the column
    to ``repr``; so does a ``"`` (the column holds a string).
    """
    try:
        text = orjson.dumps(values)
    except TypeError:  # an integer beyond 64 bits
        return None
    if b'"' in text or repr_writes_otherwise(text):
        return None
    # Only numbers and null are in the array: "null" can only be a None.
    return text[1:-1].replace(b"null", b"").decode("ascii").split(",")


def _numbers_repr(values: list[Any]) -> list[str]:
    return list(map(repr, values)) if None not in values else ["" if v is None else repr(v) for v in values]


def _render_column(column: Column, values: list[Any]) -> list[str]:
    kind = column.kind
    if kind is Kind.STRING:
        texts = values if None not in values else ["" if v is None else v for v in values]
        return _quote_column(texts)
    if kind is Kind.BOOL:
        return list(map(_BOOL_TEXT.__getitem__, values))
    if kind in (Kind.INTEGER, Kind.NUMBER):
        return _numbers_text(values) or _numbers_repr(values)
    if kind is Kind.TIME:
        numbers = _numbers_text(values)
        if numbers is not None:
            return numbers
        texts = ["" if v is None else v if type(v) is str else repr(v) for v in values]
        return _quote_column(texts)
    element_kind = column.element_kind
    texts = ["" if v is None else _list_text(element_kind, v) for v in values]
    return _quote_column(texts)


class CsvRows:
    """The CSV sink: a block's checked column values as its CSV rows."""

    renders_csv = True  # the native kernel and the fast path write the same text straight from the lines

    def emit(self, columns: Sequence[Column], values: list[list[Any]]) -> str:
        rendered = [_render_column(c, v) for c, v in zip(columns, values)]
        if len(rendered) == 1:
            # A lone empty field would be read back as a blank line; quote it like the csv module does.
            rows: Iterable[str] = ['""' if t == "" else t for t in rendered[0]]
        else:
            rows = map(",".join, zip(*rendered))
        return "\n".join(rows) + "\n"


class BlockConverter:
    """Converts blocks of one input for a fixed list of output columns: parses the lines, checks each value
    against its column's rule, rejects and counts, and hands the checked values of each block to its sink
    (``CsvRows``, or the Parquet value path's ``parquet.ArrowTables``).

    For the CSV sink a clean block is first offered to the native kernel or the fast path (fastpath.py),
    which write the same bytes in a fraction of the time or decline; everything else, and every declined
    block, takes the column-at-a-time path below, the reference."""

    def __init__(
        self,
        columns: Sequence[Column],
        input_name: str,
        transforms: Mapping[int, Callable[[list[Any]], list[Any]]] | None = None,
        fast_path: bool = True,
        native: bool = True,
        enricher: Any = None,
        sink: Any = None,
    ) -> None:
        """``transforms`` maps a column position to a function applied to that column's checked values
        before rendering (``--ts-format``, ``--csv-safe``; see normalize.py). ``fast_path=False`` sends every
        block the reference way (to compare the native kernel or the fast path with it); ``native=False`` leaves the
        kernel out, so the msgspec fast path (the one where no kernel was built) takes the clean blocks.
        ``enricher`` (enrich/stage.py) appends its columns' values, computed from each row's checked record,
        after ``columns``: such a converter takes the reference path, the only one that has the records.
        ``sink`` takes each block's checked values (default ``CsvRows``)."""
        if not columns:
            raise ValueError("at least one output column is needed")
        self.transforms = dict(transforms or {})
        self.enricher = enricher
        self._checked = tuple(columns)
        self.columns = self._checked + (tuple(enricher.columns) if enricher is not None else ())
        self.names = tuple(c.name for c in columns)
        self.name_set = frozenset(self.names)
        self.input_name = input_name
        self.sink = sink if sink is not None else CsvRows()
        # Value transforms and a lone column (whose empty field is quoted) take the reference path only.
        self._fast_blocks = self._declined_blocks = 0
        fast = (fast_path and self.sink.renders_csv and not self.transforms and len(self.columns) > 1
                and enricher is None)
        # The native kernel first where it was built; the msgspec fast path where it was not.
        self._native = native_blocks(self.columns) if fast and native else None
        self._fast_path = FastPath(self.columns, list_cell) if fast and self._native is None else None

    @property
    def kernel(self) -> str:
        """Which path converts this converter's clean blocks: ``native`` (the C kernel) or ``python``."""
        return "native" if self._native is not None else "python"

    def convert(self, block: bytes, base_offset: int = 0) -> BlockResult:
        """Convert ``block``: whole lines (the last one may lack its newline) that start at ``base_offset``."""
        if not block:
            return BlockResult()
        if self._native is not None:
            native = self._native.convert(block, base_offset, self._convert_reference)
            if native is not None:
                return native
        n_lines = block.count(b"\n") + (not block.endswith(b"\n"))
        if self._fast_path is not None:
            rendered = self._fast_path.render(block, n_lines)
            if rendered is not None:
                self._fast_blocks += 1
                csv, dropped = rendered
                return BlockResult(csv=csv, lines=n_lines, rows=n_lines, dropped_fields=Counter(dropped))
            self._declined_blocks += 1
            if self._declined_blocks >= FAST_PATH_TRIAL and self._declined_blocks > self._fast_blocks:
                # An input the fast path mostly declines (escaped text everywhere...) would pay for both
                # paths: from here on, this converter's blocks go the reference way only.
                self._fast_path = None
        return self._convert_reference(block, base_offset, n_lines)

    def _convert_reference(self, block: bytes, base_offset: int, n_lines: int | None = None) -> BlockResult:
        """The reference conversion of ``block`` (whole lines): every rule of DESIGN.md, a column at a time."""
        if n_lines is None:
            n_lines = block.count(b"\n") + (not block.endswith(b"\n"))
        body = block[:-1] if block.endswith(b"\n") else block
        result = BlockResult(lines=n_lines)
        rejects = RejectCollector(self.input_name, body, base_offset)

        array = self._clean_array(body, n_lines)
        records = self._parse_array(array, n_lines) if array is not None else None
        if records is not None:
            line_index: Sequence[int] = range(n_lines)
        else:
            records, line_index, result.blank = self._parse_lines(rejects.raw_lines, rejects)

        csv_text, line_index = self._render(records, line_index, rejects, result.dropped_fields)
        result.rows = len(line_index)
        result.rejected = len(rejects.records)
        result.csv = csv_text.encode("utf-8")
        result.rejects = rejects.to_bytes()
        return result

    # -- parsing -------------------------------------------------------------------------------------------

    @staticmethod
    def _clean_array(body: bytes, n_lines: int) -> bytes | None:
        """The block as one JSON array ``[line,line,...]`` when every line is ``{...}`` with nothing around
        it and no line holds two objects, else None.

        The shape checks run in C (``replace``, ``count``, ``startswith``) so a clean block costs no per-line
        Python work: once every ``}\\n{`` is turned into ``},{``, a newline left over means some line does not
        start with ``{`` or end with ``}``.
        """
        if not (body.startswith(b"{") and body.endswith(b"}")):
            return None
        joined = body.replace(b"}\n{", b"},{")
        if b"\n" in joined:
            return None
        # When the only "}" of each line is its last byte (flat Zeek records), no line can hold "},{" and
        # the costlier search is skipped.
        if body.count(b"}") != n_lines and _OBJECT_SEPARATOR.search(body):
            return None
        return b"[" + joined + b"]"

    @staticmethod
    def _parse_array(array: bytes, n_lines: int) -> list[dict] | None:
        """One ``orjson.loads`` of a clean block's array, or None when some line is not valid JSON."""
        try:
            records = orjson.loads(array)
        except orjson.JSONDecodeError:
            return None
        # Every line starts with "{" and no line holds "},{": the array has one object per line or it
        # would have a different length.
        return records if len(records) == n_lines else None

    def _parse_lines(self, raw_lines: list[bytes], rejects: RejectCollector) -> tuple[list[dict], list[int], int]:
        """Parse a block that is not clean: blank lines counted, bad lines rejected, the rest parsed in bulk."""
        candidates: list[tuple[int, bytes]] = []
        singles: list[tuple[int, bytes]] = []
        blank = 0
        for i, raw in enumerate(raw_lines):
            text = raw.strip(_JSON_SPACE)
            if not text:
                blank += 1
            elif text[:1] == b"{" and text[-1:] == b"}" and not _OBJECT_SEPARATOR.search(text):
                candidates.append((i, text))
            else:
                singles.append((i, text))
        parsed: dict[int, dict] = {}
        self._parse_bisect(candidates, parsed, rejects)
        for i, text in singles:
            self._parse_one(i, text, parsed, rejects)
        order = sorted(parsed)
        return [parsed[i] for i in order], order, blank

    def _parse_bisect(self, items: list[tuple[int, bytes]], parsed: dict[int, dict], rejects: RejectCollector) -> None:
        if len(items) <= 4:
            for i, text in items:
                self._parse_one(i, text, parsed, rejects)
            return
        try:
            records = orjson.loads(b"[" + b",".join(text for _, text in items) + b"]")
        except orjson.JSONDecodeError:
            records = None
        if records is not None and len(records) == len(items):
            parsed.update(zip((i for i, _ in items), records))
            return
        middle = len(items) // 2
        self._parse_bisect(items[:middle], parsed, rejects)
        self._parse_bisect(items[middle:], parsed, rejects)

    @staticmethod
    def _parse_one(i: int, text: bytes, parsed: dict[int, dict], rejects: RejectCollector) -> None:
        try:
            record = orjson.loads(text)
        except orjson.JSONDecodeError as error:
            try:
                text.decode("utf-8")
            except UnicodeDecodeError as bad:
                rejects.add(i, f"invalid UTF-8 at byte {bad.start}")
            else:
                rejects.add(i, f"invalid JSON: {error}")
            return
        if type(record) is not dict:
            rejects.add(i, f"not a JSON object: got {json_type_name(record)}")
            return
        parsed[i] = record

    # -- rendering -----------------------------------------------------------------------------------------

    def _render(
        self,
        records: list[dict],
        line_index: Sequence[int],
        rejects: RejectCollector,
        dropped: Counter,
    ) -> tuple[str, Sequence[int]]:
        """Render records to CSV text; records with a value that does not fit its column are rejected."""
        if not records:
            return "", []
        values = [[r.get(name) for r in records] for name in self.names]
        bad: dict[int, str] = {}
        for column, column_values in zip(self._checked, values):
            if _column_needs_scan(column, column_values):
                for position, value in enumerate(column_values):
                    if position not in bad:
                        reason = _value_error(column, value)
                        if reason is not None:
                            bad[position] = reason
        if bad:
            for position, reason in sorted(bad.items()):
                rejects.add(line_index[position], reason)
            keep = [p for p in range(len(records)) if p not in bad]
            records = [records[p] for p in keep]
            line_index = [line_index[p] for p in keep]
            if not records:
                return "", []
            values = [[r.get(name) for r in records] for name in self.names]

        self._count_dropped(records, values, dropped)
        if self.enricher is not None:
            values.extend(self.enricher.values(records))
        for position, transform in self.transforms.items():
            values[position] = transform(values[position])
        return self.sink.emit(self.columns, values), line_index

    def render_records(
        self, records: list[dict], line_index: Sequence[int], rejects: RejectCollector, dropped: Counter
    ) -> tuple[str, Sequence[int]]:
        """Render already parsed records (from any input format) exactly as parsed JSON lines are rendered."""
        return self._render(records, line_index, rejects, dropped)

    def _count_dropped(self, records: list[dict], values: list[list[Any]], dropped: Counter) -> None:
        """Count, by name, lines holding keys that are not output columns.

        Cheap test first: when every key of every record is an output column with a non-null value, the
        number of keys equals the number of non-null column values, and nothing was dropped.
        """
        total_keys = sum(map(len, records))
        n = len(records)
        present = sum(n - column_values.count(None) for column_values in values)
        if total_keys == present:
            return
        names = self.name_set
        counts = Counter(chain.from_iterable(records))
        for key, count in counts.items():
            if key not in names:
                dropped[key] += count


def convert_lines(data: bytes, columns: Sequence[Column], input_name: str = "-") -> BlockResult:
    """Convert a whole buffer at once: the reference the partitioned path must agree with byte for byte."""
    return BlockConverter(columns, input_name).convert(data, 0)

