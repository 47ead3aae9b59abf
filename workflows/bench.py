"""Side-by-side benchmark: zeekflow against DuckDB, chDB, Polars and plain Python on the same inputs.

The inputs (datasets) are the generated capture as NDJSON and its Zeek TSV twin (the same events), the real
Zeek JSON samples repeated up to a line count, or any files given (``--input``, optionally repeated with
``--repeat-to``). Every conversion runs as a whole process (start-up, planning and concatenation count), the
engines alternate within each repetition so a noisy machine hurts them alike, and the median of the
repetitions is reported. Peak memory is sampled from the OS (psutil) for the process and every process it
starts, so the Dask workers of zeekflow's LocalCluster are measured one by one. Every engine must write one
row per data line of the input, or the run fails. The CLI imports this module only for ``zeekflow bench``.
"""

from __future__ import annotations

import glob
import gzip
import hashlib
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
from .schema import CONN, kind_of

PEERS_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "peers.py")
DEFAULT_ENGINES = ("read", "zeekflow", "zeekflow-1", "duckdb", "chdb", "polars", "pyarrow", "orjson-lines")
ENGINES = (*DEFAULT_ENGINES, "json-lines")
LABELS = {
    "read": "reading the file (cat > /dev/null)",
    "zeekflow": "zeekflow convert, LocalCluster with all cores",
    "zeekflow-1": "zeekflow convert, 1 worker",
    "duckdb": "DuckDB COPY (SELECT cols FROM read_json(...)) TO csv, all threads",
    "chdb": "chDB INSERT INTO FUNCTION file(csv) SELECT cols FROM file(JSONEachRow), all threads",
    "polars": "Polars scan_ndjson(...).select(cols).sink_csv(...)",
    "pyarrow": "pyarrow json.read_json -> csv.write_csv",
    "orjson-lines": "Python, orjson one line at a time + csv.writer, 1 process",
    "json-lines": "Python, json + csv.DictWriter, 1 process",
}
# What engines do with a Zeek TSV input, where it differs.
TSV_LABELS = {
    "duckdb": "DuckDB read_csv(delim tab, comment '#', schema given) TO csv, all threads",
    "chdb": "chDB file(TSV, schema given, header lines skipped) TO csv, all threads",
}
READS_TSV = ("read", "zeekflow", "zeekflow-1", "duckdb", "chdb")
# Which package each engine needs beyond the base install (zeekflow[bench]).
NEEDS = {"duckdb": "duckdb", "chdb": "chdb", "polars": "polars", "pyarrow": "pyarrow"}
GENERATED = ("ndjson", "tsv")
# psutil samples each process this often (a run shorter than that, like `cat` of a small file, may show none).
SAMPLE_EVERY_S = 0.05


@dataclass
class BenchConfig:
    """What ``zeekflow bench`` runs. ``memory_lines`` and ``curve`` add their own sections to the report."""

    lines: int = 5_000_000
    reps: int = 3
    data_dir: str = "data/bench"
    engines: Sequence[str] = DEFAULT_ENGINES
    # Generated datasets (formats among GENERATED), files to benchmark (each entry one dataset: one file, or
    # several joined), and a folder of real samples whose json/*.ndjson are repeated to ``lines``.
    generate: Sequence[str] = GENERATED
    inputs: Sequence[Sequence[str]] = ()
    repeat_to: int | None = None
    samples: str | None = None
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
        wrong = [f for f in self.generate if f not in GENERATED]
        if wrong:
            raise UsageError(f"unknown --generate format(s) {', '.join(wrong)}; known: {', '.join(GENERATED)}")
        if self.repeat_to is not None and self.repeat_to < 1:
            raise UsageError("--repeat-to must be at least 1")
        for group in self.inputs:
            for path in group:
                if not os.path.isfile(path):
                    raise UsageError(f"--input {path}: no such file")


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
    worker_kind: str | None = None  # "threads": the workers live in the client process, counted in its memory


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


def ensure_capture(data_dir: str, lines: int, fmt: str = "ndjson") -> str:
    """A generated capture of ``lines`` lines under ``data_dir``, made once and reused (same seed, same bytes);
    ``fmt="tsv"`` gives its Zeek TSV twin (the same events)."""
    os.makedirs(data_dir, exist_ok=True)
    path = os.path.join(data_dir, f"bench-conn-{lines}.{'log' if fmt == 'tsv' else 'ndjson'}")
    if not os.path.exists(path):
        generate_capture(path, lines, seed=1, fmt=fmt)
    return path


@dataclass
class Dataset:
    """One benchmark input: the file every engine reads, its format, its data lines and the columns the peers
    are asked for (zeekflow writes its own: the conn schema for NDJSON, the ``#fields`` for TSV)."""

    name: str
    path: str
    fmt: str
    lines: int
    columns: list[tuple[str, str]]
    skipped: str | None = None


