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


# Issue #13 point 13: one way to say money per interface (docs/money.md): text for people
# names the currency and uses major units; wire and JSON stay integer minor units.

def test_point13_format_money_says_major_units_after_the_currency() -> None:
    from pricepilot.money import format_money

    assert format_money(9284, "EUR") == "EUR 92.84"
    assert format_money(-150, "EUR") == "EUR -1.50"
    assert format_money(1999, "JPY") == "JPY 1999"
    assert format_money(1234, "KWD") == "KWD 1.234"
    assert format_money(45.678, "EUR") == "EUR 0.4568"  # an expected value keeps two more digits


def test_point13_explanation_notes_carry_the_currency() -> None:
    from pricepilot.catalog.models import Guardrails
    from pricepilot.pricing.guardrails import GuardrailSpec, stage_rules
    from pricepilot.pricing.issuing import smoothing_rule

    spec = GuardrailSpec.build(Guardrails(floor=9284, ceiling=15000), cost=5000, currency="EUR",
                               competitor_price=10000, current_price=10000,
                               competitor_band=0.15, max_change=0.1)
    rules = stage_rules(spec)
    assert rules["margin_floor"] == "margin floor EUR 92.84"
    assert rules["ceiling"] == "ceiling EUR 150.00"
    assert rules["competitor_band"] == "within [EUR 85.00, EUR 115.00] of the competitor price"
    assert rules["max_change"] == "daily change within [EUR 90.00, EUR 110.00]"
    assert smoothing_rule(2158, 0.5, "EUR") == "p_cur EUR 21.58 + 0.5 (p_opt - p_cur)"


def test_point13_cart_price_prints_major_units_with_the_currency() -> None:
    import json
    from pathlib import Path

    from typer.testing import CliRunner

    from pricepilot.cli.main import app

    root = Path(__file__).resolve().parents[1] / "examples" / "promotions"
    args = ["cart", "price", "--cart", str(root / "cart.json"), "--promotions",
            str(root / "brief.yaml"), "--at", "2026-12-25T10:00:00+00:00"]
    res = CliRunner().invoke(app, args, env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    assert "EUR 97.28" in res.output and "9728" not in res.output  # the total, for people
    assert "add EUR 2.72 more to get EUR 20.00 off" in res.output  # the hint too
    # JSON (the wire form) stays integer minor units beside the currency code
    out = json.loads(CliRunner().invoke(app, [*args, "--json"]).output)
    assert out["total"] == 9728 and out["currency"] == "EUR"
