"""Zeek's default ASCII (TSV) format: header parsing, value decoding, and a block converter.

A Zeek TSV log describes itself in ``#`` lines: ``#separator`` (written with a space, as ``\\x09``), then
``#set_separator``, ``#empty_field``, ``#unset_field``, ``#path``, ``#fields`` and ``#types``, each value
separated from its name by the separator. Those values are read from the file, never assumed; Zeek's
defaults are only a fallback for a directive a file leaves out. A file may hold several header blocks (logs
concatenated), the ``#close`` line may be missing, and extra columns (``_node_name``, label columns) are
ordinary columns. Values decode as Zeek wrote them:

* the unset marker (``-``) leaves the field out of the record, as Zeek's JSON writer does;
* the empty marker (``(empty)``) is an empty string or an empty set/vector;
* ``\\xNN`` and ``\\\\`` escapes give back the original bytes, which are then rendered as Zeek's JSON writer
  renders them (valid UTF-8 as text; other bytes and control characters other than ``\\b \\f \\n \\r \\t`` as
  the four characters ``\\xNN``), so the same events in TSV and in JSON give the same CSV.

Records then go through the same checks and rendering as JSON records (``BlockConverter.render_records``).
"""

from __future__ import annotations

import re
import threading
from bisect import bisect_left
from collections import Counter
from dataclasses import dataclass, replace
from typing import Any, Callable

import fsspec

from .kernel import NativeTsvBlocks, native_tsv_blocks
from .render import BlockConverter, BlockResult, RejectCollector
from .schema import Column, Kind, element_type, kind_of
from .types import scalar_type

# Zeek's LogAscii defaults, used only for a directive that a file's header leaves out.
FALLBACK_SET_SEPARATOR = b","
FALLBACK_EMPTY_FIELD = b"(empty)"
FALLBACK_UNSET_FIELD = b"-"

_ESCAPE = re.compile(rb"\\(x[0-9a-fA-F]{2}|\\)")
# Control characters Zeek's JSON writer escapes as \xNN (it keeps \b \f \n \r \t as JSON escapes).
_CONTROL = re.compile("[\x00-\x07\x0b\x0e-\x1f]")
_MISSING = object()


def _unescape(raw: bytes) -> bytes:
    return _ESCAPE.sub(lambda m: b"\\" if m.group(1) == b"\\" else bytes([int(m.group(1)[1:], 16)]), raw)


def zeek_text(data: bytes) -> str:
    """Bytes of a Zeek string as Zeek's JSON writer shows them: UTF-8 text, other bytes as ``\\xNN``."""
    text = data.decode("utf-8", "backslashreplace")
    if _CONTROL.search(text):
        text = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)
    return text


def decode_text(raw: bytes) -> str:
    """A TSV string field (escapes included) as text."""
    return zeek_text(_unescape(raw) if b"\\" in raw else raw)


@dataclass(frozen=True)
class TsvHeader:
    """The header in force at a point of a TSV log (values as written, escapes decoded)."""

    separator: bytes
    set_separator: bytes = FALLBACK_SET_SEPARATOR
    empty_field: bytes = FALLBACK_EMPTY_FIELD
    unset_field: bytes = FALLBACK_UNSET_FIELD
    path: str | None = None
    fields: tuple[str, ...] = ()
    types: tuple[str, ...] = ()

    def apply(self, line: bytes) -> "TsvHeader":
        """The header after the ``#`` line ``line`` (unknown directives and comments change nothing)."""
        return apply_header_line(self, line)


_TAB_DIRECTIVES = tuple(d + b"\t" for d in (b"#set_separator", b"#empty_field", b"#unset_field", b"#path", b"#fields",
                                            b"#types"))
_DIRECTIVES = {b"#set_separator": "set_separator", b"#empty_field": "empty_field", b"#unset_field": "unset_field"}


def apply_header_line(header: TsvHeader | None, line: bytes) -> TsvHeader | None:
    """Fold one ``#`` line into the header (None before any ``#separator``)."""
    line = line.rstrip(b"\r\n")
    if line.startswith(b"#separator "):
        separator = _unescape(line[len(b"#separator "):].strip())
        return TsvHeader(separator=separator) if header is None else replace(header, separator=separator)
    if header is None:
        # A header whose #separator line is lost or damaged (a stray leading tab) still describes the lines
        # after it: Zeek's default separator, a tab, is the one its other directives are written with.
        if not line.startswith(_TAB_DIRECTIVES):
            return None
        header = TsvHeader(separator=b"\t")
    name, _, value = line.partition(header.separator)
    if name in _DIRECTIVES:
        return replace(header, **{_DIRECTIVES[name]: _unescape(value)})
    if name == b"#path":
        return replace(header, path=decode_text(value))
    if name == b"#fields":
        return replace(header, fields=tuple(decode_text(v) for v in value.split(header.separator)))
    if name == b"#types":
        return replace(header, types=tuple(decode_text(v) for v in value.split(header.separator)))
    return header  # #open, #close, or a comment such as btest's "### BTest baseline" line


