"""Parquet output: the schema's Arrow types, read back alike by DuckDB, Polars and dask.dataframe, and the same
values as the CSV output; plus end-to-end runs of the new input formats on one real cluster."""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from distributed import LocalCluster

from workflows import ConvertOptions, UsageError, convert, prepare
from workflows.render import BlockConverter
from workflows.parquet import ValueCollector, arrow_schema, finish_parquet
from workflows.schema import DNS, Column
from workflows.task import convert_partition, shard_name

from .conftest import REPO
from .inprocess import convert_in_process

KOVTER = "other/sdft_009_kovter_dns.log.labeled"


def parquet_in_process(inputs: list[Path], out: Path, single_file: bool = False, **options) -> tuple[dict, list]:
    """The real tasks and the real assembly of a Parquet run, without Dask."""
    job = prepare(ConvertOptions(inputs=[str(p) for p in inputs], output=str(out), single_file=single_file,
                                 **options))
    os.makedirs(job.spec.work_dir, exist_ok=True)
    infos = [convert_partition(p, job.spec) for p in job.partitions]
    shards = [os.path.join(job.spec.work_dir, shard_name(i.index, "parquet")) for i in infos]
    finish_parquet(shards, str(out), job.columns, single_file)
    totals = {key: sum(getattr(i, key) for i in infos) for key in ("rows", "rejected")}
    return totals, [json.loads(line) for i in infos
                    for line in Path(job.spec.work_dir, f"part-{i.index:06d}.rejects.ndjson").read_bytes().splitlines()]


def test_arrow_types_follow_the_zeek_types():
    columns = [Column("ts", "time"), Column("p", "port"), Column("n", "count"), Column("i", "int"),
               Column("d", "interval"), Column("x", "double"), Column("b", "bool"), Column("a", "addr"),
               Column("e", "enum"), Column("s", "set[string]"), Column("v", "vector[interval]"),
               Column("t", "vector[time]")]
    schema = arrow_schema(columns)
    assert schema.types == [pa.timestamp("us", tz="UTC"), pa.uint16(), pa.uint64(), pa.int64(), pa.float64(),
                            pa.float64(), pa.bool_(), pa.string(), pa.string(), pa.list_(pa.string()),
                            pa.list_(pa.float64()), pa.list_(pa.timestamp("us", tz="UTC"))]
    assert schema.field("s").metadata == {b"zeek_type": b"set[string]"}


def test_every_time_form_is_one_timestamp_and_out_of_range_values_are_rejected():
    columns = [Column("ts", "time"), Column("p", "port"), Column("n", "count"), Column("s", "set[string]")]
    collector = ValueCollector(columns, "in")
    block = (b'{"ts":1591367999.305988,"p":80,"n":1,"s":["a","b"]}\n'
             b'{"ts":"2020-06-05T14:39:59.305988Z","p":65535,"s":[]}\n'
             b'{"ts":1591367999305,"p":70000}\n'
             b'{"ts":1,"n":-1}\n'
             b'{"ts":0}\n')
    result = collector.convert(block)
    assert (result.rows, result.rejected, result.csv) == (3, 2, b"")
    reasons = [json.loads(line)["reason"] for line in result.rejects.splitlines()]
    assert reasons == ["p: 70000 is out of range for port", "n: -1 is out of range for count"]
    # The same lines are CSV rejects: the range is the type's rule, not the output's.
    csv_result = BlockConverter(columns, "in").convert(block)
    assert (csv_result.rows, csv_result.rejected, csv_result.rejects) == (3, 2, result.rejects)
    table = pa.concat_tables(collector.take())
    assert table.column("ts").to_pylist() == [
        datetime(2020, 6, 5, 14, 39, 59, 305988, tzinfo=timezone.utc),
        datetime(2020, 6, 5, 14, 39, 59, 305988, tzinfo=timezone.utc),
        datetime(1970, 1, 1, tzinfo=timezone.utc)]
    assert table.column("p").to_pylist() == [80, 65535, None]
    assert table.column("s").to_pylist() == [["a", "b"], [], None]


def _csv_table(csv_bytes: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(csv_bytes.decode(), newline="")))


