"""Ownership of a run's files: one run at a time per output and work dir, and only its own files deleted.

* A run holds an OS lock (``flock``) on ``OUTPUT.zeekflow-lock``, ``REJECTS.zeekflow-lock`` and
  ``WORK_DIR/zeekflow.lock`` from before it writes anything until it ends. The kernel drops the lock with the
  process, so a run killed with ``kill -9`` leaves at worst an unlocked file (taken over by the next run, which
  ``--resume`` needs), never a stale lock. A second run finds the lock held and is refused, naming the holder.
* The work dir may hold the user's own files. zeekflow deletes only names it writes (shards, their temp names,
  the manifest) and, of those, only the ones its manifest vouches for: the shards of the partitions its
  journal planned. A work dir holding such a name that no manifest vouches for is refused before any work.
* Before any work, every name a run writes is checked: it must fit its filesystem, and no input may be one of
  those files (``OUTPUT.tmp`` is truncated, then renamed over the output) or lie in the work dir.
"""

from __future__ import annotations

import fcntl
import os
import socket
from typing import Iterable

from .errors import UsageError
from .manifest import Manifest
from .plan import same_file
from .workfiles import LONGEST_WORK_NAME, MANIFEST_NAME, SHARD_NAME

LOCK_SUFFIX = ".zeekflow-lock"
WORK_LOCK_NAME = "zeekflow.lock"
TEMP_SUFFIX = ".tmp"  # OUTPUT.tmp, REJECTS.tmp, SUMMARY.tmp: written, fsynced, then renamed
_MANIFEST_NAMES = (MANIFEST_NAME, MANIFEST_NAME + ".tmp")


def lock_path(path: str) -> str:
    """The lock file beside an output or rejects file."""
    return path + LOCK_SUFFIX


def _written_paths(output: str, rejects: str, work_dir: str, summary_json: str | None) -> dict[str, str]:
    """Every path outside the work dir that a run creates, truncates or replaces, by what it is."""
    paths = {"output": output, "rejects file": rejects, "work dir": work_dir}
    if summary_json:
        paths["summary JSON"] = summary_json
    written = dict(paths)
    for what, path in paths.items():
        if what != "work dir":
            written[f"{what}'s temp file"] = path + TEMP_SUFFIX
    for what in ("output", "rejects file"):
        written[f"{what}'s lock file"] = lock_path(paths[what])
    return written


def check_written_paths(output: str, rejects: str, work_dir: str, summary_json: str | None,
                        inputs: Iterable[str]) -> None:
    """Before any work, UsageError when a name the run writes does not fit its filesystem, or when an input is
    one of those files or lies in the work dir (it would be truncated, renamed or deleted)."""
    written = _written_paths(output, rejects, work_dir, summary_json)
    for path in [*written.values(), os.path.join(work_dir, LONGEST_WORK_NAME)]:
        path = os.path.abspath(path)
        folder = os.path.dirname(path)
        while not os.path.isdir(folder):  # the work dir, not made yet: its parent's filesystem
            folder = os.path.dirname(folder)
        name_max, path_max = os.pathconf(folder, "PC_NAME_MAX"), os.pathconf(folder, "PC_PATH_MAX")
        name, whole = len(os.fsencode(os.path.basename(path))), len(os.fsencode(path))
        if name > name_max or whole >= path_max:
            limit = f"{name:,} bytes, at most {name_max}" if name > name_max else \
                f"a path of {whole:,} bytes, at most {path_max - 1}"
            raise UsageError(f"the name {os.path.basename(path)[:40]}... is too long for its filesystem "
                             f"({limit}); choose a shorter output name")
    for source in inputs:
        if "://" in source:
            continue
        for what, path in written.items():
            if same_file(path, source) or _inside(source, path):
                place = "is" if same_file(path, source) else "is inside"
                raise UsageError(f"the input {source} {place} the {what} {path}; rename the input or choose "
                                 "another output")


def _inside(path: str, folder: str) -> bool:
    path, folder = os.path.realpath(path), os.path.realpath(folder)
    return path != folder and os.path.commonpath([path, folder]) == folder


def _holder(fd: int) -> str:
    try:
        text = os.pread(fd, 200, 0).decode("utf-8", "replace").strip()
    except OSError:
        text = ""
    return text or "starting"


