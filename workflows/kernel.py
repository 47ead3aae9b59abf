"""The Python face of the native kernel (``_kernel.c``): which path converts, and the splice of declined lines.

The kernel settles the lines it is certain of and declines the rest (a line the reference would reject, an
ISO 8601 time, a number it cannot write with certainty...); each declined line is converted by the Python
reference and its row spliced in where the kernel says it belongs, so the bytes are the reference's whatever
the mix. Where the extension was not built (no C compiler at install time) or ``ZEEKFLOW_KERNEL=python`` is
set, every block takes the Python path; ``kernel_name()`` says which, for the summary.

``ZEEKFLOW_KERNEL_LIB=/path/_kernel.so`` loads another build of the same source (the sanitizer build of the
tests).
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
from collections import Counter
from typing import Callable, Sequence

from .records import BlockResult
from .schema import Column, Kind

# A block where more of its lines are declined than this is converted by the reference whole: per-line
# splicing would cost more than it saves.
MAX_DECLINED_SHARE = 8
_HASH = ord("#")
_KIND_CODES = {Kind.NUMBER: "n", Kind.TIME: "t", Kind.BOOL: "b", Kind.STRING: "s"}


def _load():
    if os.environ.get("ZEEKFLOW_KERNEL", "").lower() == "python":
        return None
    path = os.environ.get("ZEEKFLOW_KERNEL_LIB")
    if path:
        loader = importlib.machinery.ExtensionFileLoader("workflows._kernel", path)
        spec = importlib.util.spec_from_file_location("workflows._kernel", path, loader=loader)
        module = importlib.util.module_from_spec(spec)
        loader.exec_module(module)
        return module
    try:
        from . import _kernel
    except ImportError:
        return None
    return _kernel


_native = _load()


def kernel_name() -> str:
    """``native`` when the C kernel converts blocks, ``python`` when every block takes the Python path."""
    return "native" if _native is not None else "python"


def _kind_code(column: Column) -> tuple[str, int] | None:
    """The kernel's code for a column's values and an unsigned type's largest value; None when the kernel
    does not know the type's rule (a range that is neither unsigned nor int64)."""
    rules = column.scalar
    if rules.kind is Kind.INTEGER:
        if rules.low == 0:
            return "u", rules.high
        if (rules.low, rules.high) == (-(2**63), 2**63 - 1):
            return "i", 0
        return None
    return _KIND_CODES[rules.kind], 0


def _plan_entry(column: Column) -> tuple[bytes, str, bool, int]:
    code = _kind_code(column)
    if code is None:
        raise ValueError(f"the native kernel has no rule for {column.zeek_type}")
    return column.name.encode("utf-8"), code[0], column.kind is Kind.LIST, code[1]


def _splice(scanned: tuple, block: bytes, base_offset: int, reference: Callable[[bytes, int], object]):
    """The BlockResult of a block the kernel scanned, each declined line converted by ``reference(line,
    offset)`` and its row spliced in where the kernel says; None when so many lines were declined that the
    caller should convert the whole block the reference way."""
    csv, declined, lines, rows, blank, dropped = scanned
    result = BlockResult(csv=csv, lines=lines, rows=rows, blank=blank, dropped_fields=Counter(dropped))
    if not declined:
        return result
    if len(declined) > max(16, lines // MAX_DECLINED_SHARE):
        return None
    pieces, rejects = [], []
    done = 0
    for _, start, end, csv_at in declined:
        pieces.append(csv[done:csv_at])
        done = csv_at
        line = reference(block[start:end], base_offset + start)
        pieces.append(line.csv)
        if line.rejects:
            rejects.append(line.rejects)
        result.rows += line.rows
        result.rejected += line.rejected
        result.blank += line.blank
        result.dropped_fields.update(line.dropped_fields)
    pieces.append(csv[done:])
    result.csv = b"".join(pieces)
    result.rejects = b"".join(rejects)
    return result


class NativeBlocks:
    """Converts NDJSON blocks for one list of output columns with the kernel, splicing in the reference's
    conversion of each declined line."""

    def __init__(self, columns: Sequence[Column]) -> None:
        self._plan = _native.plan([_plan_entry(column) for column in columns])

    def convert(self, block: bytes, base_offset: int, reference: Callable[[bytes, int], object]):
        """The BlockResult of ``block`` (see _splice); ``reference(line, offset)`` converts a declined line."""
        return _splice(_native.convert_ndjson(self._plan, block), block, base_offset, reference)


class NativeTsvBlocks:
    """Converts the data lines of a Zeek TSV log under one header with the kernel."""

    def __init__(self, columns: Sequence[Column], fields: Sequence[Column], separator: bytes, set_separator: bytes,
                 empty: bytes, unset: bytes) -> None:
        """``fields``: the header's ``#fields`` typed by its ``#types``. A field that is an output column must
        have that column's kind (its text is parsed by the header's type and checked by the column's); the
        others are validated by their own type and counted as dropped."""
        positions = {column.name: position for position, column in enumerate(columns)}
        if not separator or len(positions) != len(columns) or len({f.name for f in fields}) != len(fields):
            raise ValueError("the native kernel needs a separator and distinct names")
        plan = []
        for field in fields:
            position = positions.get(field.name, -1)
            if position < 0:
                # Not checked against any range by the reference: the widest rule of its kind.
                rules = field.scalar
                code = ("i", 0) if rules.kind is Kind.INTEGER else _kind_code(field)
                plan.append((field.name.encode("utf-8"), code[0], field.kind is Kind.LIST, code[1], -1))
                continue
            column = columns[position]
            if (column.kind, column.element_kind) != (field.kind, field.element_kind):
                raise ValueError(f"{field.name} is {field.zeek_type} in the header and {column.zeek_type} in the output")
            plan.append((*_plan_entry(column), position))
        self._plan = _native.tsv_plan(len(columns), plan, separator, set_separator, empty, unset)

    def convert(self, block: bytes, base_offset: int, reference: Callable[[bytes, int], object]):
        return _splice(_native.convert_tsv(self._plan, block), block, base_offset, reference)

    def convert_data(self, block: bytes, base_offset: int, reference: Callable[[bytes, int], object]):
        """As ``convert`` for a block that may hold header lines (``#...``, which the kernel declines):
        ``(holds_header, result)``; when it holds one, nothing is converted (the lines after it are under
        another header), and the caller splits the block at its header lines."""
        scanned = _native.convert_tsv(self._plan, block)
        if any(block[start] == _HASH for _, start, _, _ in scanned[1]):
            return True, None
        return False, _splice(scanned, block, base_offset, reference)


def native_tsv_blocks(columns: Sequence[Column], fields: Sequence[Column], separator: bytes, set_separator: bytes,
                      empty: bytes, unset: bytes) -> NativeTsvBlocks | None:
    """The kernel's converter for TSV data lines under one header, or None where the Python path must convert."""
    if _native is None:
        return None
    try:
        return NativeTsvBlocks(columns, fields, separator, set_separator, empty, unset)
    except ValueError:
        return None


def native_blocks(columns: Sequence[Column]) -> NativeBlocks | None:
    """The kernel's converter for ``columns``, or None where the Python path must convert (no kernel, a lone
    column, whose empty field is quoted, or a type the kernel has no rule for)."""
    if _native is None or len(columns) < 2:
        return None
    try:
        return NativeBlocks(columns)
    except ValueError:
        return None
