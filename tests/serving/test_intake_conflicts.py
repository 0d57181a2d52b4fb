"""Issue #13 point 3: a conflicting re-send is not stored, so nothing learns it either (the
online features and outcome learning hear only of what the store has)."""

from __future__ import annotations

import threading
from datetime import datetime, timezone
from typing import Any

from pricepilot.catalog.models import Product
from pricepilot.clock import FixedClock
from pricepilot.compliance.identity import Pseudonymiser
from pricepilot.config import load_settings
from pricepilot.events.conflicts import EventConflict
from pricepilot.events.schemas import Event, View
from pricepilot.serving.intake import EventIntake
from pricepilot.serving.live_events import LiveIngestor
from pricepilot.store import open_store

T = datetime(2026, 3, 2, 12, tzinfo=timezone.utc)


class Learner:
    def __init__(self) -> None:
        self.learned: list[Event] = []

    def learn_many(self, events: list[Event]) -> None:
        self.learned.extend(events)


def test_point3_a_conflicting_event_is_answered_as_such_and_not_learned() -> None:
    store = open_store("sqlite://")
    store.migrate()
    store.upsert_products([Product(product_id="A", title="A", category="k", currency="EUR",
                                   unit_cost=100, list_price=200)])
    settings = load_settings(None, env={})
    learner = Learner()
    intake = EventIntake(LiveIngestor(store, settings, FixedClock(T)),
                         Pseudonymiser(settings.security.pseudonym_key), learner,  # type: ignore[arg-type]
                         threading.Lock(), None, lambda: None)

    def view(eid: str, price: int = 200) -> View:
        return View(event_id=eid, ts=T, user_id="c1", product_id="A", price=price,
                    currency="EUR")

    intake.ingest([view("e1")])
    result = intake.ingest([view("e1", price=150), view("e2")])
    assert (result.accepted, result.duplicates) == (1, 0)
    assert result.conflicts == [EventConflict(event_id="e1", fields=["price"])]
    prices: list[Any] = [(e.event_id, getattr(e, "price", None)) for e in learner.learned]
    assert prices == [("e1", 200), ("e2", 200)]
