"""The enrichment stage of a task: a block's checked records in, the enrichment columns' values out."""

from __future__ import annotations

from typing import Any, Callable

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
        """The enrichment columns of parsed records (dicts keyed by Zeek's field names)."""
        return self.values_of(lambda name: [r.get(name) for r in records])

    def values_of(self, field: Callable[[str], list[Any]]) -> list[list[Any]]:
        """The enrichment columns of rows whose source fields ``field(name)`` gives, one list per field."""
        seen: dict[str, list[Any]] = {}

        def once(name: str) -> list[Any]:  # id.orig_h feeds several enrichments: gathered once
            if name not in seen:
                seen[name] = field(name)
            return seen[name]

        columns: list[list[Any]] = []
        for part in self._parts:
            columns.extend(part(once))
        return columns

    @property
    def fields(self) -> tuple[str, ...]:
        """Every source field some enrichment of this stage reads."""
        names = ["id.orig_h", "id.resp_h"]
        if "community_id" in self.spec.names:
            names += ["id.orig_p", "id.resp_p", "proto", "ip_proto"]
        if "intel" in self.spec.names:
            names += [n for n in self._intel.fields if n not in names]
        return tuple(names)

    def _community_ids(self, field: Callable[[str], list[Any]]) -> list[list[Any]]:
        from .community_id import community_id, zeek_proto_number

        seed, use_base64 = self.spec.community_id_seed, self.spec.community_id_base64
        default_proto = _DEFAULT_PROTO.get(self.spec.log_type)
        ids = []
        for orig_h, resp_h, orig_p, resp_p, proto, ip_proto in zip(
                field("id.orig_h"), field("id.resp_h"), field("id.orig_p"), field("id.resp_p"), field("proto"),
                field("ip_proto")):
            value = None
            if type(orig_h) is str and type(resp_h) is str:
                proto = zeek_proto_number(default_proto if proto is None else proto, orig_h, ip_proto)
                if proto is not None:
                    ports_ok = type(orig_p) is int and type(resp_p) is int and 0 <= orig_p <= 65535 \
                        and 0 <= resp_p <= 65535
                    value = community_id(orig_h, resp_h, orig_p if ports_ok else None,
                                         resp_p if ports_ok else None, proto, seed, use_base64)
            ids.append(value)
        return [ids]

    def _geos(self, field: Callable[[str], list[Any]]) -> list[list[Any]]:
        lookup = self._geo.lookup
        orig = [lookup(_address(a)) for a in field("id.orig_h")]
        resp = [lookup(_address(a)) for a in field("id.resp_h")]
        if not self._geo.city:
            return [[o[0] for o in orig], [r[0] for r in resp]]
        return [[o[0] for o in orig], [r[0] for r in resp], [o[1] for o in orig], [r[1] for r in resp],
                [o[2] for o in orig], [o[3] for o in orig], [r[2] for r in resp], [r[3] for r in resp]]

    def _asns(self, field: Callable[[str], list[Any]]) -> list[list[Any]]:
        lookup = self._asn.lookup
        orig = [lookup(_address(a)) for a in field("id.orig_h")]
        resp = [lookup(_address(a)) for a in field("id.resp_h")]
        return [[o[0] for o in orig], [r[0] for r in resp], [o[1] for o in orig], [r[1] for r in resp]]

    def _intels(self, field: Callable[[str], list[Any]]) -> list[list[Any]]:
        return list(self._intel.match_columns(field))


# Logs without a `proto` field whose connections are all TCP (ssl.log is not: it holds DTLS and QUIC too).
_DEFAULT_PROTO = {"http": "tcp"}


def _address(value: object) -> str | None:
    return value if type(value) is str else None
