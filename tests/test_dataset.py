"""--dataset: the CSV output as a folder of ordered part files; readers see the single file's rows in order;
a killed run leaves no dataset under the final name and --resume finishes it with the same bytes."""

from __future__ import annotations

import json
import os
import shutil
import signal
from pathlib import Path

import pytest

from workflows.commit import COMMIT_SHARDS
from workflows.dataset import SUCCESS, part_name

from .procs import cli

PARTITION = 64 * 1024


def _convert(source: Path, output: Path, *extra: str, env: dict[str, str] | None = None):
    return cli("convert", str(source), "-o", str(output), "--workers", "2", "--partition-size", str(PARTITION),
               "--window", "4", "--no-progress", "--summary-json", f"{output}.summary.json", *extra, env=env)


def _parts(folder: Path) -> list[Path]:
    return sorted(folder.glob("part-*.csv"))


@pytest.fixture(scope="module")
def runs(small_capture: Path, tmp_path_factory) -> tuple[Path, Path, Path]:
    """(input, single-file CSV, dataset) of one capture, converted with the same options."""
    folder = tmp_path_factory.mktemp("dataset")
    source = folder / "conn.ndjson"
    shutil.copyfile(small_capture, source)
    assert source.stat().st_size > 2 * COMMIT_SHARDS * PARTITION + PARTITION  # two commits and a tail
    single, dataset = folder / "single.csv", folder / "dataset"
    for output, extra in ((single, ()), (dataset, ("--dataset",))):
        code, _, err = _convert(source, output, *extra)
        assert code == 0, err
    return source, single, dataset


@pytest.mark.cluster
def test_a_part_per_partition_each_with_the_header_and_success_last(runs: tuple[Path, Path, Path]) -> None:
    _, single, dataset = runs
    summary = json.loads(Path(f"{dataset}.summary.json").read_text())
    partitions = summary["partitions"]
    assert partitions > 2 * COMMIT_SHARDS
    assert sorted(os.listdir(dataset)) == sorted([part_name(i) for i in range(partitions)] + [SUCCESS])
    assert (dataset / SUCCESS).read_bytes() == b""
    header, body = single.read_bytes().split(b"\n", 1)
    joined = b""
    for part in _parts(dataset):
        head, rest = part.read_bytes().split(b"\n", 1)
        assert head == header, part.name
        joined += rest
    assert joined == body  # the parts, headers off, in name order, are the single file's rows
    assert summary["output_bytes"] == sum(p.stat().st_size for p in _parts(dataset))
    # One rejects file, as without --dataset; nothing else left beside the output.
    assert Path(f"{dataset}.rejects.ndjson").read_bytes() == Path(f"{single}.rejects.ndjson").read_bytes()
    assert not Path(f"{dataset}.parts").exists() and not Path(f"{dataset}.tmp").exists()


@pytest.mark.cluster
def test_duckdb_chdb_and_dask_read_the_rows_of_the_single_file_in_order(runs: tuple[Path, Path, Path]) -> None:
    import chdb
    import dask
    import dask.dataframe as dd
    import duckdb
    import pandas as pd

    _, single, dataset = runs
    glob = f"{dataset}/*.csv"
    rows = duckdb.sql(f"select * from read_csv('{single}')").fetchall()
    assert len(rows) > 5000
    assert duckdb.sql(f"select * from read_csv('{glob}')").fetchall() == rows

    # ClickHouse reads the files in parallel: the order is the files' names, then the rows within each.
    in_order = str(chdb.query(f"select * except (_file, _row_number) from (select *, _file, _row_number from "
                              f"file('{glob}', CSVWithNames) order by _file, _row_number)", "CSV"))
    assert in_order == str(chdb.query(f"select * from file('{single}', CSVWithNames)", "CSV"))

    text = {"dtype": str, "keep_default_na": False}
    with dask.config.set({"dataframe.convert-string": False}):  # the same string type as pandas' reader
        frame = dd.read_csv(glob, **text).compute().reset_index(drop=True)
    pd.testing.assert_frame_equal(frame, pd.read_csv(single, **text))


@pytest.mark.cluster
def test_partitions_without_rows_keep_their_part_with_the_header(tmp_path: Path) -> None:
    """Names stay contiguous: a partition of blank lines is a part holding only the header."""
    import duckdb

    line = (b'{"ts":1591367999.305988,"uid":"CMdzit1AMNsmfAIiQc","id.orig_h":"192.168.4.76","id.orig_p":36844,'
            b'"id.resp_h":"192.168.4.1","id.resp_p":53,"proto":"udp"}\n')
    source = tmp_path / "conn.ndjson"
    source.write_bytes(line * 20 + b"\n" * 4096 + line * 20)
    output = tmp_path / "out"
    code, _, err = cli("convert", str(source), "-o", str(output), "--dataset", "--partition-size", "1KiB",
                       "--workers", "1", "--no-progress")
    assert code == 0, err
    parts = _parts(output)
    assert [p.name for p in parts] == [part_name(i) for i in range(len(parts))]
    header = parts[0].read_bytes().split(b"\n", 1)[0] + b"\n"
    empty = [p for p in parts if p.read_bytes() == header]
    assert len(empty) >= 3
    assert duckdb.sql(f"select count(*) from read_csv('{output}/*.csv')").fetchall() == [(40,)]

    source.write_bytes(b"")  # no partitions at all: still one part with the header, so readers find columns
    code, _, err = cli("convert", str(source), "-o", f"{output}/", "--dataset", "--log-type", "conn",
                       "--workers", "1", "--no-progress")
    assert code == 0, err
    assert sorted(os.listdir(output)) == sorted([part_name(0), SUCCESS])
    assert (output / part_name(0)).read_bytes() == header
    assert sorted(p.name for p in tmp_path.iterdir()) == ["conn.ndjson", "out", "out.rejects.ndjson"]


