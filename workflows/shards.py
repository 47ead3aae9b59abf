"""What a task reads and writes: the block converter for its input's format, the shard writer for the output's.

Kept apart from task.py so the task stays "read range, convert, write, report" whatever the formats.
"""

from __future__ import annotations

from typing import Protocol

from .errors import display_name
from .normalize import column_transforms
from .plan import Partition, stat_input
from .render import BlockConverter, BlockResult, csv_header
from .tsv import TsvBlockConverter, header_before
from .workfiles import ShardDigest


class Converter(Protocol):
    def convert(self, block: bytes, base_offset: int = 0) -> BlockResult: ...


class ShardWriter(Protocol):
    def write(self, result: BlockResult) -> int: ...
    def close(self) -> int: ...
    def checksum(self) -> str: ...


class CsvShardWriter:
    """Appends each block's CSV rows to the shard file, hashing them on the way (for ``--resume``).

    ``header`` starts the file (a ``--dataset`` part file is read on its own, so it names its columns).
    """

    def __init__(self, path: str, header: bytes = b"") -> None:
        self.file = open(path, "wb")
        self.digest = ShardDigest()
        self.header = header
        self.file.write(header)
        self.digest.update(header)

    def write(self, result: BlockResult) -> int:
        self.file.write(result.csv)
        self.digest.update(result.csv)
        return len(result.csv)

    def close(self) -> int:
        """Close; return the bytes written besides the rows (the header)."""
        self.file.close()
        return len(self.header)

    def checksum(self) -> str:
        return self.digest.hexdigest()


def open_shard(spec, partition: Partition, path: str) -> tuple[Converter, ShardWriter]:
    """The converter for ``partition``'s input and the writer of its shard at ``path``."""
    enricher = None
    if spec.enrich is not None:
        from .enrich.stage import Enricher

        enricher = Enricher(spec.enrich)
    transforms = column_transforms(spec.columns + (enricher.columns if enricher else ()), spec.ts_format,
                                   spec.csv_safe)
    name = display_name(partition.path)  # what reject records call the input
    ndjson = partition.path not in spec.tsv_inputs and partition.path not in dict(spec.cut_headers)
    if spec.output_format == "parquet":
        from .kernel import native_blocks
        from .parquet import ParquetShardWriter, ValueCollector, parquet_converter

        if ndjson and enricher is None:
            # NDJSON: the kernel's CSV rows typed by Arrow's CSV reader, where it can (parquet.ParquetBlocks).
            blocks = parquet_converter(spec.columns, name, transforms)
            return blocks, ParquetShardWriter(path, blocks)
        if ndjson and not transforms and native_blocks(spec.columns) is not None:
            from .enrich.blocks import EnrichedParquetBlocks  # the kernel's tables with the enrichment appended

            enriched = EnrichedParquetBlocks(spec.columns, name, enricher)
            return enriched, ParquetShardWriter(path, enriched)
        # TSV inputs and enriched rows build the table from the checked values.
        collector = ValueCollector(spec.columns, name, transforms, enricher=enricher)
        renderer = collector.converter
        writer: ShardWriter = ParquetShardWriter(path, collector)
    else:
        renderer = BlockConverter(spec.columns, name, transforms, enricher=enricher)
        writer = CsvShardWriter(path, csv_header(renderer.columns) if spec.dataset else b"")
        if ndjson and enricher is not None and not transforms and len(spec.columns) > 1:
            from .enrich.blocks import EnrichedCsvBlocks  # the kernel's rows with the enrichment appended

            return EnrichedCsvBlocks(spec.columns, name, enricher), writer
    cut_header = dict(spec.cut_headers).get(partition.path)
    if cut_header is not None:
        return TsvBlockConverter(renderer, header=cut_header, names_line=True), writer
    if ndjson:
        return renderer, writer
    if partition.offset == 0:
        return TsvBlockConverter(renderer), writer
    source = stat_input(partition.path)
    return TsvBlockConverter(
        renderer, header_before=lambda offset: header_before(source.path, offset, source.size, source.mtime)
    ), writer
