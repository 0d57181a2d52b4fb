"""An order whose coupon ran out of uses is refused (409), never confirmed at full price."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from pricepilot.errors import Conflict
from pricepilot.promotions import model as m
from pricepilot.promotions.cart import Cart, CartLine, Customer, Usage
from pricepilot.promotions.engine import PromotionEngine
from pricepilot.serving.orders import refuse_exhausted_coupons

AT = datetime(2026, 3, 1, 12, tzinfo=timezone.utc)
CART = Cart(currency="EUR", lines=[CartLine(sku="MUG", qty=1, unit_price=1000)])


def _price(limits: m.Limits, usage: Usage, coupon: m.CouponCode | None = None,
           code: str = "FIFTY") -> object:
    promo = m.Promotion(id="P1", name="10% off", benefit=m.PercentOff(percent="10"),
                        currency="EUR", conditions=[coupon or m.CouponCode(codes=["FIFTY"])],
                        limits=limits)
    return PromotionEngine([promo]).price_cart(CART, Customer(id="u1"), AT, [code], usage=usage)


def test_a_coupon_within_its_limits_lets_the_order_through() -> None:
    priced = _price(m.Limits(max_redemptions=50), Usage(redemptions={"P1": 49}))
    refuse_exhausted_coupons(priced)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("limits", "usage", "coupon"),
    [
        (m.Limits(max_redemptions=50), Usage(redemptions={"P1": 50}), None),
        (m.Limits(budget="10.00"), Usage(spent={"P1": 1000}), None),
        (m.Limits(max_redemptions_per_customer=1), Usage(customer_redemptions={"P1": 1}), None),
        (m.Limits(), Usage(coupon_uses={"FIFTY": 3}), m.CouponCode(codes=["FIFTY"], max_uses=3)),
    ],
    ids=["promotion-redemptions", "budget", "per-customer", "coupon-uses"],
)
def test_a_coupon_whose_limit_ran_out_refuses_the_order_with_a_conflict(
    limits: m.Limits, usage: Usage, coupon: m.CouponCode | None
) -> None:
    priced = _price(limits, usage, coupon)
    with pytest.raises(Conflict, match="coupon 'FIFTY'.*not placed") as e:
        refuse_exhausted_coupons(priced)  # type: ignore[arg-type]
    assert e.value.http_status == 409


def test_a_coupon_the_cart_does_not_qualify_for_is_not_a_conflict() -> None:
    priced = _price(m.Limits(), Usage(), m.CouponCode(codes=["FIFTY"]), code="UNKNOWN")
    refuse_exhausted_coupons(priced)  # type: ignore[arg-type]


def test_the_engine_backend_refuses_an_order_once_its_coupon_is_used_up(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from .conftest import AD, SF
    from .engine_support import engine_client, engine_settings

    with engine_client(engine_settings(tmp_path)) as (client, _):
        r = client.post("/v1/admin/promotions", headers=AD, json={
            "name": "one use", "benefits": [{"type": "percent_off", "percent": 10}],
            "coupon_code": "ONCE", "usage_limit": 1})
        assert r.status_code == 201, r.text

        def order(oid: str) -> dict[str, object]:
            return {"order_id": oid, "currency": "EUR", "coupons": ["ONCE"],
                    "lines": [{"product_id": "SKU-1", "quantity": 1}]}

        first = client.post("/v1/orders", headers=SF, json=order("o-1"))
        assert first.status_code == 201 and first.json()["redemptions"], first.text
        second = client.post("/v1/orders", headers=SF, json=order("o-2"))
        assert second.status_code == 409, second.text
        assert "ONCE" in second.json()["message"]
        # the refused order was not stored: sending it again is refused again, not replayed
        assert client.post("/v1/orders", headers=SF, json=order("o-2")).status_code == 409
        assert client.post("/v1/orders", headers=SF, json=order("o-1")).json()["replayed"] is True
