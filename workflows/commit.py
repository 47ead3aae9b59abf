"""Bounded disk: the ordered join of a run's shards, committed in batches so each shard can be deleted.

A shard's bytes are in ``OUTPUT.tmp`` once appended, but only durably after an fsync; a shard is deleted only
after that fsync and a commit record in the manifest saying how long each temp file was. Commits are batched
(every ``COMMIT_SHARDS`` shards or ``COMMIT_BYTES`` appended, whichever comes first) so the fsyncs cost little;
the work dir then holds about window × shard size plus the uncommitted tail, never the whole output.

``ZEEKFLOW_STOP_AT=after-append:N`` or ``after-commit:N`` kills the client (SIGKILL) right after shard ``N`` is
appended, or right after the commit that covers it is recorded: the kill tests' deterministic points.
"""

from __future__ import annotations

import os
import signal

from .concat import OrderedConcat
from .manifest import Commit, Manifest

COMMIT_SHARDS = 16
COMMIT_BYTES = 256 * 2**20


def _stop_at(point: str, first: int, end: int) -> None:
    """Kill this process when ``ZEEKFLOW_STOP_AT`` names ``point`` and a shard in ``first .. end - 1``."""
    wanted = os.environ.get("ZEEKFLOW_STOP_AT", "")
    name, _, index = wanted.partition(":")
    if name == point and index.isdigit() and first <= int(index) < end:
        os.kill(os.getpid(), signal.SIGKILL)


class CommittedJoin:
    """Append shards in order to the outputs' temp files; commit and delete them in batches.

    ``outputs`` are the joins (CSV output and/or rejects); ``add(index, paths)`` gives each join its shard of
    partition ``index`` (``None`` for a join that takes no shard of it); ``keep`` are shard paths the run still
    needs after joining (none: a Parquet output does not go through here).
    """

    def __init__(self, manifest: Manifest, outputs: list[OrderedConcat], shards: int = COMMIT_SHARDS,
                 size: int = COMMIT_BYTES) -> None:
        self.manifest = manifest
        self.outputs = outputs
        self.shards, self.size = shards, size
        self._since = self._bytes_since = 0
        self._committed = outputs[0].next_index
        self._marks = [out.written for out in outputs]

    def add(self, index: int, paths: list[str]) -> None:
        before = [out.next_index for out in self.outputs]
        for out, path in zip(self.outputs, paths):
            out.add(index, path)
        appended = self.outputs[0].next_index - before[0]
        _stop_at("after-append", before[0], self.outputs[0].next_index)
        self._since += appended
        self._bytes_since = sum(out.written - mark for out, mark in zip(self.outputs, self._marks))
        if self._since >= self.shards or self._bytes_since >= self.size:
            self.commit()

    def commit(self) -> None:
        """fsync the temp files, record their lengths, then delete the shards they now hold."""
        if not self._since:
            return
        joined = [out.durable() for out in self.outputs]
        nexts = {out.next_index for out in self.outputs}
        assert len(nexts) == 1, nexts  # every join takes the same partitions
        self.manifest.commit(Commit(nexts.pop(), {out.temporary: out.written for out in self.outputs}))
        for out in self.outputs:
            out.committed = True
        _stop_at("after-commit", self._committed, self.outputs[0].next_index)
        self._committed = self.outputs[0].next_index
        for paths in joined:
            for path in paths:
                try:
                    os.unlink(path)
                except FileNotFoundError:
                    pass
        self._since = 0
        self._marks = [out.written for out in self.outputs]
