"""--enrich: Community ID against every official vector, MaxMind lookups against the records the test
databases were built from, Zeek intel matches, usage errors, and the columns through CSV, Parquet, TSV,
--columns and --resume (in process, on a LocalCluster and on a remote cluster)."""

from __future__ import annotations

import ipaddress
import json
import re
from pathlib import Path

import pytest

from workflows import ConvertOptions, prepare
from workflows.cli import main
from workflows.enrich.columns import CITY, COUNTRY, EnrichSpec
from workflows.enrich.community_id import community_id
from workflows.enrich.geo import AsnLookup, GeoLookup
from workflows.enrich.intel import read_intel
from workflows.errors import UsageError
from workflows.kernel import kernel_name
from workflows.render import BlockConverter
from workflows.schema import get_schema
from workflows.task import convert_partition, shard_name

from .inprocess import convert_in_process
from .procs import ScriptCluster, cli

VECTORS = {"baseline_deflt.json": {}, "baseline_seed1.json": {"seed": 1},
           "baseline_nob64.json": {"use_base64": False}}
# The README's tables: the same settings, and the port-less (RSVP) flows the JSON files lack.
TABLES = {"Default settings": {}, "A custom seed=1 value": {"seed": 1}, "No base64-encoding": {"use_base64": False}}
ID_COLUMNS = "ts,uid,id.orig_h,id.orig_p,id.resp_h,id.resp_p,proto"


@pytest.fixture(scope="module")
def community(samples: Path) -> Path:
    return samples / "enrich" / "community-id"


@pytest.fixture(scope="module")
def maxmind(samples: Path) -> Path:
    return samples / "enrich" / "maxmind"


def _table_vectors(readme: str) -> list[tuple[dict, str]]:
    """(settings, row) of every row of the README's three tables."""
    vectors = []
    for title, settings in TABLES.items():
        section = readme.split(f"### {title}", 1)[1].split("###", 1)[0]
        for line in section.splitlines():
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if len(cells) == 8 and cells[1].isdigit():
                vectors.append((settings, cells))
    return vectors


@pytest.mark.parametrize("name", sorted(VECTORS))
def test_every_json_vector(community: Path, name: str) -> None:
    vectors = json.loads((community / name).read_text())
    assert len(vectors) > 20
    for v in vectors:
        got = community_id(v["saddr"], v["daddr"], v["sport"], v["dport"], v["proto"], **VECTORS[name])
        assert got == v["communityid"], v


def test_every_table_vector(community: Path) -> None:
    vectors = _table_vectors((community / "baseline-README.md").read_text())
    assert len(vectors) == 3 * 16
    for settings, (_, proto, saddr, daddr, sport, dport, expected, _) in vectors:
        ports = (None, None) if sport == "-" else (int(sport), int(dport))
        assert community_id(saddr, daddr, *ports, int(proto), **settings) == expected, (settings, saddr, daddr)


def _conn(orig_h: str, resp_h: str, orig_p: int, resp_p: int, proto: str, **more) -> dict:
    return {"ts": 1.5, "uid": "C1", "id.orig_h": orig_h, "id.orig_p": orig_p, "id.resp_h": resp_h,
            "id.resp_p": resp_p, "proto": proto, **more}


def _enriched(records: list[dict], spec: EnrichSpec, log_type: str = "conn", columns: str = ID_COLUMNS) -> list[list[str]]:
    """The enrichment cells of ``records`` converted as NDJSON by the shipped converter."""
    from workflows.enrich.stage import Enricher

    log_columns = get_schema(log_type).select(columns.split(","))
    converter = BlockConverter(log_columns, "-", enricher=Enricher(spec))
    block = b"".join(json.dumps(r).encode() + b"\n" for r in records)
    result = converter.convert(block)
    assert result.rows == len(records) and not result.rejects
    import csv
    import io

    return [row[len(log_columns):] for row in csv.reader(io.StringIO(result.csv.decode()))]


def test_zeek_icmp_is_icmpv6_for_an_ipv6_pair(community: Path) -> None:
    """conn.log says icmp for ICMPv6 too: the vectors of proto 58, written as Zeek writes them, agree."""
    vectors = [v for v in json.loads((community / "baseline_deflt.json").read_text()) if v["proto"] in (1, 58)]
    assert {v["proto"] for v in vectors} == {1, 58}
    records = [_conn(v["saddr"], v["daddr"], v["sport"], v["dport"], "icmp") for v in vectors]
    cells = _enriched(records, EnrichSpec(names=("community_id",)))
    assert [row[0] for row in cells] == [v["communityid"] for v in vectors]


