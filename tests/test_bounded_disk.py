"""Bounded disk: shards deleted once durably joined; a client killed around a commit resumes byte-identically."""

from __future__ import annotations

import json
import shutil
import signal
from pathlib import Path

import pytest

from workflows.commit import COMMIT_SHARDS
from workflows.manifest import MANIFEST_NAME
from workflows.task import shard_name

from .procs import cli

PARTITION = 64 * 1024


def _convert(source: Path, output: Path, *extra: str, env: dict[str, str] | None = None):
    return cli("convert", str(source), "-o", str(output), "--workers", "2", "--partition-size", str(PARTITION),
               "--window", "4", "--no-progress", "--summary-json", f"{output}.summary.json", *extra, env=env)


@pytest.fixture(scope="module")
def reference(small_capture: Path, tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("bounded")
    source = folder / "conn.ndjson"
    shutil.copyfile(small_capture, source)
    assert source.stat().st_size > 2 * COMMIT_SHARDS * PARTITION + PARTITION  # two commits and a tail
    code, _, err = _convert(source, folder / "reference.csv")
    assert code == 0, err
    return source, folder / "reference.csv"


def _commits(manifest: Path) -> list[dict]:
    return [json.loads(line)["commit"] for line in manifest.read_text().splitlines() if '"commit"' in line]


@pytest.mark.cluster
@pytest.mark.parametrize("stop, committed", [
    ("after-append:3", 0),                          # before any commit: nothing deleted, the temp file not kept
    (f"after-append:{COMMIT_SHARDS + 4}", 1),        # appended past the first commit, not yet committed
    (f"after-commit:{COMMIT_SHARDS + 4}", 2),        # commit recorded, its shards not yet deleted
])
def test_client_killed_around_a_commit_resumes_byte_identical(
        reference: tuple[Path, Path], stop: str, committed: int) -> None:
    source, expected = reference
    output = source.parent / f"{stop.replace(':', '-')}.csv"
    work_dir = Path(f"{output}.parts")
    code, _, err = _convert(source, output, env={"ZEEKFLOW_STOP_AT": stop})
    assert code == -signal.SIGKILL, err
    assert not output.exists()
    commits = _commits(work_dir / MANIFEST_NAME)
    assert len(commits) == committed
    temp = Path(f"{output}.tmp")
    if commits:
        last = commits[-1]
        # The committed length is a prefix of the final output; the shards before it are gone (bar the last
        # batch when the kill came between its commit record and the deletes).
        assert temp.stat().st_size >= last["lengths"][str(temp)]
        assert temp.read_bytes()[:last["lengths"][str(temp)]] == expected.read_bytes()[:last["lengths"][str(temp)]]
        gone = commits[-2]["next"] if stop.startswith("after-commit") else last["next"]
        assert not any((work_dir / shard_name(i)).exists() for i in range(gone))
    code, _, err = _convert(source, output, "--resume")
    assert code == 0, err
    assert output.read_bytes() == expected.read_bytes()
    assert Path(f"{output}.rejects.ndjson").read_bytes() == Path(f"{expected}.rejects.ndjson").read_bytes()
    summary = json.loads(Path(f"{output}.summary.json").read_text())
    assert summary["reused_partitions"] >= (commits[-1]["next"] if commits else 0)
    assert not work_dir.exists() and not temp.exists()


@pytest.mark.cluster
def test_the_work_dir_never_holds_the_whole_output(reference: tuple[Path, Path]) -> None:
    """Killed after the second commit: the work dir holds at most the uncommitted tail, not every shard."""
    source, expected = reference
    output = source.parent / "peak.csv"
    code, _, err = _convert(source, output, env={"ZEEKFLOW_STOP_AT": f"after-append:{2 * COMMIT_SHARDS + 1}"})
    assert code == -signal.SIGKILL, err
    shards = sorted(Path(f"{output}.parts").glob("part-*.csv"))
    partitions = -(-source.stat().st_size // PARTITION)
    assert len(shards) <= partitions - 2 * COMMIT_SHARDS, [s.name for s in shards]
    assert all(int(s.name[5:11]) >= 2 * COMMIT_SHARDS for s in shards)


@pytest.mark.cluster
def test_parquet_keeps_its_shards_and_resumes_after_a_commit(reference: tuple[Path, Path]) -> None:
    """Parquet's shards are its dataset: only the rejects shards are joined, committed and deleted."""
    import pyarrow.parquet as pq

    source, _ = reference
    expected, output = source.parent / "reference.parquet", source.parent / "killed.parquet"
    code, _, err = _convert(source, expected, "--format", "parquet")
    assert code == 0, err
    code, _, err = _convert(source, output, "--format", "parquet",
                            env={"ZEEKFLOW_STOP_AT": f"after-append:{COMMIT_SHARDS + 2}"})
    assert code == -signal.SIGKILL, err
    work_dir = Path(f"{output}.parts")
    assert len(_commits(work_dir / MANIFEST_NAME)) == 1
    assert (work_dir / shard_name(0, "parquet")).exists() and not (work_dir / "part-000000.rejects.ndjson").exists()
    code, _, err = _convert(source, output, "--format", "parquet", "--resume")
    assert code == 0, err
    assert pq.read_table(str(output)).equals(pq.read_table(str(expected)))
    assert Path(f"{output}.rejects.ndjson").read_bytes() == Path(f"{expected}.rejects.ndjson").read_bytes()
