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


def _open_gzip(raw: BinaryIO) -> BinaryIO:
    try:
        # ISA-L's gzip decompresses about three times as fast as zlib (see pyproject.toml).
        from isal import igzip
    except ImportError:
        return gzip.GzipFile(fileobj=raw, mode="rb")
    return igzip.IGzipFile(fileobj=raw, mode="rb")


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


def open_input(path: str) -> BinaryIO:
    """Open an input for reading its (decompressed) bytes from the start."""
    raw = fsspec.open(path, "rb").open()
    compression = compression_of(path)
    try:
        if compression == "gzip":
            return _open_gzip(raw)
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
    with open_input(path) as f:
        head = f.read(SNIFF_BYTES)
        while head.startswith(b"#") and len(head) < 64 * SNIFF_BYTES:
            # Stop at the first line that is not part of the header.
            if re.search(rb"\n[^#]", head):
                break
            more = f.read(SNIFF_BYTES)
            if not more:
                break
            head += more
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


def recognise(paths: list[str], log_type: str | None) -> Recognised:
    """Sniff every input; settle the log type (``log_type`` if given, else detected). Raises UsageError."""
    from .schema import SCHEMAS, Column, log_type_from_name

    if log_type is not None and log_type not in SCHEMAS:
        raise UsageError(f"unknown --log-type {log_type!r}; known: {', '.join(SCHEMAS)}")
    detected: dict[str, list[str]] = {}
    tsv_inputs: list[str] = []
    header_columns: dict[str, Column] = {}
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
            for name, zeek_type in zip(header.fields, header.types):
                try:
                    header_columns.setdefault(name, Column(name, zeek_type))
                    header_columns[name].kind
                except ValueError:
                    header_columns.pop(name, None)  # a type we cannot render: not selectable
        if sniffed.format == "zeek-cut":
            cut_names[path] = sniffed.names
        kind = sniffed.log_path if sniffed.log_path in SCHEMAS else log_type_from_name(path)
        if kind is not None:
            detected.setdefault(kind, []).append(path)
    if log_type is None:
        if len(detected) > 1:
            found = "; ".join(f"{kind} ({', '.join(p)})" for kind, p in detected.items())
            raise UsageError(f"the inputs hold different log types: {found}; convert each type separately "
                             "or force one with --log-type")
        # Inputs that say nothing of their type follow the others; conn when none says (the original default).
        log_type = next(iter(detected), DEFAULT_LOG_TYPE)
    return Recognised(log_type, tuple(tsv_inputs), header_columns, _cut_headers(cut_names, log_type))


def _cut_headers(cut_names: dict[str, tuple[str, ...]], log_type: str) -> tuple[tuple[str, TsvHeader], ...]:
    """zeek-cut output names its columns but not their types: they come from the log type's schema, and the
    markers are Zeek's defaults (zeek-cut copies fields as Zeek wrote them). A first line naming a column the
    schema does not know is not taken for zeek-cut output: the file is then read as NDJSON (and rejected)."""
    from .schema import get_schema

    known = get_schema(log_type).known()
    headers = []
    for path, names in cut_names.items():
        if not all(n in known for n in names):
            continue
        types = tuple(known[n].zeek_type for n in names)
        headers.append((path, TsvHeader(separator=b"\t", fields=names, types=types)))
    return tuple(headers)
