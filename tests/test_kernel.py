"""The native kernel writes exactly the Python reference's bytes, settles the common line itself, and never
crashes or reads past its block whatever the input (these tests also run in the sanitizer build: make
test-sanitize)."""

from __future__ import annotations

import gzip
import json
import math
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workflows import kernel
from workflows.generate import generate_capture
from workflows.render import BlockConverter
from workflows.schema import CONN, SCHEMAS, Column

pytestmark = pytest.mark.skipif(kernel.kernel_name() != "native", reason="the native kernel is not built")

COLUMNS = [
    Column("ts", "time"), Column("uid", "string"), Column("id.orig_p", "port"), Column("duration", "interval"),
    Column("local_orig", "bool"), Column("n", "count"), Column("i", "int"), Column("tunnel_parents", "set[string]"),
    Column("ttls", "vector[interval]"), Column("ports", "set[count]"), Column("flags", "vector[bool]"),
    Column("times", "vector[time]"),
]


def compare(block: bytes, columns=COLUMNS, base_offset: int = 100) -> None:
    """The kernel's result for ``block`` equals the reference's: CSV, rejects (offset, reason, raw line), counts."""
    native = BlockConverter(columns, "in", fast_path=True)
    assert native._native is not None
    got = native.convert(block, base_offset)
    want = BlockConverter(columns, "in", fast_path=False).convert(block, base_offset)
    assert got.csv == want.csv
    assert got.rejects == want.rejects
    assert (got.lines, got.rows, got.rejected, got.blank) == (want.lines, want.rows, want.rejected, want.blank)
    assert dict(got.dropped_fields) == dict(want.dropped_fields)


def settled(block: bytes, columns=COLUMNS) -> int:
    """How many lines the kernel settles itself (the others go the reference way)."""
    _, declined, lines, _, _, _ = kernel._native.convert_ndjson(kernel.NativeBlocks(columns)._plan, block)
    return lines - len(declined)


# -- numbers as repr writes them -------------------------------------------------------------------------

def _notations(value: float) -> list[str]:
    """The ways a JSON writer may spell ``value``: repr, Zeek's fixed notation with up to 17 significant digits,
    %.17g, exponents."""
    texts = [repr(value), f"{value:.17g}", f"{value:.6f}", f"{value:e}", f"{value:.16e}", f"{value:.3E}"]
    if abs(value) < 1e16:
        texts.append(f"{value:.20f}".rstrip("0").rstrip(".") or "0")
    return [t for t in texts if "inf" not in t and "nan" not in t]


@given(st.floats(allow_nan=False, allow_infinity=False))
@settings(max_examples=400, deadline=None)
def test_every_float_in_every_notation_is_written_as_repr_writes_it(value: float) -> None:
    lines = [f'{{"duration":{text},"ttls":[{text},1]}}'.encode() for text in _notations(value)]
    compare(b"\n".join(lines) + b"\n")


@pytest.mark.parametrize("exponent", range(-80, 80, 3))
def test_powers_of_two_and_their_neighbours_are_written_as_repr_writes_them(exponent: int) -> None:
    # At a power of two the double below is half as far as the one above: the shortest digits' proof must
    # use the narrower side (ntp.log's precision is 2**-n on every line).
    import math

    power = 2.0 ** exponent
    values = [power, math.nextafter(power, 0), math.nextafter(power, math.inf), -power]
    lines = [f'{{"duration":{text},"ttls":[{text}]}}'.encode() for v in values for text in _notations(v)]
    compare(b"\n".join(lines) + b"\n")


def test_a_power_of_two_in_its_shortest_digits_is_settled_by_the_kernel_itself() -> None:
    block = b'{"duration":1.1920928955078125e-7,"ttls":[0.0009765625,1.52587890625e-05,0.5]}\n' * 2
    assert settled(block) == 2
    compare(block)


@given(st.integers(1, 2**40), st.integers(0, 45), st.booleans())
@settings(max_examples=600, deadline=None)
def test_binary_fractions_written_in_full_are_written_as_repr_writes_them(k: int, n: int, negative: bool) -> None:
    # Zeek's durations are differences of timestamps: short binary fractions, which its JSON writer prints with
    # many digits (0.08133697509765625). Their 16-digit roundings often fall exactly on a half.
    from decimal import Decimal

    value = (-k if negative else k) / 2**n
    texts = [format(Decimal(value), "f"), repr(value), f"{value:.17g}", f"{value:.20f}"]
    compare(b"".join(f'{{"duration":{t}}}\n'.encode() for t in texts))


