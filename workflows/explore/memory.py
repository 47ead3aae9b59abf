"""Measure the bounded-memory promise: peak worker memory and throughput of conversions of growing inputs.

The peak is the operating system's own high-water mark of each worker process (``ru_maxrss``), read on the
workers after the run: exact, with no sampling to miss a short spike. Before each run the mark is reset on
every worker (Linux: ``/proc/self/clear_refs``) so it belongs to that run alone; where the OS cannot reset it,
the workers are restarted instead, so use a cluster of your own (a LocalCluster), not a shared one.
"""

from __future__ import annotations

import os
import resource
import sys

import pandas as pd
from distributed import Client

from ..cluster import WORKER_MALLOC_ENVIRON
from ..convert import convert
from ..generate import generate_capture
from ..options import ConvertOptions

MEMORY_COLUMNS = ["lines", "input_bytes", "partitions", "workers", "duration_s", "lines_per_s", "mb_per_s",
                  "baseline_worker_rss_bytes", "peak_worker_rss_bytes"]


def peak_rss_bytes() -> int:
    """This process's peak resident set size so far (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def reset_peak_rss() -> bool:
    """Start this process's high-water mark again from its current size; False where the OS cannot."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # 5: reset the peak resident set size (Linux 4.0+)
    except OSError:
        return False
    return True


def current_rss_bytes() -> int:
    import psutil  # distributed depends on it

    return psutil.Process().memory_info().rss


def _malloc_environ() -> dict[str, str | None]:
    return {name: os.environ.get(name) for name in WORKER_MALLOC_ENVIRON}


def worker_malloc_report(client: Client) -> str:
    """One line saying whether every worker of the client's cluster runs with the malloc settings that
    ``zeekflow convert``'s own workers get (``cluster.WORKER_MALLOC_ENVIRON``): glibc's thresholds change a
    worker's memory and CPU per line, so a profile of other workers measures something else."""
    wanted = {name: str(value) for name, value in WORKER_MALLOC_ENVIRON.items()}
    seen = client.run(_malloc_environ)
    settings = ", ".join(f"{name}={value}" for name, value in wanted.items())
    if all(environ == wanted for environ in seen.values()):
        return f"{len(seen)} workers with zeekflow convert's malloc settings ({settings})"
    others = sorted({", ".join(f"{name}={value}" for name, value in environ.items()) for environ in seen.values()})
    return f"workers differ from zeekflow convert's malloc settings ({settings}): {'; '.join(others)}"


def measure_conversion(client: Client, capture: str, output: str, partition_size: str | int = "8MiB",
                       window: int = 64) -> dict:
    """Convert ``capture`` to ``output`` on the client's cluster and return one row of MEMORY_COLUMNS: the
    most any worker held at its peak during this run, and the run's throughput."""
    if not all(client.run(reset_peak_rss).values()):
        client.restart()  # fresh processes: their high-water mark starts now
    baseline = max(client.run(current_rss_bytes).values())
    summary = convert(ConvertOptions(inputs=[capture], output=output, scheduler=client.scheduler.address,
                                     partition_size=partition_size, window=window))
    peak = max(client.run(peak_rss_bytes).values())
    return {
        "lines": summary.lines,
        "input_bytes": summary.input_bytes,
        "partitions": summary.partitions,
        "workers": summary.workers,
        "duration_s": summary.duration_s,
        "lines_per_s": summary.lines_per_s,
        "mb_per_s": summary.input_bytes / 1e6 / summary.duration_s if summary.duration_s else 0.0,
        "baseline_worker_rss_bytes": baseline,
        "peak_worker_rss_bytes": peak,
    }


def memory_profile(client: Client, line_counts: list[int], folder: str, partition_size: str | int = "8MiB",
                   window: int = 64, seed: int = 0, keep_outputs: bool = False) -> pd.DataFrame:
    """Generate a capture of each size in ``line_counts`` under ``folder`` (kept and reused across calls),
    convert each with ``measure_conversion`` and return one row per size, smallest first."""
    os.makedirs(folder, exist_ok=True)
    rows = []
    for lines in sorted(line_counts):
        capture = os.path.join(folder, f"capture-{lines}-seed{seed}.ndjson")
        if not os.path.exists(capture):
            generate_capture(capture, lines, seed=seed, processes=1)
        output = os.path.join(folder, f"capture-{lines}.csv")
        rows.append(measure_conversion(client, capture, output, partition_size, window))
        if not keep_outputs:
            for path in (output, output + ".rejects.ndjson"):
                if os.path.exists(path):
                    os.unlink(path)
    return pd.DataFrame(rows, columns=MEMORY_COLUMNS)
