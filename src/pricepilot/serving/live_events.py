"""Events from the HTTP API into the store: the ingestion rules, without the file machinery.

:func:`pricepilot.events.ingest.ingest_events` serves files and large batches: each call reads
every product and runs outlier statistics over the batch's prices. For a live request of a few
events that costs ~10x the write itself. :class:`LiveIngestor` applies the same semantic and
plausibility rules (:func:`pricepilot.events.validate.check_batch`: unknown product, negative
price, non-positive quantity, unknown currency; price bounds and factors of the list price, a
timestamp too old or too far in the future, quantity bounds; ``settings.ingest.plausibility``)
against the catalogue's ids and list prices kept in process (the application's catalogue
listener hands it every product it syncs or writes, so a product repriced by another process is
judged by its new price within ``service.sync_seconds``; an event naming a product it does not
know re-reads the store first, so a product just added elsewhere is accepted), and writes the good rows in one atomic
``Store.add_event_batch`` (idempotent by ``event_id``).

* Any bad event refuses the **whole request** with
  :class:`~pricepilot.events.ingest.IngestError` (422, naming the first bad event, its field and
  the rule, and counting the others); nothing is written, so a client fixes and re-sends the
  batch and no valid event of it was half-stored.
* A repeated id is a duplicate when its content is the same as the stored event's (or the
  earlier one in the request), and a :class:`~pricepilot.events.conflicts.EventConflict` (with
  the fields that differ) when it is not; either way the stored event stands and the rest of the
  request is written.

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
>>> live.ingest([ev, ev])[:2], live.ingest([ev])[:2]
((1, 1), (0, 1))
>>> import msgspec
>>> live.ingest([msgspec.structs.replace(ev, price=899)]).conflicts
[EventConflict(event_id='e1', fields=['price'])]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import pyarrow as pa

from pricepilot.catalog.models import Product
from pricepilot.clock import Clock, to_micros
from pricepilot.compliance.identity import Pseudonymiser
from pricepilot.config import Settings
from pricepilot.events.clean import Deduper
from pricepilot.events.columns import events_to_table
from pricepilot.events.conflicts import EventConflict, compare, within
from pricepilot.events.ingest import IngestError
from pricepilot.events.plausibility import ListPrices
from pricepilot.events.schemas import Event
from pricepilot.events.validate import Context, check_batch
from pricepilot.store.base import Store


class Ingested(NamedTuple):
    accepted: int  # newly and durably written
    duplicates: int  # identical to an event stored or earlier in the request
    conflicts: list[EventConflict]  # same id, different content: not written
    refused: frozenset[int] = frozenset()  # positions in the request of those conflicting events


class LiveIngestor:
    def __init__(self, store: Store, settings: Settings, clock: Clock) -> None:
        self.store = store
        self.settings = settings
        self.clock = clock
        self.pseudonymise = Pseudonymiser(settings.security.pseudonym_key)
        self._prices: dict[str, tuple[int, str]] = {}
        self._list_prices = ListPrices({})
        self._load_catalogue()

    def _load_catalogue(self) -> None:
        self._prices = {p.product_id: (p.list_price, p.currency) for p in self.store.list_products()}
        self.product_ids: set[str] = set(self._prices)
        self._list_prices = ListPrices(self._prices)

    def add_products(self, products: Sequence[Product]) -> None:
        """Products written or synced by this process (the catalogue's listener): new ids
        and list prices judge the next request."""
        if products:
            self._prices.update({p.product_id: (p.list_price, p.currency) for p in products})
            self.product_ids.update(p.product_id for p in products)
            self._list_prices = ListPrices(self._prices)

    def ingest(self, events: Sequence[Event]) -> Ingested:
        """Validate and durably write ``events`` (``user_id`` already pseudonymous)."""
        named = {p for e in events if (p := getattr(e, "product_id", None)) is not None}
        if not named <= self.product_ids:
            self._load_catalogue()  # another process may have added them
        table = events_to_table(events)
        keep, dups = Deduper().first_occurrences(table.column("event_id"))
        clash = within(table, keep) if dups else []
        if dups:
            table = table.filter(pa.array(keep))
        ctx = Context(
            product_ids=self.product_ids, now_us=to_micros(self.clock.now()),
            tolerance_us=self.settings.ingest.future_tolerance_seconds * 1_000_000,
            pseudonymise=self.pseudonymise, source="events", unit="event",
            missing=self.settings.ingest.missing,
            plausibility=self.settings.ingest.plausibility, list_prices=self._list_prices,
        )
        lines = np.flatnonzero(keep).astype(np.int64)
        checked = check_batch(table, lines, ctx)
        if checked.rejects:
            raise IngestError(checked.rejects)
        good = checked.table
        inserted = self.store.add_event_batch(good) if good.num_rows else 0
        found = list(clash)  # positions in the request
        if inserted < good.num_rows:
            stored = self.store.events_by_id(good.column("event_id").to_pylist())
            found += [(int(checked.lines[i]), c) for i, c in compare(good, stored)]
        found.sort(key=lambda f: f[0])
        repeats = dups + good.num_rows - inserted
        return Ingested(inserted, repeats - len(found), [c for _, c in found],
                        frozenset(i for i, _ in found))


__all__ = ["Ingested", "LiveIngestor"]
