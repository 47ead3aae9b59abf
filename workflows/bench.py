"""Side-by-side benchmark: zeekflow against DuckDB, Polars and plain Python on the same generated capture.

Every conversion runs as a whole process (start-up, planning and concatenation count), the engines alternate
within each repetition so a noisy machine hurts them alike, and the median of the repetitions is reported.
Peak memory is sampled from the OS (psutil) for the process and every process it starts, so the Dask
workers of zeekflow's LocalCluster are measured one by one. Each output's row count is checked.
"""

from __future__ import annotations

import importlib.util
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Callable, Sequence

from .errors import RunFailed, UsageError
from .generate import generate_capture
from .schema import CONN

PEERS_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "peers.py")
DEFAULT_ENGINES = ("read", "zeekflow", "zeekflow-1", "duckdb", "polars", "pyarrow", "orjson-lines")
ENGINES = (*DEFAULT_ENGINES, "json-lines")
LABELS = {
    "read": "reading the file (cat > /dev/null)",
    "zeekflow": "zeekflow convert, LocalCluster with all cores",
    "zeekflow-1": "zeekflow convert, 1 worker",
    "duckdb": "DuckDB COPY (SELECT cols FROM read_json(...)) TO csv, all threads",
    "polars": "Polars scan_ndjson(...).select(cols).sink_csv(...)",
    "pyarrow": "pyarrow json.read_json -> csv.write_csv",
    "orjson-lines": "Python, orjson one line at a time + csv.writer, 1 process",
    "json-lines": "Python, json + csv.DictWriter, 1 process",
}
# Which package each engine needs beyond the base install (zeekflow[bench]).
NEEDS = {"duckdb": "duckdb", "polars": "polars", "pyarrow": "pyarrow"}
# psutil samples each process this often (a run shorter than that, like `cat` of a small file, may show none).
SAMPLE_EVERY_S = 0.05


@dataclass
class BenchConfig:
    """What ``zeekflow bench`` runs. ``memory_lines`` and ``curve`` add their own sections to the report."""

    lines: int = 5_000_000
    reps: int = 3
    data_dir: str = "data/bench"
    engines: Sequence[str] = DEFAULT_ENGINES
    partition_size: str | None = None
    workers: int | None = None
    curve: Sequence[str] = ()
    memory_lines: Sequence[int] = ()
    keep_outputs: bool = False

    def validate(self) -> None:
        unknown = [e for e in self.engines if e not in ENGINES]
        if unknown:
            raise UsageError(f"unknown engine(s) {', '.join(unknown)}; known: {', '.join(ENGINES)}")
        if self.lines < 1 or self.reps < 1:
            raise UsageError("--lines and --reps must be at least 1")


@dataclass
class ProcessUsage:
    """What the OS showed of one run: peak RSS of the process and of each process it started, CPU seconds."""

    client_peak_rss: int = 0
    child_peak_rss: dict[int, int] = field(default_factory=dict)
    child_cpu_s: dict[int, float] = field(default_factory=dict)
    client_cpu_s: float = 0.0


@dataclass
class Run:
    wall_s: float
    client_peak_mb: float
    worker_peak_mb: list[float]
    worker_cpu_s: float
    rows: int
    # zeekflow only, from its summary: the tasks' time on the workers, and how many workers there were.
    task_s: float | None = None
    workers: int | None = None


