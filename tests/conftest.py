"""Shared fixtures: the real Zeek samples (when present), generated captures, and a CLI runner."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SAMPLES = Path(os.environ.get("ZEEKFLOW_SAMPLES", REPO.parent / "shared" / "samples"))


@pytest.fixture(scope="session")
def samples() -> Path:
    """The folder of real Zeek logs kept beside the repository; tests using it skip when it is absent."""
    if not SAMPLES.is_dir():
        pytest.skip(f"real Zeek samples not found at {SAMPLES}")
    return SAMPLES


@pytest.fixture(scope="session")
def small_capture(tmp_path_factory) -> Path:
    """A generated conn.log with malformed lines of every kind (shared, read-only)."""
    from workflows.generate import generate_capture

    path = tmp_path_factory.mktemp("capture") / "conn.ndjson"
    generate_capture(str(path), 6000, seed=7, bad_rate=0.02, processes=1)
    return path


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 180,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run ``python -m workflows ARGS`` as a real process, as a user would (``env`` added to the environment)."""
    return subprocess.run(
        [sys.executable, "-m", "workflows", *args],
        cwd=cwd, capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})},
    )
