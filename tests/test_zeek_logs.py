"""Every shipped Zeek log type, per Zeek version: the README's table, TSV and JSON twins written from each
schema, ``--zeek-version`` and the hint that names it after a run."""

from __future__ import annotations

import csv
import io
import json
import re

import orjson
import pytest

from workflows import ConvertOptions, UsageError, prepare
from workflows.schema import HISTORIES, SCHEMAS, VERSIONS, Column, Kind, get_schema

from .conftest import REPO, run_cli
from .inprocess import convert_in_process

# Two values of every scalar Zeek type a log column has, as Zeek's JSON writer gives them, with the text of
# Zeek's TSV writer and the CSV cell both must become. Strings hold commas and quotes (a quoted CSV cell).
SCALARS = {
    "time": ((1700000000.123456, "1700000000.123456", "1700000000.123456"),
             (1700000100.5, "1700000100.500000", "1700000100.5")),
    "interval": ((0.25, "0.250000", "0.25"), (12.0, "12.000000", "12.0")),
    "double": ((3.125, "3.125000", "3.125"), (-0.5, "-0.500000", "-0.5")),
    "count": ((7, "7", "7"), (18446744073709551615, "18446744073709551615", "18446744073709551615")),
    "int": ((-5, "-5", "-5"), (9223372036854775807, "9223372036854775807", "9223372036854775807")),
    "port": ((443, "443", "443"), (0, "0", "0")),
    "bool": ((True, "T", "true"), (False, "F", "false")),
    "addr": (("192.168.0.1", "192.168.0.1", "192.168.0.1"), ("2001:db8::1", "2001:db8::1", "2001:db8::1")),
    "subnet": (("10.0.0.0/8", "10.0.0.0/8", "10.0.0.0/8"), ("2001:db8::/32", "2001:db8::/32", "2001:db8::/32")),
    "enum": (("tcp", "tcp", "tcp"), ("Notice::ACTION_LOG", "Notice::ACTION_LOG", "Notice::ACTION_LOG")),
    "string": (('say "hi", then go', 'say "hi", then go', 'say "hi", then go'), ("C1x", "C1x", "C1x")),
}
# Container elements: no comma (TSV escapes one inside an element as \x2c, which tests/test_tsv.py checks).
ELEMENTS = {"string": (('say "hi"', 'say "hi"', 'say "hi"'), ("C1x", "C1x", "C1x"))}
README = (REPO / "README.md").read_text(encoding="utf-8")
TSV_HEADER = "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n"


def _value(column: Column, index: int, row: int):
    """(JSON value or None for unset, TSV text, CSV cell) of the ``index``-th column in one of the twins' rows.
    Row 0 sets every column; row 1 leaves every other column unset and gives containers no elements; row 2
    sets every column again, with two elements in containers."""
    element = column.zeek_type[column.zeek_type.index("[") + 1:-1] if column.kind is Kind.LIST else None
    if row == 1 and index % 2:
        return None, "-", ""
    if element is None:
        return SCALARS[column.zeek_type][row % 2]
    if row == 1:
        return [], "(empty)", ""
    items = ELEMENTS.get(element, SCALARS[element])[:1 if row == 0 else 2]
    return [v[0] for v in items], ",".join(v[1] for v in items), ",".join(v[2] for v in items)


def _twins(tmp_path, name: str, columns: tuple[Column, ...]):
    """A JSON and a TSV log of ``name`` with the same three rows, plus a blank line and, in JSON, a bad line;
    and the CSV both must convert to."""
    rows = [[_value(c, i, r) for i, c in enumerate(columns)] for r in range(3)]
    json_lines = [orjson.dumps({c.name: v[0] for c, v in zip(columns, row) if v[0] is not None}) for row in rows]
    json_log = tmp_path / f"{name}.ndjson"
    json_log.write_bytes(b"\n".join(json_lines[:2]) + b"\n\n" + b'{"%s": {"not": "a value"}}\n'
                         % columns[0].name.encode() + json_lines[2] + b"\n")
    tsv_log = tmp_path / f"{name}.log"
    tsv_log.write_text(TSV_HEADER + f"#path\t{name}\n#fields\t" + "\t".join(c.name for c in columns) + "\n#types\t"
                       + "\t".join(c.zeek_type for c in columns) + "\n"
                       + "".join("\t".join(v[1] for v in row) + "\n" + ("\n" if i == 1 else "")
                                 for i, row in enumerate(rows)), encoding="utf-8")
    expected = io.StringIO(newline="")
    writer = csv.writer(expected, lineterminator="\n")
    writer.writerow([c.name for c in columns])
    writer.writerows([v[2] for v in row] for row in rows)
    return json_log, tsv_log, expected.getvalue().encode()


