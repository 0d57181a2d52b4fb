"""The pricing engine's :class:`~pricepilot.pricing.history.PriceHistory` on the store.

Prices are recorded through ``Store.record_price`` and the prior price read with
``Store.lowest_price``, so every service process (and the compliance report) sees one history.
A quote page asks for the prior price of every product on it; answers are cached per product for
``ttl_seconds`` (default 30 s) so a busy catalogue costs one query per product per 30 s, not
one per quote. A price recorded by this process invalidates its entry at once; one recorded by another
process is seen within the TTL.

With ``buffered=True`` records are written behind (``flush()``, called by the service's
background writer every 0.2 s): the engine records the public price whenever it changes, which
with exploration is most decisions, and one write transaction per quote would cost more than the
decision. This process's own reads see buffered records at once (they lower the cached minimum).

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

import threading
import time
from datetime import datetime

from pricepilot.store.base import Store


class StorePriceHistory:
    def __init__(self, store: Store, *, ttl_seconds: float = 30.0, buffered: bool = False) -> None:
        self.store = store
        self.ttl = ttl_seconds
        self.buffered = buffered
        self._cache: dict[str, tuple[float, datetime, datetime, int | None]] = {}
        self._pending: list[tuple[str, datetime, int]] = []
        self._lock = threading.Lock()

    def record(self, product_id: str, ts: datetime, price: int) -> None:
        if not self.buffered:
            self.store.record_price(product_id, ts, price)
            self._cache.pop(product_id, None)
            return
        with self._lock:
            self._pending.append((product_id, ts, price))
        hit = self._cache.get(product_id)
        if hit is not None:  # the new price is in force from now: it may be the new minimum
            low = price if hit[3] is None else min(hit[3], price)
            self._cache[product_id] = (hit[0], hit[1], hit[2], low)

    def flush(self) -> int:
        """Write buffered records (in one transaction); returns how many."""
        with self._lock:
            todo, self._pending = self._pending, []
        if not todo:
            return 0
        try:
            with self.store.transaction():
                for pid, ts, price in todo:
                    self.store.record_price(pid, ts, price)
        except Exception:
            with self._lock:
                self._pending[:0] = todo
            raise
        return len(todo)

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
