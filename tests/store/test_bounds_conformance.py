"""Issue #13 point 1 (and 2) at the store: the same over-long, NUL-holding or over-range values
give the same refusal on SQLite and PostgreSQL — a ValidationError naming the entity and the
field, and nothing stored. (PostgreSQL refused them with a driver DataError, a 500 through the
service; SQLite stored them, or raised OverflowError on integers beyond 64 bits.)"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import msgspec
import pyarrow as pa
import pytest

from pricepilot.catalog.models import CategoryPolicy, Guardrails, Product
from pricepilot.clock import FixedClock
from pricepilot.config import load_settings
from pricepilot.errors import ValidationError
from pricepilot.events.columns import events_to_table
from pricepilot.events.ingest import ingest_event_files
from pricepilot.events.schemas import Calendar, CompetitorPrice, Event, Inventory, Purchase, View
from pricepilot.store.sql import SqlStore
from pricepilot.store.tables import events as events_table
from pricepilot.store.tables import products as products_table

TS = datetime(2026, 3, 1, 9, 0, tzinfo=timezone.utc)


def view(**kw: object) -> View:
    base: dict[str, object] = dict(event_id="e1", ts=TS, user_id="u" * 32, product_id="P1",
                                   price=999, currency="EUR", session_id="s1", channel="web")
    base.update(kw)
    return View(**base)  # type: ignore[arg-type]


def product(**kw: object) -> Product:
    base: dict[str, object] = dict(product_id="P1", title="Mug", category="kitchen",
                                   currency="EUR", unit_cost=400, list_price=999)
    base.update(kw)
    return Product(**base)  # type: ignore[arg-type]


BAD_EVENTS: list[tuple[Event, str]] = [
    (view(event_id="e" * 201), "event_id"),
    (view(event_id="e" * 129), "event_id"),
    (view(event_id="e\x001"), "event_id"),
    (view(event_id=""), "event_id"),
    (view(session_id="s" * 201), "session_id"),
    (view(session_id="s\x00"), "session_id"),
    (view(channel="c" * 201), "channel"),
    (view(channel="w\x00b"), "channel"),
    (view(device="d" * 65), "device"),
    (view(user_id="u" * 65), "user_id"),
    (view(user_id=""), "user_id"),
    (view(product_id="P/1"), "product_id"),
    (view(quote_id="q\x00"), "quote_id"),
    (view(price=10**13 + 1), "price"),
    (Purchase(event_id="p1", ts=TS, user_id="u1", product_id="P1", order_id="o\x00", price=999,
              currency="EUR"), "order_id"),
    (Purchase(event_id="p1", ts=TS, user_id="u1", product_id="P1", order_id="o1", price=999,
              currency="EUR", quantity=10_001), "quantity"),
    (CompetitorPrice(event_id="c1", ts=TS, product_id="P1", competitor="x" * 65, price=1,
                     currency="EUR"), "competitor"),
    (Inventory(event_id="i1", ts=TS, product_id="P1", stock=10**9 + 1), "stock"),
    (Calendar(event_id="h1", ts=TS, day=TS.date(), name="N\x00Y"), "name"),
]


@pytest.mark.parametrize(("event", "field"), BAD_EVENTS,
                         ids=[f"{i}-{f}" for i, (_, f) in enumerate(BAD_EVENTS)])
def test_point1_the_store_refuses_out_of_bounds_events_alike_and_stores_none(
        store: SqlStore, event: Event, field: str) -> None:
    good = view(event_id="ok")
    with pytest.raises(ValidationError) as e:
        store.add_events([good, event])
    assert e.value.field == field
    assert e.value.entity == f"event {event.event_id!r}"
    assert store.count_events() == 0


def test_point1_an_int64_overflow_is_refused_before_the_database(store: SqlStore) -> None:
    with pytest.raises(ValidationError):
        store.add_events([view(price=2**63)])
    assert store.count_events() == 0


def test_point1_events_at_their_bounds_are_stored_alike(store: SqlStore) -> None:
    edge = [view(event_id="e" * 128, session_id="s" * 128, channel="c" * 64, user_id="u" * 64,
                 price=10**13, device="mobile app"),
            Purchase(event_id="p" * 128, ts=TS, user_id="u1", product_id="P" * 128,
                     order_id="o" * 128, price=0, currency="EUR", quantity=10_000),
            Inventory(event_id="i1", ts=TS, product_id="P1", stock=10**9),
            Calendar(event_id="h1", ts=TS, day=TS.date(), name="N" * 200, region="r" * 64)]
    assert store.add_events(edge) == 4
    stored = store.events_frame()
    assert set(stored["event_id"]) == {e.event_id for e in edge}


def test_the_event_columns_are_as_wide_as_the_bounds() -> None:
    widths = {c.name: getattr(c.type, "length", None) for c in events_table.columns}
    assert widths["event_id"] == widths["product_id"] == widths["order_id"] == 128
    assert widths["user_id"] == 64 and widths["channel"] == 64 and widths["name"] == 200
    assert {c.name: getattr(c.type, "length", None) for c in products_table.columns}[
        "product_id"] == 128


BAD_PRODUCTS: list[tuple[Product, str]] = [
    (product(list_price=2**63), "list_price"),
    (product(list_price=10**13 + 1), "list_price"),
    (product(unit_cost=2**63), "unit_cost"),
    (product(stock=2**63), "stock"),
    (product(product_id="P" * 129), "product_id"),
    (product(product_id="P\x001"), "product_id"),
    (product(product_id="P/1"), "product_id"),
    (product(title="M\x00ug"), "title"),
    (product(title="M" * 201), "title"),
    (product(title=""), "title"),
    (product(category="k" * 129), "category"),
    (product(category="a/b"), "category"),
    (product(brand="b\x00"), "brand"),
    (product(attributes={"colour": "r\x00ed"}), "attributes.colour"),
    (product(guardrails=Guardrails(floor=2**63)), "guardrails.floor"),
    (product(guardrails=Guardrails(ceiling=10**13 + 1)), "guardrails.ceiling"),
    (product(guardrails=Guardrails(ladder=[999, 2**63])), "guardrails.ladder"),
]


@pytest.mark.parametrize(("p", "field"), BAD_PRODUCTS,
                         ids=[f"{i}-{f}" for i, (_, f) in enumerate(BAD_PRODUCTS)])
def test_point2_the_store_refuses_out_of_bounds_products_alike_and_stores_none(
        store: SqlStore, p: Product, field: str) -> None:
    with pytest.raises(ValidationError) as e:
        store.upsert_products([product(product_id="OK"), p])
    assert e.value.field == field
    assert store.product_ids() == set()


def test_point2_products_at_their_bounds_are_stored_and_read_back_alike(store: SqlStore) -> None:
    p = product(product_id="P" * 128, title="T" * 200, category="home & garden", brand="B" * 200,
                list_price=10**13, unit_cost=10**13, stock=10**9,
                guardrails=Guardrails(floor=1, ceiling=10**13, ladder=[10**13, 5, 5]))
    assert store.upsert_products([p]) == 1
    back = store.get_product(p.product_id)
    assert msgspec.to_builtins(back) == msgspec.to_builtins(p)
    assert back.guardrails.ladder == [5, 10**13]  # a ladder is kept ascending, without repeats


def test_a_raw_batch_with_a_nul_byte_is_refused_too(store: SqlStore) -> None:
    batch = events_to_table([view()])
    batch = batch.set_column(batch.schema.get_field_index("channel"), "channel",
                             pa.array(["\x00"], pa.string()))
    with pytest.raises(ValidationError) as e:
        store.add_event_batch(batch)
    assert e.value.field == "channel"
    assert store.count_events() == 0


@pytest.mark.parametrize(("category", "guardrails", "field"), [
    ("k\x00", Guardrails(), "category"),
    ("k" * 129, Guardrails(), "category"),
    ("a/b", Guardrails(), "category"),
    (" ", Guardrails(), "category"),
    ("kitchen", Guardrails(floor=2**63), "guardrails.floor"),
    ("kitchen", Guardrails(ladder=[1, 10**13 + 1]), "guardrails.ladder"),
])
def test_point2_the_store_refuses_out_of_bounds_category_policies_alike(
        store: SqlStore, category: str, guardrails: Guardrails, field: str) -> None:
    with pytest.raises(ValidationError) as e:
        store.upsert_category_policy(CategoryPolicy(category=category, guardrails=guardrails))
    assert e.value.field == field
    assert store.list_category_policies() == []


def test_point1_file_ingestion_rejects_out_of_bounds_rows_one_by_one(
        store: SqlStore, tmp_path: Path) -> None:
    """A file's over-long or NUL-holding value is a reject naming its line and field (with
    ``ingest.on_error = "skip"`` the other rows are stored), not a failure of the whole load."""
    store.upsert_products([product()])
    row = "{eid},view,2026-03-01T09:00:00+00:00,c42,P1,9.99,EUR,{channel}\n"
    (tmp_path / "ev.csv").write_text(
        "event_id,type,ts,customer_id,product_id,price,currency,channel\n"
        + row.format(eid="e1", channel="web") + row.format(eid="e" * 129, channel="web")
        + row.format(eid="e3", channel="c" * 65) + row.format(eid="e4", channel="w\x01b"))
    settings = load_settings(None, env={}, overrides={"paths.data_dir": str(tmp_path),
                                                      "ingest.on_error": "skip"})
    report = ingest_event_files(store, [tmp_path / "ev.csv"], settings,
                                clock=FixedClock(TS + timedelta(hours=1)))
    assert report.inserted == 1 and report.rejected == 3
    assert [(r.line, r.field) for r in report.reject_examples] == [
        (3, "event_id"), (4, "channel"), (5, "channel")]
    assert store.count_events() == 1
