"""Byte-range invariants: any partition size, the same lines once each, the same output bytes."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workflows.concat import concatenate
from workflows.plan import InputFile, _whole_line_blocks, iter_range_blocks, plan_partitions, stat_input
from workflows.render import convert_lines
from workflows.schema import CONN
from workflows.task import TaskSpec, convert_partition, rejects_shard_name, shard_name

COLUMNS = CONN.columns


def convert_partitioned(path: Path, partition_size: int, work_dir: Path, block_size: int = 1 << 22) -> tuple[bytes, bytes, list]:
    """Run the real worker task on every partition in order (no cluster) and join the shards."""
    work_dir.mkdir(exist_ok=True)
    spec = TaskSpec(columns=COLUMNS, work_dir=str(work_dir), block_size=block_size)
    partitions = plan_partitions([stat_input(str(path))], partition_size)
    infos = [convert_partition(p, spec) for p in partitions]
    out, rejects = work_dir / "out.csv", work_dir / "out.rejects"
    concatenate([str(work_dir / shard_name(p.index)) for p in partitions], str(out))
    concatenate([str(work_dir / rejects_shard_name(p.index)) for p in partitions], str(rejects))
    return out.read_bytes(), rejects.read_bytes(), infos


def whole(path: Path) -> tuple[bytes, bytes]:
    result = convert_lines(path.read_bytes(), COLUMNS, str(path))
    return result.csv, result.rejects


GOOD = b'{"ts":1.5,"uid":"C1","id.orig_h":"10.0.0.1","id.orig_p":1,"proto":"tcp"}'
EDGE_FILES = {
    "crlf": GOOD + b"\r\n" + GOOD.replace(b"C1", b"C2") + b"\r\n",
    "no-final-newline": GOOD + b"\n" + GOOD.replace(b"C1", b"C2"),
    "empty": b"",
    "only-blank-lines": b"\n\n  \n\r\n",
    "one-line": GOOD + b"\n",
    "one-line-no-newline": GOOD,
    "long-line": GOOD + b"\n" + GOOD.replace(b"C1", b"C" + b"x" * 5000) + b"\n" + GOOD + b"\n",
    "bad-lines": b"oops\n" + GOOD + b"\n[1]\n\n{\"ts\":\"x\"}\n" + GOOD,
}


@pytest.mark.parametrize("name", sorted(EDGE_FILES))
@pytest.mark.parametrize("partition_size", [1, 2, 3, 7, 64, 1000, 1 << 26])
def test_edge_files_give_the_same_output_for_any_partition_size(tmp_path: Path, name: str, partition_size: int) -> None:
    path = tmp_path / "conn.log"
    path.write_bytes(EDGE_FILES[name])
    csv_bytes, rejects, infos = convert_partitioned(path, partition_size, tmp_path / "work", block_size=5)
    assert (csv_bytes, rejects) == whole(path)
    lines = EDGE_FILES[name].count(b"\n") + (0 if EDGE_FILES[name].endswith(b"\n") or not EDGE_FILES[name] else 1)
    assert sum(i.lines for i in infos) == lines
    assert sum(i.rows + i.rejected + i.blank for i in infos) == lines
    assert sum(i.bytes_in for i in infos) == len(EDGE_FILES[name])


def test_a_line_longer_than_the_partition_comes_out_once_whole(tmp_path: Path) -> None:
    path = tmp_path / "conn.log"
    long_uid = "C" + "y" * 10_000
    path.write_bytes(GOOD + b"\n" + GOOD.replace(b"C1", long_uid.encode()) + b"\n")
    csv_bytes, _, infos = convert_partitioned(path, 50, tmp_path / "work", block_size=64)
    assert csv_bytes.count(long_uid.encode()) == 1
    assert sum(i.rows for i in infos) == 2
    assert sum(1 for i in infos if i.rows) == 2  # each line in the partition it starts in, once


def test_the_client_plans_from_sizes_only(tmp_path: Path) -> None:
    path = tmp_path / "conn.log"
    path.write_bytes(b"x" * 10)
    parts = plan_partitions([InputFile(str(path), 10, 0.0), InputFile("other", 5, 0.0)], 4)
    assert [(p.index, p.path, p.offset, p.length) for p in parts] == [
        (0, str(path), 0, 4), (1, str(path), 4, 4), (2, str(path), 8, 2), (3, "other", 0, 4), (4, "other", 4, 1)]


def test_range_blocks_follow_fsspec_read_block_rules(tmp_path: Path) -> None:
    from fsspec.utils import read_block

    data = b"a\nbb\n\nccc\ndddd\ne"
    path = tmp_path / "f"
    path.write_bytes(data)
    for size in range(1, len(data) + 2):
        for offset in range(0, len(data), size):
            got = b"".join(block for _, block in iter_range_blocks(str(path), offset, size, block_size=2))
            with open(path, "rb") as f:
                assert got == read_block(f, offset, size, b"\n"), (offset, size)


lines_strategy = st.lists(
    st.one_of(
        st.sampled_from([GOOD, GOOD.replace(b"C1", b"C,2"), b"", b"  ", b"bad", b"[]", b'{"uid":5}',
                         GOOD + b"\r", b"\xff\xfe"]),
        st.binary(max_size=30).filter(lambda b: b"\n" not in b),
    ),
    max_size=40,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=lines_strategy, final_newline=st.booleans(), partition_size=st.integers(1, 300),
       block_size=st.integers(1, 200))
def test_any_file_any_partition_size_same_bytes(tmp_path: Path, lines, final_newline, partition_size, block_size) -> None:
    path = tmp_path / "conn.log"
    data = b"\n".join(lines) + (b"\n" if final_newline and lines else b"")
    path.write_bytes(data)
    work = tmp_path / f"work-{os.urandom(4).hex()}"
    csv_bytes, rejects, infos = convert_partitioned(path, partition_size, work, block_size)
    assert (csv_bytes, rejects) == whole(path)
    assert sum(i.bytes_in for i in infos) == len(data)


class _CountingReader:
    """A file object over ``data`` whose chunks count the bytes copied by concatenating them (``carry + chunk``)."""

    def __init__(self, data: bytes) -> None:
        self.file = io.BytesIO(data)
        self.copied = 0

    def read(self, size: int = -1) -> bytes:
        reader = self

        class Chunk(bytes):
            def __add__(self, other):
                reader.copied += len(self) + len(other)
                return Chunk(bytes.__add__(self, other))

            def __radd__(self, other):
                reader.copied += len(self) + len(other)
                return Chunk(bytes.__add__(other, self))

        return Chunk(self.file.read(size))


def test_a_30_mb_line_is_read_in_linear_work_and_comes_out_whole(tmp_path: Path) -> None:
    long_line = GOOD.replace(b"C1", b"C" + b"z" * (30 * 2**20))
    data = GOOD + b"\n" + long_line + b"\n" + GOOD + b"\n"
    reader = _CountingReader(data)
    blocks = list(_whole_line_blocks(reader, 64 * 2**10, 0, None))
    assert b"".join(block for _, block in blocks) == data
    assert any(block.startswith(long_line + b"\n") for _, block in blocks)  # the line is in one block, whole
    # Re-joining the carried part with every chunk copies ~ line^2 / (2 * block) bytes (7 GB here).
    assert reader.copied <= 2 * len(data)
    path = tmp_path / "conn.log"
    path.write_bytes(data)
    offsets = [(offset, len(block)) for offset, block in iter_range_blocks(str(path), 0, len(data), 2**17)]
    assert sum(length for _, length in offsets) == len(data) and offsets[0][0] == 0
