"""Zeek TSV input: header directives read from the file, markers, escapes, header blocks, byte ranges."""

from __future__ import annotations

import csv
import io
import json

import pytest

from workflows.render import BlockConverter
from workflows.schema import CONN, DNS, Column
from workflows.tsv import TsvBlockConverter, apply_header_line, decode_text, header_before, parse_header

from .inprocess import convert_in_process

HEADER = (
    b"#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tdns\n"
    b"#open\t2024-04-12-19-29-12\n"
    b"#fields\tts\tuid\tquery\tAA\tanswers\tTTLs\trtt\n"
    b"#types\ttime\tstring\tstring\tbool\tvector[string]\tvector[interval]\tinterval\n"
)
COLUMNS = [Column("ts", "time"), Column("uid", "string"), Column("query", "string"), Column("AA", "bool"),
           Column("answers", "vector[string]"), Column("TTLs", "vector[interval]"), Column("rtt", "interval")]


def convert(data: bytes, columns=COLUMNS, **kwargs):
    return TsvBlockConverter(BlockConverter(columns, "in.log"), **kwargs).convert(data, 0)


def rows(result) -> list[list[str]]:
    return list(csv.reader(io.StringIO(result.csv.decode())))


def test_markers_escapes_and_types():
    data = HEADER + (
        b"1.5\tC1\texample.com\tT\ta.example,1.2.3.4\t30.000000,60.000000\t0.000870\n"
        b"2.000001\tC2\t(empty)\tF\t(empty)\t(empty)\t-\n"
        b"3.0\tC3\t\\x01\\x02__MSBROWSE__\\x02\t-\tx\\x2cy,-\t1.0,-\t-\n"
        b"4.0\tC4\tsebastian\\xe2\\x80\\x99s \\\\x07 \\xff\tT\t-\t-\t-\n"
    )
    result = convert(data)
    assert result.rejected == 0 and result.rows == 4 and result.lines == 4
    assert rows(result) == [
        ["1.5", "C1", "example.com", "true", "a.example,1.2.3.4", "30.0,60.0", "0.00087"],
        ["2.000001", "C2", "", "false", "", "", ""],
        # control bytes as Zeek's JSON writer shows them; an escaped set separator stays inside its element
        ["3.0", "C3", "\\x01\\x02__MSBROWSE__\\x02", "", "x,y,", "1.0,", ""],
        # escaped UTF-8 decodes to text; an escaped backslash stays a backslash; a lone byte stays \xff
        ["4.0", "C4", "sebastian\u2019s \\x07 \\xff", "true", "", "", ""],
    ]


def test_header_values_are_read_from_the_file_not_assumed():
    data = (b"#separator |\n#set_separator|;\n#empty_field|EMPTY\n#unset_field|NONE\n"
            b"#fields|ts|uid|query|AA|answers|TTLs|rtt\n"
            b"#types|time|string|string|bool|vector[string]|vector[interval]|interval\n"
            b"1.0|C1|-|T|a;b|EMPTY|NONE\n2.0|C2|EMPTY|NONE|(empty)|1.0|0.5\n")
    result = convert(data)
    assert result.rejected == 0
    # "-" and "(empty)" are ordinary text here: only this file's own markers mean unset and empty
    assert rows(result) == [["1.0", "C1", "-", "true", "a,b", "", ""],
                            ["2.0", "C2", "", "", "(empty)", "1.0", "0.5"]]


def test_several_header_blocks_missing_close_and_extra_columns():
    second = (b"#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tdns\n"
              b"#fields\t_node_name\tts\tuid\tquery\tlabel\n#types\tstring\ttime\tstring\tstring\tstring\n")
    data = HEADER + b"1.0\tC1\tq1\tT\t-\t-\t-\n#close\t2024-04-12-20-00-00\n" + second + \
        b"worker-1\t2.0\tC2\tq2\tBenign\n"
    result = convert(data)
    assert result.rejected == 0 and result.rows == 2 and result.lines == 2
    assert rows(result) == [["1.0", "C1", "q1", "true", "", "", ""], ["2.0", "C2", "q2", "", "", "", ""]]
    assert result.dropped_fields == {"_node_name": 1, "label": 1}
    asked = [Column("_node_name", "string"), Column("label", "string"), Column("uid", "string")]
    assert rows(convert(data, asked)) == [["", "", "C1"], ["worker-1", "Benign", "C2"]]


