"""Zeek log schemas as data: column names and Zeek types per Zeek version, never inferred from records.

Zeek leaves unset optional fields out of a JSON record, so the first record of a log says nothing reliable
about the columns; the column list and each column's type come from a table instead: ``zeek_logs.json``, read
from Zeek's own scripts (``scripts/base`` and ``scripts/policy``) at every release tag from 3.0 on. Each column
says the versions that write it, so one table gives any version's columns in that version's order.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass, field
from importlib import resources

from .types import Kind, ZeekType, element_type, kind_of, scalar_type

__all__ = ["Column", "Kind", "LogHistory", "LogSchema", "SCHEMAS", "VERSIONS", "element_type", "get_schema",
           "kind_of", "zeek_version"]


@dataclass(frozen=True)
class Column:
    """One output column: its name as Zeek writes it and its Zeek type (``count``, ``set[string]``...)."""

    name: str
    zeek_type: str

    # Cached: the checks of sets and vectors ask for them once a value.
    @functools.cached_property
    def kind(self) -> Kind:
        return kind_of(self.zeek_type)

    @functools.cached_property
    def element_kind(self) -> Kind | None:
        """The kind of a set's or vector's elements; None for scalar columns."""
        if self.kind is not Kind.LIST:
            return None
        return kind_of(element_type(self.zeek_type))

    @functools.cached_property
    def scalar(self) -> ZeekType:
        """The rules of the column's values: its own type, or a set's or vector's element type."""
        return scalar_type(element_type(self.zeek_type) or self.zeek_type)


@dataclass(frozen=True)
class LogSchema:
    """A log type: default columns in Zeek's order, plus optional columns that policy scripts add (and, for a
    shipped type, the columns other Zeek versions write). ``version``: the Zeek version of a shipped schema."""

    name: str
    columns: tuple[Column, ...]
    optional: tuple[Column, ...] = ()
    source: str = ""
    version: str | None = None
    history: LogHistory | None = field(default=None, compare=False, repr=False)

    def for_version(self, version: str | None) -> LogSchema:
        """This log type's shipped schema for a Zeek version (see ``zeek_version``). ValueError when the version
        does not write the log, or for a schema that is no shipped one (a TSV header's, an export's)."""
        if self.history is None:
            raise ValueError(f"the {self.name} schema ({self.source}) is not versioned")
        return self.history.for_version(version)

    def known(self) -> dict[str, Column]:
        """Every column a user may ask for by name: extensions, defaults and optional columns."""
        known = {c.name: c for c in LOG_EXTENSIONS}
        known.update((c.name, c) for c in self.columns)
        known.update((c.name, c) for c in self.optional)
        return known

    def select(self, names: list[str] | None, extra: dict[str, Column] | None = None) -> tuple[Column, ...]:
        """The output columns for ``--columns`` (None means the default columns). ``extra`` adds columns
        that the inputs' own headers declare (TSV ``#fields``/``#types``), for names the schema lacks."""
        if names is None:
            return self.columns
        known = {**(extra or {}), **self.known()}
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


@dataclass(frozen=True)
class Span:
    """A column of a shipped log type and the Zeek versions that write it (``since``/``until`` inclusive; None:
    from the log's first shipped version, or to its last). ``since="dev"``: only Zeek's development branch."""

    column: Column
    since: str | None = None
    until: str | None = None
    script: str = ""  # the policy script that adds an optional column

    def covers(self, version: str) -> bool:
        if self.since == "dev":
            return False
        at = VERSIONS.index(version)
        return (self.since is None or VERSIONS.index(self.since) <= at) and (
            self.until is None or at <= VERSIONS.index(self.until))


