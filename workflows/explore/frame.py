"""Read a zeekflow CSV into a dask DataFrame whose dtypes come from the schema, never from the data.

Zeek leaves optional fields unset, so a column can be empty for millions of rows before its first value:
inferring dtypes from a sample would guess wrong. Each column's Zeek type gives its pandas dtype instead, with
nullable dtypes (``Int64``, ``boolean``, ``string``) so an unset field is ``<NA>`` and not a float NaN.
"""

from __future__ import annotations

import dask.dataframe as dd
import fsspec
import pandas as pd

from ..render import quote_field
from ..schema import Column, Kind, get_schema

# The one value that means "unset" in a zeekflow CSV; "NA", "null" or "None" are real strings there.
_NA_VALUES = [""]
TIME_COLUMN = "time"

_DTYPES = {
    Kind.INTEGER: "Int64",
    Kind.NUMBER: "float64",
    Kind.TIME: "string",  # epoch numbers or ISO 8601 strings: converted per partition, see _epoch_seconds
    Kind.BOOL: "boolean",
    Kind.STRING: "string",
    Kind.LIST: "string",  # elements joined by "," as the CSV conventions say
}


def pandas_dtype(column: Column) -> str:
    """The dtype a column is read with: nullable for integers, booleans and strings."""
    return _DTYPES[column.kind]


def read_header(path: str) -> list[str]:
    """The column names of a zeekflow CSV (its first line only is read)."""
    with fsspec.open(path, "rt", encoding="utf-8", newline="") as f:
        first = f.readline()
    if not first.strip():
        raise ValueError(f"{path} is empty: expected a zeekflow CSV with a header line")
    import csv

    return next(csv.reader([first]))


def columns_of(path: str, log_type: str = "conn") -> tuple[Column, ...]:
    """The schema columns named by the CSV's header, in the file's order."""
    names = read_header(path)
    known = get_schema(log_type).known()
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(
            f"{path}: column(s) {', '.join(map(quote_field, unknown))} are not in the {log_type} schema; "
            "is this a CSV written by zeekflow convert (or the right log type)?"
        )
    return tuple(known[n] for n in names)


def _epoch_seconds(text: pd.Series) -> pd.Series:
    """Zeek times as float epoch seconds: numbers as they are, ISO 8601 strings parsed (UTC when no zone)."""
    numbers = pd.to_numeric(text, errors="coerce").astype("float64")
    iso = numbers.isna() & text.notna()
    if iso.any():
        parsed = pd.to_datetime(text[iso], utc=True, format="ISO8601")
        numbers[iso] = (parsed - pd.Timestamp(0, tz="UTC")) / pd.Timedelta(seconds=1)
    return numbers


def read_conn_csv(
    path: str | list[str],
    log_type: str = "conn",
    blocksize: str | int | None = "64MiB",
    with_datetime: bool = True,
) -> dd.DataFrame:
    """A lazy, typed dask DataFrame over one or more zeekflow CSV files (all with the same header).

    Integers are ``Int64``, booleans ``boolean``, strings and sets ``string`` (unset fields ``<NA>``),
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
                _epoch_seconds, meta=(column.name, "float64"))
    if with_datetime and "ts" in dtypes:
        frame[TIME_COLUMN] = dd.to_datetime(frame["ts"], unit="s", utc=True)
    return frame