def _open_text(path: str):
    return gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb")


def _is_tsv(path: str) -> bool:
    with _open_text(path) as f:
        return f.read(11) == b"#separator "


def _split_tsv(path: str) -> tuple[list[bytes], list[bytes], list[bytes]]:
    """A Zeek TSV file's leading ``#`` lines, data lines and trailing ``#`` lines (``#close``)."""
    with _open_text(path) as f:
        lines = f.read().splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if not line.startswith(b"#")), len(lines))
    end = len(lines)
    while end > start and lines[end - 1].startswith(b"#"):
        end -= 1
    body = [line for line in lines[start:end] if line.strip()]
    if any(line.startswith(b"#") for line in body):
        raise UsageError(f"{path}: a Zeek TSV log with header lines in the middle cannot be repeated")
    return lines[:start], body, lines[end:]


def repeat_lines(paths: Sequence[str], target: int | None, destination: str) -> int:
    """Write the data lines of ``paths`` (in order, then again from the first) to ``destination`` until it
    holds ``target`` lines (all of them once when None); return that count. NDJSON is copied line by line,
    blank lines left out; Zeek TSV keeps the first file's header once and the last file's ``#close`` at the
    end, and its files must share their ``#fields`` and ``#types``. Done once per name, then reused."""
    tsv = [_is_tsv(path) for path in paths]
    if any(tsv) and not all(tsv):
        raise UsageError(f"--input {','.join(paths)}: NDJSON and Zeek TSV files cannot be joined")
    head: list[bytes] = []
    tail: list[bytes] = []
    body: list[bytes] = []
    if all(tsv):
        heads = []
        for path in paths:
            file_head, file_body, tail = _split_tsv(path)
            heads.append([line for line in file_head if line.startswith((b"#fields", b"#types"))])
            body += file_body
        if any(h != heads[0] for h in heads):
            raise UsageError(f"--input {','.join(paths)}: Zeek TSV files with different #fields cannot be joined")
        head = _split_tsv(paths[0])[0]
    else:
        for path in paths:
            with _open_text(path) as f:
                body += [line if line.endswith(b"\n") else line + b"\n" for line in f if line.strip()]
    if not body:
        raise UsageError(f"--input {','.join(paths)}: no data lines")
    target = len(body) if target is None else target
    if not os.path.exists(destination):
        temporary = destination + ".tmp"
        with open(temporary, "wb") as out:
            out.writelines(head)
            whole, rest = divmod(target, len(body))
            chunk = b"".join(body)
            for _ in range(whole):
                out.write(chunk)
            out.writelines(body[:rest])
            out.writelines(tail)
        os.replace(temporary, destination)
    return target


def _tsv_columns(path: str) -> list[tuple[str, str]]:
    from .tsv import parse_header

    with _open_text(path) as f:
        header = parse_header(f.read(1 << 16))
    if header is None or not header.fields or len(header.fields) != len(header.types):
        raise UsageError(f"{path}: a Zeek TSV log needs #fields and #types lines to be benchmarked")
    return [(name, kind_of(zeek_type).value) for name, zeek_type in zip(header.fields, header.types)]


CONN_COLUMNS = [(c.name, c.kind.value) for c in CONN.columns]


def _file_dataset(name: str, paths: Sequence[str], target: int | None, data_dir: str) -> Dataset:
    """A dataset from files: used as it is when it is one plain file and no repeat is asked, else written
    (joined, repeated) under ``data_dir``."""
    fmt = "tsv" if _is_tsv(paths[0]) else "ndjson"
    if len(paths) == 1 and target is None and not paths[0].endswith(".gz"):
        path = paths[0]
        if fmt == "tsv":
            lines = len(_split_tsv(path)[1])
        else:
            with open(path, "rb") as f:
                lines = sum(1 for line in f if line.strip())
    else:
        key = hashlib.sha256(json.dumps([[os.path.abspath(p), os.path.getsize(p), os.path.getmtime(p)]
                                         for p in paths]).encode()).hexdigest()[:12]
        path = os.path.join(data_dir, f"repeat-{key}-{target or 'all'}.{'log' if fmt == 'tsv' else 'ndjson'}")
        os.makedirs(data_dir, exist_ok=True)
        lines = repeat_lines(paths, target, path)
    columns = _tsv_columns(path) if fmt == "tsv" else CONN_COLUMNS
    return Dataset(name, path, fmt, lines, columns)


