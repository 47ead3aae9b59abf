"""The dashboard's zeekflow page shows the whole run: real runs held mid-way at a gate (tests/gatedfs.py), the
page's JSON and HTML fetched over HTTP from the scheduler, a headless browser reading what it renders, and a
real `dask scheduler` process serving several runs. The figures are checked against the manifest's records at
the gate and against each run's summary JSON once it finished."""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import subprocess
import urllib.request
from pathlib import Path

import pytest
from distributed import Client

from workflows.explore.notebook import dashboard_html
from workflows.manifest import MANIFEST_NAME
from workflows.runpage import RUNS_KEY, prune, run_view, runs_view
from workflows.runstate import folder_bytes, run_page_link

from .browser import chromium, screenshot
from .gatedfs import close_gate, open_gate, remove_gate
from .procs import ScriptCluster, finish, gated_cli, kill_group, shard_records, wait_for

PARTITION = 64 * 1024
GATE_AT = 8  # partitions 0..7 finish, the rest wait at the gate until the test opens it
PUBLISHED = {"client", "task_prefix", "started", "state", "partitions_done", "partitions_total", "lines", "rejected",
             "bytes_in", "bytes_in_total", "bytes_out", "work_dir_bytes", "elapsed_s"}


# The page's figures, from what a run published (no cluster needed).

def test_a_run_view_takes_only_counters_and_derives_rate_and_eta() -> None:
    published = {"client": "c1", "task_prefix": "zeekflow-convert-abc", "state": "running", "started": 100.0,
                 "partitions_done": 3, "partitions_total": 12, "lines": 1500, "rejected": 7, "bytes_in": 25,
                 "bytes_in_total": 100, "bytes_out": 40, "work_dir_bytes": 60, "elapsed_s": 10.0,
                 "path": "/secret/conn.log"}
    view = run_view("r1", published, connected=True)
    assert view == {"run": "r1", "task_prefix": "zeekflow-convert-abc", "state": "running", "started": 100.0,
                    "partitions_done": 3, "partitions_total": 12, "lines": 1500, "rejected": 7, "bytes_in": 25,
                    "bytes_in_total": 100, "bytes_out": 40, "work_dir_bytes": 60, "elapsed_s": 10.0,
                    "lines_per_s": 150.0, "eta_s": 30.0}
    assert run_view("r1", published, connected=False)["state"] == "stopped"  # its client left mid-run
    done = run_view("r1", {**published, "state": "done"}, connected=False)
    assert done["state"] == "done" and done["eta_s"] is None


def test_a_run_view_ignores_what_is_not_a_counter() -> None:
    view = run_view("r", {"lines": "<script>", "rejected": -4, "bytes_in": True, "state": "<b>", "elapsed_s": "x",
                          "task_prefix": ["x"]}, connected=True)
    assert view["lines"] == view["rejected"] == view["bytes_in"] == 0
    assert view["state"] == "running" and view["task_prefix"] == "" and view["elapsed_s"] == 0.0


def test_runs_are_listed_in_progress_first_and_pruned_once_their_clients_left() -> None:
    runs = {"old": {"client": "gone", "state": "done", "started": 1.0},
            "new": {"client": "gone", "state": "done", "started": 3.0},
            "live": {"client": "here", "state": "running", "started": 2.0},
            "junk": "not a run"}
    assert [view["run"] for view in runs_view(runs, {"here": None})] == ["live", "old", "new"]
    assert list(prune(runs, {"here": None}, keep=1)) == ["new", "live"]


def test_the_run_page_sits_beside_the_dashboard() -> None:
    assert run_page_link("http://127.0.0.1:8787/status") == "http://127.0.0.1:8787/zeekflow"
    assert run_page_link("https://node1:8787/prefix/status?x=1") == "https://node1:8787/zeekflow"
    assert run_page_link(None) is None
    shown = dashboard_html("http://127.0.0.1:8787/status", "http://127.0.0.1:8787/zeekflow")  # in a notebook
    assert '<a href="http://127.0.0.1:8787/status"' in shown and '<a href="http://127.0.0.1:8787/zeekflow"' in shown


# Real runs.

@pytest.fixture(scope="module")
def capture(small_capture: Path, tmp_path_factory) -> Path:
    """A copy of the capture (gates are per path) big enough to be held well before its end."""
    source = tmp_path_factory.mktemp("page") / "conn.ndjson"
    shutil.copyfile(small_capture, source)
    assert source.stat().st_size > (GATE_AT + 8) * PARTITION
    return source


def _convert(source: Path, output: Path, *extra: str) -> subprocess.Popen:
    return gated_cli("convert", f"gated://{source}", "-o", str(output), "--partition-size", str(PARTITION),
                     "--no-progress", "--summary-json", f"{output}.summary.json", *extra)