@pytest.mark.parametrize("text", [
    "0.000025987625122070313", "1591367999.305988", "0.10000000000000001", "9007199254740993", "1e22", "1e23",
    "5e-324", "2.2250738585072014e-308", "1.7976931348623157e308", "0.1e1", "1E5", "-0.0", "-0", "0", "0.0001",
    "0.00001", "1234567890123456.0", "12345678901234567.0", "123456789012345678", "18446744073709551615",
    "18446744073709551616", "-9223372036854775808", "-9223372036854775809", "1e400", "1e-400", "1.5e300",
    "9999999999.999999", "0.30000000000000004", "100000000000000000000000", "4.35e-05",
    "0.07645797729492188", "0.07645797729492187", "2.6883468627929688", "2.6883468627929687",
    "0.000025987625122070312", "0.000025987625122070314", "1700000000.7901509",
])
def test_numbers_at_the_edges(text: str) -> None:
    for key in ("duration", "ts", "n", "i", "id.orig_p"):
        compare(f'{{"{key}":{text}}}\n{{"ttls":[{text}]}}\n'.encode())


def test_common_numbers_are_settled_by_the_kernel_itself() -> None:
    block = b'{"ts":1591367999.305988,"duration":0.000025987625122070313,"n":18446744073709551615,"i":-5}\n' * 4
    assert settled(block) == 4
    compare(block)


def test_binary_fractions_at_a_tie_and_grisus_last_digit_are_settled_exactly() -> None:
    # 0.076457977294921875 written to 16 digits falls on a half: repr takes the even neighbour, whichever was
    # written; Grisu's 17th digit (..313) is one off repr's (..312). Neither needs strtod's long way.
    block = b"".join(f'{{"duration":{t}}}\n'.encode() for t in (
        "0.07645797729492188", "0.07645797729492187", "0.000025987625122070313", "2.6883468627929687"))
    assert settled(block) == 4
    compare(block)


@given(st.floats(1e-7, 1e10).filter(lambda v: math.frexp(v)[0] != 0.5))
@settings(max_examples=500, deadline=None)
def test_seventeen_significant_digits_are_settled_exactly_by_the_kernel_itself(value: float) -> None:
    # Zeek's JSON writer prints up to 17 significant digits in fixed notation (0.000025987625122070313); repr's
    # shortest digits are found from them with integer arithmetic alone, whatever the notation.
    from decimal import Decimal

    seventeen = f"{value:.17g}"
    texts = {seventeen, format(Decimal(seventeen), "f"), f"{value:.16e}", repr(value)}
    block = b"".join(f'{{"duration":{t}}}\n'.encode() for t in sorted(texts))
    assert settled(block) == len(texts)
    compare(block)


# -- strings, keys, shapes ---------------------------------------------------------------------------------

@pytest.mark.parametrize("line", [
    rb'{"uid":"a\"b,c\\d\/e\b\f\n\r\t\u0000\u00e9\u4e2d\ud83d\ude00"}',
    rb'{"uid":"\ud83d"}', rb'{"uid":"\ude00"}', rb'{"uid":"\ud83d\u0041"}', rb'{"uid":"\x"}', rb'{"uid":"\u12"}',
    b'{"uid":"\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80"}', b'{"uid":"\xc3"}', b'{"uid":"\xed\xa0\x80"}',
    b'{"uid":"\xc0\xaf"}', b'{"uid":"\xf4\x90\x80\x80"}', b'{"uid":"\xff"}', b'{"uid":"a\x01b"}',
    b'{"uid":"tab\there"}', b'{"u\\u0069d":"escaped key","uid":"last wins"}', b'{"uid":"x","uid":null}',
    b'{"ts":1,"ts":2,"x":1,"x":2,"y":{"a":[1,{"b":null}]}}', b'{}', b'{ }', b' {"uid":"a"} \r', b'\t\r ',
    b'{"uid":"a"}{"uid":"b"}', b'{"uid":"a"},{"uid":"b"}', b'[1,2]', b'"text"', b'{"uid":"a",}', b'{"uid":}',
    b'{"uid" "a"}', b'{"uid":"a"', b'{"uid":"a"}}', b'\xef\xbb\xbf{"uid":"a"}', b'{"uid":true}',
    b'{"local_orig":1}', b'{"local_orig":truex}', b'{"local_orig":nul}', b'{"tunnel_parents":"a"}',
    b'{"tunnel_parents":[]}', b'{"tunnel_parents":[""]}', b'{"tunnel_parents":[null,null]}',
    b'{"tunnel_parents":["a,b"]}', b'{"tunnel_parents":[["a"]]}', b'{"tunnel_parents":[{"a":1}]}',
    b'{"tunnel_parents":["a"],"tunnel_parents":null}', b'{"flags":[true,false,null]}', b'{"flags":[1]}',
    b'{"times":[1.5,"2020-06-05T14:39:59Z"]}', b'{"times":[1e13]}', b'{"ports":[80,70000]}', b'{"ports":[-1]}',
    b'{"ts":"2020-06-05T14:39:59.305988Z"}', b'{"ts":"yesterday"}', b'{"ts":1e13}', b'{"ts":-62135596801}',
    b'{"ts":253402300799999}', b'{"ts":253402300800000}', b'{"ts":-99999999999}', b'{"ts":100000000000}',
    b'{"_deep":' + b"[" * 200 + b"]" * 200 + b"}", b'{"_deep":' + b"[" * 1100 + b"]" * 1100 + b"}",
    b'{"_big":1e400}', b'{"_big":1' + b"0" * 320 + b"}", b'{"_k":NaN}', b'{"_k":Infinity}', b'{"_k":-}',
    b'{"' + b"k" * 300 + b'":1}', b'{"uid":"' + b"x" * 100000 + b'"}',
])
def test_hostile_lines(line: bytes) -> None:
    compare(line + b"\n")
    compare(b'{"uid":"before"}\n' + line + b'\n{"uid":"after"}')


