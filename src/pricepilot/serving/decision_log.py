"""A buffered writer for the decision log: quotes append, a background thread writes in batches.

Writing each quote's decisions in its own transaction costs more than deciding the price on
SQLite (one write transaction per request, serialised with every other writer). The writer
keeps appended :class:`~pricepilot.store.records.DecisionRecord` values in memory and writes them
with one ``Store.log_decisions`` call every ``interval`` seconds (or as soon as ``batch`` are
waiting). ``log_decisions`` is idempotent by ``decision_id``, so a batch retried after a failure
is written once. A store outage keeps up to ``max_pending`` records for the next attempt and
logs an error; records beyond that are dropped and counted in ``dropped`` (a bounded buffer,
so an outage cannot exhaust memory). The price of batching: on a crash, up to ``interval``
seconds of decisions are lost; ``interval=0`` writes synchronously.

>>> from datetime import datetime, timezone
>>> from pricepilot.store import open_store
>>> store = open_store("sqlite://"); store.migrate()
>>> log = DecisionLog(store, interval=0)
>>> log.append([DecisionRecord(decision_id="d1", ts=datetime(2026, 1, 1, tzinfo=timezone.utc),
...     user_id=None, product_id="A", price=1, list_price=1, currency="EUR", model_version="m")])
>>> len(store.decisions_frame())
1
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence

from pricepilot.serving.ticker import Ticker
from pricepilot.store.base import Store
from pricepilot.store.records import DecisionRecord

log = logging.getLogger("pricepilot.service.decisions")


class DecisionLog:
    def __init__(self, store: Store, *, interval: float = 0.2, batch: int = 1000,
                 max_pending: int = 200_000,
                 also_flush: Sequence[Callable[[], object]] = ()) -> None:
        self.store = store
        self.also_flush = list(also_flush)  # other write-behind buffers flushed on the same tick
        self.interval = interval
        self.batch = batch
        self.max_pending = max_pending
        self.dropped = 0
        self._pending: list[DecisionRecord] = []
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._ticker: Ticker | None = None
        if interval > 0:
            self._ticker = Ticker("pricepilot-decision-log", interval, self.flush, self._log_failure)

    def append(self, records: Sequence[DecisionRecord]) -> None:
        """Queue ``records`` (synchronous write when ``interval`` is 0: errors then propagate)."""
        if self._ticker is None:
            self.store.log_decisions(records)
            return
        with self._lock:
            room = self.max_pending - len(self._pending)
            if room < len(records):
                self.dropped += len(records) - max(room, 0)
                log.error("decision log backlog full: %d decisions dropped so far", self.dropped)
            self._pending.extend(records[:max(room, 0)])
            full = len(self._pending) >= self.batch
        if full and self._ticker is not None:
            self._ticker.wake()

    @property
    def pending(self) -> int:
        return len(self._pending)

    def flush(self) -> int:
        """Write everything queued now; returns how many records were written."""
        with self._flush_lock:
            for other in self.also_flush:
                other()
            with self._lock:
                todo, self._pending = self._pending, []
            if not todo:
                return 0
            try:
                for i in range(0, len(todo), self.batch):
                    self.store.log_decisions(todo[i:i + self.batch])
            except Exception:
                with self._lock:  # put them back in front, for the next attempt
                    self._pending[:0] = todo[: self.max_pending]
                raise
            return len(todo)

    def _log_failure(self) -> None:  # the store is down: the records are kept for the next tick
        log.exception("decision log write failed; %d decisions kept for retry", self.pending)

    def close(self) -> None:
        if self._ticker is not None:
            self._ticker.close()
        try:
            self.flush()
        except Exception:
            log.exception("decision log: %d decisions could not be written at shutdown",
                          self.pending)
