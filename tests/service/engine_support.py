"""Shared set-up for the tests of the real backend: settings, a seeded catalogue, a small model."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path

from starlette.testclient import TestClient

from pricepilot.catalog.models import Guardrails, Product
from pricepilot.clock import FixedClock
from pricepilot.config import Settings, load_settings
from pricepilot.demand.models import DemandEstimator, LogisticDemand
from pricepilot.demand.registry import ModelRegistry
from pricepilot.demand.synthetic import synthetic_frame
from pricepilot.service.app import create_app
from pricepilot.service.auth import hash_key
from pricepilot.service.engine_backend import EngineBackend
from pricepilot.store import open_store

from .conftest import ADMIN_KEY, STOREFRONT_KEY

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=timezone.utc)


def engine_settings(data_dir: Path, **overrides: object) -> Settings:
    return load_settings(path=None, env={}, overrides={
        "paths.data_dir": str(data_dir),
        "service.api_keys": {hash_key(STOREFRONT_KEY): ["storefront"],
                             hash_key(ADMIN_KEY): ["admin"]},
        **overrides,
    })


def catalogue(n: int = 5) -> list[Product]:
    return [Product(product_id=f"SKU-{i}", title=f"Item {i}", category="kitchen" if i % 2 else "garden",
                    currency="EUR", unit_cost=400 + 10 * i, list_price=999 + 100 * i, stock=50,
                    guardrails=Guardrails(min_margin=0.1))
            for i in range(n)]


@lru_cache(maxsize=1)
def _fitted() -> DemandEstimator:
    return LogisticDemand().fit(synthetic_frame(2000, seed=3))


def promote_small_model(models_dir: Path) -> str:
    reg = ModelRegistry(models_dir)
    version = reg.register(_fitted()).version
    reg.promote(version)
    return version


@contextmanager
def engine_client(settings: Settings, *, clock: FixedClock | None = None,
                  store_url: str | None = None, products: list[Product] | None = None,
                  **backend_kw: object) -> Iterator[tuple[TestClient, EngineBackend]]:
    store = open_store(store_url or f"sqlite:///{settings.data_dir / 'pp.db'}")
    store.migrate()
    store.upsert_products(products if products is not None else catalogue())
    backend = EngineBackend(settings, store=store, clock=clock or FixedClock(NOW), seed=7,
                            **backend_kw)  # type: ignore[arg-type]
    with TestClient(create_app(settings, backend)) as client:
        yield client, backend
    backend.close()
