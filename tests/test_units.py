"""Human units: parsing, formatting, exact round trips, and arbitrary input."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hpadvisor.errors import HpAdvisorError, InvalidInputError
from hpadvisor.spec import units


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("7B", 7e9), ("7b", 7e9), ("1.4T", 1.4e12), ("2e21", 2e21), ("125M", 125e6), ("125m", 125e6),
        ("4k", 4e3), ("1.3 B", 1.3e9), ("1_000", 1000.0), ("7G", 7e9), ("1P", 1e15), ("2Ki", 2048.0),
        (7e9, 7e9), (12, 12.0), ("  3.5B  ", 3.5e9), (".5M", 5e5),
    ],
)
def test_parse_count(text, expected):
    assert units.parse_count(text, name="x") == expected


@pytest.mark.parametrize(("text", "expected"), [("4k", 4096), ("32k", 32768), ("2048", 2048), (4096, 4096),
                                                ("1M", 1048576), ("4Ki", 4096)])
def test_sequence_lengths_use_binary_k(text, expected):
    assert units.parse_seq_len(text) == expected


@pytest.mark.parametrize(
    ("text", "value", "unit"),
    [("512 seqs", 512.0, "sequences"), ("4M tokens", 4e6, "tokens"), ("1024 sequences", 1024.0, "sequences"),
     ("2e21 FLOPs", 2e21, "FLOPs"), ("4 tokens", 4.0, "tokens"), ("7 samples", 7.0, "sequences")],
)
def test_parse_quantity_with_unit_words(text, value, unit):
    got, got_unit = units.parse_quantity(text, name="batch", units=("tokens", "sequences", "FLOPs"))
    assert (got, got_unit) == (value, unit)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("7Q", "unknown unit suffix 'Q'"),
        ("abc", "is not a number"),
        ("", "is not a number"),
        ("nan", "is not a number"),
        (float("nan"), "not a finite number"),
        (float("inf"), "not a finite number"),
        ("1e999", "not a finite number"),
        (0, "must be > 0"),
        ("-7B", "must be > 0"),
        (True, "must be a number"),
        ([1, 2], "must be a number"),
        ("4Mtokens", "unknown unit suffix"),
        ("7 parsecs", "unknown unit"),
    ],
)
def test_bad_counts_are_one_clear_line(text, fragment):
    with pytest.raises(InvalidInputError) as err:
        units.parse_count(text, name="model.params")
    msg = str(err.value)
    assert fragment in msg and "\n" not in msg and "model.params" in msg


def test_a_unit_word_is_refused_where_none_is_accepted():
    with pytest.raises(InvalidInputError, match="unknown unit 'tokens'"):
        units.parse_count("7B tokens", name="model.params")


@given(st.floats(min_value=1e-300, max_value=1e300, allow_nan=False, allow_infinity=False))
def test_format_count_round_trips_exactly(x):
    assert units.parse_count(units.format_count(x), name="x") == x


@given(st.integers(min_value=1, max_value=10**18))
def test_integer_counts_round_trip(n):
    assert units.parse_count(units.format_count(float(n)), name="x") == float(n)


@given(st.one_of(st.text(max_size=30), st.floats(), st.integers(), st.booleans(), st.none(),
                 st.lists(st.integers(), max_size=2)))
def test_arbitrary_input_raises_our_error_or_parses(value):
    try:
        out = units.parse_count(value, name="x")
    except HpAdvisorError as exc:
        assert "\n" not in str(exc)
    else:
        assert math.isfinite(out) and out > 0


@given(st.text(max_size=30))
def test_arbitrary_seq_len_text(value):
    try:
        out = units.parse_seq_len(value)
    except HpAdvisorError:
        return
    assert isinstance(out, int) and out > 0


def test_display_formats():
    assert units.format_si(7e9) == "7B"
    assert units.format_si(1.1077e6) == "1.11M"
    assert units.format_si(999.96e6) == "1B"
    assert units.format_sci(1.632e-3) == "1.63e-03"
    assert units.format_si(float("nan")) == "n/a"
