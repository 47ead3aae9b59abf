"""Inputs as a user gives them: globs expanded in natural order, compressed files opened, formats recognised.

* Natural order: ``conn.2.log`` before ``conn.10.log``, and rotated archives
  (``conn.00:00:00-01:00:00.log.gz``, ``2024-04-19/conn.23:00:00-00:00:00.log.gz``) by the time range their
  names carry, because numbers in names compare as numbers. The shell sorts globs as text, so every run orders
  all its inputs this way, whatever order they were given in.
* Compressed inputs (``.gz``, ``.bz2``, ``.zst``) cannot be cut into byte ranges: each is one partition.
* A file is TSV when its ``#`` header has a ``#separator`` line, zeek-cut output when its first line is
  tab-separated column names, NDJSON otherwise; its log type comes from the TSV ``#path``, the JSON ``_path``
  key or, failing those, the file name. Recognising needs the first lines
  only (at most ``SNIFF_BYTES`` of decompressed data): the client never reads the data itself.
"""

from __future__ import annotations

import bz2
import glob
import gzip
import os
import re
import zlib
from dataclasses import dataclass
from typing import BinaryIO

import fsspec
import orjson

from .errors import UsageError
from .tsv import TsvHeader, parse_header, parse_names_line

COMPRESSIONS = {".gz": "gzip", ".bz2": "bz2", ".zst": "zstd"}
SNIFF_BYTES = 2**16
DEFAULT_LOG_TYPE = "conn"
_DIGITS = re.compile(r"(\d+)")
_GLOB_MAGIC = re.compile(r"[*?[]")


def compression_of(path: str) -> str | None:
    """``gzip``, ``bz2`` or ``zstd`` from the file name's suffix; None for a plain file."""
    for suffix, name in COMPRESSIONS.items():
        if path.endswith(suffix):
            return name
    return None


def natural_key(path: str) -> tuple:
    """Sort key comparing runs of digits as numbers: ``conn.2.log`` < ``conn.10.log``."""
    return tuple(int(part) if i % 2 else part for i, part in enumerate(_DIGITS.split(path)))


def expand_inputs(patterns: list[str]) -> list[str]:
    """Every input named or matched by a glob, each once, in natural order. Raises UsageError for a glob
    that matches nothing (a plain path that does not exist is reported later, when it is checked)."""
    found: list[str] = []
    for pattern in patterns:
        if _GLOB_MAGIC.search(pattern) and not os.path.exists(pattern):
            if "://" in pattern:
                fs, _ = fsspec.core.url_to_fs(pattern)
                protocol = pattern.split("://", 1)[0]
                matches = [f"{protocol}://{p}" for p in fs.glob(pattern)]
            else:
                matches = [p for p in glob.glob(pattern) if not os.path.isdir(p)]
            if not matches:
                raise UsageError(f"no input matches {pattern}")
            found.extend(matches)
        else:
            found.append(pattern)
    unique = list(dict.fromkeys(found))
    return sorted(unique, key=natural_key)


class TornStream(EOFError):
    """A compressed stream that stops before its end: truncated, or followed by bytes that are not another
    member. Everything before ``end`` (a decompressed offset) was read. The block reader fills in the torn
    last line: where it starts (``line_start``) and the bytes of it that were read (``tail``)."""

    def __init__(self, reason: str, end: int) -> None:
        super().__init__(reason)
        self.reason = reason
        self.end = end
        self.line_start = end
        self.tail = b""


class _Prefix:
    """The first ``size`` bytes of ``raw``: a live input is read as far as it was planned, never further."""

    def __init__(self, raw: BinaryIO, size: int) -> None:
        self.raw = raw
        self.left = size

    def read(self, size: int = -1) -> bytes:
        if self.left <= 0:
            return b""
        data = self.raw.read(self.left if size is None or size < 0 else min(size, self.left))
        self.left -= len(data)
        return data

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        self.raw.close()


def _zlib():
    try:
        # ISA-L's inflate is about three times as fast as zlib's (see pyproject.toml).
        from isal import isal_zlib

        return isal_zlib, (isal_zlib.error, zlib.error)
    except ImportError:
        return zlib, (zlib.error,)