@dataclass
class EngineResult:
    """The medians of one engine's runs, and every run."""

    engine: str
    label: str
    lines: int
    input_bytes: int
    runs: list[Run] = field(default_factory=list)
    skipped: str | None = None

    @property
    def wall_s(self) -> float:
        return statistics.median(r.wall_s for r in self.runs) if self.runs else 0.0

    @property
    def lines_per_s(self) -> float:
        return self.lines / self.wall_s if self.runs and self.wall_s > 0 else 0.0

    @property
    def mb_per_s(self) -> float:
        return self.input_bytes / 1e6 / self.wall_s if self.runs and self.wall_s > 0 else 0.0

    @property
    def client_peak_mb(self) -> float:
        return max((r.client_peak_mb for r in self.runs), default=0.0)

    @property
    def worker_peak_mb(self) -> list[float]:
        """Each worker's peak over the runs, biggest first."""
        if not self.runs:
            return []
        width = max(len(r.worker_peak_mb) for r in self.runs)
        return [max(r.worker_peak_mb[i] if i < len(r.worker_peak_mb) else 0.0 for r in self.runs)
                for i in range(width)]

    @property
    def workers_busy(self) -> float | None:
        """CPU time of the workers over (workers x wall time): how much of the run the workers were working,
        start-up, planning, scheduling and concatenation being the rest. None without worker processes."""
        shares = [r.worker_cpu_s / (len(r.worker_peak_mb) * r.wall_s) for r in self.runs if r.worker_peak_mb]
        return statistics.median(shares) if shares else None

    @property
    def tasks_busy(self) -> float | None:
        """The tasks' time on the workers over (workers x wall time): the issue's "workers' busy time divided
        by the number of workers" against the end-to-end time. None for an engine without tasks."""
        shares = [r.task_s / (r.workers * r.wall_s) for r in self.runs if r.task_s is not None and r.workers]
        return statistics.median(shares) if shares else None

    @property
    def rows(self) -> int | None:
        return self.runs[0].rows if self.runs and self.runs[0].rows >= 0 else None

    def to_dict(self) -> dict:
        return {
            "engine": self.engine, "label": self.label, "skipped": self.skipped, "lines": self.lines,
            "lines_per_s": round(self.lines_per_s), "mb_per_s": round(self.mb_per_s, 1),
            "wall_s": round(self.wall_s, 3), "client_peak_mb": round(self.client_peak_mb, 1),
            "worker_peak_mb": [round(m, 1) for m in self.worker_peak_mb],
            "workers_busy": None if self.workers_busy is None else round(self.workers_busy, 3),
            "tasks_busy": None if self.tasks_busy is None else round(self.tasks_busy, 3), "rows": self.rows,
            "runs": [asdict(r) for r in self.runs],
        }


def _is_worker(process, client_pid: int) -> bool:
    """A LocalCluster worker is a process the client starts through multiprocessing's spawn. Multiprocessing's
    resource tracker is not one, nor a short-lived command a worker runs (``uname -p``...): between its fork
    and its exec such a command still shows the worker's command line, but its parent is the worker."""
    command = " ".join(process.cmdline())
    return ("spawn_main" in command and "resource_tracker" not in command
            and process.ppid() == client_pid)


def _sample_tree(process: subprocess.Popen, usage: ProcessUsage, stop: threading.Event) -> None:
    import psutil

    try:
        root = psutil.Process(process.pid)
    except psutil.NoSuchProcess:
        return
    while not stop.is_set():
        try:
            usage.client_peak_rss = max(usage.client_peak_rss, root.memory_info().rss)
            times = root.cpu_times()
            usage.client_cpu_s = times.user + times.system
            children = root.children(recursive=True)
        except psutil.NoSuchProcess:
            return
        for child in children:
            try:
                # Checked at every sample until it is a worker: just after the fork, a worker-to-be still
                # shows its parent's command line.
                if child.pid not in usage.child_peak_rss and not _is_worker(child, root.pid):
                    continue
                rss = child.memory_info().rss
                times = child.cpu_times()
            except psutil.NoSuchProcess:
                continue
            usage.child_peak_rss[child.pid] = max(usage.child_peak_rss.get(child.pid, 0), rss)
            usage.child_cpu_s[child.pid] = times.user + times.system
        stop.wait(SAMPLE_EVERY_S)


