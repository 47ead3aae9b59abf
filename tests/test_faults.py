"""Faults of a remote cluster, with real `dask scheduler` and `dask worker` processes: the scheduler killed
mid-run, and the client killed while its tasks still run on the workers; both finished by --resume with the
bytes of an uninterrupted run. Inputs go through ``gated://`` (tests/gatedfs.py), so "mid-run" is a state the
test waits for."""

from __future__ import annotations

import json
import os
import shutil
import signal
import threading
from pathlib import Path

import pytest
from distributed import Client

from workflows.manifest import MANIFEST_NAME, Manifest, identity
from workflows.plan import plan_partitions, stat_input
from workflows.schema import CONN
from workflows.task import TASK_PREFIX, TaskSpec, convert_partition, shard_name
from workflows.workdir import RunFiles

from .gatedfs import close_gate, open_gate, remove_gate
from .procs import ScriptCluster, finish, gated_cli, kill_group, one_error_line, shard_records, wait_for


PARTITION = 64 * 1024
GATE_AT = 8  # partitions 0..7 finish, the rest wait at the gate until the test opens it


def _convert(source: Path, output: Path, *extra: str):
    return gated_cli(
        "convert", f"gated://{source}", "-o", str(output), "--partition-size", str(PARTITION), "--no-progress",
        "--window", "4", "--summary-json", f"{output}.summary.json", *extra,
    )


def _summary(output: Path) -> dict:
    return json.loads(Path(f"{output}.summary.json").read_text())


@pytest.fixture(scope="module")
def capture(small_capture: Path, tmp_path_factory) -> tuple[Path, Path, Path]:
    """A copy of the capture (gates are per path), its CSV and its --dataset from the embedded cluster."""
    folder = tmp_path_factory.mktemp("faults")
    source = folder / "conn.ndjson"
    shutil.copyfile(small_capture, source)
    assert source.stat().st_size > (GATE_AT + 8) * PARTITION
    single, dataset = folder / "reference.csv", folder / "reference"
    for output, extra in ((single, ()), (dataset, ("--dataset",))):
        code, _, err = finish(_convert(source, output, "--workers", "2", *extra))
        assert code == 0, err
    return source, single, dataset


def _cluster(log_dir: Path, workers: int = 2) -> ScriptCluster:
    log_dir.mkdir(exist_ok=True)
    cluster = ScriptCluster(log_dir)
    try:
        cluster.start_scheduler()
        for index in range(workers):
            cluster.start_worker(f"w{index}")
        with Client(cluster.address, timeout=30, set_as_default=False) as client:
            client.wait_for_workers(workers, timeout=60)
    except BaseException:
        cluster.close()
        raise
    return cluster


def _same_files(output: Path, reference: Path) -> None:
    names = sorted(os.listdir(reference)) if reference.is_dir() else [None]
    if reference.is_dir():
        assert sorted(os.listdir(output)) == names
    for name in names:
        got, expected = (output / name, reference / name) if name else (output, reference)
        assert got.read_bytes() == expected.read_bytes(), got
    assert Path(f"{output}.rejects.ndjson").read_bytes() == Path(f"{reference}.rejects.ndjson").read_bytes()


@pytest.mark.cluster
def test_scheduler_killed_mid_run_then_resumed_on_a_new_cluster(capture, tmp_path: Path) -> None:
    source, reference, _ = capture
    output = tmp_path / "conn.csv"
    work_dir = Path(f"{output}.parts")
    old, new = _cluster(tmp_path / "old", workers=1), _cluster(tmp_path / "new", workers=1)  # new: idle for now
    close_gate(str(source), GATE_AT * PARTITION)
    try:
        client = _convert(source, output, "--scheduler", old.address)
        wait_for(f"{GATE_AT} finished shards", lambda: shard_records(work_dir / MANIFEST_NAME) >= GATE_AT,
                 proc=client)
        with Client(old.address, timeout=30, set_as_default=False) as observer:
            wait_for("the worker to hold tasks", lambda: (held := observer.processing()) and all(held.values()))
        kill_group(old.scheduler)  # SIGKILL: the scheduler's process is gone, its connections with it
        old.scheduler = None
        code, out, err = finish(client, timeout=60)
    except BaseException:
        new.close()
        raise
    finally:
        old.close()  # its workers, still held at the gate, go too: nothing of them survives
        remove_gate(str(source))
    assert code == 1, err
    assert one_error_line(err), err
    line = err.strip().splitlines()[-1]
    assert f"lost the Dask scheduler at {old.address} mid-run" in line and "--resume" in line, line
    assert not output.exists() and not Path(f"{output}.tmp").exists()
    assert shard_records(work_dir / MANIFEST_NAME) >= GATE_AT
    assert all((work_dir / shard_name(i)).exists() for i in range(GATE_AT))  # kept for --resume

    try:
        code, out, err = finish(_convert(source, output, "--scheduler", new.address, "--resume"))
    finally:
        new.close()
    assert code == 0, err
    _same_files(output, reference)
    assert _summary(output)["reused_partitions"] >= GATE_AT
    assert not work_dir.exists()