@dataclass(frozen=True)
class LogHistory:
    """A log type across Zeek versions: every column any version wrote, in an order that holds for each."""

    name: str
    source: str
    columns: tuple[Span, ...]  # default columns (written by the scripts Zeek loads by default)
    optional: tuple[Span, ...]  # added by policy scripts, or kept out by a default log filter
    since: str | None = None  # the first and last versions that write the log; None: the oldest, the newest
    until: str | None = None

    def versions(self) -> tuple[str, ...]:
        first = VERSIONS.index(self.since) if self.since else 0
        last = VERSIONS.index(self.until) if self.until else len(VERSIONS) - 1
        return VERSIONS[first:last + 1]

    def for_version(self, version: str | None = None) -> LogSchema:
        """The schema of one Zeek version (None: the newest that writes the log): its default columns in its
        order; optional are its policy-script columns, then the columns only other versions write."""
        versions = self.versions()
        version = versions[-1] if version is None else version
        if version not in versions:
            raise ValueError(f"Zeek {version} writes no {self.name} log (Zeek {_range(versions)} do)")
        columns = tuple(s.column for s in self.columns if s.covers(version))
        taken = {c.name for c in columns}
        optional = []
        for span in [s for s in self.optional if s.covers(version)] + [
                s for s in self.optional + self.columns if not s.covers(version)]:
            if span.column.name not in taken:
                taken.add(span.column.name)
                optional.append(span.column)
        return LogSchema(self.name, columns, tuple(optional), f"{self.source} (Zeek {version})", version, self)

    def default_in(self, name: str) -> tuple[str, ...]:
        """The versions whose default columns include ``name``."""
        return tuple(v for v in self.versions() for s in self.columns if s.column.name == name and s.covers(v))


def _range(versions: tuple[str, ...]) -> str:
    return versions[0] if len(versions) == 1 else f"{versions[0]} - {versions[-1]}"


def _load_histories() -> tuple[tuple[str, ...], dict[str, LogHistory]]:
    """The shipped table (``zeek_logs.json``, read once): every log of Zeek's base/ and policy/ scripts, with
    the release versions whose scripts it was read from."""
    table = json.loads(resources.files(__package__).joinpath("zeek_logs.json").read_text(encoding="utf-8"))

    def spans(items: list[dict]) -> tuple[Span, ...]:
        return tuple(Span(Column(i["name"], i["type"]), i.get("since"), i.get("until"), i.get("script", ""))
                     for i in items)

    histories = {
        name: LogHistory(name, log["source"], spans(log["columns"]), spans(log["optional"]), log.get("since"),
                         log.get("until"))
        for name, log in table["logs"].items()
    }
    return tuple(table["versions"]), histories


VERSIONS, HISTORIES = _load_histories()
NEWEST_VERSION = VERSIONS[-1]
_VERSION = re.compile(r"v?(\d+)(?:\.(\d+))?(?:\.\d+)?(?:[-+].*)?")


def zeek_version(text: str) -> str:
    """``"4.2"``, ``"4.2.1"``, ``"v8.0.0"``: the shipped version it names; a major alone (``"6"``) is its newest
    minor (``"6.2"``). ValueError for a version no shipped table covers."""
    match = _VERSION.fullmatch(text.strip())
    if match:
        major, minor = match.groups()
        if minor is None:
            minors = [v for v in VERSIONS if v.split(".")[0] == major]
            if minors:
                return minors[-1]
        elif f"{int(major)}.{int(minor)}" in VERSIONS:
            return f"{int(major)}.{int(minor)}"
    raise ValueError(f"unknown --zeek-version {text!r}: the shipped schemas are those of Zeek "
                     f"{', '.join(VERSIONS)} (a major version alone, e.g. 6, means its newest minor)")


def version_hints(schema: LogSchema, dropped: list[str]) -> list[str]:
    """For dropped keys that are default columns of the log type in other Zeek versions: one line per group of
    versions, naming the option that keeps them."""
    history = schema.history
    if history is None:
        return []
    groups: dict[tuple[str, ...], list[str]] = {}
    for name in dropped:
        versions = history.default_in(name)
        if versions and schema.version not in versions:
            groups.setdefault(versions, []).append(name)
    return [f"{', '.join(names)}: {history.name} column{'s' if len(names) > 1 else ''} of Zeek "
            f"{_range(versions)}; keep {'them' if len(names) > 1 else 'it'} with --zeek-version {versions[-1]} "
            "or --columns" for versions, names in groups.items()]


