"""Numbers as Zeek's writers print them: the generator's JSON text must be Zeek's, digit for digit.

The oracle is twofold: every number in the real Zeek JSON samples, and a line-by-line transcription of
RapidJSON's Grisu2 (``internal/dtoa.h``: DigitGen's digit loop and GrisuRound), which ``zeek_format`` computes
without the loop.
"""

from __future__ import annotations

import gzip
import math
import re
import struct
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workflows import zeek_format
from workflows.zeek_format import json_double, tsv_double

SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "samples"
NUMBER = re.compile(rb'(?<=[:,\[])(-?\d+\.\d+(?:[eE][-+]?\d+)?|-?\d+[eE][-+]?\d+)(?=[,}\]])')


def _loop_digit_gen(w: int, mp: int, mp_e: int, delta: int, K: int) -> tuple[str, int]:
    """RapidJSON's DigitGen as written there, one digit a turn (unsigned 64-bit arithmetic)."""
    mask = (1 << 64) - 1
    shift = -mp_e
    one = 1 << shift
    wp_w = mp - w
    p1, p2 = mp >> shift, mp & (one - 1)
    digits: list[int] = []
    kappa = min(len(str(p1)), 9)

    def grisu_round(delta: int, rest: int, ten_kappa: int, wp_w: int) -> None:
        while (rest < wp_w and delta - rest >= ten_kappa
               and ((rest + ten_kappa) & mask < wp_w or wp_w - rest > ((rest + ten_kappa) & mask) - wp_w)):
            digits[-1] -= 1
            rest = (rest + ten_kappa) & mask

    while kappa > 0:
        d, p1 = divmod(p1, 10 ** (kappa - 1))
        if d or digits:
            digits.append(d)
        kappa -= 1
        rest = (p1 << shift) + p2
        if rest <= delta:
            grisu_round(delta, rest, (10**kappa) << shift, wp_w)
            return "".join(map(str, digits)), K + kappa
    while True:
        p2, delta = (p2 * 10) & mask, (delta * 10) & mask
        d = p2 >> shift
        if d or digits:
            digits.append(d)
        p2 &= one - 1
        kappa -= 1
        if p2 < delta:
            grisu_round(delta, p2, one, (wp_w * 10**-kappa) & mask if -kappa < 20 else 0)
            return "".join(map(str, digits)), K + kappa


def _sample_numbers(paths: list[Path]) -> list[bytes]:
    numbers = []
    for path in paths:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rb") as f:
            for line in f:
                numbers += NUMBER.findall(line)
    return numbers


def test_documented_examples() -> None:
    assert json_double(2.5987625122070312e-05) == "0.000025987625122070313"
    assert [json_double(v) for v in (1.0, 50000.0, 3.14e15, 1.79e308, 2.23e-308, 1.23456789e-05, -0.0, 0.0)] == [
        "1.0", "50000.0", "3140000000000000.0", "1.79e308", "2.23e-308", "0.0000123456789", "-0.0", "0.0"]
    assert json_double(math.nan) == json_double(math.inf) == "null"
    assert tsv_double(2.5987625122070312e-05) == "0.000026" and tsv_double(0.44746) == "0.447460"


def test_every_number_of_zeeks_own_baseline_and_of_modern_samples() -> None:
    """Zeek's btest baseline of JSON doubles, and every double of the logs written by Zeek 3.1+ (RapidJSON).
    ``json/zat_json_conn.ndjson`` is left out: an older Zeek wrote it with another number printer, whose
    17th digit is sometimes off by a few units."""
    if not SAMPLES.is_dir():
        pytest.skip("../shared/samples is absent")
    paths = [SAMPLES / "zeek-btest-baselines" / "scripts.base.frameworks.logging.ascii-double_json.log",
             SAMPLES / "json" / "sdft_002_portscan_conn.ndjson", *sorted((SAMPLES / "other").glob("*.ndjson*"))]
    numbers = _sample_numbers(paths)
    assert len(numbers) > 100_000
    wrong = [n for n in numbers if json_double(float(n)) != n.decode()]
    assert wrong == []
    assert any(float(n) < 1e-4 and b"e" not in n for n in numbers)  # Zeek's fixed notation, reproduced


def test_older_zeeks_numbers_agree_to_sixteen_digits() -> None:
    if not SAMPLES.is_dir():
        pytest.skip("../shared/samples is absent")
    numbers = _sample_numbers([SAMPLES / "json" / "zat_json_conn.ndjson"])
    assert numbers
    for n in numbers:
        assert float(json_double(float(n))) == pytest.approx(float(n), rel=1e-15)


@settings(max_examples=1000, deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=False, min_value=0.0, exclude_min=True)
       | st.integers(0, 2**63 - 1).map(lambda bits: struct.unpack("<d", struct.pack("<Q", bits))[0]))
def test_digits_match_the_digit_loop_and_read_back(value: float) -> None:
    if math.isnan(value) or math.isinf(value) or value == 0:
        return
    original = zeek_format._digit_gen
    try:
        zeek_format._digit_gen = _loop_digit_gen
        expected = zeek_format._grisu2(value)
    finally:
        zeek_format._digit_gen = original
    assert zeek_format._grisu2(value) == expected
    assert float(json_double(value)) == value and float(json_double(-value)) == -value


def test_microsecond_times_and_their_differences_match_the_digit_loop() -> None:
    import random

    rng = random.Random(7)
    original = zeek_format._digit_gen
    values = []
    for _ in range(5000):
        ts = round(1.7e9 + rng.random() * 1e8, 6)
        values += [ts, round(ts + rng.expovariate(1 / 10 ** rng.uniform(-5, 3)), 6) - ts]
    try:
        zeek_format._digit_gen = _loop_digit_gen
        expected = [zeek_format._grisu2(v) for v in values if v > 0]
    finally:
        zeek_format._digit_gen = original
    assert [zeek_format._grisu2(v) for v in values if v > 0] == expected
