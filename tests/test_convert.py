"""End to end on real Dask clusters: the same bytes for any workers, window and partition size."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from pathlib import Path

import fsspec
import pytest
from distributed import LocalCluster

from workflows import ConvertOptions, RunFailed, TooManyRejects, UsageError, convert
from workflows.cluster import embedded_worker_kind
from workflows.kernel import kernel_name
from workflows.schema import CONN

from .reference import reference_convert

pytestmark = pytest.mark.cluster
CONN_COLUMNS = [(c.name, c.zeek_type) for c in CONN.columns]


@pytest.fixture(scope="module")
def capture(tmp_path_factory) -> Path:
    from workflows.generate import generate_capture

    path = tmp_path_factory.mktemp("e2e") / "conn.ndjson"
    generate_capture(str(path), 1500, seed=11, bad_rate=0.03, processes=1)
    return path


@pytest.fixture(scope="module")
def scheduler():
    """One real LocalCluster reached by address, as a remote cluster would be."""
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=":0") as cluster:
        yield cluster.scheduler_address


@pytest.fixture(scope="module")
def expected(capture: Path) -> tuple[str, list[int], dict]:
    return reference_convert(capture.read_bytes(), CONN_COLUMNS)


def run(capture: Path, out: Path, **options) -> tuple[bytes, bytes, dict]:
    summary_path = out.with_suffix(".summary.json")
    summary = convert(ConvertOptions(inputs=[str(capture)], output=str(out), summary_json=str(summary_path),
                                     **options))
    on_disk = json.loads(summary_path.read_text())
    assert on_disk == summary.to_dict()
    return out.read_bytes(), Path(str(out) + ".rejects.ndjson").read_bytes(), on_disk


@pytest.mark.parametrize("window,partition_size", [(1, "1KiB"), (64, "1KiB"), (1, "64MiB"), (64, "64MiB")])
def test_remote_cluster_output_matches_the_reference(capture, expected, scheduler, tmp_path, window, partition_size):
    csv_bytes, rejects, summary = run(capture, tmp_path / "out.csv", scheduler=scheduler, window=window,
                                      partition_size=partition_size)
    expected_csv, expected_offsets, counts = expected
    assert csv_bytes == expected_csv.encode("utf-8")
    assert [json.loads(r)["offset"] for r in rejects.splitlines()] == expected_offsets
    for key in ("lines", "rows", "rejected", "blank"):
        assert summary[key] == counts[key]
    assert summary["lines"] == summary["rows"] + summary["rejected"] + summary["blank"]
    assert summary["rejected"] > 0 and summary["blank"] > 0
    assert summary["max_in_flight"] == min(window, summary["partitions"])
    assert summary["workers"] == 2 and summary["window"] == window
    assert not (tmp_path / "out.csv.parts").exists()
    assert not list(tmp_path.glob("*.tmp"))


def test_reject_offsets_point_at_the_raw_lines(capture, scheduler, tmp_path):
    _, rejects, summary = run(capture, tmp_path / "out.csv", scheduler=scheduler, partition_size="4KiB")
    data = capture.read_bytes()
    records = [json.loads(r) for r in rejects.splitlines()]
    assert len(records) == summary["rejected"]
    for record in records:
        raw = data[record["offset"]:].split(b"\n", 1)[0]
        assert raw.decode("utf-8", "backslashreplace") == record["line"]
        assert record["input"] == str(capture) and record["reason"]


@pytest.mark.parametrize("workers, kind", [(1, "auto"), (2, "auto"), (2, "threads"), (2, "processes")])
def test_embedded_local_cluster_gives_the_same_bytes_for_any_workers(capture, expected, tmp_path, workers, kind):
    csv_bytes, _, summary = run(capture, tmp_path / "out.csv", workers=workers, worker_kind=kind,
                                partition_size="16KiB")
    assert csv_bytes == expected[0].encode("utf-8")
    assert summary["workers"] == workers
    assert summary["worker_kind"] == embedded_worker_kind(kind) and summary["worker_kind"] in ("threads", "processes")
    assert embedded_worker_kind("auto") == ("threads" if kernel_name() == "native" else "processes")
    # The link the run prints opens the dashboard (a worker-thread cluster's in-memory address names another host).
    assert summary["dashboard"].startswith("http://127.0.0.1:")


def test_auto_takes_processes_where_python_does_the_hot_work(capture, tmp_path):
    from workflows import prepare

    def kind(**options):
        return prepare(ConvertOptions(inputs=[str(capture)], output=str(tmp_path / "o.csv"), **options)).worker_kind

    assert kind() == embedded_worker_kind("auto")
    assert kind(ts_format="iso8601") == kind(csv_safe=True) == kind(enrich=["community_id"]) == "processes"
    assert kind(ts_format="iso8601", worker_kind="threads") == "threads"


def test_a_dashboard_link_of_worker_threads_opens_the_dashboard(capture, tmp_path):
    from distributed import Client

    from workflows.cluster import dashboard_link, local_cluster

    with local_cluster(1, threads=True) as cluster, Client(cluster, set_as_default=False) as client:
        link = dashboard_link(client)
        assert client.scheduler.address.startswith("inproc://") and link.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(link, timeout=60) as page:  # the first request mounts the Bokeh pages
            assert page.status == 200 and b"Dask" in page.read()


_UNWATCHED_CLUSTER = """
import sys, urllib.request
from distributed import Client
from workflows.cluster import dashboard_link, local_cluster
from workflows.convert import convert
from workflows.options import ConvertOptions
if __name__ == "__main__":
    capture, output = sys.argv[1:]
    summary = convert(ConvertOptions(inputs=[capture], output=output))
    unwatched = "bokeh" in sys.modules
    with local_cluster(1, threads=True) as cluster, Client(cluster, set_as_default=False) as client:
        link = dashboard_link(client)
        with urllib.request.urlopen(link.replace("/status", "/health"), timeout=30) as page:
            health = page.read().decode()
        before = "bokeh" in sys.modules
        with urllib.request.urlopen(link, timeout=60) as page:  # mounted, then sent back to the same address
            status = page.status, page.url == link, b"Dask" in page.read()
        with urllib.request.urlopen(link.replace("/status", "/tasks"), timeout=30) as page:
            tasks = page.status
    print(summary.lines, unwatched, health, before, status, tasks, "bokeh" in sys.modules)
