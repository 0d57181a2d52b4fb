from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pricepilot.errors import ValidationError
from pricepilot.money import allocate, format_amount, parse_amount, percent_of


def test_parse_amount_reads_major_units_into_minor_units() -> None:
    assert parse_amount("19.99", "EUR") == 1999
    assert parse_amount("1000", "JPY") == 1000
    assert parse_amount("1.234", "KWD") == 1234


@pytest.mark.parametrize("bad", ["19.999", "abc", "", "NaN", "inf"])
def test_parse_amount_refuses_what_is_not_exact_money(bad: str) -> None:
    with pytest.raises(ValidationError):
        parse_amount(bad, "EUR")


def test_parse_amount_refuses_floats_and_unknown_currencies() -> None:
    with pytest.raises(ValidationError, match="float"):
        parse_amount(19.99, "EUR")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="unknown currency 'XXX'"):
        parse_amount("1", "XXX")


def test_format_amount_prints_the_currency_decimals() -> None:
    assert format_amount(5, "EUR") == "0.05"
    assert format_amount(-1999, "USD") == "-19.99"
    assert format_amount(500, "JPY") == "500"


def test_percent_of_rounds_once_with_the_declared_mode() -> None:
    assert percent_of(1750, Decimal(3), "half_up") == 53
    assert percent_of(1750, Decimal(3), "down") == 52


@given(st.integers(-10**9, 10**9), st.lists(st.integers(0, 10**6), min_size=1, max_size=30))
def test_allocate_sums_exactly_and_stays_proportional(total: int, weights: list[int]) -> None:
    parts = allocate(total, weights)
    assert sum(parts) == total
    wsum = sum(weights) or len(weights)
    ws = weights if sum(weights) else [1] * len(weights)
    for p, w in zip(parts, ws):
        assert abs(p - total * w / wsum) < 1 + 1e-9
