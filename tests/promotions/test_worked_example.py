"""The product brief's worked example, as written in examples/promotions/brief.yaml:
high-value shoppers get 5% off; on holidays everything is 20% off; while a competitor runs a
promotion, spend 100 get 20 off — and how the three stack under the default policy.

Default policy: item stage first (HOLIDAY20, priority 20, then VIP5, priority 10, compounding on
the running net), then the order stage, whose spend threshold is checked on the running net.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from pricepilot.promotions.cart import Cart, CartLine, Customer, MarketState
from pricepilot.promotions.engine import PromotionEngine
from pricepilot.promotions.loader import load_promotions

BRIEF = Path(__file__).resolve().parents[2] / "examples" / "promotions" / "brief.yaml"
AT = datetime(2026, 12, 25, 10, tzinfo=timezone.utc)
VIP = Customer(id="c1", segment="high_value")
ALL_ON = MarketState(holidays=["Christmas Day"], competitor_categories=["outdoor"])


def price(total_minor: int, customer: Customer, market: MarketState):  # type: ignore[no-untyped-def]
    engine = PromotionEngine(load_promotions(BRIEF))
    cart = Cart(currency="EUR", lines=[CartLine(sku="TENT", qty=1, unit_price=total_minor, category="outdoor")])
    return engine.price_cart(cart, customer, AT, market=market)


def test_all_three_stack_holiday_then_vip_then_spend_threshold_on_the_running_net() -> None:
    r = price(20000, VIP, ALL_ON)
    # 200.00 -20% = 160.00; -5% = 152.00; 152.00 >= 100 so -20.00 = 132.00
    assert [(a.id, a.amount) for a in r.applied] == [("HOLIDAY20", 4000), ("VIP5", 800), ("COMPETE100", 2000)]
    assert r.total == 13200


def test_the_threshold_is_missed_when_earlier_discounts_take_the_cart_below_one_hundred() -> None:
    r = price(12800, VIP, ALL_ON)
    # 128.00 -> 102.40 -> 97.28 < 100: no 20 off, with a hint
    assert [a.id for a in r.applied] == ["HOLIDAY20", "VIP5"] and r.total == 9728
    na = {n.id: n for n in r.not_applied}
    assert na["COMPETE100"].hint == "add EUR 2.72 more to get EUR 20.00 off"


def test_each_promotion_alone() -> None:
    assert [a.id for a in price(20000, VIP, MarketState()).applied] == ["VIP5"]
    assert [a.id for a in price(20000, Customer(), MarketState(holidays=["Easter"])).applied] == ["HOLIDAY20"]
    r = price(20000, Customer(), MarketState(competitor_categories=["outdoor"]))
    assert [a.id for a in r.applied] == ["COMPETE100"] and r.total == 18000
    r = price(20000, Customer(segment="casual"), MarketState())
    assert not r.applied and {n.reason for n in r.not_applied} == {"segment", "no_holiday", "no_competitor_promotion"}
