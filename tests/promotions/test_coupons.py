"""Coupon generation and validation."""

from __future__ import annotations

import random
from datetime import datetime, timezone

import pytest

from pricepilot.errors import ValidationError
from pricepilot.promotions import model as m
from pricepilot.promotions.cart import Cart, CartLine
from pricepilot.promotions.coupons import ALPHABET, CouponError, generate_codes, validate_coupon
from pricepilot.promotions.engine import PromotionEngine


def test_generated_codes_are_distinct_unambiguous_and_avoid_existing_ones() -> None:
    codes = generate_codes(500, length=6, existing=["abcdef"], rng=random.Random(7))
    assert len(set(codes)) == 500
    assert not set("".join(codes)) & set("01OIL")
    assert set("".join(codes)) <= set(ALPHABET)


def test_generation_refuses_impossible_requests() -> None:
    with pytest.raises(ValidationError):
        generate_codes(5, length=3)
    with pytest.raises(ValidationError):
        generate_codes(-1)


def test_validate_coupon_returns_the_promotion_or_a_specific_error() -> None:
    engine = PromotionEngine([m.Promotion(id="P", currency="EUR", benefit=m.PercentOff(percent="10"),
                                          conditions=[m.CouponCode(codes=["WELCOME"]), m.MinQuantity(qty=2)])])
    at = datetime(2026, 1, 1, tzinfo=timezone.utc)
    two = Cart(currency="EUR", lines=[CartLine(sku="A", qty=2, unit_price=100)])
    assert validate_coupon(engine, "welcome", two, at=at) == "P"
    with pytest.raises(CouponError) as e:
        validate_coupon(engine, "WELCOME", Cart(currency="EUR", lines=[CartLine(sku="A", qty=1, unit_price=100)]), at=at)
    assert e.value.reason == "cart_does_not_qualify"
    with pytest.raises(CouponError) as e:
        validate_coupon(engine, "other", two, at=at)
    assert e.value.reason == "unknown"
