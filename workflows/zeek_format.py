"""How Zeek's log writers print numbers, so that generated logs carry the very text Zeek would write.

Zeek's JSON writer prints a ``double``, ``interval`` or epoch ``time`` with RapidJSON's ``Writer::Double``:
Grisu2 digits, then RapidJSON's layout (fixed notation from 1e-6 up to 1e21, ``.0`` kept on whole numbers,
exponent notation outside). Grisu2's digits round-trip but are not always the shortest nor the closest ones:
a duration of ``2.5987625122070312e-05`` (Python's ``repr``) is written ``0.000025987625122070313``, and a
microsecond timestamp now and then gets a seventh decimal. ``json_double`` reproduces it bit for bit (the test
checks every number of the real Zeek samples). Zeek's TSV writer prints times and intervals with six decimals.

Example::

    >>> json_double(2.5987625122070312e-05)
    '0.000025987625122070313'
    >>> json_double(1.0), json_double(1.79e308), json_double(-0.0)
    ('1.0', '1.79e308', '-0.0')
    >>> tsv_double(2.5987625122070312e-05)
    '0.000026'
"""

from __future__ import annotations

import math
import struct

__all__ = ["json_double", "tsv_double"]

_MASK = (1 << 64) - 1
_POW10 = [10**i for i in range(20)]


def _cached_power(index: int) -> tuple[int, int]:
    """10^(-348 + 8 * index) as a 64-bit significand rounded to nearest and its binary exponent: the table
    RapidJSON ships (``kCachedPowers_F`` / ``kCachedPowers_E``), computed exactly here."""
    k = -348 + 8 * index
    if k >= 0:
        num, den = 10**k, 1
    else:
        num, den = 1, 10**-k
    # Scale so that the quotient has exactly 64 bits, then round half up (the table's rounding).
    e = num.bit_length() - den.bit_length() - 64
    while True:
        q, r = divmod(num << -e, den) if e < 0 else divmod(num, den << e)
        if q >> 64:
            e += 1
        elif not q >> 63:
            e -= 1
        else:
            break
    rest_twice = 2 * r
    if rest_twice >= (den if e < 0 else den << e):
        q += 1
        if q >> 64:
            q >>= 1
            e += 1
    return q, e


_CACHED = [_cached_power(i) for i in range(87)]


def _grisu2(value: float) -> tuple[str, int]:
    """Digits and decimal exponent of a positive finite double, as RapidJSON's ``Grisu2`` makes them."""
    bits = struct.unpack("<Q", struct.pack("<d", value))[0]
    biased = (bits >> 52) & 0x7FF
    significand = bits & ((1 << 52) - 1)
    if biased:
        f, e = significand | (1 << 52), biased - 1075
    else:
        f, e = significand, -1074
    # Boundaries m+ and m-, normalized to the same exponent (DiyFp::NormalizedBoundaries).
    pf, pe = (f << 1) + 1, e - 1
    while not pf & (1 << 53):
        pf <<= 1
        pe -= 1
    pf <<= 10
    pe -= 10
    if f == 1 << 52:
        mf, me = (f << 2) - 1, e - 2
    else:
        mf, me = (f << 1) - 1, e - 1
    mf <<= me - pe
    # The cached power of ten that brings m+ into [2^-60, 2^-32) (GetCachedPower).
    dk = (-61 - pe) * 0.30102999566398114 + 347
    k = int(dk)
    if dk - k > 0.0:
        k += 1
    index = (k >> 3) + 1
    K = -(-348 + (index << 3))
    cf, ce = _CACHED[index]
    # v normalized has m+'s exponent, so the three products share one.
    w = _mul(f << (64 - f.bit_length()), cf)
    plus = _mul(pf, cf) - 1
    minus = _mul(mf, cf) + 1
    return _digit_gen(w, plus, pe + ce + 64, plus - minus, K)


def _mul(a: int, b: int) -> int:
    return ((a * b) + (1 << 63)) >> 64


def _digit_gen(w: int, mp: int, mp_e: int, delta: int, K: int) -> tuple[str, int]:
    """RapidJSON's DigitGen and GrisuRound without the digit loop. DigitGen emits M+'s digits and stops at the
    first position where what it cut off (the rest) is within ``delta``: that is the first decimal position,
    from the top, where M+ and M+ - delta differ, so comparing the two numbers' digits finds it at once."""
    shift = -mp_e
    wp_w = mp - w
    low = mp - delta
    # Integer positions stop on rest <= delta: a multiple of the unit in [low, mp].
    top, bottom = mp >> shift, (low - 1) >> shift
    if top != bottom:
        j = _first_difference(top, bottom)
        unit = _POW10[j]
        q = top // unit
        rest = mp - ((q * unit) << shift)
        return _round(q, delta, rest, unit << shift, wp_w), K + j
    # Fractional positions stop on rest < delta: a multiple of the unit in (low, mp]. Past the position whose
    # unit is below delta the test always holds, so that many decimals are enough.
    places = max(1, ((shift - delta.bit_length() + 1) * 30103 + 99999) // 100000 + 1)
    a, b = (mp * _POW10[places]) >> shift, (low * _POW10[places]) >> shift
    t = _first_difference(a, b)
    i = places - t
    scale = 10**i
    q = a // _POW10[t]
    rest = (mp * scale) & ((1 << shift) - 1)
    scaled_wp_w = (wp_w * scale) & _MASK if i < 20 else 0
    return _round(q, delta * scale, rest, 1 << shift, scaled_wp_w), K - i


def _first_difference(a: int, b: int) -> int:
    """The largest t with a // 10^t != b // 10^t (a > b >= -1): at least the magnitude of a - b, more when
    a carry runs (1000 against 999)."""
    t = len(str(a - b)) - 1
    while a // _POW10[t + 1] != b // _POW10[t + 1]:
        t += 1
    return t


def _round(q: int, delta: int, rest: int, ten_kappa: int, wp_w: int) -> str:
    """GrisuRound: lower the last digit towards the true value while it stays inside the interval."""
    while (rest < wp_w and delta - rest >= ten_kappa
           and ((rest + ten_kappa) & _MASK < wp_w or wp_w - rest > ((rest + ten_kappa) & _MASK) - wp_w)):
        q -= 1
        rest = (rest + ten_kappa) & _MASK
    return str(q)


def json_double(value: float) -> str:
    """``value`` as Zeek's JSON writer prints it (RapidJSON ``Writer::Double``); NaN and infinities, which Zeek
    writes as ``null``, give ``"null"``."""
    if math.isnan(value) or math.isinf(value):
        return "null"
    if value == 0.0:
        return "-0.0" if math.copysign(1.0, value) < 0 else "0.0"
    sign = ""
    if value < 0:
        sign, value = "-", -value
    digits, k = _grisu2(value)
    length = len(digits)
    kk = length + k  # 10^(kk-1) <= v < 10^kk
    if 0 <= k and kk <= 21:
        text = digits + "0" * k + ".0"
    elif 0 < kk <= 21:
        text = digits[:kk] + "." + digits[kk:]
    elif -6 < kk <= 0:
        text = "0." + "0" * -kk + digits
    elif length == 1:
        text = digits + "e" + str(kk - 1)
    else:
        text = digits[0] + "." + digits[1:] + "e" + str(kk - 1)
    return sign + text


def tsv_double(value: float) -> str:
    """A ``time``, ``interval`` or ``double`` as Zeek's TSV writer prints it: six decimals, fixed notation."""
    return f"{value:.6f}"
