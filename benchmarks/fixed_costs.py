"""A run's fixed costs, part by part: what a ``zeekflow convert`` spends besides converting its partitions.

    .venv/bin/python benchmarks/fixed_costs.py INPUT [--reps R] [--worker-kind auto|threads|processes]

Each repetition is a fresh interpreter converting INPUT to a CSV file beside it (deleted after), on the
embedded cluster, as the command does (``cli.entry``: the process exits without the interpreter's teardown).
The parts, from timers around the library's own steps (the reporter's hooks and the final join), medians:

* ``start``: from spawning the interpreter to the first line of the script (Python's own start-up);
* ``imports``: ``workflows.cli`` with what it imports (dask, distributed, numpy, click...);
* ``planning, cluster, client``: from ``convert()`` to the cluster's workers ready (inputs checked, the
  partitions planned, the work dir and manifest made, the LocalCluster and its client started);
* ``tail join, fsync``: from the last partition's end to the outputs renamed (the shards still waiting, the
  final fsync of the output and rejects files, the renames);
* ``shutdown``: the client and cluster closed, the summary returned, the process gone (the outputs are
  deleted after that, off the clock).

The conversion itself (first task submitted to last task done) is reported beside them, not in the sum.
Nothing is asserted: the figures go in the README's Performance section.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

PARTS = ("start", "imports", "planning, cluster, client", "tail join, fsync", "shutdown")


def _child(path: str, worker_kind: str, spawned: float) -> None:
    """One run in this fresh interpreter; prints its timings as JSON, then exits as the command does."""
    times = {"script": time.time()}
    import workflows.cli  # noqa: F401  (the command's imports)

    from workflows.concat import OrderedConcat
    from workflows.convert import convert
    from workflows.options import ConvertOptions
    from workflows.progress import Reporter

    times["imported"] = time.time()
    finish = OrderedConcat.finish

    def timed_finish(self, count):
        result = finish(self, count)
        times["joined"] = time.time()  # the last of the two outputs (rejects first, then the CSV)
        return result

    OrderedConcat.finish = timed_finish

    class Hooks(Reporter):
        def cluster_ready(self, dashboard, workers, run_page=None):
            times["ready"] = time.time()

        def finished(self):
            times["converted"] = time.time()

    output = f"{path}.fixed-costs.csv"
    times["convert"] = time.time()
    summary = convert(ConvertOptions(inputs=[path], output=output, worker_kind=worker_kind), Hooks())
    times["returned"] = time.time()
    print(json.dumps({**times, "spawned": spawned, "lines": summary.lines, "outputs": [output, summary.rejects]}),
          flush=True)
    os._exit(0)


def one_run(path: str, worker_kind: str) -> dict[str, float]:
    spawned = time.time()
    done = subprocess.run([sys.executable, __file__, "--child", path, "--worker-kind", worker_kind,
                           "--spawned", repr(spawned)], capture_output=True, text=True, check=True)
    exited = time.time()
    t = json.loads(done.stdout.strip().splitlines()[-1])
    for leftover in t["outputs"]:  # after the clock: deleting 700 MB is not the run's
        os.unlink(leftover)
    return {
        "start": t["script"] - t["spawned"],
        "imports": t["imported"] - t["script"],
        "planning, cluster, client": t["ready"] - t["convert"],
        "tail join, fsync": t["joined"] - t["converted"],
        "shutdown": exited - t["joined"],
        "conversion": t["converted"] - t["ready"],
        "lines": t["lines"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("input", nargs="?")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--worker-kind", default="auto")
    parser.add_argument("--child", metavar="INPUT", help=argparse.SUPPRESS)
    parser.add_argument("--spawned", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child, args.worker_kind, args.spawned)
    if not args.input:
        parser.error("INPUT is needed")
    runs = [one_run(args.input, args.worker_kind) for _ in range(args.reps)]
    print(f"{args.input}: {runs[0]['lines']:,} lines, {args.reps} runs, worker kind {args.worker_kind}, medians")
    print("| part | seconds | each run |")
    print("|---|---|---|")
    for part in PARTS + ("conversion",):
        values = [run[part] for run in runs]
        print(f"| {part} | {statistics.median(values):.3f} | {', '.join(f'{v:.3f}' for v in values)} |")
    fixed = [sum(run[part] for part in PARTS) for run in runs]
    print(f"| **fixed costs in all** | **{statistics.median(fixed):.3f}** | {', '.join(f'{v:.3f}' for v in fixed)} |")


if __name__ == "__main__":
    main()
