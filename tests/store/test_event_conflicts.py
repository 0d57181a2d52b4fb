"""Issue #13 point 3 (conflicts): an ``event_id`` re-sent with different content is reported as a
conflict with the fields that differ, not counted as a duplicate; an identical re-send stays a
duplicate. SQLite and PostgreSQL, live events and file ingestion alike."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import msgspec

from pricepilot.catalog.models import Product
from pricepilot.clock import FixedClock
from pricepilot.config import load_settings
from pricepilot.events.conflicts import EventConflict
from pricepilot.events.ingest import ingest_event_files
from pricepilot.events.schemas import View
from pricepilot.serving.live_events import LiveIngestor
from pricepilot.store.sql import SqlStore

T0 = datetime(2026, 3, 1, 10, 0, tzinfo=timezone.utc)  # the store fixture's clock

MUG = Product(product_id="MUG", title="Mug", category="k", currency="EUR", unit_cost=400,
              list_price=1000)


def _view(eid: str, **kw: object) -> View:
    base: dict[str, object] = dict(event_id=eid, ts=T0, user_id="u1", product_id="MUG",
                                   price=1000, currency="EUR", channel="web")
    base.update(kw)
    return View(**base)  # type: ignore[arg-type]


def test_point3_a_live_resend_with_other_content_is_a_conflict_naming_the_fields(
    store: SqlStore, tmp_path: Path
) -> None:
    store.upsert_products([MUG])
    settings = load_settings(None, env={}, overrides={"paths.data_dir": str(tmp_path)})
    live = LiveIngestor(store, settings, FixedClock(T0 + timedelta(hours=1)))
    assert live.ingest([_view("e1"), _view("e2")])[:2] == (2, 0)
    changed = _view("e1", price=900, ts=T0 + timedelta(minutes=1))
    done = live.ingest([_view("e2"), changed, _view("e3"), _view("e3", channel="app")])
    assert (done.accepted, done.duplicates) == (1, 1)  # e3 new; e2 identical
    assert done.conflicts == [EventConflict(event_id="e1", fields=["price", "ts"]),
                              EventConflict(event_id="e3", fields=["channel"])]
    assert done.refused == frozenset({1, 3})
    stored = store.events_frame().set_index("event_id")
    assert stored.loc["e1", "price"] == 1000 and stored.loc["e3", "channel"] == "web"


def test_point3_file_ingestion_reports_conflicts_with_line_and_fields(
    store: SqlStore, tmp_path: Path
) -> None:
    store.upsert_products([MUG])
    settings = load_settings(None, env={}, overrides={"paths.data_dir": str(tmp_path)})
    clock = FixedClock(T0 + timedelta(hours=1))
    head = "event_id,type,ts,customer_id,product_id,price,currency\n"
    row = "{},view,2026-03-01T10:00:00+00:00,c1,MUG,{},EUR\n"
    first = tmp_path / "a.csv"
    first.write_text(head + row.format("e1", "10.00") + row.format("e2", "10.00"))
    assert ingest_event_files(store, [first], settings, clock=clock).inserted == 2
    again = tmp_path / "b.csv"
    again.write_text(head + row.format("e1", "10.00") + row.format("e2", "9.00")
                     + row.format("e3", "10.00"))
    report = ingest_event_files(store, [again], settings, clock=clock, on_error="skip")
    assert (report.inserted, report.already_present, report.conflicts) == (1, 1, 1)
    (c,) = report.reject_examples
    assert (c.location, c.event_id, c.field, c.value) == ("b.csv, line 3", "e2", "event_id",
                                                          "price")
    assert "already stored with different content (differs in price)" in c.reason
    assert report.rows_read == (report.inserted + report.duplicates + report.already_present
                                + report.conflicts + report.rejected + report.dropped_missing)


def test_point3_the_conflicts_are_in_the_http_answer() -> None:
    from pricepilot.serving.schemas import IngestResult

    body = IngestResult(accepted=1, duplicates=0,
                        conflicts=[EventConflict(event_id="e1", fields=["price"])])
    assert msgspec.json.decode(msgspec.json.encode(body)) == {
        "accepted": 1, "duplicates": 0, "conflicts": [{"event_id": "e1", "fields": ["price"]}]}
