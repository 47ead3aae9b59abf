"""One run owns its output and work dir at a time, and deletes only the files it wrote."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from workflows.convert import prepare
from workflows.manifest import MANIFEST_NAME
from workflows.options import ConvertOptions
from workflows.task import convert_partition
from workflows.workdir import LOCK_SUFFIX, WORK_LOCK_NAME

from .conftest import run_cli
from .gatedfs import close_gate, open_gate
from .procs import finish, gated_cli, shard_records, wait_for

PARTITION = 64 * 1024
GATE_AT = 4


def _convert(source: Path, output: Path, *extra: str):
    return gated_cli("convert", f"gated://{source}", "-o", str(output), "--workers", "1",
                     "--partition-size", str(PARTITION), "--window", "2", "--no-progress", *extra)


def _one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("zeekflow: error: ") and "Traceback" not in err, err
    return lines[0]


@pytest.mark.cluster
def test_a_second_run_on_the_same_output_or_work_dir_is_refused_and_the_first_untouched(
        small_capture: Path, tmp_path: Path) -> None:
    source = tmp_path / "conn.ndjson"
    shutil.copyfile(small_capture, source)
    output = tmp_path / "conn.csv"
    work_dir = Path(f"{output}.parts")
    close_gate(str(source), GATE_AT * PARTITION)
    first = _convert(source, output)
    wait_for(f"{GATE_AT} shards in the manifest", lambda: shard_records(work_dir / MANIFEST_NAME) >= GATE_AT,
             proc=first)

    code, _, err = finish(_convert(source, output))
    assert code == 2 and f"output {output} is in use by another zeekflow run (pid {first.pid} on" in \
        _one_error_line(err)
    other = tmp_path / "other.csv"
    code, _, err = finish(_convert(source, other, "--work-dir", str(work_dir)))
    assert code == 2 and f"work dir {work_dir} is in use by another zeekflow run (pid {first.pid}" in \
        _one_error_line(err)
    code, _, err = finish(_convert(source, output, "--work-dir", str(tmp_path / "elsewhere")))
    assert code == 2 and f"pid {first.pid}" in _one_error_line(err)
    # The refused runs created nothing: no lock, work dir or output of their own.
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["conn.ndjson", "conn.ndjson.gate-at", "conn.csv.parts", "conn.csv.tmp", "conn.csv.rejects.ndjson.tmp",
         f"conn.csv{LOCK_SUFFIX}", f"conn.csv.rejects.ndjson{LOCK_SUFFIX}"])

    open_gate(str(source))
    code, _, err = finish(first)
    assert code == 0, err
    converted = output.read_bytes()
    # Its locks died with it: the same command runs again, and writes the same bytes.
    code, _, err = finish(_convert(source, output))
    assert code == 0, err
    assert output.read_bytes() == converted and converted.count(b"\n") > 1000
    assert not list(tmp_path.glob(f"*{LOCK_SUFFIX}")) and not work_dir.exists()


def test_a_work_dir_holding_the_users_own_part_files_is_refused_and_they_are_kept(tmp_path: Path) -> None:
    log = tmp_path / "conn.log"
    log.write_bytes(b'{"ts":1.5,"uid":"C1"}\n' * 3)
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "part-000000.csv").write_text("the user's own\n")
    (mine / "part-000001.rejects.ndjson").write_text("{}\n")
    result = run_cli("convert", str(log), "-o", str(tmp_path / "out.csv"), "--work-dir", str(mine),
                     "--workers", "1", "--partition-size", "20")
    assert result.returncode == 2
    line = _one_error_line(result.stderr)
    assert f"work dir {mine} holds files zeekflow did not write (part-000000.csv, part-000001.rejects.ndjson)" \
        in line and "--work-dir" in line
    assert sorted(os.listdir(mine)) == ["part-000000.csv", "part-000001.rejects.ndjson"]
    assert (mine / "part-000000.csv").read_text() == "the user's own\n"
    assert sorted(os.listdir(tmp_path)) == ["conn.log", "mine"]


@pytest.mark.cluster
def test_a_run_removes_what_an_earlier_run_of_its_own_left_and_nothing_else(tmp_path: Path) -> None:
    log = tmp_path / "conn.log"
    log.write_bytes(b'{"ts":1.5,"uid":"C1"}\n' * 30)
    work = tmp_path / "work"
    options = dict(inputs=[str(log)], output=str(tmp_path / "out.csv"), work_dir=str(work))
    # An earlier run (another partition size) killed mid-way: its journal, a shard it recorded, one it did not,
    # a task's temp file, its lock file.
    job = prepare(ConvertOptions(**options, partition_size=200))
    work.mkdir()
    manifest = job.manifest()
    manifest.start()
    manifest.record(convert_partition(job.partitions[0], job.spec))
    convert_partition(job.partitions[1], job.spec)
    (work / ("part-000002.csv.tmp-" + "ab" * 16)).write_text("torn")
    (work / WORK_LOCK_NAME).write_text("pid 1 on a crashed host\n")
    (work / "notes.txt").write_text("the user's\n")
    result = run_cli("convert", str(log), "-o", options["output"], "--work-dir", str(work), "--workers", "1",
                     "--partition-size", "100", "--no-progress")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out.csv").read_text().count("\n") == 31
    assert os.listdir(work) == ["notes.txt"]
