"""The conversions zeekflow is measured against, each run as its own process by ``zeekflow bench``.

``python peers.py NAME INPUT OUTPUT COLUMNS_JSON`` writes the columns (a JSON list of ``[name, kind]``, kind as
in ``schema.Kind``) of INPUT as a CSV with a header. The file runs as a plain script, without importing the
package (and so Dask), so a peer's time holds only its own work. Each peer does the job the way its tool is
meant to be used; none validates values or keeps rejects as zeekflow does.
"""

from __future__ import annotations

import csv
import json
import sys
from typing import Callable

Columns = list[tuple[str, str]]  # (name, kind): kind is a schema.Kind value such as "integer" or "list"

_SQL_TYPES = {"integer": "BIGINT", "number": "DOUBLE", "time": "DOUBLE", "bool": "BOOLEAN", "string": "VARCHAR",
              "list": "VARCHAR[]"}


def run_duckdb(source: str, destination: str, columns: Columns, threads: int = 0) -> None:
    """DuckDB: ``COPY (SELECT cols FROM read_json(...)) TO 'x.csv'`` with the schema given, all threads."""
    import duckdb

    def literal(text: str) -> str:
        return "'" + text.replace("'", "''") + "'"

    schema = "{" + ", ".join(f"{literal(name)}: {literal(_SQL_TYPES[kind])}" for name, kind in columns) + "}"
    select = ", ".join(
        f'array_to_string("{name}", \',\') AS "{name}"' if kind == "list" else f'"{name}"'
        for name, kind in columns
    )
    connection = duckdb.connect()
    if threads:
        connection.execute(f"SET threads = {int(threads)}")
    connection.execute(
        f"COPY (SELECT {select} FROM read_json({literal(source)}, format = 'newline_delimited', "
        f"columns = {schema})) TO {literal(destination)} (HEADER, DELIMITER ',')"
    )


def run_polars(source: str, destination: str, columns: Columns) -> None:
    """Polars: ``scan_ndjson(...).select(cols).sink_csv(...)`` with the schema given (streaming engine)."""
    import polars as pl

    types = {"integer": pl.Int64, "number": pl.Float64, "time": pl.Float64, "bool": pl.Boolean,
             "string": pl.String, "list": pl.List(pl.String)}
    schema = {name: types[kind] for name, kind in columns}
    select = [pl.col(name).list.join(",") if kind == "list" else pl.col(name) for name, kind in columns]
    pl.scan_ndjson(source, schema=schema).select(select).sink_csv(destination)


def run_pyarrow(source: str, destination: str, columns: Columns) -> None:
    """pyarrow: ``json.read_json`` of the whole file into a table, then ``csv.write_csv``."""
    import pyarrow as pa
    import pyarrow.compute as pc
    from pyarrow import csv as pa_csv
    from pyarrow import json as pa_json

    types = {"integer": pa.int64(), "number": pa.float64(), "time": pa.float64(), "bool": pa.bool_(),
             "string": pa.string(), "list": pa.list_(pa.string())}
    schema = pa.schema([(name, types[kind]) for name, kind in columns])
    options = pa_json.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore")
    table = pa_json.read_json(source, parse_options=options).select([name for name, _ in columns])
    for name, kind in columns:
        if kind == "list":
            index = table.schema.get_field_index(name)
            table = table.set_column(index, name, pc.binary_join(table[name], ","))
    pa_csv.write_csv(table, destination)


def run_orjson_lines(source: str, destination: str, columns: Columns) -> None:
    """The plain Python way: orjson one line at a time and ``csv.writer``, one process."""
    import orjson

    names = [name for name, _ in columns]
    with open(source, "rb") as lines, open(destination, "w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(names)
        for line in lines:
            try:
                record = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue
            if type(record) is dict:
                writer.writerow([record.get(name) for name in names])


def run_json_lines(source: str, destination: str, columns: Columns) -> None:
    """The naive way: the standard ``json`` module and ``csv.DictWriter``, one process."""
    names = [name for name, _ in columns]
    with open(source, encoding="utf-8", errors="replace") as lines, \
            open(destination, "w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, names, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        for line in lines:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict):
                writer.writerow(record)


PEERS: dict[str, Callable[[str, str, Columns], None]] = {
    "duckdb": run_duckdb,
    "polars": run_polars,
    "pyarrow": run_pyarrow,
    "orjson-lines": run_orjson_lines,
    "json-lines": run_json_lines,
}


def main(argv: list[str]) -> int:
    if len(argv) != 4 or argv[0] not in PEERS:
        print(f"usage: python peers.py {{{','.join(PEERS)}}} INPUT OUTPUT COLUMNS_JSON", file=sys.stderr)
        return 2
    name, source, destination, columns = argv
    PEERS[name](source, destination, [tuple(item) for item in json.loads(columns)])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