class GzipStream:
    """The decompressed bytes of the gzip members of ``raw``, one after another (zero padding between or after
    members is skipped, as gzip does).

    Unlike ``gzip.GzipFile``, a stream that stops early gives every byte it can decompress before it raises:
    truncated inside a member, or followed by bytes that are not a gzip member, the data before the tear is
    returned and the next read raises TornStream naming the decompressed offset. A file that is not gzip from
    its first byte raises ``gzip.BadGzipFile``.
    """

    READ_SIZE = 2**17

    def __init__(self, raw: BinaryIO) -> None:
        self.raw = raw
        self.module, self.errors = _zlib()
        self.decoder = None  # the current member's; None between members
        self.pending = b""  # compressed bytes read from raw, not yet decompressed
        self.position = 0  # decompressed bytes returned so far
        self.torn: TornStream | None = None

    def _tear(self, reason: str) -> None:
        self.torn = TornStream(f"{reason} at decompressed byte {self.position:,}", self.position)

    def _next(self, size: int) -> bytes:
        """Some decompressed bytes (at most ``size``); b"" at the end of the stream or once it is torn."""
        while self.torn is None:
            if not self.pending:
                self.pending = self.raw.read(self.READ_SIZE)
                if not self.pending:
                    if self.decoder is None:
                        return b""
                    rest = self.decoder.flush()
                    self.position += len(rest)
                    self._tear("the gzip stream is truncated: it ends inside a member")
                    return rest
            if self.decoder is None:
                self.pending = self.pending.lstrip(b"\0")
                if not self.pending:
                    continue
                self.decoder = self.module.decompressobj(31)  # 31: a gzip header and trailer
            try:
                out = self.decoder.decompress(self.pending, size)
            except self.errors as error:
                if self.position == 0:
                    raise gzip.BadGzipFile(f"not a gzip file ({error})") from None
                self._tear(f"the gzip stream holds bytes that are not gzip data ({error})")
                return b""
            self.pending = self.decoder.unconsumed_tail
            if self.decoder.eof:
                self.pending = self.decoder.unused_data + self.pending
                self.decoder = None
            if out:
                self.position += len(out)
                return out
        return b""

    def read(self, size: int = -1) -> bytes:
        """Up to ``size`` bytes (all that is left when negative), fewer only at the end or a tear."""
        if self.torn is not None:
            raise self.torn
        size = size if size is not None and size >= 0 else 2**62
        pieces = []
        got = 0
        while got < size:
            out = self._next(min(size - got, 2**24))
            if not out:
                break
            pieces.append(out)
            got += len(out)
        if self.torn is not None and not got:
            raise self.torn
        return b"".join(pieces)

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        self.raw.close()

    def __enter__(self) -> "GzipStream":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _zstandard(path: str):
    """The zstandard module, or UsageError naming ``path`` and the extra that installs it."""
    try:
        import zstandard
    except ImportError:
        raise UsageError(
            f"cannot read {path}: .zst files need the zstandard package: pip install 'zeekflow[zstd]'"
        ) from None
    return zstandard


def check_can_open(path: str) -> None:
    """Raise UsageError now (not on a worker) when a compression's optional package is missing."""
    if compression_of(path) == "zstd":
        _zstandard(path)


def open_input(path: str, size: int | None = None) -> BinaryIO:
    """Open an input for reading its (decompressed) bytes from the start; with ``size``, of its first ``size``
    bytes only (the size planned)."""
    raw = fsspec.open(path, "rb").open()
    if size is not None:
        raw = _Prefix(raw, size)
    compression = compression_of(path)
    try:
        if compression == "gzip":
            return GzipStream(raw)
        if compression == "bz2":
            return bz2.BZ2File(raw, "rb")
        if compression == "zstd":
            return _zstandard(path).ZstdDecompressor().stream_reader(raw, read_across_frames=True, closefd=True)
    except BaseException:
        raw.close()
        raise
    return raw


@dataclass(frozen=True)
class Sniffed:
    """What the first lines of an input say: its format, its log path, and its TSV header if any."""

    format: str  # "json", "tsv" or "zeek-cut"
    log_path: str | None
    header: TsvHeader | None = None
    names: tuple[str, ...] = ()  # zeek-cut output: the column names of its first line


