"""The files a run keeps in its work dir, by name, and their checksums: the one place that knows them.

The task writes the shards, the join and ``--dataset`` move or append them, the manifest records and checks
them, and the ownership checks of ``workdir.py`` tell them from a user's own files.
"""

from __future__ import annotations

import hashlib
import re
import uuid

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


def file_sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(2**20):
            digest.update(chunk)
    return digest.hexdigest()


def temporary_suffix() -> str:
    """A shard's temporary suffix, unique to one task attempt: a retried or duplicated task never writes
    into another's file, and only a complete shard is renamed to its name."""
    return f".tmp-{uuid.uuid4().hex}"
