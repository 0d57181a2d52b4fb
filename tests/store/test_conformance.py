"""One conformance suite for every Store backend: SQLite (a temporary file) and PostgreSQL."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import numpy as np
import pyarrow as pa
import pytest

from pricepilot.catalog.models import CategoryPolicy, Guardrails, Product
from pricepilot.clock import to_micros
from pricepilot.compliance.attributes import Shopper
from pricepilot.errors import NotFound, Unavailable, ValidationError
from pricepilot.events.columns import events_to_table
from pricepilot.events.schemas import (
    EVENT_COLUMNS,
    AddToCart,
    Calendar,
    CompetitorPrice,
    Inventory,
    Purchase,
    RemoveFromCart,
    View,
)
from pricepilot.store import DecisionRecord, Store, open_store
from pricepilot.store.sql import SqlStore

T0 = datetime(2026, 3, 1, 10, 0, tzinfo=timezone.utc)


def product(pid: str = "SKU-1", **kw: object) -> Product:
    base: dict[str, object] = dict(product_id=pid, title="Mug", category="kitchen",
                                   currency="EUR", unit_cost=400, list_price=999)
    base.update(kw)
    return Product(**base)  # type: ignore[arg-type]


def view(eid: str, user: str = "u1", pid: str = "SKU-1", at: datetime = T0) -> View:
    return View(event_id=eid, ts=at, user_id=user, product_id=pid, price=999, currency="EUR",
                session_id="s1", channel="web")


def all_types() -> list:  # type: ignore[type-arg]
    return [
        view("v1"),
        AddToCart(event_id="a1", ts=T0, user_id="u1", product_id="SKU-1", price=999,
                  currency="EUR", quantity=2),
        RemoveFromCart(event_id="r1", ts=T0, user_id="u1", product_id="SKU-1"),
        Purchase(event_id="p1", ts=T0, user_id="u1", product_id="SKU-1", order_id="o1",
                 price=899, currency="EUR", quote_id="q1"),
        CompetitorPrice(event_id="c1", ts=T0, product_id="SKU-1", competitor="acme",
                        price=949, currency="EUR", on_promotion=True),
        Inventory(event_id="i1", ts=T0, product_id="SKU-1", stock=12),
        Calendar(event_id="h1", ts=T0, day=date(2026, 12, 25), name="Christmas", region="DE"),
    ]


def test_the_sql_store_satisfies_the_store_protocol(store: SqlStore) -> None:
    assert isinstance(store, Store)


def test_migrate_twice_is_harmless(store: SqlStore) -> None:
    store.migrate()
    assert store.count_events() == 0


def test_products_round_trip_with_guardrails_and_attributes(store: SqlStore) -> None:
    p = product(brand="Acme", stock=5, season_end=T0 + timedelta(days=30),
                attributes={"colour": "red"},
                guardrails=Guardrails(floor=500, ceiling=1500, ladder=[799, 899, 999]))
    assert store.upsert_products([p, product("SKU-2", category="garden")]) == 2
    assert store.get_product("SKU-1") == p
    assert [x.product_id for x in store.list_products()] == ["SKU-1", "SKU-2"]
    assert [x.product_id for x in store.list_products("garden")] == ["SKU-2"]
    assert store.product_ids() == {"SKU-1", "SKU-2"}


def test_upserting_a_product_replaces_it(store: SqlStore) -> None:
    store.upsert_products([product()])
    store.upsert_products([product(list_price=1099)])
    assert store.get_product("SKU-1").list_price == 1099
    assert len(store.list_products()) == 1


def test_an_invalid_product_writes_nothing(store: SqlStore) -> None:
    with pytest.raises(ValidationError, match="list_price"):
        store.upsert_products([product("SKU-9"), product("SKU-1", list_price=0)])
    assert store.list_products() == []


def test_a_missing_product_is_not_found(store: SqlStore) -> None:
    with pytest.raises(NotFound, match="SKU-404"):
        store.get_product("SKU-404")


def test_category_policies_round_trip_and_replace(store: SqlStore) -> None:
    store.upsert_category_policy(CategoryPolicy(category="kitchen",
                                                guardrails=Guardrails(min_margin=0.1)))
    store.upsert_category_policy(CategoryPolicy(category="kitchen",
                                                guardrails=Guardrails(min_margin=0.2)))
    store.upsert_category_policy(CategoryPolicy(category="garden", guardrails=Guardrails()))
    pols = store.list_category_policies()
    assert [p.category for p in pols] == ["garden", "kitchen"]
    assert pols[1].guardrails.min_margin == 0.2


def test_an_invalid_category_policy_is_refused(store: SqlStore) -> None:
    with pytest.raises(ValidationError, match="floor"):
        store.upsert_category_policy(
            CategoryPolicy(category="x", guardrails=Guardrails(floor=10, ceiling=5)))
    assert store.list_category_policies() == []


def test_shoppers_round_trip_and_consent_changes(store: SqlStore) -> None:
    s = Shopper(shopper_id="u1", tier="gold", device="mobile", region="DE", channel="app",
                attributes={"segment": "a"}, audit_attributes={"age": "30-39"})
    store.upsert_shopper(s)
    assert store.get_shopper("u1") == s
    store.set_consent("u1", False)
    assert store.get_shopper("u1").personalisation_consent is False
    with pytest.raises(NotFound):
        store.set_consent("nobody", True)
    with pytest.raises(NotFound):
        store.get_shopper("nobody")


def test_the_shoppers_frame_lists_pricing_attributes_but_never_audit_ones(store: SqlStore) -> None:
    store.upsert_shoppers([
        Shopper(shopper_id="u2", tier="silver", audit_attributes={"gender": "f"}),
        Shopper(shopper_id="u1", tier="gold", device="mobile", region="DE", channel="app",
                personalisation_consent=False),
    ])
    frame = store.shoppers_frame()
    assert list(frame.columns) == ["user_id", "tier", "device", "region", "channel",
                                   "personalisation_consent"]
    assert frame["user_id"].tolist() == ["u1", "u2"]
    assert frame.loc[0, "tier"] == "gold" and not frame.loc[0, "personalisation_consent"]
    assert "gender" not in frame.columns and "f" not in frame.to_numpy().tolist()[1]


def test_every_event_type_round_trips_through_the_frame(store: SqlStore) -> None:
    evs = all_types()
    assert store.add_events(evs) == len(evs)
    df = store.events_frame()
    assert tuple(df.columns) == EVENT_COLUMNS
    assert len(df) == 7
    by_id = df.set_index("event_id")
    assert by_id.loc["a1", "quantity"] == 2
    assert by_id.loc["c1", "on_promotion"]
    assert by_id.loc["i1", "stock"] == 12
    assert by_id.loc["h1", "day"] == "2026-12-25"
    assert by_id.loc["p1", "price"] == 899
    assert int(by_id.loc["v1", "ts"]) == to_micros(T0)


def test_adding_the_same_events_again_changes_nothing(store: SqlStore) -> None:
    evs = [view(f"e{i}") for i in range(5)]
    assert store.add_events(evs) == 5
    before = store.events_frame()
    assert store.add_events(evs + [view("e5")]) == 1
    assert store.add_events(evs) == 0
    assert store.count_events() == 6
    assert store.events_frame().iloc[:5].equals(before) or len(before) == 5


def test_duplicate_ids_in_one_call_are_stored_once(store: SqlStore) -> None:
    assert store.add_events([view("d1"), view("d1")]) == 1


def test_a_failing_batch_leaves_nothing(store: SqlStore) -> None:
    bad = view("b2", at=datetime(2026, 3, 1))  # naive timestamp
    with pytest.raises(ValidationError, match="ts"):
        store.add_events([view("b1"), bad])
    assert store.count_events() == 0


def test_a_columnar_batch_is_inserted_idempotently(store: SqlStore) -> None:
    table = events_to_table([view(f"e{i}", user=f"u{i % 3}") for i in range(100)])
    assert store.add_event_batch(table) == 100
    assert store.add_event_batch(table) == 0
    assert store.count_events(["view"]) == 100


def test_a_columnar_batch_with_a_null_id_is_refused(store: SqlStore) -> None:
    table = events_to_table([view("e1")]).set_column(
        0, "event_id", pa.array([None], pa.string()))
    with pytest.raises(ValidationError, match="event_id"):
        store.add_event_batch(table)
    assert store.count_events() == 0


def test_a_columnar_batch_with_an_unknown_column_is_refused(store: SqlStore) -> None:
    table = events_to_table([view("e1")]).append_column("colour", pa.array(["red"]))
    with pytest.raises(ValidationError, match="colour"):
        store.add_event_batch(table)


def test_events_frame_filters_by_type_time_and_product(store: SqlStore) -> None:
    store.add_events([
        view("e1", at=T0), view("e2", at=T0 + timedelta(hours=1), pid="SKU-2"),
        view("e3", at=T0 + timedelta(hours=2)),
        Inventory(event_id="i1", ts=T0, product_id="SKU-1", stock=3),
    ])
    assert list(store.events_frame(types=["view"]).event_id) == ["e1", "e2", "e3"]
    assert list(store.events_frame(since=T0 + timedelta(hours=1)).event_id) == ["e2", "e3"]
    assert list(store.events_frame(until=T0 + timedelta(hours=1)).event_id) == ["e1", "i1"]
    assert list(store.events_frame(product_id="SKU-2").event_id) == ["e2"]
    assert store.count_events(["inventory"]) == 1
    assert store.events_frame(types=["purchase"]).empty


def test_iterating_event_batches_sees_every_event_once_in_time_order(store: SqlStore) -> None:
    store.add_events([view(f"e{i:02d}", at=T0 + timedelta(seconds=i % 7)) for i in range(25)])
    frames = list(store.iter_event_batches(batch_size=10))
    assert [len(f) for f in frames] == [10, 10, 5]
    ts = [x for f in frames for x in f.ts]
    assert ts == sorted(ts)
    assert sorted(x for f in frames for x in f.event_id) == [f"e{i:02d}" for i in range(25)]


def decision(did: str, user: str | None = "u1", at: datetime = T0) -> DecisionRecord:
    return DecisionRecord(decision_id=did, ts=at, user_id=user, product_id="SKU-1", price=899,
                          list_price=999, currency="EUR", model_version="m1", propensity=0.25,
                          personalised=True, binding_rule="margin_floor",
                          explanation={"stages": [{"name": "ceiling", "effect": 0}]},
                          context={"device": "mobile"})


def test_decisions_are_logged_idempotently_and_read_back(store: SqlStore) -> None:
    assert store.log_decisions([decision("d1"), decision("d2", at=T0 + timedelta(1))]) == 2
    assert store.log_decisions([decision("d1"), decision("d3", user=None)]) == 1
    df = store.decisions_frame()
    assert list(df.decision_id) == ["d1", "d3", "d2"]
    assert df.iloc[0].explanation == {"stages": [{"name": "ceiling", "effect": 0}]}
    assert store.get_decision("d1") == decision("d1")
    assert list(store.decisions_frame(since=T0 + timedelta(hours=1)).decision_id) == ["d2"]
    with pytest.raises(NotFound):
        store.get_decision("nope")


def test_a_decision_with_an_impossible_propensity_writes_nothing(store: SqlStore) -> None:
    bad = decision("d2")
    bad.propensity = 1.5
    with pytest.raises(ValidationError, match="propensity"):
        store.log_decisions([decision("d1"), bad])
    assert store.decisions_frame().empty


def test_erasing_a_shopper_removes_row_events_and_decisions(store: SqlStore) -> None:
    store.upsert_shopper(Shopper(shopper_id="u1"))
    store.upsert_shopper(Shopper(shopper_id="u2"))
    store.add_events([view("e1", user="u1"), view("e2", user="u2"),
                      CompetitorPrice(event_id="c1", ts=T0, product_id="SKU-1",
                                      competitor="acme", price=1, currency="EUR")])
    store.log_decisions([decision("d1", user="u1"), decision("d2", user="u2")])
    assert store.erase_shopper("u1") == {"shoppers": 1, "events": 1, "decisions": 1}
    with pytest.raises(NotFound):
        store.get_shopper("u1")
    assert sorted(store.events_frame().event_id) == ["c1", "e2"]
    assert list(store.decisions_frame().user_id) == ["u2"]
    assert store.erase_shopper("u1") == {"shoppers": 0, "events": 0, "decisions": 0}


def test_lowest_price_includes_the_price_in_force_at_the_start(store: SqlStore) -> None:
    store.record_price("SKU-1", T0 - timedelta(days=40), 1000)
    store.record_price("SKU-1", T0 - timedelta(days=35), 800)
    store.record_price("SKU-1", T0 - timedelta(days=10), 900)
    store.record_price("SKU-1", T0, 700)
    window = (T0 - timedelta(days=30), T0)
    assert store.lowest_price("SKU-1", *window) == 800
    store.record_price("SKU-1", T0 - timedelta(days=35), 950)  # replaces the entry at that ts
    assert store.lowest_price("SKU-1", *window) == 900
    assert store.lowest_price("SKU-2", *window) is None
    with pytest.raises(ValidationError):
        store.record_price("SKU-1", T0, -1)


def test_record_prices_in_bulk_is_all_or_nothing_and_the_last_record_wins(store: SqlStore) -> None:
    window = (T0 - timedelta(days=30), T0 + timedelta(days=1))
    rows = [("SKU-1", T0 - timedelta(days=5), 900), ("SKU-2", T0 - timedelta(days=5), 500),
            ("SKU-1", T0 - timedelta(days=5), 950),  # same product and ts: replaces the 900
            ("SKU-1", T0, 1000)]
    assert store.record_prices(rows) == 3
    assert store.lowest_prices(*window) == {"SKU-1": 950, "SKU-2": 500}
    with pytest.raises(ValidationError, match="SKU-3"):
        store.record_prices([("SKU-2", T0, 100), ("SKU-3", T0, -5)])
    assert store.lowest_prices(*window) == {"SKU-1": 950, "SKU-2": 500}  # nothing written
    assert store.record_prices([]) == 0
    # keep_lowest: entries at one ts keep the lowest price, stored or new
    at = T0 - timedelta(days=2)
    assert store.record_prices([("SKU-4", at, 700), ("SKU-4", at, 650), ("SKU-4", at, 690)],
                               keep_lowest=True) == 1
    assert store.record_prices([("SKU-4", at, 800)], keep_lowest=True) == 1
    assert store.lowest_prices(*window)["SKU-4"] == 650
    assert store.record_prices([("SKU-4", at, 600)], keep_lowest=True) == 1
    assert store.lowest_prices(*window)["SKU-4"] == 600


def test_lowest_prices_of_every_product_agree_with_one_at_a_time(store: SqlStore) -> None:
    rng = np.random.default_rng(5)
    for k in range(40):
        pid = f"SKU-{k % 7}"
        store.record_price(pid, T0 - timedelta(days=int(rng.integers(0, 60)), hours=int(rng.integers(0, 24))),
                           int(rng.integers(100, 2000)))
    window = (T0 - timedelta(days=30), T0)
    bulk = store.lowest_prices(*window)
    for k in range(8):
        one = store.lowest_price(f"SKU-{k}", *window)
        assert bulk.get(f"SKU-{k}") == one
    assert store.lowest_prices(T0 - timedelta(days=100), T0 - timedelta(days=99)) == {}
    with pytest.raises(ValidationError):
        store.lowest_prices(T0, T0 - timedelta(days=1))


def test_a_transaction_commits_all_calls_or_none(store: SqlStore) -> None:
    with pytest.raises(ValidationError):
        with store.transaction():
            store.add_events([view("e1")])
            store.upsert_shopper(Shopper(shopper_id="u1"))
            store.upsert_products([product(list_price=-1)])
    assert store.count_events() == 0
    with pytest.raises(NotFound):
        store.get_shopper("u1")
    with store.transaction():
        store.add_events([view("e1")])
        store.upsert_shopper(Shopper(shopper_id="u1"))
    assert store.count_events() == 1
    assert store.get_shopper("u1").shopper_id == "u1"


def test_a_failed_call_inside_a_transaction_leaves_the_rest_usable(store: SqlStore) -> None:
    with store.transaction():
        store.add_events([view("e1")])
        with pytest.raises(NotFound):
            store.set_consent("nobody", False)
        store.add_events([view("e2")])
    assert store.count_events() == 2


def test_an_unreachable_database_raises_unavailable() -> None:
    s = open_store("postgresql+psycopg://postgres@127.0.0.1:1/none")
    with pytest.raises(Unavailable, match="database"):
        s.count_events()
    s.close()


def test_an_unmigrated_database_raises_unavailable(tmp_path) -> None:  # type: ignore[no-untyped-def]
    s = open_store(f"sqlite:///{tmp_path / 'empty.sqlite'}")
    with pytest.raises(Unavailable, match="events"):
        s.count_events()
    s.close()


def test_open_store_reads_the_url_from_settings(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from pricepilot.config import load_settings

    settings = load_settings(None, env={}, overrides={"paths.data_dir": str(tmp_path)})
    s = open_store(settings)
    s.migrate()
    assert (tmp_path / "pricepilot.sqlite").exists()
    assert s.dialect == "sqlite"
    s.close()
    rel = load_settings(None, env={}, overrides={"paths.data_dir": str(tmp_path),
                                                 "store.url": "sqlite:///sub/x.sqlite"})
    s2 = open_store(rel)
    s2.migrate()
    assert (tmp_path / "sub" / "x.sqlite").exists()
    s2.close()


def test_a_failed_bulk_load_leaves_nothing_and_keeps_the_indexes(store: SqlStore) -> None:
    import sqlalchemy as sa

    def index_names() -> set[str]:
        return {ix["name"] for ix in sa.inspect(store.engine).get_indexes("events")}

    before = index_names()
    assert {"ix_events_type_ts", "ix_events_user_id_ts", "ix_events_product_id_ts"} <= before
    with pytest.raises(ValidationError):
        with store.bulk_load(expected_rows=1_000_000):
            store.add_event_batch(events_to_table([view(f"e{i}") for i in range(10)]))
            raise ValidationError("event", None, "stop halfway")
    assert store.count_events() == 0
    assert index_names() == before
    with store.bulk_load(expected_rows=1_000_000):
        assert store.add_event_batch(events_to_table([view(f"e{i}") for i in range(10)])) == 10
    assert index_names() == before
    assert len(store.events_frame(product_id="SKU-1")) == 10


def test_a_columnar_batch_keeps_values_outside_the_usual_columns_of_a_type(
    store: SqlStore,
) -> None:
    table = events_to_table([view("e1"), view("e2")])
    table = table.set_column(EVENT_COLUMNS.index("stock"), "stock", pa.array([None, 5], pa.int64()))
    assert store.add_event_batch(table) == 2
    df = store.events_frame().set_index("event_id")
    assert df.loc["e2", "stock"] == 5 and df.loc["e2", "price"] == 999
