"""The pricing engine's :class:`~pricepilot.pricing.history.PriceHistory` on the store.

Prices are recorded through ``Store.record_price`` and the prior price read with
``Store.lowest_price``, so every service process (and the compliance report) sees one history.
A quote page asks for the prior price of every product on it; answers are cached per product for
``ttl_seconds`` (default 1 s) so a busy page costs one query per product per second, not per
quote. A price recorded by this process invalidates its entry at once; one recorded by another
process is seen within the TTL.

>>> from datetime import datetime, timedelta, timezone
>>> from pricepilot.store import open_store
>>> store = open_store("sqlite://"); store.migrate()
>>> h = StorePriceHistory(store)
>>> t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
>>> h.record("A", t0, 1000); h.record("A", t0 + timedelta(days=5), 1200)
>>> h.lowest("A", t0 + timedelta(days=2), t0 + timedelta(days=9))
1000
"""

from __future__ import annotations

import time
from datetime import datetime

from pricepilot.store.base import Store


class StorePriceHistory:
    def __init__(self, store: Store, *, ttl_seconds: float = 1.0) -> None:
        self.store = store
        self.ttl = ttl_seconds
        self._cache: dict[str, tuple[float, datetime, datetime, int | None]] = {}

    def record(self, product_id: str, ts: datetime, price: int) -> None:
        self.store.record_price(product_id, ts, price)
        self._cache.pop(product_id, None)

    def lowest(self, product_id: str, since: datetime, until: datetime) -> int | None:
        now = time.monotonic()
        hit = self._cache.get(product_id)
        # a cached answer is reused only for (nearly) the same window: the 30-day window slides
        # by at most the TTL, and prices recorded in between invalidate the entry
        if (hit is not None and now - hit[0] < self.ttl
                and abs((since - hit[1]).total_seconds()) < self.ttl):
            return hit[3]
        low = self.store.lowest_price(product_id, since, until)
        if len(self._cache) >= 100_000:
            self._cache.clear()
        self._cache[product_id] = (now, since, until, low)
        return low

    def forget(self) -> None:
        self._cache.clear()
