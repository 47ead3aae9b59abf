"""A run's counters, published to the scheduler for the dashboard's zeekflow page (``workflows/runpage.py``).

Only counters go to the scheduler (partitions, lines, rejected, bytes, the size of the work dir), never paths
or data, with ``Client.set_metadata``: once when the run starts, then about once a second from a thread of
its own (so elapsed time, rate and ETA stay live while partitions are slow to finish, and the run's own loop
never waits on the scheduler), and once at the end. The page is a report: a scheduler that refuses its plugin
(zeekflow not importable there) gives a run without a page, and a failed publish never fails a run.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from distributed import Client

from .progress import Progress
from .runpage import PAGE_PATH, RUNS_KEY, RunPagePlugin

PUBLISH_INTERVAL_S = 1.0
# How long the end of a run waits for its last publish (a scheduler that died does not answer).
LAST_PUBLISH_TIMEOUT_S = 3.0


def run_page_link(dashboard: str | None) -> str | None:
    """The zeekflow page beside the dashboard whose link is ``dashboard`` (its ``/status`` page)."""
    if not dashboard:
        return None
    parts = urlsplit(dashboard)
    return urlunsplit((parts.scheme, parts.netloc, PAGE_PATH, "", ""))


def folder_bytes(path: str) -> int:
    """The bytes of the files directly in ``path``: the shards not yet joined and committed, and those being
    written (the work dir has no subfolders)."""
    total = 0
    try:
        with os.scandir(path) as entries:
            for entry in entries:
                try:
                    if entry.is_file(follow_symlinks=False):
                        total += entry.stat(follow_symlinks=False).st_size
                except FileNotFoundError:  # deleted by a commit meanwhile
                    pass
    except (FileNotFoundError, NotADirectoryError):
        return 0
    return total


class RunBoard:
    """Publishes one run's counters to the scheduler for as long as the ``with`` block runs.

    ``update`` takes each new Progress (cheap: it keeps the latest); leaving the block publishes the last
    state, ``done`` (with the output's size, given by ``done``) or ``failed`` for an error. An interrupted run
    is not marked: its client leaves the scheduler, and the page shows it as ``stopped``.
    """

    def __init__(self, client: Client, task_prefix: str, work_dir: str, started: float, state: Progress) -> None:
        self.client = client
        self.work_dir = work_dir
        self.started = started  # time.perf_counter() at the start of the run
        self.run_id = uuid.uuid4().hex
        self._fixed = {"client": client.id, "task_prefix": task_prefix, "started": round(time.time(), 3)}
        self._latest = state
        self._outcome = "running"
        self._output_bytes: int | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.published = self._register()

    def _register(self) -> bool:
        try:
            self.client.register_plugin(RunPagePlugin())
            self._publish()
        except Exception:  # a scheduler without zeekflow importable, or refusing plugins: no page
            return False
        return True

    def link(self, dashboard: str | None) -> str | None:
        """The run page's link, when the scheduler serves it."""
        return run_page_link(dashboard) if self.published else None

    def update(self, state: Progress) -> None:
        self._latest = state

    def done(self, output_bytes: int) -> None:
        """The run finished: its last state says ``done`` and its bytes out are the output's."""
        self._outcome, self._output_bytes = "done", output_bytes

    def counters(self) -> dict[str, Any]:
        state = replace(self._latest, elapsed_s=time.perf_counter() - self.started)
        return {
            **self._fixed,
            "state": self._outcome,
            "partitions_done": state.partitions_done,
            "partitions_total": state.partitions_total,
            "lines": state.lines,
            "rejected": state.rejected,
            "bytes_in": state.bytes_done,
            "bytes_in_total": state.bytes_total,
            "bytes_out": state.bytes_out if self._output_bytes is None else self._output_bytes,
            "work_dir_bytes": folder_bytes(self.work_dir),
            "elapsed_s": round(state.elapsed_s, 3),
        }

    def _publish(self) -> None:
        if self.client.status != "running":  # the scheduler is gone: a call would wait for it to come back
            raise ConnectionError(f"client {self.client.status}")
        self.client.set_metadata([RUNS_KEY, self.run_id], self.counters())

    def _publish_until_stopped(self) -> None:
        try:
            while not self._stop.wait(PUBLISH_INTERVAL_S):
                self._publish()
            if self._outcome != "running":
                self._publish()
        except Exception:  # the scheduler or the client went away: the page keeps the last state it got
            pass

    def __enter__(self) -> RunBoard:
        if self.published:
            self._thread = threading.Thread(target=self._publish_until_stopped, name="zeekflow-run-page",
                                            daemon=True)
            self._thread.start()
        return self

    def __exit__(self, kind: type | None, error: BaseException | None, traceback: object) -> None:
        if kind is not None:
            self._outcome = "failed" if issubclass(kind, Exception) else "running"
        elif self._outcome == "running":
            self._outcome = "failed"  # left without done(): the run did not finish its output
        if self._thread is not None:
            self._stop.set()
            self._thread.join(LAST_PUBLISH_TIMEOUT_S)
