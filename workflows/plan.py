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

from .inputs import compression_of, open_input

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


@dataclass(frozen=True)
class Partition:
    """One task's nominal byte range of one input. ``index`` orders the shards in the output."""

    index: int
    path: str
    offset: int
    length: int


def stat_input(path: str) -> InputFile:
    """Size and mtime of an input; raises FileNotFoundError / IsADirectoryError with the path."""
    fs, fs_path = fsspec.core.url_to_fs(path)
    info = fs.info(fs_path)
    if info.get("type") == "directory":
        raise IsADirectoryError(f"{path} is a directory, not a log file")
    mtime = info.get("mtime") or info.get("LastModified") or 0
    if hasattr(mtime, "timestamp"):
        mtime = mtime.timestamp()
    return InputFile(path=path, size=int(info["size"]), mtime=float(mtime))


def plan_partitions(inputs: list[InputFile], partition_size: int) -> list[Partition]:
    """Nominal ranges of ``partition_size`` bytes over every input, numbered in input order."""
    if partition_size < 1:
        raise ValueError("partition size must be at least 1 byte")
    partitions: list[Partition] = []
    for source in inputs:
        if compression_of(source.path):
            # A compressed stream cannot be cut by byte ranges: the whole file is one partition.
            partitions.append(Partition(len(partitions), source.path, 0, source.size))
            continue
        for offset in range(0, source.size, partition_size):
            length = min(partition_size, source.size - offset)
            partitions.append(Partition(len(partitions), source.path, offset, length))
    return partitions


def _line_boundary(f, position: int) -> int:
    """The start of the first line that begins after ``position - 1`` by read_block's rules."""
    if position == 0:
        return 0
    f.seek(position)
    seek_delimiter(f, NEWLINE, 2**16)
    return f.tell()


def iter_range_blocks(
    path: str, offset: int, length: int, block_size: int = DEFAULT_BLOCK_SIZE
) -> Iterator[tuple[int, bytes]]:
    """Yield ``(file_offset, data)`` blocks of whole lines that make up the range ``[offset, offset+length)``.

    Memory stays at about ``block_size`` plus the longest line, whatever the range length.

    >>> # file "a\\nbb\\nccc\\n": range (0, 2) -> "a\\nbb\\n", range (2, 2) -> "", range (4, 4) -> "ccc\\n"

    A compressed input is one range: its decompressed lines, with offsets in the decompressed stream.
    """
    if compression_of(path):
        with open_input(path) as f:
            yield from _whole_line_blocks(f, block_size, 0, None)
        return
    with fsspec.open(path, "rb") as f:
        start = _line_boundary(f, offset)
        end = _line_boundary(f, offset + length)
        if end <= start:
            return
        f.seek(start)
        yield from _whole_line_blocks(f, block_size, start, end - start)


def _whole_line_blocks(f, block_size: int, position: int, remaining: int | None) -> Iterator[tuple[int, bytes]]:
    """``(offset, data)`` blocks of whole lines read from ``f`` at ``position``: ``remaining`` bytes, or to the
    end of the stream when None. The last block may lack its newline."""
    # The pieces of a line longer than a block are kept apart and joined once, when its newline comes:
    # joining them at every chunk would copy the line over and over (quadratic in its length).
    carry: list[bytes] = []
    while remaining is None or remaining > 0:
        chunk = f.read(block_size if remaining is None else min(block_size, remaining))
        if not chunk:
            break
        if remaining is not None:
            remaining -= len(chunk)
        cut = chunk.rfind(NEWLINE) + 1
        if cut == 0:
            carry.append(chunk)
            continue
        head = chunk[:cut] if cut < len(chunk) else chunk
        data = b"".join([*carry, head]) if carry else head
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