def test_bad_lines_are_rejected_with_their_offsets():
    good = b"1.0\tC1\tq\tT\t-\t-\t-\n"
    short = b"2.0\tC2\tq\n"
    bad_bool = b"3.0\tC3\tq\tmaybe\t-\t-\t-\n"
    bad_time = b"XXXXXXXXXX.XXXXXX\tC4\tq\tT\t-\t-\t-\n"
    data = HEADER + good + short + bad_bool + b"\n" + bad_time
    result = convert(data)
    assert (result.rows, result.rejected, result.blank, result.lines) == (1, 3, 1, 5)
    records = [json.loads(line) for line in result.rejects.splitlines()]
    offsets = [len(HEADER + good), len(HEADER + good + short), len(HEADER + good + short + bad_bool + b"\n")]
    assert [r["offset"] for r in records] == offsets
    assert "expected 7 fields" in records[0]["reason"]
    assert records[1]["reason"].startswith("AA: expected bool")
    assert records[2]["reason"].startswith("ts: expected time") and records[2]["line"] == bad_time.decode()[:-1]


def test_data_before_any_header_is_rejected_not_guessed():
    result = convert(b"1.0\tC1\tq\tT\t-\t-\t-\n")
    assert result.rows == 0 and result.rejected == 1
    assert "no #separator header" in json.loads(result.rejects)["reason"]


def test_parse_header_folds_directives_and_ignores_comments():
    header = parse_header(b"### BTest baseline data\n" + HEADER + b"1.0\tC1\n")
    assert header.separator == b"\t" and header.unset_field == b"-" and header.empty_field == b"(empty)"
    assert header.path == "dns" and header.fields[0] == "ts" and header.types[-1] == "interval"
    assert parse_header(b'{"ts":1.0}\n') is None
    # With no #separator before it, a tab-separated directive starts a header (Zeek's default separator).
    assert apply_header_line(None, b"#fields\tts").fields == ("ts",)
    assert apply_header_line(None, b"#fields ts") is None and apply_header_line(None, b"# a comment") is None
    assert decode_text(b"a\\x09b\\\\c") == "a\tb\\c"


@pytest.mark.parametrize("partition_size", [1, 7, 100, 1000])
def test_byte_ranges_give_the_same_output_as_one_range(tmp_path, partition_size):
    lines = [b"%d.5\tC%d\tq%d\tT\ta,b\t1.0,2.0\t0.1\n" % (i, i, i) for i in range(24)]
    data = HEADER + b"".join(lines[:12]) + b"#close\tx\n" + HEADER + b"".join(lines[12:]) + b"bad\n"
    path = tmp_path / "dns.log"
    path.write_bytes(data)
    whole_csv, whole_rejects, whole = convert_in_process([path], tmp_path / "whole.csv", partition_size="64MiB")
    csv_bytes, rejects, totals = convert_in_process([path], tmp_path / "cut.csv", partition_size=partition_size)
    assert whole["partitions"] == 1 and totals["partitions"] > 1
    assert csv_bytes == whole_csv and rejects == whole_rejects
    assert (totals["rows"], totals["rejected"]) == (24, 1) == (whole["rows"], whole["rejected"])


def test_header_before_finds_the_block_in_force(tmp_path):
    other = HEADER.replace(b"#path\tdns", b"#path\tother")
    data = HEADER + b"1.0\tC1\tq\tT\t-\t-\t-\n" + other + b"2.0\tC2\tq\tT\t-\t-\t-\n"
    path = tmp_path / "two.log"
    path.write_bytes(data)
    second_row = data.index(b"2.0\tC2")
    assert header_before(str(path), 0) is None
    assert header_before(str(path), len(HEADER)).path == "dns"
    assert header_before(str(path), second_row).path == "other"
    assert header_before(str(path), len(HEADER) + 1).path == "dns"  # answered from the cached scan