def test_keys_that_are_not_columns_are_counted_once_a_line() -> None:
    block = b"".join(b'{"uid":"a","_k%d":1,"_k%d":2,"_path":"conn"}\n' % (i % 70, i % 70) for i in range(200))
    compare(block)


# -- arbitrary lines ------------------------------------------------------------------------------------------

_text = st.one_of(st.text(max_size=6), st.sampled_from([",", '"', "\\", "\r", "\n", "é", "\ud7ff", "\U0001f600", ""]))
_scalar = st.one_of(st.none(), st.booleans(), st.integers(-(2**65), 2**65), st.floats(allow_nan=False), _text)
_value = st.recursive(_scalar, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                       st.dictionaries(_text, inner, max_size=2)), max_leaves=6)
_keys = st.sampled_from([c.name for c in COLUMNS] + ["_path", "x", "id.resp_h"])


def _dumps(record: dict, style: int) -> bytes:
    text = json.dumps(record, ensure_ascii=bool(style & 1), separators=(",", ":") if style & 2 else None)
    return text.replace("Infinity", "1e999").replace("NaN", "0").encode("utf-8", "surrogatepass")


@given(st.lists(st.tuples(st.dictionaries(_keys, _value, max_size=6), st.integers(0, 3),
                          st.sampled_from([b"", b"\r", b" "]), st.binary(max_size=2), st.integers(0, 40)),
                max_size=12), st.booleans())
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_agrees_with_the_reference_on_arbitrary_lines(lines, final_newline: bool) -> None:
    raw = []
    for record, style, tail, noise, where in lines:
        line = _dumps(record, style) + tail
        if noise and where < len(line):  # now and then a corrupted line
            line = line[:where] + noise + line[where + 1:]
        raw.append(line)
    block = b"\n".join(raw) + (b"\n" if final_newline and raw else b"")
    if block:
        compare(block)


@given(st.binary(max_size=300))
@settings(max_examples=600, deadline=None)
def test_random_bytes_never_crash_and_agree(block: bytes) -> None:
    compare(block)


@given(st.binary(min_size=1, max_size=200), st.integers(0, 199))
@settings(max_examples=600, deadline=None)
def test_a_mutated_real_line_agrees(noise: bytes, where: int) -> None:
    line = (b'{"ts":1591367999.305988,"uid":"CHhAvVGS1DHFjwGM9","id.orig_p":58001,"duration":0.000025987625122070313,'
            b'"local_orig":true,"n":220,"tunnel_parents":["Cx","Cy"],"ttls":[3600.0],"_path":"conn"}')
    where = min(where, len(line))
    compare(line[:where] + noise + line[where:] + b"\n" + line)


# -- real and generated logs -------------------------------------------------------------------------------

def test_a_generated_capture_is_settled_by_the_kernel_and_agrees(tmp_path) -> None:
    path = tmp_path / "conn.ndjson"
    generate_capture(str(path), 3000, seed=3, bad_rate=0.01)
    data = path.read_bytes()
    compare(data, CONN.columns)
    lines = data.count(b"\n")
    assert settled(data, CONN.columns) >= lines * 0.95  # the bad lines (1 %) and little else are declined