def _read_head(path: str) -> bytes:
    """The first lines of the (decompressed) input: up to SNIFF_BYTES, more while the '#' header goes on."""
    head = b""
    with open_input(path) as f:
        try:
            head = f.read(SNIFF_BYTES)
            while head.startswith(b"#") and len(head) < 64 * SNIFF_BYTES:
                # Stop at the first line that is not part of the header.
                if re.search(rb"\n[^#]", head):
                    break
                more = f.read(SNIFF_BYTES)
                if not more:
                    break
                head += more
        except TornStream:
            pass  # a torn archive is recognised from what it holds; its task rejects the torn end
    return head


def sniff(path: str) -> Sniffed:
    """Recognise an input from its first lines (see the module docstring)."""
    head = _read_head(path)
    header = parse_header(head)
    if header is not None:
        return Sniffed("tsv", header.path, header)
    names = parse_names_line(head)
    if names is not None:
        return Sniffed("zeek-cut", None, names=names)
    log_path = None
    for line in head.split(b"\n")[:-1] or head.split(b"\n"):
        line = line.strip()
        if line.startswith(b"{"):
            try:
                record = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue
            if isinstance(record, dict) and isinstance(record.get("_path"), str):
                log_path = record["_path"]
            break
    return Sniffed("json", log_path)


@dataclass(frozen=True)
class Recognised:
    """The inputs of a run once recognised: log type, which are TSV, and columns only TSV headers know."""

    log_type: str
    tsv_inputs: tuple[str, ...]
    header_columns: dict  # name -> Column, for #fields of TSV inputs that the schema does not know
    cut_headers: tuple[tuple[str, TsvHeader], ...] = ()  # zeek-cut inputs and the header their names give
    schema: object = None  # a LogSchema from the TSV headers when no shipped schema covers the log type
    header_report: tuple[str, ...] = ()  # how the TSV headers differ from the shipped schema they override

    def log_schema(self):
        """The schema the run's columns come from: the TSV headers' own, else the shipped one."""
        from .schema import get_schema

        return self.schema if self.schema is not None else get_schema(self.log_type)


def _unknown_json_type(path: str, kind: str) -> UsageError:
    from .schema import SCHEMAS

    return UsageError(
        f"{path} is a JSON {kind} log, and no schema covers {kind}: its columns cannot be known from its "
        f"records (Zeek leaves unset fields out); give its schema with --schema FILE (a Zeek logschema "
        f"export), convert it as a known type with --log-type TYPE (known: {', '.join(SCHEMAS)}), or convert "
        f"the TSV copy of the log (its header is its schema)"
    )


