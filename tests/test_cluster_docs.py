"""cluster/'s config and docs name only files that exist and state the block sizes the code uses."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from workflows.plan import DEFAULT_BLOCK_SIZE
from workflows.task import PARQUET_BLOCK_SIZE

from .conftest import REPO

CLUSTER = REPO / "cluster"
DOCUMENTS = sorted(path for path in CLUSTER.rglob("*")
                   if path.is_file() and path.suffix in {".md", ".yaml", ".sh", ".py"})
# A file name the text gives: a path from the repository's root (tests/..., cluster/...) or one inside cluster/
# (config/zeekflow.yaml, worker.sh). Certificates the user makes (ca.pem) and placeholders (/path/to/...) are not
# files of the repository.
FILE_NAME = re.compile(r"(?<![\w/.-])([\w.-]+(?:/[\w.-]+)*\.(?:py|yaml|yml|sh|md|ipynb|ndjson))\b")
ROOT_FOLDERS = ("tests/", "workflows/", "cluster/", "notebooks/", "benchmarks/")
UNITS = {"KiB": 2**10, "MiB": 2**20}
# "128 KiB blocks", "one 128 KiB block (4 MiB for Parquet output)": any stated block size, with its Parquet one.
BLOCK = re.compile(r"(\d+) (KiB|MiB) blocks?(?: \((\d+) (KiB|MiB) for Parquet output\))?")


def _named_files(text: str) -> set[str]:
    return {name for name in FILE_NAME.findall(text) if not name.startswith("/")}


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda path: str(path.relative_to(REPO)))
def test_every_file_a_cluster_document_names_exists(document: Path) -> None:
    missing = [name for name in sorted(_named_files(document.read_text()))
               if not (REPO / name if name.startswith(ROOT_FOLDERS) else CLUSTER / name).is_file()]
    assert not missing, f"{document.relative_to(REPO)} names files that do not exist: {missing}"


def test_the_file_name_pattern_finds_the_names_the_documents_give() -> None:
    # Else the test above would pass on a pattern that finds nothing.
    names = (_named_files((CLUSTER / "README.md").read_text())
             | _named_files((CLUSTER / "config" / "zeekflow.yaml").read_text()))
    assert {"tests/test_cluster.py", "config/zeekflow.yaml", "cluster/worker.sh", "scheduler.sh"} <= names
    assert "test_cluster_config.py" not in str(names)


@pytest.mark.parametrize("document", [CLUSTER / "README.md", CLUSTER / "config" / "zeekflow.yaml"],
                         ids=lambda path: str(path.relative_to(REPO)))
def test_the_block_sizes_stated_are_the_codes(document: Path) -> None:
    text = document.read_text()
    stated = BLOCK.findall(text)
    assert stated, f"{document.relative_to(REPO)} states no block size"
    assert len(stated) == len(re.findall(r"\d+ (?:KiB|MiB) blocks?\b", text))
    for size, unit, parquet_size, parquet_unit in stated:
        assert int(size) * UNITS[unit] == DEFAULT_BLOCK_SIZE, f"{size} {unit} blocks"
        if parquet_size:
            assert int(parquet_size) * UNITS[parquet_unit] == PARQUET_BLOCK_SIZE, f"{parquet_size} {parquet_unit}"