def _real_json_samples(samples):
    for path in sorted(samples.rglob("*")):
        name = path.name
        if not (name.endswith((".ndjson", ".ndjson.gz", ".json"))):
            continue
        data = gzip.decompress(path.read_bytes()) if name.endswith(".gz") else path.read_bytes()
        log_type = next((t for t in SCHEMAS if t in name.replace("_", ".").split(".")), "conn")
        yield name, data, SCHEMAS[log_type]


def test_every_real_json_sample_agrees_block_by_block(samples) -> None:
    checked = 0
    for name, data, schema in _real_json_samples(samples):
        for columns in (schema.columns, tuple(schema.known().values())):
            for start in range(0, len(data), 1 << 17):
                end = data.find(b"\n", start + (1 << 17))
                block = data[start: end + 1 if end >= 0 else len(data)]
                if start and data[start - 1:start] != b"\n":
                    continue
                compare(block, columns)
            checked += 1
    assert checked >= 4


def test_the_gil_is_released_while_a_block_converts() -> None:
    # Two threads converting at once must both run: the kernel does not hold the GIL while it scans.
    import threading
    import time

    block = b'{"ts":1591367999.305988,"uid":"C1","id.orig_p":1,"duration":0.5}\n' * 600_000
    plan = kernel.NativeBlocks(COLUMNS)._plan
    ticks = []
    stop = threading.Event()

    def ticker() -> None:
        while not stop.is_set():
            ticks.append(time.perf_counter())
            time.sleep(0.001)

    thread = threading.Thread(target=ticker)
    thread.start()
    started = time.perf_counter()
    kernel._native.convert_ndjson(plan, block)
    took = time.perf_counter() - started
    stop.set()
    thread.join()
    during = [t for t in ticks if started <= t <= started + took]
    # With the GIL held for the whole conversion (tens of milliseconds) the ticker could not tick during it.
    assert len(during) >= 3, (took, len(during))


def test_the_build_under_test_is_the_one_asked_for() -> None:
    # make test-sanitize points ZEEKFLOW_KERNEL_LIB at the sanitizer build: these tests must run on it.
    wanted = os.environ.get("ZEEKFLOW_KERNEL_LIB")
    expected = os.path.abspath(wanted) if wanted else os.path.join(os.path.dirname(kernel.__file__), "")
    assert os.path.abspath(kernel._native.__file__).startswith(expected)


@pytest.mark.cluster
def test_a_run_says_which_kernel_converted_and_both_give_the_same_bytes(tmp_path) -> None:
    from .conftest import run_cli

    source = tmp_path / "conn.ndjson"
    generate_capture(str(source), 5000, seed=5, bad_rate=0.01)
    outputs = {}
    for name, env in (("native", {}), ("python", {"ZEEKFLOW_KERNEL": "python"})):
        out = tmp_path / f"{name}.csv"
        result = run_cli("convert", str(source), "-o", str(out), "--workers", "1", "--no-progress",
                         "--partition-size", "64KiB", "--summary-json", str(tmp_path / f"{name}.json"), env=env)
        assert result.returncode == 0, result.stderr
        summary = json.loads((tmp_path / f"{name}.json").read_text())
        assert summary["kernel"] == name
        assert f"Kernel:        {name}" in result.stdout + result.stderr
        outputs[name] = (out.read_bytes(), (tmp_path / f"{name}.csv.rejects.ndjson").read_bytes())
    assert outputs["native"] == outputs["python"]


# -- Zeek TSV -------------------------------------------------------------------------------------------------

def _blocks(data: bytes, size: int):
    start = 0
    while start < len(data):
        end = data.find(b"\n", start + size)
        end = len(data) if end < 0 else end + 1
        yield start, data[start:end]
        start = end


def compare_tsv(data: bytes, columns, block_size: int = 1 << 12) -> int:
    """The TSV converter with the kernel gives the Python path's result block by block; returns how many
    blocks the kernel took."""
    from workflows.tsv import TsvBlockConverter

    native = TsvBlockConverter(BlockConverter(columns, "in"))
    python = TsvBlockConverter(BlockConverter(columns, "in", fast_path=False))
    for offset, block in _blocks(data, block_size):
        got, want = native.convert(block, offset), python.convert(block, offset)
        assert (got.csv, got.rejects) == (want.csv, want.rejects), offset
        assert (got.lines, got.rows, got.rejected, got.blank) == (want.lines, want.rows, want.rejected, want.blank)
        assert dict(got.dropped_fields) == dict(want.dropped_fields)
    assert python.kernel == "python"
    return sum(1 for header, plan in native._native.items() if plan is not None)


