"""A test-only fsspec filesystem, ``gated://``, that holds back part of an input until the test opens a gate.

It makes "in the middle of a run" an observable state instead of a race: a file handle whose first read starts
at or after the offset written in ``<input>.gate-at`` waits until ``<input>.gate-open`` exists. The partitions
before that offset finish (their shards appear in the work dir); the others stay running on their workers, so a
test can kill a worker or the client at a moment it knows, then open the gate.

Loaded in worker processes as a Dask preload (``DASK_DISTRIBUTED__WORKER__PRELOAD`` or ``dask worker --preload``)
and in a client process by running this file: ``python tests/gatedfs.py convert gated:///abs/conn.ndjson ...``.
"""

from __future__ import annotations

import os
import sys
import time

import fsspec
from fsspec.implementations.local import LocalFileOpener, LocalFileSystem

PROTOCOL = "gated"
POLL_S = 0.02


def gate_paths(path: str) -> tuple[str, str]:
    """The sidecar files of an input: where the gate sits, and the file whose existence opens it."""
    return path + ".gate-at", path + ".gate-open"


def close_gate(path: str, offset: int) -> None:
    at, opened = gate_paths(path)
    if os.path.exists(opened):
        os.unlink(opened)
    with open(at, "w") as f:
        f.write(str(offset))


def open_gate(path: str) -> None:
    open(gate_paths(path)[1], "w").close()


def remove_gate(path: str) -> None:
    for sidecar in gate_paths(path):
        if os.path.exists(sidecar):
            os.unlink(sidecar)


class GatedFile(LocalFileOpener):
    _checked = False

    def read(self, *args, **kwargs):
        if not self._checked:
            self._checked = True
            at, opened = gate_paths(self.path)
            try:
                with open(at) as f:
                    offset = int(f.read())
            except FileNotFoundError:
                offset = None
            if offset is not None and self.tell() >= offset:
                while not os.path.exists(opened):
                    time.sleep(POLL_S)
        return super().read(*args, **kwargs)


class GatedFileSystem(LocalFileSystem):
    protocol = PROTOCOL

    def _open(self, path, mode="rb", block_size=None, **kwargs):
        path = self._strip_protocol(path)
        return GatedFile(path, mode, fs=self, **kwargs)


fsspec.register_implementation(PROTOCOL, GatedFileSystem, clobber=True)


if __name__ == "__main__":
    from workflows.cli import main

    main(sys.argv[1:])
