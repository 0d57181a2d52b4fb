"""The pricing engine's :class:`~pricepilot.pricing.history.PriceHistory` on the store.

Prices are recorded through ``Store.record_price`` and the prior price read with
``Store.lowest_price``, so every service process (and the compliance report) sees one history.
Ingested event history seeds it too: each ingestion call records the price changes its views
show, in the same transaction (:func:`pricepilot.events.ingest.price_changes`), so the prior
price is known from the first quote after a history import, with the store still the one source.
A quote page asks for the prior price of every product on it; answers are cached per product for
``ttl_seconds`` (default 30 s) so a busy catalogue costs one query per product per 30 s, not
one per quote. A price recorded by this process invalidates its entry at once; one recorded by another
process is seen within the TTL.

With ``clock`` and ``window_days`` the write-behind ``flush`` also refreshes the prior price of
*every* product in one query (``Store.lowest_prices``) every ``refresh_seconds`` (10 s), so a
quote almost never waits for the database; prices this process records meanwhile still lower the
cached minimum at once (none is lost to a refresh running concurrently).

With ``buffered=True`` records are written behind (``flush()``, called by the service's
background writer every 50 ms): the engine records the public price whenever it changes, which
with exploration is most decisions, and one write transaction per quote would cost more than the
decision. This process's own reads see buffered records at once (they lower the cached minimum).

``resolution_seconds`` (the service uses 60) keeps one entry per product per minute: the lowest
price shown in that minute, stamped at the minute's start. Exploration changes the public price
at nearly every quote, and one row per quote made the history (and its bulk refresh) grow with
traffic; per minute it is bounded by the catalogue. The prior price can only come out lower than
exact (a price counts from the start of its minute, and the minute's lowest stands for all of
it): a reduction is never announced against a higher reference than the true one.

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
from datetime import datetime, timedelta

from pricepilot.clock import Clock, from_micros, to_micros
from pricepilot.store.base import Store


class StorePriceHistory:
    def __init__(self, store: Store, *, ttl_seconds: float = 30.0, buffered: bool = False,
                 clock: Clock | None = None, window_days: int | None = None,
                 refresh_seconds: float = 10.0, resolution_seconds: int = 0) -> None:
        self.store = store
        self.ttl = ttl_seconds
        self.buffered = buffered
        self.clock = clock
        self.window_days = window_days
        self.refresh_seconds = refresh_seconds
        self.resolution_us = resolution_seconds * 1_000_000
        self._cache: dict[str, tuple[float, datetime, datetime, int | None]] = {}
        self._pending: list[tuple[str, datetime, int]] = []
        self._lock = threading.Lock()
        self._refreshed = -float("inf")  # monotonic time of the last bulk refresh
        self._recorded: dict[str, int] | None = None  # lowest recorded while a refresh runs
        # every product's prior price from the last refresh (absent: no price recorded)
        self._snapshot: dict[str, int] | None = None
        self._snap_since: datetime | None = None

    def record(self, product_id: str, ts: datetime, price: int) -> None:
        with self._lock:
            if self._recorded is not None:
                low = self._recorded.get(product_id)
                self._recorded[product_id] = price if low is None else min(low, price)
        if not self.buffered:
            self.store.record_price(product_id, ts, price)
            self._cache.pop(product_id, None)
            return
        if self.resolution_us:
            micros = to_micros(ts)
            ts = from_micros(micros - micros % self.resolution_us)
        with self._lock:
            self._pending.append((product_id, ts, price))
        hit = self._cache.get(product_id)
        if hit is not None:  # the new price is in force from now: it may be the new minimum
            low = price if hit[3] is None else min(hit[3], price)
            self._cache[product_id] = (hit[0], hit[1], hit[2], low)
        snap = self._snapshot
        if snap is not None:
            old = snap.get(product_id)
            snap[product_id] = price if old is None else min(old, price)

    def refresh(self) -> int:
        """Cache the prior price of every product with one query; returns how many. Needs
        ``clock`` and ``window_days``."""
        if self.clock is None or self.window_days is None:
            return 0
        with self._lock:
            self._recorded = {}  # from here on, records are also kept aside (see record)
        try:
            self._write_pending()  # earlier records are in the store before the query
            now = self.clock.now()
            since, until = now - timedelta(days=self.window_days), now - timedelta(microseconds=1)
            bulk = self.store.lowest_prices(since, until)
        finally:
            with self._lock:
                recorded, self._recorded = self._recorded or {}, None
        for pid, low in recorded.items():
            bulk[pid] = low if pid not in bulk else min(bulk[pid], low)
        self._snapshot, self._snap_since = bulk, since
        self._cache.clear()  # the snapshot is newer than every per-product answer
        self._refreshed = time.monotonic()
        return len(bulk)

    def flush(self) -> int:
        """Write buffered records (in one transaction); returns how many. Every
        ``refresh_seconds`` it also refreshes the prior prices (:meth:`refresh`)."""
        if self.clock is not None and time.monotonic() - self._refreshed >= self.refresh_seconds:
            n = self._write_pending()
            self.refresh()
            return n
        return self._write_pending()

    def _write_pending(self) -> int:
        with self._lock:
            todo, self._pending = self._pending, []
        if not todo:
            return 0
        try:
            self.store.record_prices(todo, keep_lowest=self.resolution_us > 0)
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
        snap, snap_since = self._snapshot, self._snap_since
        if (snap is not None and snap_since is not None and now - self._refreshed < self.ttl
                and abs((since - snap_since).total_seconds()) < self.ttl):
            return snap.get(product_id)  # complete: a product not in it has no recorded price
        low = self.store.lowest_price(product_id, since, until)
        if len(self._cache) >= 100_000:
            self._cache.clear()
        self._cache[product_id] = (now, since, until, low)
        return low

    def forget(self) -> None:
        self._cache.clear()
