"""Log type schemas as data, --log-type, and detection from #path, _path or the file name."""

from __future__ import annotations

import gzip
import re

import pytest

from workflows import UsageError
from workflows.schema import SCHEMAS, Kind, get_schema, log_type_from_name

from .conftest import REPO
from .inprocess import convert_in_process

README = (REPO / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_every_schema_is_well_formed_and_documented(name):
    schema = get_schema(name)
    names = [c.name for c in schema.columns + schema.optional]
    assert len(names) == len(set(names)), "a column is both default and optional, or listed twice"
    if name == "loaded_scripts":  # Zeek writes this one log without a time: one column, the script's name
        assert [(c.name, c.zeek_type) for c in schema.columns] == [("name", "string")]
    else:
        assert schema.columns[0].name == "ts" and schema.columns[0].kind is Kind.TIME
    for column in schema.columns + schema.optional:
        column.kind  # raises for a Zeek type the renderer does not know
    assert schema.source
    row = next(line for line in README.splitlines() if line.startswith(f"| `{name}` |"))
    assert " ".join(c.name for c in schema.columns) in row and " ".join(c.name for c in schema.optional) in row


def test_conn_id_context_columns_are_optional_for_every_log_with_a_conn_id():
    for schema in SCHEMAS.values():
        known = schema.known()
        if "id.orig_h" in known:
            assert known["id.ctx.vlan"].zeek_type == "int" and "id.ctx.vlan" not in [c.name for c in schema.columns]


@pytest.mark.parametrize("path,expected", [
    ("conn.log", "conn"), ("/logs/2024-04-19/conn.00:00:00-01:00:00.log.gz", "conn"),
    ("sdft_007_honeypot_http.ndjson", "http"), ("dns.log.labeled", "dns"), ("x509.log", "x509"),
    ("capture.ndjson", None), ("connections.log", None),
])
def test_log_type_from_a_file_name(path, expected):
    assert log_type_from_name(path) == expected


def _tsv(path, kind):
    path.write_bytes(b"#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\t"
                     + kind.encode() + b"\n#fields\tts\tuid\n#types\ttime\tstring\n1.0\tC1\n")
    return path


def test_detection_from_path_header_json_path_and_name(tmp_path):
    # The header wins over the name; _path wins over the name; the name is the last resort; conn by default.
    _, _, by_header = convert_in_process([_tsv(tmp_path / "conn.log", "weird")], tmp_path / "a.csv")
    # A TSV input's columns are its own #fields, not the shipped schema's (it has only ts and uid).
    assert by_header["log_type"] == "weird" and by_header["columns"] == ["ts", "uid"]
    json_log = tmp_path / "misc.ndjson.gz"
    json_log.write_bytes(gzip.compress(b'{"_path":"x509","ts":1.0,"fingerprint":"ab"}\n'))
    csv_bytes, _, by_path = convert_in_process([json_log], tmp_path / "b.csv")
    assert by_path["log_type"] == "x509" and csv_bytes.splitlines()[1].startswith(b"1.0,ab,")
    named = tmp_path / "files.ndjson"
    named.write_bytes(b'{"ts":1.0,"fuid":"F1"}\n')
    assert convert_in_process([named], tmp_path / "c.csv")[2]["log_type"] == "files"
    anonymous = tmp_path / "capture.ndjson"
    anonymous.write_bytes(b'{"ts":1.0,"uid":"C1"}\n')
    assert convert_in_process([anonymous], tmp_path / "d.csv")[2]["log_type"] == "conn"
    forced = convert_in_process([named], tmp_path / "e.csv", log_type="weird")[2]
    assert forced["log_type"] == "weird"


def test_inputs_of_different_types_are_refused(tmp_path):
    dns, http = _tsv(tmp_path / "a.log", "dns"), _tsv(tmp_path / "b.log", "http")
    with pytest.raises(UsageError, match=r"different log types: dns \(.*a.log\); http \(.*b.log\)"):
        convert_in_process([dns, http], tmp_path / "o.csv")
    csv_bytes, _, totals = convert_in_process([dns, http], tmp_path / "o.csv", log_type="dns",
                                              columns=["uid", "ts"])
    assert csv_bytes == b"uid,ts\nC1,1.0\nC1,1.0\n"


def test_columns_may_name_optional_columns_and_tsv_only_columns(tmp_path):
    log = tmp_path / "dns.log"
    log.write_bytes(b"#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tdns\n"
                    b"#fields\tts\tauth\tlabel\n#types\ttime\tset[string]\tstring\n1.0\ta,b\tMalicious\n")
    csv_bytes, _, totals = convert_in_process([log], tmp_path / "o.csv", columns=["label", "auth", "_node_name"])
    assert csv_bytes == b'label,auth,_node_name\nMalicious,"a,b",\n'
    assert totals["dropped_fields"] == {"ts": 1}
    with pytest.raises(UsageError, match=re.escape("unknown column(s) for dns log: nope")):
        convert_in_process([log], tmp_path / "o.csv", columns=["nope"])


def test_cli_options_reach_the_output(tmp_path):
    import json

    from .conftest import run_cli

    for day in ("conn.2.log.gz", "conn.10.log.gz"):
        number = day.split(".")[1].encode()
        (tmp_path / day).write_bytes(gzip.compress(
            b'{"_path":"weird","ts":"2020-06-05T14:39:59.30598%sZ","name":"=cmd|calc","uid":"C%s"}\n'
            % (number[:1], number)))
    out = tmp_path / "out.csv"
    proc = run_cli("convert", str(tmp_path / "conn.*.log.gz"), "-o", str(out), "--workers", "1", "--no-progress",
                   "--log-type", "weird", "--columns", "ts,uid,name", "--ts-format", "millis", "--csv-safe",
                   "--summary-json", str(tmp_path / "s.json"))
    assert proc.returncode == 0, proc.stderr
    assert out.read_text() == "ts,uid,name\n1591367999305,C2,'=cmd|calc\n1591367999305,C10,'=cmd|calc\n"
    summary = json.loads((tmp_path / "s.json").read_text())
    assert summary["log_type"] == "weird" and summary["partitions"] == 2 and summary["tsv_inputs"] == []
    assert summary["dropped_fields"] == {"_path": 2}
    refused = run_cli("convert", str(tmp_path / "conn.2.log.gz"), "-o", str(tmp_path / "o.parquet"), "--csv-safe")
    assert refused.returncode == 2 and "do not apply" in refused.stderr


def test_a_json_log_of_a_type_no_schema_covers_is_refused_before_any_work(tmp_path):
    from .conftest import run_cli

    # A log the cluster management framework writes (its columns are built at run time), and a log of Zeek's
    # development branch whose name holds a shipped type's (ntp): neither is read as another type.
    by_path = tmp_path / "capture.ndjson"
    by_path.write_bytes(b'{"_path":"management","ts":1.0,"node":"controller","level":"INFO"}\n')
    by_name = tmp_path / "ntp_control.00:00:00-01:00:00.log"
    by_name.write_bytes(b'{"ts":1.0,"uid":"C1","op_code":2}\n')
    for log, kind in ((by_path, "management"), (by_name, "ntp_control")):
        out = tmp_path / "o.csv"
        proc = run_cli("convert", str(log), "-o", str(out), "--workers", "1", "--no-progress")
        assert proc.returncode == 2, proc.stderr
        message = proc.stderr.strip()
        assert "\n" not in message and "Traceback" not in message
        assert f"JSON {kind} log" in message and "--log-type" in message
        assert not out.exists() and not (tmp_path / "o.csv.parts").exists()
    # Forcing a known type is the user's explicit choice, and converts.
    assert convert_in_process([by_name], tmp_path / "f.csv", log_type="conn")[2]["rows"] == 1


def test_a_tsv_log_of_a_type_no_schema_covers_is_read_by_its_own_header(tmp_path):
    header = b"#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tdhcp\n"
    first = tmp_path / "dhcp.1.log"
    first.write_bytes(header + b"#fields\tts\tuids\tmac\n#types\ttime\tset[string]\tstring\n"
                      b"1.0\tC1,C2\t00:11\n2.0\t-\t(empty)\n")
    # A later archive (another Zeek version) with one more column and one column fewer.
    second = tmp_path / "dhcp.2.log"
    second.write_bytes(header + b"#fields\tts\tuids\tlease_time\n#types\ttime\tset[string]\tinterval\n"
                       b"3.0\tC3\t60.0\n")
    csv_bytes, rejects, totals = convert_in_process([first, second], tmp_path / "o.csv")
    assert totals["log_type"] == "dhcp" and rejects == b""
    assert csv_bytes == b'ts,uids,mac,lease_time\n1.0,"C1,C2",00:11,\n2.0,,,\n3.0,C3,,60.0\n'
    assert totals["rows"] + totals["rejected"] + totals["blank"] == totals["lines"] == 3
    assert totals["dropped_fields"] == {}


def _test_log(tmp_path):
    """A JSON log of the logschema samples' test log (every Zeek type), which no shipped schema covers."""
    log = tmp_path / "capture.ndjson"
    log.write_bytes(b'{"_path":"test","a":"1.2.3.4","b":true,"c":21,"e":"tcp","r.orig_p":123,"st":[4,2],'
                    b'"v":[10,20],"t":1.5,"so":"x","extra":1}\n{"_path":"test","c":-1}\n')
    return log


@pytest.mark.parametrize("export", ["zeek-logschema.json", "zeek-logschema.csv", "zeek-test-log.schema.json"])
def test_schema_gives_the_columns_and_types_of_a_logschema_export(samples, tmp_path, export):
    log = _test_log(tmp_path)
    with pytest.raises(UsageError, match="JSON test log.*--schema FILE"):
        convert_in_process([log], tmp_path / "o.csv")
    schema = str(samples / "logschema" / export)
    csv_bytes, rejects, totals = convert_in_process([log], tmp_path / "o.csv", schema=schema)
    assert totals["log_type"] == "test"
    assert totals["columns"] == ["a", "b", "c", "d", "e", "i", "ival", "p", "r.orig_h", "r.orig_p", "r.resp_h",
                                 "r.resp_p", "st", "s", "sub", "t", "v", "sd", "so", "aa_plaincomment"]
    assert csv_bytes.splitlines()[1] == b'1.2.3.4,true,21,,tcp,,,,,123,,,"4,2",,,1.5,"10,20",,x,'
    assert b'"c: ' in rejects and totals["rejected"] == 1  # a count is never negative: typed from the export
    assert totals["dropped_fields"] == {"_path": 1, "extra": 1}


def test_schema_errors_are_one_line_and_change_the_resume_identity(samples, tmp_path):
    from .conftest import run_cli

    bad = tmp_path / "bad.json"
    for text, reason in (('{"not": "an export"}', "not a Zeek logschema export"),
                         ('{"title": "Schema for Zeek test.log", "properties": {"a": {"type": "string"}}}',
                          "property a has no x-zeek type"),
                         ('{"title": "a log", "properties": {}}', "names its log in its title")):
        bad.write_text(text)
        proc = run_cli("convert", str(_test_log(tmp_path)), "-o", str(tmp_path / "o.csv"), "--schema", str(bad))
        assert proc.returncode == 2 and reason in proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1
    from workflows import ConvertOptions, prepare

    conn = tmp_path / "conn.ndjson"
    conn.write_bytes(b'{"ts":1.0,"uid":"C1"}\n')
    export = tmp_path / "conn-schema.csv"
    export.write_text("log,field,type\nconn,ts,time\nconn,uid,string\n")
    shipped = prepare(ConvertOptions(inputs=[str(conn)], output=str(tmp_path / "a.csv")))
    given = prepare(ConvertOptions(inputs=[str(conn)], output=str(tmp_path / "a.csv"), schema=str(export)))
    assert [c.name for c in given.columns] == ["ts", "uid"] and given.columns != shipped.columns
    assert given.manifest().identity != shipped.manifest().identity


def test_a_log_read_by_its_own_header_is_typed_in_parquet(tmp_path):
    import pyarrow.parquet as pq

    from .conftest import run_cli

    log = tmp_path / "dhcp.log"
    log.write_bytes(b"#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tdhcp\n"
                    b"#fields\tts\tuids\tlease_time\ttrans_id\n#types\ttime\tset[string]\tinterval\tcount\n"
                    b"1.5\tC1,C2\t60.0\t7\n")
    out = tmp_path / "dhcp.parquet"
    proc = run_cli("convert", str(log), "-o", str(out), "--single-file", "--workers", "1", "--no-progress")
    assert proc.returncode == 0, proc.stderr
    table = pq.read_table(out)
    assert table.column_names == ["ts", "uids", "lease_time", "trans_id"]
    assert str(table.schema.field("trans_id").type) == "uint64"
    assert str(table.schema.field("lease_time").type) == "double"
    assert table.column("uids").to_pylist() == [["C1", "C2"]]
