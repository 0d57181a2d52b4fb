"""Stored promotion definitions: a whole set is validated, then replaced in one transaction.

A malformed file raises before the database is touched, so it changes no stored promotion.
:class:`PromotionDefinitions` is what the application layer needs of them;
:class:`PromotionRepository` keeps them in SQL (the store hands one out on its own database,
:meth:`pricepilot.store.base.Store.repositories`).

>>> import sqlalchemy as sa
>>> from pricepilot.promotions.tables import TABLES
>>> from pricepilot.store.schema import metadata
>>> from pricepilot.promotions.model import Promotion, PercentOff
>>> eng = sa.create_engine("sqlite://")
>>> metadata.create_all(eng, tables=TABLES)
>>> repo = PromotionRepository(eng)
>>> repo.replace_all([Promotion(id="P5", benefit=PercentOff(percent="5"))])
1
>>> [p.id for p in repo.list()]
['P5']
>>> repo.version()[0]
1
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Protocol

import msgspec
import sqlalchemy as sa

from pricepilot.errors import NotFound
from pricepilot.promotions.loader import load_promotions
from pricepilot.promotions.model import Promotion
from pricepilot.promotions.tables import promotion_definitions as t
from pricepilot.promotions.validation import Catalog, compile_all


class PromotionDefinitions(Protocol):
    """The promotions the cart engine runs, validated together whenever one changes."""

    def upsert(self, promotion: Promotion) -> None:
        """Add or replace one promotion, validated together with the stored rest."""
        ...

    def delete(self, promotion_id: str) -> None:
        """Remove one promotion (:class:`NotFound` naming it)."""
        ...

    def list(self) -> list[Promotion]:
        """Every stored promotion, in the set's order."""
        ...

    def version(self) -> tuple[int, int]:
        """How many promotions there are and when the newest was written (UTC microseconds):
        one small read that tells a compiled engine it is stale."""
        ...


class PromotionRepository:
    """:class:`PromotionDefinitions` in ``promotion_definitions`` on a SQLAlchemy engine."""

    def __init__(self, engine: sa.Engine, *, catalog: Catalog | None = None, timezone: str = "UTC") -> None:
        self.engine = engine
        self.catalog = catalog
        self.timezone = timezone

    def replace_all(self, promotions: list[Promotion]) -> int:
        """Validate the whole set, then atomically make it the stored set; returns its size."""
        compile_all(promotions, self.catalog, timezone=self.timezone)
        now = int(time.time() * 1_000_000)
        rows = [
            dict(id=p.id, position=i, body=msgspec.json.encode(p).decode(), updated_at=now)
            for i, p in enumerate(promotions)
        ]
        with self.engine.begin() as conn:
            conn.execute(t.delete())
            if rows:
                conn.execute(t.insert(), rows)
        return len(rows)

    def load_file(self, path: str | Path) -> int:
        """Read, validate and store a promotions file, replacing the stored set."""
        return self.replace_all(load_promotions(path, catalog=self.catalog, timezone=self.timezone))

    def upsert(self, promotion: Promotion) -> None:
        """Add or replace one promotion, validated together with the stored rest."""
        rest = [p for p in self.list() if p.id != promotion.id]
        self.replace_all(rest + [promotion])

    def delete(self, promotion_id: str) -> None:
        with self.engine.begin() as conn:
            if conn.execute(t.delete().where(t.c.id == promotion_id)).rowcount == 0:
                raise NotFound("promotion", promotion_id)

    def list(self) -> list[Promotion]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(t.c.body).order_by(t.c.position, t.c.id)).all()
        return [msgspec.json.decode(r.body, type=Promotion) for r in rows]

    def get(self, promotion_id: str) -> Promotion:
        with self.engine.connect() as conn:
            body = conn.execute(sa.select(t.c.body).where(t.c.id == promotion_id)).scalar_one_or_none()
        if body is None:
            raise NotFound("promotion", promotion_id)
        return msgspec.json.decode(body, type=Promotion)

    def version(self) -> tuple[int, int]:
        with self.engine.connect() as conn:
            n, latest = conn.execute(sa.select(sa.func.count(), sa.func.max(t.c.updated_at))).one()
        return int(n), int(latest or 0)