# -- the README's table of log types ----------------------------------------------------------------------


def _readme_table() -> dict[str, list[str]]:
    section = README.split("\n## Log types", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if line.startswith("| `") and len(cells) == 4:
            rows[cells[0].strip("`")] = [cell.strip("`") for cell in cells[1:]]
    return rows


def test_the_readme_table_lists_every_shipped_log_type_with_its_columns_and_versions():
    table = _readme_table()
    assert sorted(table) == sorted(SCHEMAS)
    for name, (default, optional, versions) in table.items():
        schema, history = SCHEMAS[name], HISTORIES[name]
        assert default.split() == [c.name for c in schema.columns], name
        assert optional.split() == [c.name for c in schema.optional], name
        first, last = history.versions()[0], history.versions()[-1]
        assert versions.split(";")[0] == (first if first == last else f"{first} - {last}"), name
        for span in history.columns:  # every default column not in every version is named with its versions
            if span.since or span.until:
                assert f"`{span.column.name}`" in versions, (name, span.column.name)


def test_the_table_covers_the_logs_of_zeeks_base_and_policy_scripts():
    expected = """broker capture_loss cluster config conn dce_rpc dhcp dnp3 dns dpd files ftp http intel irc kerberos
        known_certs known_hosts known_modbus known_services loaded_scripts modbus mqtt_connect mqtt_publish
        mqtt_subscribe mysql netcontrol netcontrol_drop netcontrol_shunt notice notice_alarm ntlm ntp ocsp openflow
        packet_filter pe print quic radius rdp reporter signatures sip smb_cmd smb_files smb_mapping smtp snmp socks
        software ssh ssl stats syslog telemetry traceroute tunnel unified2 websocket weird weird_stats x509
        analyzer ldap ldap_search postgresql redis rfb""".split()
    assert set(expected) <= set(SCHEMAS)
    assert VERSIONS[0] == "3.0" and VERSIONS[-1] == "8.2" and len(VERSIONS) == 18


# -- columns per Zeek version: facts of Zeek's scripts at the release tags ---------------------------------


def _names(log: str, version: str | None = None) -> list[str]:
    return [c.name for c in get_schema(log).for_version(version).columns]


def test_each_version_has_its_own_columns_in_its_own_order():
    assert "ip_proto" not in _names("conn", "7.0") and _names("conn", "7.1")[-1] == "ip_proto"
    assert _names("conn") == [c.name for c in SCHEMAS["conn"].columns]
    old_ssl = _names("ssl", "4.0")
    assert old_ssl[-6:] == ["cert_chain_fuids", "client_cert_chain_fuids", "subject", "issuer", "client_subject",
                            "client_issuer"]
    assert "cert_chain_fps" not in old_ssl and "cert_chain_fps" in _names("ssl", "4.1")
    assert "subject" not in _names("ssl", "4.1") and "subject" in [c.name for c in SCHEMAS["ssl"].optional]
    assert _names("files", "5.0")[:5] == ["ts", "fuid", "tx_hosts", "rx_hosts", "conn_uids"]
    assert _names("files", "5.1")[:4] == ["ts", "fuid", "uid", "id.orig_h"] and "tx_hosts" not in _names("files")
    assert _names("x509", "4.0")[:3] == ["ts", "id", "certificate.version"] and _names("x509")[1] == "fingerprint"
    assert _names("dns", "8.0")[-1] == "rejected" and _names("dns", "8.1")[-2:] == ["opcode", "opcode_name"]
    assert "id.ctx.vlan" in {c.name for c in get_schema("conn").for_version("8.0").optional}
    assert get_schema("quic").for_version(None).version == "8.2"
    assert get_schema("unified2").version == "5.0"  # a log Zeek no longer writes: its last version's columns


@pytest.mark.parametrize("name", sorted(HISTORIES))
def test_every_version_of_every_log_is_a_well_formed_schema(name):
    history = HISTORIES[name]
    for version in history.versions():
        schema = history.for_version(version)
        names = [c.name for c in schema.columns + schema.optional]
        assert len(names) == len(set(names)) and schema.columns, (name, version)
        for column in schema.columns + schema.optional:
            column.kind  # a type the renderer knows
        known = history.for_version(version).known()
        # Every column any version writes stays selectable with --columns in every version.
        assert {s.column.name for s in history.columns + history.optional} <= set(known), (name, version)
    with pytest.raises(ValueError, match="writes no"):
        history.for_version("2.6")


# -- TSV and JSON twins of every shipped log type -----------------------------------------------------------


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_tsv_and_json_twins_of_every_log_type_convert_with_their_own_columns(tmp_path, name):
    columns = SCHEMAS[name].columns
    json_log, tsv_log, expected = _twins(tmp_path, name, columns)
    for log, rejected in ((json_log, 1), (tsv_log, 0)):
        csv_bytes, rejects, totals = convert_in_process([log], tmp_path / f"{log.name}.csv")
        assert totals["log_type"] == name and totals["columns"] == [c.name for c in columns]
        assert totals["rows"] == 3 and totals["rejected"] == rejected and totals["blank"] == 1
        assert totals["rows"] + totals["rejected"] + totals["blank"] == totals["lines"]
        assert totals["lines"] == len([line for line in log.read_bytes().splitlines() if not line.startswith(b"#")])
        assert csv_bytes == expected, log.name
        assert totals["dropped_fields"] == {}


@pytest.mark.parametrize("name,version", [("ssl", "4.0"), ("files", "5.0"), ("x509", "3.2"), ("conn", "7.0"),
                                          ("analyzer", "6.2"), ("weird", "3.2"), ("ssh", "8.0")])
def test_zeek_version_picks_that_versions_columns_for_a_json_log(tmp_path, name, version):
    columns = get_schema(name).for_version(version).columns
    json_log, _, expected = _twins(tmp_path, name, columns)
    csv_bytes, rejects, totals = convert_in_process([json_log], tmp_path / "o.csv", zeek_version=version)
    assert csv_bytes == expected and totals["dropped_fields"] == {}
    newest = convert_in_process([json_log], tmp_path / "n.csv")[2]
    assert newest["columns"] == [c.name for c in SCHEMAS[name].columns] != totals["columns"]
    # The explore reader knows every version's columns: the older version's CSV reads typed.
    from workflows.explore import read_output

    (tmp_path / "old.csv").write_bytes(csv_bytes)
    assert list(read_output(str(tmp_path / "old.csv"), name, with_datetime=False).compute().columns) == [
        c.name for c in columns]


def test_zeek_version_accepts_a_major_or_a_patch_release_and_shapes_the_resume_identity(tmp_path):
    log = tmp_path / "ssl.ndjson"
    log.write_bytes(b'{"ts":1.0,"uid":"C1","subject":"CN=a"}\n')

    def job(version):
        return prepare(ConvertOptions(inputs=[str(log)], output=str(tmp_path / "o.csv"), zeek_version=version))

    assert job("4").options.zeek_version == "4.2" and job("4.0.3").options.zeek_version == "4.0"
    old, new = job("4.0"), job(None)
    assert "subject" in [c.name for c in old.columns] and "subject" not in [c.name for c in new.columns]
    assert old.manifest().identity["shaping"]["zeek-version"] == "4.0"
    assert job("4.0").manifest().identity == job("4.0.1").manifest().identity
    # Same columns (conn did not change between 8.1 and 8.2), yet another version is another identity.
    conn = tmp_path / "conn.ndjson"
    conn.write_bytes(b'{"ts":1.0}\n')
    ids = [prepare(ConvertOptions(inputs=[str(conn)], output=str(tmp_path / "c.csv"), zeek_version=v))
           for v in ("8.1", "8.2")]
    assert ids[0].columns == ids[1].columns and ids[0].manifest().identity != ids[1].manifest().identity
    from workflows.manifest import identity_changes

    assert identity_changes(ids[0].manifest().identity, ids[1].manifest().identity) == [
        "option --zeek-version changed (was 8.1, now 8.2)"]


@pytest.mark.parametrize("version,words", [("4.3", "unknown --zeek-version '4.3'"), ("2.6", "unknown"),
                                           ("nine", "unknown"), ("3.0", "Zeek 3.0 writes no quic log")])
def test_an_unknown_version_or_one_without_the_log_is_refused_with_exit_2(tmp_path, version, words):
    log = tmp_path / "quic.ndjson"
    log.write_bytes(b'{"ts":1.0,"uid":"C1"}\n')
    out = tmp_path / "o.csv"
    out.write_text("kept")
    proc = run_cli("convert", str(log), "-o", str(out), "--zeek-version", version, "--workers", "1",
                   "--no-progress")
    assert proc.returncode == 2, proc.stderr
    message = proc.stderr.strip()
    assert words in message and "\n" not in message and "Traceback" not in message
    assert out.read_text() == "kept" and not (tmp_path / "o.csv.parts").exists()
    with pytest.raises(UsageError, match=re.escape(words)):
        convert_in_process([log], tmp_path / "p.csv", zeek_version=version)


def test_keys_of_other_versions_are_named_after_the_run_with_the_option_that_keeps_them(tmp_path):
    """An old Zeek's ssl and x509 keys converted with the newest schema: dropped, counted, and named with the
    option that keeps them; a key no version writes is only counted."""
    log = tmp_path / "ssl.ndjson"
    log.write_bytes(b'{"ts":1.0,"uid":"C1","subject":"CN=a","issuer":"CN=b","cert_chain_fuids":["F1"],'
                    b'"nonsense":1}\n{"ts":2.0,"uid":"C2","subject":"CN=c"}\n')
    out, summary = tmp_path / "o.csv", tmp_path / "s.json"
    proc = run_cli("convert", str(log), "-o", str(out), "--workers", "1", "--no-progress",
                   "--summary-json", str(summary))
    assert proc.returncode == 0, proc.stderr
    hint = ("cert_chain_fuids, issuer, subject: ssl columns of Zeek 3.0 - 4.0; keep them with --zeek-version 4.0 "
            "or --columns")
    assert f"Other Zeek:    {hint}" in proc.stdout
    report = json.loads(summary.read_text())
    assert report["other_versions"] == [hint] and report["zeek_version"] == "8.2"
    assert report["dropped_fields"] == {"cert_chain_fuids": 1, "issuer": 1, "nonsense": 1, "subject": 2}
    # The option the hint names keeps them.
    kept = run_cli("convert", str(log), "-o", str(out), "--workers", "1", "--no-progress", "--zeek-version", "4.0",
                   "--summary-json", str(summary))
    assert kept.returncode == 0, kept.stderr
    assert "Other Zeek" not in kept.stdout
    report = json.loads(summary.read_text())
    assert report["dropped_fields"] == {"nonsense": 1} and report["other_versions"] == []
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert [(r["subject"], r["issuer"], r["cert_chain_fuids"]) for r in rows] == [("CN=a", "CN=b", "F1"),
                                                                                 ("CN=c", "", "")]


def test_a_twin_converts_end_to_end_on_a_real_cluster(tmp_path):
    """One real CLI run per format, on a Dask cluster: the same bytes as in process."""
    columns = SCHEMAS["smb_files"].columns
    json_log, tsv_log, expected = _twins(tmp_path, "smb_files", columns)
    for log in (json_log, tsv_log):
        out = tmp_path / f"{log.name}.csv"
        proc = run_cli("convert", str(log), "-o", str(out), "--workers", "1", "--no-progress")
        assert proc.returncode == 0, proc.stderr
        assert out.read_bytes() == expected


def _cell(value) -> str:
    return "" if value is None else str(value).lower() if isinstance(value, bool) else str(value)


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_every_log_type_is_typed_in_parquet_and_by_the_explore_reader(tmp_path, name):
    """Parquet's column types and the explore reader's dtypes come from the same schemas as the CSV."""
    import os
    from pathlib import Path

    import pyarrow.parquet as pq

    from workflows.explore import read_output
    from workflows.parquet import arrow_schema
    from workflows.task import convert_partition, shard_name

    columns = SCHEMAS[name].columns
    json_log, _, expected = _twins(tmp_path, name, columns)
    job = prepare(ConvertOptions(inputs=[str(json_log)], output=str(tmp_path / "o.parquet"), single_file=True))
    os.makedirs(job.spec.work_dir, exist_ok=True)
    (info,) = [convert_partition(partition, job.spec) for partition in job.partitions]
    assert (info.rows, info.rejected, info.blank) == (3, 1, 1)
    shard = Path(job.spec.work_dir, shard_name(info.index, "parquet"))
    table = pq.read_table(shard)
    assert table.schema.remove_metadata().equals(arrow_schema(columns).remove_metadata())
    cells = list(csv.reader(io.StringIO(expected.decode())))[1:]
    for i, column in enumerate(columns):
        if column.kind in (Kind.INTEGER, Kind.STRING, Kind.BOOL):
            assert [_cell(v) for v in table.column(column.name).to_pylist()] == [row[i] for row in cells], column
    csv_out = tmp_path / "o.csv"
    csv_out.write_bytes(expected)
    for path in (str(csv_out), str(shard)):
        frame = read_output(path, name, with_datetime=False).compute()
        assert list(frame.columns) == [c.name for c in columns] and len(frame) == 3
        for column in columns:
            if column.kind in (Kind.INTEGER, Kind.NUMBER, Kind.TIME):
                assert str(frame[column.name].dtype) != "object", (path, column)


# -- a TSV header that differs from the shipped schema is reported --------------------------------------------


def test_a_tsv_header_of_another_zeek_version_is_the_schema_and_the_run_says_how_it_differs(tmp_path):
    old = SCHEMAS["ssl"].for_version("4.0")
    _, tsv_log, expected = _twins(tmp_path, "ssl", old.columns)
    job = prepare(ConvertOptions(inputs=[str(tsv_log)], output=str(tmp_path / "o.csv")))
    assert [c.name for c in job.columns] == [c.name for c in old.columns]
    report = job.header_report
    assert report[0].startswith("the ssl headers are the columns of Zeek ") and report[0].endswith(" 4.0")
    newest = [c.name for c in SCHEMAS["ssl"].columns]
    kept = [c.name for c in old.columns if c.name not in newest]
    assert "subject" in kept and report[1].endswith(", ".join(kept))
    assert report[1].startswith("kept from the headers, not Zeek 8.2's default ssl columns")
    assert all("typed by the headers" not in line for line in report)

    out = tmp_path / "out.csv"
    proc = run_cli("convert", str(tsv_log), "-o", str(out), "--workers", "1", "--no-progress",
                   "--summary-json", str(tmp_path / "s.json"))
    assert proc.returncode == 0, proc.stderr
    assert out.read_bytes() == expected
    summary = json.loads((tmp_path / "s.json").read_text())
    assert summary["tsv_headers"] == list(report)
    assert f"TSV headers:   {report[0]}" in proc.stdout + proc.stderr


def test_a_tsv_header_that_is_the_shipped_schema_reports_nothing_and_a_retyped_column_is_named(tmp_path):
    _, same, _ = _twins(tmp_path, "dns", SCHEMAS["dns"].columns)
    assert prepare(ConvertOptions(inputs=[str(same)], output=str(tmp_path / "o.csv"))).header_report == ()
    retyped = tuple(Column(c.name, "int") if c.name == "trans_id" else c for c in SCHEMAS["dns"].columns)
    other = tmp_path / "other"
    other.mkdir()
    _, tsv_log, _ = _twins(other, "dns", retyped)
    report = prepare(ConvertOptions(inputs=[str(tsv_log)], output=str(other / "o.csv"))).header_report
    assert report[-1] == "typed by the headers where Zeek 8.2 differs: trans_id int (not count)"
    assert len(report) == 2 and report[0].startswith("the dns headers are the columns of Zeek ")
