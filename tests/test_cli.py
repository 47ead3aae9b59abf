"""The command line as a user runs it: real processes, exit codes, one-line errors, atomic output."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest

from workflows.progress import Progress, TerminalReporter, format_progress

from .conftest import run_cli

GOOD = b'{"ts":1.5,"uid":"C1","id.orig_h":"10.0.0.1","id.orig_p":1,"proto":"tcp"}\n'


@pytest.fixture
def log(tmp_path: Path) -> Path:
    path = tmp_path / "conn.log"
    path.write_bytes(GOOD * 3 + b"bad line\n" + b"[1]\n" + GOOD)
    return path


def assert_one_line_error(result, code: int, *words: str) -> None:
    assert result.returncode == code, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("zeekflow: error: ")
    assert "Traceback" not in result.stderr
    for word in words:
        assert word in lines[0]


@pytest.mark.parametrize(
    "args,words",
    [
        (["missing.log", "-o", "out.csv"], ["input missing.log does not exist"]),
        ([".", "-o", "out.csv"], ["is a directory"]),
        (["conn.log", "-o", "conn.log"], ["is the input conn.log"]),
        (["conn.log", "-o", "no/such/dir/out.csv"], ["output folder", "does not exist"]),
        (["conn.log", "-o", "."], ["is a directory"]),
        (["conn.log", "-o", "out.csv", "--rejects", "conn.log"], ["rejects file conn.log is the input"]),
        (["conn.log", "-o", "out.csv", "--rejects", "out.csv"], ["are both out.csv"]),
        (["conn.log", "-o", "out.csv", "--window", "0"], ["--window"]),
        (["conn.log", "-o", "out.csv", "--window", "many"], ["--window", "not a valid integer"]),
        (["conn.log", "-o", "out.csv", "--workers", "0"], ["--workers"]),
        (["conn.log", "-o", "out.csv", "--partition-size", "huge"], ["--partition-size", "64MiB"]),
        (["conn.log", "-o", "out.csv", "--partition-size", "0"], ["at least 1 byte"]),
        (["conn.log", "-o", "out.csv", "--max-errors", "-1"], ["--max-errors"]),
        (["conn.log", "-o", "out.csv", "--columns", "uid,nope"], ["unknown column(s) for conn log: nope"]),
        (["conn.log", "-o", "out.csv", "--columns", "uid,uid"], ["more than once: uid"]),
        (["conn.log", "-o", "out.csv", "--columns", ","], ["--columns"]),
        (["conn.log", "-o", "out.csv", "--workers", "2", "--scheduler", "tcp://127.0.0.1:1"], ["--workers"]),
        (["conn.log"], ["Missing option", "--output"]),
        (["-o", "out.csv"], ["Missing argument"]),
        (["conn.log", "-o", "out.csv", "--frobnicate"], ["No such option"]),
    ],
)
def test_bad_usage_and_unusable_input_exit_2_with_one_line(log: Path, args: list[str], words: list[str]) -> None:
    result = run_cli("convert", *args, cwd=log.parent)
    assert_one_line_error(result, 2, *words)
    assert not (log.parent / "out.csv").exists()


def test_unreachable_scheduler_exits_2(log: Path) -> None:
    env = {**os.environ, "DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT": "1s"}
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "workflows", "convert", str(log), "-o", str(log.parent / "o.csv"),
                             "--scheduler", "tcp://127.0.0.1:1"], capture_output=True, text=True, env=env,
                            timeout=120)
    assert_one_line_error(result, 2, "cannot connect to the Dask scheduler at tcp://127.0.0.1:1")


def test_unknown_command_exits_2() -> None:
    assert_one_line_error(run_cli("transmogrify"), 2, "No such command")


@pytest.mark.cluster
def test_a_run_prints_the_report_and_writes_everything(log: Path) -> None:
    out = log.parent / "out.csv"
    summary = log.parent / "summary.json"
    result = run_cli("convert", str(log), "-o", str(out), "--workers", "1", "--window", "2",
                     "--partition-size", "100", "--summary-json", str(summary))
    assert result.returncode == 0, result.stderr
    for label in ("Processed:", "Workers:", "Window:", "Max in-flight:", "Errors:", "Duration:", "Task time:",
                  "Rate:"):
        assert label in result.stdout
    assert "6 lines (4 rows, 2 rejected, 0 blank)" in result.stdout
    assert "dashboard: http://127.0.0.1:" in result.stderr
    assert "\r" not in result.stderr  # stderr is not a terminal: no live progress line
    report = json.loads(summary.read_text())
    assert report["max_in_flight"] <= 2 and report["partitions"] == len(log.read_bytes()) // 100 + 1
    for key in ("input_bytes", "lines", "rows", "rejected", "blank", "partitions", "workers", "window",
                "max_in_flight", "reused_partitions", "duration_s", "lines_per_s", "output", "rejects",
                "dropped_fields", "task_seconds"):
        assert key in report
    # One single-threaded worker runs one task at a time: its tasks cannot add up to more than the run.
    assert 0 < report["task_seconds"] < report["duration_s"]
    assert out.read_text().count("\n") == 1 + 4
    rejects = [json.loads(line) for line in Path(str(out) + ".rejects.ndjson").read_text().splitlines()]
    assert [r["line"] for r in rejects] == ["bad line", "[1]"]


@pytest.mark.cluster
def test_max_errors_exceeded_exits_1_and_leaves_the_old_output(log: Path) -> None:
    out = log.parent / "out.csv"
    out.write_text("old\n")
    result = run_cli("convert", str(log), "-o", str(out), "--workers", "1", "--max-errors", "1", "--no-progress")
    assert result.returncode == 1
    error_lines = [line for line in result.stderr.splitlines() if line.startswith("zeekflow: error:")]
    assert error_lines == ["zeekflow: error: more than 1 lines rejected (2 so far); stopped, and the output "
                           "was not written"]
    assert "Traceback" not in result.stderr
    assert out.read_text() == "old\n"
    assert not Path(str(out) + ".tmp").exists()


def test_python_dash_m_and_help_list_every_command() -> None:
    result = run_cli("--help")
    assert result.returncode == 0
    assert "convert" in result.stdout and "generate" in result.stdout


def test_progress_line_reads_like_a_sentence() -> None:
    state = Progress(partitions_done=3, partitions_total=12, lines=1_500_000, rejected=7, bytes_done=25,
                     bytes_total=100, elapsed_s=10.0)
    text = format_progress(state)
    assert "partitions 3/12" in text and "1,500,000 lines" in text and "150,000 lines/s" in text
    assert "7 rejected" in text and "elapsed 00:10" in text and "ETA 00:30" in text


def test_terminal_reporter_draws_in_place_only_when_live() -> None:
    state = Progress(1, 1, 10, 0, 5, 5, 1.0)
    live, quiet = io.StringIO(), io.StringIO()
    for stream, flag in ((live, True), (quiet, False)):
        reporter = TerminalReporter(stream, live=flag)
        reporter.progress(state)
        reporter.finished()
    assert live.getvalue().startswith("\r[100.0%] partitions 1/1") and live.getvalue().endswith("\n")
    assert quiet.getvalue() == ""