_COLUMN_NAME = re.compile(rb"[A-Za-z_][A-Za-z0-9_.]*")


def parse_names_line(data: bytes) -> tuple[str, ...] | None:
    """The column names of zeek-cut output (``zeek-cut`` with a names line, no ``#`` header): a first line of
    tab-separated Zeek field names; None when the first line is not one."""
    first = data.split(b"\n", 1)[0].rstrip(b"\r")
    names = first.split(b"\t")
    if len(names) < 2 or not all(_COLUMN_NAME.fullmatch(n) for n in names):
        return None
    return tuple(n.decode() for n in names)


def parse_header(data: bytes) -> TsvHeader | None:
    """The header of a file from its first bytes: its ``#`` lines folded wherever they stand in the head
    (after blank or stray lines too), up to the first data line under a ``#fields`` line; None if not TSV."""
    header = None
    for line in data.split(b"\n"):
        if line.startswith(b"#"):
            header = apply_header_line(header, line)
        elif line.strip() and header is not None and header.fields:
            break
    return header


# -- values ----------------------------------------------------------------------------------------------

def _scalar_parser(zeek_type: str) -> Callable[[bytes], Any]:
    return scalar_type(zeek_type).tsv_parser or decode_text


def decode_column(raws: list[bytes]) -> list[str]:
    """``decode_text`` of every field of a column; one decode of the whole column when nothing is escaped."""
    joined = b"\n".join(raws)  # a field never holds a newline: lines are split on it
    if b"\\" in joined:
        return [decode_text(raw) for raw in raws]
    return zeek_text(joined).split("\n")


class _FieldParser:
    """Turns one column's raw fields into values; raises ValueError/KeyError for a field that does not fit."""

    def __init__(self, zeek_type: str, header: TsvHeader) -> None:
        self.kind = kind_of(zeek_type)
        self.unset = header.unset_field
        self.empty = header.empty_field
        self.set_separator = header.set_separator
        if self.kind is Kind.LIST:
            self.element = _scalar_parser(element_type(zeek_type))
        else:
            self.scalar = _scalar_parser(zeek_type)

    def __call__(self, raw: bytes) -> Any:
        if raw == self.unset:
            return _MISSING
        if self.kind is Kind.LIST:
            if raw == self.empty:
                return []
            element, unset = self.element, self.unset
            return [None if e == unset else element(e) for e in raw.split(self.set_separator)]
        if raw == self.empty and self.kind is Kind.STRING:
            return ""
        return self.scalar(raw)

    def column(self, raws: list[bytes]) -> list[Any]:
        """Every field of a column at once (C-speed ``map`` when no marker is present)."""
        unset, empty = self.unset, self.empty
        if self.kind is Kind.LIST:
            return list(map(self, raws))
        if self.kind is Kind.STRING:
            texts = decode_column(raws)
            if unset in raws or empty in raws:
                return [_MISSING if r == unset else "" if r == empty else t for r, t in zip(raws, texts)]
            return texts
        if unset in raws:
            scalar = self.scalar
            return [_MISSING if r == unset else scalar(r) for r in raws]
        return list(map(self.scalar, raws))


class _Layout:
    """What one header block needs to parse its data lines: names and a parser per column."""

    def __init__(self, header: TsvHeader) -> None:
        self.header = header
        self.names = header.fields
        self.error = None
        if not header.fields:
            self.error = "no #fields line before this line"
        elif len(header.types) != len(header.fields):
            self.error = f"#types has {len(header.types)} entries for {len(header.fields)} #fields"
        self.parsers: list[_FieldParser] = []
        if self.error is None:
            try:
                self.parsers = [_FieldParser(t, header) for t in header.types]
            except ValueError as error:
                self.error = f"unsupported #types entry: {error}"