def test_community_id_proto_from_ip_proto_and_empty_without_a_transport() -> None:
    spec = EnrichSpec(names=("community_id",), community_id_seed=1)
    rows = _enriched([_conn("1.2.3.4", "5.6.7.8", 0, 0, "unknown_transport", ip_proto=46),
                      _conn("1.2.3.4", "5.6.7.8", 0, 0, "unknown_transport"),
                      _conn("not-an-address", "5.6.7.8", 1, 2, "tcp")], spec)
    assert rows == [["1:/buhqeOmaRCopOZFy9HnoJd5XW8="], [""], [""]]


def _networks(path: Path) -> list[tuple[ipaddress._BaseNetwork, dict]]:
    return [(ipaddress.ip_network(k), v) for record in json.loads(path.read_text()) for k, v in record.items()]


def _most_specific(networks):
    """Each network whose first address no more specific network of the file holds, with its record."""
    for network, record in networks:
        first = network.network_address
        if all(not (other.version == network.version and first in other and other.prefixlen > network.prefixlen)
               for other, _ in networks):
            yield str(first), record


@pytest.mark.parametrize("name,city", [("City", True), ("Country", False)])
def test_geo_lookups_match_the_source_records(maxmind: Path, name: str, city: bool) -> None:
    lookup = GeoLookup(str(maxmind / f"GeoLite2-{name}-Test.mmdb"), city=city)
    checked = 0
    for address, record in _most_specific(_networks(maxmind / f"GeoLite2-{name}-Test.source.json")):
        expected = ((record.get("country") or {}).get("iso_code"),)
        if city:
            location = record.get("location") or {}
            expected += (((record.get("city") or {}).get("names") or {}).get("en"), location.get("latitude"),
                         location.get("longitude"))
        assert lookup.lookup(address) == expected, address
        checked += 1
    assert checked > 200
    assert lookup.lookup("10.1.2.3") == (None,) * len(expected)  # private: no record


def test_asn_lookups_match_the_source_records(maxmind: Path) -> None:
    lookup = AsnLookup(str(maxmind / "GeoLite2-ASN-Test.mmdb"))
    checked = 0
    for address, record in _most_specific(_networks(maxmind / "GeoLite2-ASN-Test.source.json")):
        expected = (record.get("autonomous_system_number"), record.get("autonomous_system_organization"))
        assert lookup.lookup(address) == expected, address
        checked += 1
    assert checked > 500
    assert lookup.lookup("192.168.0.1") == (None, None)


INTEL = """#separator \\x09
#fields\tindicator\tindicator_type\tmeta.source\tmeta.desc
# a comment
81.2.69.160\tIntel::ADDR\tfeed-a\tLondon host
10.0.0.0/8\tIntel::SUBNET\tfeed-b\tinternal
2001:db8::/32\tIntel::SUBNET\tfeed-b\tdocumentation
evil.example\tIntel::DOMAIN\tfeed-c\t-
http://bad.example/dl/x.exe\tIntel::URL\tfeed-d\t-
D41D8CD98F00B204E9800998ECF8427E\tIntel::FILE_HASH\t-\tempty file
someone\tIntel::USER_NAME\tfeed-e\tnever matched
"""


@pytest.fixture()
def intel_file(tmp_path: Path) -> Path:
    path = tmp_path / "intel.dat"
    path.write_text(INTEL)
    return path


