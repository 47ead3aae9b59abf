"""Enriched output of NDJSON blocks without giving up the native kernel: its rows, the enrichment appended.

The plain converter (the kernel where it was built, else the fast path) converts the log's columns; when it
took every line of the block as a row (and, for CSV, no cell holds a newline), row i is line i, so the
enrichment of line i (its few source fields decoded by msgspec, every other key skipped) is appended to row i:
cells to the CSV row, arrays to the Parquet table. Any other block (a reject, a blank line, a quoted newline, a
line msgspec reads otherwise) is converted whole by the value path with the enricher, so the output is the
value path's either way.
"""

from __future__ import annotations

from typing import Any, Sequence

import msgspec

from ..render import BlockConverter, BlockResult, _render_column
from ..schema import Column
from .stage import Enricher


def _line_count(block: bytes) -> int:
    return block.count(b"\n") + (not block.endswith(b"\n"))


class _SourceFields:
    """The enrichment columns of a block's lines, from only the fields the enricher reads."""

    def __init__(self, enricher: Enricher) -> None:
        self.enricher = enricher
        names = enricher.fields
        self._attributes = {name: f"f{i}" for i, name in enumerate(names)}
        source = msgspec.defstruct("Source", [(f"f{i}", Any, None) for i in range(len(names))],
                                   rename={f"f{i}": name for i, name in enumerate(names)})
        self._decoder = msgspec.json.Decoder(source)

    def values(self, block: bytes, n_lines: int) -> list[list[Any]] | None:
        """One list per enrichment column, or None when the lines do not decode as one object each."""
        try:
            sources = self._decoder.decode_lines(block)
        except (msgspec.DecodeError, RecursionError, TypeError):
            return None
        if len(sources) != n_lines:
            return None
        attributes = self._attributes

        def field(name: str) -> list[Any]:
            attribute = attributes[name]
            return [getattr(s, attribute) for s in sources]

        return self.enricher.values_of(field)


class _KernelRowsEnriched:
    """What both outputs share: the plain conversion first, the enrichment appended when row i is line i,
    the value path with the enricher otherwise. Subclasses say how rows are counted and appended."""

    def __init__(self, plain: Any, reference: Any, enricher: Enricher) -> None:
        self.plain = plain
        self.reference = reference
        self.enricher = enricher
        self._sources = _SourceFields(enricher)

    @property
    def kernel(self) -> str:
        return self.plain.kernel

    def convert(self, block: bytes, base_offset: int = 0) -> BlockResult:
        if not block:
            return BlockResult()
        result = self.plain.convert(block, base_offset)
        n_lines = _line_count(block)
        if self._row_a_line(result, n_lines):
            values = self._sources.values(block, n_lines)
            if values is not None:
                self._append(result, values)
                return result
        return self._convert_reference(block, base_offset)

    def _row_a_line(self, result: BlockResult, n_lines: int) -> bool:
        raise NotImplementedError

    def _append(self, result: BlockResult, values: list[list[Any]]) -> None:
        raise NotImplementedError

    def _convert_reference(self, block: bytes, base_offset: int) -> BlockResult:
        return self.reference.convert(block, base_offset)


class EnrichedCsvBlocks(_KernelRowsEnriched):
    """A converter of NDJSON blocks to CSV rows of ``columns`` followed by ``enricher``'s columns."""

    def __init__(self, columns: Sequence[Column], input_name: str, enricher: Enricher) -> None:
        super().__init__(BlockConverter(columns, input_name),
                         BlockConverter(columns, input_name, enricher=enricher), enricher)
        self.columns = self.reference.columns

    def _row_a_line(self, result: BlockResult, n_lines: int) -> bool:
        return result.rows == n_lines and result.csv.count(b"\n") == n_lines  # no quoted newline either

    def _append(self, result: BlockResult, values: list[list[Any]]) -> None:
        cells = [_render_column(c, v) for c, v in zip(self.enricher.columns, values)]
        rows = result.csv.decode("utf-8").split("\n")
        rows.pop()
        result.csv = "".join(f"{row},{extra}\n" for row, extra in zip(rows, map(",".join, zip(*cells)))
                             ).encode("utf-8")


class EnrichedParquetBlocks(_KernelRowsEnriched):
    """A converter of NDJSON blocks to Arrow tables of ``columns`` followed by ``enricher``'s columns (the
    ``take`` interface of parquet.ParquetShardWriter)."""

    def __init__(self, columns: Sequence[Column], input_name: str, enricher: Enricher) -> None:
        from ..parquet import ParquetBlocks, ValueCollector

        super().__init__(ParquetBlocks(columns, input_name),
                         ValueCollector(columns, input_name, enricher=enricher), enricher)
        self.schema = self.reference.schema
        self.tables: list[Any] = []
        self._plain_tables: list[Any] = []

    def _row_a_line(self, result: BlockResult, n_lines: int) -> bool:
        self._plain_tables = self.plain.take()
        return result.rows == n_lines and sum(t.num_rows for t in self._plain_tables) == n_lines

    def _append(self, result: BlockResult, values: list[list[Any]]) -> None:
        import pyarrow as pa

        from ..parquet import _values_array

        table = pa.concat_tables(self._plain_tables)
        fields = list(self.schema)[table.num_columns:]
        arrays = [_values_array(c, v, f.type) for c, v, f in zip(self.enricher.columns, values, fields)]
        self.tables.append(pa.Table.from_arrays([*table.columns, *arrays], schema=self.schema))

    def _convert_reference(self, block: bytes, base_offset: int) -> BlockResult:
        result = self.reference.convert(block, base_offset)
        self.tables.extend(self.reference.take())
        return result

    def take(self) -> list[Any]:
        tables, self.tables = self.tables, []
        return tables