def header_differences(shipped: LogSchema, header: dict[str, Column]) -> list[str]:
    """How TSV headers' columns (``#fields`` typed by ``#types``) differ from a shipped schema, which the
    headers override: the Zeek versions whose default columns they are, the columns the schema lacks or
    has besides, and the types they give otherwise. Empty when they are the schema's columns."""
    names = [c.name for c in shipped.columns]
    if list(header) == names and all(header[c.name].zeek_type == c.zeek_type for c in shipped.columns):
        return []
    versions = f"Zeek {shipped.version}" if shipped.version else "the shipped schema"
    known = shipped.known()
    report = []
    history = shipped.history
    if history is not None:
        matching = tuple(v for v in history.versions() if [c.name for c in history.for_version(v).columns] == list(header))
        if matching:
            report.append(f"the {shipped.name} headers are the columns of Zeek {_range(matching)}")
    extra = [n for n in header if n not in names]
    if extra:
        report.append(f"kept from the headers, not {versions}'s default {shipped.name} columns: {', '.join(extra)}")
    missing = [n for n in names if n not in header]
    if missing:
        report.append(f"{versions}'s {shipped.name} columns not in the headers (--columns may name them): "
                      f"{', '.join(missing)}")
    retyped = [f"{n} {c.zeek_type} (not {known[n].zeek_type})" for n, c in header.items()
               if n in known and known[n].zeek_type != c.zeek_type]
    if retyped:
        report.append(f"typed by the headers where {versions} differs: {', '.join(retyped)}")
    return report


SCHEMAS: dict[str, LogSchema] = {name: history.for_version() for name, history in HISTORIES.items()}
# The names other modules and tests know the most used schemas by.
CONN, DNS, HTTP, SSL, FILES, X509 = (SCHEMAS[n] for n in ("conn", "dns", "http", "ssl", "files", "x509"))


def get_schema(log_type: str) -> LogSchema:
    try:
        return SCHEMAS[log_type]
    except KeyError:
        raise ValueError(f"unknown log type {log_type!r}; known: {', '.join(SCHEMAS)}") from None


_NAME_TOKENS = re.compile(r"[^A-Za-z0-9]+")


def _announced(path: str) -> str | None:
    """The log type a file name announces, shipped or not: the first of its words that names one
    (``smb_files``, ``ntp_control``), else the first part of a word (``smb``, ``files``) that does."""
    name = path.replace("\\", "/").rsplit("/", 1)[-1]
    words, parts = _WORDS.split(name), _NAME_TOKENS.split(name)
    return (next((w for w in words if w in SCHEMAS or w in UNSHIPPED_LOG_TYPES), None)
            or next((p for p in parts if p in SCHEMAS), None)
            or next((p for p in parts if p in UNSHIPPED_LOG_TYPES), None))


def log_type_from_name(path: str) -> str | None:
    """The shipped log type a file name announces (``conn.log``, ``smb_files.00:00:00-01:00:00.log.gz``,
    ``sdft_002_portscan_conn.ndjson``); None when it announces none, or one that no schema covers."""
    announced = _announced(path)
    return announced if announced in SCHEMAS else None


# Log names that no shipped schema covers: logs of Zeek's development branch (no release writes them yet), the
# cluster management framework's log (its columns are built at run time), and a name that packages write. A
# JSON input named after one is refused rather than read as the type a part of its name names (ntp_control: ntp).
UNSHIPPED_LOG_TYPES = frozenset(
    "conn_summary management multicast_participants ntp_control ntp_private".split()
)


def unshipped_log_type_from_name(path: str) -> str | None:
    """The log type a file name announces (``ntp_control.log``) when no schema covers it; None when the name
    announces none, or a shipped one."""
    announced = _announced(path)
    return announced if announced in UNSHIPPED_LOG_TYPES else None


_WORDS = re.compile(r"[^A-Za-z0-9_]+")
