"""Exploring a converted capture: a typed dask DataFrame over the CSV, the summaries analysts ask for,
bokeh pictures of them, and the pieces a notebook needs around a conversion.

Needs the ``explore`` extra (pandas and pyarrow for dask.dataframe): ``pip install 'zeekflow[explore]'``.
"""

from __future__ import annotations

try:
    import dask.dataframe  # noqa: F401  (fails without pandas/pyarrow)
except ImportError as error:  # pragma: no cover - depends on the installation
    raise ImportError(
        f"workflows.explore needs dask.dataframe ({error}); install it with: pip install 'zeekflow[explore]'"
    ) from error

from .enriched import intel_hits, traffic_by_as, traffic_by_country
from .frame import TIME_COLUMN, epoch_seconds, pandas_dtype, read_conn_csv, read_output, read_parquet_output
from .rejects import reason_kind, rejects_examples, rejects_summary
from .states import CONN_STATES, FAILED_STATES, meaning
from .summaries import (
    conn_state_breakdown,
    longest_connections,
    pick_interval,
    scan_like_sources,
    top_ports,
    top_services,
    top_talkers,
    traffic_over_time,
)

__all__ = [
    "CONN_STATES", "FAILED_STATES", "TIME_COLUMN", "conn_state_breakdown", "longest_connections", "meaning",
    "epoch_seconds", "pandas_dtype", "pick_interval", "read_conn_csv", "read_output", "read_parquet_output", "reason_kind", "rejects_examples", "rejects_summary",
    "scan_like_sources", "top_ports", "top_services", "top_talkers", "traffic_over_time",
    "intel_hits", "traffic_by_as", "traffic_by_country",
]