def _as_csv_text(value, zeek_type: str) -> str:
    """A value read back from Parquet, written as the CSV output writes it (times as --ts-format iso8601)."""
    if value is None:
        return ""
    if isinstance(value, list):
        inner = zeek_type[zeek_type.index("[") + 1:-1]
        return ",".join(_as_csv_text(v, inner) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return value if isinstance(value, str) else repr(value)


@pytest.mark.parametrize("single_file", [False, True])
def test_parquet_holds_the_csv_values_for_duckdb_polars_and_dask(samples, tmp_path, single_file):
    import dask.dataframe as dd

    path = samples / KOVTER
    out = tmp_path / "dns.parquet"
    # The shipped dns columns, asked for: by default a TSV log's columns are its own header's (an older Zeek's).
    shipped = [c.name for c in DNS.columns]
    totals, rejects = parquet_in_process([path], out, single_file=single_file, partition_size="512KiB",
                                         columns=shipped)
    csv_bytes, _, csv_totals = convert_in_process([path], tmp_path / "dns.csv", partition_size="512KiB",
                                                  ts_format="iso8601", columns=shipped)
    assert totals == {"rows": csv_totals["rows"], "rejected": 0} and rejects == []
    assert out.is_file() == single_file
    if not single_file:
        assert sorted(os.listdir(out)) == [f"part-{i:06d}.parquet" for i in range(7)]
    target = str(out) if single_file else str(out / "*.parquet")

    frame = pl.read_parquet(target)
    expected = _csv_table(csv_bytes)
    assert frame.columns == [c.name for c in DNS.columns] and frame.height == len(expected) == 24181
    types = {c.name: c.zeek_type for c in DNS.columns}
    for row, want in zip(frame.iter_rows(named=True), expected):
        assert {k: _as_csv_text(v, types[k]) for k, v in row.items()} == want

    # DuckDB and dask read the same rows and values as Polars.
    con = duckdb.connect()
    assert con.execute(f"select count(*) from read_parquet('{target}')").fetchone()[0] == frame.height
    assert con.execute(f"select sum(len(answers)), sum(qtype), max(ts), count(rtt) from read_parquet('{target}')"
                   ).fetchone() == (frame["answers"].list.len().sum(), frame["qtype"].sum(), frame["ts"].max(),
                                    frame["rtt"].count())
    duck_rows = con.execute(f"select uid, query, \"TTLs\" from read_parquet('{target}')").fetchall()
    assert duck_rows == list(zip(frame["uid"], frame["query"], frame["TTLs"].to_list()))
    lazy = dd.read_parquet(str(out))
    assert len(lazy) == frame.height
    pandas = lazy.compute()
    assert list(pandas["uid"]) == frame["uid"].to_list() and list(pandas["id.resp_p"]) == frame["id.resp_p"].to_list()


def test_missing_pyarrow_is_a_usage_error_naming_the_extra(tmp_path):
    log = tmp_path / "conn.log"
    log.write_bytes(b'{"uid":"C1"}\n')
    code = ("import sys; sys.modules['pyarrow'] = None; from workflows.cli import main; "
            f"main(['convert', {str(log)!r}, '-o', {str(tmp_path / 'o.parquet')!r}])")
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "pip install 'zeekflow[parquet]'" in proc.stderr and "Traceback" not in proc.stderr


def test_an_output_folder_with_other_files_is_refused(tmp_path):
    log = tmp_path / "conn.log"
    log.write_bytes(b'{"uid":"C1"}\n')
    folder = tmp_path / "out.parquet"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    with pytest.raises(UsageError, match="holds other files"):
        prepare(ConvertOptions(inputs=[str(log)], output=str(folder)))


# -- end to end on one real cluster ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def scheduler():
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=":0") as cluster:
        yield cluster.scheduler_address


@pytest.mark.cluster
def test_cluster_parquet_dataset_and_single_file_match_in_process(samples, scheduler, tmp_path):
    path = samples / KOVTER
    reference = tmp_path / "reference.parquet"
    parquet_in_process([path], reference, single_file=True, partition_size="256KiB")
    expected = pq.read_table(reference)
    for single_file in (False, True):
        out = tmp_path / f"cluster-{single_file}.parquet"
        summary = convert(ConvertOptions(inputs=[str(path)], output=str(out), scheduler=scheduler,
                                         partition_size="256KiB", single_file=single_file))
        assert summary.rows == expected.num_rows and summary.rejected == 0
        assert pq.read_table(str(out)).equals(expected)
    # A second run replaces the dataset folder it wrote before.
    again = convert(ConvertOptions(inputs=[str(path)], output=str(tmp_path / "cluster-False.parquet"),
                                   scheduler=scheduler, partition_size="1MiB"))
    assert again.rows == expected.num_rows
    assert len(os.listdir(tmp_path / "cluster-False.parquet")) == 4


