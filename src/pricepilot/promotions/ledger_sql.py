"""Redemption ledger on SQL (SQLite and PostgreSQL) with SQLAlchemy Core.

The order's rows in ``promotion_redemptions`` are inserted first: their primary key
(order_id, promotion_id) is the idempotency claim, so a concurrent replay waits on it and then
finds the order already redeemed. Each counter is then moved by a conditional
``UPDATE ... SET used = used + 1 WHERE used + 1 <= limit``; one refusal rolls everything back.
On SQLite the transaction starts with ``BEGIN IMMEDIATE`` so writers queue on the busy timeout
instead of failing to upgrade a read lock (``begin_immediate=False`` on an engine whose own
``begin`` hook already issues it, as the store's does: the ledger's would nest).

>>> import sqlalchemy as sa
>>> from pricepilot.promotions.tables import TABLES
>>> from pricepilot.store.schema import metadata
>>> eng = sa.create_engine("sqlite://")
>>> metadata.create_all(eng, tables=TABLES)
>>> ledger = SqlLedger(eng)
>>> ledger.redeem("o1", [Redemption(promotion_id="P", amount=500)]).status
'redeemed'
>>> ledger.redeem("o1", [Redemption(promotion_id="P", amount=500)]).status
'replayed'
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError, OperationalError

from pricepilot.errors import Conflict, Unavailable
from pricepilot.promotions.cart import Usage
from pricepilot.promotions.ledger import LimitBook, RedeemResult, Redemption, usage_from_counters
from pricepilot.promotions.model import Promotion
from pricepilot.promotions.tables import promotion_counters as ctr
from pricepilot.promotions.tables import promotion_redemptions as red
from pricepilot.store import dialects


class SqlLedger:
    def __init__(self, engine: sa.Engine, promotions: Iterable[Promotion] = (), *,
                 begin_immediate: bool = True) -> None:
        self.engine = engine
        # SQLite: BEGIN IMMEDIATE issued here, on an autocommit connection
        self._begin_immediate = engine.dialect.name == "sqlite" and begin_immediate
        self.limits = LimitBook()
        self.limits.configure(promotions)

    def configure(self, promotions: Iterable[Promotion]) -> None:
        self.limits.configure(promotions)

    @contextmanager
    def _tx(self) -> Iterator[sa.Connection]:
        if not self._begin_immediate:
            with self.engine.begin() as conn:
                yield conn
            return
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.exec_driver_sql("ROLLBACK")
                raise
            conn.exec_driver_sql("COMMIT")

    def _insert_counter(self, conn: sa.Connection, key: str) -> None:
        conn.execute(dialects.insert(conn.dialect.name, ctr).values(key=key, used=0, spent=0)
                     .on_conflict_do_nothing())

    def _existing(self, conn: sa.Connection, order_id: str) -> RedeemResult | None:
        rows = conn.execute(
            sa.select(red.c.promotion_id, red.c.status).where(red.c.order_id == order_id)
            .order_by(red.c.promotion_id)
        ).all()
        if not rows:
            return None
        status = "released" if rows[0].status == "released" else "replayed"
        return RedeemResult(order_id=order_id, status=status, promotion_ids=[r.promotion_id for r in rows])

    def redeem(self, order_id: str, redemptions: Sequence[Redemption]) -> RedeemResult:
        """Consume every limit the order touches, atomically; idempotent per ``order_id``."""
        if len({r.promotion_id for r in redemptions}) != len(redemptions):
            raise ValueError("one redemption per promotion and order")
        steps = [s for r in redemptions for s in self.limits.steps(r)]
        now = int(time.time() * 1_000_000)
        try:
            with self._tx() as conn:
                prior = self._existing(conn, order_id)
                if prior is not None:
                    return prior
                if redemptions:
                    conn.execute(red.insert(), [
                        dict(order_id=order_id, promotion_id=r.promotion_id, customer_id=r.customer_id,
                             coupon_code=r.coupon_code, amount=r.amount, status="redeemed", created_at=now)
                        for r in redemptions
                    ])
                for s in sorted(steps, key=lambda s: s.key):  # one lock order: no deadlocks
                    self._insert_counter(conn, s.key)
                    cond = [ctr.c.key == s.key]
                    if s.max_uses is not None:
                        cond.append(ctr.c.used + s.uses <= s.max_uses)
                    if s.max_spend is not None:
                        cond.append(ctr.c.spent + s.spend <= s.max_spend)
                    res = conn.execute(
                        sa.update(ctr).where(*cond).values(used=ctr.c.used + s.uses, spent=ctr.c.spent + s.spend)
                    )
                    if res.rowcount != 1:
                        raise Conflict("promotion", s.promotion_id, f"{s.what} reached")
        except IntegrityError:
            # a concurrent call claimed this order id first; report its result
            with self.engine.connect() as conn:
                prior = self._existing(conn, order_id)
            if prior is None:
                raise
            return prior
        except OperationalError as e:
            raise Unavailable("promotion ledger", str(e.orig)) from e
        return RedeemResult(order_id=order_id, status="redeemed",
                            promotion_ids=sorted(r.promotion_id for r in redemptions))

    def release(self, order_id: str) -> bool:
        """Give back what ``order_id`` consumed; False when there was nothing (left) to release."""
        with self._tx() as conn:
            rows = conn.execute(
                sa.select(red).where(red.c.order_id == order_id, red.c.status == "redeemed")
            ).all()
            if not rows:
                return False
            for row in rows:
                r = Redemption(promotion_id=row.promotion_id, amount=row.amount, customer_id=row.customer_id,
                               coupon_code=row.coupon_code)
                for s in self.limits.steps(r):
                    conn.execute(sa.update(ctr).where(ctr.c.key == s.key)
                                 .values(used=ctr.c.used - s.uses, spent=ctr.c.spent - s.spend))
            conn.execute(sa.update(red).where(red.c.order_id == order_id).values(status="released"))
        return True

    def erase_customer(self, customer_id: str) -> dict[str, int]:
        """Unlink the customer's redemptions and delete its per-customer counters (keyed
        ``pc:<promotion>:<customer>`` and ``cc:<code>:<customer>``): a later release of its
        orders gives back the promotion-wide counts only. Returns how many orders were
        unlinked (``ledger_orders``) and counters deleted (``ledger_counters``)."""
        with self._tx() as conn:
            orders = conn.execute(sa.select(sa.func.count(sa.distinct(red.c.order_id)))
                                  .where(red.c.customer_id == customer_id)).scalar_one()
            conn.execute(red.update().where(red.c.customer_id == customer_id)
                         .values(customer_id=None))
            deleted = conn.execute(ctr.delete().where(
                ctr.c.key.endswith(f":{customer_id}", autoescape=True))).rowcount
        return {"ledger_orders": int(orders), "ledger_counters": int(deleted)}

    def usage(self, customer_id: str | None = None) -> Usage:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(ctr.c.key, ctr.c.used, ctr.c.spent)).all()
        return usage_from_counters({r.key: (r.used, r.spent) for r in rows}, customer_id)
