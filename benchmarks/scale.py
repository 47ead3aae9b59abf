"""Proof run at scale: one `zeekflow convert` of N conn lines, sampled over time, with "flat" verdicts.

    .venv/bin/python benchmarks/scale.py [--lines 100000000] [--dir data/scale] [--keep] [-- CONVERT OPTIONS]

Builds the input once: a generated base capture (``--base-lines``, seed 1) written over and over as bytes until
it holds ``--lines`` lines (``zeekflow generate`` makes ~33,000 lines/s on 2 cores, a byte copy makes millions),
or ``--input FILE --repeat K``. Then runs ``python -m workflows convert`` on it as its own process and samples
it every ``--sample-every`` seconds: lines done (the manifest in the work dir gets one record per finished
partition), the RSS of the client and of every worker process (with worker threads the workers are the
client's own), the disk the work dir holds and the size of ``OUTPUT.tmp``. The report (text on stdout, JSON
with ``--report``) compares the first and the last tenth of the lines: throughput, RSS, and the work dir's peak
against the bound the bounded-disk design promises. The input and output are deleted at the end unless
``--keep``. Refuses (exit 2, one line) when the disk cannot hold the input and the output.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import psutil

from workflows.bench import _is_worker, count_rows
from workflows.commit import COMMIT_SHARDS
from workflows.errors import UsageError
from workflows.generate import generate_capture
from workflows.manifest import MANIFEST_NAME
from workflows.options import DEFAULT_WINDOW, parse_size

# The CSV of a generated conn capture is 0.364 of its NDJSON (measured: 100,000,000 lines, 39.43 -> 14.36 GB);
# the check asks for a little more so a wrong guess fails before the disk fills, not after.
OUTPUT_RATIO = 0.40
# Beyond the input and the output, what a run may hold at once (the work dir's bound at the defaults is
# (64 + 16) x 64 MiB x 0.36 ~ 1.9 GB) plus room for the rest of the machine.
SPARE_BYTES = 4 * 2**30
# "Flat" means: the last tenth's throughput at least this share of the first's (the machine is shared, runs
# move by +-20 %), and the last tenth's peak RSS at most this much above the first's.
THROUGHPUT_FLAT = 0.8
RSS_FLAT = 1.2


@dataclass
class Sample:
    t: float
    lines: int
    partitions: int
    client_rss: int
    client_cpu_s: float
    worker_rss: dict[int, int]
    work_dir_bytes: int
    output_tmp_bytes: int


@dataclass
class ManifestTail:
    """Reads the run's manifest as it grows: only the bytes added since the last look."""

    path: str
    offset: int = 0
    inode: int | None = None
    pending: bytes = b""
    lines: int = 0
    partitions: int = 0
    shards: list[dict] = field(default_factory=list)

    def poll(self) -> None:
        try:
            with open(self.path, "rb") as f:
                inode = os.fstat(f.fileno()).st_ino
                if inode != self.inode:  # the manifest is started under a temp name and renamed in
                    self.inode, self.offset, self.pending = inode, 0, b""
                    self.lines = self.partitions = 0
                    self.shards = []
                f.seek(self.offset)
                data = f.read()
        except FileNotFoundError:
            return
        self.offset += len(data)
        *complete, self.pending = (self.pending + data).split(b"\n")
        for line in complete:
            record = json.loads(line)
            if "shard" in record:
                self.shards.append(record["shard"])
                self.lines += record["shard"]["lines"]
                self.partitions += 1


def disk_use(folder: str) -> int:
    """Bytes the folder's files hold on disk (allocated blocks, as du counts them); files may vanish meanwhile."""
    total = 0
    try:
        entries = list(os.scandir(folder))
    except FileNotFoundError:
        return 0
    for entry in entries:
        try:
            total += entry.stat(follow_symlinks=False).st_blocks * 512
        except FileNotFoundError:
            continue
    return total


def _file_size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except FileNotFoundError:
        return 0


