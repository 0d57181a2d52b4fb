"""The application layer's repositories (:mod:`pricepilot.store.repositories`) on a SQL store.

Each runs its statements through the store's own connections (:meth:`SqlStore.connect`), so it
joins an open :meth:`~SqlStore.transaction` and its database failures are the store's
:class:`~pricepilot.errors.Unavailable` and :class:`~pricepilot.errors.Conflict`. The promotions
part keeps its own SQL backends beside its domain (:mod:`pricepilot.promotions.repository`,
:mod:`pricepilot.promotions.ledger_sql`); :func:`sql_repositories` puts them on the store's
engine. This assembly is the one place the store reaches into another part, as its migrations
create that part's tables.

>>> from pricepilot.store import open_store
>>> store = open_store("sqlite://"); store.migrate()
>>> prices = store.repositories().base_prices
>>> prices.write([BasePriceRow(product_id="MUG", day=1, current=None, last=999, updated_at=5)])
1
>>> [r.last for r in prices.changed_since(4)], prices.changed_since(5)
([999], [])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import msgspec
import sqlalchemy as sa

from pricepilot.errors import NotFound
from pricepilot.store import dialects
from pricepilot.store import tables as t
from pricepilot.store.repositories import (
    ApiKeyRecord,
    BasePriceRow,
    OrderRecord,
    PromotionView,
    Repositories,
)

if TYPE_CHECKING:
    from pricepilot.store.sql import SqlStore


class _OnStore:
    def __init__(self, store: SqlStore) -> None:
        self.store = store

    def _write(self, stmt: Any, entity: str, key: str) -> int:
        """Run ``stmt``; :class:`NotFound` naming ``entity`` ``key`` when it touched no row."""
        with self.store.connect() as conn:
            n = int(conn.execute(stmt).rowcount)
        if n == 0:
            raise NotFound(entity, key)
        return n


class SqlBasePrices(_OnStore):
    """:class:`~pricepilot.store.repositories.BasePriceStore` on ``serving_base_prices``."""

    def write(self, rows: Sequence[BasePriceRow]) -> int:
        with self.store.connect() as conn:
            dialects.upsert(conn, t.serving_base_prices, [msgspec.to_builtins(r) for r in rows],
                            ["product_id"])
        return len(rows)

    def changed_since(self, updated_after: int) -> list[BasePriceRow]:
        c = t.serving_base_prices.c
        with self.store.connect() as conn:
            rows = conn.execute(sa.select(t.serving_base_prices)
                                .where(c.updated_at > updated_after)).all()
        return [BasePriceRow(**r._asdict()) for r in rows]


class SqlOrders(_OnStore):
    """:class:`~pricepilot.store.repositories.OrderStore` on ``service_orders``."""

    def get(self, order_id: str) -> OrderRecord | None:
        with self.store.connect() as conn:
            row = conn.execute(sa.select(t.service_orders)
                               .where(t.service_orders.c.order_id == order_id)).first()
        return None if row is None else OrderRecord(**row._asdict())

    def add(self, order: OrderRecord) -> bool:
        # RETURNING, not the row count: psycopg's count of a single-row insert is not kept
        stmt = (dialects.insert(self.store.dialect, t.service_orders)
                .values(msgspec.to_builtins(order))
                .on_conflict_do_nothing(index_elements=["order_id"])
                .returning(t.service_orders.c.order_id))
        with self.store.connect() as conn:
            return conn.execute(stmt).first() is not None

    def update(self, order_id: str, *, status: str, body: str) -> None:
        c = t.service_orders.c
        self._write(t.service_orders.update().where(c.order_id == order_id)
                    .values(status=status, body=body), "order", order_id)

    def unlink_shopper(self, shopper_id: str) -> int:
        c = t.service_orders.c
        with self.store.connect() as conn:
            return int(conn.execute(t.service_orders.update().where(c.shopper_id == shopper_id)
                                    .values(shopper_id=None)).rowcount)


class SqlPromotionViews(_OnStore):
    """:class:`~pricepilot.store.repositories.PromotionViewStore` on ``service_promotions``."""

    def add(self, view: PromotionView) -> None:
        with self.store.connect() as conn:
            conn.execute(t.service_promotions.insert().values(msgspec.to_builtins(view)))

    def get(self, promotion_id: str) -> PromotionView:
        c = t.service_promotions.c
        with self.store.connect() as conn:
            row = conn.execute(sa.select(t.service_promotions)
                               .where(c.promotion_id == promotion_id)).first()
        if row is None:
            raise NotFound("promotion", promotion_id)
        return _view(row)

    def list(self) -> list[PromotionView]:
        c = t.service_promotions.c
        with self.store.connect() as conn:
            rows = conn.execute(sa.select(t.service_promotions)
                                .order_by(c.created_at, c.promotion_id)).all()
        return [_view(r) for r in rows]

    def update(self, promotion_id: str, *, updated_at: int, spec: str | None = None,
               paused: bool | None = None) -> None:
        values: dict[str, Any] = {"updated_at": updated_at}
        if spec is not None:
            values["spec"] = spec
        if paused is not None:
            values["paused"] = paused
        c = t.service_promotions.c
        self._write(t.service_promotions.update().where(c.promotion_id == promotion_id)
                    .values(values), "promotion", promotion_id)

    def delete(self, promotion_id: str) -> None:
        c = t.service_promotions.c
        self._write(t.service_promotions.delete().where(c.promotion_id == promotion_id),
                    "promotion", promotion_id)


def _view(row: Any) -> PromotionView:
    return PromotionView(promotion_id=row.promotion_id, spec=row.spec, paused=bool(row.paused),
                         created_at=int(row.created_at), updated_at=int(row.updated_at))


class SqlApiKeys(_OnStore):
    """:class:`~pricepilot.store.repositories.ApiKeyStore` on ``api_keys``."""

    def add(self, key: ApiKeyRecord) -> bool:
        stmt = (dialects.insert(self.store.dialect, t.api_keys).values(msgspec.to_builtins(key))
                .on_conflict_do_nothing().returning(t.api_keys.c.key_id))
        with self.store.connect() as conn:
            return conn.execute(stmt).first() is not None

    def list(self) -> list[ApiKeyRecord]:
        c = t.api_keys.c
        with self.store.connect() as conn:
            rows = conn.execute(sa.select(t.api_keys).order_by(c.created_at, c.key_id)).all()
        return [_key(r) for r in rows]

    def revoke(self, key_id: str, revoked_at: int) -> ApiKeyRecord:
        c = t.api_keys.c
        with self.store.connect() as conn:
            conn.execute(t.api_keys.update().where(c.key_id == key_id, c.revoked_at.is_(None))
                         .values(revoked_at=revoked_at))
            row = conn.execute(sa.select(t.api_keys).where(c.key_id == key_id)).first()
        if row is None:
            raise NotFound("API key", key_id)
        return _key(row)


def _key(row: Any) -> ApiKeyRecord:
    return ApiKeyRecord(key_id=row.key_id, digest=row.digest, scopes=list(row.scopes),
                        label=row.label, source=row.source, created_at=int(row.created_at),
                        revoked_at=None if row.revoked_at is None else int(row.revoked_at))


def sql_repositories(store: SqlStore, *, timezone: str = "UTC") -> Repositories:
    """Every application-layer repository on ``store``'s database; ``timezone`` is the shop's,
    in which promotion schedules are validated."""
    from pricepilot.promotions.ledger_sql import SqlLedger
    from pricepilot.promotions.repository import PromotionRepository

    # the store's SQLite engine opens every transaction with BEGIN IMMEDIATE itself
    return Repositories(
        base_prices=SqlBasePrices(store), orders=SqlOrders(store),
        promotion_views=SqlPromotionViews(store),
        promotions=PromotionRepository(store.engine, timezone=timezone),
        ledger=SqlLedger(store.engine, begin_immediate=False),
        api_keys=SqlApiKeys(store),
    )
