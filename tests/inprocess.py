"""Run the real pipeline (prepare, every partition's task, concatenation) in this process, without Dask.

Everything but the scheduling is the shipped code, so most format tests need no cluster; a few end-to-end
tests check that a cluster gives the same bytes.
"""

from __future__ import annotations

import os
from pathlib import Path

from workflows import ConvertOptions, prepare
from workflows.task import convert_partition, rejects_shard_name, shard_name


def convert_in_process(inputs: list[str | Path], out: Path, **options) -> tuple[bytes, bytes, dict]:
    """(CSV bytes with header, rejects bytes, totals) of converting ``inputs`` partition by partition."""
    job = prepare(ConvertOptions(inputs=[str(p) for p in inputs], output=str(out), **options))
    os.makedirs(job.spec.work_dir, exist_ok=True)
    infos = [convert_partition(partition, job.spec) for partition in job.partitions]
    csv = job.header()
    rejects = b""
    for info in infos:
        csv += Path(job.spec.work_dir, shard_name(info.index)).read_bytes()
        rejects += Path(job.spec.work_dir, rejects_shard_name(info.index)).read_bytes()
    totals = {key: sum(getattr(i, key) for i in infos) for key in ("lines", "rows", "rejected", "blank")}
    totals["partitions"] = len(job.partitions)
    totals["log_type"] = job.log_type
    totals["columns"] = [c.name for c in job.columns]
    dropped: dict[str, int] = {}
    for info in infos:
        for key, count in info.dropped_fields.items():
            dropped[key] = dropped.get(key, 0) + count
    totals["dropped_fields"] = dropped
    return csv, rejects, totals
