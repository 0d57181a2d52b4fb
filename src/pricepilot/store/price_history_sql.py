"""The price history on the SQL store: each product's public price over time, for the 30-day
lowest price of price-reduction disclosures. One part of :class:`~pricepilot.store.sql.SqlStore`,
which delegates to it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa

from pricepilot.errors import ValidationError
from pricepilot.store import dialects
from pricepilot.store import tables as t
from pricepilot.store.sql_util import micros

if TYPE_CHECKING:
    from pricepilot.store.sql import SqlStore


class SqlPriceHistory:
    """The ``price_history`` table of one :class:`SqlStore`."""

    def __init__(self, store: SqlStore) -> None:
        self._store = store

    def record_price(self, product_id: str, ts: datetime, price: int) -> None:
        self.record_prices([(product_id, ts, price)])

    def record_prices(self, rows: Sequence[tuple[str, datetime, int]], *,
                      keep_lowest: bool = False) -> int:
        # one upsert over de-duplicated keys: PostgreSQL refuses a statement that updates one row
        # twice, and the last record for a (product, ts) is the one in force anyway
        by_key: dict[tuple[str, int], int] = {}
        for product_id, ts, price in rows:
            what = f"price history of product {product_id!r}"
            if isinstance(price, bool) or not isinstance(price, int):
                raise ValidationError(what, "price", "must be integer minor units")
            if price < 0:
                raise ValidationError(what, "price", f"must not be negative, got {price}")
            key = (product_id, micros(ts, "ts", what))
            if keep_lowest and key in by_key:
                price = min(price, by_key[key])
            by_key[key] = price
        if not by_key:
            return 0
        rows_out = [{"product_id": pid, "ts": ts, "price": price} for (pid, ts), price in by_key.items()]
        with self._store.connect() as conn:
            if not keep_lowest:
                dialects.upsert(conn, t.price_history, rows_out, ["product_id", "ts"])
            else:
                stmt = self._store.insert_into(t.price_history)
                lower = sa.case((stmt.excluded.price < t.price_history.c.price, stmt.excluded.price),
                                else_=t.price_history.c.price)
                conn.execute(stmt.on_conflict_do_update(index_elements=["product_id", "ts"],
                                                        set_={"price": lower}), rows_out)
        return len(by_key)

    def lowest_price(self, product_id: str, since: datetime, until: datetime) -> int | None:
        s, u = micros(since, "since"), micros(until, "until")
        if u <= s:
            raise ValidationError("price history", "until", "must be after since")
        c = t.price_history.c
        with self._store.connect() as conn:
            in_force = conn.execute(
                sa.select(c.price).where(c.product_id == product_id, c.ts <= s)
                .order_by(c.ts.desc()).limit(1)
            ).scalar()
            later = conn.execute(
                sa.select(sa.func.min(c.price)).where(
                    c.product_id == product_id, c.ts > s, c.ts < u
                )
            ).scalar()
        found = [p for p in (in_force, later) if p is not None]
        return int(min(found)) if found else None

    def lowest_prices(self, since: datetime, until: datetime) -> dict[str, int]:
        s, u = micros(since, "since"), micros(until, "until")
        if u <= s:
            raise ValidationError("price history", "until", "must be after since")
        c = t.price_history.c
        start = (sa.select(c.product_id, sa.func.max(c.ts).label("ts"))
                 .where(c.ts <= s).group_by(c.product_id).subquery())
        in_force = (sa.select(c.product_id, c.price)
                    .join(start, sa.and_(start.c.product_id == c.product_id, start.c.ts == c.ts)))
        later = (sa.select(c.product_id, sa.func.min(c.price).label("price"))
                 .where(c.ts > s, c.ts < u).group_by(c.product_id))
        out: dict[str, int] = {}
        with self._store.connect() as conn:
            for query in (in_force, later):
                for pid, price in conn.execute(query):
                    low = out.get(pid)
                    out[pid] = int(price) if low is None else min(low, int(price))
        return out