TSV_HEADER = (b"#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tconn\n"
              b"#fields\tts\tuid\tid.orig_p\tduration\tlocal_orig\tn\ttunnel_parents\tttls\t_extra\n"
              b"#types\ttime\tstring\tport\tinterval\tbool\tcount\tset[string]\tvector[interval]\tint\n")


@pytest.mark.parametrize("field", [
    b"1591367999.305988", b"1591367999", b"0", b"-0", b"1e13", b"nan", b"inf", b"+5", b"5.", b"00.5", b" 5",
    b"C\\x41\\x00\\xff\\\\x41,\xc3\xa9\xff", b"a\\x2cb", b"\\x22quoted\\x22", b"(empty)", b"-", b"",
    b"70000", b"-1", b"18446744073709551616", b"T", b"F", b"X", b"a,b,-,(empty)", b"1.5,2,-", b"\\x0d\\x0a",
    b'say "hi", ok', b'"', b",", b"\\", b"tab\\x09in",
])
def test_tsv_fields_agree_with_the_python_path(field: bytes) -> None:
    columns = CONN.columns[:2] + (Column("id.orig_p", "port"), Column("duration", "interval"),
                                  Column("local_orig", "bool"), Column("n", "count"),
                                  Column("tunnel_parents", "set[string]"), Column("ttls", "vector[interval]"))
    good = b"1591367999.5\tC1\t80\t0.5\tT\t3\ta,b\t1.5,2\t7\n"
    for position in range(9):
        cells = good.rstrip(b"\n").split(b"\t")
        cells[position] = field
        line = b"\t".join(cells)
        data = TSV_HEADER + good * 20 + line + b"\n" + good + line + b"\r\n" + b"\n  \n" + good[:-1]
        assert compare_tsv(data, columns, block_size=64) >= 1


@pytest.mark.parametrize("block_size", [64, 1 << 12, 1 << 20])
def test_a_header_between_data_lines_takes_effect_in_any_block(block_size) -> None:
    # The kernel converts a block in one pass unless it holds a header line: then the block is cut there,
    # and the lines after the new header are read by it (here its columns come in another order).
    columns = CONN.columns[:2] + (Column("id.orig_p", "port"),)
    first = TSV_HEADER + b"1591367999.5\tC1\t80\t0.5\tT\t3\ta,b\t1.5,2\t7\n" * 30
    second = (b"#fields\tid.orig_p\tuid\tts\n#types\tport\tstring\ttime\n"
              + b"443\tC2\t1591367999.25\n" * 30)
    data = first + b"#close\t2024-04-12-20-00-00\n" + second + b"#close\t2024-04-12-21-00-00\n"
    assert compare_tsv(data, columns, block_size=block_size) == 2


@pytest.mark.parametrize("order", [(1, 0, 3, 2), (3, 2, 1, 0), (0, 1, 2, 3)])
def test_tsv_fields_in_any_order_of_the_columns_agree(order) -> None:
    """The kernel writes a row straight out while fields come in column order, else into cells: both agree."""
    columns = (Column("ts", "time"), Column("uid", "string"), Column("id.orig_p", "port"), Column("n", "count"))
    cells = [(b"ts", b"time", b"1591367999.5"), (b"uid", b"string", b"C,1"), (b"id.orig_p", b"port", b"80"),
             (b"n", b"count", b"-")]
    fields = [cells[i] for i in order]
    header = (b"#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tconn\n"
              b"#fields\t" + b"\t".join(f[0] for f in fields) + b"\n#types\t" + b"\t".join(f[1] for f in fields) + b"\n")
    data = header + (b"\t".join(f[2] for f in fields) + b"\n") * 50
    assert compare_tsv(data, columns, block_size=1 << 12) == 1


def test_every_real_tsv_sample_agrees_and_takes_the_kernel(samples) -> None:
    taken = 0
    for path in sorted((samples / "tsv").iterdir()) + sorted((samples / "other").glob("*.tsv.log.gz")):
        data = gzip.decompress(path.read_bytes()) if path.name.endswith(".gz") else path.read_bytes()
        log_type = next((t for t in SCHEMAS if t in path.name.replace("_", ".").split(".")), "conn")
        taken += compare_tsv(data, SCHEMAS[log_type].columns, block_size=1 << 14)
    assert taken >= 3


