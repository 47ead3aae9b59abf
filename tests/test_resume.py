"""--resume: a client killed mid-run, then rerun; finished shards reused, torn ones redone, changes refused."""

from __future__ import annotations

import json
import os
import shutil
import signal
from pathlib import Path

import pytest

from workflows.manifest import MANIFEST_NAME, Manifest, identity, identity_changes
from workflows.plan import InputFile, Partition
from workflows.workfiles import file_checksum
from workflows.task import ShardInfo, shard_name
from workflows.workdir import LOCK_SUFFIX

from .gatedfs import close_gate, open_gate, remove_gate
from .procs import finish, gated_cli, listening_sockets, shard_records, wait_for

PARTITION = 64 * 1024
GATE_AT = 10  # partitions 0..9 finish, the rest wait at the gate


def _convert(source: Path, output: Path, *extra: str):
    return gated_cli(
        "convert", f"gated://{source}", "-o", str(output), "--workers", "2", "--partition-size", str(PARTITION),
        "--window", "4", "--no-progress", "--summary-json", f"{output}.summary.json", *extra,
    )


@pytest.mark.cluster
def test_client_killed_then_resumed(small_capture: Path, tmp_path: Path) -> None:
    source = tmp_path / "conn.ndjson"
    shutil.copyfile(small_capture, source)
    assert source.stat().st_size > (GATE_AT + 5) * PARTITION

    code, _, err = finish(_convert(source, tmp_path / "reference.csv"))
    assert code == 0, err

    output = tmp_path / "conn.csv"
    manifest = Path(f"{output}.parts") / MANIFEST_NAME
    close_gate(str(source), GATE_AT * PARTITION)
    client = _convert(source, output)
    wait_for(f"{GATE_AT} shards in the manifest", lambda: shard_records(manifest) >= GATE_AT, proc=client)
    # Mid-run, the embedded LocalCluster (dashboard and workers' HTTP routes; with worker processes also the
    # scheduler and the workers' comms) listens on loopback only.
    listening = listening_sockets(client.pid)
    assert len(listening) >= 3 and {ip for ip, _ in listening} == {"127.0.0.1"}, listening
    os.kill(client.pid, signal.SIGKILL)  # the client only: its LocalCluster workers notice and exit
    code, _, _ = finish(client)
    assert code == -signal.SIGKILL
    assert shard_records(manifest) == GATE_AT
    assert not output.exists()
    # Its lock file outlives it, its lock does not: the runs below are not refused as concurrent.
    assert Path(f"{output}{LOCK_SUFFIX}").exists()

    # Options that shape the output changed: refused before any work, naming the option.
    code, _, err = finish(_convert(source, output, "--resume", "--columns", "ts,uid"))
    assert code == 2 and "--columns" in err and "Traceback" not in err
    # The input changed (modified, then grown): refused, naming the input; the shards stay.
    stat = source.stat()
    os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    code, _, err = finish(_convert(source, output, "--resume"))
    assert code == 2 and f"input gated://{source} was modified" in err
    with open(source, "ab") as f:
        f.write(b"\n")
    code, _, err = finish(_convert(source, output, "--resume"))
    assert code == 2 and "changed size" in err
    with open(source, "r+b") as f:
        f.truncate(stat.st_size)
    os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert shard_records(manifest) == GATE_AT

    # A torn shard (cut short after it was recorded) must be redone, never concatenated.
    torn = Path(f"{output}.parts") / shard_name(3)
    with open(torn, "r+b") as f:
        f.truncate(torn.stat().st_size // 2)

    open_gate(str(source))
    code, out, err = finish(_convert(source, output, "--resume"))
    assert code == 0, err
    summary = json.loads(Path(f"{output}.summary.json").read_text())
    assert summary["reused_partitions"] == GATE_AT - 1
    assert summary["partitions"] > GATE_AT
    assert f"Reused:        {GATE_AT - 1} partitions" in out
    assert output.read_bytes() == (tmp_path / "reference.csv").read_bytes()
    assert Path(f"{output}.rejects.ndjson").read_bytes() == (tmp_path / "reference.csv.rejects.ndjson").read_bytes()
    assert not Path(f"{output}.parts").exists() and not list(tmp_path.glob(f"*{LOCK_SUFFIX}"))


@pytest.fixture(scope="module")
def converted(small_capture: Path, tmp_path_factory) -> tuple[Path, Path]:
    """A private copy of the capture and its uninterrupted conversion (reject records name the input's path)."""
    folder = tmp_path_factory.mktemp("signals")
    source = folder / "conn.ndjson"
    shutil.copyfile(small_capture, source)
    code, _, err = finish(_convert(source, folder / "reference.csv"))
    assert code == 0, err
    return source, folder / "reference.csv"


@pytest.mark.cluster
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=lambda s: s.name)
def test_a_signal_stops_the_run_like_ctrl_c_and_resume_gives_the_same_output(
        converted: tuple[Path, Path], signum: signal.Signals) -> None:
    source, reference = converted
    output = source.parent / f"{signum.name}.csv"
    manifest = Path(f"{output}.parts") / MANIFEST_NAME
    close_gate(str(source), GATE_AT * PARTITION)
    try:
        client = _convert(source, output)
        wait_for(f"{GATE_AT} shards in the manifest", lambda: shard_records(manifest) >= GATE_AT, proc=client)
        os.kill(client.pid, signum)  # the client only, as a service manager or a closed terminal would
        code, _, err = finish(client)
    finally:
        open_gate(str(source))
    assert code == 128 + signum, err
    assert err.strip().splitlines()[-1] == f"zeekflow: interrupted by {signum.name}; the output was not written"
    assert "Traceback" not in err
    # Nothing left but the shards and the manifest that --resume needs.
    left = sorted(p.name for p in source.parent.iterdir() if p.name.startswith(output.name))
    assert left == [f"{output.name}.parts"], left
    assert shard_records(manifest) >= GATE_AT
    code, _, err = finish(_convert(source, output, "--resume"))
    remove_gate(str(source))
    assert code == 0, err
    assert output.read_bytes() == reference.read_bytes()
    assert Path(f"{output}.rejects.ndjson").read_bytes() == Path(f"{reference}.rejects.ndjson").read_bytes()
    assert json.loads(Path(f"{output}.summary.json").read_text())["reused_partitions"] >= GATE_AT


