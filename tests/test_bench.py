"""`zeekflow bench` keeps working: small real runs on every kind of input, checked figure by figure.

Benchmarks are benchmarks: nothing here asserts a speed. Every assertion can fail: each engine wrote exactly one
row per data line of its input, the engines agree on it, each figure is the one its runs give, and the repeated
inputs hold exactly the lines asked for.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from workflows import bench
from workflows.cluster import embedded_worker_kind
from workflows.errors import RunFailed, UsageError
from workflows.generate import generate_capture

from .conftest import run_cli

LINES = 3_000
REPEAT_TO = 6_000
MEMORY_LINES = (2_000, 4_000)
ENGINES = ("zeekflow", "zeekflow-1", "duckdb", "chdb", "orjson-lines")


def _bench(folder: Path, *args: str) -> dict:
    path = folder / "report.json"
    done = run_cli("bench", "--reps", "1", "--data-dir", str(folder), "--json", str(path), *args, timeout=300)
    assert done.returncode == 0, done.stderr
    data = json.loads(path.read_text())
    data["stdout"] = done.stdout
    data["folder"] = folder
    return data


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> dict:
    """The generated NDJSON and its TSV twin, with zeekflow (all cores and 1 worker) and the peers."""
    pytest.importorskip("psutil")
    folder = tmp_path_factory.mktemp("bench")
    return _bench(folder, "--lines", str(LINES), "--engines", ",".join(ENGINES))


@pytest.fixture(scope="module")
def inputs_report(tmp_path_factory) -> dict:
    """Two small files given with --input, repeated to REPEAT_TO lines; and the curve and memory sections."""
    pytest.importorskip("psutil")
    folder = tmp_path_factory.mktemp("bench-inputs")
    generate_capture(str(folder / "small.ndjson"), 700, seed=9, processes=1)
    generate_capture(str(folder / "small.log"), 300, seed=9, processes=1, fmt="tsv")
    return _bench(folder, "--lines", str(LINES), "--input", str(folder / "small.ndjson"),
                  "--input", str(folder / "small.log"), "--repeat-to", str(REPEAT_TO), "--engines", "duckdb,chdb",
                  "--curve", "1MiB", "--memory", "--memory-lines", ",".join(map(str, MEMORY_LINES)))


def _data_lines(path: str) -> int:
    with open(path, "rb") as f:
        return sum(1 for line in f if line.strip() and not line.startswith(b"#"))


def _engines(section: dict) -> dict[str, dict]:
    return {e["engine"]: e for e in section["engines"]}


@pytest.mark.cluster
def test_generated_ndjson_then_its_tsv_twin(report: dict) -> None:
    sections = report["datasets"]
    assert [(s["name"], s["format"]) for s in sections] == [("generated NDJSON", "ndjson"),
                                                           ("generated, its Zeek TSV twin", "tsv")]
    for section in sections:
        assert section["lines"] == LINES == _data_lines(section["input"])
        assert section["input_bytes"] == os.path.getsize(section["input"])
        assert list(_engines(section)) == list(ENGINES)


@pytest.mark.cluster
def test_every_engine_wrote_one_row_per_line(report: dict) -> None:
    for section in report["datasets"]:
        expected = {e["engine"] for e in section["engines"] if not e["skipped"]}
        assert {"zeekflow", "zeekflow-1", "duckdb"} <= expected
        assert section["rows"] == {name: LINES for name in expected}
        for engine in _engines(section).values():
            assert engine["rows"] == (None if engine["skipped"] else LINES)


@pytest.mark.cluster
def test_skips_say_why(report: dict) -> None:
    ndjson, tsv = report["datasets"]
    assert _engines(tsv)["orjson-lines"]["skipped"] == "reads NDJSON only"
    assert _engines(ndjson)["orjson-lines"]["skipped"] is None
    chdb = _engines(ndjson)["chdb"]["skipped"]
    try:
        import chdb as _  # noqa: F401
        assert chdb is None
    except ImportError:
        assert chdb == "chdb is not installed (pip install 'zeekflow[bench]')"


@pytest.mark.cluster
def test_figures_are_the_runs_figures(report: dict) -> None:
    for section in report["datasets"]:
        for engine in section["engines"]:
            if engine["skipped"]:
                assert engine["runs"] == [] and engine["lines_per_s"] == 0
                continue
            (run,) = engine["runs"]
            assert engine["wall_s"] == pytest.approx(run["wall_s"], abs=1e-3)
            assert engine["lines_per_s"] == round(LINES / run["wall_s"])
            assert engine["mb_per_s"] == round(section["input_bytes"] / 1e6 / run["wall_s"], 1)
            assert engine["client_peak_mb"] == run["client_peak_mb"]


@pytest.mark.cluster
def test_ratios_are_zeekflows_lines_per_s_over_each_peers(report: dict) -> None:
    for section in report["datasets"]:
        engines = _engines(section)
        ran = [name for name, e in engines.items() if not e["skipped"]]
        peers = [name for name in ran if not name.startswith("zeekflow")]
        expected = {f"{ours} / {peer}" for ours in ("zeekflow", "zeekflow-1") for peer in peers}
        assert expected | {"zeekflow / zeekflow-1 (scaling)"} <= set(section["ratios"])
        for key in expected:
            ours, peer = key.split(" / ")
            speed = {n: LINES / engines[n]["runs"][0]["wall_s"] for n in (ours, peer)}
            assert section["ratios"][key] == pytest.approx(speed[ours] / speed[peer], abs=0.006)
        scaling = engines["zeekflow-1"]["runs"][0]["wall_s"] / engines["zeekflow"]["runs"][0]["wall_s"]
        assert section["ratios"]["zeekflow / zeekflow-1 (scaling)"] == pytest.approx(scaling, abs=0.006)


@pytest.mark.cluster
def test_worker_processes_are_measured_one_by_one(report: dict) -> None:
    for section in report["datasets"]:
        engines = _engines(section)
        for name, workers in (("zeekflow-1", 1), ("zeekflow", os.cpu_count() or 1)):
            kind = engines[name]["runs"][0]["worker_kind"]
            assert kind == embedded_worker_kind()
            if kind == "processes":
                assert len(engines[name]["worker_peak_mb"]) == workers
                assert all(mb > 20 for mb in engines[name]["worker_peak_mb"])  # a Python process with Dask loaded
            else:  # worker threads: their memory is the client's
                assert engines[name]["worker_peak_mb"] == [] and engines[name]["client_peak_mb"] > 20
        assert engines["duckdb"]["worker_peak_mb"] == []
        for name in ("zeekflow", "zeekflow-1"):
            run = engines[name]["runs"][0]
            assert run["workers"] == (1 if name == "zeekflow-1" else os.cpu_count() or 1)
            assert 0 < run["task_s"] < run["workers"] * run["wall_s"]
            assert engines[name]["tasks_busy"] == pytest.approx(run["task_s"] / (run["workers"] * run["wall_s"]),
                                                                abs=1e-3)
        assert engines["duckdb"]["tasks_busy"] is None


@pytest.mark.cluster
def test_text_report_and_no_outputs_left(report: dict) -> None:
    text = report["stdout"]
    for section in report["datasets"]:
        assert f"## {section['name']}" in text
        zeekflow = _engines(section)["zeekflow"]
        assert f"| {zeekflow['label']} | {zeekflow['lines_per_s']:,} |" in text
    assert "| DuckDB read_csv(delim tab, comment '#', schema given) TO csv, all threads |" in text
    assert text.count("zeekflow / duckdb: ") == 2
    leftovers = [p.name for p in Path(report["folder"]).iterdir() if p.name.startswith("out-")]
    assert leftovers == []


@pytest.mark.cluster
def test_inputs_are_repeated_to_the_lines_asked(inputs_report: dict) -> None:
    ndjson, tsv = inputs_report["datasets"]
    assert (ndjson["name"], tsv["name"]) == ("small.ndjson, repeated", "small.log, repeated")
    folder = Path(inputs_report["folder"])
    for section, source in ((ndjson, folder / "small.ndjson"), (tsv, folder / "small.log")):
        assert section["lines"] == REPEAT_TO == _data_lines(section["input"])
        assert Path(section["input"]).parent == folder
        assert section["rows"] == {"duckdb": REPEAT_TO, "chdb": REPEAT_TO} or section["rows"] == {"duckdb": REPEAT_TO}
    repeated = Path(tsv["input"]).read_bytes().splitlines()
    original = (folder / "small.log").read_bytes().splitlines()
    assert repeated[:8 + 300] == original[:-1] and repeated[-1] == original[-1]  # header once, #close last
    assert sum(line.startswith(b"#") for line in repeated) == 9


@pytest.mark.cluster
def test_curve_and_memory_sections(inputs_report: dict) -> None:
    (point,) = inputs_report["curve"]
    assert point["partition_size"] == "1MiB"
    assert point["lines_per_s"] == round(LINES / point["wall_s"])
    runs = inputs_report["memory"]["runs"]
    assert [r["lines"] for r in runs] == list(MEMORY_LINES)
    assert all(r["lines_per_s"] == round(r["lines"] / r["wall_s"]) for r in runs)
    if embedded_worker_kind() == "processes":
        assert inputs_report["memory"]["worker_growth"] == round(max(runs[-1]["worker_peak_mb"]) /
                                                                  max(runs[0]["worker_peak_mb"]), 3)
    else:
        assert inputs_report["memory"]["worker_growth"] is None and all(not r["worker_peak_mb"] for r in runs)
    assert inputs_report["memory"]["client_growth"] == round(runs[-1]["client_peak_mb"] / runs[0]["client_peak_mb"], 3)
    assert "| partition size |" in inputs_report["stdout"] and "memory growth" in inputs_report["stdout"]


def test_samples_absent_is_a_note(tmp_path: Path) -> None:
    pytest.importorskip("psutil")
    data = _bench(tmp_path, "--samples", str(tmp_path / "nowhere"), "--generate", "none", "--engines", "duckdb")
    (section,) = data["datasets"]
    assert section["skipped"] == f"no {tmp_path / 'nowhere' / 'json' / '*.ndjson'}: samples absent"
    assert "skipped: no " in data["stdout"]


def test_repeat_lines_cycles_whole_lines(tmp_path: Path) -> None:
    first, second = tmp_path / "a.ndjson", tmp_path / "b.ndjson"
    first.write_bytes(b'{"a":1}\n\n{"a":2}\n')
    second.write_bytes(b'{"b":3}')  # no final newline
    out = tmp_path / "out.ndjson"
    assert bench.repeat_lines([str(first), str(second)], 7, str(out)) == 7
    assert out.read_bytes() == b'{"a":1}\n{"a":2}\n{"b":3}\n' * 2 + b'{"a":1}\n'
    assert bench.repeat_lines([str(first)], None, str(tmp_path / "once.ndjson")) == 2


def test_repeat_lines_refuses_what_it_cannot_join(tmp_path: Path) -> None:
    tsv, other, ndjson = tmp_path / "a.log", tmp_path / "b.log", tmp_path / "c.ndjson"
    generate_capture(str(tsv), 5, processes=1, fmt="tsv")
    other.write_bytes(tsv.read_bytes().replace(b"#fields\tts", b"#fields\ttime"))
    ndjson.write_bytes(b'{"a":1}\n')
    with pytest.raises(UsageError, match="NDJSON and Zeek TSV"):
        bench.repeat_lines([str(tsv), str(ndjson)], 10, str(tmp_path / "x"))
    with pytest.raises(UsageError, match="different #fields"):
        bench.repeat_lines([str(tsv), str(other)], 10, str(tmp_path / "y"))


def test_row_counts_that_differ_fail_the_run() -> None:
    good = bench.EngineResult("duckdb", "", 10, 100, runs=[bench.Run(1.0, 1.0, [], 0.0, rows=10)])
    bad = bench.EngineResult("chdb", "", 10, 100, runs=[bench.Run(1.0, 1.0, [], 0.0, rows=9)])
    assert bench.row_check([good], 10) == {"duckdb": 10}
    with pytest.raises(RunFailed, match="'chdb': 9"):
        bench.row_check([good, bad], 10)


def test_unknown_engine_is_a_usage_error(tmp_path) -> None:
    done = run_cli("bench", "--lines", "10", "--engines", "zeekflow,spark", "--data-dir", str(tmp_path))
    assert done.returncode == 2
    assert "unknown engine(s) spark" in done.stderr
    assert not list(tmp_path.iterdir())  # refused before generating anything
    missing = run_cli("bench", "--input", str(tmp_path / "nope.ndjson"), "--data-dir", str(tmp_path))
    assert missing.returncode == 2 and "no such file" in missing.stderr


def test_benchmark_code_is_off_the_cli_import_path() -> None:
    code = "import sys, workflows.cli; print(sorted(m for m in sys.modules if m in ('workflows.bench', 'workflows.peers', 'duckdb', 'chdb', 'polars')))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


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


def test_the_fixed_costs_script_reports_every_part_of_a_run(tmp_path: Path) -> None:
    # benchmarks/fixed_costs.py: each part of a small run in a fresh interpreter, and nothing left behind.
    capture = tmp_path / "conn.ndjson"
    generate_capture(str(capture), 2_000, seed=3, processes=1)
    script = Path(__file__).resolve().parents[1] / "benchmarks" / "fixed_costs.py"
    done = subprocess.run([sys.executable, str(script), str(capture), "--reps", "2"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    rows = {line.split("|")[1].strip(): line.split("|")[2:-1] for line in done.stdout.splitlines()
            if line.startswith("| ") and not line.startswith("| part")}
    parts = ["start", "imports", "planning, cluster, client", "tail join, fsync", "shutdown"]
    assert list(rows) == parts + ["conversion", "**fixed costs in all**"]
    each = {part: [float(v) for v in cells[1].split(",")] for part, cells in rows.items() if part in parts}
    assert all(len(values) == 2 and min(values) >= 0 for values in each.values())
    totals = [float(v) for v in rows["**fixed costs in all**"][1].split(",")]
    assert totals == pytest.approx([sum(each[p][i] for p in parts) for i in range(2)], abs=0.003)
    assert sorted(os.listdir(tmp_path)) == ["conn.ndjson"]
