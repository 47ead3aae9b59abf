"""Multi-node conversion with real processes: a scheduler and workers started by cluster/, the dashboard, a lost
worker. Inputs go through ``gated://`` (tests/gatedfs.py) so "mid-run" is a state the test waits for."""

from __future__ import annotations

import io
import json
import shutil
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import dask
import pytest
import yaml
from distributed import Client

from workflows.cluster import unknown_config_keys
from workflows.manifest import MANIFEST_NAME

from .browser import chromium, screenshot
from .gatedfs import close_gate, open_gate, remove_gate
from .procs import CLUSTER, ScriptCluster, finish, gated_cli, shard_records, wait_for

pytestmark = pytest.mark.cluster

PARTITION = 64 * 1024
GATE_AT = 8  # partitions 0..7 finish, the rest wait at the gate until the test opens it
CONFIG = CLUSTER / "config" / "zeekflow.yaml"


def _convert(source: Path, output: Path, *extra: str):
    return gated_cli(
        "convert", f"gated://{source}", "-o", str(output), "--partition-size", str(PARTITION), "--no-progress",
        "--summary-json", f"{output}.summary.json", *extra,
    )


def _same_output(output: Path, reference: Path) -> bool:
    return (output.read_bytes() == reference.read_bytes()
            and Path(f"{output}.rejects.ndjson").read_bytes() == Path(f"{reference}.rejects.ndjson").read_bytes())


def _summary(output: Path) -> dict:
    return json.loads(Path(f"{output}.summary.json").read_text())


@pytest.fixture(scope="module")
def capture(small_capture: Path, tmp_path_factory) -> tuple[Path, Path]:
    """A copy of the capture (gates are per path) and its output from an embedded LocalCluster run."""
    folder = tmp_path_factory.mktemp("remote")
    source = folder / "conn.ndjson"
    shutil.copyfile(small_capture, source)
    assert source.stat().st_size > (GATE_AT + 8) * PARTITION
    reference = folder / "reference.csv"
    code, _, err = finish(_convert(source, reference, "--workers", "2"))
    assert code == 0, err
    return source, reference


def start_cluster(log_dir: Path, **kwargs) -> ScriptCluster:
    cluster = ScriptCluster(log_dir, **kwargs)
    try:
        cluster.start_scheduler()
        cluster.start_worker("w0", env={"DASK_DISTRIBUTED__WORKER__MEMORY__PAUSE": "0.9"})
        cluster.start_worker("w1")
        with Client(cluster.address, timeout=30, set_as_default=False) as client:
            client.wait_for_workers(2, timeout=60)
    except BaseException:
        cluster.close()
        raise
    return cluster


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    cluster = start_cluster(tmp_path_factory.mktemp("cluster-logs"))
    yield cluster
    cluster.close()


def test_cluster_config_holds_only_keys_dask_knows() -> None:
    config = yaml.safe_load(CONFIG.read_text())
    assert unknown_config_keys(config) == []
    memory = config["distributed"]["worker"]["memory"]
    assert 0 < memory["pause"] < memory["terminate"] < 1
    assert unknown_config_keys({"distributed": {"worker": {"memory": {"pasue": 0.8}}}}) == [
        "distributed.worker.memory.pasue"]


def test_scripts_load_the_config_and_env_overrides_it(cluster: ScriptCluster) -> None:
    config = yaml.safe_load(CONFIG.read_text())["distributed"]
    with Client(cluster.address, timeout=30, set_as_default=False) as client:
        names = {address: info["name"] for address, info in client.scheduler_info()["workers"].items()}
        pause = {names[address]: value for address, value in
                 client.run(dask.config.get, "distributed.worker.memory.pause").items()}
        allowed = client.run_on_scheduler(dask.config.get, "distributed.scheduler.allowed-failures")
        log_lengths = set(client.run(lambda dask_worker: dask_worker.profile_history.maxlen).values())
    assert pause == {"w0": 0.9, "w1": config["worker"]["memory"]["pause"]}  # w0 has DASK_..._PAUSE=0.9
    assert allowed == config["scheduler"]["allowed-failures"] != dask.config.get(
        "distributed.scheduler.allowed-failures")
    # The deployment keeps Dask's low-level logs as short as the embedded cluster does (flat worker memory).
    from workflows.cluster import EMBEDDED_LOG_SETTINGS

    assert log_lengths == {config["admin"]["low-level-log-length"]} == set(EMBEDDED_LOG_SETTINGS.values())


def test_remote_cluster_output_is_byte_identical(cluster: ScriptCluster, capture, tmp_path: Path) -> None:
    source, reference = capture
    output = tmp_path / "conn.csv"
    code, out, err = finish(_convert(source, output, "--scheduler", cluster.address))
    assert code == 0, err
    assert _same_output(output, reference)
    summary = _summary(output)
    assert summary["workers"] == 2 and summary["retried_tasks"] == 0 and summary["reused_partitions"] == 0
    assert f"dashboard: http://127.0.0.1:{cluster.dashboard_port}/status" in err


