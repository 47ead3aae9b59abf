"""Plan the work: split inputs into byte ranges from their sizes alone, and read one range on a worker.

The client only asks for sizes; it never reads data. A worker turns its nominal range into whole lines with
fsspec's ``read_block`` rules: a range starting at ``offset > 0`` begins just after the first newline at or
after ``offset``, and ends just after the first newline at or after ``offset + length``. Every line therefore
belongs to exactly one range, and a line longer than a range still comes out once, whole.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Iterator

import fsspec
from fsspec.utils import seek_delimiter

from .errors import InputChanged
from .inputs import TornStream, compression_of, open_input

NEWLINE = b"\n"
# How much of a range a worker converts at a time. Measured on a whole task (64 MiB of conn.log, CPU per
# line): 128 KiB 2.26-2.30 us, 64 KiB 2.30-2.34, 256 KiB 2.41-2.70, 512 KiB 2.55-2.72. A block's records
# (a few hundred lines of Python objects) then stay in the CPU cache; below ~64 KiB per-block costs show.
DEFAULT_BLOCK_SIZE = 128 * 2**10


@dataclass(frozen=True)
class InputFile:
    """An input as planned: its path and the size and modification time seen when planning."""

    path: str
    size: int
    mtime: float
    inode: int = 0  # 0 where the filesystem has none (object stores)


@dataclass(frozen=True)
class Partition:
    """One task's nominal byte range of one input. ``index`` orders the shards in the output.

    The input's size, mtime and inode as planned travel with it: the task converts exactly the bytes that
    existed when the run was planned (a live log may grow meanwhile) and fails when the input shrank or was
    replaced (see ``check_unchanged``). ``input_size`` -1: not known, nothing checked.
    """

    index: int
    path: str
    offset: int
    length: int
    input_size: int = -1
    input_mtime: float = 0.0
    input_inode: int = 0


def stat_input(path: str) -> InputFile:
    """Size and mtime of an input; raises FileNotFoundError / IsADirectoryError with the path."""
    fs, fs_path = fsspec.core.url_to_fs(path)
    info = fs.info(fs_path)
    if info.get("type") == "directory":
        raise IsADirectoryError(f"{path} is a directory, not a log file")
    mtime = info.get("mtime") or info.get("LastModified") or 0
    if hasattr(mtime, "timestamp"):
        mtime = mtime.timestamp()
    return InputFile(path=path, size=int(info["size"]), mtime=float(mtime), inode=int(info.get("ino") or 0))


def plan_partitions(inputs: list[InputFile], partition_size: int) -> list[Partition]:
    """Nominal ranges of ``partition_size`` bytes over every input, numbered in input order."""
    if partition_size < 1:
        raise ValueError("partition size must be at least 1 byte")
    partitions: list[Partition] = []
    for source in inputs:
        stamp = (source.size, source.mtime, source.inode)
        if compression_of(source.path):
            # A compressed stream cannot be cut by byte ranges: the whole file is one partition.
            partitions.append(Partition(len(partitions), source.path, 0, source.size, *stamp))
            continue
        for offset in range(0, source.size, partition_size):
            length = min(partition_size, source.size - offset)
            partitions.append(Partition(len(partitions), source.path, offset, length, *stamp))
    return partitions


def check_unchanged(partition: Partition) -> None:
    """Raise InputChanged when the partition's input is no longer the file that was planned: smaller than
    planned (truncated, or rotated over by a smaller file), another file under its name (another inode), or
    rewritten in place (same size, another mtime). A file that only grew passes: a live log is appended to."""
    if partition.input_size < 0:
        return
    try:
        now = stat_input(partition.path)
    except FileNotFoundError:
        raise InputChanged(f"input {partition.path} was removed since the run was planned") from None
    planned = partition.input_size
    if now.size < planned:
        raise InputChanged(f"input {partition.path} shrank from {planned:,} to {now.size:,} bytes since the run "
                           "was planned (truncated or rotated?)")
    if partition.input_inode and now.inode and now.inode != partition.input_inode:
        raise InputChanged(f"input {partition.path} was replaced by another file since the run was planned "
                           "(rotated?)")
    if now.size == planned and now.mtime != partition.input_mtime:
        raise InputChanged(f"input {partition.path} was rewritten since the run was planned (same size, "
                           "modified)")


def _line_boundary(f, position: int) -> int:
    """The start of the first line that begins after ``position - 1`` by read_block's rules."""
    if position == 0:
        return 0
    f.seek(position)
    seek_delimiter(f, NEWLINE, 2**16)
    return f.tell()


def iter_range_blocks(
    path: str, offset: int, length: int, block_size: int = DEFAULT_BLOCK_SIZE, input_size: int = -1
) -> Iterator[tuple[int, bytes]]:
    """Yield ``(file_offset, data)`` blocks of whole lines that make up the range ``[offset, offset+length)``.

    Memory stays at about ``block_size`` plus the longest line, whatever the range length.

    >>> # file "a\\nbb\\nccc\\n": range (0, 2) -> "a\\nbb\\n", range (2, 2) -> "", range (4, 4) -> "ccc\\n"

    With ``input_size`` (the size planned), nothing past it is read, however much the file grew since, and a
    file that ends before it raises InputChanged.

    A compressed input is one range: its decompressed lines, with offsets in the decompressed stream.
    """
    if compression_of(path):
        with open_input(path, input_size if input_size >= 0 else None) as f:
            yield from _whole_line_blocks(f, block_size, 0, None)
        return
    with fsspec.open(path, "rb") as f:
        start = _line_boundary(f, offset)
        end = _line_boundary(f, offset + length)
        if input_size >= 0:
            start, end = min(start, input_size), min(end, input_size)
        if end <= start:
            return
        f.seek(start)
        read = 0
        for block in _whole_line_blocks(f, block_size, start, end - start):
            read += len(block[1])
            yield block
        if input_size >= 0 and read < end - start:
            raise InputChanged(f"input {path} ended at byte {start + read:,} while reading it; it was planned "
                               f"with {input_size:,} bytes (truncated?)")


def _whole_line_blocks(f, block_size: int, position: int, remaining: int | None) -> Iterator[tuple[int, bytes]]:
    """``(offset, data)`` blocks of whole lines read from ``f`` at ``position``: ``remaining`` bytes, or to the
    end of the stream when None. The last block may lack its newline. A torn compressed stream raises
    TornStream once its whole lines are out, carrying the torn last line."""
    # The pieces of a line longer than a block are kept apart and joined once, when its newline comes:
    # joining them at every chunk would copy the line over and over (quadratic in its length).
    carry: list[bytes] = []
    while remaining is None or remaining > 0:
        try:
            chunk = f.read(block_size if remaining is None else min(block_size, remaining))
        except TornStream as torn:
            torn.line_start, torn.tail = position, b"".join(carry)
            raise
        if not chunk:
            break
        if remaining is not None:
            remaining -= len(chunk)
        cut = chunk.rfind(NEWLINE) + 1
        if cut == 0:
            carry.append(chunk)
            continue
        # One copy of the block's bytes at most: a memoryview's slice is no copy, the join is the one.
        whole = chunk if cut == len(chunk) else memoryview(chunk)[:cut]
        data = b"".join([*carry, whole]) if carry else bytes(whole)
        carry = [chunk[cut:]] if cut < len(chunk) else []
        yield position, data
        position += len(data)
    if carry:
        yield position, b"".join(carry)


def same_file(a: str, b: str) -> bool:
    """True when two local paths name the same file (also through links); False when either is missing."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.abspath(a) == os.path.abspath(b)