def build_input(destination: str, lines: int, base_lines: int, source: str | None, repeat: int | None) -> int:
    """Write the run's input; return its byte size. A base (generated, or ``source``) is repeated as bytes."""
    if source is not None:
        base = Path(source).read_bytes()
        copies, rest = repeat or 1, b""
    else:
        base_path = destination + ".base"
        generate_capture(base_path, min(lines, base_lines), seed=1)
        base = Path(base_path).read_bytes()
        os.unlink(base_path)
        copies, remainder = divmod(lines, min(lines, base_lines))
        cut = 0
        for _ in range(remainder):
            cut = base.index(b"\n", cut) + 1
        rest = base[:cut]
    with open(destination, "wb") as out:
        for _ in range(copies):
            out.write(base)
        out.write(rest)
    return len(base) * copies + len(rest)


def check_space(folder: str, input_bytes: int) -> None:
    """Refuse when ``folder``'s filesystem cannot hold the input, the output and the run's working room."""
    needed = input_bytes + int(input_bytes * OUTPUT_RATIO) + SPARE_BYTES
    free = shutil.disk_usage(folder).free
    if needed > free:
        raise UsageError(f"{folder}: {free / 1e9:.1f} GB free, the run needs about {needed / 1e9:.1f} GB "
                      f"(input {input_bytes / 1e9:.1f} GB + CSV ~{OUTPUT_RATIO:.2f} of it + "
                      f"{SPARE_BYTES / 2**30:.0f} GiB working room); give --dir on a bigger disk or fewer --lines")


def _sample(root: psutil.Process, started: float, manifest: ManifestTail, work_dir: str, output: str) -> Sample:
    manifest.poll()
    client = root.memory_info().rss
    times = root.cpu_times()
    workers = {}
    for child in root.children(recursive=True):
        try:
            if _is_worker(child, root.pid):
                workers[child.pid] = child.memory_info().rss
        except psutil.NoSuchProcess:
            continue
    return Sample(round(time.monotonic() - started, 3), manifest.lines, manifest.partitions, client,
                  round(times.user + times.system, 2), workers, disk_use(work_dir), _file_size(output + ".tmp"))


def run_convert(argv: list[str], work_dir: str, output: str, every: float) -> tuple[float, list[Sample], list[dict]]:
    """Run the conversion to the end, sampling it; return its wall time, the samples and the shard records."""
    manifest = ManifestTail(os.path.join(work_dir, MANIFEST_NAME))
    samples: list[Sample] = []
    started = time.monotonic()
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    root = psutil.Process(process.pid)
    while process.poll() is None:
        try:
            samples.append(_sample(root, started, manifest, work_dir, output))
        except psutil.NoSuchProcess:
            break
        time.sleep(every)
    stderr = process.communicate()[1]
    wall = time.monotonic() - started
    if process.returncode != 0:
        tail = stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no message"]
        raise RuntimeError(f"zeekflow convert exited with {process.returncode}: {tail[0]}")
    manifest.poll()  # the manifest is gone with the work dir once the run succeeds: what was read is kept
    return wall, samples, manifest.shards


def _crossing(samples: list[Sample], lines: int) -> Sample:
    """The first sample at which at least ``lines`` lines were done (the last sample if none)."""
    return next((s for s in samples if s.lines >= lines), samples[-1])


