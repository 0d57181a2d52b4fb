"""One conformance suite for every ledger backend: SQLite, PostgreSQL, Redis, and the SQL
ledger a store hands out on its own engine (``Store.repositories().ledger``, SQLite and
PostgreSQL), as the application runs it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from pricepilot.errors import Conflict
from pricepilot.promotions import model as m
from pricepilot.promotions.ledger import Redemption
from pricepilot.promotions.ledger_redis import RedisLedger
from pricepilot.promotions.ledger_sql import SqlLedger
from pricepilot.promotions.tables import TABLES
from pricepilot.store.schema import metadata

PROMOS = [
    m.Promotion(id="COUPON50", currency="EUR", benefit=m.AmountOff(amount="5.00"),
                conditions=[m.CouponCode(codes=["SAVE5"], max_uses=50)]),
    m.Promotion(id="BUDGET", currency="EUR", benefit=m.AmountOff(amount="5.00"),
                limits=m.Limits(budget="10.00", max_redemptions_per_customer=2)),
]


def _sqlite(tmp_path: Path) -> SqlLedger:
    eng = sa.create_engine(f"sqlite:///{tmp_path / 'ledger.sqlite'}", connect_args={"timeout": 60})
    with eng.connect() as c:
        c.exec_driver_sql("PRAGMA journal_mode=WAL")
    metadata.create_all(eng, tables=TABLES)
    return SqlLedger(eng, PROMOS)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres),
                        pytest.param("redis", marks=pytest.mark.redis), "sqlite store",
                        pytest.param("postgres store", marks=pytest.mark.postgres)])
def ledger(request: Any, tmp_path: Path) -> Iterator[Any]:
    if request.param.endswith(" store"):
        from pricepilot.store import open_store

        url = (f"sqlite:///{tmp_path / 'store.sqlite'}" if request.param == "sqlite store"
               else request.getfixturevalue("pg_url"))
        store = open_store(url)
        store.migrate()
        led = store.repositories().ledger
        led.configure(PROMOS)
        yield led
        store.close()
    elif request.param == "sqlite":
        led = _sqlite(tmp_path)
        yield led
        led.engine.dispose()
    elif request.param == "postgres":
        url = request.getfixturevalue("pg_url")
        eng = sa.create_engine(url, pool_size=20, max_overflow=20)
        metadata.create_all(eng, tables=TABLES)
        yield SqlLedger(eng, PROMOS)
        eng.dispose()
    else:
        import redis

        prefix = request.getfixturevalue("redis_prefix")
        client = redis.Redis.from_url(request.getfixturevalue("redis_url"), max_connections=64)
        yield RedisLedger(client, prefix=prefix, promotions=PROMOS)
        client.close()


def coupon(order: str, customer: str | None = None) -> list[Redemption]:
    return [Redemption(promotion_id="COUPON50", amount=500, coupon_code="save5", customer_id=customer)]


def test_two_hundred_concurrent_redemptions_of_fifty_uses_succeed_exactly_fifty_times(ledger: Any) -> None:
    wins = []
    lock = threading.Lock()

    def attempt(i: int) -> None:
        try:
            ledger.redeem(f"order-{i}", coupon(f"order-{i}"))
        except Conflict:
            return
        with lock:
            wins.append(i)

    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(attempt, range(200)))
    assert len(wins) == 50
    u = ledger.usage()
    assert u.coupon_uses["SAVE5"] == 50
    assert u.redemptions["COUPON50"] == 50 and u.spent["COUPON50"] == 50 * 500


def test_a_replayed_order_id_redeems_once_even_concurrently(ledger: Any) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda _: ledger.redeem("same-order", coupon("same-order")), range(20)))
    assert sorted(r.status for r in results) == ["redeemed"] + ["replayed"] * 19
    assert ledger.usage().coupon_uses["SAVE5"] == 1


def test_release_gives_back_budget_and_uses_once(ledger: Any) -> None:
    r = [Redemption(promotion_id="BUDGET", amount=600, customer_id="c1")]
    ledger.redeem("o1", r)
    with pytest.raises(Conflict, match="budget"):
        ledger.redeem("o2", [Redemption(promotion_id="BUDGET", amount=500, customer_id="c2")])
    assert ledger.usage().spent["BUDGET"] == 600
    assert ledger.release("o1") is True
    assert ledger.release("o1") is False
    assert ledger.usage().spent["BUDGET"] == 0
    assert ledger.redeem("o2", [Redemption(promotion_id="BUDGET", amount=500, customer_id="c2")]).status == "redeemed"
    assert ledger.redeem("o1", r).status == "released"  # a released order id is not redeemed again


def test_an_order_is_all_or_nothing_when_one_limit_refuses(ledger: Any) -> None:
    ledger.redeem("a", [Redemption(promotion_id="BUDGET", amount=1000, customer_id="c1")])
    with pytest.raises(Conflict):
        ledger.redeem("b", coupon("b") + [Redemption(promotion_id="BUDGET", amount=1, customer_id="c1")])
    u = ledger.usage()
    assert u.coupon_uses.get("SAVE5", 0) == 0


def test_the_per_customer_limit_is_enforced_and_reported(ledger: Any) -> None:
    for i in range(2):
        ledger.redeem(f"o{i}", [Redemption(promotion_id="BUDGET", amount=1, customer_id="c9")])
    with pytest.raises(Conflict, match="per-customer"):
        ledger.redeem("o3", [Redemption(promotion_id="BUDGET", amount=1, customer_id="c9")])
    assert ledger.usage("c9").customer_redemptions["BUDGET"] == 2


def _everything_held(ledger: Any) -> str:
    """Every key, field and value the ledger holds, as one text (its own namespace only)."""
    if isinstance(ledger, RedisLedger):
        parts = []
        for key in ledger.r.scan_iter(match=ledger.prefix + "*", count=1000):
            parts.append(key.decode())
            for f, v in ledger.r.hgetall(key).items():
                parts += [f.decode(), v.decode()]
        return "\n".join(parts)
    with ledger.engine.connect() as conn:
        return "\n".join(repr(tuple(row)) for t in TABLES for row in conn.execute(sa.select(t)))


def test_point5_erasure_leaves_no_trace_of_the_customer_in_the_ledger(ledger: Any) -> None:
    pseudo = "9f2c4e1a7b3d5f60a1b2c3d4e5f60718"  # a pseudonym as the Pseudonymiser makes them
    other = "0123456789abcdef0123456789abcdef"
    ledger.redeem("o1", coupon("o1", pseudo) + [Redemption(promotion_id="BUDGET", amount=100,
                                                          customer_id=pseudo)])
    ledger.redeem("o2", [Redemption(promotion_id="BUDGET", amount=100, customer_id=pseudo)])
    ledger.release("o2")
    ledger.redeem("o3", [Redemption(promotion_id="BUDGET", amount=100, customer_id=other)])
    assert pseudo in _everything_held(ledger)
    counts = ledger.erase_customer(pseudo)
    held = _everything_held(ledger)
    assert pseudo not in held, held
    assert other in held  # the other customer's records are kept
    # what was erased, per part of the ledger: two orders, three per-customer counters
    assert counts == {"ledger_orders": 2, "ledger_counters": 3}
    assert ledger.erase_customer(pseudo) == {"ledger_orders": 0, "ledger_counters": 0}
    # the promotion-wide counts survive, and releasing an erased order still gives them back
    assert ledger.usage().spent["BUDGET"] == 200
    assert ledger.release("o1") is True
    assert ledger.usage().spent["BUDGET"] == 100
    assert ledger.usage().coupon_uses.get("SAVE5", 0) == 0
