"""Join shards in partition order into one file, atomically: a temp file, fsync, then rename.

``OrderedConcat`` does it while the conversion runs: each shard is appended as soon as it and every shard
before it are done, so at the end only the last shards and the fsync remain (the copy of a 5M-line capture's
700 MB of CSV otherwise adds most of a second after the workers finish).
"""

from __future__ import annotations

import os
import shutil
from contextlib import contextmanager
from typing import BinaryIO, Iterable, Iterator

from .preallocate import reserve


def _copy_into(source: str, out: BinaryIO) -> int:
    """Append ``source`` to ``out``; in the kernel with ``copy_file_range`` where the OS has it, into blocks
    reserved for it first (see ``preallocate``)."""
    size = os.path.getsize(source)
    with open(source, "rb") as src:
        if hasattr(os, "copy_file_range"):
            out.flush()
            reserve(out.fileno(), out.tell(), size)
            copied = 0
            try:
                while copied < size:
                    n = os.copy_file_range(src.fileno(), out.fileno(), size - copied)
                    if n == 0:
                        break
                    copied += n
                out.seek(0, os.SEEK_END)
                if copied == size:
                    return size
            except OSError:
                pass  # e.g. EXDEV or a filesystem without support: fall back to a plain copy
            src.seek(copied)
            out.seek(0, os.SEEK_END)
            shutil.copyfileobj(src, out, 2**20)
            return size
        shutil.copyfileobj(src, out, 2**20)
    return size


def concatenate(parts: Iterable[str], destination: str, header: bytes = b"") -> int:
    """Write ``header`` then every part in the given order to ``destination``; return the bytes written.

    The whole join at once, through the same temp file, fsync and rename as ``OrderedConcat``: a crash never
    leaves a half-written file under the final name.
    """
    out = OrderedConcat(destination, header)
    with aborted_on_error(out):
        count = 0
        for index, part in enumerate(parts):
            out.add(index, part)
            count += 1
        return out.finish(count)


class InOrder:
    """Items numbered ``0, 1, 2, ...`` released in number order whatever order they arrive in; only the items
    waiting for an earlier one are held. The joins of shards (``OrderedConcat``, ``dataset.DatasetParts``)
    take their shards through it."""

    def __init__(self, next_index: int = 0) -> None:
        self.next = next_index
        self._waiting: dict[int, str] = {}

    def put(self, index: int, item: str) -> Iterator[tuple[int, str]]:
        """Take item ``index``; yield each item now next in line, with its number."""
        self._waiting[index] = item
        while self.next in self._waiting:
            yield self.next, self._waiting.pop(self.next)
            self.next += 1

    @property
    def waiting(self) -> bool:
        return bool(self._waiting)


class OrderedConcat:
    """Append shards ``0, 1, 2, ...`` to ``destination + ".tmp"`` in index order, whatever order they arrive in.

    ``add`` copies every shard that is now next in line; ``finish`` checks none is missing, fsyncs and renames
    to ``destination``; ``abort`` removes the temp file. Memory: only the paths of shards waiting for an
    earlier one.
    """

    def __init__(self, destination: str, header: bytes = b"", resume_at: tuple[int, int] | None = None) -> None:
        """``resume_at=(next_index, length)`` reopens the temp file of an interrupted run, cut back to the
        ``length`` it had when shards ``0 .. next_index - 1`` were committed, and goes on from ``next_index``."""
        self.destination = destination
        self.temporary = destination + ".tmp"
        if resume_at is None:
            self._out: BinaryIO | None = open(self.temporary, "wb")
            self._out.write(header)
            self.written, next_index = len(header), 0
        else:
            next_index, self.written = resume_at
            self._out = open(self.temporary, "r+b")
            self._out.truncate(self.written)  # drop the tail appended after the last commit
            self._out.seek(self.written)
        self._order = InOrder(next_index)
        self._appended: list[str] = []  # shards appended since the last durable()
        self.committed = resume_at is not None and next_index > 0

    def add(self, index: int, path: str) -> None:
        if self._out is None:
            raise ValueError(f"{self.temporary} is already finished or aborted")
        for _, shard in self._order.put(index, path):
            self.written += _copy_into(shard, self._out)
            self._appended.append(shard)

    @property
    def next_index(self) -> int:
        """The index of the next shard to append (every shard before it is in the temp file)."""
        return self._order.next

    def durable(self) -> list[str]:
        """Flush and fsync the temp file; return the shards appended since the last call, now safe to delete
        once the caller has recorded ``(next_index, written)``."""
        if self._out is None:
            raise ValueError(f"{self.temporary} is already finished or aborted")
        self._out.flush()
        os.fsync(self._out.fileno())
        appended, self._appended = self._appended, []
        return appended

    def finish(self, count: int) -> int:
        """Close after exactly ``count`` shards; return the bytes written."""
        if self._out is None:
            raise ValueError(f"{self.temporary} is already finished or aborted")
        if self._order.next != count or self._order.waiting:
            raise ValueError(f"{self.destination}: {self._order.next} of {count} shards joined in order")
        out, self._out = self._out, None
        with out:
            out.flush()
            os.fsync(out.fileno())
        os.replace(self.temporary, self.destination)
        return self.written

    def abort(self) -> None:
        """Close; remove the temp file unless a commit vouches for part of it (its shards are gone, and
        ``--resume`` goes on from it)."""
        if self._out is not None:
            self._out.close()
            self._out = None
        if not self.committed and os.path.exists(self.temporary):
            os.unlink(self.temporary)


@contextmanager
def aborted_on_error(*outputs: OrderedConcat) -> Iterator[None]:
    """Remove the temp files of ``outputs`` when the block raises (a failed run leaves no partial output)."""
    try:
        yield
    except BaseException:
        for output in outputs:
            output.abort()
        raise
