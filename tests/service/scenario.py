"""A small shop for the process-level tests: settings, a seeded catalogue, a promoted model.

Products are chosen so that "guarded" is visible: one list price sits above its ceiling and one
below its floor, so a fallback that served raw list prices would be caught.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np

from pricepilot.catalog.models import Guardrails, Product
from pricepilot.config import Settings, load_settings
from pricepilot.service.auth import hash_key

STOREFRONT_KEY = "pp_fault-test-storefront"
ADMIN_KEY = "pp_fault-test-admin"
SF = {"Authorization": f"Bearer {STOREFRONT_KEY}"}
AD = {"Authorization": f"Bearer {ADMIN_KEY}"}

PRODUCTS = [
    Product(product_id="MUG", title="Mug", category="kitchen", currency="EUR", unit_cost=400,
            list_price=1000, guardrails=Guardrails(floor=700, ceiling=1400)),
    # list price above the ceiling: a guarded price is 1200, never 1500
    Product(product_id="LAMP", title="Lamp", category="home", currency="EUR", unit_cost=600,
            list_price=1500, guardrails=Guardrails(floor=900, ceiling=1200)),
    # list price below the floor: a guarded price is 2500, never 2000
    Product(product_id="KETTLE", title="Kettle", category="kitchen", currency="EUR",
            unit_cost=1500, list_price=2000, guardrails=Guardrails(floor=2500, ceiling=4000)),
]
BOUNDS = {p.product_id: (p.guardrails.floor, p.guardrails.ceiling) for p in PRODUCTS}
PRODUCT_IDS = [p.product_id for p in PRODUCTS]


def make_settings(data_dir: Path, *, store_url: str = "", redis_url: str | None = None,
                  key_prefix: str = "pp:", **overrides: Any) -> Settings:
    """Settings of one service process; exploration off so model prices are deterministic."""
    o: dict[str, Any] = {
        "paths.data_dir": str(data_dir),
        "service.api_keys": {hash_key(STOREFRONT_KEY): ["storefront"],
                             hash_key(ADMIN_KEY): ["admin"]},
        "service.server": "uvicorn",
        "service.retry_after_seconds": 2,
        "pricing.exploration": False,
        "security.pseudonym_key": "fault-tests-pseudonym-key",
    }
    if store_url:
        o["store.url"] = store_url
        o["store.type"] = "postgresql" if store_url.startswith("postgresql") else "sqlite"
    if redis_url is not None:
        o["online.type"] = "redis"
        o["online.url"] = redis_url
        o["online.key_prefix"] = key_prefix
    o.update(overrides)
    return load_settings(path=None, env={}, overrides=o)


def seed_store(settings: Settings) -> None:
    """Migrate the store and load the catalogue before any service process starts."""
    from pricepilot.store import open_store

    store = open_store(settings)
    try:
        store.migrate()
        store.upsert_products(PRODUCTS)
    finally:
        store.close()


def count_events(settings: Settings) -> int:
    from pricepilot.store import open_store

    store = open_store(settings)
    try:
        return store.count_events()
    finally:
        store.close()


def register_model(settings: Settings, *, promote: bool = True, seed: int = 3) -> str:
    """A logistic demand model whose purchase odds rise with the product's 7-day purchases.

    Two features, so it fits in a fraction of a second. The base price reads product features
    (shopper ``u_*`` features only enter the consented personal layer), and the strong
    ``p_purchases_7d`` effect moves the profit-optimal price by several grid steps after one
    purchase: the multi-process test observes that through the quote explanation.
    """
    from pricepilot.demand.models import LogisticDemand
    from pricepilot.demand.registry import ModelRegistry
    from pricepilot.demand.synthetic import synthetic_frame

    frame = synthetic_frame(3000, seed=seed)
    rng = np.random.default_rng(seed)
    frame["p_purchases_7d"] = rng.integers(0, 3, len(frame)).astype(float)
    logit = -1.5 - 6.0 * (frame["x_price_ratio_list"] - 1.0) + 1.5 * frame["p_purchases_7d"]
    frame["y"] = (rng.random(len(frame)) < 1.0 / (1.0 + np.exp(-logit))).astype(np.int64)
    model = LogisticDemand(features=["p_purchases_7d", "x_price_ratio_list"],
                           calibration="none").fit(frame)
    registry = ModelRegistry.from_settings(settings)
    version = registry.register(model).version
    if promote:
        registry.promote(version)
    return version


def quote_body(customer_id: str | None = "c-1", product_ids: list[str] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"product_ids": product_ids or PRODUCT_IDS}
    if customer_id is not None:
        body["customer_id"] = customer_id
    return body


def assert_guarded(response: dict[str, Any]) -> None:
    """Every quote inside its product's floor and ceiling."""
    for q in response["quotes"]:
        lo, hi = BOUNDS[q["product_id"]]
        assert lo <= q["price"] <= hi, q


def model_price(quote: dict[str, Any]) -> int | None:
    """The price the demand model chose, before smoothing and guardrails (None in fallback)."""
    for step in quote["explanation"]:
        if step["stage"] == "model":
            return int(step["price"])
    return None


def purchase(event_id: str, customer_id: str, product_id: str = "MUG", price: int = 1000,
             at: datetime | None = None) -> dict[str, Any]:
    ts = (at or datetime.now(timezone.utc) - timedelta(minutes=1)).isoformat()
    return {"type": "purchase", "event_id": event_id, "ts": ts, "customer_id": customer_id,
            "product_id": product_id, "order_id": f"o-{event_id}", "price": price,
            "currency": "EUR"}


def view(event_id: str, customer_id: str, product_id: str = "MUG") -> dict[str, Any]:
    ts = (datetime.now(timezone.utc) - timedelta(minutes=1)).isoformat()
    return {"type": "view", "event_id": event_id, "ts": ts, "customer_id": customer_id,
            "product_id": product_id, "price": 1000, "currency": "EUR"}
