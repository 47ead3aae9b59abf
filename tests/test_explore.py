"""The exploration helpers on a 13-connection CSV whose answers can be checked by hand.

The capture: host A (10.0.0.1) makes two TLS connections; host B (10.0.0.2) one DNS, one HTTP and one ICMP
flow with no conn_state; host S (10.9.9.9) tries 7 distinct host:port targets on three hosts (5 S0, 2 REJ, one
answered HTTP) and retries one of them. Payload bytes: A 1,650; B 2,116; S 30.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd
import pytest

from workflows import CONN, ConvertOptions, convert, convert_lines
from workflows.explore import (
    CONN_STATES,
    conn_state_breakdown,
    longest_connections,
    meaning,
    pick_interval,
    read_conn_csv,
    read_output,
    reason_kind,
    rejects_examples,
    rejects_summary,
    scan_like_sources,
    top_ports,
    top_services,
    top_talkers,
    traffic_over_time,
)
from workflows.explore import plots
from workflows.explore.frame import epoch_seconds
from workflows.explore.memory import current_rss_bytes, peak_rss_bytes, reset_peak_rss
from workflows.explore.notebook import dashboard_html, progress_html
from workflows.progress import Progress

A, B, S = "10.0.0.1", "10.0.0.2", "10.9.9.9"
FIELDS = ["ts", "uid", "id.orig_h", "id.resp_h", "id.resp_p", "proto", "service", "duration", "orig_bytes",
          "resp_bytes", "conn_state"]
ROWS = [
    ("100.0", "C1", A, "1.1.1.1", 443, "tcp", "ssl", 10.0, 100, 1000, "SF"),
    ("101.5", "NA", A, "1.1.1.1", 443, "tcp", "ssl", 2.5, 50, 500, "SF"),
    ("102.0", "C3", B, "8.8.8.8", 53, "udp", "dns", 0.25, 40, 60, "SF"),
    ("130.0", "C4", B, "2.2.2.2", 80, "tcp", "http", 30.0, 2000, 0, "RSTO"),
    ("160.0", "C5", S, "3.3.3.1", 22, "tcp", "", "", "", "", "S0"),
    ("161.0", "C6", S, "3.3.3.1", 23, "tcp", "", "", "", "", "S0"),
    ("162.0", "C7", S, "3.3.3.2", 22, "tcp", "", "", "", "", "S0"),
    ("163.0", "C8", S, "3.3.3.2", 23, "tcp", "", "", "", "", "S0"),
    ("164.0", "C9", S, "3.3.3.3", 22, "tcp", "", "", "", "", "REJ"),
    ("165.0", "C10", S, "3.3.3.3", 23, "tcp", "", "", "", "", "REJ"),
    ("166.0", "C11", S, "3.3.3.3", 80, "tcp", "http", 1.0, 10, 20, "SF"),
    ("1970-01-01T00:04:10Z", "C12", B, "8.8.8.8", 0, "icmp", "", 1.0, 8, 8, ""),
    ("251.0", "C13", S, "3.3.3.1", 22, "tcp", "", "", "", "", "S0"),
]


@pytest.fixture(scope="module")
def conn_csv(tmp_path_factory) -> Path:
    """The capture above as zeekflow writes it: every default column, unset fields empty."""
    path = tmp_path_factory.mktemp("explore") / "conn.csv"
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow([c.name for c in CONN.columns])
        for row in ROWS:
            record = dict(zip(FIELDS, row))
            record["local_orig"] = "true" if record["id.orig_h"] == A else ""
            record["tunnel_parents"] = "Ca,Cb" if record["uid"] == "C1" else ""
            record["id.orig_p"] = 40000
            writer.writerow([record.get(c.name, "") for c in CONN.columns])
    return path


@pytest.fixture(scope="module")
def conn(conn_csv):
    return read_conn_csv(str(conn_csv), blocksize=400)  # several partitions even for 13 rows


# -- reading -----------------------------------------------------------------------------------------------

def test_dtypes_come_from_the_schema(conn) -> None:
    dtypes = conn.dtypes.astype(str).to_dict()
    assert dtypes["ts"] == "float64"
    # Each Zeek type's own nullable dtype (workflows/types.py): a count may reach 2**64 - 1.
    assert dtypes["id.resp_p"] == "UInt16"
    assert dtypes["orig_bytes"] == dtypes["ip_proto"] == "UInt64"
    assert dtypes["duration"] == "float64"
    assert dtypes["local_orig"] == "boolean"
    assert dtypes["uid"] == dtypes["conn_state"] == dtypes["tunnel_parents"] == "string"
    assert dtypes["time"].startswith("datetime64") and "UTC" in dtypes["time"]
    assert conn.npartitions > 1


def test_unset_fields_are_missing_and_real_strings_are_kept(conn) -> None:
    frame = conn.compute().set_index("uid", drop=False)
    assert frame.loc["C5", "orig_bytes"] is pd.NA  # unset count: <NA>, not 0 and not a float NaN
    assert frame.loc["C5", "service"] is pd.NA
    assert frame.loc["NA", "orig_bytes"] == 50  # the string "NA" is a uid, not a missing value
    assert frame.loc["C1", "local_orig"] == True  # noqa: E712 (a pandas boolean)
    assert frame.loc["C3", "local_orig"] is pd.NA
    assert frame.loc["C1", "tunnel_parents"] == "Ca,Cb"


def test_times_areepoch_seconds_and_datetimes(conn) -> None:
    frame = conn.compute().set_index("uid")
    assert frame.loc["C12", "ts"] == 250.0  # written as ISO 8601
    assert frame.loc["NA", "ts"] == 101.5
    assert frame.loc["NA", "time"] == pd.Timestamp(101.5, unit="s", tz="UTC")


def test_every_time_format_zeekflow_writes_reads_asepoch_seconds() -> None:
    """--ts-format epoch, millis and iso8601, and unset."""
    text = pd.Series(["1591367999.305988", "1591367999305", "2020-06-05T14:39:59.305988Z", "2020-06-05T14:39:59",
                      pd.NA], dtype="string")
    seconds = epoch_seconds(text)
    assert seconds[:4].tolist() == pytest.approx([1591367999.305988, 1591367999.305, 1591367999.305988, 1591367999.0],
                                                 abs=1e-6)
    assert pd.isna(seconds[4])


def test_a_csv_that_is_not_zeekflow_output_is_refused(tmp_path) -> None:
    path = tmp_path / "other.csv"
    path.write_text("ts,bogus\n1,2\n")
    with pytest.raises(ValueError, match="bogus"):
        read_conn_csv(str(path))


def test_files_with_different_headers_are_refused(conn_csv, tmp_path) -> None:
    other = tmp_path / "other.csv"
    other.write_text("ts,uid\n1,C\n")
    with pytest.raises(ValueError, match="different header"):
        read_conn_csv([str(conn_csv), str(other)])


@pytest.mark.cluster
@pytest.mark.filterwarnings("ignore:The inplace keyword in DataFrame.reset_index")  # inside dask, pandas 3
def test_csv_and_parquet_outputs_give_the_same_answers(small_capture, tmp_path) -> None:
    """The same capture converted to CSV and to Parquet reads back with the same dtypes and answers."""
    outputs = {}
    for name in ("conn.csv", "conn.parquet"):
        outputs[name] = str(tmp_path / name)
        convert(ConvertOptions(inputs=[str(small_capture)], output=outputs[name], workers=1,
                               partition_size="512KiB"))
    from_csv, from_parquet = read_output(outputs["conn.csv"]), read_output(outputs["conn.parquet"])
    differing = {name for name, dtype in from_csv.dtypes.items() if str(dtype) != str(from_parquet.dtypes[name])}
    assert differing == {"tunnel_parents"}  # a joined string in CSV, a list in Parquet
    for summary in (top_talkers, top_ports, top_services, conn_state_breakdown, traffic_over_time,
                    longest_connections, scan_like_sources):
        pd.testing.assert_frame_equal(summary(from_parquet), summary(from_csv), check_dtype=False)
    assert len(scan_like_sources(from_csv)) == 3  # the generator's three scanners


# -- summaries ---------------------------------------------------------------------------------------------

def test_top_talkers(conn) -> None:
    table = top_talkers(conn)
    assert table["host"].tolist() == [B, A, S]
    assert table["total_bytes"].tolist() == [2116, 1650, 30]
    assert table["connections"].tolist() == [3, 2, 8]
    assert table.iloc[0][["orig_bytes", "resp_bytes"]].tolist() == [2048, 68]
    assert top_talkers(conn, n=1)["host"].tolist() == [B]


def test_top_talkers_by_responder(conn) -> None:
    table = top_talkers(conn, n=2, host="id.resp_h")
    assert table["host"].tolist() == ["2.2.2.2", "1.1.1.1"]
    assert table["total_bytes"].tolist() == [2000, 1650]


def test_top_ports_leave_icmp_out_by_default(conn) -> None:
    table = top_ports(conn)
    assert list(zip(table["proto"], table["port"], table["connections"])) == [
        ("tcp", 22, 4), ("tcp", 23, 3), ("tcp", 80, 2), ("tcp", 443, 2), ("udp", 53, 1)]
    assert table.set_index("port").loc[80, "total_bytes"] == 2030
    with_icmp = top_ports(conn, include_icmp=True)
    assert ("icmp", 0) in set(zip(with_icmp["proto"], with_icmp["port"]))


def test_top_services(conn) -> None:
    table = top_services(conn)
    assert list(zip(table["service"], table["connections"])) == [("(none)", 8), ("http", 2), ("ssl", 2), ("dns", 1)]


def test_conn_state_breakdown_with_zeek_meanings(conn) -> None:
    table = conn_state_breakdown(conn).set_index("conn_state")
    assert table["connections"].to_dict() == {"S0": 5, "SF": 4, "REJ": 2, "RSTO": 1, "(unset)": 1}
    assert table.loc["S0", "share"] == pytest.approx(5 / 13)
    assert table.loc["S0", "meaning"] == "Connection attempt seen, no reply."
    assert table.loc["REJ", "meaning"] == "Connection attempt rejected."
    assert "not set" in table.loc["(unset)", "meaning"]


def test_every_documented_state_has_a_meaning() -> None:
    assert set(CONN_STATES) == {"S0", "S1", "SF", "REJ", "S2", "S3", "RSTO", "RSTR", "RSTOS0", "RSTRH", "SH",
                                "SHR", "OTH"}
    assert meaning("XYZ") == "Not a state Zeek documents."


def test_traffic_over_time_fills_empty_bins(conn) -> None:
    table = traffic_over_time(conn, interval_s=60)
    assert table["start"].tolist() == [pd.Timestamp(s, unit="s", tz="UTC") for s in (60, 120, 180, 240)]
    assert table["connections"].tolist() == [3, 8, 0, 2]
    assert table["total_bytes"].tolist() == [1750, 2030, 0, 16]
    assert table.attrs["interval_s"] == 60


def test_traffic_over_time_picks_the_interval_from_the_span(conn) -> None:
    table = traffic_over_time(conn, max_bins=10)  # 151 s span: 15 s bins would make 11
    assert table.attrs["interval_s"] == 30
    assert table["connections"].sum() == 13


def test_pick_interval() -> None:
    assert pick_interval(0) == 1
    assert pick_interval(151, max_bins=200) == 1
    assert pick_interval(151, max_bins=10) == 30
    assert pick_interval(3600, max_bins=100) == 60
    assert pick_interval(86400 * 1000, max_bins=100) == 86400 * 10


def test_longest_connections(conn) -> None:
    table = longest_connections(conn, 3)
    assert table["uid"].tolist() == ["C4", "C1", "NA"]
    assert table["duration"].tolist() == [30.0, 10.0, 2.5]


def test_scan_like_sources(conn) -> None:
    table = scan_like_sources(conn, min_targets=5)
    assert table["host"].tolist() == [S]
    row = table.iloc[0]
    assert (row["connections"], row["failed"], row["dest_hosts"], row["targets"]) == (8, 7, 3, 7)
    assert row["failed_share"] == pytest.approx(7 / 8)
    assert scan_like_sources(conn, min_targets=5, min_failed_share=0.9).empty
    assert scan_like_sources(conn, min_targets=8).empty
    assert set(scan_like_sources(conn, min_targets=1, min_failed_share=0.0)["host"]) == {A, B, S}


def test_scan_like_sources_in_a_real_port_scan(samples, tmp_path) -> None:
    """The Nmap capture converted by the pure core, read back: the scanner is 172.16.1.11."""
    data = (samples / "json" / "sdft_002_portscan_conn.ndjson").read_bytes()
    result = convert_lines(data, CONN.columns)
    path = tmp_path / "portscan.csv"
    path.write_bytes(",".join(c.name for c in CONN.columns).encode() + b"\n" + result.csv)
    table = scan_like_sources(read_conn_csv(str(path)))
    assert table["host"].tolist() == ["172.16.1.11"]
    assert table.iloc[0]["targets"] > 1000 and table.iloc[0]["failed_share"] > 0.5


# -- rejects -----------------------------------------------------------------------------------------------

GOOD = b'{"ts":1.0,"uid":"C1","id.orig_h":"10.0.0.1","id.orig_p":1,"id.resp_h":"10.0.0.2","id.resp_p":2,"proto":"tcp"}'
BAD = [b'{"ts":1.0,"uid":', b'["an","array"]', b'{"ts":"yesterday","uid":"C2"}', b'{"uid":"C3",', b'{"ts":']


@pytest.fixture
def rejects_file(tmp_path) -> tuple[Path, bytes]:
    """A rejects file made by the real core from an input of one good line and five bad ones."""
    data = b"\n".join([GOOD, *BAD]) + b"\n"
    path = tmp_path / "conn.csv.rejects.ndjson"
    path.write_bytes(convert_lines(data, CONN.columns, "conn.log").rejects)
    return path, data


def test_rejects_summary(rejects_file) -> None:
    path, data = rejects_file
    table = rejects_summary(str(path), blocksize=150)
    assert table["reason"].tolist() == ["invalid JSON", "not a JSON object",
                                        "ts: expected time, got a string that is not ISO 8601"]
    assert table["lines"].tolist() == [3, 1, 1]
    assert table["first_input"].tolist() == ["conn.log"] * 3
    starts = [data.index(b"\n" + line + b"\n") + 1 for line in BAD[:3]]
    assert table["first_offset"].tolist() == starts


def test_rejects_examples(rejects_file) -> None:
    path, _ = rejects_file
    table = rejects_examples(str(path), 2)
    assert table["line"].tolist() == [BAD[0].decode(), BAD[1].decode()]


def test_no_rejects_is_an_empty_summary(tmp_path) -> None:
    path = tmp_path / "empty.rejects.ndjson"
    path.write_bytes(b"")
    assert rejects_summary(str(path)).empty
    assert rejects_examples(str(path)).empty


def test_reason_kind() -> None:
    assert reason_kind("invalid JSON: unexpected end of data: line 1 column 7 (char 6)") == "invalid JSON"
    assert reason_kind("invalid UTF-8 at byte 31") == "invalid UTF-8"
    assert reason_kind("id.orig_p: expected port, got string") == "id.orig_p: expected port, got string"
    assert reason_kind("ts: expected time, got a string that is not ISO 8601: 'x'") == (
        "ts: expected time, got a string that is not ISO 8601")


# -- plots -------------------------------------------------------------------------------------------------

def test_bar_plots_carry_the_table(conn) -> None:
    talkers = top_talkers(conn)
    plot = plots.plot_top_talkers(talkers)
    data = plot.renderers[0].data_source.data
    assert list(data["host"]) == [B, A, S] and list(data["total_bytes"]) == [2116, 1650, 30]
    assert list(plot.y_range.factors) == [S, A, B]  # the biggest bar on top
    ports = plots.plot_top_ports(top_ports(conn, 2))
    assert list(ports.renderers[0].data_source.data["where"]) == ["22/tcp", "23/tcp"]
    states = plots.plot_conn_states(conn_state_breakdown(conn))
    assert "Connection attempt seen, no reply." in list(states.renderers[0].data_source.data["meaning"])
    assert plots.plot_top_services(top_services(conn)).renderers


def test_traffic_plot_panels_share_the_time_axis(conn) -> None:
    layout = plots.plot_traffic(traffic_over_time(conn, interval_s=60))
    connections, volume = layout.children
    assert connections.x_range is volume.x_range
    assert list(connections.renderers[0].data_source.data["connections"]) == [3, 8, 0, 2]


def test_scan_plot(conn) -> None:
    plot = plots.plot_scan_sources(scan_like_sources(conn, min_targets=1, min_failed_share=0.0))
    data = plot.renderers[0].data_source.data
    assert set(data["host"]) == {A, B, S}
    sizes = dict(zip(data["host"], data["_size"]))
    assert sizes[S] > sizes[B] > sizes[A]  # dot size follows the number of connections


def test_memory_plot_units() -> None:
    table = pd.DataFrame({"input_bytes": [1e6, 4e6], "peak_worker_rss_bytes": [100 * 2**20, 101 * 2**20],
                          "baseline_worker_rss_bytes": [90 * 2**20, 90 * 2**20], "mb_per_s": [5.0, 6.0],
                          "lines_per_s": [1.0, 2.0], "partitions": [1, 4]})
    memory, speed = plots.plot_memory(table).children
    data = memory.renderers[0].data_source.data
    assert list(data["input_mb"]) == [1.0, 4.0] and list(data["peak_mb"]) == [100.0, 101.0]


# -- notebook and memory helpers ---------------------------------------------------------------------------

def test_dashboard_link_is_a_link() -> None:
    text = dashboard_html("http://127.0.0.1:8787/status")
    assert '<a href="http://127.0.0.1:8787/status" target="_blank">' in text
    assert "No dashboard" in dashboard_html(None)
    assert "&lt;script&gt;" in dashboard_html("<script>")


def test_progress_html() -> None:
    text = progress_html(Progress(partitions_done=1, partitions_total=4, lines=10, rejected=0, bytes_done=25,
                                  bytes_total=100, elapsed_s=1.0))
    assert '<progress value="25" max="100"' in text and "partitions 1/4" in text


def test_peak_rss_is_a_high_water_mark() -> None:
    block = bytearray(64 * 2**20)  # zero-filled, so every page is touched
    current = current_rss_bytes()
    assert current >= len(block)
    # The kernel updates the high-water mark lazily (a page or so behind), and it counts in bytes, not KiB.
    assert peak_rss_bytes() >= 0.95 * current


def test_the_high_water_mark_can_start_again() -> None:
    block = bytearray(128 * 2**20)
    del block  # a block this big is its own mapping: freeing it gives the memory back at once
    high = peak_rss_bytes()
    if not reset_peak_rss():
        pytest.skip("this OS cannot reset the peak resident set size")
    assert peak_rss_bytes() < high - 64 * 2**20
