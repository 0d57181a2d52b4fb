"""The write-behind decision log and price history."""

from __future__ import annotations

import time
from pathlib import Path
from datetime import datetime, timedelta, timezone

import pytest

from pricepilot.errors import Unavailable
from pricepilot.service.decision_log import DecisionLog
from pricepilot.service.price_history import StorePriceHistory
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
