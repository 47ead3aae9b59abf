"""Read a zeekflow CSV into a dask DataFrame whose dtypes come from the schema, never from the data.

Zeek leaves optional fields unset, so a column can be empty for millions of rows before its first value:
inferring dtypes from a sample would guess wrong. Each column's Zeek type gives its pandas dtype instead, with
nullable dtypes (``UInt64``, ``Int64``, ``boolean``, ``string``) so an unset field is ``<NA>`` and not a float NaN.
"""

from __future__ import annotations

import dask.dataframe as dd
import fsspec
import pandas as pd

from ..render import quote_field
from ..normalize import MILLIS_THRESHOLD
from ..schema import Column, Kind, get_schema

# The one value that means "unset" in a zeekflow CSV; "NA", "null" or "None" are real strings there.
_NA_VALUES = [""]
TIME_COLUMN = "time"

def pandas_dtype(column: Column) -> str:
    """The dtype a column is read with, from the type table: nullable for integers, booleans and strings;
    sets and vectors stay text (elements joined by "," as the CSV conventions say)."""
    return "string" if column.kind is Kind.LIST else column.scalar.pandas


def read_header(path: str) -> list[str]:
    """The column names of a zeekflow CSV (its first line only is read)."""
    with fsspec.open(path, "rt", encoding="utf-8", newline="") as f:
        first = f.readline()
    if not first.strip():
        raise ValueError(f"{path} is empty: expected a zeekflow CSV with a header line")
    import csv

    return next(csv.reader([first]))


def _schema_columns(path: str, names: list[str], log_type: str) -> tuple[Column, ...]:
    from ..enrich.columns import ALL_COLUMNS

    known = {**{c.name: c for c in ALL_COLUMNS}, **get_schema(log_type).known()}  # --enrich columns after the log's
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(
            f"{path}: column(s) {', '.join(map(quote_field, unknown))} are not in the {log_type} schema; "
            "is this written by zeekflow convert (and is it the right log type)?"
        )
    return tuple(known[n] for n in names)


def columns_of(path: str, log_type: str = "conn") -> tuple[Column, ...]:
    """The schema columns named by the CSV's header, in the file's order."""
    return _schema_columns(path, read_header(path), log_type)


def epoch_seconds(text: pd.Series) -> pd.Series:
    """Zeek times as float epoch seconds, in any of the forms ``--ts-format`` writes: epoch seconds as they
    are, integer milliseconds (JSON::TS_MILLIS) divided by 1000, ISO 8601 strings parsed (UTC when no zone)."""
    numbers = pd.to_numeric(text, errors="coerce").astype("float64")
    numbers = numbers.where(numbers.abs() < MILLIS_THRESHOLD, numbers / 1000)
    iso = numbers.isna() & text.notna()
    if iso.any():
        parsed = pd.to_datetime(text[iso], utc=True, format="ISO8601")
        numbers[iso] = (parsed - pd.Timestamp(0, tz="UTC")) / pd.Timedelta(seconds=1)
    return numbers


def _seconds_since_epoch(moments: pd.Series) -> pd.Series:
    return ((moments - pd.Timestamp(0, tz="UTC")) / pd.Timedelta(seconds=1)).astype("float64")


def read_parquet_output(path: str, log_type: str = "conn", with_datetime: bool = True) -> dd.DataFrame:
    """zeekflow's Parquet output (a file or a dataset folder) with the same dtypes as ``read_conn_csv``:
    integers nullable (``UInt64``...), ``ts`` float epoch seconds plus ``time``; sets stay lists (Parquet keeps them typed)."""
    frame = dd.read_parquet(path, dtype_backend="numpy_nullable")
    columns = _schema_columns(path, list(frame.columns), log_type)
    frame = frame.astype({c.name: pandas_dtype(c) for c in columns if c.kind in (Kind.INTEGER, Kind.NUMBER)})
    for column in columns:
        if column.kind is Kind.TIME:
            if with_datetime and column.name == "ts":
                frame[TIME_COLUMN] = frame["ts"]
            frame[column.name] = frame[column.name].map_partitions(
                _seconds_since_epoch, meta=(column.name, "float64"))
    return frame


def read_output(path: str, log_type: str = "conn", with_datetime: bool = True) -> dd.DataFrame:
    """What ``zeekflow convert`` wrote, CSV or Parquet (a ``.parquet`` name or a folder), as a typed frame."""
    if path.endswith(".parquet") or fsspec.core.url_to_fs(path)[0].isdir(path):
        return read_parquet_output(path, log_type, with_datetime)
    return read_conn_csv(path, log_type, with_datetime=with_datetime)


def read_conn_csv(
    path: str | list[str],
    log_type: str = "conn",
    blocksize: str | int | None = "64MiB",
    with_datetime: bool = True,
) -> dd.DataFrame:
    """A lazy, typed dask DataFrame over one or more zeekflow CSV files (all with the same header).

    Integers are nullable (``UInt64`` for a count, ``UInt16`` a port, ``Int64`` an int), booleans ``boolean``, strings and sets ``string`` (unset fields ``<NA>``),
    intervals ``float64``; time columns (``ts``) become float epoch seconds, ISO 8601 values included, and
    ``with_datetime`` adds a ``time`` column (``datetime64[ns, UTC]``) next to ``ts``. ``blocksize`` splits
    big files into partitions; a CSV with newlines inside quoted fields needs ``blocksize=None``.
    """
    paths = [path] if isinstance(path, str) else list(path)
    if not paths:
        raise ValueError("no CSV file given")
    columns = columns_of(paths[0], log_type)
    for other in paths[1:]:
        if read_header(other) != [c.name for c in columns]:
            raise ValueError(f"{other} has a different header from {paths[0]}; read them separately")
    dtypes = {c.name: pandas_dtype(c) for c in columns}
    frame = dd.read_csv(
        paths, dtype=dtypes, blocksize=blocksize, keep_default_na=False, na_values=_NA_VALUES,
        header=0, encoding="utf-8",
    )
    # Column by column (not one map over whole partitions) so that a summary needing three columns still
    # reads only those three.
    for column in columns:
        if column.kind is Kind.TIME:
            frame[column.name] = frame[column.name].map_partitions(
                epoch_seconds, meta=(column.name, "float64"))
    if with_datetime and "ts" in dtypes:
        # Rounded to the microsecond Zeek records: a float's nearest value may fall just below it.
        frame[TIME_COLUMN] = dd.to_datetime((frame["ts"] * 1e6).round(), unit="us", utc=True)
    return frame
