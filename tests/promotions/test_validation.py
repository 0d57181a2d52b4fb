"""Every validation rule refuses bad input with an error naming the promotion and field."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from pricepilot.errors import ValidationError
from pricepilot.promotions import model as m
from pricepilot.promotions.validation import Catalog, compile_all, compile_promotion

CATALOG = Catalog(skus=frozenset({"A", "B"}), categories=frozenset({"shoes"}), brands=frozenset({"acme"}))


def refuse(p: m.Promotion, field: str, words: str, catalog: Catalog | None = None) -> None:
    with pytest.raises(ValidationError) as e:
        compile_promotion(p, catalog)
    assert e.value.field == field
    assert words in e.value.reason
    assert p.id in e.value.entity


def promo(**kw: object) -> m.Promotion:
    kw.setdefault("benefit", m.PercentOff(percent="10"))
    return m.Promotion(id="P", **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize("pct", ["0", "-5", "100.01", "1000", "abc"])
def test_a_percent_outside_zero_to_hundred_is_refused(pct: str) -> None:
    refuse(promo(benefit=m.PercentOff(percent=pct)), "benefit.percent", "" if pct == "abc" else "(0, 100]")


def test_exactly_one_hundred_percent_is_allowed() -> None:
    assert compile_promotion(promo(benefit=m.PercentOff(percent="100"))).percents["percent"] == 100


def test_an_end_before_the_start_is_refused() -> None:
    refuse(promo(starts_at=datetime(2026, 2, 1, tzinfo=timezone.utc), ends_at=datetime(2026, 1, 1, tzinfo=timezone.utc)),
           "ends_at", "before it starts")


def test_an_unknown_sku_category_or_brand_is_refused_against_the_catalog() -> None:
    refuse(promo(targeting=m.Targeting(skus=["ZZ"])), "targeting.skus", "unknown sku", CATALOG)
    refuse(promo(targeting=m.Targeting(categories=["hats"])), "targeting.categories", "unknown category", CATALOG)
    refuse(promo(targeting=m.Targeting(exclude_brands=["nope"])), "targeting.brands", "unknown brand", CATALOG)
    refuse(promo(benefit=m.Bundle(items={"A": 1, "Q": 1}, price="5.00")), "benefit.items", "unknown sku", CATALOG)
    refuse(promo(benefit=m.Gift(items=[m.GiftItem(sku="Q", unit_price="1.00")])), "benefit.items", "unknown sku", CATALOG)


def test_an_amount_with_more_decimals_than_the_currency_is_refused() -> None:
    refuse(promo(benefit=m.AmountOff(amount="5.555")), "benefit.amount", "more than 2 decimals")
    refuse(m.Promotion(id="P", currency="JPY", benefit=m.AmountOff(amount="5.5")), "benefit.amount", "more than 0 decimals")
    refuse(promo(limits=m.Limits(budget="10.001")), "limits.budget", "decimals")


def test_a_repeating_buy_x_get_y_without_a_cap_is_refused() -> None:
    refuse(promo(benefit=m.BuyXGetY(buy_qty=2, repeat=True)), "benefit.max_quantity", "needs a max_quantity")


def test_non_positive_amounts_and_counts_are_refused() -> None:
    refuse(promo(benefit=m.AmountOff(amount="0")), "benefit.amount", "positive")
    refuse(promo(benefit=m.FixedPrice(qty=0, price="20.00")), "benefit.qty", ">= 1")
    refuse(promo(limits=m.Limits(max_redemptions=0)), "limits.max_redemptions", ">= 1")
    refuse(promo(conditions=[m.MinQuantity(qty=0)]), "conditions[0].qty", ">= 1")


def test_tiers_must_increase_and_name_one_benefit() -> None:
    refuse(promo(benefit=m.TieredThreshold(tiers=[m.Tier(spend="200", amount="25"), m.Tier(spend="100", amount="10")])),
           "benefit.tiers[1].spend", "increasing")
    refuse(promo(benefit=m.TieredThreshold(tiers=[m.Tier(spend="100")])), "benefit.tiers[0]", "exactly one")
    refuse(promo(benefit=m.TieredThreshold(tiers=[])), "benefit.tiers", "at least one")


def test_shipping_needs_one_of_percent_or_amount() -> None:
    refuse(promo(benefit=m.ShippingDiscount()), "benefit", "exactly one")


def test_an_unknown_currency_is_refused() -> None:
    refuse(m.Promotion(id="P", currency="XXX", benefit=m.PercentOff(percent="5")), "currency", "unknown currency")


def test_bad_recurring_windows_are_refused() -> None:
    refuse(promo(conditions=[m.RecurringWindow(start="25:00", end="22:00")]), "conditions[0].start", "HH:MM")
    refuse(promo(conditions=[m.RecurringWindow(start="20:00", end="22:00", days=["funday"])]), "conditions[0].days", "unknown day")
    refuse(promo(conditions=[m.RecurringWindow(start="20:00", end="20:00")]), "conditions[0]", "start != end")


def test_coupon_conditions_are_checked() -> None:
    refuse(promo(conditions=[m.CouponCode(codes=[])]), "conditions[0].codes", "at least one")
    refuse(promo(conditions=[m.CouponCode(codes=["  "])]), "conditions[0].codes", "empty")


def test_an_empty_segment_list_and_impossible_distinct_count_are_refused() -> None:
    refuse(promo(conditions=[m.CustomerSegment(segments=[])]), "conditions[0]", "at least one")
    refuse(promo(conditions=[m.DistinctSkus(count=3, skus=["A", "B"])]), "conditions[0].count", "more distinct")


def test_shipping_benefits_only_run_in_the_shipping_stage() -> None:
    refuse(promo(benefit=m.ShippingDiscount(percent="100"), stage="order"), "stage", "shipping stage")
    refuse(promo(stage="shipping"), "stage", "only a shipping benefit")


def test_a_set_refuses_duplicate_ids_shared_codes_and_unknown_references() -> None:
    a = m.Promotion(id="A", benefit=m.PercentOff(percent="5"))
    with pytest.raises(ValidationError, match="duplicate"):
        compile_all([a, a])
    c1 = m.Promotion(id="C1", benefit=m.PercentOff(percent="5"), conditions=[m.CouponCode(codes=["save"])])
    c2 = m.Promotion(id="C2", benefit=m.PercentOff(percent="5"), conditions=[m.CouponCode(codes=["SAVE"])])
    with pytest.raises(ValidationError, match="already used"):
        compile_all([c1, c2])
    with pytest.raises(ValidationError, match="unknown promotion"):
        compile_all([m.Promotion(id="X", benefit=m.PercentOff(percent="5"), combinable_with=["NOPE"])])


@pytest.mark.parametrize(("p", "field", "words"), [
    (promo(conditions=[m.CouponCode(codes=["A"], starts_at=datetime(2026, 2, 1), ends_at=datetime(2026, 1, 1))]),
     "conditions[0].ends_at", "before it starts"),
    (promo(conditions=[m.CouponCode(codes=["A"]), m.CouponCode(codes=["B"])]), "conditions[1]", "only one coupon"),
    (promo(conditions=[m.CouponCode(codes=["A"], max_uses=0)]), "conditions[0].max_uses", ">= 1"),
    (promo(benefit=m.Gift(items=[])), "benefit.items", "at least one gift"),
    (promo(benefit=m.Bundle(items={}, price="5.00")), "benefit.items", "at least one SKU"),
    (promo(benefit=m.Bundle(items={"A": 0}, price="5.00")), "benefit.items.A", ">= 1"),
    (promo(benefit=m.BuyXGetY(buy_qty=1, percent="50", amount="1.00", repeat=False)), "benefit", "not both"),
    (promo(benefit=m.BuyXGetY(buy_qty=0, repeat=False)), "benefit.buy_qty", ">= 1"),
    (promo(benefit=m.AmountOff(amount="1.00", per="unit", include_shipping=True)), "benefit.include_shipping",
     "order-level"),
    (promo(benefit=m.PercentOff(percent="10", max_units=0)), "benefit.max_units", ">= 1"),
    (promo(benefit=m.TieredThreshold(tiers=[m.Tier(spend="100", percent="120")])), "benefit.tiers[0].percent",
     "(0, 100]"),
    (promo(benefit=m.RepeatingThreshold(step="0", amount="1")), "benefit.step", "positive"),
    (promo(benefit=m.RepeatingThreshold(step="100", amount="10", cap="1.234")), "benefit.cap", "decimals"),
    (promo(limits=m.Limits(max_discount_per_application="0")), "limits.max_discount_per_application", "positive"),
    (promo(benefit=m.PercentOff(percent=12.5)), "benefit.percent", "not a float"),  # type: ignore[arg-type]
])
def test_more_bad_definitions_are_refused(p: m.Promotion, field: str, words: str) -> None:
    refuse(p, field, words)


def test_an_empty_promotion_id_is_refused() -> None:
    with pytest.raises(ValidationError, match="must not be empty"):
        compile_promotion(m.Promotion(id=" ", benefit=m.PercentOff(percent="5")))