def test_intel_matches_each_kind_of_indicator(intel_file: Path) -> None:
    from workflows.enrich.columns import DatabaseFile

    def spec(log_type):
        return EnrichSpec(names=("intel",), log_type=log_type, intel=DatabaseFile(str(intel_file), 0, 0))

    conn = _enriched([_conn("10.1.1.1", "81.2.69.160", 1, 2, "tcp"), _conn("2001:db8::5", "::1", 1, 2, "udp"),
                      _conn("192.0.2.1", "192.0.2.2", 1, 2, "tcp"), _conn("10.1.1.1", "10.2.2.2", 1, 2, "tcp")],
                     spec("conn"))
    assert conn == [["10.0.0.0/8,81.2.69.160", "feed-b,feed-a"], ["2001:db8::/32", "feed-b"], ["", ""],
                    ["10.0.0.0/8", "feed-b"]]  # both sides in one subnet: one match
    dns = _enriched([{**_conn("192.0.2.1", "192.0.2.2", 1, 53, "udp"), "query": "EVIL.example"}], spec("dns"),
                    "dns", ID_COLUMNS + ",query")
    assert dns == [["evil.example", "feed-c"]]
    http = _enriched([{**_conn("192.0.2.1", "192.0.2.2", 1, 80, "tcp"), "host": "bad.example", "uri": "/dl/x.exe"}],
                     spec("http"), "http", "ts,uid,id.orig_h,id.orig_p,id.resp_h,id.resp_p,host,uri")
    assert http == [["http://bad.example/dl/x.exe", "feed-d"]]
    files = _enriched([{"ts": 1.0, "fuid": "F1", "md5": "d41d8cd98f00b204e9800998ecf8427e"}], spec("files"),
                      "files", "ts,fuid,md5")
    assert files == [["D41D8CD98F00B204E9800998ECF8427E", ""]]


def test_intel_file_without_fields_line_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "intel.txt"
    path.write_text("81.2.69.160\tIntel::ADDR\tfeed\n")
    with pytest.raises(UsageError, match="no #fields line"):
        read_intel(str(path))


def _capture(tmp_path: Path) -> tuple[Path, Path]:
    """The same conn events as NDJSON and as Zeek TSV: addresses the test databases know, and private ones."""
    rows = [("81.2.69.160", 51234, "2.125.160.216", 443, "tcp"), ("10.0.0.7", 5353, "1.128.0.1", 53, "udp"),
            ("2001:480::1", 8, "2001:480::2", 0, "icmp"), ("192.168.1.2", 3, "81.2.69.160", 1, "icmp")] * 50
    ndjson, tsv = tmp_path / "conn.ndjson", tmp_path / "conn.log"
    with open(ndjson, "w") as j, open(tsv, "w") as t:
        t.write("#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tconn\n"
                "#fields\t" + "\t".join(ID_COLUMNS.split(",")) + "\n#types\ttime\tstring\taddr\tport\taddr\tport\tenum\n")
        for i, (orig_h, orig_p, resp_h, resp_p, proto) in enumerate(rows):
            record = _conn(orig_h, resp_h, orig_p, resp_p, proto, ts=1700000000.25 + i, uid=f"C{i}")
            j.write(json.dumps(record) + "\n")
            t.write("\t".join(str(record[c]) for c in ID_COLUMNS.split(",")) + "\n")
    return ndjson, tsv


def _enrich_args(maxmind: Path, intel: Path, db: str = "City") -> dict:
    return dict(enrich=["intel", "asn", "geo", "community_id"], geoip_db=str(maxmind / f"GeoLite2-{db}-Test.mmdb"),
                asn_db=str(maxmind / "GeoLite2-ASN-Test.mmdb"), intel=str(intel))


def test_ndjson_and_tsv_give_the_same_enriched_csv(maxmind: Path, intel_file: Path, tmp_path: Path) -> None:
    ndjson, tsv = _capture(tmp_path)
    options = dict(columns=ID_COLUMNS.split(","), partition_size=997, **_enrich_args(maxmind, intel_file))
    from_json, rejects, totals = convert_in_process([ndjson], tmp_path / "a.csv", **options)
    from_tsv, _, _ = convert_in_process([tsv], tmp_path / "b.csv", **options)
    assert rejects == b"" and totals["rows"] == 200 and totals["partitions"] > 5
    assert from_json == from_tsv
    header, first, second, third, fourth = from_json.decode().splitlines()[:5]
    assert header == ID_COLUMNS + ",community_id,orig_country,resp_country,orig_city,resp_city,orig_lat,orig_lon," \
        "resp_lat,resp_lon,orig_asn,resp_asn,orig_as_org,resp_as_org,intel_indicators,intel_sources"
    assert first.endswith(",GB,GB,London,Boxford,51.5142,-0.0931,51.75,-1.25,,,,,81.2.69.160,feed-a")
    assert second.endswith(",,,,,,,,,,1221,,Telstra Pty Ltd,10.0.0.0/8,feed-b")  # no country in the test City db
    # ICMPv6 echo request (Zeek's icmp, an IPv6 pair) and ICMP destination unreachable (one-way).
    assert third.split(",")[7] == community_id("2001:480::1", "2001:480::2", 8, 0, 58)
    assert fourth.split(",")[7] == community_id("192.168.1.2", "81.2.69.160", 3, 1, 1)


