"""Reserve a file's blocks before appending a known number of bytes to it.

On ext4 a buffered append reserves its blocks page by page (delayed allocation); the ordered join appends a
whole shard at a time and knows its length, so asking for those blocks first, in one ``fallocate`` call that
leaves the file's size alone (``FALLOC_FL_KEEP_SIZE``), halves the CPU time of the copy (measured: 720 MB of
shards joined in 0.27 s of CPU instead of 0.51 s, medians of five). Python has only ``os.posix_fallocate``,
which changes the size and, where the filesystem cannot preallocate, writes zeros instead: the system call
is reached through ctypes, and where it is missing or refused (another OS, NFS, tmpfs...) nothing is done.
"""

from __future__ import annotations

import sys
from typing import Any, Callable

FALLOC_FL_KEEP_SIZE = 1

_fallocate: Callable[..., int] | None | bool = False  # False: not looked up yet; None: not available


def _lookup() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        libc: Any = ctypes.CDLL(None, use_errno=True)
        function = libc.fallocate
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64]
    function.restype = ctypes.c_int
    return function


def reserve(fd: int, offset: int, length: int) -> bool:
    """Allocate ``length`` bytes of blocks at ``offset`` of the open file ``fd`` without changing its size;
    True when done. A failure (no support, no space) is left for the write itself to meet."""
    global _fallocate
    if _fallocate is False:
        _fallocate = _lookup()
    if _fallocate is None or length <= 0:
        return False
    return _fallocate(fd, FALLOC_FL_KEEP_SIZE, offset, length) == 0
