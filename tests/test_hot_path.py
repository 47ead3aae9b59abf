"""The bulk shortcuts of the hot path give exactly what the per-value rules give."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from workflows.render import BlockConverter, _numbers_repr, _numbers_text
from workflows.schema import Column

numbers = st.one_of(
    st.none(),
    st.integers(min_value=-(2**63), max_value=2**64 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.floats(min_value=1e-6, max_value=2e-4),  # where orjson and repr write floats differently
    st.floats(min_value=1e15, max_value=1e17),
)


@settings(max_examples=300)
@given(st.lists(numbers, min_size=1, max_size=40))
def test_a_column_of_numbers_renders_as_repr(values: list) -> None:
    texts = _numbers_text(values)
    expected = ["" if v is None else repr(v) for v in values]
    assert (texts or _numbers_repr(values)) == expected


def test_exponents_and_tiny_floats_fall_back_to_repr() -> None:
    assert _numbers_text([1.5, 2.5e-05]) is None
    assert _numbers_text([1e16]) is None
    assert _numbers_text([2**70]) is None  # beyond orjson's 64-bit integers
    assert _numbers_text([1, None, 0.0001, 1591367999.305988]) == ["1", "", "0.0001", "1591367999.305988"]


def test_a_line_with_two_closing_braces_still_goes_through_the_separator_check() -> None:
    # Each line looks like one object, yet the second holds two: the block must not parse as a whole.
    block = b'{"uid":"a"}\n{"uid":"b"},{"uid":"c"}\n{"uid":"d\\n}"}\n'
    result = BlockConverter([Column("uid", "string")], "x").convert(block, 0)
    assert (result.rows, result.rejected) == (2, 1)
    assert result.csv == b'a\n"d\n}"\n'
