"""The real backend on PostgreSQL + Redis (online features and the redemption ledger)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from pricepilot.promotions.ledger_redis import RedisLedger

from .conftest import AD, SF
from .engine_support import NOW, engine_client, engine_settings, promote_small_model

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


def test_events_then_quote_and_order_redemption_on_postgres_and_redis(
        tmp_path: Path, pg_url: str, redis_url: str, redis_prefix: str) -> None:
    settings = engine_settings(tmp_path, **{"store.type": "postgresql", "store.url": pg_url,
                                            "online.type": "redis", "online.url": redis_url,
                                            "online.key_prefix": redis_prefix})
    promote_small_model(settings.models_dir)
    with engine_client(settings, store_url=pg_url) as (client, backend):
        assert backend.app.store.dialect == "postgresql" and isinstance(backend.app.ledger, RedisLedger)
        events = [{"type": "view", "event_id": f"e{i}", "customer_id": "c1", "product_id": "SKU-1",
                   "price": 1099, "currency": "EUR", "session_id": "s1",
                   "ts": (NOW - timedelta(minutes=10 - i)).isoformat()} for i in range(3)]
        assert client.post("/v1/events", headers=SF, json=events).json() == {
            "accepted": 3, "duplicates": 0}
        pseudo = backend.app.pseudonymise("c1")
        f = backend.app.features.features_for(pseudo, backend.app.catalogue.products["SKU-1"], NOW, "s1")
        assert f["u_views_7d"] == 3.0 and f["u_session_views"] == 3.0  # read from Redis
        body = client.post("/v1/quotes", headers=SF,
                           json={"product_ids": ["SKU-1"], "customer_id": "c1"}).json()
        assert body["fallback"] is False
        q = body["quotes"][0]
        backend.app.decisions.flush()
        assert len(backend.app.store.decisions_frame()) == 1

        pid = client.post("/v1/admin/promotions", headers=AD, json={
            "name": "5 off", "benefits": [{"type": "amount_off", "amount": 500}],
            "coupon_code": "ONCE", "usage_limit": 1, "stage": "order"}).json()["promotion_id"]
        order = {"order_id": "o1", "currency": "EUR", "customer_id": "c1", "coupons": ["ONCE"],
                 "lines": [{"product_id": "SKU-1", "quote_id": q["quote_id"],
                            "quote_signature": q["signature"]}]}
        first = client.post("/v1/orders", headers=SF, json=order)
        assert first.status_code == 201, first.text
        assert first.json()["redemptions"] == [{"promotion_id": pid, "amount": 500}]
        assert first.json()["cart"]["total"] == q["price"] - 500
        replay = client.post("/v1/orders", headers=SF, json=order)
        assert replay.status_code == 200 and replay.json()["replayed"] is True
        other = {**order, "order_id": "o2", "customer_id": "c2", "lines": [{"product_id": "SKU-1"}]}
        # the coupon is used up: the order is refused (409), not confirmed at full price
        assert client.post("/v1/orders", headers=SF, json=other).status_code == 409
        client.post("/v1/orders/o1/cancel", headers=SF)
        again = client.post("/v1/orders", headers=SF, json={**other, "order_id": "o3"})
        assert again.json()["redemptions"] == [{"promotion_id": pid, "amount": 500}]
        erased = client.delete("/v1/shoppers/c1", headers=AD).json()["erased"]
        assert erased["events"] == 3 and erased["orders"] == 1  # o1; o2 and o3 are c2's
        after = backend.app.features.features_for(pseudo, backend.app.catalogue.products["SKU-1"], NOW, "s1")
        assert after["u_views_7d"] == 0.0 and after["u_session_views"] == 0.0  # gone from Redis
        ready = client.get("/readyz").json()["dependencies"]
        assert ready["store"]["detail"] == "postgresql" and ready["online_features"]["ok"]
