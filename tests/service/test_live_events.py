"""Live ingestion: the batch rules, one atomic write, duplicates counted."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import msgspec
import pytest

from pricepilot.catalog.models import Product
from pricepilot.clock import FixedClock
from pricepilot.config import load_settings
from pricepilot.events.ingest import IngestError
from pricepilot.events.schemas import Purchase, View
from pricepilot.serving.live_events import LiveIngestor
from pricepilot.store import open_store

T = datetime(2026, 3, 2, 12, tzinfo=timezone.utc)


@pytest.fixture
def live() -> LiveIngestor:
    store = open_store("sqlite://")
    store.migrate()
    store.upsert_products([Product(product_id="A", title="A", category="k", currency="EUR",
                                   unit_cost=100, list_price=200)])
    return LiveIngestor(store, load_settings(None, env={}), FixedClock(T))


def view(eid: str, product: str = "A", **kw: object) -> View:
    return View(event_id=eid, ts=kw.pop("ts", T), user_id="u", product_id=product,  # type: ignore[arg-type]
                price=200, currency="EUR", **kw)  # type: ignore[arg-type]


def test_events_are_written_once_and_repeats_are_duplicates(live: LiveIngestor) -> None:
    assert live.ingest([view("e1"), view("e2"), view("e1")])[:2] == (2, 1)
    assert live.ingest([view("e2"), view("e3")])[:2] == (1, 1)
    assert live.store.count_events() == 3


@pytest.mark.parametrize(
    ("event", "field"),
    [(view("x", product="NOPE"), "product_id"),
     (view("x", ts=T + timedelta(hours=1)), "ts"),
     (Purchase(event_id="x", ts=T, user_id="u", product_id="A", order_id="o", quantity=0,
               price=200, currency="EUR"), "quantity"),
     (View(event_id="x", ts=T, user_id="u", product_id="A", price=200, currency="XXQ"),
      "currency")],
)
def test_a_bad_event_refuses_the_whole_request(live: LiveIngestor, event: object,
                                               field: str) -> None:
    with pytest.raises(IngestError) as e:
        live.ingest([view("ok"), event])  # type: ignore[list-item]
    assert e.value.field == field
    assert live.store.count_events() == 0


def test_a_product_added_by_another_process_is_accepted(live: LiveIngestor) -> None:
    live.store.upsert_products([Product(product_id="B", title="B", category="k", currency="EUR",
                                        unit_cost=100, list_price=200)])
    assert live.ingest([view("b1", product="B")])[:2] == (1, 0)


def test_a_repriced_product_handed_over_by_the_catalogue_is_judged_by_its_new_list_price(
    live: LiveIngestor,
) -> None:
    """The application's catalogue listener hands the ingestor every product it syncs: a
    price 20x the old list price is implausible before, plausible after a reprice to 1,000."""
    with pytest.raises(IngestError, match="list price"):
        live.ingest([msgspec.structs.replace(view("e1"), price=4_100)])
    live.add_products([Product(product_id="A", title="A", category="k", currency="EUR",
                               unit_cost=100, list_price=1_000)])
    assert live.ingest([msgspec.structs.replace(view("e1"), price=4_100)])[:2] == (1, 0)
