from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from pricepilot.errors import ValidationError
from pricepilot.pricing.history import InMemoryPriceHistory

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def test_the_price_in_force_when_the_window_opens_counts() -> None:
    h = InMemoryPriceHistory()
    h.record("A", T0, 800)
    h.record("A", T0 + timedelta(days=10), 1000)
    assert h.lowest("A", T0 + timedelta(days=5), T0 + timedelta(days=20)) == 800


def test_prices_recorded_after_the_window_or_before_the_last_change_do_not_count() -> None:
    h = InMemoryPriceHistory()
    h.record("A", T0, 500)
    h.record("A", T0 + timedelta(days=1), 1000)
    h.record("A", T0 + timedelta(days=40), 300)
    assert h.lowest("A", T0 + timedelta(days=5), T0 + timedelta(days=35)) == 1000


def test_unknown_products_and_windows_before_any_record_have_no_lowest_price() -> None:
    h = InMemoryPriceHistory()
    assert h.lowest("A", T0, T0) is None
    h.record("A", T0, 500)
    assert h.lowest("A", T0 - timedelta(days=9), T0 - timedelta(days=1)) is None


def test_window_minima_agree_with_brute_force_including_out_of_order_records() -> None:
    rng = np.random.default_rng(0)
    h = InMemoryPriceHistory()
    recs: list[tuple[datetime, int]] = []
    for _ in range(600):
        ts = T0 + timedelta(minutes=int(rng.integers(0, 100_000)))
        price = int(rng.integers(100, 10_000))
        h.record("A", ts, price)
        recs.append((ts, price))
    recs.sort(key=lambda r: r[0])
    for _ in range(200):
        a = T0 + timedelta(minutes=int(rng.integers(0, 100_000)))
        b = a + timedelta(minutes=int(rng.integers(0, 50_000)))
        in_force = [p for t, p in recs if t <= a][-1:]
        inside = [p for t, p in recs if a < t <= b]
        expected = min(in_force + inside) if in_force + inside else None
        assert h.lowest("A", a, b) == expected


def test_bad_records_and_queries_are_refused() -> None:
    h = InMemoryPriceHistory()
    with pytest.raises(ValidationError):
        h.record("A", T0, 0)
    h.record("A", T0, 10)
    with pytest.raises(ValidationError):
        h.lowest("A", T0, T0 - timedelta(days=1))
