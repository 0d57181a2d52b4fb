"""The public base price of each product, as smoothing and the daily change limit need it.

A shop's public price moves at most once a day: the price in force today (``current``) is where
the previous day's last decided base price ended, and before pricepilot's first decision it is
the list price. Every worker and process on one store shares it: decisions are written behind
(at most every ``flush_seconds``) to the store's
:class:`~pricepilot.store.repositories.BasePriceStore` and every process reads the rows others
wrote at most every ``sync_seconds``. Days are the shop's local days.

>>> from datetime import datetime, timezone
>>> from pricepilot.store import open_store
>>> store = open_store("sqlite://"); store.migrate()
>>> prices = BasePrices(store.repositories().base_prices, "UTC", flush_seconds=0, sync_seconds=0)
>>> day1 = datetime(2026, 3, 2, 10, tzinfo=timezone.utc)
>>> prices.current("MUG", day1, list_price=1000)  # nothing decided yet: the list price
1000
>>> prices.decided("MUG", day1, 1100); prices.current("MUG", day1, list_price=1000)  # same day
1000
>>> day2 = datetime(2026, 3, 3, 9, tzinfo=timezone.utc)
>>> prices.current("MUG", day2, list_price=1000)
1100
>>> prices.decided("MUG", day2, 800, temporary=True)  # a competitor's promotion day
>>> prices.current("MUG", datetime(2026, 3, 4, 9, tzinfo=timezone.utc), list_price=1000)
1100
"""

from __future__ import annotations

import threading
from datetime import date, datetime
from zoneinfo import ZoneInfo

import msgspec

from pricepilot.clock import to_micros
from pricepilot.store.repositories import BasePriceRow, BasePriceStore

EPOCH_DAY = date(1970, 1, 1)


class _State(msgspec.Struct):
    day: int
    current: int | None  # in force on ``day`` (None: the list price)
    last: int  # the latest decided base price


class BasePrices:
    def __init__(self, rows: BasePriceStore, timezone: str, *, flush_seconds: float = 1.0,
                 sync_seconds: float = 1.0) -> None:
        self.rows = rows
        self.tz = ZoneInfo(timezone)
        self.flush_seconds = flush_seconds
        self.sync_seconds = sync_seconds
        self._lock = threading.Lock()
        self._state: dict[str, _State] = {}
        self._dirty: dict[str, _State] = {}
        self._seen_us = -1  # the newest updated_at read from the store
        self._last_sync = -float("inf")
        self._last_flush = -float("inf")
        self.sync(force=True)

    def _day(self, now: datetime) -> int:
        return (now.astimezone(self.tz).date() - EPOCH_DAY).days

    def current(self, product_id: str, now: datetime, *, list_price: int) -> int:
        """Today's public price of the product."""
        st = self._state.get(product_id)
        if st is None:
            return list_price
        if st.day == self._day(now):
            return list_price if st.current is None else st.current
        return st.last  # a new day: yesterday's last decided base price is in force

    def decided(self, product_id: str, now: datetime, base_price: int, *,
                temporary: bool = False) -> None:
        """Record a decided base price. A ``temporary`` one (decided while a competitor runs a
        promotion on the product, or on a holiday) is served but never becomes tomorrow's price
        in force: tomorrow's smoothing and daily change limit start from the last price decided
        on an ordinary day, not from a promotion-day price."""
        day = self._day(now)
        with self._lock:
            st = self._state.get(product_id)
            if temporary:
                if st is None or st.day == day:
                    return  # nothing to carry over: the day's price in force stays as it is
                st = _State(day=day, current=st.last, last=st.last)  # a new day, a promotion day
            elif st is None:
                st = _State(day=day, current=None, last=base_price)
            elif st.day != day:
                st = _State(day=day, current=st.last, last=base_price)
            else:
                st = _State(day=day, current=st.current, last=base_price)
            self._state[product_id] = st
            self._dirty[product_id] = st

    # ------------------------------------------------------------------ sharing
    def flush(self, now_us: int) -> int:
        """Write the decided prices (called by the runtime's ticker and at close)."""
        with self._lock:
            dirty, self._dirty = self._dirty, {}
        if not dirty:
            return 0
        return self.rows.write([BasePriceRow(product_id=pid, day=st.day, current=st.current,
                                             last=st.last, updated_at=now_us)
                                for pid, st in dirty.items()])

    def sync(self, force: bool = False, mono: float = 0.0) -> int:
        """Read the rows other processes wrote since the last read; returns how many."""
        if not force and mono - self._last_sync < self.sync_seconds:
            return 0
        self._last_sync = mono
        rows = self.rows.changed_since(self._seen_us)
        with self._lock:
            for r in rows:
                if r.product_id in self._dirty:
                    continue  # this process's newer decision wins until it is written
                st = self._state.get(r.product_id)
                if st is None or r.day >= st.day:
                    self._state[r.product_id] = _State(day=r.day, current=r.current, last=r.last)
                self._seen_us = max(self._seen_us, int(r.updated_at))
        return len(rows)

    def tick(self, now: datetime, mono: float) -> None:
        """Flush and sync when due (the runtime calls this from its ticker)."""
        if mono - self._last_flush >= self.flush_seconds:
            self._last_flush = mono
            self.flush(to_micros(now))
        self.sync(mono=mono)
