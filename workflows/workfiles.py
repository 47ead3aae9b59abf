"""The files a run keeps in its work dir, by name, and their checksums: the one place that knows them.

The task writes the shards, the join and ``--dataset`` move or append them, the manifest records and checks
them, and the ownership checks of ``workdir.py`` tell them from a user's own files.
"""

from __future__ import annotations

import re
import uuid

try:
    # ISA-L's CRC-32 folds 64 bytes a step: ~40 GB/s here, against zlib's 4.5 and SHA-256's 1.6 (a
    # 5M-line run spent 7 % of its CPU hashing its shards with SHA-256). The same CRC-32 as zlib's.
    from isal.isal_zlib import crc32 as _crc32
except ImportError:  # pragma: no cover - isal is a dependency; zlib gives the same values, slower
    from zlib import crc32 as _crc32

# The run's journal (manifest.py).
MANIFEST_NAME = "zeekflow-manifest.ndjson"
# Names a task writes in the work dir: part-NNNNNN.csv|.parquet|.rejects.ndjson, each first under a temporary
# name (``temporary_suffix``); a --dataset output folder's part files are the CSV shards, moved.
SHARD_NAME = re.compile(r"part-(\d{6,})\.(?:csv|parquet|rejects\.ndjson)(?:\.tmp-[0-9a-f]{32})?")
PART_FILE_NAME = re.compile(r"part-\d{6,}\.csv")
# The longest name a run writes in its work dir (a rejects shard's temp name), to check it fits.
LONGEST_WORK_NAME = "part-000000.rejects.ndjson.tmp-" + "0" * 32


def shard_suffix(output_format: str) -> str:
    return ".parquet" if output_format == "parquet" else ".csv"


def shard_name(index: int, output_format: str = "csv") -> str:
    return f"part-{index:06d}{shard_suffix(output_format)}"


def rejects_shard_name(index: int) -> str:
    return f"part-{index:06d}.rejects.ndjson"


class ShardDigest:
    """The checksum of a shard as it is written, for ``--resume`` to tell a finished shard from a torn or
    corrupt one (accidents, not tampering: a CRC-32 with its length, which the manifest keeps beside it)."""

    def __init__(self) -> None:
        self.value = 0

    def update(self, data: bytes) -> None:
        self.value = _crc32(data, self.value)

    def hexdigest(self) -> str:
        return f"crc32:{self.value:08x}"


def file_checksum(path: str) -> str:
    """The ShardDigest of a whole file."""
    digest = ShardDigest()
    with open(path, "rb") as f:
        while chunk := f.read(2**20):
            digest.update(chunk)
    return digest.hexdigest()


def temporary_suffix() -> str:
    """A shard's temporary suffix, unique to one task attempt: a retried or duplicated task never writes
    into another's file, and only a complete shard is renamed to its name."""
    return f".tmp-{uuid.uuid4().hex}"
