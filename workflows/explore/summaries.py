"""Questions an analyst asks of a conn log, answered on a typed dask DataFrame (see ``frame.read_conn_csv``).

Each function selects only the columns it needs (so only those are parsed), aggregates on the cluster and
returns a small pandas DataFrame: one row per host, port, state or time bin, never one per connection.
Byte counts are Zeek's payload bytes (``orig_bytes`` + ``resp_bytes``); unset counts add nothing.
"""

from __future__ import annotations

import math

import dask
import dask.dataframe as dd
import pandas as pd

from .states import FAILED_STATES, UNSET_STATE, meaning

ORIG_H, RESP_H, RESP_P = "id.orig_h", "id.resp_h", "id.resp_p"
NO_SERVICE = "(none)"
# Bin widths that read well on a time axis, in seconds.
_NICE_INTERVALS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400)


def _with_bytes(frame: dd.DataFrame, keys: list[str]) -> dd.DataFrame:
    """``keys`` plus a connection count and payload bytes, unset byte counts taken as 0."""
    return frame[[*keys, "orig_bytes", "resp_bytes"]].assign(
        connections=1,
        orig_bytes=frame["orig_bytes"].fillna(0),
        resp_bytes=frame["resp_bytes"].fillna(0),
    )


def _finish(table: pd.DataFrame, sort_by: str, tie: list[str], n: int | None) -> pd.DataFrame:
    table = table.sort_values([sort_by, *tie], ascending=[False, *[True] * len(tie)], kind="stable")
    if n is not None:
        table = table.head(n)
    return table.reset_index(drop=True)


def top_talkers(frame: dd.DataFrame, n: int = 10, host: str = ORIG_H) -> pd.DataFrame:
    """Hosts (originators by default; ``host="id.resp_h"`` for responders) by payload bytes moved in their
    connections, both directions. Columns: host, connections, orig_bytes, resp_bytes, total_bytes."""
    sums = _with_bytes(frame, [host]).groupby(host).sum().compute()
    table = sums.reset_index().rename(columns={host: "host"})
    table["total_bytes"] = table["orig_bytes"] + table["resp_bytes"]
    table = table[["host", "connections", "orig_bytes", "resp_bytes", "total_bytes"]]
    return _finish(table, "total_bytes", ["host"], n)


def top_ports(frame: dd.DataFrame, n: int = 10, include_icmp: bool = False) -> pd.DataFrame:
    """Destination ports by number of connections, per transport protocol. ICMP is left out by default:
    Zeek puts the ICMP type and code in its "ports". Columns: proto, port, connections, total_bytes."""
    selected = frame if include_icmp else frame[frame["proto"] != "icmp"]
    sums = _with_bytes(selected, ["proto", RESP_P]).groupby(["proto", RESP_P]).sum().compute()
    table = sums.reset_index().rename(columns={RESP_P: "port"})
    table["total_bytes"] = table["orig_bytes"] + table["resp_bytes"]
    table = table[["proto", "port", "connections", "total_bytes"]]
    return _finish(table, "connections", ["proto", "port"], n)


def top_services(frame: dd.DataFrame, n: int = 10) -> pd.DataFrame:
    """Services Zeek confirmed (``service``), by number of connections; connections with no confirmed
    service are counted as ``(none)``. Columns: service, connections, total_bytes."""
    selected = _with_bytes(frame, ["service"])
    selected = selected.assign(service=selected["service"].fillna(NO_SERVICE))
    sums = selected.groupby("service").sum().compute()
    table = sums.reset_index()
    table["total_bytes"] = table["orig_bytes"] + table["resp_bytes"]
    table = table[["service", "connections", "total_bytes"]]
    return _finish(table, "connections", ["service"], n)


def conn_state_breakdown(frame: dd.DataFrame) -> pd.DataFrame:
    """How connections ended: each ``conn_state`` with its count, its share of all connections and Zeek's
    meaning of it. Columns: conn_state, connections, share, meaning."""
    states = frame["conn_state"].fillna(UNSET_STATE)
    counts = states.value_counts().compute()
    table = counts.rename_axis("conn_state").reset_index(name="connections")
    total = int(table["connections"].sum())
    table["connections"] = table["connections"].astype("int64")
    table["share"] = table["connections"] / total if total else 0.0
    table["meaning"] = [meaning(state) for state in table["conn_state"]]
    return _finish(table, "connections", ["conn_state"], None)


