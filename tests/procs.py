"""Helpers for tests that drive real processes: wait on observable state, free ports, clean process groups."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, TypeVar

from .conftest import REPO

GATEDFS = REPO / "tests" / "gatedfs.py"
T = TypeVar("T")


def wait_for(what: str, check: Callable[[], T], timeout: float = 60, proc: subprocess.Popen | None = None) -> T:
    """Poll ``check`` until it returns something truthy; fail naming ``what`` (and the process output) if not."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            out = proc.stdout.read() if proc.stdout else ""
            err = proc.stderr.read() if proc.stderr else ""
            raise AssertionError(f"process exited ({proc.returncode}) before {what}:\n{out}\n{err}")
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def start(args: list[str], env: dict[str, str] | None = None, **kwargs) -> subprocess.Popen:
    """Start a process in a session of its own, so that it and its children can be cleaned up together."""
    return subprocess.Popen(
        args, env={**os.environ, **(env or {})}, cwd=REPO, start_new_session=True, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kwargs,
    )


def kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL a process started by ``start`` and everything left in its session."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=30)


def gated_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    """``zeekflow ARGS`` as a real process that understands ``gated://`` paths, its workers too."""
    preload = {"DASK_DISTRIBUTED__WORKER__PRELOAD": f"['{GATEDFS}']"}
    return start([sys.executable, str(GATEDFS), *args], env={**preload, **(env or {})})


def finish(proc: subprocess.Popen, timeout: float = 180) -> tuple[int, str, str]:
    try:
        out, err = proc.communicate(timeout=timeout)
    finally:
        kill_group(proc)
    return proc.returncode, out, err


def shard_records(manifest: Path) -> int:
    """How many finished shards the manifest journal lists so far."""
    try:
        return max(0, len(manifest.read_text().splitlines()) - 1)
    except FileNotFoundError:
        return 0