def _fetch(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.status, response.read().decode("utf-8", "replace")


@contextmanager
def held_run(cluster: ScriptCluster, source: Path, reference: Path, output: Path) -> Iterator[None]:
    """A conversion on ``cluster`` held mid-run (the first partitions done, the rest at the gate) for the
    body of the ``with``; then the gate opens and the run must finish with the reference output."""
    close_gate(str(source), GATE_AT * PARTITION)
    try:
        client = _convert(source, output, "--scheduler", cluster.address)
        manifest = Path(f"{output}.parts") / MANIFEST_NAME
        wait_for(f"{GATE_AT} finished shards", lambda: shard_records(manifest) >= GATE_AT, proc=client)
        yield
        open_gate(str(source))
        code, _, err = finish(client)
    finally:
        remove_gate(str(source))
    assert code == 0, err
    assert _same_output(output, reference)


def test_dashboard_and_metrics_show_the_run(cluster: ScriptCluster, capture, tmp_path: Path) -> None:
    with held_run(cluster, *capture, tmp_path / "conn.csv"):
        base = f"http://127.0.0.1:{cluster.dashboard_port}"
        status, page = _fetch(f"{base}/status")
        assert status == 200 and "Dask" in page
        status, metrics = _fetch(f"{base}/metrics")
        assert status == 200
        ours = [line for line in metrics.splitlines() if 'task_prefix_name="zeekflow-convert"' in line]
        assert any(line.startswith("dask_scheduler_prefix_state_totals") and 'state="memory"' in line
                   for line in ours), metrics[:2000]


# True once the status page's plots hold data naming zeekflow's task prefix (the progress bars, the stream).
SHOWS_ZEEKFLOW = """(() => {
  if (typeof Bokeh === 'undefined' || !Bokeh.documents.length) return false;
  return [...Bokeh.documents[0].all_models].some(model => {
    const data = model.data instanceof Map ? Object.fromEntries(model.data) : model.data;
    return data !== undefined && JSON.stringify(data).includes('zeekflow-convert');
  });
})()"""


def test_dashboard_screenshot_shows_the_run(cluster: ScriptCluster, capture, tmp_path: Path) -> None:
    if chromium() is None:
        pytest.skip("no chromium for a headless screenshot (Debian package `chromium`)")
    from PIL import Image  # bokeh's own dependency

    with held_run(cluster, *capture, tmp_path / "conn.csv"):
        png, page = screenshot(f"http://127.0.0.1:{cluster.dashboard_port}/status", SHOWS_ZEEKFLOW)
    (tmp_path / "status.png").write_bytes(png)
    # The PNG's own header (signature, then the IHDR chunk's width and height) against the viewport the page
    # laid itself out in: the picture is the whole rendered page, not a crop or an empty frame.
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and png[12:16] == b"IHDR"
    width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    assert (width, height) == (page["width"], page["height"])
    image = Image.open(io.BytesIO(png)).convert("RGB")
    assert len(image.getcolors(2**20)) > 100  # plots drawn, not a blank page


def test_worker_killed_mid_run(capture, tmp_path: Path) -> None:
    source, reference = capture
    cluster = start_cluster(tmp_path)
    output = tmp_path / "conn.csv"
    close_gate(str(source), GATE_AT * PARTITION)
    try:
        client = _convert(source, output, "--scheduler", cluster.address, "--window", "6")
        manifest = Path(f"{output}.parts") / MANIFEST_NAME
        wait_for(f"{GATE_AT} finished shards", lambda: shard_records(manifest) >= GATE_AT, proc=client)
        with Client(cluster.address, timeout=30, set_as_default=False) as observer:
            names = {address: info["name"] for address, info in observer.scheduler_info()["workers"].items()}
            # Every task left is held at the gate; each worker is running (or holding) some.
            running = wait_for("both workers to hold tasks",
                               lambda: (held := observer.processing()) and all(held.values()) and held)
            victim = names[next(iter(running))]
            lost = len(running[next(iter(running))])
            cluster.kill_worker(victim)  # SIGKILL to the nanny and its worker process: a node lost
            wait_for("the scheduler to drop the worker", lambda: len(observer.scheduler_info()["workers"]) == 1)
        open_gate(str(source))
        code, out, err = finish(client)
    finally:
        remove_gate(str(source))
        cluster.close()
    assert code == 0, err
    assert _same_output(output, reference)
    summary = _summary(output)
    assert summary["retried_tasks"] == lost >= 1
    assert f"Retried:       {lost} task{'s' if lost != 1 else ''} (lost worker" in out
