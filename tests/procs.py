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


def listening_sockets(pid: int) -> set[tuple[str, int]]:
    """The (ip, port) that the process ``pid`` and its children listen on; a child that exits while being
    looked at (the spawn of a worker process starts helpers of its own) has nothing to count."""
    import psutil

    sockets = set()
    for process in [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]:
        try:
            sockets.update((c.laddr.ip, c.laddr.port) for c in process.net_connections("inet")
                           if c.status == psutil.CONN_LISTEN)
        except (psutil.NoSuchProcess, psutil.ZombieProcess):
            continue
    return sockets


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


def cli(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    """``python -m workflows ARGS`` as a real process with extra environment; (exit code, stdout, stderr)."""
    return finish(start([sys.executable, "-m", "workflows", *args], env=env))


def one_error_line(stderr: str) -> bool:
    """True when stderr holds one error line and otherwise only zeekflow's own one-line notes (no log blocks,
    no traceback)."""
    lines = stderr.strip().splitlines()
    return (sum(line.startswith("zeekflow: error: ") for line in lines) == 1
            and all(line.startswith("zeekflow: ") for line in lines))


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


CLUSTER = REPO / "cluster"


class ScriptCluster:
    """A real scheduler and worker processes started through cluster/scheduler.sh and cluster/worker.sh.

    Each process is in a session of its own, so a test can SIGKILL one worker (nanny and worker process, as a
    lost node) and ``close`` always cleans up everything, even after a failure. Logs go to ``log_dir``.
    """

    def __init__(self, log_dir: Path, host: str = "127.0.0.1", protocol: str = "tcp",
                 tls: list[str] | None = None) -> None:
        self.log_dir = log_dir
        self.host = host
        self.port = free_port(host)
        self.dashboard_port = free_port(host)
        self.address = f"{protocol}://{host}:{self.port}"
        self.tls = tls or []
        self.scheduler: subprocess.Popen | None = None
        self.workers: dict[str, subprocess.Popen] = {}
        # The scripts run `dask` from PATH: the one of the environment running the tests.
        self.env = {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}

    def _start(self, args: list[str], log_name: str, env: dict[str, str] | None = None) -> subprocess.Popen:
        with open(self.log_dir / log_name, "ab") as log:
            return subprocess.Popen(args, env={**os.environ, **self.env, **(env or {})}, cwd=self.log_dir,
                                    start_new_session=True, stdin=subprocess.DEVNULL, stdout=log, stderr=log)

    def log(self, name: str) -> str:
        return (self.log_dir / name).read_text(errors="replace")[-3000:]

    def start_scheduler(self) -> None:
        protocol = ["--protocol", "tls"] if self.address.startswith("tls://") else []
        self.scheduler = self._start(
            ["bash", str(CLUSTER / "scheduler.sh"), "--host", self.host, "--port", str(self.port),
             "--dashboard-address", f"{self.host}:{self.dashboard_port}", *protocol, *self.tls], "scheduler.log")
        try:
            wait_for("the scheduler to listen", lambda: listening(self.host, self.port), proc=self.scheduler)
        except AssertionError as error:
            raise AssertionError(f"{error}\n{self.log('scheduler.log')}") from None

    def start_worker(self, name: str, prefix: list[str] | None = None, env: dict[str, str] | None = None,
                     extra: list[str] | None = None) -> None:
        """One `dask worker` (a nanny and one single-threaded worker process), able to read gated:// inputs."""
        self.workers[name] = self._start(
            [*(prefix or []), "bash", str(CLUSTER / "worker.sh"), self.address, "--nworkers", "1", "--name", name,
             "--preload", str(GATEDFS), *self.tls, *(extra or [])], f"worker-{name}.log", env)

    def kill_worker(self, name: str) -> None:
        kill_group(self.workers.pop(name))

    def close(self) -> None:
        for proc in [*self.workers.values(), self.scheduler]:
            if proc is not None:
                kill_group(proc)
        self.workers.clear()
        self.scheduler = None


def listening(host: str, port: int) -> bool:
    """True once something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False
