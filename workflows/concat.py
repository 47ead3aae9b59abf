"""Join shards in partition order into one file, atomically: a temp file, fsync, then rename."""

from __future__ import annotations

import os
import shutil
from typing import BinaryIO, Iterable


def _copy_into(source: str, out: BinaryIO) -> int:
    """Append ``source`` to ``out``; in the kernel with ``copy_file_range`` where the OS has it."""
    size = os.path.getsize(source)
    with open(source, "rb") as src:
        if hasattr(os, "copy_file_range"):
            out.flush()
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

    The data goes to ``destination + ".tmp"``, is fsynced, and only then renamed over ``destination``, so a
    crash never leaves a half-written file under the final name.
    """
    temporary = destination + ".tmp"
    written = 0
    try:
        with open(temporary, "wb") as out:
            out.write(header)
            written += len(header)
            for part in parts:
                written += _copy_into(part, out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, destination)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise
    return written
