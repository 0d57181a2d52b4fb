"""Issue #13 point 5: erasure covers every backend (store, orders, the redemption ledger on SQL
or Redis, the online features) and reports a count per part; afterwards no Redis key or value
of the shop's namespace, and no row of the store, carries the shopper's pseudonym."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from pricepilot.catalog.models import Product
from pricepilot.clock import FixedClock
from pricepilot.config import load_settings
from pricepilot.events.schemas import View
from pricepilot.serving import schemas as s
from pricepilot.serving.application import Application

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=timezone.utc)
MUG = Product(product_id="MUG", title="Mug", category="kitchen", currency="EUR", unit_cost=400,
              list_price=1000)


@pytest.fixture(params=["sql ledger", pytest.param("redis ledger", marks=pytest.mark.redis)])
def app(request: Any, tmp_path: Path) -> Iterator[Application]:
    over: dict[str, object] = {"paths.data_dir": str(tmp_path / "data")}
    if request.param == "redis ledger":
        over.update({"online.type": "redis", "online.url": request.getfixturevalue("redis_url"),
                     "online.key_prefix": request.getfixturevalue("redis_prefix")})
    application = Application(load_settings(None, env={}, overrides=over), clock=FixedClock(T0),
                              decision_flush_seconds=0)
    application.store.upsert_products([MUG])
    application.catalogue.wrote([MUG])
    yield application
    application.close()


def _redis_held(app: Application) -> str:
    import redis

    r = redis.Redis.from_url(app.settings.online.url)
    parts: list[str] = []
    for key in r.scan_iter(match=app.settings.online.key_prefix + "*", count=1000):
        parts.append(key.decode())
        kind = r.type(key).decode()
        if kind == "hash":
            for f, v in r.hgetall(key).items():
                parts += [f.decode(), v.decode()]
        elif kind == "string":
            parts.append(r.get(key).decode())  # type: ignore[union-attr]
        elif kind in ("set", "zset", "list"):
            items = (r.smembers(key) if kind == "set" else r.zrange(key, 0, -1) if kind == "zset"
                     else r.lrange(key, 0, -1))
            parts += [i.decode() for i in items]
    r.close()
    return "\n".join(parts)


def _store_held(app: Application) -> str:
    engine = app.store.engine  # type: ignore[attr-defined]
    meta = sa.MetaData()
    meta.reflect(engine)
    with engine.connect() as conn:
        return "\n".join(repr(tuple(row)) for t in meta.sorted_tables
                         for row in conn.execute(sa.select(t)))


def test_point5_erasure_covers_every_backend_and_reports_each_count(app: Application) -> None:
    pseudo = app.pseudonymise("c1")
    app.intake.ingest([View(event_id=f"e{i}", ts=T0 - timedelta(minutes=5 - i), user_id="c1",
                            product_id="MUG", price=1000, currency="EUR", session_id="s1")
                       for i in range(2)])
    app.promotions.create(s.PromotionSpec(
        name="5 off", benefits=[s.AmountOff(amount=500)], coupon_code="ONCE",  # type: ignore[call-arg]
        per_customer_limit=1, stage="order"))
    line = [s.CartLine(product_id="MUG")]
    app.checkout.confirm_order(s.OrderRequest(order_id="o1", currency="EUR", lines=line,
                                              customer_id="c1", coupons=["ONCE"]))
    app.checkout.confirm_order(s.OrderRequest(order_id="o2", currency="EUR", lines=line,
                                              customer_id="c2", coupons=["ONCE"]))
    redis_ledger = app.settings.online.type == "redis"
    if redis_ledger:
        assert pseudo in _redis_held(app)
    assert pseudo in _store_held(app)

    erased = app.privacy.erase("c1").erased
    assert erased["events"] == 2 and erased["shoppers"] == 0 and erased["orders"] == 1
    # the ledger: one order unlinked, its per-customer counters (promotion and coupon) deleted
    assert erased["ledger_orders"] == 1 and erased["ledger_counters"] == 2
    assert erased["online_features"] >= 1  # the shopper's aggregates and session counts
    assert "pending_quotes" in erased
    if redis_ledger:
        held = _redis_held(app)
        assert pseudo not in held, held
        assert app.pseudonymise("c2") in held  # another shopper's records are kept
    assert pseudo not in _store_held(app)
    again = app.privacy.erase("c1").erased
    assert all(n == 0 for n in again.values()), again
