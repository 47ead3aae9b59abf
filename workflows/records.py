"""The records a run passes between its stages: what every task needs (``TaskSpec``), what one block's
conversion gives (``BlockResult``) and the small record each task returns (``ShardInfo``). A leaf: the
converters, the kernel's splice, the task, the manifest and the join all use them, and it imports none of them.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .schema import Column

if TYPE_CHECKING:
    from .enrich.columns import EnrichSpec


@dataclass(frozen=True)
class TaskSpec:
    """What every task needs besides its partition: small, picklable, the same for the whole run."""

    columns: tuple[Column, ...]
    work_dir: str
    block_size: int | None = None  # None: DEFAULT_BLOCK_SIZE, or PARQUET_BLOCK_SIZE for Parquet shards
    tsv_inputs: tuple[str, ...] = ()  # inputs in Zeek's TSV format; the others are NDJSON
    cut_headers: tuple = ()  # (path, TsvHeader) of zeek-cut outputs: TSV whose first line names the columns
    ts_format: str | None = None
    csv_safe: bool = False
    output_format: str = "csv"
    enrich: "EnrichSpec | None" = None  # --enrich: the columns added after ``columns`` (enrich/columns.py)
    dataset: bool = False  # --dataset: each CSV shard is a part file of the output folder, so it has the header


@dataclass(frozen=True)
class ShardInfo:
    """The small record a task returns: counts only, never data."""

    index: int
    lines: int
    rows: int
    rejected: int
    blank: int
    bytes_in: int
    bytes_out: int
    dropped_fields: dict[str, int] = field(default_factory=dict)
    # The checksum of each shard as written (workfiles.ShardDigest), so --resume can tell a finished shard from a torn or corrupt one.
    checksum: str = ""
    rejects_checksum: str = ""
    # How long the task ran on its worker: summed over a run, the workers' busy time (Summary.task_seconds).
    seconds: float = 0.0
    # Which path converted the partition's blocks: "native" (the C kernel) or "python" (see workflows/kernel.py).
    kernel: str = ""


@dataclass
class BlockResult:
    """What one block produced. ``csv`` holds rows only (no header); ``rejects`` holds NDJSON records."""

    csv: bytes = b""
    rejects: bytes = b""
    lines: int = 0
    rows: int = 0
    rejected: int = 0
    blank: int = 0
    dropped_fields: Counter = field(default_factory=Counter)

    def extend(self, later: "BlockResult") -> "BlockResult":
        """This result followed by the result of the lines after it (same block): one result."""
        return BlockResult(
            csv=self.csv + later.csv, rejects=self.rejects + later.rejects, lines=self.lines + later.lines,
            rows=self.rows + later.rows, rejected=self.rejected + later.rejected, blank=self.blank + later.blank,
            dropped_fields=self.dropped_fields + later.dropped_fields,
        )