def _parse_group(
    layout: _Layout, lines: list[tuple[int, bytes]], rejects: RejectCollector,
    records: list[tuple[int, dict]],
) -> None:
    """Parse data lines of one header block into records (index, dict), a column at a time; bad lines are
    rejected with the first field that does not fit."""
    if layout.error:
        for i, _ in lines:
            rejects.add(i, layout.error)
        return
    separator, names, types = layout.header.separator, layout.names, layout.header.types
    width = len(names)
    raw_lines = [raw for _, raw in lines]
    if [raw.count(separator) for raw in raw_lines].count(width - 1) == len(raw_lines):
        # Every line has the right width: one split of the joined lines, columns by C-speed slicing.
        fields = separator.join(raw_lines).split(separator)
        raw_columns = [fields[c::width] for c in range(width)]
        line_index = [i for i, _ in lines]
    else:
        rows: list[list[bytes]] = []
        line_index = []
        for i, raw in lines:
            split = raw.split(separator)
            if len(split) != width:
                rejects.add(i, f"expected {width} fields separated by {separator!r}, got {len(split)}")
                continue
            rows.append(split)
            line_index.append(i)
        if not rows:
            return
        raw_columns = [list(column) for column in zip(*rows)]
    bad: dict[int, str] = {}
    columns = []
    for name, zeek_type, parser, raws in zip(names, types, layout.parsers, raw_columns):
        try:
            values = parser.column(raws)
        except (ValueError, KeyError):
            values = []
            for position, raw in enumerate(raws):
                try:
                    values.append(parser(raw))
                except (ValueError, KeyError):
                    values.append(_MISSING)
                    shown = raw[:40].decode("utf-8", "backslashreplace")
                    bad.setdefault(position, f"{name}: expected {zeek_type}, got {shown!r}")
        columns.append(values)
    missing = _MISSING
    for position, values in enumerate(zip(*columns)):
        if position in bad:
            rejects.add(line_index[position], bad[position])
        else:
            records.append((line_index[position],
                            {n: v for n, v in zip(names, values) if v is not missing}))


class TsvBlockConverter:
    """Converts blocks of a Zeek TSV log, given the header in force before the first block."""

    def __init__(self, renderer: BlockConverter, header: TsvHeader | None = None,
                 header_before: Callable[[int], TsvHeader | None] | None = None,
                 names_line: bool = False) -> None:
        """``header_before(offset)`` finds the header in force at the first block's offset when the
        converter starts mid-file; ``header`` is used as is otherwise. ``names_line``: the file's first line
        is zeek-cut's line of column names (metadata, like a ``#`` line)."""
        self.renderer = renderer
        self.header = header
        self.header_before = header_before
        self.names_line = names_line
        self._layouts: dict[TsvHeader, _Layout] = {}
        # The native kernel's converter for each header (None: that header's lines take the Python path).
        self._native: dict[TsvHeader, NativeTsvBlocks | None] = {}

    @property
    def kernel(self) -> str:
        """``native`` when the C kernel converts this log's data lines, ``python`` otherwise."""
        return "native" if any(self._native.values()) else "python"

    def _native_for(self, header: TsvHeader | None) -> NativeTsvBlocks | None:
        if header is None or self.renderer.kernel != "native":
            return None
        if header not in self._native:
            native = None
            if self._layout(header).error is None:  # every #types entry is a known type
                fields = [Column(name, zeek_type) for name, zeek_type in zip(header.fields, header.types)]
                native = native_tsv_blocks(self.renderer.columns, fields, header.separator,
                                           header.set_separator, header.empty_field, header.unset_field)
            self._native[header] = native
        return self._native[header]

    def _layout(self, header: TsvHeader | None) -> _Layout:
        if header is None:
            header = TsvHeader(separator=b"\t")
            layout = _Layout(header)
            layout.error = "no #separator header before this line"
            return layout
        if header not in self._layouts:
            self._layouts[header] = _Layout(header)
        return self._layouts[header]

    def convert(self, block: bytes, base_offset: int = 0) -> BlockResult:
        if self.header_before is not None:
            self.header = self.header_before(base_offset)
            self.header_before = None
        if not block:
            return BlockResult()
        if self.renderer.kernel != "native" or (self.names_line and base_offset == 0):
            return self._convert_python(block, base_offset)
        starts = [0] if block.startswith(b"#") else []
        native = None if starts else self._native_for(self.header)
        if native is not None:  # most blocks hold data lines only: the kernel tells, in its one pass
            holds_header, result = native.convert_data(block, base_offset, self._convert_python)
            if not holds_header:
                return result if result is not None else self._convert_python(block, base_offset)
        # Header lines take the Python path, which keeps the header in force; the runs of data lines between
        # them go to the native kernel, which declines to the Python path every line it is not certain of.
        at = block.find(b"\n#")
        while at >= 0:
            starts.append(at + 1)
            at = block.find(b"\n#", at + 1)
        results = []
        done = 0
        for start in starts:
            if start > done:
                results.append(self._data_lines(block[done:start], base_offset + done))
            done = block.find(b"\n", start) + 1 or len(block)
            results.append(self._convert_python(block[start:done], base_offset + start))
        if done < len(block):
            results.append(self._data_lines(block[done:], base_offset + done))
        result = results[0]
        for later in results[1:]:
            result = result.extend(later)
        return result

    def _data_lines(self, block: bytes, base_offset: int) -> BlockResult:
        """Lines with no header line among them, under the header in force: the kernel's, or Python's."""
        native = self._native_for(self.header)
        result = native.convert(block, base_offset, self._convert_python) if native is not None else None
        return result if result is not None else self._convert_python(block, base_offset)

    def _convert_python(self, block: bytes, base_offset: int) -> BlockResult:
        """The Python conversion of ``block``, header lines included: the reference for TSV."""
        body = block[:-1] if block.endswith(b"\n") else block
        raw_lines = body.split(b"\n")
        rejects = RejectCollector(self.renderer.input_name, raw_lines, base_offset)
        records: list[tuple[int, dict]] = []
        group: list[tuple[int, bytes]] = []
        blank = meta = 0
        for i, raw in enumerate(raw_lines):
            if self.names_line and base_offset == 0 and i == 0:
                meta += 1
            elif raw.startswith(b"#"):
                if group:
                    _parse_group(self._layout(self.header), group, rejects, records)
                    group = []
                self.header = apply_header_line(self.header, raw)
                meta += 1
            elif not raw.strip():
                blank += 1
            else:
                group.append((i, raw[:-1] if raw.endswith(b"\r") else raw))
        if group:
            _parse_group(self._layout(self.header), group, rejects, records)

        dropped: Counter = Counter()
        text, kept = self.renderer.render_records([r for _, r in records], [i for i, _ in records], rejects, dropped)
        # Header lines are the file's metadata, not log lines: they are not counted.
        return BlockResult(
            csv=text.encode("utf-8"), rejects=rejects.to_bytes(), lines=len(raw_lines) - meta, rows=len(kept),
            rejected=len(rejects.records), blank=blank, dropped_fields=dropped,
        )