def _executing(observer: Client) -> dict[str, int]:
    """Tasks each worker is running, the ones the scheduler has already released included."""
    return observer.run(lambda dask_worker: len(dask_worker.state.executing))


def _run_tasks_counter(prefix: str):
    """A function counting the scheduler's tasks of zeekflow runs; nested, so it is sent by value (the
    scheduler process cannot import the tests)."""

    def run_tasks(dask_scheduler) -> int:
        return sum(1 for key in dask_scheduler.tasks if isinstance(key, tuple) and str(key[0]).startswith(prefix))

    return run_tasks


_run_tasks = _run_tasks_counter(TASK_PREFIX)


@pytest.mark.cluster
def test_client_killed_on_a_remote_cluster_then_resumed_while_its_tasks_still_run(capture, tmp_path: Path) -> None:
    """The dead client's tasks finish after the resumed run has started (and checked its shards): they may
    only ever write what the resumed run writes, and leave nothing behind."""
    source, _, reference = capture
    output = tmp_path / "conn"
    work_dir = Path(f"{output}.parts")
    cluster = _cluster(tmp_path / "logs")
    close_gate(str(source), GATE_AT * PARTITION)
    try:
        with Client(cluster.address, timeout=30, set_as_default=False) as observer:
            client = _convert(source, output, "--dataset", "--scheduler", cluster.address)
            wait_for(f"{GATE_AT} finished shards", lambda: shard_records(work_dir / MANIFEST_NAME) >= GATE_AT,
                     proc=client)
            wait_for("both workers to hold tasks", lambda: (held := observer.processing()) and all(held.values()))
            os.kill(client.pid, signal.SIGKILL)  # the client only: the cluster and its running tasks stay
            code, _, _ = finish(client)
            assert code == -signal.SIGKILL
            # The scheduler forgets the dead client's tasks; the workers are still inside them, at the gate.
            wait_for("the scheduler to drop the dead client's tasks",
                     lambda: observer.run_on_scheduler(_run_tasks) == 0)
            assert all(_executing(observer).values()), _executing(observer)

            resumed = _convert(source, output, "--dataset", "--scheduler", cluster.address, "--resume")
            wait_for("the resumed run to submit its tasks", lambda: observer.run_on_scheduler(_run_tasks) > 0,
                     proc=resumed)
            open_gate(str(source))  # the dead client's tasks and the resumed run's go on together
            code, _, err = finish(resumed)
            assert code == 0, err
            wait_for("every task on the workers to end", lambda: not any(_executing(observer).values()))
    finally:
        remove_gate(str(source))
        cluster.close()
    _same_files(output, reference)
    assert _summary(output)["reused_partitions"] >= GATE_AT
    # Nothing written after the run ended: no work dir brought back, no temp folder, no stray part.
    assert not work_dir.exists() and not Path(f"{output}.tmp").exists()


def test_a_late_task_of_a_dead_run_cannot_leave_a_shard_for_a_new_run(capture, tmp_path: Path) -> None:
    """A run started afresh (other options, say) clears the dead run's files from the work dir, the temp
    names its still-running tasks write into included: their final rename then fails, so no shard of the old
    run can appear under a name the new run reads. (A resumed run has the same inputs and options: a late
    task of the old run could only write the very bytes it writes.)"""
    source = capture[0]
    work_dir, output = tmp_path / "conn.csv.parts", tmp_path / "conn.csv"
    work_dir.mkdir()
    columns = tuple(c for c in CONN.columns if c.name in ("ts", "uid"))
    partitions = plan_partitions([stat_input(f"gated://{source}")], PARTITION)
    Manifest(str(work_dir), identity([stat_input(f"gated://{source}")], {"columns": ["ts", "uid"]}),
             partitions).start()  # the dead run's journal, which vouches for its shards' names
    failed: list[BaseException] = []

    def late_task() -> None:
        try:
            convert_partition(partitions[GATE_AT], TaskSpec(columns=columns, work_dir=str(work_dir)))
        except BaseException as error:  # noqa: BLE001 - the outcome under test
            failed.append(error)

    close_gate(str(source), partitions[GATE_AT].offset)
    task = threading.Thread(target=late_task)
    task.start()
    try:
        wait_for("the late task to open its temp files", lambda: len(os.listdir(work_dir)) > 1)
        with RunFiles(str(output), f"{output}.rejects.ndjson", str(work_dir)) as files:
            files.clear()  # what a new run without --resume does first
            assert os.listdir(work_dir) == ["zeekflow.lock"]
            open_gate(str(source))
            task.join(timeout=30)
            assert not task.is_alive()
            assert [type(error) for error in failed] == [FileNotFoundError]
            assert os.listdir(work_dir) == ["zeekflow.lock"]
    finally:
        open_gate(str(source))
        task.join(timeout=30)
        remove_gate(str(source))