def measure(argv: list[str], stdout=subprocess.DEVNULL) -> tuple[float, ProcessUsage]:
    """Run ``argv`` to the end; return its wall time and what was sampled of its process tree."""
    usage = ProcessUsage()
    stop = threading.Event()
    started = time.perf_counter()
    process = subprocess.Popen(argv, stdout=stdout, stderr=subprocess.PIPE)
    sampler = threading.Thread(target=_sample_tree, args=(process, usage, stop), daemon=True)
    sampler.start()
    _, stderr = process.communicate()
    wall = time.perf_counter() - started
    stop.set()
    sampler.join()
    if process.returncode != 0:
        tail = stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no message"]
        raise RunFailed(f"{' '.join(argv[:4])} ... exited with {process.returncode}: {tail[0]}")
    return wall, usage


def count_rows(path: str) -> int:
    """Rows of a CSV written by any engine: its lines minus the header (no engine writes embedded newlines
    for a generated capture)."""
    newlines = 0
    with open(path, "rb") as f:
        while chunk := f.read(2**24):
            newlines += chunk.count(b"\n")
    return max(newlines - 1, 0)


def ensure_capture(data_dir: str, lines: int) -> str:
    """A generated capture of ``lines`` lines under ``data_dir``, made once and reused (same seed, same bytes)."""
    os.makedirs(data_dir, exist_ok=True)
    path = os.path.join(data_dir, f"bench-conn-{lines}.ndjson")
    if not os.path.exists(path):
        generate_capture(path, lines, seed=1)
    return path


def _zeekflow_argv(capture: str, output: str, workers: int | None, partition_size: str | None) -> list[str]:
    argv = [sys.executable, "-m", "workflows", "convert", capture, "-o", output, "--no-progress",
            "--summary-json", output + ".summary.json"]
    if workers:
        argv += ["--workers", str(workers)]
    if partition_size:
        argv += ["--partition-size", partition_size]
    return argv


def engine_argv(engine: str, capture: str, output: str, config: BenchConfig) -> list[str]:
    """The command line that runs ``engine`` on ``capture`` as its own process."""
    if engine == "read":
        return ["cat", capture]
    if engine == "zeekflow":
        return _zeekflow_argv(capture, output, config.workers, config.partition_size)
    if engine == "zeekflow-1":
        return _zeekflow_argv(capture, output, 1, config.partition_size)
    columns = json.dumps([[c.name, c.kind.value] for c in CONN.columns])
    return [sys.executable, PEERS_SCRIPT, engine, capture, output, columns]


def _missing(engine: str) -> str | None:
    package = NEEDS.get(engine)
    if package and importlib.util.find_spec(package) is None:
        return f"{package} is not installed (pip install 'zeekflow[bench]')"
    return None


def run_engine_once(engine: str, capture: str, config: BenchConfig, check_rows: bool) -> Run:
    output = os.path.join(config.data_dir, f"out-{engine}.csv")
    argv = engine_argv(engine, capture, output, config)
    summary = output + ".summary.json"
    try:
        wall, usage = measure(argv)
        rows = count_rows(output) if check_rows and engine != "read" else -1
        task_s = worker_count = None
        if os.path.exists(summary):
            with open(summary, encoding="utf-8") as f:
                facts = json.load(f)
            task_s, worker_count = facts["task_seconds"], facts["workers"]
    finally:
        if not config.keep_outputs:
            for leftover in (output, output + ".rejects.ndjson", summary):
                if os.path.exists(leftover):
                    os.unlink(leftover)
    workers = sorted(usage.child_peak_rss.values(), reverse=True)
    return Run(
        wall_s=round(wall, 3),
        client_peak_mb=round(usage.client_peak_rss / 2**20, 1),
        worker_peak_mb=[round(rss / 2**20, 1) for rss in workers],
        worker_cpu_s=round(sum(usage.child_cpu_s.values()), 2),
        rows=rows,
        task_s=task_s,
        workers=worker_count,
    )


