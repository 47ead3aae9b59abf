"""The one table of Zeek types: what each accepts, its range, and how each output represents it.

Every path that checks or types a value reads its rule here: the reference renderer and the fast path (which
JSON values fit, the range of an integer or a time), the native kernel (its kind codes and integer ranges are
passed from this table), TSV (how a field's text parses), Parquet (the Arrow type) and the explore reader (the
pandas dtype). So CSV and Parquet reject exactly the same lines, whatever path converts them.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, Callable


class Kind(enum.Enum):
    """How a Zeek type is validated and rendered."""

    INTEGER = "integer"  # count, port, int
    NUMBER = "number"  # interval, double
    TIME = "time"  # epoch number or ISO 8601 string
    BOOL = "bool"
    STRING = "string"  # string, addr, enum, subnet, pattern
    LIST = "list"  # set[...], vector[...]


_NONE = type(None)
# The JSON types (as orjson decodes them) each kind takes; an explicit null fits every column.
JSON_TYPES: dict[Kind, frozenset[type]] = {
    Kind.INTEGER: frozenset({int, _NONE}),
    Kind.NUMBER: frozenset({int, float, _NONE}),
    Kind.TIME: frozenset({int, float, str, _NONE}),  # a string must be ISO 8601
    Kind.BOOL: frozenset({bool, _NONE}),
    Kind.STRING: frozenset({str, _NONE}),
    Kind.LIST: frozenset({list, _NONE}),
}

_TSV_BOOLS = {b"T": True, b"F": False}


@dataclass(frozen=True)
class ZeekType:
    """One scalar Zeek type's rules. ``low``/``high`` bound an integer type (both inclusive)."""

    name: str
    kind: Kind
    arrow: str  # the pyarrow type factory (see arrow_type)
    pandas: str  # the nullable pandas dtype the explore reader uses
    low: int | None = None
    high: int | None = None

    def fits_range(self, value: int) -> bool:
        return self.low is None or self.low <= value <= self.high

    @property
    def tsv_parser(self) -> Callable[[bytes], Any] | None:
        """How a TSV field (already known not to be a marker) becomes a value; None for text types, which
        TSV decodes with its escapes."""
        if self.kind is Kind.INTEGER:
            return int
        if self.kind in (Kind.NUMBER, Kind.TIME):
            return float
        if self.kind is Kind.BOOL:
            return _TSV_BOOLS.__getitem__
        return None

    def arrow_type(self):
        import pyarrow as pa

        if self.arrow == "timestamp":
            return pa.timestamp("us", tz="UTC")
        return getattr(pa, self.arrow)()


def _text(name: str) -> ZeekType:
    return ZeekType(name, Kind.STRING, "string", "string")


TYPES: dict[str, ZeekType] = {
    t.name: t
    for t in (
        ZeekType("count", Kind.INTEGER, "uint64", "UInt64", 0, 2**64 - 1),
        ZeekType("port", Kind.INTEGER, "uint16", "UInt16", 0, 2**16 - 1),
        ZeekType("int", Kind.INTEGER, "int64", "Int64", -(2**63), 2**63 - 1),
        ZeekType("interval", Kind.NUMBER, "float64", "float64"),
        ZeekType("double", Kind.NUMBER, "float64", "float64"),
        # Epoch numbers or ISO 8601 strings in a CSV: the explore reader converts them per partition.
        ZeekType("time", Kind.TIME, "timestamp", "string"),
        ZeekType("bool", Kind.BOOL, "bool_", "boolean"),
        *map(_text, ("string", "addr", "enum", "subnet", "pattern")),
    )
}


def element_type(zeek_type: str) -> str | None:
    """The element type of a container type (``string`` for ``set[string]``); None for a scalar type."""
    if zeek_type.startswith(("set[", "vector[", "table[")) and zeek_type.endswith("]"):
        return zeek_type[zeek_type.index("[") + 1 : -1]
    return None


def scalar_type(zeek_type: str) -> ZeekType:
    """The rules of a scalar Zeek type; ValueError names an unknown one."""
    try:
        return TYPES[zeek_type]
    except KeyError:
        raise ValueError(f"unknown Zeek type {zeek_type!r}") from None


def kind_of(zeek_type: str) -> Kind:
    """Map a Zeek type name to its kind; containers of scalars are LIST."""
    inner = element_type(zeek_type)
    if inner is not None:
        if element_type(inner) is not None:
            raise ValueError(f"nested container type {zeek_type!r} is not supported")
        scalar_type(inner)
        return Kind.LIST
    return scalar_type(zeek_type).kind
