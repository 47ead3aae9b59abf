"""Compressed inputs (one partition each), several inputs and globs in natural order, into one output."""

from __future__ import annotations

import bz2
import gzip
import json
import subprocess
import sys
import zlib

import pytest
import zstandard

from workflows import UsageError
from workflows.inputs import expand_inputs, natural_key

from .conftest import REPO, run_cli
from .inprocess import convert_in_process

LINES = b"".join(b'{"ts":%d.25,"uid":"C%d","id.orig_p":%d}\n' % (i, i, i) for i in range(200))
BAD = b'{"ts":"not a time","uid":"X"}\n'


def _write(path, data):
    path.write_bytes(data)
    return path


COMPRESSORS = {"gz": gzip.compress, "bz2": bz2.compress, "zst": zstandard.ZstdCompressor().compress}


@pytest.mark.parametrize("suffix", sorted(COMPRESSORS))
def test_compressed_input_is_one_partition_with_the_plain_output(tmp_path, suffix):
    data = LINES + BAD + b"\n" + LINES
    plain = _write(tmp_path / "conn.log", data)
    packed = _write(tmp_path / f"conn.log.{suffix}", COMPRESSORS[suffix](data))
    expected_csv, expected_rejects, expected = convert_in_process([plain], tmp_path / "p.csv",
                                                                  partition_size="1KiB")
    csv_bytes, rejects, totals = convert_in_process([packed], tmp_path / "c.csv", partition_size="1KiB")
    assert expected["partitions"] > 1 and totals["partitions"] == 1
    assert csv_bytes == expected_csv
    # Offsets of rejected lines are offsets in the decompressed stream, the same as in the plain file.
    assert rejects.replace(str(packed).encode(), b"P") == expected_rejects.replace(str(plain).encode(), b"P")
    record = json.loads(rejects)
    assert data[record["offset"]:].startswith(BAD)
    assert (totals["rows"], totals["rejected"], totals["blank"]) == (400, 1, 1)


def test_multi_member_gzip_and_a_last_line_without_newline(tmp_path):
    packed = _write(tmp_path / "conn.log.gz", gzip.compress(LINES) + gzip.compress(b'{"uid":"last"}'))
    csv_bytes, _, totals = convert_in_process([packed], tmp_path / "o.csv", columns=["uid"])
    assert totals["rows"] == 201 and csv_bytes.endswith(b"\nlast\n")


def test_natural_order():
    names = ["conn.10.log", "conn.2.log", "conn.1.log", "conn.log",
             "2024-04-19/conn.10:00:00-11:00:00.log.gz", "2024-04-19/conn.09:00:00-10:00:00.log.gz",
             "2024-04-20/conn.00:00:00-01:00:00.log.gz", "2024-04-19/conn.23:00:00-00:00:00.log.gz"]
    assert sorted(names, key=natural_key) == [
        "2024-04-19/conn.09:00:00-10:00:00.log.gz", "2024-04-19/conn.10:00:00-11:00:00.log.gz",
        "2024-04-19/conn.23:00:00-00:00:00.log.gz", "2024-04-20/conn.00:00:00-01:00:00.log.gz",
        "conn.1.log", "conn.2.log", "conn.10.log", "conn.log",
    ]


def test_globs_and_inputs_in_natural_order_into_one_output(tmp_path):
    for i in (10, 2, 1):
        _write(tmp_path / f"conn.{i}.log.gz", gzip.compress(b'{"uid":"C%d"}\n' % i))
    _write(tmp_path / "conn.3.log", b'{"uid":"C3"}\n')
    found = expand_inputs([str(tmp_path / "conn.*.log.gz"), str(tmp_path / "conn.3.log"),
                           str(tmp_path / "conn.1.log.gz")])
    assert [p.rsplit("/", 1)[1] for p in found] == ["conn.1.log.gz", "conn.2.log.gz", "conn.3.log", "conn.10.log.gz"]
    csv_bytes, _, totals = convert_in_process([tmp_path / "conn.10.log.gz", str(tmp_path / "conn.[0-9].log*")],
                                              tmp_path / "o.csv", columns=["uid"])
    assert csv_bytes == b"uid\nC1\nC2\nC3\nC10\n" and totals["partitions"] == 4
    with pytest.raises(UsageError, match="no input matches"):
        expand_inputs([str(tmp_path / "nothing*.log")])


