"""Check the enrichment options and files on the client, before any work: every problem is a UsageError."""

from __future__ import annotations

import os
from typing import Sequence

from ..errors import UsageError
from ..schema import Column
from .columns import ENRICHMENTS, DatabaseFile, EnrichSpec

# Where each enrichment reads its inputs from: a row without them gets empty enrichment cells.
CONN_ID = ("id.orig_h", "id.resp_h")


def _stat(path: str, option: str, kind: str = "") -> DatabaseFile:
    absolute = os.path.abspath(path)
    try:
        stat = os.stat(absolute)
    except FileNotFoundError:
        raise UsageError(f"{option} {path} does not exist") from None
    except OSError as error:
        raise UsageError(f"{option} {path} is not readable: {error.strerror or error}") from None
    return DatabaseFile(absolute, stat.st_size, stat.st_mtime, kind)


def enrich_spec(names: Sequence[str] | None, log_type: str, columns: Sequence[Column], known: Sequence[str], *,
                seed: int = 0, use_base64: bool = True, geoip_db: str | None = None, asn_db: str | None = None,
                intel: str | None = None) -> EnrichSpec | None:
    """The checked EnrichSpec of a run (None when nothing is enriched). ``known``: the names of every field
    the log type may have (its schema's, or a TSV header's), to refuse an enrichment the log cannot feed."""
    names = list(names or [])
    unknown = [n for n in names if n not in ENRICHMENTS]
    if unknown:
        raise UsageError(f"--enrich: unknown enrichment {', '.join(unknown)}; choose from {', '.join(ENRICHMENTS)}")
    for option, value, name in (("--geoip-db", geoip_db, "geo"), ("--asn-db", asn_db, "asn"),
                                ("--intel", intel, "intel")):
        if value is not None and name not in names:
            raise UsageError(f"{option} is given but --enrich does not name {name}; add --enrich {name}")
        if value is None and name in names:
            raise UsageError(f"--enrich {name} needs {option} PATH")
    if not names:
        if seed != 0 or not use_base64:
            raise UsageError("--community-id-seed and --community-id-hex apply with --enrich community_id only")
        return None
    if (seed != 0 or not use_base64) and "community_id" not in names:
        raise UsageError("--community-id-seed and --community-id-hex apply with --enrich community_id only")
    if not 0 <= seed <= 65535:
        raise UsageError(f"--community-id-seed must be 0 to 65535 (two bytes), got {seed}")
    if "community_id" in names or "geo" in names or "asn" in names:
        missing = [n for n in CONN_ID if n not in known]
        if missing:
            wanted = [n for n in names if n != "intel"]
            raise UsageError(f"--enrich {','.join(wanted)} needs a log with a conn id; {log_type} has no "
                             f"{' or '.join(missing)}")
    geo_file = asn_file = intel_file = None
    if geoip_db is not None:
        from .geo import ASN_KIND, database_kind

        kind = database_kind(geoip_db, "--geoip-db")
        if kind == ASN_KIND:
            raise UsageError(f"--geoip-db {geoip_db} is an ASN database; give a City or Country database "
                             "(an ASN database goes with --asn-db)")
        geo_file = _stat(geoip_db, "--geoip-db", kind)
    if asn_db is not None:
        from .geo import ASN_KIND, database_kind

        kind = database_kind(asn_db, "--asn-db")
        if kind != ASN_KIND:
            raise UsageError(f"--asn-db {asn_db} is a {kind} database; give an ASN database "
                             "(a City or Country database goes with --geoip-db)")
        asn_file = _stat(asn_db, "--asn-db", kind)
    if intel is not None:
        from .intel import read_intel

        read_intel(intel)  # a usage error now rather than a failed task later
        intel_file = _stat(intel, "--intel")
    spec = EnrichSpec(names=tuple(n for n in ENRICHMENTS if n in names), log_type=log_type,
                      community_id_seed=seed, community_id_base64=use_base64, geoip_db=geo_file,
                      asn_db=asn_file, intel=intel_file)
    taken = sorted({c.name for c in columns} & {c.name for c in spec.columns})
    if taken:
        raise UsageError(f"the output already has the column(s) {', '.join(taken)} that --enrich adds; "
                         "leave them out of --columns or out of --enrich")
    return spec
