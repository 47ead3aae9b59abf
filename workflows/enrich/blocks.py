"""Enriched CSV of NDJSON blocks without giving up the native kernel: its rows, the enrichment cells appended.

The plain converter (the kernel where it was built, else the fast path) writes the log's columns; when it
took every line of the block as a row, and no cell holds a newline, row i is line i, so the enrichment of
line i (its few source fields decoded by msgspec, every other key skipped) is appended to row i. Any other
block (a reject, a blank line, a quoted newline, a line msgspec reads otherwise) is converted whole by the
reference with the enricher, so the bytes are the reference's either way.
"""

from __future__ import annotations

from typing import Any, Sequence

import msgspec

from ..render import BlockConverter, BlockResult, _render_column
from ..schema import Column
from .stage import Enricher


class EnrichedCsvBlocks:
    """A converter of NDJSON blocks to CSV rows of ``columns`` followed by ``enricher``'s columns."""

    def __init__(self, columns: Sequence[Column], input_name: str, enricher: Enricher) -> None:
        self.enricher = enricher
        self.plain = BlockConverter(columns, input_name)
        self.reference = BlockConverter(columns, input_name, enricher=enricher)
        self.columns = self.reference.columns
        names = enricher.fields
        self._attributes = {name: f"f{i}" for i, name in enumerate(names)}
        source = msgspec.defstruct("Source", [(f"f{i}", Any, None) for i in range(len(names))],
                                   rename={f"f{i}": name for i, name in enumerate(names)})
        self._decoder = msgspec.json.Decoder(source)

    @property
    def kernel(self) -> str:
        return self.plain.kernel

    def convert(self, block: bytes, base_offset: int = 0) -> BlockResult:
        if not block:
            return BlockResult()
        result = self.plain.convert(block, base_offset)
        n_lines = block.count(b"\n") + (not block.endswith(b"\n"))
        if result.rows == n_lines and result.csv.count(b"\n") == n_lines:
            try:
                sources = self._decoder.decode_lines(block)
            except (msgspec.DecodeError, RecursionError, TypeError):
                sources = None
            if sources is not None and len(sources) == n_lines:
                attributes = self._attributes

                def field(name: str) -> list[Any]:
                    attribute = attributes[name]
                    return [getattr(s, attribute) for s in sources]

                values = self.enricher.values_of(field)
                cells = [_render_column(c, v) for c, v in zip(self.enricher.columns, values)]
                rows = result.csv.decode("utf-8").split("\n")
                rows.pop()
                result.csv = "".join(f"{row},{extra}\n" for row, extra in zip(rows, map(",".join, zip(*cells)))
                                     ).encode("utf-8")
                return result
        return self.reference.convert(block, base_offset)
