"""Parquet output: each task writes its partition as a Parquet file typed by the schema; the run assembles them.

Arrow types follow the Zeek types so no reader has to guess: ``addr``/``string``/``enum``/``subnet`` as string,
``port`` as uint16, ``count`` as uint64, ``int`` as int64, ``double`` and ``interval`` as float64 (an
interval in seconds), ``time`` as timestamp[us, UTC], ``bool`` as bool, sets and vectors as lists of their
element type. Each field keeps its Zeek type in the field metadata (``zeek_type``).

The run's output is a dataset folder of ``part-NNNNNN.parquet`` files in partition order (what DuckDB's
``read_parquet('out.parquet/*.parquet')``, Polars' ``scan_parquet`` and ``dask.dataframe.read_parquet`` read),
or with ``--single-file`` one file whose row groups are the partitions' row groups, copied in order.
pyarrow is an optional dependency: ``pip install 'zeekflow[parquet]'``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from typing import Any, Sequence

from .errors import UsageError
from .normalize import to_microseconds
from .render import BlockConverter, BlockResult
from .schema import Column, Kind

PARQUET_COMPRESSION = "zstd"


def require_pyarrow() -> None:
    """Raise UsageError (exit 2) with the fix when pyarrow is not installed."""
    try:
        import pyarrow  # noqa: F401
        import pyarrow.parquet  # noqa: F401
    except ImportError:
        raise UsageError("Parquet output needs pyarrow: pip install 'zeekflow[parquet]'") from None


def arrow_type(column: Column):
    """The column's Arrow type, from the type table (sets and vectors: a list of the element's type)."""
    import pyarrow as pa

    if column.kind is Kind.LIST:
        return pa.list_(column.scalar.arrow_type())
    return column.scalar.arrow_type()


def arrow_schema(columns: Sequence[Column]):
    import pyarrow as pa

    return pa.schema(
        [pa.field(c.name, arrow_type(c), metadata={"zeek_type": c.zeek_type}) for c in columns]
    )


def _to_arrow_values(column: Column, values: list[Any]) -> list[Any]:
    """Checked JSON-like values as values pyarrow takes for the column's type."""
    kind, element_kind = column.kind, column.element_kind
    if kind is Kind.TIME:
        return [None if v is None else to_microseconds(v) for v in values]
    if kind is Kind.LIST and element_kind is Kind.TIME:
        return [None if v is None else [None if e is None else to_microseconds(e) for e in v] for v in values]
    return values


class ValueCollector(BlockConverter):
    """A BlockConverter that keeps each block's checked values as an Arrow table instead of CSV text."""

    renders_csv = False

    def __init__(self, columns: Sequence[Column], input_name: str, transforms=None) -> None:
        super().__init__(columns, input_name, transforms)
        self.schema = arrow_schema(self.columns)
        self.tables: list[Any] = []

    def _emit(self, values: list[list[Any]]) -> str:
        import pyarrow as pa

        for position, transform in self.transforms.items():
            values[position] = transform(values[position])
        arrays = [pa.array(_to_arrow_values(c, v), type=f.type)
                  for c, v, f in zip(self.columns, values, self.schema)]
        self.tables.append(pa.Table.from_arrays(arrays, schema=self.schema))
        return ""

    def take(self) -> list[Any]:
        tables, self.tables = self.tables, []
        return tables


class ParquetShardWriter:
    """Writes a partition's tables as row groups of one Parquet file."""

    def __init__(self, path: str, collector: ValueCollector) -> None:
        import pyarrow.parquet as pq

        self.path = path
        self.collector = collector
        self.writer = pq.ParquetWriter(path, collector.schema, compression=PARQUET_COMPRESSION)
        self._checksum = ""

    def write(self, result: BlockResult) -> int:
        for table in self.collector.take():
            self.writer.write_table(table)
        return 0

    def close(self) -> int:
        from .manifest import file_sha256

        self.writer.close()
        self._checksum = file_sha256(self.path)
        return os.path.getsize(self.path)

    def checksum(self) -> str:
        return self._checksum


def _is_dataset_folder(path: str) -> bool:
    """True for a folder that holds only what a previous Parquet run wrote (so it may be replaced)."""
    return os.path.isdir(path) and all(
        name.startswith("part-") and name.endswith(".parquet") for name in os.listdir(path)
    )


def check_parquet_output(output: str, single_file: bool) -> None:
    """Before any work: pyarrow present, and the output not a folder of someone else's files."""
    require_pyarrow()
    if os.path.isdir(output) and (single_file or not _is_dataset_folder(output)):
        raise UsageError(f"output {output} is a folder that holds other files; choose another name")


def _rows(path: str) -> int:
    import pyarrow.parquet as pq

    return pq.ParquetFile(path).metadata.num_rows


def finish_parquet(shards: list[str], output: str, columns: Sequence[Column], single_file: bool) -> int:
    """Assemble the partition files (in order) into ``output``; return the bytes written.

    Partitions without rows are left out (all but one when every partition is empty, to keep the schema).
    """
    kept = [s for s in shards if _rows(s) > 0] or shards[:1]
    temporary = output + ".tmp"
    if not kept:  # no partitions at all (empty inputs): still a readable file with the schema
        import pyarrow.parquet as pq

        folder = tempfile.mkdtemp(prefix=".zeekflow-empty-", dir=os.path.dirname(os.path.abspath(output)))
        empty = os.path.join(folder, "part-000000.parquet")
        pq.write_table(arrow_schema(columns).empty_table(), empty)
        try:
            return finish_parquet([empty], output, columns, single_file)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    if single_file:
        import pyarrow.parquet as pq

        with pq.ParquetWriter(temporary, arrow_schema(columns), compression=PARQUET_COMPRESSION) as writer:
            for shard in kept:
                part = pq.ParquetFile(shard)
                for group in range(part.num_row_groups):
                    writer.write_table(part.read_row_group(group))
        with open(temporary, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(temporary, output)
        for shard in shards:
            os.unlink(shard)
        return os.path.getsize(output)

    if os.path.exists(temporary):
        shutil.rmtree(temporary)
    os.makedirs(temporary)
    written = 0
    for shard in kept:
        target = os.path.join(temporary, os.path.basename(shard))
        shutil.move(shard, target)
        written += os.path.getsize(target)
    for shard in shards:
        if os.path.exists(shard):
            os.unlink(shard)
    if _is_dataset_folder(output):
        shutil.rmtree(output)
    os.replace(temporary, output)
    return written
