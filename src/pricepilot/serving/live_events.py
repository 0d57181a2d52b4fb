"""Events from the HTTP API into the store: the ingestion rules, without the file machinery.

:func:`pricepilot.events.ingest.ingest_events` serves files and large batches: each call reads
every product id from the store and runs outlier statistics over the batch's prices. For a live
request of a few events that costs ~10x the write itself. :class:`LiveIngestor` applies the same
semantic rules (:func:`pricepilot.events.validate.check_batch`: unknown product, negative price,
non-positive quantity, unknown currency, future timestamp, ...) against product ids kept in
process (re-read from the store when an event names one it does not know, so a product added by
another process is accepted), drops duplicate ids inside the request, and writes the good rows in
one atomic ``Store.add_event_batch`` (idempotent by ``event_id``). Any bad event refuses the
whole request with :class:`~pricepilot.events.ingest.IngestError` (422); nothing is written.
Outlier flags are a statistic over many events and are left to batch ingestion.

>>> from datetime import datetime, timezone
>>> from pricepilot.catalog.models import Product
>>> from pricepilot.clock import FixedClock
>>> from pricepilot.config import load_settings
>>> from pricepilot.events.schemas import View
>>> from pricepilot.store import open_store
>>> store = open_store("sqlite://"); store.migrate()
>>> _ = store.upsert_products([Product(product_id="SKU-1", title="Mug", category="k",
...                                    currency="EUR", unit_cost=400, list_price=999)])
>>> t = datetime(2026, 3, 2, tzinfo=timezone.utc)
>>> live = LiveIngestor(store, load_settings(None, env={}), FixedClock(t))
>>> ev = View(event_id="e1", ts=t, user_id="u1", product_id="SKU-1", price=999, currency="EUR")
>>> live.ingest([ev, ev]), live.ingest([ev])
((1, 1), (0, 1))
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa

from pricepilot.clock import Clock, to_micros
from pricepilot.compliance.identity import Pseudonymiser
from pricepilot.config import Settings
from pricepilot.events.clean import Deduper
from pricepilot.events.columns import events_to_table
from pricepilot.events.ingest import IngestError
from pricepilot.events.schemas import Event
from pricepilot.events.validate import Context, check_batch
from pricepilot.store.base import Store


class LiveIngestor:
    def __init__(self, store: Store, settings: Settings, clock: Clock) -> None:
        self.store = store
        self.settings = settings
        self.clock = clock
        self.pseudonymise = Pseudonymiser(settings.security.pseudonym_key)
        self.product_ids: set[str] = store.product_ids()

    def add_products(self, product_ids: Sequence[str]) -> None:
        self.product_ids.update(product_ids)

    def ingest(self, events: Sequence[Event]) -> tuple[int, int]:
        """Validate and durably write ``events`` (``user_id`` already pseudonymous).

        Returns (newly written, duplicates: repeated in the request or already stored).
        """
        named = {p for e in events if (p := getattr(e, "product_id", None)) is not None}
        if not named <= self.product_ids:
            self.product_ids = self.store.product_ids()  # another process may have added them
        table = events_to_table(events)
        keep, dups = Deduper().first_occurrences(table.column("event_id"))
        if dups:
            table = table.filter(pa.array(keep))
        ctx = Context(
            product_ids=self.product_ids, now_us=to_micros(self.clock.now()),
            tolerance_us=self.settings.ingest.future_tolerance_seconds * 1_000_000,
            pseudonymise=self.pseudonymise, source="events", unit="event",
            missing=self.settings.ingest.missing,
        )
        lines = np.flatnonzero(keep).astype(np.int64)
        checked = check_batch(table, lines, ctx)
        if checked.rejects:
            raise IngestError(checked.rejects)
        good = checked.table
        inserted = self.store.add_event_batch(good) if good.num_rows else 0
        return inserted, dups + (good.num_rows - inserted)


__all__ = ["LiveIngestor"]
