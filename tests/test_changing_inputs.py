"""Inputs that change during a run: a growing live log is converted as planned; a shrunk or replaced one fails."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from workflows import ConvertOptions, prepare
from workflows.errors import InputChanged
from workflows.task import convert_partition

from .gatedfs import close_gate, open_gate, remove_gate
from .inprocess import convert_in_process
from .procs import finish, gated_cli, one_error_line, wait_for

LINE = b'{"ts":%d.5,"uid":"C%d","id.orig_h":"10.0.0.1","id.orig_p":%d,"proto":"tcp"}\n'
DATA = b"".join(LINE % (i, i, i) for i in range(300))
PARTITION = "2KiB"


def _planned(tmp_path: Path):
    source = tmp_path / "conn.log"
    source.write_bytes(DATA)
    job = prepare(ConvertOptions(inputs=[str(source)], output=str(tmp_path / "out.csv"), partition_size=PARTITION))
    os.makedirs(job.spec.work_dir, exist_ok=True)
    return source, job


def test_a_growing_input_is_converted_as_planned(tmp_path: Path) -> None:
    expected, _, _ = convert_in_process([_write(tmp_path / "reference" / "conn.log", DATA)], tmp_path / "r.csv",
                                        partition_size=PARTITION)
    source, job = _planned(tmp_path)
    with open(source, "ab") as f:  # a live log: lines appended after planning, the last one still torn
        f.write(LINE % (1000, 1000, 1) * 40 + b'{"ts":1001.5,"ui')
    infos = [convert_partition(p, job.spec) for p in job.partitions]
    csv = job.header() + b"".join(Path(job.spec.work_dir, f"part-{i.index:06d}.csv").read_bytes() for i in infos)
    assert csv == expected
    assert sum(i.rows for i in infos) == 300 and sum(i.rejected for i in infos) == 0
    assert sum(i.bytes_in for i in infos) == len(DATA)


def _write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _truncate(source: Path) -> None:
    with open(source, "r+b") as f:
        f.truncate(len(DATA) // 2)


def _rotate(source: Path) -> None:
    # Zeek's rotation: the log is renamed away and a new one (here longer) takes its name.
    os.rename(source, source.with_suffix(".old"))
    source.write_bytes(DATA + DATA)


def _rewrite(source: Path) -> None:
    stat = source.stat()
    source.write_bytes(DATA.replace(b'"C1"', b'"X1"'))
    os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))


@pytest.mark.parametrize("change, reason", [(_truncate, "shrank from 23,370 to 11,685 bytes"),
                                            (_rotate, "replaced by another file"),
                                            (_rewrite, "rewritten"),
                                            (os.unlink, "was removed")])
def test_a_changed_input_fails_its_task_naming_the_change(tmp_path: Path, change, reason) -> None:
    source, job = _planned(tmp_path)
    assert len(DATA) == 23_370 and len(job.partitions) > 2
    change(source)
    with pytest.raises(InputChanged, match=reason):
        convert_partition(job.partitions[-1], job.spec)


@pytest.mark.cluster
def test_an_input_changed_mid_run_fails_the_run_in_one_line_and_one_growing_converts_as_planned(tmp_path: Path):
    source = _write(tmp_path / "conn.log", DATA)
    expected, _, _ = convert_in_process([source], tmp_path / "r.csv", partition_size=PARTITION)
    runs = {"grows": lambda: source.open("ab").write(LINE % (7, 7, 7) * 50), "shrinks": lambda: _truncate(source),
            "removed": source.unlink}
    for name, change in runs.items():
        source.write_bytes(DATA)
        output = tmp_path / f"{name}.csv"
        close_gate(str(source), 4096)  # partitions from byte 4096 on wait, the first ones finish
        debug = {"ZEEKFLOW_DEBUG": "1"} if name == "removed" else {}
        run = gated_cli("convert", f"gated://{source}", "-o", str(output), "--partition-size", PARTITION,
                        "--workers", "1", "--no-progress", env=debug)
        wait_for("the first shard", lambda: (Path(f"{output}.parts") / "part-000000.csv").exists(), proc=run)
        change()
        open_gate(str(source))
        code, _, err = finish(run)
        if name == "grows":
            assert code == 0, err
            assert output.read_bytes() == expected
            continue
        assert code == 1 and not output.exists(), err
        if name == "shrinks":
            assert f"input gated://{source} shrank from 23,370 to 11,685 bytes" in err
            assert one_error_line(err), err  # no worker log blocks
        else:  # the workers' own reports are there on request
            assert f"input gated://{source} was removed" in err
            assert "Compute Failed" in err and "Traceback" in err
    remove_gate(str(source))