def test_country_database_adds_countries_only_and_columns_feed_from_unwritten_fields(
        maxmind: Path, intel_file: Path, tmp_path: Path) -> None:
    ndjson, _ = _capture(tmp_path)
    csv, _, totals = convert_in_process([ndjson], tmp_path / "c.csv", columns=["uid"],
                                        **_enrich_args(maxmind, intel_file, "Country"))
    lines = csv.decode().splitlines()
    assert lines[0] == "uid,community_id,orig_country,resp_country,orig_asn,resp_asn,orig_as_org,resp_as_org," \
        "intel_indicators,intel_sources"
    assert lines[1].startswith("C0,1:") and ",GB,GB," in lines[1]
    assert totals["dropped_fields"]["id.orig_h"] == 200  # read for the enrichment, not written


def test_usage_errors_are_one_line_before_any_work(maxmind: Path, intel_file: Path, tmp_path: Path, capsys) -> None:
    ndjson, _ = _capture(tmp_path)
    output = tmp_path / "out.csv"
    output.write_text("kept")
    no_fields = tmp_path / "plain.txt"
    no_fields.write_text("81.2.69.160\tIntel::ADDR\tfeed\n")
    city, asn = str(maxmind / "GeoLite2-City-Test.mmdb"), str(maxmind / "GeoLite2-ASN-Test.mmdb")
    cases = [
        (["--enrich", "geo"], "--enrich geo needs --geoip-db"),
        (["--enrich", "geoip"], "unknown enrichment geoip"),
        (["--enrich", "geo", "--geoip-db", str(tmp_path / "none.mmdb")], "does not exist"),
        (["--enrich", "geo", "--geoip-db", str(maxmind / "GeoLite2-City-Test.source.json")], "not a MaxMind database"),
        (["--enrich", "geo", "--geoip-db", asn], "is an ASN database"),
        (["--enrich", "asn", "--asn-db", city], "is a City database"),
        (["--enrich", "intel", "--intel", str(no_fields)], "no #fields line"),
        (["--asn-db", asn], "--enrich does not name asn"),
        (["--community-id-seed", "3"], "apply with --enrich community_id"),
        (["--enrich", "community_id", "--columns", "uid,community_id"], "already has the column(s) community_id"),
    ]
    for extra, message in cases:
        with pytest.raises(SystemExit) as stopped:
            main(["convert", str(ndjson), "-o", str(output), "--no-progress", *extra])
        err = capsys.readouterr().err
        assert stopped.value.code == 2, (extra, err)
        assert len(err.strip().splitlines()) == 1 and message in err, (extra, err)
    assert output.read_text() == "kept"


def test_resume_refuses_other_enrichment_and_reuses_the_same(maxmind: Path, intel_file: Path, tmp_path: Path) -> None:
    ndjson, _ = _capture(tmp_path)
    base = dict(inputs=[str(ndjson)], output=str(tmp_path / "r.csv"), partition_size=2000, enrich=["community_id"])
    job = prepare(ConvertOptions(**base))
    Path(job.spec.work_dir).mkdir()
    manifest = job.manifest()
    manifest.start()
    manifest.record(convert_partition(job.partitions[0], job.spec))
    assert set(prepare(ConvertOptions(**base, resume=True)).manifest().resume()) == {0}
    for other in (dict(community_id_seed=1), dict(community_id_hex=True), dict(enrich=["geo"], geoip_db=str(
            maxmind / "GeoLite2-Country-Test.mmdb"))):
        with pytest.raises(UsageError, match="enrich"):
            prepare(ConvertOptions(**{**base, **other}, resume=True)).manifest().resume()


