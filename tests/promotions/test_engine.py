"""Each benefit, condition and stacking rule on small, hand-checked carts."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest

from pricepilot.errors import ValidationError
from pricepilot.promotions import model as m
from pricepilot.promotions.cart import Cart, CartLine, Customer, MarketState, ShippingLine, Usage
from pricepilot.promotions.engine import PromotionEngine, price_cart
from pricepilot.promotions.policy import StackingPolicy

AT = datetime(2026, 3, 2, 12, tzinfo=timezone.utc)  # a Monday


def cart(*lines: tuple[str, int, int], ship: int | None = None, cat: str | None = None) -> Cart:
    return Cart(currency="EUR", lines=[CartLine(sku=s, qty=q, unit_price=p, category=cat) for s, q, p in lines],
                shipping=[ShippingLine(method="std", price=ship)] if ship is not None else [])


def price(promos: list[m.Promotion], c: Cart, policy: StackingPolicy | None = None, **kw: Any) -> Any:
    return PromotionEngine(promos, policy).price_cart(c, kw.pop("customer", None), kw.pop("at", AT),
                                                       kw.pop("codes", ()), **kw)


def P(id: str, benefit: Any, **kw: Any) -> m.Promotion:
    return m.Promotion(id=id, currency="EUR", benefit=benefit, **kw)


def test_percent_off_rounds_per_line_by_default() -> None:
    r = price([P("A", m.PercentOff(percent="10"))], cart(("A", 3, 333)))
    assert r.lines[0].discount == 100  # 99.9 rounded once for the line


def test_amount_off_per_unit_line_and_order() -> None:
    c = cart(("A", 2, 1000), ("B", 1, 500))
    assert price([P("U", m.AmountOff(amount="1.00", per="unit"))], c).discount_total == 300
    assert price([P("L", m.AmountOff(amount="1.00", per="line"))], c).discount_total == 200
    r = price([P("O", m.AmountOff(amount="1.00", per="order"))], c)
    assert [ln.discount for ln in r.lines] == [80, 20]


def test_fixed_price_any_three_for_twenty() -> None:
    r = price([P("F", m.FixedPrice(qty=3, price="20.00"))], cart(("A", 4, 1000)))
    assert r.discount_total == 1000 and r.applied[0].applications == 1


def test_tiered_threshold_takes_the_best_tier_and_hints_the_next() -> None:
    tiers = m.TieredThreshold(tiers=[m.Tier(spend="100", amount="10"), m.Tier(spend="200", amount="25"),
                                     m.Tier(spend="500", amount="80")])
    r = price([P("T", tiers)], cart(("A", 1, 21000)))
    assert r.discount_total == 2500
    assert r.applied[0].hint == "add EUR 290.00 more to get EUR 80.00 off"
    r = price([P("T", tiers)], cart(("A", 1, 8800)))
    assert r.discount_total == 0 and r.not_applied[0].hint == "add EUR 12.00 more to get EUR 10.00 off"


def test_repeating_threshold_every_hundred_with_a_cap() -> None:
    b = m.RepeatingThreshold(step="100", amount="10", cap="25")
    assert price([P("R", b)], cart(("A", 1, 25000))).discount_total == 2000
    assert price([P("R", b)], cart(("A", 1, 99900))).discount_total == 2500


def test_buy_two_get_cheapest_free_repeats_up_to_max_quantity() -> None:
    b = m.BuyXGetY(buy_qty=2, get_qty=1, max_quantity=2)
    r = price([P("B", b)], cart(("A", 3, 1000), ("B", 3, 300)))
    assert r.discount_total == 600  # two 3.00 units free


def test_buy_x_get_most_expensive_half_price_without_repeat() -> None:
    b = m.BuyXGetY(buy_qty=1, get_qty=1, percent="50", which="most_expensive", repeat=False)
    assert price([P("B", b)], cart(("A", 1, 1000), ("B", 1, 300))).discount_total == 500


def test_gift_is_added_only_when_in_stock() -> None:
    g = m.Gift(items=[m.GiftItem(sku="GIFT", unit_price="5.00")])
    promo = P("G", g, conditions=[m.MinSubtotal(amount="20.00")])
    r = price([promo], cart(("A", 1, 3000)), market=MarketState(inventory={"GIFT": 3}))
    assert r.gifts[0].sku == "GIFT" and r.gifts[0].total == 0 and r.total == 3000
    r = price([promo], cart(("A", 1, 3000)), market=MarketState(inventory={"GIFT": 0}))
    assert not r.gifts and r.not_applied[0].reason == "gift_out_of_stock"


def test_bundle_price_for_a_named_set() -> None:
    b = m.Bundle(items={"CAM": 1, "BAG": 1}, price="100.00")
    r = price([P("K", b)], cart(("CAM", 2, 9000), ("BAG", 1, 3000)))
    assert r.discount_total == 2000 and r.applied[0].applications == 1
    r = price([P("K", b)], cart(("CAM", 1, 9000)))
    assert r.not_applied[0].reason == "bundle_incomplete"


def test_free_shipping_over_a_threshold_on_the_running_net() -> None:
    promos = [P("H", m.PercentOff(percent="50")), P("S", m.ShippingDiscount(percent="100"),
                                                    conditions=[m.MinSubtotal(amount="100.00")])]
    r = price(promos, cart(("A", 1, 12000), ship=1000))
    assert r.shipping_discount == 0 and r.not_applied[0].hint == "add EUR 40.00 more to get free shipping"
    r = price(promos, cart(("A", 1, 12000), ship=1000), StackingPolicy(threshold_base="original"))
    assert r.shipping_discount == 1000


def test_compounding_on_running_net_versus_original_price() -> None:
    promos = [P("A", m.PercentOff(percent="10")), P("B", m.PercentOff(percent="10"))]
    assert price(promos, cart(("X", 1, 10000))).discount_total == 1900
    assert price(promos, cart(("X", 1, 10000)), StackingPolicy(compounding="original")).discount_total == 2000


def test_no_line_goes_below_its_minimum_price_and_the_record_matches() -> None:
    c = Cart(currency="EUR", lines=[CartLine(sku="A", qty=1, unit_price=1000, min_price=900)])
    r = price([P("O", m.AmountOff(amount="5.00"))], c)
    assert r.lines[0].total == 900 and r.applied[0].amount == 100


def test_exclusive_promotion_against_best_deal_and_priority() -> None:
    promos = [P("BIG", m.PercentOff(percent="30"), exclusive=True),
              P("S1", m.PercentOff(percent="20"), priority=5), P("S2", m.PercentOff(percent="20"))]
    best = price(promos, cart(("A", 1, 10000)))
    assert [a.id for a in best.applied] == ["S1", "S2"] and best.discount_total == 3600
    assert next(n for n in best.not_applied if n.id == "BIG").reason == "not_combinable"
    prio = price(promos, cart(("A", 1, 10000)), StackingPolicy(best_deal=False))
    assert [a.id for a in prio.applied] == ["BIG"]


def test_combinable_with_lets_an_exclusive_promotion_stack() -> None:
    promos = [P("BIG", m.PercentOff(percent="30"), exclusive=True, combinable_with=["S1"]),
              P("S1", m.AmountOff(amount="1.00"))]
    assert [a.id for a in price(promos, cart(("A", 1, 10000))).applied] == ["BIG", "S1"]


def test_limits_cap_applications_discount_and_budget() -> None:
    u = m.AmountOff(amount="2.00", per="unit")
    assert price([P("A", u, limits=m.Limits(max_applications=2))], cart(("A", 5, 1000))).discount_total == 400
    assert price([P("A", m.AmountOff(amount="50.00"), limits=m.Limits(max_discount_per_application="7.50"))],
                 cart(("A", 1, 10000))).discount_total == 750
    r = price([P("A", u, limits=m.Limits(budget="10.00"))], cart(("A", 5, 1000)), usage=Usage(spent={"A": 700}))
    assert r.discount_total == 300
    r = price([P("A", u, limits=m.Limits(max_redemptions=3))], cart(("A", 1, 1000)), usage=Usage(redemptions={"A": 3}))
    assert r.not_applied[0].reason == "used_up"


@pytest.mark.parametrize(("cond", "customer", "market", "ok"), [
    (m.CustomerSegment(segments=["vip"]), Customer(tier="vip"), None, True),
    (m.CustomerSegment(segments=["vip"]), Customer(segment="new"), None, False),
    (m.NewCustomer(), Customer(new_customer=True), None, True),
    (m.FirstOrder(), Customer(order_count=2), None, False),
    (m.Channel(channels=["app"]), Customer(channel="app"), None, True),
    (m.Holiday(names=["Easter"]), None, MarketState(holidays=["Easter"]), True),
    (m.Holiday(), None, MarketState(), False),
    (m.CompetitorPromotion(scope="product"), None, MarketState(competitor_skus=["A"]), True),
    (m.CompetitorPromotion(scope="category"), None, MarketState(competitor_skus=["A"]), False),
    (m.DistinctSkus(count=2), None, None, False),
])
def test_customer_calendar_and_market_conditions(cond: Any, customer: Any, market: Any, ok: bool) -> None:
    r = price([P("C", m.PercentOff(percent="10"), conditions=[cond])], cart(("A", 1, 1000)),
              customer=customer, market=market)
    assert bool(r.applied) is ok


def test_recurring_flash_sale_window_is_in_the_shop_time_zone() -> None:
    promo = P("FLASH", m.PercentOff(percent="10"), conditions=[m.RecurringWindow(start="20:00", end="22:00")])
    pol = StackingPolicy(timezone="Europe/Berlin")
    at_2030_berlin = datetime(2026, 3, 2, 19, 30, tzinfo=timezone.utc)
    assert price([promo], cart(("A", 1, 1000)), pol, at=at_2030_berlin).applied
    assert not price([promo], cart(("A", 1, 1000)), at=at_2030_berlin).applied  # 19:30 UTC
    late = P("LATE", m.PercentOff(percent="10"),
             conditions=[m.RecurringWindow(start="23:00", end="01:00", days=["mon"])])
    assert price([late], cart(("A", 1, 1000)), at=datetime(2026, 3, 3, 0, 30, tzinfo=timezone.utc)).applied


def test_absolute_time_window() -> None:
    promo = P("W", m.PercentOff(percent="10"), starts_at=datetime(2026, 3, 1), ends_at=datetime(2026, 3, 2))
    assert price([promo], cart(("A", 1, 1000))).not_applied[0].reason == "ended"


@pytest.mark.parametrize(("coupon", "usage", "customer", "error"), [
    (m.CouponCode(codes=["SAVE"], ends_at=datetime(2026, 1, 1)), None, None, "expired"),
    (m.CouponCode(codes=["SAVE"], starts_at=datetime(2026, 5, 1)), None, None, "not_yet_valid"),
    (m.CouponCode(codes=["SAVE"], max_uses=1), Usage(coupon_uses={"SAVE": 1}), None, "used_up"),
    (m.CouponCode(codes=["SAVE"], customer_ids=["c1"]), None, Customer(id="c2"), "not_for_customer"),
])
def test_coupon_errors_are_specific(coupon: Any, usage: Any, customer: Any, error: str) -> None:
    r = price([P("C", m.PercentOff(percent="10"), conditions=[coupon])], cart(("A", 1, 1000)),
              codes=["save"], usage=usage, customer=customer)
    assert r.coupons[0].error == error and not r.applied


def test_coupon_unknown_and_cart_does_not_qualify_and_case_insensitive_success() -> None:
    promo = P("C", m.PercentOff(percent="10"), conditions=[m.CouponCode(codes=["Save"]), m.MinQuantity(qty=2)])
    assert price([promo], cart(("A", 1, 1000)), codes=["nope"]).coupons[0].error == "unknown"
    assert price([promo], cart(("A", 1, 1000)), codes=["SAVE"]).coupons[0].error == "cart_does_not_qualify"
    r = price([promo], cart(("A", 2, 1000)), codes=[" save "])
    assert r.coupons[0].status == "applied" and r.applied[0].coupon_code == "SAVE"
    assert price([promo], cart(("A", 2, 1000))).not_applied[0].reason == "coupon_required"


def test_targeting_with_exclusions() -> None:
    t = m.Targeting(categories=["shoes"], exclude_skus=["B"])
    c = Cart(currency="EUR", lines=[CartLine(sku="A", qty=1, unit_price=1000, category="shoes"),
                                    CartLine(sku="B", qty=1, unit_price=1000, category="shoes")])
    r = price([P("T", m.PercentOff(percent="10"), targeting=t)], c)
    assert [ln.discount for ln in r.lines] == [100, 0]


def test_bad_cart_input_is_refused() -> None:
    with pytest.raises(ValidationError, match="qty"):
        price([], cart(("A", 0, 1000)))
    with pytest.raises(ValidationError, match="unit_price"):
        price([], cart(("A", 1, -5)))


def test_module_level_price_cart_matches_the_engine() -> None:
    promos = [P("A", m.PercentOff(percent="10"))]
    assert price_cart(cart(("A", 1, 1000)), None, AT, promotions=promos).total == 900
