"""benchmarks/scale.py, the proof run, in small: its report's figures agree with each other and with the files.

Nothing here asserts a speed: the verdicts are checked to follow from the figures and thresholds they state.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from workflows.commit import COMMIT_SHARDS

from .conftest import REPO

SCRIPT = REPO / "benchmarks" / "scale.py"
COPIES = 50
WINDOW = 8


def _scale(folder: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), "--dir", str(folder), *args],
                          capture_output=True, text=True, timeout=180)


@pytest.fixture(scope="module")
def report(small_capture: Path, tmp_path_factory) -> dict:
    """300,000 lines (the capture with bad and blank lines, 50 times) in 4 MiB partitions, worker processes."""
    folder = tmp_path_factory.mktemp("scale")
    path = folder / "report.json"
    done = _scale(folder, "--input", str(small_capture), "--repeat", str(COPIES), "--partition-size", "4MiB",
                  "--window", str(WINDOW), "--workers", "2", "--worker-kind", "processes",
                  "--sample-every", "0.05", "--report", str(path))
    assert done.returncode == 0, done.stderr
    data = json.loads(path.read_text())
    data["stdout"], data["folder"] = done.stdout, folder
    return data


@pytest.mark.cluster
def test_counts_agree_with_the_input_the_output_and_the_manifest(report: dict, small_capture: Path) -> None:
    lines = sum(1 for _ in small_capture.open("rb")) * COPIES
    assert report["lines"] == lines == report["manifest_lines"]
    assert report["lines"] == report["rows"] + report["rejected"] + report["blank"]
    assert report["rejected"] > 0 and report["blank"] > 0  # the capture's bad lines, so the sum means something
    assert report["output_rows"] == report["rows"]
    assert report["partitions"] == report["manifest_partitions"] >= 20
    assert report["input_bytes"] == small_capture.stat().st_size * COPIES


@pytest.mark.cluster
def test_work_dir_peak_is_within_the_window_and_a_commit_batch(report: dict) -> None:
    disk = report["disk"]
    largest = disk["largest_shard_bytes"]
    assert largest > 0
    assert disk["bound_bytes"] >= (WINDOW + COMMIT_SHARDS) * largest
    assert 0 < disk["work_dir_peak_bytes"] <= disk["bound_bytes"]
    assert disk["flat"] is True
    # The output grows beside the work dir, not inside it: OUTPUT.tmp was seen holding most of the output.
    assert disk["output_tmp_peak_bytes"] >= report["output_bytes"] // 2


@pytest.mark.cluster
def test_rss_sampled_for_the_client_and_each_worker_and_verdicts_follow(report: dict) -> None:
    assert report["worker_processes_seen"] == 2
    for who in ("client", "worker"):
        rss = report["rss"][who]
        assert 0 < rss["first_tenth_peak_mb"] <= rss["peak_mb"]
        assert 0 < rss["last_tenth_peak_mb"] <= rss["peak_mb"]
        assert rss["flat"] == (rss["last_tenth_peak_mb"] <= 1.2 * rss["first_tenth_peak_mb"])
    speed = report["throughput"]
    assert speed["first_tenth_lines_per_s"] > 0 and speed["last_tenth_lines_per_s"] > 0
    assert speed["ratio"] == pytest.approx(speed["last_tenth_lines_per_s"] / speed["first_tenth_lines_per_s"],
                                           rel=1e-3)
    assert speed["flat"] == (speed["ratio"] >= 0.8)
    series = report["series"]
    assert [s["lines"] for s in series] == sorted(s["lines"] for s in series)  # progress never goes back
    assert max(s["lines"] for s in series) == report["lines"]
    assert "throughput: first tenth" in report["stdout"] and "work dir: peak" in report["stdout"]


@pytest.mark.cluster
def test_input_and_output_are_deleted_without_keep(report: dict) -> None:
    assert sorted(p.name for p in report["folder"].iterdir()) == ["report.json"]


@pytest.mark.cluster
def test_generated_input_has_exactly_the_lines_asked(tmp_path: Path) -> None:
    """The base repeated as bytes, with a partial copy at the end; worker threads: the workers are the client."""
    done = _scale(tmp_path, "--lines", "20000", "--base-lines", "7000", "--partition-size", "256KiB",
                  "--worker-kind", "threads", "--sample-every", "0.05", "--report", str(tmp_path / "r.json"),
                  "--keep")
    assert done.returncode == 0, done.stderr
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["lines"] == data["rows"] == data["output_rows"] == 20000
    source = (tmp_path / "conn.ndjson").read_bytes()
    assert source.count(b"\n") == 20000
    assert source.count(source.split(b"\n", 1)[0] + b"\n") == 3  # the base's first line: 2 whole copies + the cut
    assert data["worker_processes_seen"] == 0 and data["rss"]["worker"]["peak_mb"] == 0
    assert data["rss"]["client"]["peak_mb"] > 0


def test_refuses_a_run_the_disk_cannot_hold(tmp_path: Path) -> None:
    done = _scale(tmp_path, "--lines", str(10**13))
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1 and "GB free" in done.stderr
    assert list(tmp_path.iterdir()) == []


def test_refuses_repeat_without_input(tmp_path: Path) -> None:
    done = _scale(tmp_path, "--repeat", "3")
    assert done.returncode == 2 and "--input" in done.stderr
    assert list(tmp_path.iterdir()) == []