@given(st.lists(st.tuples(st.integers(0, 8), st.binary(max_size=12)), max_size=8))
@settings(max_examples=400, deadline=None)
def test_mutated_tsv_lines_agree(mutations) -> None:
    columns = CONN.columns[:2] + (Column("id.orig_p", "port"), Column("duration", "interval"),
                                  Column("tunnel_parents", "set[string]"))
    lines = []
    for position, text in mutations:
        cells = [b"1591367999.5", b"C1", b"80", b"0.5", b"T", b"3", b"a,b", b"1.5", b"7"]
        cells[position] = text
        lines.append(b"\t".join(cells))
    compare_tsv(TSV_HEADER + b"\n".join(lines) + b"\n", columns, block_size=32)


def test_a_generated_tsv_capture_is_settled_by_the_kernel_and_agrees(tmp_path) -> None:
    from workflows.tsv import TsvBlockConverter, parse_header

    path = tmp_path / "conn.log"
    generate_capture(str(path), 3000, seed=4, fmt="tsv")
    data = path.read_bytes()
    assert compare_tsv(data, CONN.columns, block_size=1 << 14) == 1
    body = data[data.find(b"\n", data.find(b"#types")) + 1:data.rfind(b"#close")]
    native = TsvBlockConverter(BlockConverter(CONN.columns, "in"))._native_for(parse_header(data))
    _, declined, lines, rows, _, _ = kernel._native.convert_tsv(native._plan, body)
    assert (lines, rows, declined) == (3000, 3000, [])


# -- ISO 8601 times ------------------------------------------------------------------------------------------

_ISO_TIMES = [
    "2020-06-05T14:39:59.305988Z", "0001-01-01T00:00:00.000000Z", "9999-12-31T23:59:59.999999Z",
    "2024-02-29T12:00:00.000000Z", "2000-02-29T00:00:00.000000Z", "1900-02-29T00:00:00.000000Z",
    "2023-02-29T00:00:00.000000Z", "2020-04-31T00:00:00.000000Z", "2020-13-01T00:00:00.000000Z",
    "2020-00-10T00:00:00.000000Z", "2020-01-00T00:00:00.000000Z", "0000-01-01T00:00:00.000000Z",
    "2020-06-05T24:00:00.000000Z", "2020-06-05T23:60:00.000000Z", "2020-06-05T23:59:60.000000Z",
    "2020-06-05T14:39:59Z", "2020-06-05T14:39:59.305Z", "2020-06-05T14:39:59.305988+01:00",
    "2020-06-05T14:39:59.305988", "2020-06-05 14:39:59.305988Z", "2020-06-05t14:39:59.305988Z",
    "2020-W23-5T14:39:59.305988Z", "2020-06-05T14:39:59.3059880Z", "20200605T143959.305988Z",
    "0001-01-01T00:00:00.000000+00:01", "9999-12-31T23:59:59.999999-00:01", "\\u0032020-06-05T14:39:59.305988Z",
    "2020-06-05T14:39:59.305988Z ", "2020-06-05T14:39:59.30598xZ",
]


@pytest.mark.parametrize("text", _ISO_TIMES)
def test_iso_times_agree_with_the_reference(text: str) -> None:
    compare(f'{{"ts":"{text}","uid":"C1"}}\n{{"times":["{text}",1.5]}}\n'.encode())


def test_zeeks_iso_times_are_settled_by_the_kernel_itself() -> None:
    # Zeek's JSON writer with JSON::TS_ISO8601: the form the kernel checks and writes itself.
    block = b'{"ts":"2020-06-05T14:39:59.305988Z","uid":"C1","times":["2024-02-29T00:00:00.000000Z"]}\n' * 4
    assert settled(block) == 4
    assert settled(b'{"ts":"2020-06-05T14:39:59.305988+00:00"}\n') == 0  # another form: the reference's
    compare(block)


@given(st.tuples(st.integers(0, 9999), st.integers(0, 13), st.integers(0, 32), st.integers(0, 25),
                 st.integers(0, 61), st.integers(0, 61), st.integers(0, 999999)))
@settings(max_examples=400, deadline=None)
def test_iso_times_of_any_date_and_clock_agree(parts) -> None:
    year, month, day, hour, minute, second, micros = parts
    text = f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}.{micros:06d}Z"
    compare(f'{{"ts":"{text}"}}\n'.encode())