@pytest.mark.cluster
@pytest.mark.parametrize("stop, moved_least", [
    ("after-append:3", 4),                            # before any commit: the moved parts are kept all the same
    (f"after-append:{COMMIT_SHARDS + 4}", COMMIT_SHARDS + 5),   # moved past the first commit, not committed
    (f"after-commit:{COMMIT_SHARDS + 4}", COMMIT_SHARDS + 5),   # the commit that covers them recorded
])
def test_killed_run_leaves_no_dataset_and_resume_gives_the_same_parts(
        runs: tuple[Path, Path, Path], stop: str, moved_least: int) -> None:
    source, _, expected = runs
    output = source.parent / stop.replace(":", "-")
    code, _, err = _convert(source, output, "--dataset", env={"ZEEKFLOW_STOP_AT": stop})
    assert code == -signal.SIGKILL, err
    assert not output.exists()
    staged = Path(f"{output}.tmp")
    moved = _parts(staged)
    # Moved in order, by rename: the first parts are in the temp folder (not in the work dir any more), and
    # the dataset is not marked complete.
    assert [p.name for p in moved] == [part_name(i) for i in range(len(moved))]
    assert len(moved) >= moved_least
    assert not (staged / SUCCESS).exists()
    assert not any(Path(f"{output}.parts", p.name).exists() for p in moved)
    assert all(p.read_bytes() == (expected / p.name).read_bytes() for p in moved)
    if moved_least < COMMIT_SHARDS:
        # Going on as one file (resumed or afresh) is refused with the fix; nothing of the run is touched.
        for extra in (("--resume",), ()):
            code, _, err = _convert(source, output, *extra)
            assert code == 2 and f"{staged} is a folder" in err and "--dataset --resume" in err, err
        assert _parts(staged) == moved

    code, _, err = _convert(source, output, "--dataset", "--resume")
    assert code == 0, err
    assert sorted(os.listdir(output)) == sorted(os.listdir(expected))
    for name in os.listdir(expected):
        assert (output / name).read_bytes() == (expected / name).read_bytes(), name
    assert Path(f"{output}.rejects.ndjson").read_bytes() == Path(f"{expected}.rejects.ndjson").read_bytes()
    summary = json.loads(Path(f"{output}.summary.json").read_text())
    assert summary["reused_partitions"] >= moved_least
    assert not staged.exists() and not Path(f"{output}.parts").exists()


@pytest.mark.cluster
def test_a_rerun_replaces_an_earlier_dataset(runs: tuple[Path, Path, Path], tmp_path: Path) -> None:
    source, _, expected = runs
    output = tmp_path / "again"
    output.mkdir()
    for index in range(200):  # more parts than this run makes: none of them may survive
        (output / part_name(index)).write_bytes(b"old\n")
    (output / SUCCESS).write_bytes(b"")
    code, _, err = _convert(source, output, "--dataset")
    assert code == 0, err
    assert sorted(os.listdir(output)) == sorted(os.listdir(expected))
    assert all((output / name).read_bytes() == (expected / name).read_bytes() for name in os.listdir(expected))


def test_usage_errors_exit_2_and_touch_nothing(small_capture: Path, tmp_path: Path) -> None:
    source = str(small_capture)
    code, _, err = cli("convert", source, "-o", str(tmp_path / "out.parquet"), "--dataset", "--single-file")
    assert code == 2 and "--dataset" in err and "--single-file" in err and "Traceback" not in err

    existing = tmp_path / "out.csv"
    existing.write_text("the user's own\n")
    code, _, err = cli("convert", source, "-o", str(existing), "--dataset")
    assert code == 2 and "is a file and --dataset writes a folder" in err
    assert existing.read_text() == "the user's own\n"

    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "notes.txt").write_text("keep\n")
    (folder / part_name(0)).write_text("keep too\n")
    code, _, err = cli("convert", source, "-o", str(folder), "--dataset")
    assert code == 2 and "holds other files" in err
    assert sorted(os.listdir(folder)) == ["notes.txt", part_name(0)]
    assert not Path(f"{folder}.parts").exists()

    other = Path("/dev/shm")
    if other.is_dir() and os.stat(other).st_dev != os.stat(tmp_path).st_dev:
        work = other / f"zeekflow-test-{os.getpid()}"
        code, _, err = cli("convert", source, "-o", str(tmp_path / "ds"), "--dataset", "--work-dir", str(work))
        assert code == 2 and "same filesystem" in err
        assert not work.exists() and not (tmp_path / "ds").exists()


@pytest.mark.cluster
def test_dataset_with_parquet_is_the_parquet_dataset(small_capture: Path, tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    plain, flagged = tmp_path / "plain.parquet", tmp_path / "flagged.parquet"
    for output, extra in ((plain, ()), (flagged, ("--dataset",))):
        code, _, err = cli("convert", str(small_capture), "-o", str(output), "--partition-size", "1MiB",
                           "--workers", "2", "--no-progress", *extra)
        assert code == 0, err
    assert sorted(os.listdir(flagged)) == sorted(os.listdir(plain))
    assert pq.read_table(str(flagged)).equals(pq.read_table(str(plain)))
