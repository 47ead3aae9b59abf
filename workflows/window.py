"""The sliding window: at most ``window`` partition tasks outstanding, one submitted as each one finishes.

This is the backpressure: however many partitions a capture has, the cluster holds at most ``window`` task
results and the client holds only the small ``ShardInfo`` records, each future dropped once recorded.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator

import dask
from distributed import Client, as_completed
from distributed.client import Future
from distributed.diagnostics.plugin import SchedulerPlugin

from .plan import Partition
from .records import ShardInfo, TaskSpec
from .task import TASK_PREFIX, convert_partition


class TaskFailed(RuntimeError):
    """A partition task failed after its retries."""

    def __init__(self, partition: Partition, error: BaseException) -> None:
        self.partition = partition
        self.error = error
        super().__init__(
            f"partition {partition.index} ({partition.path} bytes {partition.offset}-"
            f"{partition.offset + partition.length}) failed: {type(error).__name__}: {' '.join(str(error).split())}"
        )


class SchedulerLost(RuntimeError):
    """The client lost its connection to the scheduler mid-run: every outstanding task is gone with it."""

    def __init__(self, address: str) -> None:
        self.address = address
        super().__init__(f"lost the Dask scheduler at {address}")


def _quiet_reconnect() -> None:
    """The scheduler is gone and the run stops: closing the client ends its reconnection attempts, which
    distributed reports as an ERROR log block; the run says it in one line instead."""
    logging.getLogger("distributed.client").setLevel(logging.CRITICAL)


@dataclass
class WindowStats:
    submitted: int = 0
    completed: int = 0
    max_in_flight: int = 0
    retried: int | None = None  # tasks rerun after a lost worker or an error; None if the scheduler can't say


class RetryCounter(SchedulerPlugin):
    """Counts, on the scheduler, how often a task of one run left ``processing`` without finishing.

    That happens when its worker dies (the scheduler reschedules it) or when it raised and is retried. The
    client cannot see either: its future simply stays pending. The scheduler needs zeekflow importable.
    """

    def __init__(self, key_name: str) -> None:
        self.key_name = key_name
        self.retried = 0

    def transition(self, key, start, finish, *args, **kwargs) -> None:
        if start == "processing" and finish in ("waiting", "released", "queued", "no-worker"):
            if isinstance(key, tuple) and key and key[0] == self.key_name:
                self.retried += 1


def _retried_on_scheduler(name: str, dask_scheduler=None) -> int | None:
    plugin = dask_scheduler.plugins.get(name)
    return getattr(plugin, "retried", None)


def _collect_retries(client: Client, name: str) -> int | None:
    """Read and remove the run's RetryCounter; the count is a report, so losing it never fails a run."""
    try:
        retried = client.run_on_scheduler(_retried_on_scheduler, name)
        client.unregister_scheduler_plugin(name)
        return retried
    except Exception:
        return None


def key_name(run_token: str) -> str:
    """The first element of every task key of a run: what the dashboard's task stream shows."""
    return f"{TASK_PREFIX}-{run_token}"


def task_key(run_token: str, partition: Partition) -> tuple[str, int]:
    """Deterministic key: the same run, input and options give the same keys (dask's tuple key style)."""
    return (key_name(run_token), partition.index)


def run_window(
    client: Client,
    partitions: Iterable[Partition],
    spec: TaskSpec,
    run_token: str,
    window: int,
    on_result: Callable[[ShardInfo], None],
    retries: int = 2,
) -> WindowStats:
    """Run every partition through the cluster with at most ``window`` futures outstanding.

    ``on_result`` is called in completion order with each ShardInfo; an exception it raises stops the run. A
    task that still fails after ``retries`` raises ``TaskFailed``; a lost connection to the scheduler (the
    client cancels every future at once) raises ``SchedulerLost``. Outstanding futures are cancelled whenever
    the run stops early.
    """
    if window < 1:
        raise ValueError("window must be at least 1")
    stats = WindowStats()
    pending: Iterator[Partition] = iter(partitions)
    outstanding: dict[object, tuple[Future, Partition]] = {}
    completed = as_completed(loop=client.loop)
    name = key_name(run_token)
    counter: str | None = f"{name}-retries"
    try:
        client.register_plugin(RetryCounter(name), name=counter)
    except Exception:  # a scheduler without zeekflow installed, or one refusing plugins: no retry count
        counter = None

    def submit_next() -> None:
        partition = next(pending, None)
        if partition is None:
            return
        task = dask.delayed(convert_partition, pure=True)(
            partition, spec, dask_key_name=task_key(run_token, partition)
        )
        future: Future = client.compute(task, retries=retries)
        outstanding[future.key] = (future, partition)
        completed.add(future)
        stats.submitted += 1
        stats.max_in_flight = max(stats.max_in_flight, len(outstanding))

    lost = False
    try:
        for _ in range(window):
            submit_next()
        for future in completed:
            _, partition = outstanding.pop(future.key)
            if future.status == "cancelled" and client.status != "running":
                lost = True
                _quiet_reconnect()
                raise SchedulerLost(client.scheduler.address)
            if future.status != "finished":
                raise TaskFailed(partition, future.exception())
            info: ShardInfo = future.result()
            future.release()  # the client keeps the counts, never the future
            del future
            stats.completed += 1
            on_result(info)
            submit_next()
    finally:
        # Nothing to ask a scheduler that is gone (each call would wait out the client's reconnection).
        if counter and not lost:
            stats.retried = _collect_retries(client, counter)  # before a cancel moves tasks out of processing
        if outstanding and not lost:
            completed.clear()
            client.cancel([future for future, _ in outstanding.values()], force=True)
            outstanding.clear()
    return stats
