"""The market as of now (calendar, competitor promotions, latest stock) read from the event log.

Carts read it for calendar- and competitor-triggered promotions and gift stock; quotes read the
latest stock of each product from it (inventory events), so the inventory LP prices what is
really left. One read of the last :data:`WINDOW` of market events, cached for ``ttl_seconds``
and dropped when this process ingests a market event.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import date, datetime, timedelta

from pricepilot.clock import from_micros
from pricepilot.events.schemas import Calendar, CompetitorPrice, Inventory
from pricepilot.promotions.cart import MarketState
from pricepilot.promotions.market import market_state
from pricepilot.store.base import Store

TYPES = ("calendar", "competitor_price", "inventory")
WINDOW = timedelta(days=7)  # calendar and stock events older than this are not read


class MarketView:
    def __init__(self, store: Store, categories: Callable[[], Mapping[str, str | None]], *,
                 timezone: str, ttl_seconds: float = 1.0) -> None:
        self.store = store
        self.categories = categories
        self.timezone = timezone
        self.ttl_seconds = ttl_seconds
        self._cached: tuple[float, MarketState] | None = None

    def invalidate(self) -> None:
        self._cached = None

    def state(self, now: datetime) -> MarketState:
        cached = self._cached
        mono = time.monotonic()
        if cached is not None and mono - cached[0] < self.ttl_seconds:
            return cached[1]
        frame = self.store.events_frame(types=list(TYPES), since=now - WINDOW,
                                        until=now + timedelta(microseconds=1))
        events: list[object] = []
        for r in frame.to_dict("records"):
            ts = from_micros(int(r["ts"]))
            if r["type"] == "calendar":
                events.append(Calendar(event_id=r["event_id"], ts=ts,
                                       day=date.fromisoformat(str(r["day"])), name=str(r["name"]),
                                       region=_opt_str(r.get("region"))))
            elif r["type"] == "competitor_price":
                events.append(CompetitorPrice(
                    event_id=r["event_id"], ts=ts, product_id=str(r["product_id"]),
                    competitor=str(r["competitor"]), price=int(r["price"]),
                    currency=str(r["currency"]), on_promotion=bool(r["on_promotion"])))
            else:
                events.append(Inventory(event_id=r["event_id"], ts=ts,
                                        product_id=str(r["product_id"]), stock=int(r["stock"])))
        market = market_state(events, now, timezone=self.timezone, categories=self.categories())
        self._cached = (mono, market)
        return market


def _opt_str(v: object) -> str | None:
    if v is None or (isinstance(v, float) and v != v):
        return None
    return str(v)
