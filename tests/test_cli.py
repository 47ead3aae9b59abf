"""The command line as a user runs it: real processes, exit codes, one-line errors, atomic output."""

from __future__ import annotations

import io
import json
import os
import socket
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
        (["conn.log", "-o", "out.csv", "--partition-size", "1.5"], ["--partition-size", "not a whole number of bytes"]),
        (["conn.log", "-o", "out.csv", "--partition-size", "1.7KiB"], ["1740.8 is not a whole number of bytes"]),
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


def _tree(folder: Path) -> dict[str, bytes | None]:
    """Every path under ``folder`` and its bytes (None for a folder or a special file)."""
    return {str(p.relative_to(folder)): p.read_bytes() if p.is_file() else None for p in sorted(folder.rglob("*"))}


@pytest.mark.parametrize(
    "inputs,args,words",
    [
        (["out.csv.tmp"], ["-o", "out.csv"], ["input out.csv.tmp is the output's temp file"]),
        (["r.tmp"], ["-o", "out.csv", "--rejects", "r"], ["input r.tmp is the rejects file's temp file"]),
        (["s.json.tmp"], ["-o", "out.csv", "--summary-json", "s.json"], ["is the summary JSON's temp file"]),
        (["out.csv.zeekflow-lock"], ["-o", "out.csv"], ["is the output's lock file"]),
        (["w/part-000000.csv"], ["-o", "out.csv", "--work-dir", "w"], ["is inside the work dir w"]),
        (["out.csv.parts/zeekflow-manifest.ndjson"], ["-o", "out.csv"], ["is inside the work dir"]),
    ],
)
def test_an_input_the_run_would_write_is_refused_before_any_work(
        tmp_path: Path, inputs: list[str], args: list[str], words: list[str]) -> None:
    for name in inputs:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(GOOD * 3)
    before = _tree(tmp_path)
    result = run_cli("convert", *inputs, *args, "--workers", "1", "--no-progress", cwd=tmp_path)
    assert_one_line_error(result, 2, *words)
    assert _tree(tmp_path) == before  # the input intact, nothing created


@pytest.mark.parametrize("length", [240, 300])
def test_an_output_name_too_long_for_the_filesystem_is_refused_before_any_work(log: Path, length: int) -> None:
    # 240: the output fits, OUTPUT.rejects.ndjson.tmp does not; 300: the output itself does not.
    before = _tree(log.parent)
    result = run_cli("convert", str(log), "-o", "a" * (length - 4) + ".csv", "--workers", "1", cwd=log.parent)
    assert_one_line_error(result, 2, "is too long for its filesystem", "choose a shorter output name")
    assert _tree(log.parent) == before


def test_more_partitions_than_the_cap_are_refused_with_the_fix(tmp_path: Path) -> None:
    from workflows.options import MAX_PARTITIONS

    big = tmp_path / "conn.log"
    with open(big, "wb") as f:
        f.truncate(MAX_PARTITIONS + 1)  # sparse: no data, only a size
    result = run_cli("convert", str(big), "-o", str(tmp_path / "out.csv"), "--partition-size", "1", timeout=60)
    assert_one_line_error(result, 2, f"{MAX_PARTITIONS + 1:,} partitions", f"the {MAX_PARTITIONS:,} a run may have",
                          "give a larger --partition-size (at least 1KiB)")
    assert os.listdir(tmp_path) == ["conn.log"]


@pytest.mark.parametrize("kind", ["fifo", "socket", "/dev/zero", "/dev/urandom"])
def test_special_files_are_refused(tmp_path: Path, kind: str) -> None:
    words = {"fifo": "FIFO", "socket": "socket"}.get(kind, "character device")
    listener = None
    if kind == "fifo":
        path = str(tmp_path / "conn.log")
        os.mkfifo(path)
    elif kind == "socket":
        path = str(tmp_path / "conn.sock")
        listener = socket.socket(socket.AF_UNIX)
        listener.bind(path)
    else:
        path = kind
    try:
        result = run_cli("convert", path, "-o", str(tmp_path / "out.csv"), "--workers", "1", timeout=60)
    finally:
        if listener is not None:
            listener.close()
    assert_one_line_error(result, 2, f"input {path} is a {words}", "not a regular file")
    assert not (tmp_path / "out.csv.parts").exists()


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