def _tenth(samples: list[Sample], total: int, first: bool) -> list[Sample]:
    """The samples taken during the first (or last) tenth of the lines; at least the one that ends it."""
    low, high = (0, total // 10) if first else (total - total // 10, total)
    inside = [s for s in samples if low < s.lines <= high] if first else [s for s in samples if low <= s.lines < high]
    return inside or [_crossing(samples, high if first else low)]


def _rate(start: Sample, end: Sample) -> float:
    return (end.lines - start.lines) / (end.t - start.t) if end.t > start.t else 0.0


def _peak_mb(samples: list[Sample], workers: bool) -> float:
    values = [max(s.worker_rss.values(), default=0) if workers else s.client_rss for s in samples]
    return round(max(values, default=0) / 2**20, 1)


def analyse(samples: list[Sample], shards: list[dict], summary: dict, window: int) -> dict:
    """The report's figures and verdicts from the samples, the shard records and the run's summary."""
    total = summary["lines"]
    done = [s for s in samples if s.lines > 0]
    if len(done) < 2:
        raise RuntimeError("too few samples with progress to compare tenths: lower --sample-every")
    # Each tenth between the samples that bracket it: from the first progress seen to the first sample past a
    # tenth of the lines, and from the last sample before nine tenths to the first with every line done.
    first_start = done[0]
    first_end = next((s for s in done if s.lines >= total // 10 and s.t > first_start.t), done[-1])
    last_end = _crossing(done, total)
    last_start = next((s for s in reversed(done) if s.lines <= total - total // 10 and s.t < last_end.t), done[0])
    first_rate, last_rate = _rate(first_start, first_end), _rate(last_start, last_end)
    head, tail = _tenth(done, total, True), _tenth(done, total, False)
    # Disk the design promises: the shards waiting for an earlier one (at most the window) and the joined but
    # uncommitted ones (at most a commit batch), each with its rejects shard, plus the manifest.
    largest = max((s["bytes_out"] for s in shards), default=0)
    block = 4096
    bound = (window + COMMIT_SHARDS) * (largest + 2 * block) + 64 * block + len(shards) * 1024
    peak_disk = max(s.work_dir_bytes for s in samples)
    rss = {}
    for who, workers in (("client", False), ("worker", True)):
        first_mb, last_mb = _peak_mb(head, workers), _peak_mb(tail, workers)
        rss[who] = {"first_tenth_peak_mb": first_mb, "last_tenth_peak_mb": last_mb,
                    "peak_mb": _peak_mb(samples, workers),
                    "ratio": round(last_mb / first_mb, 3) if first_mb else None,
                    "flat": last_mb <= RSS_FLAT * first_mb if first_mb else None}
    return {
        "lines": total, "rows": summary["rows"], "rejected": summary["rejected"], "blank": summary["blank"],
        "partitions": summary["partitions"], "manifest_lines": sum(s["lines"] for s in shards),
        "manifest_partitions": len(shards), "duration_s": summary["duration_s"],
        "lines_per_s": summary["lines_per_s"], "task_seconds": summary["task_seconds"],
        "workers": summary["workers"], "worker_kind": summary.get("worker_kind"), "window": window,
        "client_cpu_s": samples[-1].client_cpu_s, "samples": len(samples), "worker_processes_seen": len({pid for s in samples for pid in s.worker_rss}),
        "throughput": {"first_tenth_lines_per_s": round(first_rate), "last_tenth_lines_per_s": round(last_rate),
                       "ratio": round(last_rate / first_rate, 3) if first_rate else None,
                       "flat": last_rate >= THROUGHPUT_FLAT * first_rate if first_rate else None,
                       "threshold": f"last tenth >= {THROUGHPUT_FLAT} x first tenth"},
        "rss": {**rss, "threshold": f"last tenth's peak <= {RSS_FLAT} x first tenth's peak"},
        "disk": {"work_dir_peak_bytes": peak_disk, "largest_shard_bytes": largest, "bound_bytes": bound,
                 "flat": peak_disk <= bound,
                 "threshold": f"peak <= (window + {COMMIT_SHARDS}) x (largest shard + 2 blocks) + manifest",
                 "output_tmp_peak_bytes": max(s.output_tmp_bytes for s in samples)},
    }


def format_report(report: dict) -> str:
    f = report
    t, d, r = f["throughput"], f["disk"], f["rss"]

    def verdict(flag: bool | None) -> str:
        return "n/a" if flag is None else ("flat" if flag else "NOT flat")

    lines = [
        f"{f['lines']:,} lines ({f['input_bytes'] / 1e9:.2f} GB) -> {f['output_bytes'] / 1e9:.2f} GB CSV "
        f"in {f['wall_s']:,.1f} s ({f['lines'] / f['wall_s']:,.0f} lines/s end to end; run {f['duration_s']:,.1f} s, "
        f"{f['lines_per_s']:,.0f} lines/s); {f['partitions']} partitions, {f['workers']} workers "
        f"({f['worker_kind'] or 'remote'}), window {f['window']}",
        f"rows {f['rows']:,} + rejected {f['rejected']:,} + blank {f['blank']:,}; output rows counted "
        f"{f['output_rows']:,}",
        f"throughput: first tenth {t['first_tenth_lines_per_s']:,} lines/s, last tenth "
        f"{t['last_tenth_lines_per_s']:,} (x{t['ratio']}): {verdict(t['flat'])} ({t['threshold']})",
    ]
    for who in ("client", "worker"):
        x = r[who]
        if not x["peak_mb"]:
            lines.append(f"RSS {who}: none sampled (worker threads live in the client)")
            continue
        lines.append(f"RSS {who}: first tenth {x['first_tenth_peak_mb']:,.0f} MB, last tenth "
                     f"{x['last_tenth_peak_mb']:,.0f} MB (x{x['ratio']}), peak {x['peak_mb']:,.0f} MB: "
                     f"{verdict(x['flat'])} ({r['threshold']})")
    lines.append(f"work dir: peak {d['work_dir_peak_bytes'] / 2**20:,.1f} MiB, bound "
                 f"{d['bound_bytes'] / 2**20:,.1f} MiB (largest shard {d['largest_shard_bytes'] / 2**20:,.1f} MiB): "
                 f"{verdict(d['flat'])} ({d['threshold']})")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lines", type=int, default=100_000_000, help="generated input lines (default 100000000)")
    parser.add_argument("--base-lines", type=int, default=1_000_000, help="generated once, then repeated")
    parser.add_argument("--input", help="repeat this file instead of generating")
    parser.add_argument("--repeat", type=int, help="copies of --input (default 1)")
    parser.add_argument("--dir", default="data/scale", help="where the input, output and work dir go")
    parser.add_argument("--partition-size", default="64MiB")
    parser.add_argument("--window", type=int, default=DEFAULT_WINDOW)
    parser.add_argument("--workers", type=int)
    parser.add_argument("--worker-kind", default="auto")
    parser.add_argument("--sample-every", type=float, default=1.0, help="seconds between samples (default 1)")
    parser.add_argument("--report", help="write the report as JSON here")
    parser.add_argument("--keep", action="store_true", help="keep the input and output")
    parser.add_argument("extra", nargs="*", help="more `zeekflow convert` options, after --")
    args = parser.parse_args(argv)
    try:
        return _run(args)
    except UsageError as error:
        print(f"scale.py: {error}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    if args.input is None and args.repeat is not None:
        raise UsageError("--repeat repeats --input; give --input FILE")
    if args.input is not None and not os.path.isfile(args.input):
        raise UsageError(f"--input {args.input}: no such file")
    if args.lines < 1 or args.base_lines < 1 or (args.repeat is not None and args.repeat < 1):
        raise UsageError("--lines, --base-lines and --repeat must be at least 1")
    parse_size(args.partition_size)
    os.makedirs(args.dir, exist_ok=True)
    source = os.path.join(args.dir, "conn.ndjson")
    output = os.path.join(args.dir, "conn.csv")
    work_dir = output + ".parts"
    summary_path = output + ".summary.json"
    if args.input is not None:
        planned = os.path.getsize(args.input) * (args.repeat or 1)
    else:
        # The generated lines average 394 bytes (1,000,000 lines are 394 MB); a little more to be safe.
        planned = args.lines * 400
    check_space(args.dir, planned)
    built = time.monotonic()
    input_bytes = build_input(source, args.lines, args.base_lines, args.input, args.repeat)
    build_s = time.monotonic() - built
    argv = [sys.executable, "-m", "workflows", "convert", source, "-o", output, "--no-progress",
            "--summary-json", summary_path, "--partition-size", args.partition_size,
            "--window", str(args.window), "--worker-kind", args.worker_kind,
            *(["--workers", str(args.workers)] if args.workers else []), *args.extra]
    try:
        wall, samples, shards = run_convert(argv, work_dir, output, args.sample_every)
        summary = json.loads(Path(summary_path).read_text())
        report = analyse(samples, shards, summary, args.window)
        report.update(command=" ".join(argv), input_bytes=input_bytes, input_build_s=round(build_s, 1),
                      output_bytes=os.path.getsize(output), wall_s=round(wall, 3),
                      output_rows=count_rows(output), sample_every_s=args.sample_every,
                      series=[asdict(s) for s in samples])
    finally:
        if not args.keep:
            for path in (source, output, output + ".rejects.ndjson", summary_path):
                if os.path.exists(path):
                    os.unlink(path)
            shutil.rmtree(work_dir, ignore_errors=True)
    if args.report:
        Path(args.report).write_text(json.dumps(report, indent=1) + "\n")
    print(format_report(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
