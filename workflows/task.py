"""The worker task: convert one partition into its CSV shard and rejects shard, return only counts.

Shards are written under a temporary name and renamed when complete, so a retried or duplicated task can
never leave a torn shard under the name the concatenation reads.
"""

from __future__ import annotations

import os
import time
from collections import Counter

from .errors import display_name
from .inputs import TornStream
from .plan import DEFAULT_BLOCK_SIZE, Partition, check_unchanged, iter_range_blocks
from .records import ShardInfo, TaskSpec
from .render import RejectCollector
from .shards import open_shard
from .workfiles import ShardDigest, rejects_shard_name, shard_name, temporary_suffix

# Keys of the convert tasks start with this prefix, so they are easy to find in the dashboard's task stream.
TASK_PREFIX = "zeekflow-convert"
# A Parquet shard takes one row group per block: 4 MiB blocks keep row groups at ~10,000 rows, where the
# small blocks that make CSV fastest would write row groups of a few hundred.
PARQUET_BLOCK_SIZE = 4 * 2**20


def block_size(spec: TaskSpec) -> int:
    if spec.block_size:
        return spec.block_size
    return PARQUET_BLOCK_SIZE if spec.output_format == "parquet" else DEFAULT_BLOCK_SIZE


def torn_record(path: str, torn: TornStream) -> bytes:
    """The reject record of a torn compressed stream's end: the torn last line, at its decompressed offset."""
    collector = RejectCollector(display_name(path), [torn.tail], torn.line_start)
    collector.add(0, torn.reason)
    return collector.to_bytes()


def convert_partition(partition: Partition, spec: TaskSpec) -> ShardInfo:
    """Read the partition's byte range, convert it, write both shards atomically, return the counts."""
    started = time.perf_counter()
    csv_path = os.path.join(spec.work_dir, shard_name(partition.index, spec.output_format))
    rejects_path = os.path.join(spec.work_dir, rejects_shard_name(partition.index))
    suffix = temporary_suffix()
    lines = rows = rejected = blank = bytes_in = bytes_out = 0
    dropped: Counter = Counter()
    rejects_digest = ShardDigest()
    try:
        converter, shard = open_shard(spec, partition, csv_path + suffix)
        with open(rejects_path + suffix, "wb") as rejects_file:
            try:
                check_unchanged(partition)
                blocks = iter_range_blocks(
                    partition.path, partition.offset, partition.length, block_size(spec), partition.input_size
                )
                try:
                    for offset, block in blocks:
                        result = converter.convert(block, offset)
                        bytes_out += shard.write(result)
                        if result.rejects:
                            rejects_file.write(result.rejects)
                            rejects_digest.update(result.rejects)
                        bytes_in += len(block)
                        lines += result.lines
                        rows += result.rows
                        rejected += result.rejected
                        blank += result.blank
                        dropped.update(result.dropped_fields)
                except TornStream as torn:
                    # A truncated archive (a crashed sensor's last one): its whole lines are converted, the
                    # torn end is one rejected line and the run goes on.
                    record = torn_record(partition.path, torn)
                    rejects_file.write(record)
                    rejects_digest.update(record)
                    bytes_in += len(torn.tail)
                    lines += 1
                    rejected += 1
                check_unchanged(partition)  # not truncated or replaced while it was read
            finally:
                bytes_out += shard.close()
        # Rejects first: a CSV shard under its final name implies its rejects shard is complete too.
        os.replace(rejects_path + suffix, rejects_path)
        os.replace(csv_path + suffix, csv_path)
    finally:
        for leftover in (csv_path + suffix, rejects_path + suffix):
            if os.path.exists(leftover):
                os.unlink(leftover)
    return ShardInfo(
        index=partition.index,
        lines=lines,
        rows=rows,
        rejected=rejected,
        blank=blank,
        bytes_in=bytes_in,
        bytes_out=bytes_out,
        dropped_fields=dict(dropped),
        checksum=shard.checksum(),
        rejects_checksum=rejects_digest.hexdigest(),
        seconds=round(time.perf_counter() - started, 4),
        kernel=getattr(converter, "kernel", "python"),
    )
