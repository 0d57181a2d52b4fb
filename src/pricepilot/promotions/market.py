"""Build the engine's :class:`MarketState` from events: holidays from calendar events, competitor
promotions from competitor price events, gift stock from inventory events.

>>> from datetime import date, datetime, timezone
>>> from pricepilot.events.schemas import Calendar, CompetitorPrice
>>> at = datetime(2026, 12, 25, 10, tzinfo=timezone.utc)
>>> evs = [Calendar(event_id="e1", ts=at, day=date(2026, 12, 25), name="Christmas Day"),
...        CompetitorPrice(event_id="e2", ts=at, product_id="TENT", competitor="rival", price=9900,
...                        currency="EUR", on_promotion=True)]
>>> m = market_state(evs, at, categories={"TENT": "outdoor"})
>>> m.holidays, m.competitor_skus, m.competitor_categories
(['Christmas Day'], ['TENT'], ['outdoor'])
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from pricepilot.events.schemas import Calendar, CompetitorPrice, Inventory
from pricepilot.promotions.cart import MarketState


def market_state(
    events: Iterable[object],
    at: datetime,
    *,
    timezone: str = "UTC",
    categories: Mapping[str, str | None] | None = None,
    region: str | None = None,
    competitor_max_age: timedelta = timedelta(days=2),
) -> MarketState:
    """The market as of ``at`` (events after ``at`` are ignored).

    A competitor promotes a product when its latest price observation within
    ``competitor_max_age`` says ``on_promotion``; ``categories`` maps product ids to categories so
    the category-level condition can see it. A holiday counts on its day in the shop's time zone,
    for ``region`` when the event names one.
    """
    if at.tzinfo is None:
        raise ValueError("market_state needs a timezone-aware time")
    today = at.astimezone(ZoneInfo(timezone)).date()
    holidays: set[str] = set()
    latest_comp: dict[tuple[str, str], CompetitorPrice] = {}
    stock: dict[str, Inventory] = {}
    for e in events:
        ts = getattr(e, "ts", None)
        if ts is None or ts > at:
            continue
        if isinstance(e, Calendar):
            if e.kind == "holiday" and e.day == today and (e.region is None or region is None or e.region == region):
                holidays.add(e.name)
        elif isinstance(e, CompetitorPrice):
            key = (e.product_id, e.competitor)
            if key not in latest_comp or latest_comp[key].ts <= ts:
                latest_comp[key] = e
        elif isinstance(e, Inventory):
            if e.product_id not in stock or stock[e.product_id].ts <= ts:
                stock[e.product_id] = e
    promoted = {p for (p, _), e in latest_comp.items() if e.on_promotion and at - e.ts <= competitor_max_age}
    cats = {categories.get(p) for p in promoted} - {None} if categories else set()
    return MarketState(
        holidays=sorted(holidays),
        competitor_skus=sorted(promoted),
        competitor_categories=sorted(c for c in cats if c is not None),
        inventory={p: e.stock for p, e in sorted(stock.items())},
    )
