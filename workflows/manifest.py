"""The run manifest in the work dir: what a run is, and which shards it finished, so ``--resume`` can trust them.

The manifest is an append-only NDJSON journal, ``<work-dir>/zeekflow-manifest.ndjson``. Its first line is the
run's identity (every input's path, size and mtime, and the options that shape the output); each following line
records one finished partition: its byte range, its counts and the checksum of both of its shards (``workfiles.ShardDigest``). The client
appends and flushes a line as each ShardInfo arrives, so a client killed at any moment leaves at worst one torn
last line, which is ignored. A shard is reused only if its range matches the new plan and its bytes still hash
to the recorded checksum; anything else is recomputed.

Bounded disk: once the joined shards are fsynced into ``OUTPUT.tmp`` and ``REJECTS.tmp``, a commit line
``{"commit": {"next": N, "lengths": {...}}}`` (fsynced too) says shards ``0 .. N-1`` are in those files up to
those lengths, and the shards are deleted. ``--resume`` trusts a commit whose temp files are at least that long,
cuts them back to it and takes the records before ``N`` without their (deleted) shards.
"""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Any, Iterable, Mapping, Sequence

from .errors import UsageError
from .plan import InputFile, Partition
from .records import ShardInfo, TaskSpec
from .schema import Column
from .workfiles import MANIFEST_NAME, file_checksum, rejects_shard_name, shard_name

FORMAT_VERSION = 1
# TaskSpec fields that do not shape the output bytes (where shards go, how much is read at a time).
_NOT_SHAPING = {"columns", "work_dir", "block_size"}