def _lock(path: str, what: str) -> int:
    """Open ``path`` and hold an exclusive flock on it; UsageError naming the holder when another run has it."""
    for _ in range(10):
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(fd)
            os.close(fd)
            raise UsageError(f"the {what} is in use by another zeekflow run ({holder}); wait for it to end "
                             "or choose another name") from None
        except OSError as error:
            os.close(fd)
            raise UsageError(f"cannot lock {path}: {error.strerror or error}") from None
        try:
            current = os.stat(path)
        except FileNotFoundError:
            current = None
        if current is not None and os.path.samestat(current, os.fstat(fd)):
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()}\n".encode(), 0)
            return fd
        os.close(fd)  # the run that held it ended and removed it between our open and our lock: again
    raise UsageError(f"cannot lock {path}: it keeps being replaced")


def _unlock(path: str, fd: int) -> None:
    # Removed while still held, so whoever opens the name next gets a new file, never one about to be removed.
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    os.close(fd)


def _ours(work_dir: str) -> tuple[list[str], list[str]]:
    """(names zeekflow wrote, names it would write but did not) among the work dir's entries."""
    old, records = Manifest(work_dir, {}, ()).read()
    vouched: set[int] = set(range(int(old.get("partitions", 0)))) if old else set()
    vouched.update(r["shard"]["index"] for r in records if isinstance(r.get("shard"), dict) and "index" in r["shard"])
    ours, foreign = [], []
    for name in sorted(os.listdir(work_dir)):
        match = SHARD_NAME.fullmatch(name)
        if name == WORK_LOCK_NAME:
            continue
        if name in _MANIFEST_NAMES:
            (ours if old is not None or name != MANIFEST_NAME else foreign).append(name)
        elif match:
            (ours if int(match.group(1)) in vouched else foreign).append(name)
    return ours, foreign


class RunFiles:
    """Held for the whole run: the locks on its output, rejects file and work dir, and its work dir's files.

    ``with RunFiles(output, rejects, work_dir) as files:`` locks (UsageError if another run holds a lock),
    creates the work dir and refuses one holding names zeekflow did not write; ``clear()`` removes the files an
    earlier run left, ``finished()`` those of this run; leaving the block unlocks, and removes the work dir once
    finished and empty.
    """

    def __init__(self, output: str, rejects: str, work_dir: str) -> None:
        self.targets = [(lock_path(output), f"output {output}"), (lock_path(rejects), f"rejects file {rejects}")]
        self.work_dir = work_dir
        self.held: list[tuple[str, int]] = []
        self.remove_dir = False

    def __enter__(self) -> "RunFiles":
        created = not os.path.isdir(self.work_dir)
        try:
            for path, what in self.targets:
                self.held.append((path, _lock(path, what)))
            os.makedirs(self.work_dir, exist_ok=True)
            work_lock = os.path.join(self.work_dir, WORK_LOCK_NAME)
            self.held.append((work_lock, _lock(work_lock, f"work dir {self.work_dir}")))
            _, foreign = _ours(self.work_dir)
            if foreign:
                shown = ", ".join(foreign[:3]) + (f" and {len(foreign) - 3} more" if len(foreign) > 3 else "")
                raise UsageError(f"work dir {self.work_dir} holds files zeekflow did not write ({shown}); "
                                 "move them or choose another --work-dir")
        except BaseException:
            self.remove_dir = created
            self.__exit__()
            raise
        return self

    def clear(self) -> None:
        """Remove the shards and manifest an earlier run of ours left (a fresh start)."""
        self._remove(_ours(self.work_dir)[0])

    def finished(self) -> None:
        """The run succeeded: remove its shards and manifest; the work dir goes when the lock is released."""
        self._remove(_ours(self.work_dir)[0])
        self.remove_dir = True

    def _remove(self, names: Iterable[str]) -> None:
        for name in names:
            try:
                os.unlink(os.path.join(self.work_dir, name))
            except FileNotFoundError:
                pass

    def __exit__(self, *exc: object) -> None:
        while self.held:
            _unlock(*self.held.pop())
        if self.remove_dir:
            try:
                os.rmdir(self.work_dir)
            except OSError:
                pass  # the user's own files are in it, or another run took it over: leave it
