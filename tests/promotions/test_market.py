"""MarketState from calendar, competitor and inventory events."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from pricepilot.events.schemas import Calendar, CompetitorPrice, Inventory
from pricepilot.promotions.market import market_state

AT = datetime(2026, 12, 24, 23, 30, tzinfo=timezone.utc)  # already the 25th in Berlin


def comp(i: int, product: str, on: bool, ts: datetime) -> CompetitorPrice:
    return CompetitorPrice(event_id=f"c{i}", ts=ts, product_id=product, competitor="rival", price=100,
                           currency="EUR", on_promotion=on)


def test_holidays_count_on_their_day_in_the_shop_time_zone_and_region() -> None:
    evs = [Calendar(event_id="h1", ts=AT - timedelta(days=30), day=date(2026, 12, 25), name="Christmas Day"),
           Calendar(event_id="h2", ts=AT - timedelta(days=30), day=date(2026, 12, 25), name="Local", region="BY")]
    assert market_state(evs, AT).holidays == []
    assert market_state(evs, AT, timezone="Europe/Berlin").holidays == ["Christmas Day", "Local"]
    assert market_state(evs, AT, timezone="Europe/Berlin", region="HH").holidays == ["Christmas Day"]


def test_the_latest_recent_competitor_observation_decides_and_future_events_are_ignored() -> None:
    evs = [comp(1, "A", True, AT - timedelta(hours=5)), comp(2, "A", False, AT - timedelta(hours=1)),
           comp(3, "B", True, AT - timedelta(hours=1)), comp(4, "C", True, AT - timedelta(days=5)),
           comp(5, "D", True, AT + timedelta(hours=1))]
    m = market_state(evs, AT, categories={"B": "tents"})
    assert m.competitor_skus == ["B"] and m.competitor_categories == ["tents"]


def test_inventory_is_the_latest_stock_level() -> None:
    evs = [Inventory(event_id="i1", ts=AT - timedelta(hours=2), product_id="GIFT", stock=5),
           Inventory(event_id="i2", ts=AT - timedelta(hours=1), product_id="GIFT", stock=0)]
    assert market_state(evs, AT).inventory == {"GIFT": 0}