def _page_link(proc: subprocess.Popen) -> str:
    """The run page's link from the line the run prints once its cluster is up."""
    seen = []
    for line in proc.stderr:
        seen.append(line)
        if "   run: " in line:
            assert line.startswith("zeekflow: ") and "dashboard: http://127.0.0.1:" in line, line
            return line.split("   run: ", 1)[1].strip()
    raise AssertionError(f"the run printed no run page link (exit {proc.wait()}):\n{''.join(seen)}")


def _get(url: str) -> tuple[int, str, str]:
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.status, response.headers["Content-Type"], response.read().decode("utf-8")


def _runs(page: str) -> dict[str, dict]:
    """The page's runs by task prefix (one run per output below, each with its own work dir and token)."""
    status, kind, text = _get(f"{page}/runs.json")
    assert status == 200 and kind.startswith("application/json")
    return {run["task_prefix"]: run for run in json.loads(text)["runs"]}


def _at_gate(output: Path, source: Path) -> dict:
    """What the run has done when held at the gate, from its manifest's records (and the work dir's files)."""
    work_dir = Path(f"{output}.parts")
    records = [json.loads(line)["shard"] for line in (work_dir / MANIFEST_NAME).read_text().splitlines()[1:]]
    assert sorted(r["index"] for r in records) == list(range(GATE_AT))
    return {"partitions_done": GATE_AT, "partitions_total": -(-source.stat().st_size // PARTITION),
            "lines": sum(r["lines"] for r in records), "rejected": sum(r["rejected"] for r in records),
            "bytes_in": GATE_AT * PARTITION, "bytes_in_total": source.stat().st_size,
            "bytes_out": sum(r["bytes_out"] for r in records), "work_dir_bytes": folder_bytes(str(work_dir))}


def _held(page: str, output: Path, source: Path, proc: subprocess.Popen) -> dict:
    """The page's view of the run on ``output`` once it shows the gate reached; checked against the run's state."""
    manifest = Path(f"{output}.parts") / MANIFEST_NAME
    wait_for(f"{GATE_AT} finished shards", lambda: shard_records(manifest) >= GATE_AT, proc=proc)

    def shown() -> dict | None:
        runs = [run for run in _runs(page).values() if run["state"] == "running"]
        return next((run for run in runs if run["partitions_done"] == GATE_AT
                     and run["bytes_in_total"] == source.stat().st_size and _matches(run, output, source)), None)

    run = wait_for(f"the page to show {GATE_AT} partitions done", shown, timeout=30, proc=proc)
    assert run["lines_per_s"] > 0 and run["eta_s"] > 0 and run["elapsed_s"] > 0
    assert run["task_prefix"].startswith("zeekflow-convert-")
    return run


def _matches(run: dict, output: Path, source: Path) -> bool:
    expected = _at_gate(output, source)
    return {key: run[key] for key in expected} == expected


def _finished(run: dict, summary: dict) -> None:
    """A finished run's last state on the page: the summary's figures."""
    assert run["state"] == "done" and run["eta_s"] is None
    assert (run["partitions_done"], run["partitions_total"]) == (summary["partitions"], summary["partitions"])
    assert (run["lines"], run["rejected"]) == (summary["lines"], summary["rejected"])
    assert run["bytes_in"] == run["bytes_in_total"] == summary["input_bytes"]
    assert run["bytes_out"] == summary["output_bytes"]
    assert 0 < run["elapsed_s"] <= summary["duration_s"]


def _summary(output: Path) -> dict:
    return json.loads(Path(f"{output}.summary.json").read_text())


@pytest.mark.cluster
@pytest.mark.parametrize("kind", ["threads", "processes"])
def test_the_embedded_cluster_serves_the_whole_run(capture: Path, tmp_path: Path, kind: str) -> None:
    output = tmp_path / "conn.csv"
    close_gate(str(capture), GATE_AT * PARTITION)
    try:
        proc = _convert(capture, output, "--workers", "2", "--worker-kind", kind)
        page = _page_link(proc)
        assert page.startswith("http://127.0.0.1:") and page.endswith("/zeekflow")
        run = _held(page, output, capture, proc)
        assert run["work_dir_bytes"] > run["bytes_out"] > 0  # the shards not yet committed, and the manifest
        status, kind_of, html = _get(page)
        assert status == 200 and kind_of.startswith("text/html") and "<title>zeekflow runs</title>" in html
        open_gate(str(capture))
        code, _, err = finish(proc)
    finally:
        remove_gate(str(capture))
    assert code == 0, err
    assert _summary(output)["run_page"] == page


# The page's numbers as the browser shows them, once it shows the run held at the gate.
READY = f"""(() => {{
  const field = name => document.querySelector(`section[data-state=running] [data-field=${{name}}]`);
  return field('partitions') !== null && field('partitions').textContent.startsWith('{GATE_AT} / ');
}})()"""
SHOWN = """({
  fields: Object.fromEntries([...document.querySelectorAll('section[data-state=running] [data-field]')]
    .map(node => [node.dataset.field, node.textContent])),
  viewport: [Math.round(innerWidth * devicePixelRatio), Math.round(innerHeight * devicePixelRatio)],
})"""


@pytest.mark.cluster
def test_a_browser_renders_the_run_page(capture: Path, tmp_path: Path) -> None:
    if chromium() is None:
        pytest.skip("no chromium for a headless browser (Debian package `chromium`)")
    from PIL import Image  # bokeh's own dependency

    output = tmp_path / "conn.csv"
    close_gate(str(capture), GATE_AT * PARTITION)
    try:
        proc = _convert(capture, output, "--workers", "2")
        page = _page_link(proc)
        run = _held(page, output, capture, proc)
        png, page_state = screenshot(page, READY, read_js=SHOWN, size=(1000, 700))
        open_gate(str(capture))
        code, _, err = finish(proc)
    finally:
        remove_gate(str(capture))
    assert code == 0, err
    (tmp_path / "run-page.png").write_bytes(png)
    shown = page_state["fields"]
    assert shown["state"] == "running"
    assert shown["partitions"] == f"{GATE_AT} / {run['partitions_total']}"
    assert shown["lines"] == f"{run['lines']:,}" and shown["rejected"] == f"{run['rejected']:,}"
    assert shown["bytes_in"] == f"{GATE_AT * PARTITION // 1024}.0 KiB of {run['bytes_in_total'] / 2**20:.1f} MiB"
    assert shown["eta"] not in ("", "--:--")
    image = Image.open(io.BytesIO(png)).convert("RGB")
    # The whole page as laid out (not a crop or an empty frame), with text and a bar drawn on it.
    assert list(image.size) == page_state["viewport"] and len(image.getcolors(2**20)) > 20


@pytest.mark.cluster
def test_a_dask_scheduler_shows_one_section_per_run(capture: Path, tmp_path: Path) -> None:
    """Two clients held at once on a real `dask scheduler` (its page registered by the first): each has its
    section with its own figures; one finishes (its last state, the summary's figures), one is killed (stopped),
    and a third fails (failed)."""
    other = tmp_path / "other.ndjson"
    shutil.copyfile(capture, other)
    cluster = ScriptCluster(tmp_path)
    held = {capture: tmp_path / "a.csv", other: tmp_path / "b.csv"}
    procs: dict[Path, subprocess.Popen] = {}
    try:
        cluster.start_scheduler()
        cluster.start_worker("w0")
        cluster.start_worker("w1")
        with Client(cluster.address, timeout=30, set_as_default=False) as client:
            client.wait_for_workers(2, timeout=60)
        # Window 1: each run holds one worker at its gate, so the other run's tasks still find a free one.
        for source, output in held.items():
            close_gate(str(source), GATE_AT * PARTITION)
            procs[source] = _convert(source, output, "--scheduler", cluster.address, "--window", "1")
            page = _page_link(procs[source])
            assert page == f"http://127.0.0.1:{cluster.dashboard_port}/zeekflow"
            _held(page, output, source, procs[source])
        runs = _runs(page)
        assert len([run for run in runs.values() if run["state"] == "running"]) == 2
        with Client(cluster.address, timeout=30, set_as_default=False) as observer:
            published = observer.get_metadata([RUNS_KEY])
        # Only counters reach the scheduler: no path, no data.
        assert len(published) == 2 and all(set(counters) == PUBLISHED for counters in published.values())
        assert not any(str(tmp_path) in json.dumps(counters) for counters in published.values())
        assert all(_matches(run, output, source) for run, (source, output) in zip(
            sorted(runs.values(), key=lambda run: run["started"]), held.items()))

        os.kill(procs[other].pid, signal.SIGKILL)  # the client only: the scheduler sees it leave
        code, _, _ = finish(procs.pop(other))
        assert code == -signal.SIGKILL
        stopped = wait_for("the killed run to show as stopped", lambda: [
            run for run in _runs(page).values() if run["state"] == "stopped"])
        assert len(stopped) == 1 and _matches(stopped[0], held[other], other)
        open_gate(str(other))  # its task, forgotten by the scheduler, may go on and write a shard now

        open_gate(str(capture))
        code, _, err = finish(procs.pop(capture))
        assert code == 0, err
        summary = _summary(held[capture])
        assert summary["run_page"] == page
        runs = _runs(page)
        assert sorted(run["state"] for run in runs.values()) == ["done", "stopped"]
        _finished(next(run for run in runs.values() if run["state"] == "done"), summary)

        # A run that fails (too many rejected lines) shows as failed, with the rejects that stopped it.
        code, _, err = finish(_convert(capture, tmp_path / "c.csv", "--scheduler", cluster.address,
                                       "--max-errors", "0"))
        assert code == 1 and "more than 0 lines rejected" in err, err
        runs = _runs(page)
        assert sorted(run["state"] for run in runs.values()) == ["done", "failed", "stopped"]
        assert next(run for run in runs.values() if run["state"] == "failed")["rejected"] >= 1
    finally:
        for proc in procs.values():
            kill_group(proc)
        for source in held:
            remove_gate(str(source))
        cluster.close()
