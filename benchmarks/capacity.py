"""The measured figures behind the capacity plan (cluster/README.md, "Capacity plan"), one section each.

    .venv/bin/python benchmarks/capacity.py types [SAMPLES_DIR] [--lines 1000000]
    .venv/bin/python benchmarks/capacity.py tasks [--mb 100] [--partition-size 64KiB]
    .venv/bin/python benchmarks/capacity.py join [--shards 48] [--shard-mb 24]

``types``: lines/s of one worker (in process, one core, no Dask) per log type and format: each real sample
(``.gz`` ones decompressed) repeated to ``--lines`` lines, converted partition by partition with the shipped task.
``tasks``: partitions per second over many tiny partitions, end to end (client, scheduler, workers), on the
embedded cluster and on a real ``dask scheduler`` process with ``dask worker`` processes (cluster/*.sh); counted
from the manifest between a tenth and nine tenths of the partitions, so start-up and the tail are left out; the
scheduler's and the client's CPU time per task tell which one would cap a bigger cluster.
``join``: MB/s the client's ordered join (``CommittedJoin``: append, fsync and commit every 16 shards, delete)
sustains over shards of the size 64 MiB partitions give, written just before (in the page cache, as workers'
fresh shards are).
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

from workflows import ConvertOptions, prepare
from workflows.bench import repeat_lines
from workflows.commit import CommittedJoin
from workflows.concat import OrderedConcat
from workflows.manifest import Manifest
from workflows.task import convert_partition

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from scale import build_input, run_convert  # noqa: E402  (the sibling script)

REPO = Path(__file__).resolve().parents[1]
# (name, sample files under SAMPLES_DIR, log type); TSV inputs are typed by their own header.
SAMPLES = (
    ("conn NDJSON (port scan)", ["json/sdft_002_portscan_conn.ndjson"], "conn"),
    ("conn TSV (RITA)", ["tsv/rita_missing_host_conn.00-01.log.gz"], "conn"),
    ("dns NDJSON", ["other/zed_dns.ndjson.gz"], "dns"),
    ("dns TSV", ["other/zed_dns.tsv.log.gz"], "dns"),
    ("http NDJSON (honeypot)", ["other/sdft_007_honeypot_http.ndjson"], "http"),
    ("ntp NDJSON", ["other/zed_ntp.ndjson.gz"], "ntp"),
    ("analyzer NDJSON", ["other/zed_analyzer.ndjson.gz"], "analyzer"),
)


def one_core_rate(path: str, log_type: str | None, work: Path) -> tuple[int, float, str]:
    """Lines, seconds and kernel path of converting ``path`` in this process, partition after partition."""
    job = prepare(ConvertOptions(inputs=[path], output=str(work / "out.csv"), partition_size="16MiB",
                                 log_type=log_type))
    os.makedirs(job.spec.work_dir, exist_ok=True)
    started = time.perf_counter()
    infos = [convert_partition(partition, job.spec) for partition in job.partitions]
    seconds = time.perf_counter() - started
    shutil.rmtree(job.spec.work_dir)
    return sum(i.lines for i in infos), seconds, "+".join(sorted({i.kernel for i in infos}))


def types(args: argparse.Namespace, work: Path) -> None:
    print("| log | lines | lines/s, one core | µs/line | path |\n|---|---|---|---|---|")
    generated = work / "generated.ndjson"
    build_input(str(generated), args.lines, 1_000_000, None, None)
    rows = [("conn NDJSON (generated)", str(generated), "conn")]
    for name, files, log_type in SAMPLES:
        paths = [os.path.join(args.samples, f) for f in files]
        if not all(os.path.isfile(p) for p in paths):
            print(f"| {name} | skipped: {', '.join(files)} not in {args.samples} | | | |")
            continue
        suffix = ".log" if "TSV" in name else ".ndjson"
        target = work / f"{log_type}-{len(rows)}{suffix}"
        repeat_lines(paths, args.lines, str(target))
        rows.append((name, str(target), log_type))
    for name, path, log_type in rows:
        lines, seconds, path_taken = min((one_core_rate(path, log_type, work) for _ in range(args.reps)),
                                         key=lambda r: r[1])
        print(f"| {name} | {lines:,} | {lines / seconds:,.0f} | {seconds / lines * 1e6:.2f} | {path_taken} |",
              flush=True)
        os.unlink(path)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _steady_rate(samples) -> tuple[float, int]:
    """Partitions per second between a tenth and nine tenths of them, and how many that span holds."""
    total = samples[-1].partitions
    start = next(s for s in samples if s.partitions >= total // 10)
    end = next(s for s in samples if s.partitions >= total - total // 10)
    return (end.partitions - start.partitions) / (end.t - start.t), end.partitions - start.partitions


def _cpu(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system + times.children_user + times.children_system


def _convert_argv(source: str, output: str, args: argparse.Namespace, *extra: str) -> list[str]:
    return [sys.executable, "-m", "workflows", "convert", source, "-o", output, "--no-progress",
            "--partition-size", args.partition_size, "--window", str(args.window), *extra]


def tasks(args: argparse.Namespace, work: Path) -> None:
    source = str(work / "conn.ndjson")
    build_input(source, args.mb * 10**6 // 394, 50_000, None, None)
    output = str(work / "out.csv")
    print(f"{os.path.getsize(source) / 1e6:.0f} MB in {args.partition_size} partitions, window {args.window}")
    for kind in ("threads", "processes"):
        started = time.monotonic()
        _, samples, shards = run_convert(_convert_argv(source, output, args, "--workers", "2", "--worker-kind", kind),
                                         output + ".parts", output, 0.05)
        wall = time.monotonic() - started
        rate, span = _steady_rate(samples)
        task_s = sum(s["seconds"] for s in shards) / len(shards)
        print(f"embedded, 2 worker {kind}: {len(shards)} partitions in {wall:.1f} s; steady {rate:,.0f} tasks/s "
              f"over {span}; task on its worker {task_s * 1e3:.1f} ms; client process CPU "
              f"{samples[-1].client_cpu_s / len(shards) * 1e3:.1f} ms a task", flush=True)
        os.unlink(output)
    port = _free_port()
    env = {**os.environ, "DASK": os.path.join(os.path.dirname(sys.executable), "dask")}
    log = open(work / "cluster.log", "wb")
    scheduler = subprocess.Popen([str(REPO / "cluster" / "scheduler.sh"), "--port", str(port),
                                  "--dashboard-address", "127.0.0.1:0"], env=env, stdout=log, stderr=log,
                                 start_new_session=True)
    worker = subprocess.Popen([str(REPO / "cluster" / "worker.sh"), f"tcp://127.0.0.1:{port}", "--host", "127.0.0.1",
                               "--nworkers", "2"], env=env, stdout=log, stderr=log, start_new_session=True)
    try:
        from distributed import Client

        with Client(f"tcp://127.0.0.1:{port}", timeout=60) as client:
            client.wait_for_workers(2, timeout=60)
        process = psutil.Process(scheduler.pid)  # scheduler.sh execs dask scheduler: the same pid
        before = _cpu(process)
        started = time.monotonic()
        argv = _convert_argv(source, output, args, "--scheduler", f"tcp://127.0.0.1:{port}")
        _, samples, shards = run_convert(argv, output + ".parts", output, 0.05)
        wall = time.monotonic() - started
        scheduler_cpu = _cpu(process) - before
        rate, span = _steady_rate(samples)
        task_s = sum(s["seconds"] for s in shards) / len(shards)
        print(f"dask scheduler + 2 dask worker processes: {len(shards)} partitions in {wall:.1f} s; steady "
              f"{rate:,.0f} tasks/s over {span}; task on its worker {task_s * 1e3:.1f} ms; scheduler CPU "
              f"{scheduler_cpu / len(shards) * 1e3:.2f} ms a task (one core: {len(shards) / scheduler_cpu:,.0f} "
              f"tasks/s at most); client CPU {samples[-1].client_cpu_s / len(shards) * 1e3:.2f} ms a task",
              flush=True)
    finally:
        for process in (worker, scheduler):
            os.killpg(process.pid, 15)
            process.wait(timeout=30)
        log.close()


def join(args: argparse.Namespace, work: Path) -> None:
    line = b"1700000000.123456,CabcdefGhijklmn12,10.0.0.1,51234,93.184.216.34,443,tcp,ssl,0.5,100,200,SF\n"
    shard = line * (args.shard_mb * 2**20 // len(line))
    paths = []
    for index in range(args.shards):
        path = work / f"part-{index:06d}.csv"
        path.write_bytes(shard)
        paths.append(str(path))
    manifest = Manifest(str(work), {"zeekflow_manifest": 1}, [])
    manifest.start()
    out = OrderedConcat(str(work / "joined.csv"), b"header\n")
    committed = CommittedJoin(manifest, [out])
    started = time.perf_counter()
    for index, path in enumerate(paths):
        committed.add(index, [path])
    committed.commit()
    out.finish(len(paths))
    seconds = time.perf_counter() - started
    total = len(shard) * len(paths)
    print(f"join: {len(paths)} shards of {len(shard) / 2**20:.0f} MiB ({total / 1e9:.2f} GB) appended, fsynced "
          f"and committed in {seconds:.2f} s: {total / 1e6 / seconds:,.0f} MB/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sections = parser.add_subparsers(dest="section", required=True)
    t = sections.add_parser("types")
    t.add_argument("samples", nargs="?", default=str(REPO.parent / "shared" / "samples"))
    t.add_argument("--lines", type=int, default=1_000_000)
    t.add_argument("--reps", type=int, default=2)
    k = sections.add_parser("tasks")
    k.add_argument("--mb", type=int, default=100)
    k.add_argument("--partition-size", default="64KiB")
    k.add_argument("--window", type=int, default=64)
    j = sections.add_parser("join")
    j.add_argument("--shards", type=int, default=48)
    j.add_argument("--shard-mb", type=int, default=24)
    parser.add_argument("--dir", default=None, help="scratch folder (default: a temp dir)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="zeekflow-capacity-", dir=args.dir))
    try:
        {"types": types, "tasks": tasks, "join": join}[args.section](args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