def run_engines(config: BenchConfig, capture: str, lines: int, engines: Sequence[str],
                progress: Callable[[str], None] = lambda _: None) -> list[EngineResult]:
    """Run each engine ``config.reps`` times, alternating engines within a repetition."""
    size = os.path.getsize(capture)
    results = {e: EngineResult(e, LABELS[e], lines, size, skipped=_missing(e)) for e in engines}
    for rep in range(config.reps):
        for engine, result in results.items():
            if result.skipped:
                continue
            run = run_engine_once(engine, capture, config, check_rows=rep == 0)
            result.runs.append(run)
            progress(f"rep {rep + 1}/{config.reps} {engine}: {run.wall_s:.2f} s, "
                     f"{lines / run.wall_s:,.0f} lines/s")
    return list(results.values())


def ratios(results: list[EngineResult]) -> dict[str, float]:
    """zeekflow's lines/s over each peer's, and the per-worker ratio against the line-at-a-time baseline."""
    by_name = {r.engine: r for r in results if r.runs}
    out: dict[str, float] = {}
    for ours in ("zeekflow", "zeekflow-1"):
        if ours not in by_name:
            continue
        for peer, result in by_name.items():
            if not peer.startswith("zeekflow") and peer != "read" and result.lines_per_s:
                out[f"{ours} / {peer}"] = round(by_name[ours].lines_per_s / result.lines_per_s, 2)
    if "zeekflow" in by_name and "zeekflow-1" in by_name:
        out["zeekflow / zeekflow-1 (scaling)"] = round(
            by_name["zeekflow"].lines_per_s / by_name["zeekflow-1"].lines_per_s, 2)
    for ours in ("zeekflow", "zeekflow-1"):
        busy = by_name[ours].tasks_busy if ours in by_name else None
        if busy:
            # End to end (Python start to exit) over the workers' busy time per worker: 1.0 is no overhead.
            out[f"{ours} wall / (task time / workers)"] = round(1 / busy, 2)
    return out


def row_check(results: list[EngineResult], lines: int) -> dict[str, int | None]:
    """Rows each engine wrote; every one must equal the capture's lines (a generated capture is all valid)."""
    rows = {r.engine: r.rows for r in results if r.runs and r.engine != "read"}
    wrong = {name: n for name, n in rows.items() if n != lines}
    if wrong:
        raise RunFailed(f"row counts differ from the {lines:,} lines of the capture: {wrong}")
    return rows


def run_bench(config: BenchConfig, progress: Callable[[str], None] = lambda _: None) -> dict:
    """The whole benchmark as a JSON-ready report (see README, Performance)."""
    config.validate()
    if importlib.util.find_spec("psutil") is None:
        raise UsageError("zeekflow bench samples memory with psutil: pip install 'zeekflow[bench]'")
    import psutil

    report: dict = {
        "machine": {"cpus": os.cpu_count(), "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
                    "python": sys.version.split()[0]},
        "config": {k: v for k, v in asdict(config).items() if k != "keep_outputs"},
    }
    progress(f"capture of {config.lines:,} lines")
    capture = ensure_capture(config.data_dir, config.lines)
    report["input_bytes"] = os.path.getsize(capture)
    report["lines"] = config.lines
    results = run_engines(config, capture, config.lines, config.engines, progress)
    report["engines"] = [r.to_dict() for r in results]
    report["ratios"] = ratios(results)
    report["rows"] = row_check(results, config.lines)

    if config.curve:
        # Sizes alternate within each repetition, like the engines do.
        sized = {size: BenchConfig(**{**asdict(config), "partition_size": size}) for size in config.curve}
        points = {size: EngineResult("zeekflow", LABELS["zeekflow"], config.lines, report["input_bytes"])
                  for size in config.curve}
        for rep in range(config.reps):
            for size, point in points.items():
                run = run_engine_once("zeekflow", capture, sized[size], check_rows=False)
                point.runs.append(run)
                progress(f"rep {rep + 1}/{config.reps} zeekflow --partition-size {size}: {run.wall_s:.2f} s")
        report["curve"] = [
            {"partition_size": size, "lines_per_s": round(point.lines_per_s), "wall_s": round(point.wall_s, 3),
             "workers_busy": round(point.workers_busy or 0, 3),
             "worker_peak_mb": [round(m, 1) for m in point.worker_peak_mb]}
            for size, point in points.items()
        ]

    if config.memory_lines:
        memory = []
        for lines in config.memory_lines:
            progress(f"capture of {lines:,} lines")
            big = ensure_capture(config.data_dir, lines)
            result = run_engines(config, big, lines, ["zeekflow"], progress)[0]
            row_check([result], lines)
            memory.append({"lines": lines, "input_bytes": os.path.getsize(big), "wall_s": round(result.wall_s, 3),
                           "lines_per_s": round(result.lines_per_s), "client_peak_mb": result.client_peak_mb,
                           "worker_peak_mb": result.worker_peak_mb})
        first, last = memory[0], memory[-1]
        report["memory"] = {
            "runs": memory,
            "client_growth": round(last["client_peak_mb"] / first["client_peak_mb"], 3),
            "worker_growth": round(max(last["worker_peak_mb"], default=0) / max(first["worker_peak_mb"], default=1), 3),
        }
    return report


