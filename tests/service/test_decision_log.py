"""The write-behind decision log and price history."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from pricepilot.errors import Unavailable
from pricepilot.serving.decision_log import DecisionLog
from pricepilot.serving.price_history import StorePriceHistory
from pricepilot.store import open_store
from pricepilot.store.records import DecisionRecord

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def record(i: int) -> DecisionRecord:
    return DecisionRecord(decision_id=f"d{i}", ts=T0, user_id=None, product_id="A", price=100,
                          list_price=100, currency="EUR", model_version="m")


def test_queued_decisions_reach_the_store_within_the_interval(tmp_path: Path) -> None:
    # a file database: the in-memory one shares a single connection between the flushing
    # thread and this thread's reads, which SQLite does not allow inside a transaction
    store = open_store(f"sqlite:///{tmp_path / 'decisions.sqlite'}")
    store.migrate()
    log = DecisionLog(store, interval=0.05)
    log.append([record(1), record(2)])
    deadline = time.monotonic() + 5
    while len(store.decisions_frame()) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(store.decisions_frame()) == 2
    log.close()


def test_a_store_outage_keeps_the_decisions_for_the_next_flush(
        monkeypatch: pytest.MonkeyPatch) -> None:
    store = open_store("sqlite://")
    store.migrate()
    log = DecisionLog(store, interval=3600)  # flushed by hand here
    real = store.log_decisions

    def down(records: object) -> int:
        raise Unavailable("store", "down")

    monkeypatch.setattr(store, "log_decisions", down)
    log.append([record(1)])
    with pytest.raises(Unavailable):
        log.flush()
    assert log.pending == 1
    monkeypatch.setattr(store, "log_decisions", real)
    log.append([record(2)])
    assert log.flush() == 2 and len(store.decisions_frame()) == 2
    log.close()


def test_a_full_backlog_drops_and_counts_instead_of_growing() -> None:
    store = open_store("sqlite://")
    store.migrate()
    log = DecisionLog(store, interval=3600, max_pending=2)
    log.append([record(i) for i in range(5)])
    assert log.pending == 2 and log.dropped == 3
    log.close()
    assert len(store.decisions_frame()) == 2


def test_synchronous_mode_propagates_store_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    store = open_store("sqlite://")
    store.migrate()
    log = DecisionLog(store, interval=0)

    def down(records: object) -> int:
        raise Unavailable("store", "down")

    monkeypatch.setattr(store, "log_decisions", down)
    with pytest.raises(Unavailable):
        log.append([record(1)])


def test_buffered_price_history_is_read_back_at_once_and_written_on_flush() -> None:
    store = open_store("sqlite://")
    store.migrate()
    h = StorePriceHistory(store, buffered=True)
    h.record("A", T0, 1000)
    h.flush()
    window = (T0 + timedelta(days=1), T0 + timedelta(days=2))
    assert h.lowest("A", *window) == 1000
    h.record("A", T0 + timedelta(days=1, hours=1), 800)  # buffered, not yet in the store
    assert h.lowest("A", *window) == 800
    assert store.lowest_price("A", *window) == 1000
    assert h.flush() == 1 and store.lowest_price("A", *window) == 800


def test_the_prior_price_of_every_product_is_refreshed_in_one_query() -> None:
    from pricepilot.clock import FixedClock

    store = open_store("sqlite://")
    store.migrate()
    for pid, price in (("A", 1000), ("B", 700), ("C", 500)):
        store.record_price(pid, T0 - timedelta(days=3), price)
    clock = FixedClock(T0)
    h = StorePriceHistory(store, buffered=True, clock=clock, window_days=30, refresh_seconds=3600)
    calls: list[str] = []
    real = store.lowest_price

    def counted(*a: object) -> int | None:
        calls.append("one")
        return real(*a)  # type: ignore[arg-type]

    store.lowest_price = counted  # type: ignore[method-assign]
    assert h.flush() == 0  # the first flush refreshes every product
    window = (T0 - timedelta(days=30), T0 - timedelta(microseconds=1))
    assert [h.lowest(p, *window) for p in "ABC"] == [1000, 700, 500]
    assert h.lowest("Z", *window) is None  # never priced: known from the complete snapshot
    assert calls == []  # answered from the bulk refresh, no query per product
    h.record("B", T0, 650)  # this process's new price lowers the cached minimum at once
    assert h.lowest("B", *window) == 650
    clock.set(T0 + timedelta(hours=1))
    assert h.flush() == 1 and h.refresh() == 3
    later = (T0 + timedelta(hours=1) - timedelta(days=30), T0 + timedelta(hours=1) - timedelta(microseconds=1))
    assert h.lowest("B", *later) == 650 and calls == []
    # without a clock there is nothing to refresh: per-product reads as before
    plain = StorePriceHistory(store, buffered=True)
    assert plain.refresh() == 0 and plain.lowest("A", *window) == 1000 and calls == ["one"]


def test_price_history_at_minute_resolution_keeps_each_minutes_lowest_price() -> None:
    store = open_store("sqlite://")
    store.migrate()
    h = StorePriceHistory(store, buffered=True, resolution_seconds=60)
    minute = T0 + timedelta(minutes=5)
    for second, price in ((1, 1000), (20, 900), (59, 950)):  # explored within one minute
        h.record("A", minute + timedelta(seconds=second), price)
    h.record("A", minute + timedelta(minutes=1, seconds=3), 1100)
    assert h.flush() == 4
    import sqlalchemy as sa

    with store.engine.connect() as conn:  # one entry per minute, stamped at its start
        rows = conn.execute(sa.text("SELECT ts, price FROM price_history ORDER BY ts")).all()
    assert [r.price for r in rows] == [900, 1100]
    h.record("A", minute + timedelta(seconds=40), 980)  # a later flush of the same minute
    h.flush()
    frame = store.lowest_prices(T0, T0 + timedelta(hours=1))
    assert frame == {"A": 900}
    # the minute's lowest counts from the minute's start: the prior price is never overstated
    assert store.lowest_price("A", minute + timedelta(seconds=30), minute + timedelta(minutes=3)) == 900
    assert store.lowest_price("A", minute + timedelta(minutes=1, seconds=30),
                              minute + timedelta(minutes=3)) == 1100
