"""The SQL store: SQLAlchemy 2 Core on SQLite (WAL, embedded default) and PostgreSQL (psycopg 3).

>>> store = open_store("sqlite://")
>>> store.migrate()
>>> from pricepilot.catalog.models import Product
>>> store.upsert_products([Product(product_id="SKU-1", title="Mug", category="kitchen",
...                                currency="EUR", unit_cost=400, list_price=999)])
1
>>> store.get_product("SKU-1").list_price
999
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import msgspec
import pandas as pd
import pyarrow as pa
import sqlalchemy as sa

from pricepilot.catalog.models import (
    CategoryPolicy,
    Guardrails,
    Product,
    validate_category,
    validate_guardrails,
    validate_product,
)
from pricepilot.clock import Clock, SystemClock, from_micros, to_micros
from pricepilot.compliance.attributes import Shopper
from pricepilot.config import Settings
from pricepilot.errors import NotFound, ValidationError
from pricepilot.events.columns import (
    conform,
    events_to_table,
    rows_to_table,
    table_to_frame,
)
from pricepilot.events.schemas import EVENT_COLUMNS, Event
from pricepilot.store import dialects
from pricepilot.store import tables as t
from pricepilot.store.decisions_sql import SqlDecisionLog
from pricepilot.store.engines import create_store_engine
from pricepilot.store.errors import db_errors
from pricepilot.store.event_writes import pg_copy_events, sqlite_insert_events
from pricepilot.store.price_history_sql import SqlPriceHistory
from pricepilot.store.records import DecisionRecord
from pricepilot.store.repositories import Repositories
from pricepilot.store.shopper_reads import SqliteShopperReader
from pricepilot.store.sql_util import window_filter

MIGRATIONS_DIR = Path(__file__).parent / "migrations"

_EVENT_COLS_SQL = ", ".join(f'"{c}"' for c in EVENT_COLUMNS)
_IDS_PER_QUERY = 500  # bound parameters per IN (...): SQLite allows 32,766, PostgreSQL 65,535


CATALOGUE = "catalogue"  # the change topic of products and category guardrails


class SqlStore:
    """:class:`pricepilot.store.base.Store` on a SQLAlchemy engine. Thread-safe; one per process."""

    def __init__(self, url: str, *, clock: Clock | None = None, echo: bool = False) -> None:
        self._url = sa.make_url(url)
        self._clock: Clock = clock or SystemClock()
        self._tx: contextvars.ContextVar[sa.Connection | None] = contextvars.ContextVar(
            f"pricepilot_store_tx_{id(self)}", default=None
        )
        self._url, self._engine = create_store_engine(self._url, echo=echo)
        self._shopper_reader = (SqliteShopperReader(self._engine) if self.dialect == "sqlite"
                                else None)
        self._decisions = SqlDecisionLog(self)
        self._prices = SqlPriceHistory(self)

    # -- plumbing ------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return self._url.render_as_string(hide_password=True)

    @property
    def dialect(self) -> str:
        return self._engine.dialect.name

    @property
    def engine(self) -> sa.Engine:
        """The SQLAlchemy engine, for the persistence of parts that declare their own tables on
        the same database (:mod:`pricepilot.store.repositories_sql`); use cases never need it."""
        return self._engine

    def ping(self) -> None:
        with self._engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))

    def repositories(self, *, timezone: str = "UTC") -> Repositories:
        from pricepilot.store.repositories_sql import sql_repositories

        return sql_repositories(self, timezone=timezone)

    def close(self) -> None:
        if self._shopper_reader is not None:
            self._shopper_reader.close()
        self._engine.dispose()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        if self._tx.get() is not None:  # nested: joins the outer transaction
            yield
            return
        with db_errors(), self._engine.begin() as conn:
            token = self._tx.set(conn)
            try:
                yield
            finally:
                self._tx.reset(token)

    @contextmanager
    def connect(self) -> Iterator[sa.Connection]:
        """A connection inside a transaction: the open :meth:`transaction`'s (under a savepoint,
        so one failing call leaves the outer transaction usable) or a new one."""
        outer = self._tx.get()
        with db_errors():
            if outer is not None:
                with outer.begin_nested():
                    yield outer
            else:
                with self._engine.begin() as conn:
                    yield conn

    def _insert(self, table: sa.Table) -> Any:
        return dialects.insert(self.dialect, table)

    def insert_into(self, table: sa.Table) -> Any:
        """This dialect's INSERT (with its ON CONFLICT clauses), for the store's parts."""
        return self._insert(table)

    def migrate(self) -> None:
        from alembic import command
        from alembic.config import Config

        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
        cfg.set_main_option("path_separator", "os")
        with db_errors(), self._engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "heads")

    def _now(self) -> int:
        return to_micros(self._clock.now())

    # -- catalogue -----------------------------------------------------------------------------
    def upsert_products(self, products: Iterable[Product]) -> int:
        now = self._now()
        rows = []
        for p in products:
            validate_product(p)
            rows.append({
                "product_id": p.product_id, "title": p.title, "category": p.category,
                "brand": p.brand, "currency": p.currency, "unit_cost": p.unit_cost,
                "list_price": p.list_price, "stock": p.stock,
                "season_end": None if p.season_end is None else to_micros(p.season_end),
                "guardrails": msgspec.to_builtins(p.guardrails), "attributes": dict(p.attributes),
                "updated_at": now,
            })
        with self.connect() as conn:
            dialects.upsert(conn, t.products, rows, ["product_id"])
            if rows:
                self._bump(conn, CATALOGUE)
        return len(rows)

    def _bump(self, conn: sa.Connection, topic: str) -> None:
        """Advance ``topic``'s revision inside the write's own transaction."""
        stmt = self._insert(t.store_changes).values(topic=topic, revision=1)
        conn.execute(stmt.on_conflict_do_update(
            index_elements=["topic"], set_={"revision": t.store_changes.c.revision + 1}))

    def catalogue_revision(self) -> int:
        with self.connect() as conn:
            rev = conn.execute(sa.select(t.store_changes.c.revision)
                               .where(t.store_changes.c.topic == CATALOGUE)).scalar()
        return int(rev or 0)

    @staticmethod
    def _product(row: Any) -> Product:
        return Product(
            product_id=row.product_id, title=row.title, category=row.category, brand=row.brand,
            currency=row.currency, unit_cost=row.unit_cost, list_price=row.list_price,
            stock=row.stock, attributes=dict(row.attributes),
            season_end=None if row.season_end is None else from_micros(row.season_end),
            guardrails=msgspec.convert(row.guardrails, Guardrails),
        )

    def row(self, table: sa.Table, key: str, entity: str) -> Any:
        """The row of ``table`` whose primary key is ``key``, or :class:`NotFound` naming it."""
        (pk,) = table.primary_key.columns
        with self.connect() as conn:
            row = conn.execute(sa.select(table).where(pk == key)).first()
        if row is None:
            raise NotFound(entity, key)
        return row

    def get_product(self, product_id: str) -> Product:
        return self._product(self.row(t.products, product_id, "product"))

    def list_products(self, category: str | None = None) -> list[Product]:
        q = sa.select(t.products).order_by(t.products.c.product_id)
        if category is not None:
            q = q.where(t.products.c.category == category)
        with self.connect() as conn:
            return [self._product(r) for r in conn.execute(q)]

    def product_ids(self) -> set[str]:
        with self.connect() as conn:
            return set(conn.execute(sa.select(t.products.c.product_id)).scalars())

    def upsert_category_policy(self, policy: CategoryPolicy) -> None:
        validate_category("category policy", policy.category)  # empty, too long, "/", NUL
        validate_guardrails(policy.guardrails, f"category {policy.category!r}")
        row = {"category": policy.category,
               "guardrails": msgspec.to_builtins(policy.guardrails), "updated_at": self._now()}
        with self.connect() as conn:
            dialects.upsert(conn, t.category_policies, [row], ["category"])
            self._bump(conn, CATALOGUE)

    def list_category_policies(self) -> list[CategoryPolicy]:
        q = sa.select(t.category_policies).order_by(t.category_policies.c.category)
        with self.connect() as conn:
            return [
                CategoryPolicy(category=r.category,
                               guardrails=msgspec.convert(r.guardrails, Guardrails))
                for r in conn.execute(q)
            ]

    # -- shoppers ------------------------------------------------------------------------------
    def upsert_shopper(self, shopper: Shopper) -> None:
        self.upsert_shoppers([shopper])

    def upsert_shoppers(self, shoppers: Iterable[Shopper]) -> int:
        """Insert or replace several shoppers at once (``created_at`` of existing ones is kept)."""
        now = self._now()
        rows = []
        for s in shoppers:
            if not s.shopper_id.strip():
                raise ValidationError("shopper", "shopper_id", "must not be empty")
            rows.append({
                "shopper_id": s.shopper_id, "tier": s.tier, "device": s.device,
                "region": s.region, "channel": s.channel, "attributes": dict(s.attributes),
                "audit_attributes": dict(s.audit_attributes),
                "personalisation_consent": bool(s.personalisation_consent),
                "created_at": now, "updated_at": now,
            })
        with self.connect() as conn:
            dialects.upsert(conn, t.shoppers, rows, ["shopper_id"], keep=["created_at"])
        return len(rows)

    def get_shopper(self, shopper_id: str) -> Shopper:
        r = self.row(t.shoppers, shopper_id, "shopper")
        return Shopper(
            shopper_id=r.shopper_id, tier=r.tier, device=r.device, region=r.region,
            channel=r.channel, attributes=dict(r.attributes),
            audit_attributes=dict(r.audit_attributes),
            personalisation_consent=bool(r.personalisation_consent),
        )

    def find_shopper(self, shopper_id: str) -> Shopper | None:
        """On SQLite a lock-free read of the last committed snapshot (:mod:`.shopper_reads`)."""
        if self._shopper_reader is not None:
            return self._shopper_reader.read(shopper_id)
        try:
            return self.get_shopper(shopper_id)
        except NotFound:
            return None

    def shoppers_frame(self) -> pd.DataFrame:
        """Every shopper's declared pricing attributes (never the audit-only ones), one row each:
        ``user_id, tier, device, region, channel, personalisation_consent``."""
        c = t.shoppers.c
        q = sa.select(c.shopper_id.label("user_id"), c.tier, c.device, c.region, c.channel,
                      c.personalisation_consent).order_by(c.shopper_id)
        with self.connect() as conn:
            rows = conn.execute(q).all()
        frame = pd.DataFrame(rows, columns=["user_id", "tier", "device", "region", "channel",
                                            "personalisation_consent"])
        frame["personalisation_consent"] = frame["personalisation_consent"].astype(bool)
        return frame

    def set_consent(self, shopper_id: str, personalisation_consent: bool) -> None:
        with self.connect() as conn:
            res = conn.execute(
                sa.update(t.shoppers)
                .where(t.shoppers.c.shopper_id == shopper_id)
                .values(personalisation_consent=bool(personalisation_consent),
                        updated_at=self._now())
            )
            if res.rowcount == 0:
                raise NotFound("shopper", shopper_id)

    def erase_shopper(self, shopper_id: str) -> dict[str, int]:
        with self.connect() as conn:
            n_ev = conn.execute(sa.delete(t.events).where(t.events.c.user_id == shopper_id))
            n_de = conn.execute(
                sa.delete(t.decisions).where(t.decisions.c.user_id == shopper_id)
            )
            n_sh = conn.execute(
                sa.delete(t.shoppers).where(t.shoppers.c.shopper_id == shopper_id)
            )
            return {"shoppers": n_sh.rowcount, "events": n_ev.rowcount,
                    "decisions": n_de.rowcount}

    # -- event log -----------------------------------------------------------------------------
    def add_events(self, events: Iterable[Event]) -> int:
        return self.add_event_batch(events_to_table(events))

    def add_event_batch(self, batch: pa.Table) -> int:
        batch = conform(batch)
        if batch.num_rows == 0:
            return 0
        with self.connect() as conn:
            raw = conn.connection.driver_connection
            if self.dialect == "sqlite":
                return sqlite_insert_events(raw, batch)
            return pg_copy_events(raw, batch)

    def events_by_id(self, event_ids: Sequence[str]) -> pa.Table:
        ids = sorted(set(event_ids))
        rows: list[tuple[Any, ...]] = []
        cols = [t.events.c[x] for x in EVENT_COLUMNS]
        with self.connect() as conn:
            for start in range(0, len(ids), _IDS_PER_QUERY):
                part = ids[start:start + _IDS_PER_QUERY]
                q = sa.select(*cols).where(t.events.c.event_id.in_(part))
                rows.extend(tuple(r) for r in conn.execute(q))
        return rows_to_table(rows)

    @contextmanager
    def bulk_load(self, expected_rows: int) -> Iterator[None]:
        """A transaction for loading many events; commits all of them or none.

        When ``expected_rows`` is at least the number of events already stored (an initial load
        or a backfill that doubles the log), the secondary event indexes are dropped for the
        duration and rebuilt once at the end, which is several times faster than updating
        three B-trees row by row (PostgreSQL's and SQLite's own advice for bulk loads). The
        rebuild happens inside the same transaction: a failure restores the old indexes.
        On PostgreSQL the dropped indexes lock the events table against readers until commit,
        so live services see the load as one atomic switch.
        """
        with self.transaction():
            # Small loads (the service's HTTP batches) never pay for the count.
            drop = expected_rows >= 10_000 and expected_rows >= self.count_events()
            if drop:
                with self.connect() as conn:
                    for ix in sorted(t.events.indexes, key=lambda i: str(i.name)):
                        conn.execute(sa.schema.DropIndex(ix))
            yield
            if drop:
                with self.connect() as conn:
                    for ix in sorted(t.events.indexes, key=lambda i: str(i.name)):
                        conn.execute(sa.schema.CreateIndex(ix))

    def _event_filter(self, q: Any, types: Sequence[str] | None, since: datetime | None,
                      until: datetime | None, product_id: str | None,
                      user_id: str | None) -> Any:
        if types is not None:
            q = q.where(t.events.c.type.in_(list(types)))
        return window_filter(q, t.events.c, since, until, product_id, user_id)

    def events_frame(
        self,
        types: Sequence[str] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        product_id: str | None = None,
        user_id: str | None = None,
    ) -> pd.DataFrame:
        q = self._event_filter(
            sa.select(*[t.events.c[x] for x in EVENT_COLUMNS]), types, since, until,
            product_id, user_id,
        ).order_by(t.events.c.ts, t.events.c.event_id)
        with self.connect() as conn:
            rows = [tuple(r) for r in conn.execute(q)]
        return table_to_frame(rows_to_table(rows))

    def iter_event_batches(self, batch_size: int = 100_000) -> Iterator[pd.DataFrame]:
        if batch_size < 1:
            raise ValidationError("store", "batch_size", "must be positive")
        last: tuple[int, str] | None = None
        c = t.events.c
        while True:
            q = sa.select(*[c[x] for x in EVENT_COLUMNS]).order_by(c.ts, c.event_id)
            if last is not None:
                q = q.where(sa.tuple_(c.ts, c.event_id) > sa.tuple_(*last))
            with self.connect() as conn:
                rows = [tuple(r) for r in conn.execute(q.limit(batch_size))]
            if not rows:
                return
            last = (rows[-1][2], rows[-1][0])
            yield table_to_frame(rows_to_table(rows))

    def count_events(self, types: Sequence[str] | None = None) -> int:
        q = self._event_filter(
            sa.select(sa.func.count()).select_from(t.events), types, None, None, None, None
        )
        with self.connect() as conn:
            return int(conn.execute(q).scalar_one())

    # -- decision log (store/decisions_sql.py) --------------------------------------------------
    def log_decisions(self, records: Sequence[DecisionRecord]) -> int:
        return self._decisions.log(records)

    def decisions_frame(
        self,
        since: datetime | None = None,
        until: datetime | None = None,
        product_id: str | None = None,
        user_id: str | None = None,
    ) -> pd.DataFrame:
        return self._decisions.frame(since, until, product_id, user_id)

    def get_decision(self, decision_id: str) -> DecisionRecord:
        return self._decisions.get(decision_id)

    # -- price history (store/price_history_sql.py) ---------------------------------------------
    def record_price(self, product_id: str, ts: datetime, price: int) -> None:
        self._prices.record_prices([(product_id, ts, price)])

    def record_prices(self, rows: Sequence[tuple[str, datetime, int]], *,
                      keep_lowest: bool = False) -> int:
        return self._prices.record_prices(rows, keep_lowest=keep_lowest)

    def lowest_price(self, product_id: str, since: datetime, until: datetime) -> int | None:
        return self._prices.lowest_price(product_id, since, until)

    def lowest_prices(self, since: datetime, until: datetime) -> dict[str, int]:
        return self._prices.lowest_prices(since, until)


def _resolve_url(settings: Settings) -> str:
    url = sa.make_url(settings.database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        db = Path(url.database)
        if not db.is_absolute() and settings.store.url:
            url = url.set(database=str(settings.data_dir / db))
    return url.render_as_string(hide_password=False)


def open_store(settings_or_url: Settings | str, *, clock: Clock | None = None) -> SqlStore:
    """The store named by ``settings.database_url`` (or by a SQLAlchemy URL).

    A relative SQLite path in ``store.url`` is relative to ``paths.data_dir``. Call
    :meth:`SqlStore.migrate` once before first use (``pricepilot db upgrade`` does).

    >>> open_store("sqlite://").dialect
    'sqlite'
    """
    url = settings_or_url if isinstance(settings_or_url, str) else _resolve_url(settings_or_url)
    return SqlStore(url, clock=clock)


__all__ = ["SqlStore", "open_store"]