"""


def test_a_run_nobody_watches_never_imports_bokeh_and_the_first_request_mounts_it(capture, tmp_path):
    # In a fresh interpreter: this one has imported Bokeh already. The scheduler's own routes answer without
    # it; the first request for a dashboard page mounts the pages and is sent back to the same address.
    script = tmp_path / "unwatched.py"
    script.write_text(_UNWATCHED_CLUSTER)
    done = subprocess.run([sys.executable, str(script), str(capture), str(tmp_path / "o.csv")],
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    rows = sum(1 for _ in open(capture, "rb"))
    assert done.stdout.split() == [str(rows), "False", "ok", "False", "(200,", "True,", "True)", "200", "True"]


def test_worker_kind_is_for_the_embedded_cluster_only(capture, scheduler, tmp_path):
    for options, message in (({"scheduler": scheduler, "worker_kind": "threads"}, "--worker-kind"),
                             ({"worker_kind": "fibres"}, "--worker-kind must be one of auto, threads, processes")):
        with pytest.raises(UsageError, match=message):
            run(capture, tmp_path / "out.csv", **options)
    assert not (tmp_path / "out.csv").exists()


def test_columns_subset_drops_and_counts_the_rest(capture, scheduler, tmp_path):
    csv_bytes, _, summary = run(capture, tmp_path / "out.csv", scheduler=scheduler, columns=["uid", "ts", "vlan"])
    assert csv_bytes.split(b"\n", 1)[0] == b"uid,ts,vlan"
    assert summary["dropped_fields"]["id.orig_h"] == summary["rows"]
    assert "vlan" not in summary["dropped_fields"]
    assert summary["columns"] == ["uid", "ts", "vlan"]


def test_every_json_conn_sample_matches_the_reference(samples, scheduler, tmp_path):
    logs = sorted((samples / "json").glob("*conn*.ndjson"))
    assert logs
    for log in logs:
        csv_bytes, rejects, summary = run(log, tmp_path / f"{log.stem}.csv", scheduler=scheduler,
                                          partition_size="32KiB")
        expected_csv, expected_offsets, counts = reference_convert(log.read_bytes(), CONN_COLUMNS)
        assert csv_bytes == expected_csv.encode("utf-8"), log.name
        assert summary["rejected"] == 0 and rejects == b"" and not expected_offsets
        assert summary["rows"] == counts["rows"] == len(log.read_bytes().splitlines())


def test_max_errors_fails_the_run_and_keeps_any_previous_output(capture, scheduler, tmp_path):
    out = tmp_path / "out.csv"
    out.write_text("previous run\n")
    with pytest.raises(TooManyRejects, match="more than 3 lines rejected"):
        convert(ConvertOptions(inputs=[str(capture)], output=str(out), scheduler=scheduler, max_errors=3,
                               partition_size="4KiB", window=2))
    assert out.read_text() == "previous run\n"
    assert not Path(str(out) + ".tmp").exists()


def test_max_errors_not_exceeded_is_a_normal_run(capture, expected, scheduler, tmp_path):
    _, _, summary = run(capture, tmp_path / "out.csv", scheduler=scheduler, max_errors=expected[2]["rejected"])
    assert summary["rejected"] == expected[2]["rejected"]


def test_workers_that_cannot_see_the_input_are_named(scheduler, tmp_path):
    with fsspec.open("memory://zeekflow-test/conn.log", "wb") as f:
        f.write(b'{"uid":"C1"}\n')
    with pytest.raises(UsageError, match="workers must see the input"):
        convert(ConvertOptions(inputs=["memory://zeekflow-test/conn.log"], output=str(tmp_path / "o.csv"),
                               scheduler=scheduler))


def test_a_task_failing_after_retries_fails_the_run_without_output(tmp_path):
    # The client's in-memory file is invisible to worker processes, so every attempt of the task fails.
    with fsspec.open("memory://zeekflow-test/lost.log", "wb") as f:
        f.write(b'{"uid":"C1"}\n')
    out = tmp_path / "o.csv"
    lost = r"partition 0 .* failed: InputChanged: input memory://zeekflow-test/lost.log was removed"
    with pytest.raises(RunFailed, match=lost):
        convert(ConvertOptions(inputs=["memory://zeekflow-test/lost.log"], output=str(out), workers=1, retries=1,
                               worker_kind="processes"))
    assert not out.exists() and not Path(str(out) + ".tmp").exists()


def test_task_keys_are_deterministic_and_follow_what_shapes_the_output(capture, tmp_path):
    from workflows import prepare
    from workflows.window import task_key

    def keys(**options):
        job = prepare(ConvertOptions(inputs=[str(capture)], output=str(tmp_path / "o.csv"), **options))
        return [task_key(job.run_token, p) for p in job.partitions]

    first = keys(partition_size="64KiB")
    assert first == keys(partition_size="64KiB", window=3)
    assert first[0][0].startswith("zeekflow-convert-") and [k[1] for k in first] == list(range(len(first)))
    assert keys(partition_size="32KiB")[0] != first[0]
    assert keys(partition_size="64KiB", columns=["uid"])[0] != first[0]
