"""Zeek log schemas as data: column names and Zeek types, never inferred from records.

Zeek leaves unset optional fields out of a JSON record, so the first record of a log says nothing reliable
about the columns; the column list and each column's type come from this table instead.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Kind(enum.Enum):
    """How a Zeek type is validated and rendered."""

    INTEGER = "integer"  # count, port, int
    NUMBER = "number"  # interval, double
    TIME = "time"  # epoch number or ISO 8601 string
    BOOL = "bool"
    STRING = "string"  # string, addr, enum, subnet, pattern
    LIST = "list"  # set[...], vector[...]


_SCALAR_KINDS = {
    "count": Kind.INTEGER,
    "port": Kind.INTEGER,
    "int": Kind.INTEGER,
    "interval": Kind.NUMBER,
    "double": Kind.NUMBER,
    "time": Kind.TIME,
    "bool": Kind.BOOL,
    "string": Kind.STRING,
    "addr": Kind.STRING,
    "enum": Kind.STRING,
    "subnet": Kind.STRING,
    "pattern": Kind.STRING,
}


@dataclass(frozen=True)
class Column:
    """One output column: its name as Zeek writes it and its Zeek type (``count``, ``set[string]``...)."""

    name: str
    zeek_type: str

    @property
    def kind(self) -> Kind:
        return kind_of(self.zeek_type)

    @property
    def element_kind(self) -> Kind | None:
        """The kind of a set's or vector's elements; None for scalar columns."""
        if self.kind is not Kind.LIST:
            return None
        return kind_of(self.zeek_type[self.zeek_type.index("[") + 1 : -1])


def kind_of(zeek_type: str) -> Kind:
    """Map a Zeek type name to its kind; containers of scalars are LIST."""
    if zeek_type.startswith(("set[", "vector[", "table[")) and zeek_type.endswith("]"):
        inner = zeek_type[zeek_type.index("[") + 1 : -1]
        if kind_of(inner) is Kind.LIST:
            raise ValueError(f"nested container type {zeek_type!r} is not supported")
        return Kind.LIST
    try:
        return _SCALAR_KINDS[zeek_type]
    except KeyError:
        raise ValueError(f"unknown Zeek type {zeek_type!r}") from None


@dataclass(frozen=True)
class LogSchema:
    """A log type: default columns in Zeek's order, plus optional columns that policy scripts add."""

    name: str
    columns: tuple[Column, ...]
    optional: tuple[Column, ...] = ()
    source: str = ""

    def known(self) -> dict[str, Column]:
        """Every column a user may ask for by name: extensions, defaults and optional columns."""
        known = {c.name: c for c in LOG_EXTENSIONS}
        known.update((c.name, c) for c in self.columns)
        known.update((c.name, c) for c in self.optional)
        return known

    def select(self, names: list[str] | None) -> tuple[Column, ...]:
        """The output columns for ``--columns`` (None means the default columns)."""
        if names is None:
            return self.columns
        known = self.known()
        unknown = [n for n in names if n not in known]
        if unknown:
            raise ValueError(
                f"unknown column(s) for {self.name} log: {', '.join(unknown)}; "
                f"known columns: {', '.join(known)}"
            )
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise ValueError(f"column(s) named more than once: {', '.join(duplicated)}")
        if not names:
            raise ValueError("--columns needs at least one column")
        return tuple(known[n] for n in names)


def _cols(spec: str) -> tuple[Column, ...]:
    """Parse ``"name:type name:type ..."`` (types may contain no spaces)."""
    return tuple(Column(*item.split(":", 1)) for item in spec.split())


# Keys that Zeek's log extension mechanism (and corelight/json-streaming-logs) put before ``ts``.
LOG_EXTENSIONS = _cols("_path:string _write_ts:time _node_name:string _system_name:string")

CONN = LogSchema(
    name="conn",
    source="zeek/scripts/base/protocols/conn/main.zeek (Zeek 6.0 - 8.x); ip_proto since 7.1",
    columns=_cols(
        """
        ts:time uid:string id.orig_h:addr id.orig_p:port id.resp_h:addr id.resp_p:port proto:enum
        service:string duration:interval orig_bytes:count resp_bytes:count conn_state:string
        local_orig:bool local_resp:bool missed_bytes:count history:string orig_pkts:count
        orig_ip_bytes:count resp_pkts:count resp_ip_bytes:count tunnel_parents:set[string] ip_proto:count
        """
    ),
    optional=_cols(
        """
        id.ctx.vlan:int id.ctx.inner_vlan:int orig_l2_addr:string resp_l2_addr:string vlan:int
        inner_vlan:int speculative_service:string community_id:string ip_proto_name:string
        failed_service:set[string] pppoe_session_id:count
        """
    ),
)

SCHEMAS: dict[str, LogSchema] = {"conn": CONN}


def get_schema(log_type: str) -> LogSchema:
    try:
        return SCHEMAS[log_type]
    except KeyError:
        raise ValueError(f"unknown log type {log_type!r}; known: {', '.join(SCHEMAS)}") from None