def pick_interval(span_s: float, max_bins: int = 200) -> int:
    """The smallest readable bin width (1 s, 5 s, 1 min, 1 h...) that cuts ``span_s`` into at most
    ``max_bins`` bins; whole days beyond that."""
    for interval in _NICE_INTERVALS:
        if span_s / interval <= max_bins:
            return interval
    return 86400 * math.ceil(span_s / 86400 / max_bins)


def traffic_over_time(frame: dd.DataFrame, interval_s: float | None = None, max_bins: int = 200) -> pd.DataFrame:
    """Connections and payload bytes per time bin of ``interval_s`` seconds (chosen from the capture's time
    span when None), by the connection's start (``ts``). Every bin between the first and the last is
    present, empty ones with zeros. Columns: start (UTC), connections, orig_bytes, resp_bytes, total_bytes;
    ``table.attrs["interval_s"]`` holds the bin width."""
    ts = frame["ts"]
    if interval_s is None:
        first, last = dask.compute(ts.min(), ts.max())
        interval_s = pick_interval(float(last - first) if pd.notna(first) else 0.0, max_bins)
    if interval_s <= 0:
        raise ValueError(f"interval_s must be positive, got {interval_s}")
    selected = _with_bytes(frame, ["ts"])
    selected = selected.assign(bin=(selected["ts"] // interval_s).astype("int64")).drop(columns="ts")
    sums = selected.groupby("bin").sum().compute().sort_index()
    if len(sums):
        sums = sums.reindex(range(int(sums.index.min()), int(sums.index.max()) + 1), fill_value=0)
    table = sums.reset_index()
    table.insert(0, "start", pd.to_datetime(table["bin"] * interval_s, unit="s", utc=True))
    table["total_bytes"] = table["orig_bytes"] + table["resp_bytes"]
    table = table[["start", "connections", "orig_bytes", "resp_bytes", "total_bytes"]]
    table.attrs["interval_s"] = interval_s
    return table


LONGEST_COLUMNS = ["ts", "time", "uid", ORIG_H, "id.orig_p", RESP_H, RESP_P, "proto", "service", "duration",
                   "orig_bytes", "resp_bytes", "conn_state"]


def longest_connections(frame: dd.DataFrame, n: int = 10) -> pd.DataFrame:
    """The ``n`` connections that lasted longest (``duration``), longest first."""
    columns = [c for c in LONGEST_COLUMNS if c in frame.columns]
    longest = frame[columns].dropna(subset=["duration"]).nlargest(n, "duration").compute()
    return longest.sort_values(["duration", "ts"], ascending=[False, True], kind="stable").reset_index(drop=True)


def scan_like_sources(
    frame: dd.DataFrame,
    min_targets: int = 20,
    min_failed_share: float = 0.5,
    n: int | None = 20,
) -> pd.DataFrame:
    """Originators that look like scanners: at least ``min_targets`` distinct destinations (host and port)
    and at least ``min_failed_share`` of their connections unanswered or refused (S0 or REJ).

    Columns: host, connections, failed (S0 + REJ), failed_share, dest_hosts (distinct responders),
    targets (distinct responder host:port pairs); most targets first.
    """
    selected = frame[[ORIG_H, RESP_H, RESP_P, "conn_state"]]
    failed = selected["conn_state"].isin(list(FAILED_STATES)).fillna(False).astype("int64")
    per_host = selected[[ORIG_H]].assign(connections=1, failed=failed).groupby(ORIG_H).sum()
    dest_hosts = selected.groupby(ORIG_H)[RESP_H].nunique()
    targets = selected[[ORIG_H, RESP_H, RESP_P]].drop_duplicates().groupby(ORIG_H).size()
    per_host, dest_hosts, targets = dask.compute(per_host, dest_hosts, targets)
    table = per_host.join(dest_hosts.rename("dest_hosts")).join(targets.rename("targets"))
    table = table.reset_index().rename(columns={ORIG_H: "host"})
    table["failed_share"] = table["failed"] / table["connections"]
    table = table[(table["targets"] >= min_targets) & (table["failed_share"] >= min_failed_share)]
    table = table[["host", "connections", "failed", "failed_share", "dest_hosts", "targets"]]
    table = table.astype({"connections": "int64", "failed": "int64", "dest_hosts": "int64", "targets": "int64"})
    return _finish(table, "targets", ["host"], n)
