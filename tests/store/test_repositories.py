"""One conformance suite for the application layer's repositories (``Store.repositories()``),
``Store.find_shopper`` and ``Store.ping``, on every Store backend: SQLite and PostgreSQL; and the
migrations against the table declarations they are made from."""

from __future__ import annotations

import threading
from datetime import datetime, timezone

import pytest
import sqlalchemy as sa

from pricepilot.compliance.attributes import Shopper
from pricepilot.errors import NotFound, Unavailable
from pricepilot.promotions.model import PercentOff, Promotion
from pricepilot.store import open_store
from pricepilot.store.repositories import BasePriceRow, OrderRecord, PromotionView, Repositories
from pricepilot.store.sql import SqlStore

T0 = datetime(2026, 3, 1, 10, 0, tzinfo=timezone.utc)


@pytest.fixture
def repos(store: SqlStore) -> Repositories:
    return store.repositories(timezone="Europe/Berlin")


def order(order_id: str = "o1", shopper_id: str | None = "u1", **kw: object) -> OrderRecord:
    base: dict[str, object] = dict(order_id=order_id, fingerprint="f" * 64, shopper_id=shopper_id,
                                   status="confirmed", body='{"total": 999}', created_at=5)
    base.update(kw)
    return OrderRecord(**base)  # type: ignore[arg-type]


def view(pid: str = "P1", created_at: int = 1, **kw: object) -> PromotionView:
    base: dict[str, object] = dict(promotion_id=pid, spec='{"name": "x"}', paused=False,
                                   created_at=created_at, updated_at=created_at)
    base.update(kw)
    return PromotionView(**base)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------ base prices


def test_base_prices_written_are_read_back_only_when_newer_than_asked(repos: Repositories) -> None:
    rows = [BasePriceRow(product_id="MUG", day=20500, current=None, last=999, updated_at=10),
            BasePriceRow(product_id="LAMP", day=20500, current=2490, last=2590, updated_at=20)]
    assert repos.base_prices.write(rows) == 2
    assert sorted(repos.base_prices.changed_since(0), key=lambda r: r.product_id) == [rows[1], rows[0]]
    assert repos.base_prices.changed_since(10) == [rows[1]]
    assert repos.base_prices.changed_since(20) == []
    assert repos.base_prices.write([]) == 0


def test_a_base_price_written_again_replaces_the_products_row(repos: Repositories) -> None:
    repos.base_prices.write([BasePriceRow(product_id="MUG", day=1, current=None, last=999,
                                          updated_at=10)])
    newer = BasePriceRow(product_id="MUG", day=2, current=999, last=949, updated_at=30)
    repos.base_prices.write([newer])
    assert repos.base_prices.changed_since(0) == [newer]


# ------------------------------------------------------------------------------ orders


def test_an_order_is_added_once_and_read_back_as_written(repos: Repositories) -> None:
    assert repos.orders.get("o1") is None
    assert repos.orders.add(order()) is True
    assert repos.orders.add(order(fingerprint="0" * 64)) is False  # the id is taken
    assert repos.orders.get("o1") == order()