def build_datasets(config: BenchConfig, progress: Callable[[str], None] = lambda _: None) -> list[Dataset]:
    """The datasets of a run, in report order: generated NDJSON, the real samples, the TSV twin, the inputs."""
    generated = {}
    for fmt in [f for f in GENERATED if f in config.generate]:
        progress(f"generated {fmt} capture of {config.lines:,} lines")
        path = ensure_capture(config.data_dir, config.lines, fmt)
        columns = _tsv_columns(path) if fmt == "tsv" else CONN_COLUMNS
        name = "generated NDJSON" if fmt == "ndjson" else "generated, its Zeek TSV twin"
        generated[fmt] = Dataset(name, path, fmt, config.lines, columns)
    datasets = [generated["ndjson"]] if "ndjson" in generated else []
    if config.samples is not None:
        found = sorted(glob.glob(os.path.join(config.samples, "json", "*.ndjson")))
        name = f"real Zeek JSON samples, repeated ({', '.join(os.path.basename(p) for p in found) or 'none'})"
        if not found:
            datasets.append(Dataset(name, "", "ndjson", 0, CONN_COLUMNS,
                                    skipped=f"no {os.path.join(config.samples, 'json', '*.ndjson')}: samples absent"))
        else:
            progress(f"real samples repeated to {config.repeat_to or config.lines:,} lines")
            datasets.append(_file_dataset(name, found, config.repeat_to or config.lines, config.data_dir))
    datasets += [generated["tsv"]] if "tsv" in generated else []
    for group in config.inputs:
        label = ",".join(os.path.basename(p) for p in group)
        name = f"{label}, repeated" if config.repeat_to else label
        datasets.append(_file_dataset(name, group, config.repeat_to, config.data_dir))
    if not datasets:
        raise UsageError("nothing to benchmark: give --generate, --input or --samples")
    return datasets


def _zeekflow_argv(capture: str, output: str, workers: int | None, partition_size: str | None) -> list[str]:
    argv = [sys.executable, "-m", "workflows", "convert", capture, "-o", output, "--no-progress",
            "--summary-json", output + ".summary.json"]
    if workers:
        argv += ["--workers", str(workers)]
    if partition_size:
        argv += ["--partition-size", partition_size]
    return argv


def engine_argv(engine: str, capture: str, output: str, config: BenchConfig,
                dataset: Dataset | None = None) -> list[str]:
    """The command line that runs ``engine`` on ``capture`` as its own process."""
    if engine == "read":
        return ["cat", capture]
    if engine == "zeekflow":
        return _zeekflow_argv(capture, output, config.workers, config.partition_size)
    if engine == "zeekflow-1":
        return _zeekflow_argv(capture, output, 1, config.partition_size)
    columns = dataset.columns if dataset else CONN_COLUMNS
    fmt = dataset.fmt if dataset else "ndjson"
    return [sys.executable, PEERS_SCRIPT, engine, capture, output, json.dumps(columns), fmt]


def _missing(engine: str, fmt: str = "ndjson") -> str | None:
    if fmt == "tsv" and engine not in READS_TSV:
        return "reads NDJSON only"
    package = NEEDS.get(engine)
    if package and importlib.util.find_spec(package) is None:
        return f"{package} is not installed (pip install 'zeekflow[bench]')"
    return None


def run_engine_once(engine: str, capture: str, config: BenchConfig, check_rows: bool,
                    dataset: Dataset | None = None) -> Run:
    output = os.path.join(config.data_dir, f"out-{engine}.csv")
    argv = engine_argv(engine, capture, output, config, dataset)
    summary = output + ".summary.json"
    # Every run starts with nothing of an earlier one left to write back: a peer that does not fsync its
    # output (DuckDB, chDB) would otherwise leave the disk busy with it during the next engine's run.
    os.sync()
    try:
        wall, usage = measure(argv)
        rows = count_rows(output) if check_rows and engine != "read" else -1
        task_s = worker_count = worker_kind = None
        if os.path.exists(summary):
            with open(summary, encoding="utf-8") as f:
                facts = json.load(f)
            task_s, worker_count, worker_kind = facts["task_seconds"], facts["workers"], facts.get("worker_kind")
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
        worker_kind=worker_kind,
    )


def run_engines(config: BenchConfig, capture: str, lines: int, engines: Sequence[str],
                progress: Callable[[str], None] = lambda _: None, dataset: Dataset | None = None) -> list[EngineResult]:
    """Run each engine ``config.reps`` times, alternating engines within a repetition."""
    size = os.path.getsize(capture)
    fmt = dataset.fmt if dataset else "ndjson"
    labels = {**LABELS, **(TSV_LABELS if fmt == "tsv" else {})}
    results = {e: EngineResult(e, labels[e], lines, size, skipped=_missing(e, fmt)) for e in engines}
    for rep in range(config.reps):
        for engine, result in results.items():
            if result.skipped:
                continue
            run = run_engine_once(engine, capture, config, check_rows=rep == 0, dataset=dataset)
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
    """Rows each engine wrote; every one must equal the input's data lines (benchmark inputs are clean)."""
    rows = {r.engine: r.rows for r in results if r.runs and r.engine != "read"}
    wrong = {name: n for name, n in rows.items() if n != lines}
    if wrong:
        raise RunFailed(f"row counts differ from the {lines:,} lines of the input: {wrong}")
    return rows


