"""The enrichment columns: which ``--enrich`` name adds which columns, their order and their Zeek types.

The one place that knows them: the task's enrichment stage, the CSV header, the Parquet schema and the README
read them from here. They come after the log's own columns, in this order whatever the order of ``--enrich``.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..schema import Column

ENRICHMENTS = ("community_id", "geo", "asn", "intel")
COMMUNITY_ID = (Column("community_id", "string"),)
COUNTRY = (Column("orig_country", "string"), Column("resp_country", "string"))
CITY = (Column("orig_city", "string"), Column("resp_city", "string"), Column("orig_lat", "double"),
        Column("orig_lon", "double"), Column("resp_lat", "double"), Column("resp_lon", "double"))
ASN = (Column("orig_asn", "count"), Column("resp_asn", "count"), Column("orig_as_org", "string"),
       Column("resp_as_org", "string"))
INTEL = (Column("intel_indicators", "vector[string]"), Column("intel_sources", "vector[string]"))
# Every column an enrichment may add, in output order (what readers of the output may meet after a log's own).
ALL_COLUMNS = COMMUNITY_ID + COUNTRY + CITY + ASN + INTEL


@dataclass(frozen=True)
class DatabaseFile:
    """A database or intel file as the run saw it: a changed file is a changed output for ``--resume``."""

    path: str
    size: int
    mtime: float
    kind: str = ""  # City, Country or ASN for a MaxMind database


@dataclass(frozen=True)
class EnrichSpec:
    """The checked enrichment options of a run (small, picklable: it travels in every task's spec)."""

    names: tuple[str, ...]  # in ENRICHMENTS order
    log_type: str = "conn"
    community_id_seed: int = 0
    community_id_base64: bool = True
    geoip_db: DatabaseFile | None = None
    asn_db: DatabaseFile | None = None
    intel: DatabaseFile | None = None

    @property
    def columns(self) -> tuple[Column, ...]:
        columns: tuple[Column, ...] = ()
        if "community_id" in self.names:
            columns += COMMUNITY_ID
        if "geo" in self.names:
            columns += COUNTRY
            if self.geoip_db is not None and self.geoip_db.kind == "City":
                columns += CITY
        if "asn" in self.names:
            columns += ASN
        if "intel" in self.names:
            columns += INTEL
        return columns

    @property
    def files(self) -> tuple[DatabaseFile, ...]:
        return tuple(f for f in (self.geoip_db, self.asn_db, self.intel) if f is not None)