def test_missing_zstandard_is_a_usage_error_naming_the_extra(tmp_path):
    packed = _write(tmp_path / "conn.log.zst", zstandard.ZstdCompressor().compress(LINES))
    code = ("import sys; sys.modules['zstandard'] = None; from workflows.cli import main; "
            f"main(['convert', {str(packed)!r}, '-o', {str(tmp_path / 'o.csv')!r}])")
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "pip install 'zeekflow[zstd]'" in proc.stderr and "Traceback" not in proc.stderr


MANY = b"".join(b'{"ts":%d.25,"uid":"C%d","id.orig_p":%d,"history":"ShADadfF%d"}\n' % (i, i, i % 65536, i * 7919)
                for i in range(40_000))


def _readable_prefix(packed: bytes) -> bytes:
    """What zlib itself can decompress from a torn gzip member."""
    return zlib.decompressobj(31).decompress(packed)


def test_a_truncated_gzip_keeps_its_readable_lines_and_rejects_the_torn_end(tmp_path):
    whole = gzip.compress(MANY)
    packed = _write(tmp_path / "conn.log.gz", whole[: len(whole) * 3 // 5])  # cut inside a deflate block
    readable = _readable_prefix(packed.read_bytes())
    torn_at = readable.rfind(b"\n") + 1
    assert 0 < torn_at < len(readable) < len(MANY)
    csv_bytes, rejects, totals = convert_in_process([packed], tmp_path / "o.csv", columns=["uid"])
    assert csv_bytes == b"uid\n" + b"".join(b"C%d\n" % i for i in range(readable.count(b"\n")))
    assert (totals["rows"], totals["rejected"], totals["lines"]) == (readable.count(b"\n"), 1, readable.count(b"\n") + 1)
    record = json.loads(rejects)
    assert record["input"] == str(packed) and record["offset"] == torn_at
    # ISA-L may hold back the last few bytes of a torn deflate block that zlib gives out.
    assert readable[torn_at:].startswith(record["line"].encode()) and len(readable) - torn_at - len(record["line"]) < 8
    end = torn_at + len(record["line"])
    assert f"truncated: it ends inside a member at decompressed byte {end:,}" in record["reason"]


def test_garbage_after_the_gzip_members_is_one_reject_and_every_line_is_kept(tmp_path):
    members = gzip.compress(MANY[:1000]) + gzip.compress(MANY[1000:]) + b"\0" * 16  # zero padding is fine
    padded = _write(tmp_path / "padded.log.gz", members)
    _, rejects, totals = convert_in_process([padded], tmp_path / "p.csv", columns=["uid"])
    assert rejects == b"" and totals["rows"] == 40_000
    packed = _write(tmp_path / "conn.log.gz", members + b"garbage after the members\n")
    csv_bytes, rejects, totals = convert_in_process([packed], tmp_path / "o.csv", columns=["uid"])
    assert (totals["rows"], totals["rejected"]) == (40_000, 1)
    record = json.loads(rejects)
    assert record["offset"] == len(MANY) and record["line"] == ""
    assert f"bytes that are not gzip data" in record["reason"] and f"byte {len(MANY):,}" in record["reason"]


@pytest.mark.cluster
def test_a_torn_archive_among_the_inputs_exits_0(tmp_path):
    good = _write(tmp_path / "conn.1.log.gz", gzip.compress(LINES))
    torn = _write(tmp_path / "conn.2.log.gz", gzip.compress(LINES)[:-30])
    output = tmp_path / "o.csv"
    proc = run_cli("convert", str(good), str(torn), "-o", str(output), "--workers", "1", "--no-progress",
                   "--summary-json", str(tmp_path / "s.json"), cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((tmp_path / "s.json").read_text())
    assert summary["rejected"] == 1 and 200 < summary["rows"] < 400
    assert summary["lines"] == summary["rows"] + summary["rejected"]