def test_parquet_columns_are_typed_and_hold_the_csv_values(maxmind: Path, intel_file: Path, tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    ndjson, tsv = _capture(tmp_path)
    csv, _, _ = convert_in_process([ndjson], tmp_path / "p.csv", columns=ID_COLUMNS.split(","),
                                   **_enrich_args(maxmind, intel_file))
    for source in (ndjson, tsv):
        job = prepare(ConvertOptions(inputs=[str(source)], output=str(tmp_path / f"{source.name}.parquet"),
                                     columns=ID_COLUMNS.split(","), **_enrich_args(maxmind, intel_file)))
        Path(job.spec.work_dir).mkdir(parents=True, exist_ok=True)
        info = convert_partition(job.partitions[0], job.spec)
        table = pq.read_table(Path(job.spec.work_dir, shard_name(info.index, "parquet")))
        assert table.num_rows == 200
        schema = table.schema
        assert schema.field("orig_lat").type == pa.float64() and schema.field("orig_asn").type == pa.uint64()
        assert schema.field("intel_sources").type == pa.list_(pa.string())
        first = table.slice(0, 1).to_pylist()[0]
        assert first["orig_city"] == "London" and first["resp_lon"] == -1.25 and first["intel_sources"] == ["feed-a"]
        assert first["community_id"] == csv.decode().splitlines()[1].split(",")[7]
        assert table.column("resp_asn").to_pylist()[1] == 1221 and table.column("orig_asn").to_pylist()[1] is None


@pytest.mark.cluster
def test_local_and_remote_clusters_write_the_in_process_output(maxmind: Path, intel_file: Path,
                                                               tmp_path: Path) -> None:
    """NDJSON to CSV on a LocalCluster and on a remote one (a real dask scheduler and worker), TSV to CSV and
    NDJSON to Parquet on the remote one: the in-process bytes, and the Parquet holds the same cells."""
    import pyarrow.parquet as pq

    ndjson, tsv = _capture(tmp_path)
    args = ["--enrich", "community_id,geo,asn,intel", "--geoip-db", str(maxmind / "GeoLite2-City-Test.mmdb"),
            "--asn-db", str(maxmind / "GeoLite2-ASN-Test.mmdb"), "--intel", str(intel_file),
            "--partition-size", "3KiB", "--no-progress"]
    expected, _, _ = convert_in_process([ndjson], tmp_path / "e.csv", partition_size=3 * 1024,
                                        **_enrich_args(maxmind, intel_file))
    narrow, _, _ = convert_in_process([ndjson], tmp_path / "n.csv", partition_size=3 * 1024,
                                      columns=ID_COLUMNS.split(","), **_enrich_args(maxmind, intel_file))
    code, _, err = cli("convert", str(ndjson), "-o", str(tmp_path / "local.csv"), "--workers", "2", *args)
    assert code == 0, err
    assert (tmp_path / "local.csv").read_bytes() == expected
    cluster = ScriptCluster(tmp_path)
    try:
        cluster.start_scheduler()
        cluster.start_worker("w0")
        runs = [cli("convert", str(source), "-o", str(tmp_path / out), "--scheduler", cluster.address, *args, *more)
                for source, out, more in ((ndjson, "remote.csv", []), (tsv, "remote-tsv.csv", ["--columns", ID_COLUMNS]),
                                          (ndjson, "remote.parquet", ["--single-file"]))]
    finally:
        cluster.close()
    for code, _, err in runs:
        assert code == 0, err
    assert (tmp_path / "remote.csv").read_bytes() == expected
    assert (tmp_path / "remote-tsv.csv").read_bytes() == narrow
    table = pq.read_table(tmp_path / "remote.parquet")
    rows = [line.split(",") for line in expected.decode().splitlines()[1:]]
    assert table.column("community_id").to_pylist() == [row[22] for row in rows]
    assert table.column("resp_city").to_pylist() == [row[26] or None for row in rows]


def test_plain_conversion_does_not_import_the_enrichment() -> None:
    import subprocess
    import sys

    code = ("import sys, workflows.cli, workflows.task, workflows.shards; "
            "print([m for m in sys.modules if m.startswith('workflows.enrich') or m == 'maxminddb'])")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True).stdout.strip() == "[]"