# -- the header in force at an offset --------------------------------------------------------------------

_SCAN_CHUNK = 8 * 2**20


class _HeaderIndex:
    """The ``#`` lines of one file up to where it has been scanned, and the header after each of them."""

    def __init__(self) -> None:
        self.scanned = 0
        self.offsets: list[int] = []  # start offset of each '#' line, ascending
        self.headers: list[TsvHeader | None] = []
        self.lock = threading.Lock()

    def header_before(self, path: str, offset: int) -> TsvHeader | None:
        with self.lock:
            if offset > self.scanned:
                self._scan(path, offset)
            position = bisect_left(self.offsets, offset)
            return self.headers[position - 1] if position else None

    def _scan(self, path: str, end: int) -> None:
        header = self.headers[-1] if self.headers else None
        with fsspec.open(path, "rb") as f:
            start = self.scanned
            while start < end:
                # One byte of overlap: a '#' right at a chunk start is found through the newline before it.
                chunk_start = max(start - 1, 0)
                f.seek(chunk_start)
                chunk = f.read(min(_SCAN_CHUNK, end - chunk_start))
                if not chunk:
                    break
                hits = [0] if chunk_start == 0 and chunk.startswith(b"#") else []
                found = chunk.find(b"\n#")
                while found != -1:
                    hits.append(found + 1)
                    found = chunk.find(b"\n#", found + 1)
                for hit in hits:
                    line_offset = chunk_start + hit
                    if line_offset >= end or (self.offsets and line_offset <= self.offsets[-1]):
                        continue
                    here = f.tell()
                    f.seek(line_offset)
                    header = apply_header_line(header, f.readline())
                    f.seek(here)
                    self.offsets.append(line_offset)
                    self.headers.append(header)
                start = chunk_start + len(chunk)
            self.scanned = max(self.scanned, min(start, end))


_INDEXES: dict[tuple[str, int, float], _HeaderIndex] = {}
_INDEXES_LOCK = threading.Lock()


def header_before(path: str, offset: int, size: int = 0, mtime: float = 0.0) -> TsvHeader | None:
    """The header in force for a line starting at ``offset``: every ``#`` line before it, folded.

    Each worker process scans a file's prefix once (at disk speed, looking only for lines starting with ``#``)
    and remembers it, so ranges of one file share the work; ``(size, mtime)`` tell a changed file apart.
    """
    if offset == 0:
        return None
    with _INDEXES_LOCK:
        index = _INDEXES.setdefault((path, size, mtime), _HeaderIndex())
    return index.header_before(path, offset)
