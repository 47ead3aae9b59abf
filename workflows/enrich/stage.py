"""The enrichment stage of a task: a block's checked records in, the enrichment columns' values out."""

from __future__ import annotations

from typing import Any

from .columns import EnrichSpec


class Enricher:
    """Computes, for a list of records, one list of values per enrichment column (``spec.columns`` order).

    Built once per converter on the worker; the databases and the intel table behind it are opened once
    per worker process. Source fields that are missing or of the wrong type give empty values, never an
    error: they may not be output columns, so nothing has checked them.
    """

    def __init__(self, spec: EnrichSpec) -> None:
        self.spec = spec
        self.columns = spec.columns
        self._parts = []
        if "community_id" in spec.names:
            self._parts.append(self._community_ids)
        if "geo" in spec.names:
            from .geo import GeoLookup

            self._geo = GeoLookup(spec.geoip_db.path, city=spec.geoip_db.kind == "City")
            self._parts.append(self._geos)
        if "asn" in spec.names:
            from .geo import AsnLookup

            self._asn = AsnLookup(spec.asn_db.path)
            self._parts.append(self._asns)
        if "intel" in spec.names:
            from .intel import IntelMatcher

            self._intel = IntelMatcher(spec.intel.path, spec.log_type)
            self._parts.append(self._intels)

    def values(self, records: list[dict]) -> list[list[Any]]:
        columns: list[list[Any]] = []
        for part in self._parts:
            columns.extend(part(records))
        return columns

    def _community_ids(self, records: list[dict]) -> list[list[Any]]:
        from .community_id import community_id, zeek_proto_number

        seed, use_base64 = self.spec.community_id_seed, self.spec.community_id_base64
        ids = []
        for record in records:
            orig_h, resp_h = record.get("id.orig_h"), record.get("id.resp_h")
            orig_p, resp_p = record.get("id.orig_p"), record.get("id.resp_p")
            value = None
            if type(orig_h) is str and type(resp_h) is str:
                proto = zeek_proto_number(record.get("proto", _DEFAULT_PROTO.get(self.spec.log_type)), orig_h,
                                          record.get("ip_proto"))
                if proto is not None:
                    ports_ok = type(orig_p) is int and type(resp_p) is int and 0 <= orig_p <= 65535 \
                        and 0 <= resp_p <= 65535
                    value = community_id(orig_h, resp_h, orig_p if ports_ok else None,
                                         resp_p if ports_ok else None, proto, seed, use_base64)
            ids.append(value)
        return [ids]

    def _geos(self, records: list[dict]) -> list[list[Any]]:
        lookup = self._geo.lookup
        orig = [lookup(_address(r, "id.orig_h")) for r in records]
        resp = [lookup(_address(r, "id.resp_h")) for r in records]
        if not self._geo.city:
            return [[o[0] for o in orig], [r[0] for r in resp]]
        return [[o[0] for o in orig], [r[0] for r in resp], [o[1] for o in orig], [r[1] for r in resp],
                [o[2] for o in orig], [o[3] for o in orig], [r[2] for r in resp], [r[3] for r in resp]]

    def _asns(self, records: list[dict]) -> list[list[Any]]:
        lookup = self._asn.lookup
        orig = [lookup(_address(r, "id.orig_h")) for r in records]
        resp = [lookup(_address(r, "id.resp_h")) for r in records]
        return [[o[0] for o in orig], [r[0] for r in resp], [o[1] for o in orig], [r[1] for r in resp]]

    def _intels(self, records: list[dict]) -> list[list[Any]]:
        matches = [self._intel.match(r) for r in records]
        return [[m[0] for m in matches], [m[1] for m in matches]]


# Logs without a `proto` field whose connections are all TCP (ssl.log is not: it holds DTLS and QUIC too).
_DEFAULT_PROTO = {"http": "tcp"}


def _address(record: dict, name: str) -> str | None:
    value = record.get(name)
    return value if type(value) is str else None
