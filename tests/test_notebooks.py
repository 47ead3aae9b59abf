"""The notebooks are committed clean and run top to bottom on a real kernel and a real cluster.

Parameters are injected the way papermill does it: a cell with new assignments right after the cell tagged
``parameters``, so the notebook's own defaults stay what a user sees.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import nbformat
import pytest
from distributed import LocalCluster
from nbclient import NotebookClient

from .conftest import REPO

NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
CELL_TIMEOUT_S = 300


def inject_parameters(notebook: nbformat.NotebookNode, parameters: dict) -> None:
    """Insert ``NAME = repr(value)`` lines after the ``parameters`` cell (which must exist)."""
    for position, cell in enumerate(notebook.cells):
        if "parameters" in cell.get("metadata", {}).get("tags", []):
            break
    else:
        raise AssertionError("the notebook has no cell tagged 'parameters'")
    source = "\n".join(f"{name} = {value!r}" for name, value in parameters.items())
    injected = nbformat.v4.new_code_cell(source, metadata={"tags": ["injected-parameters"]})
    notebook.cells.insert(position + 1, injected)


def run_notebook(name: str, parameters: dict, cwd: Path) -> nbformat.NotebookNode:
    """Execute a notebook in ``cwd``; any cell error fails the test with the cell and its traceback."""
    notebook = nbformat.read(REPO / "notebooks" / name, as_version=4)
    inject_parameters(notebook, parameters)
    NotebookClient(notebook, timeout=CELL_TIMEOUT_S, kernel_name="python3",
                   resources={"metadata": {"path": str(cwd)}}).execute()
    return notebook


def tagged_text(notebook: nbformat.NotebookNode, tag: str) -> str:
    """The printed text of the cell tagged ``tag``."""
    cells = [c for c in notebook.cells if tag in c.get("metadata", {}).get("tags", [])]
    assert cells, f"no cell tagged {tag!r}"
    return "".join(o.get("text", "") for o in cells[0].outputs if o.output_type == "stream")


def html_outputs(notebook: nbformat.NotebookNode) -> str:
    return "".join(o.get("data", {}).get("text/html", "") for c in notebook.cells if c.cell_type == "code"
                   for o in c.outputs)


@pytest.fixture(scope="module")
def cluster():
    """One LocalCluster for the notebooks that join a running scheduler (the default path starts its own)."""
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address="127.0.0.1:0", silence_logs=logging.ERROR) as local:
        yield local


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_committed_without_outputs(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    dirty = [i for i, cell in enumerate(notebook.cells)
             if cell.cell_type == "code" and (cell.outputs or cell.execution_count is not None)]
    assert not dirty, f"{path.name}: cells {dirty} have outputs; clear them before committing"


def test_every_notebook_is_executed_here() -> None:
    assert {p.name for p in NOTEBOOKS} == {"explore_capture.ipynb", "bounded_memory.ipynb"}


@pytest.mark.cluster
def test_explore_notebook_on_a_generated_capture(tmp_path) -> None:
    """The default path: generate a sample, start a LocalCluster, convert, explore every section."""
    notebook = run_notebook("explore_capture.ipynb", {
        "INPUT": None, "SAMPLE_LINES": 6000, "WORK_DIR": str(tmp_path), "PARTITION_SIZE": "256KiB",
        "WORKERS": 2}, tmp_path)
    # The generator plants scanners in 203.0.113.0/24 (TEST-NET-3); the notebook must find one.
    assert "most scan-like source: 203.0.113." in tagged_text(notebook, "scan-like-sources")
    assert (tmp_path / "sample-conn-6000.csv").exists()
    shown = html_outputs(notebook)
    assert re.search(r'<a href="http://127\.0\.0\.1:\d+/status" target="_blank">', shown)  # the dashboard
    bar = re.search(r'<progress value="(\d+)" max="(\d+)"', shown)  # updated in place to the end
    assert bar and bar.group(1) == bar.group(2) == str((tmp_path / "sample-conn-6000.ndjson").stat().st_size)


@pytest.mark.cluster
def test_explore_notebook_on_the_real_port_scan(samples, cluster, tmp_path) -> None:
    """A real Nmap scan, on a running scheduler given by address, written as Parquet: the scanner is
    172.16.1.11."""
    intel = tmp_path / "intel.dat"
    intel.write_text("#fields\tindicator\tindicator_type\tmeta.source\n172.16.1.11\tIntel::ADDR\tscanners\n")
    maxmind = samples / "enrich" / "maxmind"
    notebook = run_notebook("explore_capture.ipynb", {
        "INPUT": str(samples / "json" / "sdft_002_portscan_conn.ndjson"), "SCHEDULER": cluster.scheduler_address,
        "WORK_DIR": str(tmp_path), "OUTPUT_FORMAT": "parquet", "ENRICH": ["community_id", "geo", "asn", "intel"],
        "GEOIP_DB": str(maxmind / "GeoLite2-City-Test.mmdb"), "ASN_DB": str(maxmind / "GeoLite2-ASN-Test.mmdb"),
        "INTEL": str(intel)}, tmp_path)
    assert "most scan-like source: 172.16.1.11" in tagged_text(notebook, "scan-like-sources")
    assert "intel hits: 172.16.1.11" in tagged_text(notebook, "enriched")  # and the country and AS tables ran
    assert (tmp_path / "sdft_002_portscan_conn.parquet").is_dir()


@pytest.mark.cluster
def test_bounded_memory_notebook(tmp_path) -> None:
    """The default path: the notebook's own LocalCluster, whose workers must be built as zeekflow convert's."""
    from workflows.cluster import WORKER_MALLOC_ENVIRON

    notebook = run_notebook("bounded_memory.ipynb", {
        "LINE_COUNTS": [2000, 8000], "PARTITION_SIZE": "128KiB", "SCHEDULER": None, "WORKERS": 2,
        "WORK_DIR": str(tmp_path)}, tmp_path)
    settings = ", ".join(f"{name}={value}" for name, value in WORKER_MALLOC_ENVIRON.items())
    assert f"2 workers with zeekflow convert's malloc settings ({settings})" in tagged_text(notebook, "workers")
    printed = "".join(o.get("text", "") for c in notebook.cells if c.cell_type == "code" for o in c.outputs)
    found = re.search(r"input grew ([\d.]+)x, peak worker memory ([\d.]+)x", printed)
    assert found, printed
    input_ratio, memory_ratio = map(float, found.groups())
    assert input_ratio > 3  # four times the lines
    assert memory_ratio < 1.5  # bounded: the peak does not follow the input
