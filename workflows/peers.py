"""The conversions zeekflow is measured against, each run as its own process by ``zeekflow bench``.

``python peers.py NAME INPUT OUTPUT COLUMNS_JSON [FORMAT]`` writes the columns (a JSON list of ``[name, kind]``,
kind as in ``schema.Kind``) of INPUT as a CSV with a header. FORMAT is ``ndjson`` (the default) or ``tsv``, a
Zeek TSV log whose columns are in the order of its ``#fields``; only DuckDB and chDB read it. The file runs as a plain script, without importing the
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


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def run_duckdb(source: str, destination: str, columns: Columns, fmt: str = "ndjson", threads: int = 0) -> None:
    """DuckDB, all threads, with the schema given: ``COPY (SELECT cols FROM read_json(...)) TO 'x.csv'``, or for
    Zeek TSV its CSV reader (tab-delimited, ``#`` lines skipped as comments, ``-`` and ``(empty)`` as null, sets
    read as text: they are already comma-joined)."""
    import duckdb

    connection = duckdb.connect()
    if threads:
        connection.execute(f"SET threads = {int(threads)}")
    if fmt == "tsv":
        types = {**_SQL_TYPES, "list": "VARCHAR"}
        schema = "{" + ", ".join(f"{_literal(name)}: {_literal(types[kind])}" for name, kind in columns) + "}"
        source_sql = (f"read_csv({_literal(source)}, delim = '\t', header = false, comment = '#', quote = '', "
                      f"escape = '', auto_detect = false, nullstr = ['-', '(empty)'], columns = {schema})")
        select = ", ".join(f'"{name}"' for name, _ in columns)
    else:
        schema = "{" + ", ".join(f"{_literal(name)}: {_literal(_SQL_TYPES[kind])}" for name, kind in columns) + "}"
        source_sql = f"read_json({_literal(source)}, format = 'newline_delimited', columns = {schema})"
        select = ", ".join(
            f'array_to_string("{name}", \',\') AS "{name}"' if kind == "list" else f'"{name}"'
            for name, kind in columns
        )
    connection.execute(f"COPY (SELECT {select} FROM {source_sql}) TO {_literal(destination)} (HEADER, DELIMITER ',')")


_CH_TYPES = {"integer": "Nullable(Int64)", "number": "Nullable(Float64)", "time": "Nullable(Float64)",
             "bool": "Nullable(Bool)", "string": "Nullable(String)", "list": "Array(String)"}


def run_chdb(source: str, destination: str, columns: Columns, fmt: str = "ndjson") -> None:
    """chDB (ClickHouse in process), all threads, with the schema given: ``INSERT INTO FUNCTION file('x.csv',
    'CSVWithNames') SELECT cols FROM file(INPUT, 'JSONEachRow', schema)``; for Zeek TSV the ``TSV`` format with
    the header lines skipped, ``-`` as null, ``T``/``F`` as booleans and one bad line allowed (``#close``)."""
    import chdb

    def quoted(name: str) -> str:
        return "`" + name.replace("`", "\\`") + "`"

    settings = "engine_file_truncate_on_insert = 1, format_csv_null_representation = ''"
    if fmt == "tsv":
        structure = ", ".join(f"{quoted(name)} {_CH_TYPES['string' if kind == 'list' else kind]}"
                              for name, kind in columns)
        # The T/F settings also rule the output: booleans are written back as true/false by hand.
        select = ", ".join(f"nullIf({quoted(name)}, '(empty)') AS {quoted(name)}" if kind == "list"
                           else f"multiIf(isNull({quoted(name)}), NULL, {quoted(name)}, 'true', 'false') AS {quoted(name)}"
                           if kind == "bool" else quoted(name) for name, kind in columns)
        source_sql = f"file({_literal(source)}, 'TSV', {_literal(structure)})"
        with open(source, "rb") as f:
            header_lines = 0
            for line in f:
                if not line.startswith(b"#"):
                    break
                header_lines += 1
        settings += (f", input_format_tsv_skip_first_lines = {header_lines}, format_tsv_null_representation = '-', "
                     "bool_true_representation = 'T', bool_false_representation = 'F', input_format_allow_errors_num = 1")
    else:
        structure = ", ".join(f"{quoted(name)} {_CH_TYPES[kind]}" for name, kind in columns)
        select = ", ".join(f"arrayStringConcat({quoted(name)}, ',') AS {quoted(name)}" if kind == "list"
                           else quoted(name) for name, kind in columns)
        source_sql = f"file({_literal(source)}, 'JSONEachRow', {_literal(structure)})"
    chdb.query(f"INSERT INTO FUNCTION file({_literal(destination)}, 'CSVWithNames') SELECT {select} "
               f"FROM {source_sql} SETTINGS {settings}")


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


PEERS: dict[str, Callable[..., None]] = {
    "duckdb": run_duckdb,
    "chdb": run_chdb,
    "polars": run_polars,
    "pyarrow": run_pyarrow,
    "orjson-lines": run_orjson_lines,
    "json-lines": run_json_lines,
}


READS_TSV = ("duckdb", "chdb")


def main(argv: list[str]) -> int:
    if len(argv) not in (4, 5) or argv[0] not in PEERS or (argv[4:] and argv[4] not in ("ndjson", "tsv")):
        print(f"usage: python peers.py {{{','.join(PEERS)}}} INPUT OUTPUT COLUMNS_JSON [ndjson|tsv]", file=sys.stderr)
        return 2
    name, source, destination, columns = argv[:4]
    fmt = argv[4] if len(argv) == 5 else "ndjson"
    if fmt == "tsv" and name not in READS_TSV:
        print(f"{name} reads NDJSON only", file=sys.stderr)
        return 2
    parsed = [tuple(item) for item in json.loads(columns)]
    if name in READS_TSV:
        PEERS[name](source, destination, parsed, fmt)
    else:
        PEERS[name](source, destination, parsed)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
