"""Questions of the ``--enrich`` columns: traffic by country and by autonomous system, and the intel hits.

Like summaries.py, each function reads only the columns it needs, aggregates on the cluster and returns a
small pandas DataFrame. Rows whose enrichment is empty (a private address, no database record, no match)
are counted under ``(unknown)`` for countries and systems, and left out of the intel hits.
"""

from __future__ import annotations

import dask.dataframe as dd
import pandas as pd

UNKNOWN = "(unknown)"
SIDES = ("orig", "resp")


def _side(side: str) -> str:
    if side not in SIDES:
        raise ValueError(f"side must be 'orig' or 'resp', got {side!r}")
    return side


def _bytes(frame: dd.DataFrame, keys: list[str]) -> dd.DataFrame:
    return frame[keys].assign(connections=1, total_bytes=frame["orig_bytes"].fillna(0) + frame["resp_bytes"].fillna(0))


def traffic_by_country(frame: dd.DataFrame, side: str = "resp", n: int | None = 10) -> pd.DataFrame:
    """Connections and payload bytes by the country (ISO 3166 alpha-2) of the ``resp`` (or ``orig``) side.
    Columns: country, connections, total_bytes; the most bytes first."""
    column = f"{_side(side)}_country"
    selected = _bytes(frame, [column])
    selected[column] = selected[column].fillna(UNKNOWN)
    table = selected.groupby(column).sum().compute().reset_index().rename(columns={column: "country"})
    return _top(table, ["country"], n)


def traffic_by_as(frame: dd.DataFrame, side: str = "resp", n: int | None = 10) -> pd.DataFrame:
    """Connections and payload bytes by the autonomous system of the ``resp`` (or ``orig``) side.
    Columns: asn (nullable), as_org, connections, total_bytes; the most bytes first."""
    asn, org = f"{_side(side)}_asn", f"{side}_as_org"
    selected = _bytes(frame, [asn, org])
    selected[org] = selected[org].fillna(UNKNOWN)
    table = (selected.groupby([asn, org], dropna=False).sum().compute().reset_index()
             .rename(columns={asn: "asn", org: "as_org"}))
    return _top(table, ["asn", "as_org"], n)


def _top(table: pd.DataFrame, keys: list[str], n: int | None) -> pd.DataFrame:
    table = table[[*keys, "connections", "total_bytes"]].sort_values(
        ["total_bytes", "connections", *keys], ascending=[False, False, *[True] * len(keys)], kind="stable")
    return (table.head(n) if n is not None else table).reset_index(drop=True)


def _pairs(part: pd.DataFrame) -> pd.DataFrame:
    """One row per (indicator, source) of a partition's matched rows; CSV cells are split on commas, Parquet
    lists taken as they are."""
    rows = []
    for indicators, sources in zip(part["intel_indicators"], part["intel_sources"]):
        if indicators is None or indicators is pd.NA or (isinstance(indicators, float)):
            continue
        if isinstance(indicators, str):
            indicators, sources = indicators.split(","), ("" if sources is pd.NA else sources or "").split(",")
        for indicator, source in zip(list(indicators), list(sources)):
            rows.append((indicator, source or UNKNOWN))
    return pd.DataFrame(rows, columns=["indicator", "source"]).astype("string")


def intel_hits(frame: dd.DataFrame, n: int | None = 10) -> pd.DataFrame:
    """The intel indicators the rows matched, with their source and how many rows matched each.
    Columns: indicator, source, rows; the most rows first."""
    meta = pd.DataFrame({"indicator": pd.Series(dtype="string"), "source": pd.Series(dtype="string")})
    pairs = frame[["intel_indicators", "intel_sources"]].map_partitions(_pairs, meta=meta)
    table = pairs.assign(rows=1).groupby(["indicator", "source"]).sum().compute().reset_index()
    table = table.sort_values(["rows", "indicator", "source"], ascending=[False, True, True], kind="stable")
    return (table.head(n) if n is not None else table).reset_index(drop=True)
