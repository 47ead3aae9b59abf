"""Where an address is and who owns it, from MaxMind databases (City, Country, ASN) read with ``maxminddb``.

A database is opened once per worker process (memory-mapped, with the package's C reader where it was built)
and kept in a module-level cache keyed by path; repeated addresses are answered from a bounded per-process
cache, since a capture's addresses repeat far more than they vary.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from ..errors import UsageError

# What each option takes: the database_type of MaxMind's own and of compatible (DB-IP, IPinfo) builds.
GEO_KINDS = ("City", "Country")
ASN_KIND = "ASN"
LOOKUP_CACHE = 2**16

_readers: dict[str, Any] = {}


def open_reader(path: str):
    """The process's reader of the database at ``path`` (opened on first use)."""
    reader = _readers.get(path)
    if reader is None:
        import maxminddb

        try:
            reader = maxminddb.open_database(path, maxminddb.MODE_MMAP_EXT)
        except ValueError:  # the C extension was not built: the pure-Python reader of the same map
            reader = maxminddb.open_database(path, maxminddb.MODE_MMAP)
        _readers[path] = reader
    return reader


def database_kind(path: str, option: str) -> str:
    """``City``, ``Country`` or ``ASN``: what the database at ``path`` holds. Raises UsageError (naming
    ``option``) when it is missing, unreadable, not a MaxMind database or of no kind we read."""
    try:
        import maxminddb
    except ImportError:
        raise UsageError(f"{option} needs the maxminddb package: pip install 'zeekflow[enrich]'") from None
    try:
        with maxminddb.open_database(path, maxminddb.MODE_FILE) as reader:
            database_type = reader.metadata().database_type
    except FileNotFoundError:
        raise UsageError(f"{option} {path} does not exist") from None
    except IsADirectoryError:
        raise UsageError(f"{option} {path} is a directory, not a MaxMind database") from None
    except PermissionError:
        raise UsageError(f"{option} {path} is not readable") from None
    except (maxminddb.InvalidDatabaseError, OSError, ValueError, UnicodeDecodeError):
        raise UsageError(f"{option} {path} is not a MaxMind database") from None
    for kind in (*GEO_KINDS, ASN_KIND):
        if kind.lower() in database_type.lower().replace("-", " ").split():
            return kind
    raise UsageError(f"{option} {path} is a {database_type!r} database; give a City, Country or ASN database")


class GeoLookup:
    """Country (and from a City database: city, latitude, longitude) of an address; Nones where unknown."""

    def __init__(self, path: str, city: bool) -> None:
        self.path = path
        self.city = city
        self.lookup = lru_cache(maxsize=LOOKUP_CACHE)(self._lookup)

    def _lookup(self, address: object) -> tuple:
        record = _get(self.path, address)
        country = (record.get("country") or {}).get("iso_code")
        if not self.city:
            return (country,)
        city = ((record.get("city") or {}).get("names") or {}).get("en")
        location = record.get("location") or {}
        return country, city, _float(location.get("latitude")), _float(location.get("longitude"))


class AsnLookup:
    """Autonomous system number and organisation of an address; Nones where unknown."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.lookup = lru_cache(maxsize=LOOKUP_CACHE)(self._lookup)

    def _lookup(self, address: object) -> tuple:
        record = _get(self.path, address)
        number = record.get("autonomous_system_number")
        return (number if type(number) is int else None), record.get("autonomous_system_organization")


def _get(path: str, address: object) -> dict:
    """The database's record of ``address``; an empty one for no record, or a value that is no address."""
    if type(address) is not str:
        return {}
    try:
        record = open_reader(path).get(address)
    except ValueError:
        return {}
    return record if isinstance(record, dict) else {}


def _float(value: object) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