def _jsonable(value: Any) -> Any:
    """A JSON-comparable form of an option value (tuples become lists, dataclasses dicts)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {k: _jsonable(v) for k, v in dataclasses.asdict(value).items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return repr(value)


def output_shaping(log_type: str, partition_size: int, columns: Sequence[Column], spec: TaskSpec) -> dict[str, Any]:
    """The options that decide the output bytes, keyed by option name (``partition-size``, ``columns``...).

    Every field of the task spec counts except where shards go, so an option added to the spec later is
    covered without touching this module.
    """
    shaping: dict[str, Any] = {
        "log-type": log_type,
        "partition-size": partition_size,
        "columns": [f"{c.name}:{c.zeek_type}" for c in columns],
    }
    for spec_field in dataclasses.fields(spec):
        if spec_field.name not in _NOT_SHAPING:
            shaping[spec_field.name.replace("_", "-")] = _jsonable(getattr(spec, spec_field.name))
    return shaping


def identity(inputs: Iterable[InputFile], shaping: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "zeekflow_manifest": FORMAT_VERSION,
        "inputs": [{"path": s.path, "size": s.size, "mtime": s.mtime} for s in inputs],
        "shaping": dict(shaping),
    }


def _describe(value: Any) -> str:
    if isinstance(value, list):
        value = ",".join(str(v).split(":", 1)[0] for v in value)
    text = str(value)
    return text if len(text) <= 60 else text[:57] + "..."


def identity_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """What differs between the interrupted run and this one, in words a user can act on."""
    changes = []
    old_inputs = {s["path"]: s for s in old.get("inputs", [])}
    new_inputs = {s["path"]: s for s in new["inputs"]}
    if list(old_inputs) != list(new_inputs):
        changes.append(f"inputs changed (was {', '.join(old_inputs)}; now {', '.join(new_inputs)})")
    for path, now in new_inputs.items():
        was = old_inputs.get(path)
        if was is None:
            continue
        if was["size"] != now["size"]:
            changes.append(f"input {path} changed size ({was['size']:,} -> {now['size']:,} bytes)")
        elif was["mtime"] != now["mtime"]:
            changes.append(f"input {path} was modified since the interrupted run")
    old_shaping, new_shaping = old.get("shaping", {}), new["shaping"]
    for key in sorted(set(old_shaping) | set(new_shaping)):
        if old_shaping.get(key) != new_shaping.get(key):
            changes.append(
                f"option --{key} changed (was {_describe(old_shaping.get(key))}, now {_describe(new_shaping.get(key))})"
            )
    return changes


def _shard_intact(work_dir: str, info: ShardInfo, output_format: str = "csv") -> bool:
    """True when both shards exist and hash to what the task recorded (a torn or edited shard does not)."""
    csv_path = os.path.join(work_dir, shard_name(info.index, output_format))
    rejects_path = os.path.join(work_dir, rejects_shard_name(info.index))
    try:
        return (
            os.path.getsize(csv_path) == info.bytes_out
            and file_checksum(csv_path) == info.checksum
            and file_checksum(rejects_path) == info.rejects_checksum
        )
    except OSError:
        return False


def _moved_part_intact(parts_dir: str, info: ShardInfo, work_dir: str) -> bool:
    """``--dataset``: the CSV part is in the work dir or already moved into the output's temp folder, and
    hashes as recorded; its rejects shard is in the work dir."""
    try:
        rejects = file_checksum(os.path.join(work_dir, rejects_shard_name(info.index)))
    except OSError:
        return False
    return rejects == info.rejects_checksum and (_part_intact(work_dir, info, "csv")
                                                 or _part_intact(parts_dir, info, "csv"))


def _part_intact(work_dir: str, info: ShardInfo, output_format: str) -> bool:
    """The output shard alone (its rejects shard was joined and deleted) is there and hashes as recorded."""
    path = os.path.join(work_dir, shard_name(info.index, output_format))
    try:
        return os.path.getsize(path) == info.bytes_out and file_checksum(path) == info.checksum
    except OSError:
        return False


def _remove_joined(work_dir: str, index: int, output_format: str) -> None:
    """Delete what the join copied of one shard: the CSV and rejects shards (a Parquet shard stays)."""
    names = [rejects_shard_name(index)] + ([shard_name(index)] if output_format == "csv" else [])
    for name in names:
        _remove(os.path.join(work_dir, name))


def _remove_shards(work_dir: str, index: int, output_format: str = "csv") -> None:
    for name in (shard_name(index, output_format), rejects_shard_name(index)):
        _remove(os.path.join(work_dir, name))


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _holds(temp_path: str, length: int) -> bool:
    """A temp file at least as long as a commit recorded it; a dataset's temp folder (its parts are checked
    one by one)."""
    return os.path.isdir(temp_path) or (os.path.isfile(temp_path) and os.path.getsize(temp_path) >= length)


@dataclasses.dataclass(frozen=True)
class Commit:
    """Shards ``0 .. next - 1`` are durably in the temp files, which were ``lengths[temp path]`` bytes long."""

    next: int
    lengths: dict[str, int]


def _commit_from(record: Mapping[str, Any]) -> Commit | None:
    try:
        commit = record["commit"]
        return Commit(int(commit["next"]), {str(k): int(v) for k, v in commit["lengths"].items()})
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


class Manifest:
    """The journal of one run in ``work_dir``: start it fresh, or resume from it; then record each shard."""

    def __init__(self, work_dir: str, run_identity: Mapping[str, Any], partitions: Sequence[Partition],
                 parts_dir: str | None = None) -> None:
        """``parts_dir``: with ``--dataset``, the output's temp folder, where joined CSV shards are moved."""
        self.work_dir = work_dir
        self.parts_dir = parts_dir
        self.path = os.path.join(work_dir, MANIFEST_NAME)
        self.identity = dict(run_identity)
        self.partitions = {p.index: p for p in partitions}
        # CSV or Parquet shards: the spec's output_format, recorded among the output-shaping options.
        self.output_format = self.identity.get("shaping", {}).get("output-format") or "csv"
        self.committed: Commit | None = None  # what resume() found committed, if anything

    def start(self, reused: Iterable[ShardInfo] = (), committed: Commit | None = None) -> None:
        """Write the identity line (and the records of reused shards) under a temp name, then rename."""
        temporary = self.path + ".tmp"
        with open(temporary, "w", encoding="utf-8") as f:
            # The partition count tells a later run which shard names in the work dir are this run's.
            f.write(json.dumps({**self.identity, "partitions": len(self.partitions)}) + "\n")
            for info in reused:
                f.write(self._line(info))
            if committed is not None:
                f.write(self._commit_line(committed))
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, self.path)

    def _line(self, info: ShardInfo) -> str:
        partition = self.partitions[info.index]
        record = {"partition": dataclasses.asdict(partition), "shard": dataclasses.asdict(info)}
        return json.dumps(record) + "\n"

    @staticmethod
    def _commit_line(commit: Commit) -> str:
        return json.dumps({"commit": dataclasses.asdict(commit)}) + "\n"

    def commit(self, commit: Commit) -> None:
        """Record, durably, that the temp files hold shards ``0 .. commit.next - 1``: only then may they go."""
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(self._commit_line(commit))
            f.flush()
            os.fsync(f.fileno())

    def record(self, info: ShardInfo) -> None:
        """Append one finished shard. Opened and closed per record (one per partition, so cheap), the line
        reaches the OS at once and survives the client process being killed."""
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(self._line(info))

    def read(self) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
        """The identity and shard records on disk; (None, []) when there is no manifest. A torn line is skipped."""
        try:
            with open(self.path, encoding="utf-8") as f:
                lines = f.read().splitlines()
        except FileNotFoundError:
            return None, []
        records = []
        for line in lines:
            try:
                records.append(json.loads(line))
            except ValueError:
                continue  # the line being written when the client died
        if not records or records[0].get("zeekflow_manifest") != FORMAT_VERSION:
            return None, []
        return records[0], records[1:]

    def _intact(self, info: ShardInfo) -> bool:
        """The shards of an uncommitted partition are all there and hash as recorded."""
        if self.parts_dir is not None:
            return _moved_part_intact(self.parts_dir, info, self.work_dir)
        return _shard_intact(self.work_dir, info, self.output_format)

    def _committed_part_there(self, info: ShardInfo) -> bool:
        """What a committed partition still needs: nothing for one CSV file (it is in ``OUTPUT.tmp``), its
        Parquet shard, or its part file in the dataset's temp folder (checked by size: a commit vouches for it,
        and hashing every part again would read the whole output)."""
        if self.parts_dir is not None:
            path = os.path.join(self.parts_dir, shard_name(info.index))
            return os.path.isfile(path) and os.path.getsize(path) == info.bytes_out
        return self.output_format == "csv" or _part_intact(self.work_dir, info, self.output_format)

    def resume(self, temp_files: Sequence[str] = ()) -> dict[int, ShardInfo]:
        """Take over the intact shards of an interrupted run with the same identity and start the journal again.

        ``temp_files`` are the join's temp files; the last commit whose files are all at least as long as it
        recorded is kept in ``self.committed``, and the partitions before it are reused without their shards.

        Raises UsageError naming what changed when the inputs or output-shaping options differ. Shards that are
        missing, torn, corrupt or not in the journal are removed and left for the run to recompute.
        """
        old, records = self.read()
        if old is not None:
            changes = identity_changes(old, self.identity)
            if changes:
                raise UsageError(
                    f"--resume refused: {'; '.join(changes)}. Rerun without --resume to start over "
                    f"(the shards in {self.work_dir} would be discarded)"
                )
        reused: dict[int, ShardInfo] = {}
        recorded: dict[int, ShardInfo] = {}
        commit = None
        for record in records:
            if "commit" in record:
                found = _commit_from(record)
                if found is not None and set(found.lengths) == set(temp_files) and all(
                        _holds(path, length) for path, length in found.lengths.items()):
                    commit = found
                continue
            try:
                partition = Partition(**record["partition"])
                info = ShardInfo(**record["shard"])
            except (KeyError, TypeError):
                continue
            if self.partitions.get(partition.index) != partition or partition.index in recorded:
                continue
            recorded[info.index] = info
        if commit is not None and not all(i in recorded for i in range(commit.next)):
            commit = None
        for index, info in recorded.items():
            if commit is not None and index < commit.next:
                # Joined and committed: only a Parquet shard or a dataset's part (the output itself) is needed.
                if self._committed_part_there(info):
                    reused[index] = info
                elif commit is not None:
                    commit = None  # a part before the commit is gone: start the join again
            elif self._intact(info):
                reused[index] = info
        if commit is None:
            reused = {i: info for i, info in reused.items() if self._intact(info)}
        for index in self.partitions:
            if index not in reused:
                _remove_shards(self.work_dir, index, self.output_format)
                if self.parts_dir is not None:
                    _remove(os.path.join(self.parts_dir, shard_name(index)))
            elif commit is not None and index < commit.next:
                _remove_joined(self.work_dir, index, self.output_format)  # killed between commit and delete
        self.committed = commit
        self.start((reused[i] for i in sorted(reused)), commit)
        return reused
