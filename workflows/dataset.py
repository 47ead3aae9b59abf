"""``--dataset``: the CSV output as a folder of ordered part files, each moved into place, never copied.

A worker writes each part file itself, header included, as its shard in the work dir; the client only renames
it, in partition order, into ``OUTPUT.tmp/`` as ``part-NNNNNN.csv`` (the partition's index, so names sort as the
rows do). Once every part is in, ``_SUCCESS`` is written last, the folder is fsynced and renamed to ``OUTPUT``:
a crashed run never leaves a half-written dataset under the final name, and a dataset under the final name
always holds its ``_SUCCESS``, as Hadoop-style committers leave it. The client's work per part is a rename, so
a cluster's throughput is bounded by its workers and storage, not by the client copying every byte.

Every partition gives a part file, a partition without rows one holding only the header, so the names are
contiguous; a run of no partitions (empty inputs) still gives ``part-000000.csv`` with the header.
"""

from __future__ import annotations

import os

from .concat import InOrder
from .errors import UsageError
from .workfiles import PART_FILE_NAME, shard_name

SUCCESS = "_SUCCESS"


def part_name(index: int) -> str:
    """The name of partition ``index``'s part file: its CSV shard's, moved."""
    return shard_name(index)


def _ours(folder: str) -> bool:
    """True for a folder holding only what a ``--dataset`` run writes (so it may be replaced or cleared)."""
    return all(PART_FILE_NAME.fullmatch(name) or name == SUCCESS for name in os.listdir(folder))


def _existing_parent(path: str) -> str:
    folder = os.path.dirname(os.path.abspath(path))
    while not os.path.isdir(folder):
        folder = os.path.dirname(folder)
    return folder


def check_dataset_output(output: str, work_dir: str) -> None:
    """Before any work, UsageError unless ``output`` can become a dataset folder by renames alone: no file of
    that name, no folder (nor ``OUTPUT.tmp/``) of someone else's files, and the work dir on the same filesystem."""
    for path, what in ((output, "output"), (output + ".tmp", "output's temp folder")):
        if os.path.isdir(path) and not _ours(path):
            raise UsageError(f"{what} {path} is a folder that holds other files than a dataset's part files; "
                             "choose another name")
    if os.path.lexists(output) and not os.path.isdir(output):
        raise UsageError(f"output {output} is a file and --dataset writes a folder; remove it or choose another name")
    shards, folder = _existing_parent(os.path.join(work_dir, "x")), _existing_parent(output)
    if os.stat(shards).st_dev != os.stat(folder).st_dev:
        raise UsageError(f"--dataset moves each shard into the output folder by a rename: the work dir {work_dir} "
                         f"and the output {output} must be on the same filesystem; choose a --work-dir beside it")


def _fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _clear(folder: str) -> None:
    """Remove a dataset folder of ours: ``_SUCCESS`` first, so a reader never takes what is left as complete.
    Only the names a dataset holds are removed (the folder stays, OSError, if someone added others)."""
    names = sorted(os.listdir(folder), key=lambda name: name != SUCCESS)
    for name in names:
        if PART_FILE_NAME.fullmatch(name) or name == SUCCESS:
            os.unlink(os.path.join(folder, name))
    os.rmdir(folder)


class DatasetParts:
    """Move part files ``0, 1, 2, ...`` into ``destination + ".tmp"/`` in index order, whatever order they
    arrive in; ``finish`` writes ``_SUCCESS`` and renames the folder to ``destination``.

    The same face as ``concat.OrderedConcat``, so ``commit.CommittedJoin`` commits both alike: ``durable``
    fsyncs the folder (the renames are then on disk) and leaves nothing to delete, the shards having moved.
    """

    def __init__(self, destination: str, header: bytes, resume_at: tuple[int, int] | None = None,
                 fresh: bool = True) -> None:
        """``resume_at=(next_index, written)`` goes on in the temp folder of an interrupted run, whose parts
        ``0 .. next_index - 1`` were committed. ``fresh`` clears an earlier temp folder (or temp file) first;
        ``--resume`` keeps it, its parts checked by the manifest."""
        self.destination = destination
        self.temporary = destination + ".tmp"
        self.header = header
        if fresh and os.path.isdir(self.temporary):
            _clear(self.temporary)
        elif fresh and os.path.lexists(self.temporary):
            os.unlink(self.temporary)  # the temp file of an earlier single-file run
        next_index, self.written = resume_at or (0, 0)
        self._order = InOrder(next_index)
        os.makedirs(self.temporary, exist_ok=True)
        self._finished = False
        self.committed = True  # the moved parts are the only copy of their rows: never removed on abort

    def target(self, index: int) -> str:
        return os.path.join(self.temporary, part_name(index))

    def add(self, index: int, path: str) -> None:
        """Take partition ``index``'s part file at ``path``, or already in the temp folder when ``--resume``
        found it there (moved by the interrupted run after its last commit)."""
        if self._finished:
            raise ValueError(f"{self.temporary} is already finished")
        for next_index, source in self._order.put(index, path):
            target = self.target(next_index)
            if source != target and (os.path.exists(source) or not os.path.exists(target)):
                os.replace(source, target)
            self.written += os.path.getsize(target)

    @property
    def next_index(self) -> int:
        return self._order.next

    def durable(self) -> list[str]:
        _fsync_dir(self.temporary)
        return []

    def finish(self, count: int) -> int:
        """After exactly ``count`` parts: ``_SUCCESS``, fsync, rename to the final name (replacing an earlier
        dataset of ours there); return the bytes of the part files."""
        if self._order.next != count or self._order.waiting:
            raise ValueError(f"{self.destination}: {self._order.next} of {count} parts moved in order")
        if count == 0:
            with open(self.target(0), "wb") as f:
                f.write(self.header)
                os.fsync(f.fileno())
            self.written = len(self.header)
        with open(os.path.join(self.temporary, SUCCESS), "wb") as f:
            os.fsync(f.fileno())
        _fsync_dir(self.temporary)
        if os.path.isdir(self.destination):
            _clear(self.destination)  # checked before any work to hold only a dataset's files
        os.replace(self.temporary, self.destination)
        _fsync_dir(os.path.dirname(os.path.abspath(self.destination)))
        self._finished = True
        return self.written

    def abort(self) -> None:
        """Keep the parts moved so far for ``--resume`` (the manifest records them); drop an empty folder."""
        self._finished = True
        try:
            os.rmdir(self.temporary)
        except OSError:
            pass