def test_concurrent_adds_of_one_order_id_record_it_exactly_once(repos: Repositories) -> None:
    results: list[bool] = []
    lock = threading.Lock()

    def add(i: int) -> None:
        added = repos.orders.add(order(fingerprint=f"{i:064d}"))
        with lock:
            results.append(added)

    threads = [threading.Thread(target=add, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False] * 7 + [True]


def test_an_order_update_replaces_status_and_body_and_names_an_unknown_order(
        repos: Repositories) -> None:
    repos.orders.add(order())
    repos.orders.update("o1", status="cancelled", body='{"total": 0}')
    stored = repos.orders.get("o1")
    assert stored is not None and (stored.status, stored.body) == ("cancelled", '{"total": 0}')
    with pytest.raises(NotFound, match="order 'nope'"):
        repos.orders.update("nope", status="cancelled", body="{}")


def test_unlinking_a_shopper_keeps_its_orders_without_its_id(repos: Repositories) -> None:
    repos.orders.add(order("o1"))
    repos.orders.add(order("o2"))
    repos.orders.add(order("o3", shopper_id="u2"))
    assert repos.orders.unlink_shopper("u1") == 2
    assert repos.orders.unlink_shopper("u1") == 0
    assert [repos.orders.get(o).shopper_id for o in ("o1", "o2", "o3")] == [None, None, "u2"]  # type: ignore[union-attr]


def test_an_order_write_joins_the_stores_open_transaction(store: SqlStore,
                                                          repos: Repositories) -> None:
    with pytest.raises(RuntimeError), store.transaction():
        repos.orders.add(order())
        raise RuntimeError("roll back")
    assert repos.orders.get("o1") is None


# ------------------------------------------------------------------------------ promotion views


def test_promotion_views_are_added_listed_oldest_first_and_read_by_id(repos: Repositories) -> None:
    repos.promotion_views.add(view("P2", created_at=2))
    repos.promotion_views.add(view("P1", created_at=2))
    repos.promotion_views.add(view("P0", created_at=3))
    assert [v.promotion_id for v in repos.promotion_views.list()] == ["P1", "P2", "P0"]
    assert repos.promotion_views.get("P2") == view("P2", created_at=2)
    with pytest.raises(NotFound, match="promotion 'P9'"):
        repos.promotion_views.get("P9")


def test_a_promotion_view_update_changes_only_what_it_is_given(repos: Repositories) -> None:
    repos.promotion_views.add(view())
    repos.promotion_views.update("P1", paused=True, updated_at=7)
    assert repos.promotion_views.get("P1") == view(paused=True, updated_at=7)
    repos.promotion_views.update("P1", spec='{"name": "y"}', updated_at=8)
    assert repos.promotion_views.get("P1") == view(paused=True, spec='{"name": "y"}', updated_at=8)
    with pytest.raises(NotFound, match="promotion 'P9'"):
        repos.promotion_views.update("P9", paused=False, updated_at=9)


def test_a_deleted_promotion_view_is_gone_and_a_second_delete_names_it(repos: Repositories) -> None:
    repos.promotion_views.add(view())
    repos.promotion_views.delete("P1")
    assert repos.promotion_views.list() == []
    with pytest.raises(NotFound, match="promotion 'P1'"):
        repos.promotion_views.delete("P1")


# ------------------------------------------------------------------------------ definitions


def test_the_promotion_definitions_version_moves_with_every_change(repos: Repositories) -> None:
    assert repos.promotions.version() == (0, 0)
    repos.promotions.upsert(Promotion(id="P5", benefit=PercentOff(percent="5")))
    first = repos.promotions.version()
    assert first[0] == 1 and first[1] > 0
    repos.promotions.upsert(Promotion(id="P6", benefit=PercentOff(percent="6")))
    assert repos.promotions.version()[0] == 2
    repos.promotions.delete("P5")
    assert [p.id for p in repos.promotions.list()] == ["P6"]
    assert repos.promotions.version()[0] == 1
    with pytest.raises(NotFound, match="promotion 'P5'"):
        repos.promotions.delete("P5")


# ------------------------------------------------------------------------------ shoppers, ping


def test_find_shopper_reads_a_stored_shopper_and_none_for_an_unknown_one(store: SqlStore) -> None:
    store.upsert_shopper(Shopper(shopper_id="u1", tier="gold", channel="app",
                                 attributes={"segment": "x"}, personalisation_consent=True))
    found = store.find_shopper("u1")
    assert found is not None
    assert (found.tier, found.channel, found.attributes, found.personalisation_consent) == (
        "gold", "app", {"segment": "x"}, True)
    assert store.find_shopper("u2") is None


def test_find_shopper_sees_a_consent_change_written_after_the_first_read(store: SqlStore) -> None:
    store.upsert_shopper(Shopper(shopper_id="u1", personalisation_consent=True))
    assert store.find_shopper("u1").personalisation_consent is True  # type: ignore[union-attr]
    store.set_consent("u1", False)
    assert store.find_shopper("u1").personalisation_consent is False  # type: ignore[union-attr]


def test_ping_answers_on_a_reachable_database(store: SqlStore) -> None:
    store.ping()


def test_ping_of_an_unreachable_postgresql_server_raises_unavailable() -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens once the socket is closed
    down = open_store(f"postgresql+psycopg://postgres@127.0.0.1:{port}/test")
    try:
        with pytest.raises(Unavailable, match="database"):
            down.ping()
    finally:
        down.close()


# ------------------------------------------------------------------------------ migrations


def test_the_migrated_schema_is_the_declared_one(store: SqlStore) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    import pricepilot.promotions.tables  # noqa: F401  (declares its tables on the metadata)
    from pricepilot.store.schema import metadata

    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []
    assert {t.name for t in metadata.sorted_tables} <= set(sa.inspect(store.engine).get_table_names())
