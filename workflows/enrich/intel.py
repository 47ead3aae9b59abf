"""Threat-intel matches: indicators read from a file in Zeek's Intel framework input format.

The file is Zeek's own: tab-separated, a ``#fields`` line naming at least ``indicator`` and
``indicator_type`` (and usually ``meta.source``), ``#`` lines as comments, ``-`` for an unset field. A log's
row matches an indicator when one of its fields holds it: addresses (``Intel::ADDR``, or inside an
``Intel::SUBNET``) against ``id.orig_h``/``id.resp_h``; ``Intel::DOMAIN`` against dns ``query``, http
``host`` and ssl ``server_name`` (case-insensitive, exact); ``Intel::URL`` against http ``host`` + ``uri``
(written without the scheme, as Zeek's intel scripts match it); ``Intel::FILE_HASH`` against files ``md5``,
``sha1`` and ``sha256``. Indicators of other types are read and never match.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field
from functools import lru_cache
from ..errors import UsageError

# The fields of each log type that are looked up, by the kind of indicator they can hold.
ADDRESS_FIELDS = ("id.orig_h", "id.resp_h")
DOMAIN_FIELDS = {"dns": ("query",), "http": ("host",), "ssl": ("server_name",)}
HASH_FIELDS = {"files": ("md5", "sha1", "sha256")}
URL_LOGS = ("http",)
LOOKUP_CACHE = 2**16


@dataclass
class IntelTable:
    """The indicators of one intel file, indexed for lookups: indicator -> its sources (in file order)."""

    addresses: dict[str, tuple[str, ...]] = field(default_factory=dict)
    subnets: dict[int, dict[int, list[tuple[str, str]]]] = field(default_factory=dict)  # prefix -> network -> (ind, src)
    subnets6: dict[int, dict[int, list[tuple[str, str]]]] = field(default_factory=dict)
    domains: dict[str, tuple[tuple[str, str], ...]] = field(default_factory=dict)
    urls: dict[str, tuple[tuple[str, str], ...]] = field(default_factory=dict)
    hashes: dict[str, tuple[tuple[str, str], ...]] = field(default_factory=dict)
    count: int = 0

    def address_matches(self, address: str) -> list[tuple[str, str]]:
        """(indicator, source) pairs of an address: its ADDR indicators, then every SUBNET holding it."""
        matches = [(address, source) for source in self.addresses.get(address, ())]
        if self.subnets or self.subnets6:
            try:
                parsed = ipaddress.ip_address(address)
            except ValueError:
                return matches
            table = self.subnets if parsed.version == 4 else self.subnets6
            bits = 32 if parsed.version == 4 else 128
            number = int(parsed)
            for prefix in sorted(table):
                network = number >> (bits - prefix) << (bits - prefix) if prefix else 0
                matches.extend(table[prefix].get(network, ()))
        return matches


def _normal_address(text: str) -> str | None:
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


def read_intel(path: str) -> IntelTable:
    """Read an intel file. Raises UsageError for a missing or unreadable file or one with no ``#fields``
    line naming ``indicator`` and ``indicator_type``."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise UsageError(f"--intel {path} does not exist") from None
    except IsADirectoryError:
        raise UsageError(f"--intel {path} is a directory, not an intel file") from None
    except OSError as error:
        raise UsageError(f"--intel {path} is not readable: {error.strerror or error}") from None
    text = data.decode("utf-8", "replace")
    names: list[str] | None = None
    table = IntelTable()
    addresses: dict[str, list[str]] = {}
    domains: dict[str, list[tuple[str, str]]] = {}
    urls: dict[str, list[tuple[str, str]]] = {}
    hashes: dict[str, list[tuple[str, str]]] = {}
    for line in text.splitlines():
        if line.startswith("#fields"):
            names = line.split("\t")[1:]
            if "indicator" not in names or "indicator_type" not in names:
                raise UsageError(f"--intel {path}: its #fields line must name indicator and indicator_type")
            at_indicator, at_type = names.index("indicator"), names.index("indicator_type")
            at_source = names.index("meta.source") if "meta.source" in names else None
            continue
        if not line.strip() or line.startswith("#"):
            continue
        if names is None:
            raise UsageError(f"--intel {path} has no #fields line before its first indicator; "
                             "it must be in Zeek's Intel framework format")
        fields = line.split("\t")
        if len(fields) <= max(at_indicator, at_type):
            continue
        indicator, kind = fields[at_indicator], fields[at_type]
        source = fields[at_source] if at_source is not None and at_source < len(fields) else "-"
        source = "" if source == "-" else source
        if not indicator or indicator == "-":
            continue
        table.count += 1
        if kind == "Intel::ADDR":
            address = _normal_address(indicator)
            if address is not None:
                addresses.setdefault(address, []).append(source)
        elif kind == "Intel::SUBNET":
            try:
                network = ipaddress.ip_network(indicator, strict=False)
            except ValueError:
                continue
            target = table.subnets if network.version == 4 else table.subnets6
            target.setdefault(network.prefixlen, {}).setdefault(int(network.network_address), []).append(
                (indicator, source))
        elif kind == "Intel::DOMAIN":
            domains.setdefault(indicator.lower(), []).append((indicator, source))
        elif kind == "Intel::URL":
            url = indicator.split("://", 1)[1] if "://" in indicator else indicator
            urls.setdefault(url.lower(), []).append((indicator, source))
        elif kind == "Intel::FILE_HASH":
            hashes.setdefault(indicator.lower(), []).append((indicator, source))
    if names is None:
        raise UsageError(f"--intel {path} has no #fields line; it must be in Zeek's Intel framework format")
    table.addresses = {k: tuple(v) for k, v in addresses.items()}
    table.domains = {k: tuple(v) for k, v in domains.items()}
    table.urls = {k: tuple(v) for k, v in urls.items()}
    table.hashes = {k: tuple(v) for k, v in hashes.items()}
    return table


