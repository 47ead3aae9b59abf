"""The client's own work at the end of the pipeline: joining the shards into one CSV file against ``--dataset``.

    .venv/bin/python benchmarks/client_join.py [--lines N] [--partition-size SIZE] [--reps R]

Generates an N-line conn.log (``zeekflow generate``, seed 1), then converts it in this process on an embedded
cluster of two worker processes, alternately to one CSV file and to a ``--dataset`` folder, R times each. The
time the client spends in the join (appending, fsyncing and committing the shards, or moving them into the
folder, and the final rename) is summed from timers wrapped around those calls for the run; the workers' time
is not in it. A cluster's client joins every byte of a single-file output itself, so this is what caps it.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

from workflows import ConvertOptions, convert, generate_capture
from workflows.commit import CommittedJoin
from workflows.concat import OrderedConcat
from workflows.dataset import DatasetParts

JOIN_CALLS = ((CommittedJoin, "add"), (CommittedJoin, "commit"), (OrderedConcat, "finish"), (DatasetParts, "finish"))


def _timing_joins(spent: list[float]) -> None:
    """Wrap the client's join calls so the time in them adds up in ``spent[0]``."""
    for cls, name in JOIN_CALLS:
        original = getattr(cls, name)

        def timed(self, *args, _original=original, **kwargs):
            started = time.perf_counter()
            try:
                return _original(self, *args, **kwargs)
            finally:
                spent[0] += time.perf_counter() - started

        setattr(cls, name, timed)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--partition-size", default="8MiB")
    parser.add_argument("--reps", type=int, default=2)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="zeekflow-join-"))
    spent = [0.0]
    _timing_joins(spent)
    try:
        source = work / "conn.ndjson"
        generate_capture(str(source), args.lines, seed=1)
        for _ in range(args.reps):
            for layout in ("single file", "--dataset"):
                output = work / ("conn" if layout == "--dataset" else "conn.csv")
                spent[0] = 0.0
                started = time.perf_counter()
                summary = convert(ConvertOptions([str(source)], str(output), workers=2, worker_kind="processes",
                                                 partition_size=args.partition_size, dataset=layout == "--dataset"))
                took = time.perf_counter() - started
                print(f"{layout:12} {summary.partitions} partitions, {summary.output_bytes / 1e6:,.1f} MB out: "
                      f"run {took:.2f} s, client join {spent[0]:.3f} s", flush=True)
                shutil.rmtree(output) if os.path.isdir(output) else os.unlink(output)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
