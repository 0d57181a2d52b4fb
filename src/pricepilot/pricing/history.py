"""Price history and the prior price: the lowest price of the previous N days per product.

EU rules (Omnibus directive, PAngV) require showing the lowest price of the previous 30 days
beside any price reduction. :class:`PriceHistory` is the small interface the engine needs; the
store provides a persistent implementation, :class:`InMemoryPriceHistory` serves tests and
single-process use.

A price recorded at ``ts`` holds until the next record, so the lowest price over a window is
the minimum over the records inside it **and** the price in force when the window opened.

>>> from datetime import datetime, timedelta, timezone
>>> h = InMemoryPriceHistory()
>>> t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
>>> h.record("A", t0, 1000); h.record("A", t0 + timedelta(days=5), 1200)
>>> h.lowest("A", t0 + timedelta(days=2), t0 + timedelta(days=9))
1000
"""

from __future__ import annotations

import bisect
from datetime import datetime
from typing import Protocol

from pricepilot.clock import to_micros
from pricepilot.errors import ValidationError


class PriceHistory(Protocol):
    def record(self, product_id: str, ts: datetime, price: int) -> None:
        """The public price of ``product_id`` is ``price`` from ``ts`` on."""
        ...

    def lowest(self, product_id: str, since: datetime, until: datetime) -> int | None:
        """Lowest price in force during [since, until]; None if nothing is known."""
        ...


class _Series:
    """Time-ordered (ts, price) records with per-block minima (blocks of 64).

    Appends (the normal case: prices change forward in time) update one block minimum in O(1);
    a window minimum costs O(n / 64 + 128). Out-of-order records rebuild the block minima.
    """

    BLOCK = 64

    def __init__(self) -> None:
        self.ts: list[int] = []
        self.price: list[int] = []
        self.block_min: list[int] = []

    def add(self, ts: int, price: int) -> None:
        if self.ts and ts < self.ts[-1]:
            i = bisect.bisect_right(self.ts, ts)
            self.ts.insert(i, ts)
            self.price.insert(i, price)
            pr, b = self.price, self.BLOCK
            self.block_min = [min(pr[j:j + b]) for j in range(0, len(pr), b)]
            return
        self.ts.append(ts)
        self.price.append(price)
        n = len(self.price) - 1
        if n % self.BLOCK == 0:
            self.block_min.append(price)
        elif price < self.block_min[-1]:
            self.block_min[-1] = price

    def range_min(self, i: int, j: int) -> int:
        """min(price[i..j]) inclusive."""
        b = self.BLOCK
        bi, bj = i // b, j // b
        if bi == bj:
            return min(self.price[i:j + 1])
        best = min(min(self.price[i:(bi + 1) * b]), min(self.price[bj * b:j + 1]))
        if bj > bi + 1:
            best = min(best, min(self.block_min[bi + 1:bj]))
        return best


class InMemoryPriceHistory:
    def __init__(self) -> None:
        self._series: dict[str, _Series] = {}

    def record(self, product_id: str, ts: datetime, price: int) -> None:
        if price <= 0:
            raise ValidationError(f"price history of {product_id!r}", "price", "must be positive")
        self._series.setdefault(product_id, _Series()).add(to_micros(ts), price)

    def lowest(self, product_id: str, since: datetime, until: datetime) -> int | None:
        s = self._series.get(product_id)
        if s is None or not s.ts:
            return None
        a, b = to_micros(since), to_micros(until)
        if b < a:
            raise ValidationError("price history query", "until", "must not be before since")
        # the record in force at `since` is the last one at or before it
        i = max(bisect.bisect_right(s.ts, a) - 1, 0)
        j = bisect.bisect_right(s.ts, b) - 1
        if j < 0:
            return None
        return s.range_min(i, j)