_tables: dict[tuple[str, int, float], IntelTable] = {}


def intel_table(path: str) -> IntelTable:
    """The process's table of the intel file at ``path``, read once per version of the file."""
    stat = os.stat(path)
    key = (path, stat.st_size, stat.st_mtime)
    table = _tables.get(key)
    if table is None:
        table = _tables[key] = read_intel(path)
    return table


class IntelMatcher:
    """The matches of one row of a given log type: (indicators, sources), or (None, None) for no match."""

    def __init__(self, path: str, log_type: str) -> None:
        self.table = intel_table(path)
        self.domain_fields = DOMAIN_FIELDS.get(log_type, ())
        self.hash_fields = HASH_FIELDS.get(log_type, ())
        self.urls = log_type in URL_LOGS and bool(self.table.urls)
        self.address = lru_cache(maxsize=LOOKUP_CACHE)(self._address)
        # The fields match() reads, for callers that hold columns rather than records.
        self.fields = (*ADDRESS_FIELDS, *self.domain_fields, *(("host", "uri") if self.urls else ()),
                       *self.hash_fields)

    def _address(self, address: str) -> tuple[tuple[str, str], ...]:
        return tuple(self.table.address_matches(address))

    def match_columns(self, field) -> tuple[list, list]:
        """The (indicators, sources) columns of rows whose fields ``field(name)`` gives as lists."""
        address = self.address
        orig = [address(v) if type(v) is str else () for v in field("id.orig_h")]
        resp = [address(v) if type(v) is str else () for v in field("id.resp_h")]
        others = self.fields[len(ADDRESS_FIELDS):]
        if not others:  # conn-id logs: the addresses alone, mostly without a match
            indicators, sources = [], []
            for o, r in zip(orig, resp):
                if o or r:
                    pairs = dict.fromkeys(o + r) if o and r else o or r  # a pair both sides match: once
                    indicators.append([i for i, _ in pairs])
                    sources.append([s for _, s in pairs])
                else:
                    indicators.append(None)
                    sources.append(None)
            return indicators, sources
        matches = [self.match(dict(zip(others, row)), o + r) for o, r, *row in zip(orig, resp, *map(field, others))]
        return [m[0] for m in matches], [m[1] for m in matches]

    def match(self, record: dict, address_pairs: tuple = ()) -> tuple[list[str] | None, list[str] | None]:
        table = self.table
        pairs: list[tuple[str, str]] = list(address_pairs)
        for name in ADDRESS_FIELDS:
            value = record.get(name)
            if type(value) is str:
                pairs.extend(self.address(value))
        for name in self.domain_fields:
            value = record.get(name)
            if type(value) is str and table.domains:
                pairs.extend(table.domains.get(value.lower(), ()))
        if self.urls:
            host, uri = record.get("host"), record.get("uri")
            if type(host) is str and type(uri) is str:
                pairs.extend(table.urls.get((host + uri).lower(), ()))
        for name in self.hash_fields:
            value = record.get(name)
            if type(value) is str and table.hashes:
                pairs.extend(table.hashes.get(value.lower(), ()))
        if not pairs:
            return None, None
        pairs = list(dict.fromkeys(pairs))  # an indicator two fields match is one match
        return [indicator for indicator, _ in pairs], [source for _, source in pairs]