def _mb(values: list[float]) -> str:
    return " / ".join(f"{v:,.0f}" for v in values) if values else "—"


def format_report(report: dict) -> str:
    """The report as text: the main table, ratios, then the curve and memory sections when present."""
    out = [f"{report['lines']:,} lines, {report['input_bytes'] / 1e6:,.1f} MB; {report['machine']['cpus']} CPUs; "
           f"median of {report['config']['reps']} runs each",
           "",
           "| tool | lines/s | MB/s | wall s | peak RSS client MB | peak RSS workers MB | workers busy (CPU) | "
           "tasks busy | rows |",
           "|---|---|---|---|---|---|---|---|---|"]
    for e in report["engines"]:
        if e["skipped"]:
            out.append(f"| {e['label']} | skipped: {e['skipped']} | | | | | | | |")
            continue
        rows = "—" if e["rows"] is None else f"{e['rows']:,}"
        busy = "—" if e["workers_busy"] is None else f"{e['workers_busy']:.0%}"
        tasks = "—" if e["tasks_busy"] is None else f"{e['tasks_busy']:.0%}"
        client = f"{e['client_peak_mb']:,.0f}" if e["client_peak_mb"] else "—"
        out.append(f"| {e['label']} | {e['lines_per_s']:,} | {e['mb_per_s']:,.1f} | {e['wall_s']:.2f} | "
                   f"{client} | {_mb(e['worker_peak_mb'])} | {busy} | {tasks} | {rows} |")
    out += ["", "ratios (lines/s):"] + [f"  {k}: {v:.2f}" for k, v in report["ratios"].items()]
    if "curve" in report:
        out += ["", "| partition size | lines/s | wall s | workers busy | peak RSS workers MB |", "|---|---|---|---|---|"]
        out += [f"| {c['partition_size']} | {c['lines_per_s']:,} | {c['wall_s']:.2f} | {c['workers_busy']:.0%} | "
                f"{_mb(c['worker_peak_mb'])} |" for c in report["curve"]]
    if "memory" in report:
        out += ["", "| lines | MB | wall s | lines/s | peak RSS client MB | peak RSS workers MB |",
                "|---|---|---|---|---|---|"]
        out += [f"| {m['lines']:,} | {m['input_bytes'] / 1e6:,.0f} | {m['wall_s']:.2f} | {m['lines_per_s']:,} | "
                f"{m['client_peak_mb']:,.0f} | {_mb(m['worker_peak_mb'])} |" for m in report["memory"]["runs"]]
        out.append(f"memory growth from the smallest to the biggest capture: client x{report['memory']['client_growth']}, "
                   f"workers x{report['memory']['worker_growth']}")
    return "\n".join(out)