def recognise(paths: list[str], log_type: str | None, given: dict | None = None,
              zeek_version: str | None = None) -> Recognised:
    """Sniff every input; settle the log type (``log_type`` if given, else detected). Raises UsageError.

    A TSV input whose ``#path`` no shipped schema covers is read by its own header (its ``#fields`` typed by
    its ``#types``); a JSON input whose ``_path`` or file name names such a log type is refused, never read
    as another type. ``zeek_version`` (a shipped one, see ``schema.zeek_version``) picks the shipped schema of
    that Zeek version; None, the newest."""
    from .schema import (SCHEMAS as SHIPPED, Column, LogSchema, header_differences, log_type_from_name,
                         unshipped_log_type_from_name)

    # ``given``: the schemas of a --schema export, which cover their logs in place of the shipped ones.
    SCHEMAS = {**SHIPPED, **(given or {})}
    if log_type is not None and log_type not in SCHEMAS:
        raise UsageError(f"unknown --log-type {log_type!r}; known: {', '.join(SCHEMAS)} "
                         "(a log of another type needs its schema: --schema FILE)")
    detected: dict[str, list[str]] = {}
    tsv_inputs: list[str] = []
    header_columns: dict[str, Column] = {}
    # Per TSV log type that no schema covers: its inputs' columns, in order of first appearance.
    header_only: dict[str, dict[str, Column]] = {}
    cut_names: dict[str, tuple[str, ...]] = {}
    for path in paths:
        check_can_open(path)
        try:
            sniffed = sniff(path)
        except (OSError, EOFError, ValueError) as error:
            raise UsageError(f"cannot read {path}: {error}") from None
        if sniffed.format == "tsv":
            tsv_inputs.append(path)
            header = sniffed.header
            own = header_only.setdefault(header.path, {}) if header.path and header.path not in SCHEMAS else {}
            for name, zeek_type in zip(header.fields, header.types):
                try:
                    Column(name, zeek_type).kind
                except ValueError:
                    continue  # a type we cannot render: not selectable
                header_columns.setdefault(name, Column(name, zeek_type))
                own.setdefault(name, Column(name, zeek_type))
        if sniffed.format == "zeek-cut":
            cut_names[path] = sniffed.names
        if sniffed.log_path in SCHEMAS or (sniffed.format == "tsv" and sniffed.log_path):
            kind = sniffed.log_path
        elif sniffed.format == "json" and log_type is None and sniffed.log_path:
            raise _unknown_json_type(path, sniffed.log_path)
        else:
            unshipped = unshipped_log_type_from_name(path)
            if unshipped is not None and unshipped not in SCHEMAS and sniffed.format == "json" and log_type is None:
                raise _unknown_json_type(path, unshipped)
            kind = unshipped if unshipped in SCHEMAS else None if unshipped else log_type_from_name(path)
        if kind is not None:
            detected.setdefault(kind, []).append(path)
    if log_type is None:
        if len(detected) > 1:
            found = "; ".join(f"{kind} ({', '.join(p)})" for kind, p in detected.items())
            raise UsageError(f"the inputs hold different log types: {found}; convert each type separately "
                             "or force one with --log-type")
        # Inputs that say nothing of their type follow the others; conn when none says (the original default).
        log_type = next(iter(detected), DEFAULT_LOG_TYPE)
    schema = (given or {}).get(log_type)
    if schema is None and zeek_version is not None and log_type in SHIPPED:
        try:
            schema = SHIPPED[log_type].for_version(zeek_version)
        except ValueError as error:
            raise UsageError(f"--zeek-version {zeek_version}: {error}") from None
    if log_type not in SCHEMAS:
        if len(tsv_inputs) != len(paths):
            others = [p for p in paths if p not in tsv_inputs]
            raise _unknown_json_type(others[0], log_type)
        schema = LogSchema(name=log_type, columns=tuple(header_only[log_type].values()),
                           source="the #fields and #types of the inputs' TSV headers")
        return Recognised(log_type, tuple(tsv_inputs), header_columns, (), schema)
    report: list[str] = []
    if (schema is None or schema.history is not None) and header_columns and len(tsv_inputs) == len(paths):
        # TSV only: the headers are the schema (a Zeek version's own columns and types win over the shipped
        # ones, and the run says where they differ); the shipped columns the headers lack stay selectable
        # with --columns.
        shipped = schema or SHIPPED[log_type]
        report = header_differences(shipped, header_columns)
        schema = LogSchema(
            name=log_type, columns=tuple(header_columns.values()),
            optional=tuple(c for c in shipped.columns + shipped.optional if c.name not in header_columns),
            source="the #fields and #types of the inputs' TSV headers",
        )
    known = (schema or SHIPPED[log_type]).known()
    return Recognised(log_type, tuple(tsv_inputs), header_columns, _cut_headers(cut_names, known), schema,
                      tuple(report))


def _cut_headers(cut_names: dict[str, tuple[str, ...]], known: dict) -> tuple[tuple[str, TsvHeader], ...]:
    """zeek-cut output names its columns but not their types: they come from the log type's schema, and the
    markers are Zeek's defaults (zeek-cut copies fields as Zeek wrote them). A first line naming a column the
    schema does not know is not taken for zeek-cut output: the file is then read as NDJSON (and rejected)."""
    headers = []
    for path, names in cut_names.items():
        if not all(n in known for n in names):
            continue
        types = tuple(known[n].zeek_type for n in names)
        headers.append((path, TsvHeader(separator=b"\t", fields=names, types=types)))
    return tuple(headers)