def _info(index: int) -> ShardInfo:
    return ShardInfo(index=index, lines=1, rows=1, rejected=0, blank=0, bytes_in=3, bytes_out=0,
                     checksum=file_checksum(os.devnull), rejects_checksum=file_checksum(os.devnull))


def test_manifest_skips_a_torn_last_line_and_checks_every_shard(tmp_path: Path) -> None:
    partitions = [Partition(i, "conn.log", 3 * i, 3) for i in range(3)]
    run = identity([InputFile("conn.log", 9, 1.0)], {"columns": ["ts:time"]})
    manifest = Manifest(str(tmp_path), run, partitions)
    manifest.start()
    for index in (0, 1, 2):
        (tmp_path / shard_name(index)).write_bytes(b"")
        (tmp_path / shard_name(index).replace(".csv", ".rejects.ndjson")).write_bytes(b"")
    manifest.record(_info(0))
    manifest.record(_info(2))
    with open(manifest.path, "a") as f:
        f.write('{"partition": {"index": 1, "pa')  # the client died while writing this line
    (tmp_path / shard_name(2)).write_bytes(b"x")  # corrupt after it was recorded

    reused = Manifest(str(tmp_path), run, partitions).resume()
    assert sorted(reused) == [0]
    assert not (tmp_path / shard_name(2)).exists() and not (tmp_path / shard_name(1)).exists()
    assert shard_records(Path(manifest.path)) == 1


def test_identity_changes_name_what_changed() -> None:
    old = identity([InputFile("a.log", 10, 1.0), InputFile("b.log", 5, 1.0)], {"partition-size": 64, "format": "csv"})
    new = identity([InputFile("a.log", 12, 1.0), InputFile("b.log", 5, 2.0)], {"partition-size": 32, "format": "csv"})
    assert identity_changes(old, old) == []
    changes = identity_changes(old, new)
    assert "input a.log changed size (10 -> 12 bytes)" in changes
    assert "input b.log was modified since the interrupted run" in changes
    assert "option --partition-size changed (was 64, now 32)" in changes
    assert len(changes) == 3