@pytest.mark.cluster
def test_cluster_converts_rotated_compressed_tsv_and_json_like_in_process(samples, scheduler, tmp_path):
    # Rotated archives in two day folders, given as a quoted glob: natural order, one partition per file.
    data = gzip.decompress((samples / "tsv/rita_missing_host_conn.00-01.log.gz").read_bytes())
    for day, hour in (("2024-04-20", 0), ("2024-04-19", 10), ("2024-04-19", 9)):
        folder = tmp_path / day
        folder.mkdir(exist_ok=True)
        (folder / f"conn.{hour:02d}:00:00-{hour + 1:02d}:00:00.log.gz").write_bytes(gzip.compress(data))
    pattern = str(tmp_path / "*" / "conn.*.log.gz")
    expected, expected_rejects, totals = convert_in_process([pattern], tmp_path / "ref.csv", ts_format="iso8601")
    out = tmp_path / "cluster.csv"
    summary = convert(ConvertOptions(inputs=[pattern], output=str(out), scheduler=scheduler, ts_format="iso8601"))
    assert out.read_bytes() == expected and summary.partitions == 3 and summary.rejected == 0
    assert [Path(p).parent.name + "/" + Path(p).name[:7] for p in summary.inputs] == [
        "2024-04-19/conn.09", "2024-04-19/conn.10", "2024-04-20/conn.00"]
    # The header is the schema: its _node_name column is written, not dropped.
    assert summary.dropped_fields == {} and "_node_name" in out.read_text().split("\n", 1)[0].split(",")
    # A plain TSV file cut into byte ranges on the cluster gives the in-process bytes.
    kovter = samples / KOVTER
    expected, _, _ = convert_in_process([kovter], tmp_path / "k.csv", partition_size="64KiB")
    summary = convert(ConvertOptions(inputs=[str(kovter)], output=str(tmp_path / "kc.csv"), scheduler=scheduler,
                                     partition_size="64KiB"))
    assert (tmp_path / "kc.csv").read_bytes() == expected and summary.partitions > 50


@pytest.mark.cluster
def test_resume_reuses_finished_parquet_shards(samples, scheduler, tmp_path):
    path = samples / KOVTER
    out = tmp_path / "dns.parquet"
    options = dict(inputs=[str(path)], output=str(out), partition_size="512KiB")
    # An interrupted run: the journal and the shards of the first three partitions, as the client left them.
    job = prepare(ConvertOptions(**options))
    os.makedirs(job.spec.work_dir)
    manifest = job.manifest()
    manifest.start()
    for partition in job.partitions[:3]:
        manifest.record(convert_partition(partition, job.spec))
    summary = convert(ConvertOptions(**options, scheduler=scheduler, resume=True))
    assert summary.reused_partitions == 3 and summary.rows == 24181
    reference = tmp_path / "reference.parquet"
    parquet_in_process([path], reference, partition_size="512KiB")
    assert pq.read_table(str(out)).equals(pq.read_table(str(reference)))


def test_cli_format_parquet_single_file(samples, tmp_path):
    from .conftest import run_cli

    out = tmp_path / "ntp.data"
    proc = run_cli("convert", str(samples / "other/zed_ntp.tsv.log.gz"), "-o", str(out), "--format", "parquet",
                   "--single-file", "--workers", "1", "--no-progress")
    assert proc.returncode == 0, proc.stderr
    table = pq.read_table(out)
    assert table.num_rows == 904 and table.schema.field("ref_time").type == pa.timestamp("us", tz="UTC")
    assert table.column("ref_id").to_pylist()[0] == "\\x00\\x00\\x00\\x00"


@pytest.mark.parametrize("single_file", [False, True])
def test_an_empty_input_gives_an_empty_table_with_the_schema(tmp_path, single_file):
    empty = tmp_path / "dns.log"
    empty.write_bytes(b"")
    out = tmp_path / "dns.parquet"
    totals, _ = parquet_in_process([empty], out, single_file=single_file)
    table = pq.read_table(str(out))
    assert totals["rows"] == table.num_rows == 0 and table.schema.names == [c.name for c in DNS.columns]
