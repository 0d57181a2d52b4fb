"""The competitor band is measured against the competitor's regular price: a temporary promotion
(reported with ``on_promotion``) does not drag the shop's price down with it."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pricepilot
from pricepilot.catalog.models import Product
from pricepilot.clock import FixedClock

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=timezone.utc)


def _competitor(event_id: str, at: datetime, price: int, promo: bool) -> dict[str, object]:
    return {"type": "competitor_price", "event_id": event_id, "ts": at, "product_id": "MUG",
            "competitor": "rival", "price": price, "currency": "EUR", "on_promotion": promo}


def test_a_competitor_promotion_does_not_move_the_band_but_a_regular_price_cut_does(tmp_path: Path) -> None:
    clock = FixedClock(T0)
    with pricepilot.open(paths__data_dir=str(tmp_path), clock=clock, warm=False,
                         pricing__exploration=False, pricing__competitor_band=0.15) as shop:
        shop.upsert_products([Product(product_id="MUG", title="Mug", category="kitchen",
                                      list_price=1000, unit_cost=400, currency="EUR")])
        shop.record([_competitor("k1", T0 - timedelta(days=3), 1000, False),
                     _competitor("k2", T0 - timedelta(hours=1), 600, True)])
        q = shop.quote("c1", ["MUG"]).quotes[0]
        band = next(st for st in q.explanation if st.stage == "competitor_band")
        assert "[EUR 8.50, EUR 11.50]" in band.note, band.note  # 15% around the regular 1000, not 600
        assert q.price >= 850
        # the rival cuts its regular price for good: the band follows it
        clock.advance(timedelta(days=1))
        shop.record([_competitor("k3", clock.now() - timedelta(minutes=1), 800, False)])
        q = shop.quote("c2", ["MUG"]).quotes[0]
        band = next(st for st in q.explanation if st.stage == "competitor_band")
        assert "[EUR 6.80, EUR 9.20]" in band.note, band.note
        assert q.price <= 920


def test_a_promotion_day_price_is_not_carried_into_the_next_days_base(tmp_path: Path) -> None:
    clock = FixedClock(T0)
    # seeded exploration: day 2's last price differs from day 1's (checked without the rule)
    with pricepilot.open(paths__data_dir=str(tmp_path), clock=clock, warm=False, seed=1) as shop:
        shop.upsert_products([Product(product_id="MUG", title="Mug", category="kitchen",
                                      list_price=1000, unit_cost=400, currency="EUR")])
        shop.record([_competitor("k1", T0 - timedelta(days=3), 1000, False)])
        day1 = [shop.quote(f"a{i}", ["MUG"]).quotes[0].price for i in range(5)]
        clock.advance(timedelta(days=1))  # the rival runs a promotion all day
        shop.record([_competitor("k2", clock.now() - timedelta(minutes=1), 600, True)])
        day2 = [shop.quote(f"b{i}", ["MUG"]).quotes[0].price for i in range(5)]
        clock.advance(timedelta(days=1))
        in_force = shop.app.base_prices.current("MUG", clock.now(), list_price=1000)
    assert day2[-1] != day1[-1]
    assert in_force == day1[-1]  # the last ordinary day's price, whatever day 2 served