def run_dataset(config: BenchConfig, dataset: Dataset, progress: Callable[[str], None] = lambda _: None) -> dict:
    """Every engine on one dataset: its report section."""
    section: dict = {"name": dataset.name, "format": dataset.fmt, "input": dataset.path, "lines": dataset.lines,
                     "skipped": dataset.skipped}
    if dataset.skipped:
        return section
    progress(f"-- {dataset.name}")
    results = run_engines(config, dataset.path, dataset.lines, config.engines, progress, dataset)
    section.update(input_bytes=os.path.getsize(dataset.path), engines=[r.to_dict() for r in results],
                   ratios=ratios(results), rows=row_check(results, dataset.lines))
    return section


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
    datasets = build_datasets(config, progress)
    report["datasets"] = [run_dataset(config, dataset, progress) for dataset in datasets]

    if config.curve:
        capture = ensure_capture(config.data_dir, config.lines)
        size_bytes = os.path.getsize(capture)
        # Sizes alternate within each repetition, like the engines do.
        sized = {size: BenchConfig(**{**asdict(config), "partition_size": size}) for size in config.curve}
        points = {size: EngineResult("zeekflow", LABELS["zeekflow"], config.lines, size_bytes)
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
            # None with worker threads: their memory is the client's.
            "worker_growth": round(max(last["worker_peak_mb"]) / max(first["worker_peak_mb"]), 3)
            if last["worker_peak_mb"] and first["worker_peak_mb"] else None,
        }
    return report


def _mb(values: list[float]) -> str:
    return " / ".join(f"{v:,.0f}" for v in values) if values else "—"


def _share(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


def format_report(report: dict) -> str:
    """The report as text: per dataset a table and its ratios, then the curve and memory sections."""
    out = [f"{report['machine']['cpus']} CPUs; median of {report['config']['reps']} runs each"]
    for section in report["datasets"]:
        out += ["", f"## {section['name']}"]
        if section["skipped"]:
            out.append(f"skipped: {section['skipped']}")
            continue
        out += [f"{section['input']}: {section['lines']:,} lines, {section['input_bytes'] / 1e6:,.1f} MB",
                "",
                "| tool | lines/s | MB/s | wall s | peak RSS client MB | peak RSS workers MB | workers busy (CPU) | "
                "tasks busy | rows |",
                "|---|---|---|---|---|---|---|---|---|"]
        for e in section["engines"]:
            if e["skipped"]:
                out.append(f"| {e['label']} | skipped: {e['skipped']} | | | | | | | |")
                continue
            rows = "—" if e["rows"] is None else f"{e['rows']:,}"
            busy, tasks = _share(e["workers_busy"]), _share(e["tasks_busy"])
            client = f"{e['client_peak_mb']:,.0f}" if e["client_peak_mb"] else "—"
            out.append(f"| {e['label']} | {e['lines_per_s']:,} | {e['mb_per_s']:,.1f} | {e['wall_s']:.2f} | "
                       f"{client} | {_mb(e['worker_peak_mb'])} | {busy} | {tasks} | {rows} |")
        out += ["", "ratios (lines/s):"] + [f"  {k}: {v:.2f}" for k, v in section["ratios"].items()]
    if "curve" in report:
        out += ["", "| partition size | lines/s | wall s | workers busy | peak RSS workers MB |", "|---|---|---|---|---|"]
        out += [f"| {c['partition_size']} | {c['lines_per_s']:,} | {c['wall_s']:.2f} | {_share(c['workers_busy'])} | "
                f"{_mb(c['worker_peak_mb'])} |" for c in report["curve"]]
    if "memory" in report:
        out += ["", "| lines | MB | wall s | lines/s | peak RSS client MB | peak RSS workers MB |",
                "|---|---|---|---|---|---|"]
        out += [f"| {m['lines']:,} | {m['input_bytes'] / 1e6:,.0f} | {m['wall_s']:.2f} | {m['lines_per_s']:,} | "
                f"{m['client_peak_mb']:,.0f} | {_mb(m['worker_peak_mb'])} |" for m in report["memory"]["runs"]]
        growth = report["memory"]["worker_growth"]
        out.append(f"memory growth from the smallest to the biggest capture: client x{report['memory']['client_growth']}"
                   + (f", workers x{growth}" if growth is not None else " (worker threads: in the client's memory)"))
    return "\n".join(out)
