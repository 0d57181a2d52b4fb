"""Wire schemas to engine types: promotion specs, quote tokens."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from pricepilot.errors import ValidationError
from pricepilot.pricing.quotes import SignedQuote
from pricepilot.promotions import model as pm
from pricepilot.promotions.validation import compile_all
from pricepilot.serving import schemas as s
from pricepilot.serving.adapters import decode_token, encode_token, promotion_from_spec


@pytest.mark.parametrize(
    ("benefit", "kind"),
    [(s.PercentOff(percent=12.5, product_ids=["A"], max_amount=300), pm.PercentOff),
     (s.AmountOff(amount=250, per_item=True), pm.AmountOff),
     (s.FixedPrice(price=999, product_ids=["A"]), pm.FixedPrice),
     (s.BuyXGetY(buy=2, get=1), pm.BuyXGetY),
     (s.FreeShipping(), pm.ShippingDiscount)],
)
def test_every_benefit_maps_to_a_definition_the_engine_accepts(benefit: s.Benefit,
                                                               kind: type) -> None:
    spec = s.PromotionSpec(
        name="x", benefits=[benefit], coupon_code="SAVE", budget=10_000, usage_limit=5,
        per_customer_limit=1, conditions=[s.MinSubtotal(amount=2000), s.InCategories(
            categories=["k"]), s.MinQuantity(quantity=2), s.CustomerSegment(segments=["gold"])],
        starts_at=datetime(2026, 1, 1, tzinfo=timezone.utc))
    p = promotion_from_spec("P", spec, default_currency="EUR")
    assert isinstance(p.benefit, kind)
    assert p.limits.budget == "100.00" and p.limits.max_redemptions == 5
    assert "k" in p.targeting.categories
    assert any(isinstance(c, pm.CouponCode) and c.codes == ["SAVE"] for c in p.conditions)
    compile_all([p], None)  # raises if the engine would refuse it


def test_percentages_keep_their_exact_decimal_text() -> None:
    p = promotion_from_spec("P", s.PromotionSpec(name="x", benefits=[s.PercentOff(percent=0.1)]),
                            default_currency="EUR")
    assert p.benefit.percent == "0.1"  # type: ignore[union-attr]


def test_several_benefits_are_refused_naming_the_field() -> None:
    spec = s.PromotionSpec(name="x", benefits=[s.FreeShipping(), s.AmountOff(amount=1)])
    with pytest.raises(ValidationError) as e:
        promotion_from_spec("P", spec, default_currency="EUR")
    assert e.value.field == "$.benefits"


def test_a_quote_token_round_trips_and_garbage_is_a_value_error() -> None:
    q = SignedQuote(quote_id="q", shopper_id="u", product_id="A", price=999, currency="EUR",
                    expires_at=123, key_id="k1", digest="d" * 64, signature="s" * 64)
    assert decode_token("q", "A", encode_token(q)) == q
    with pytest.raises(ValueError):
        decode_token("q", "A", "not-base64-json")