def test_real_conn_columns_render_like_json(tmp_path):
    header = (b"#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tconn\n"
              b"#fields\t" + b"\t".join(c.name.encode() for c in CONN.columns) + b"\n"
              b"#types\t" + b"\t".join(c.zeek_type.encode() for c in CONN.columns) + b"\n")
    line = (b"1596790164.509987\tCr01B21ezPdgDs60pb\t10.8.0.61\t35740\t8.8.8.8\t53\tudp\tdns\t0.017912\t48\t64\tSF"
            b"\t-\tT\t0\tDd\t1\t76\t1\t92\tCk51,CtPZ\t17\n")
    record = {"ts": 1596790164.509987, "uid": "Cr01B21ezPdgDs60pb", "id.orig_h": "10.8.0.61", "id.orig_p": 35740,
              "id.resp_h": "8.8.8.8", "id.resp_p": 53, "proto": "udp", "service": "dns", "duration": 0.017912,
              "orig_bytes": 48, "resp_bytes": 64, "conn_state": "SF", "local_resp": True, "missed_bytes": 0,
              "history": "Dd", "orig_pkts": 1, "orig_ip_bytes": 76, "resp_pkts": 1, "resp_ip_bytes": 92,
              "tunnel_parents": ["Ck51", "CtPZ"], "ip_proto": 17}
    from_json = BlockConverter(CONN.columns, "j").convert(json.dumps(record).encode() + b"\n")
    assert convert(header + line, CONN.columns).csv == from_json.csv


def test_dns_schema_reads_an_old_bro_header_without_rtt():
    header = HEADER.replace(b"\trtt\n", b"\n").replace(b"\tinterval\n", b"\n")
    result = convert(header + b"1.0\tC1\tq\tT\t-\t-\n", DNS.columns)
    assert result.rejected == 0
    assert rows(result)[0][DNS.select(None).index(DNS.known()["rtt"])] == ""


@pytest.mark.parametrize("partition_size", [5, 64, 10**6])
def test_zeek_cut_output_takes_its_types_from_the_schema(tmp_path, partition_size):
    path = tmp_path / "dns.log.cut"
    path.write_bytes(b"ts\tquery\tanswers\tAA\n" + b"".join(
        b"%d.5\tq%d.example\ta,b\tT\n" % (i, i) for i in range(20)) + b"1.0\t-\t(empty)\tF\n")
    csv_bytes, rejects, totals = convert_in_process([path], tmp_path / "o.csv", partition_size=partition_size,
                                                    columns=["ts", "query", "answers", "AA"])
    assert totals["log_type"] == "dns" and rejects == b"" and (totals["rows"], totals["lines"]) == (21, 21)
    lines = csv_bytes.decode().splitlines()
    assert lines[:2] == ["ts,query,answers,AA", '0.5,q0.example,"a,b",true'] and lines[-1] == "1.0,,,false"


def test_a_first_line_of_unknown_names_is_not_taken_for_zeek_cut(tmp_path):
    path = tmp_path / "conn.txt"
    path.write_bytes(b"hello\tworld\n{\"uid\":\"C1\"}\n")
    _, rejects, totals = convert_in_process([path], tmp_path / "o.csv")
    assert (totals["rows"], totals["rejected"]) == (1, 1) and b"invalid JSON" in rejects


@pytest.mark.parametrize("before", [b"\t\n", b"\n\n", b"\t#separator \\x09\n"])
def test_a_header_is_recognised_anywhere_in_the_head(tmp_path, before):
    """A blank or stray first line, even a damaged #separator line, does not make a TSV log read as NDJSON:
    #fields and #types follow, and every line is accounted for (rows + rejected + blank = lines)."""
    log = tmp_path / "dns.log"
    log.write_bytes(before + b"#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tdns\n"
                    b"#fields\tts\tuid\tquery\n#types\ttime\tstring\tstring\n1.0\tC1\texample.org\n"
                    b"2.0\tC2\t-\n")
    csv_bytes, rejects, totals = convert_in_process([log], tmp_path / "o.csv", columns=["ts", "uid", "query"])
    assert totals["log_type"] == "dns"
    assert csv_bytes == b"ts,uid,query\n1.0,C1,example.org\n2.0,C2,\n"
    assert totals["rows"] == 2
    assert totals["rows"] + totals["rejected"] + totals["blank"] == totals["lines"]
    assert totals["rejected"] == (1 if before.strip() else 0)
