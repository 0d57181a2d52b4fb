"""Live event intake: validate and store events durably, then learn them.

The answer is given only after the store has the events (idempotent by ``event_id``, so a
resend is safe); then the online features learn them, market caches are dropped when a market
event arrives, and outcome learning hears of purchases and quoted views. An event whose id is
stored with different content (a conflict, listed in the answer) was not stored, so nothing
learns it: the stored event stands.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

import msgspec

from pricepilot.compliance.identity import Pseudonymiser
from pricepilot.errors import Unavailable
from pricepilot.events.schemas import Calendar, CompetitorPrice, Event, Inventory, Purchase, View
from pricepilot.features.online import OnlineFeatures
from pricepilot.serving import schemas as s
from pricepilot.serving.live_events import LiveIngestor
from pricepilot.serving.outcomes import OutcomeTracker


class EventIntake:
    def __init__(self, ingestor: LiveIngestor, pseudonymise: Pseudonymiser,
                 features: OnlineFeatures, features_lock: threading.Lock,
                 outcomes: OutcomeTracker | None, on_market_event: Callable[[], None]) -> None:
        self.ingestor = ingestor
        self.pseudonymise = pseudonymise
        self.features = features
        self.features_lock = features_lock
        self.outcomes = outcomes
        self.on_market_event = on_market_event

    def ingest(self, events: Sequence[Event]) -> s.IngestResult:
        """``user_id`` is the shop's customer id as sent; it is pseudonymised before storage."""
        evs: list[Event] = []
        for ev in events:
            uid = getattr(ev, "user_id", None)
            evs.append(msgspec.structs.replace(ev, user_id=self.pseudonymise(uid))
                       if uid is not None else ev)
        done = self.ingestor.ingest(evs)  # durable first
        if done.refused:
            evs = [ev for i, ev in enumerate(evs) if i not in done.refused]
        try:
            with self.features_lock:
                self.features.learn_many(evs)
        except Exception as e:
            # the events are stored; a resend (safe: idempotent) brings the features up to date
            raise Unavailable("online features", f"events stored but not learned: {e}") from e
        if any(isinstance(e, (Calendar, CompetitorPrice, Inventory)) for e in evs):
            self.on_market_event()
        if self.outcomes is not None:
            for ev in evs:
                if isinstance(ev, Purchase):
                    self.outcomes.purchased(ev.user_id, ev.product_id, ev.ts, ev.quote_id)
                elif isinstance(ev, View) and ev.quote_id is not None:
                    self.outcomes.shown(ev.user_id, ev.product_id, ev.ts, ev.quote_id)
        return s.IngestResult(accepted=done.accepted, duplicates=done.duplicates,
                              conflicts=done.conflicts)