def test_explore_helpers_read_the_enriched_csv_and_parquet(maxmind: Path, intel_file: Path, tmp_path: Path) -> None:
    import dask

    from workflows import explore

    ndjson, _ = _capture(tmp_path)
    csv, _, _ = convert_in_process([ndjson], tmp_path / "x.csv", **_enrich_args(maxmind, intel_file))
    (tmp_path / "enriched.csv").write_bytes(csv)
    job = prepare(ConvertOptions(inputs=[str(ndjson)], output=str(tmp_path / "x.parquet"),
                                 **_enrich_args(maxmind, intel_file)))
    Path(job.spec.work_dir).mkdir(parents=True, exist_ok=True)
    convert_partition(job.partitions[0], job.spec)
    with dask.config.set(scheduler="sync"):
        for frame in (explore.read_output(str(tmp_path / "enriched.csv")),
                      explore.read_output(str(Path(job.spec.work_dir, shard_name(0, "parquet"))))):
            countries = explore.traffic_by_country(frame, "resp")
            assert dict(zip(countries["country"], countries["connections"])) == {"GB": 100, "US": 50, "(unknown)": 50}
            systems = explore.traffic_by_as(frame, "resp")
            assert systems.loc[systems["as_org"] == "Telstra Pty Ltd", ["asn", "connections"]].values.tolist() == [
                [1221, 50]]
            hits = explore.intel_hits(frame)
            assert hits.values.tolist() == [["81.2.69.160", "feed-a", 100], ["10.0.0.0/8", "feed-b", 50]]


def test_kernel_rows_with_enrichment_are_the_reference_bytes(small_capture: Path, maxmind: Path, intel_file: Path,
                                                             tmp_path: Path) -> None:
    """The kernel's rows with the enrichment cells appended (a block whose lines all became rows) and the
    reference with the enricher (every other block) give the same bytes, rejects and counts, at any block."""
    from workflows.enrich.blocks import EnrichedCsvBlocks
    from workflows.enrich.stage import Enricher

    data = small_capture.read_bytes()
    extra = (b'{"ts":1.0,"uid":"Cd","id.orig_h":"10.0.0.1","id.orig_h":"81.2.69.160","id.orig_p":1,'
             b'"id.resp_h":"2.125.160.216","id.resp_p":2,"proto":"tcp","history":"a\\nb"}\n'
             b'{"ts":2.0,"uid":"Ce","id.orig_h":"81.2.69.160","id.orig_p":1,"id.resp_h":"10.0.0.9","id.resp_p":2,'
             b'"proto":"icmp"}\n')
    data = extra + data[:200_000] + extra
    job = prepare(ConvertOptions(inputs=[str(small_capture)], output=str(tmp_path / "k.csv"),
                                 **_enrich_args(maxmind, intel_file)))
    columns = get_schema("conn").columns
    reference = BlockConverter(columns, "-", enricher=Enricher(job.enrich)).convert(data)
    assert reference.rejected > 0 and "1:" in reference.csv.decode()
    blocks = EnrichedCsvBlocks(columns, "-", Enricher(job.enrich))
    for size in (300, 4096, 65536):
        offset, parts = 0, []
        while offset < len(data):
            end = data.find(b"\n", offset + size)
            end = len(data) if end < 0 else end + 1
            parts.append(blocks.convert(data[offset:end], offset))
            offset = end
        assert b"".join(p.csv for p in parts) == reference.csv
        assert b"".join(p.rejects for p in parts) == reference.rejects
        assert sum(p.rows for p in parts) == reference.rows


def test_kernel_tables_with_enrichment_are_the_value_path_tables(small_capture: Path, maxmind: Path,
                                                                 intel_file: Path, tmp_path: Path) -> None:
    """Parquet: the kernel's tables with the enrichment arrays appended equal the value path's, cell for cell."""
    import pyarrow as pa

    from workflows.enrich.blocks import EnrichedParquetBlocks
    from workflows.enrich.stage import Enricher
    from workflows.parquet import ValueCollector

    data = small_capture.read_bytes()[:300_000]
    job = prepare(ConvertOptions(inputs=[str(small_capture)], output=str(tmp_path / "k.parquet"),
                                 **_enrich_args(maxmind, intel_file)))
    columns = get_schema("conn").columns
    values = ValueCollector(columns, "-", enricher=Enricher(job.enrich))
    expected = values.convert(data)
    reference = pa.concat_tables(values.take())
    for size in (500, 65536):
        blocks, offset, rows = EnrichedParquetBlocks(columns, "-", Enricher(job.enrich)), 0, 0
        while offset < len(data):
            end = data.find(b"\n", offset + size)
            end = len(data) if end < 0 else end + 1
            rows += blocks.convert(data[offset:end], offset).rows
            offset = end
        assert blocks.kernel == kernel_name() and rows == expected.rows  # the kernel's tables, where it was built
        assert pa.concat_tables(blocks.take()).equals(reference)
