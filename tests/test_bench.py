"""`zeekflow bench` keeps working: one small real run of every engine, its report's shape and row counts.

Benchmarks are benchmarks: nothing here asserts a speed, only that each figure is there and each engine wrote
every line of the capture.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from workflows import bench

from .conftest import run_cli

LINES = 20_000
MEMORY_LINES = (4_000, 8_000)


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> dict:
    pytest.importorskip("psutil")
    folder = tmp_path_factory.mktemp("bench")
    path = folder / "report.json"
    done = run_cli(
        "bench", "--lines", str(LINES), "--reps", "1", "--data-dir", str(folder), "--json", str(path),
        "--curve", "1MiB", "--memory", "--memory-lines", ",".join(map(str, MEMORY_LINES)), timeout=300,
    )
    assert done.returncode == 0, done.stderr
    data = json.loads(path.read_text())
    data["stdout"] = done.stdout
    data["folder"] = folder
    return data


@pytest.mark.cluster
def test_every_engine_ran_or_says_why_not(report: dict) -> None:
    engines = {e["engine"]: e for e in report["engines"]}
    assert list(engines) == list(bench.DEFAULT_ENGINES)
    for name, engine in engines.items():
        if engine["skipped"]:
            assert name in bench.NEEDS and "pip install" in engine["skipped"]
            continue
        assert engine["lines_per_s"] > 0 and engine["wall_s"] > 0 and engine["mb_per_s"] > 0
        assert len(engine["runs"]) == 1
        if name != "read":  # `cat` of a small file may end before the first sample
            assert engine["client_peak_mb"] > 0


@pytest.mark.cluster
def test_every_output_has_one_row_per_line(report: dict) -> None:
    rows = report["rows"]
    assert "zeekflow" in rows and "orjson-lines" in rows
    assert set(rows.values()) == {LINES}


@pytest.mark.cluster
def test_worker_processes_are_measured_one_by_one(report: dict) -> None:
    engines = {e["engine"]: e for e in report["engines"]}
    assert len(engines["zeekflow-1"]["worker_peak_mb"]) == 1
    assert len(engines["zeekflow"]["worker_peak_mb"]) == (os.cpu_count() or 1)
    assert all(mb > 20 for mb in engines["zeekflow"]["worker_peak_mb"])  # a Python process with Dask loaded
    assert engines["orjson-lines"]["worker_peak_mb"] == []


@pytest.mark.cluster
def test_zeekflow_runs_report_their_tasks_busy_time(report: dict) -> None:
    engines = {e["engine"]: e for e in report["engines"]}
    for name in ("zeekflow", "zeekflow-1"):
        run = engines[name]["runs"][0]
        assert 0 < run["task_s"] < run["workers"] * run["wall_s"]
        assert engines[name]["tasks_busy"] == pytest.approx(run["task_s"] / (run["workers"] * run["wall_s"]),
                                                            abs=1e-3)
        assert report["ratios"][f"{name} wall / (task time / workers)"] >= 1
    assert engines["zeekflow-1"]["runs"][0]["workers"] == 1
    assert engines["duckdb"].get("tasks_busy") is None


@pytest.mark.cluster
def test_ratios_compare_zeekflow_with_each_peer_and_itself(report: dict) -> None:
    ran = [e["engine"] for e in report["engines"] if not e["skipped"] and not e["engine"].startswith("zeekflow")
           and e["engine"] != "read"]
    for peer in ran:
        assert report["ratios"][f"zeekflow / {peer}"] > 0
        assert report["ratios"][f"zeekflow-1 / {peer}"] > 0
    assert report["ratios"]["zeekflow / zeekflow-1 (scaling)"] > 0


@pytest.mark.cluster
def test_curve_and_memory_sections(report: dict) -> None:
    assert [c["partition_size"] for c in report["curve"]] == ["1MiB"]
    assert all(c["lines_per_s"] > 0 for c in report["curve"])
    runs = report["memory"]["runs"]
    assert [r["lines"] for r in runs] == list(MEMORY_LINES)
    assert all(r["client_peak_mb"] > 0 and r["worker_peak_mb"] for r in runs)
    assert report["memory"]["worker_growth"] > 0


@pytest.mark.cluster
def test_text_report_and_no_outputs_left(report: dict) -> None:
    text = report["stdout"]
    assert "| tool | lines/s |" in text and "zeekflow / zeekflow-1 (scaling)" in text
    assert "| partition size |" in text and "memory growth" in text
    leftovers = [p.name for p in Path(report["folder"]).iterdir() if p.name.startswith("out-")]
    assert leftovers == []


def test_unknown_engine_is_a_usage_error(tmp_path) -> None:
    done = run_cli("bench", "--lines", "10", "--engines", "zeekflow,spark", "--data-dir", str(tmp_path))
    assert done.returncode == 2
    assert "unknown engine(s) spark" in done.stderr
    assert not list(tmp_path.iterdir())  # refused before generating anything


WORKER_THAT_FORKS = """
import multiprocessing, os, time

def worker():
    # A library call such as platform.processor() forks to run `uname -p`; until its exec, the child shows
    # this worker's command line. Holding that state for a while makes the sampler see it every time.
    pid = os.fork()
    if pid == 0:
        time.sleep(1.0)
        os._exit(0)
    os.waitpid(pid, 0)

if __name__ == "__main__":
    process = multiprocessing.get_context("spawn").Process(target=worker)
    process.start()
    process.join()
"""


def test_a_command_a_worker_forks_is_not_counted_as_a_worker(tmp_path: Path) -> None:
    pytest.importorskip("psutil")
    script = tmp_path / "tree.py"
    script.write_text(WORKER_THAT_FORKS)
    _, usage = bench.measure([sys.executable, str(script)])
    assert len(usage.child_peak_rss) == 1
