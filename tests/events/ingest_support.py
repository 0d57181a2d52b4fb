"""Shared by the ingestion tests (imported, not a conftest, so other parts' tests stay apart): a migrated SQLite store with a small catalogue, fixed time."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from pricepilot.catalog.models import Product
from pricepilot.clock import FixedClock
from pricepilot.config import Settings, load_settings
from pricepilot.store import open_store
from pricepilot.store.sql import SqlStore

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=timezone.utc)
HEADER = ("event_id", "type", "ts", "customer_id", "product_id", "session_id", "order_id",
          "quantity", "price", "currency", "competitor", "on_promotion", "stock", "day", "name",
          "channel", "device", "quote_id", "region")


def catalogue() -> list[Product]:
    return [
        Product(product_id="SKU-1", title="Mug", category="kitchen", currency="EUR",
                unit_cost=400, list_price=999),
        Product(product_id="SKU-2", title="Pan", category="kitchen", currency="EUR",
                unit_cost=1500, list_price=3999),
    ]


def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    o: dict[str, Any] = {"paths.data_dir": str(tmp_path / "data")}
    o.update({f"ingest.{k}": v for k, v in overrides.items()})
    return load_settings(None, env={}, overrides=o)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqlStore]:
    s = open_store(f"sqlite:///{tmp_path / 'store.sqlite'}", clock=FixedClock(NOW))
    s.migrate()
    s.upsert_products(catalogue())
    yield s
    s.close()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


def view_row(eid: str, **kw: str) -> dict[str, str]:
    row = {"event_id": eid, "type": "view", "ts": "2026-03-01T10:00:00+00:00",
           "customer_id": "cust-1", "product_id": "SKU-1", "price": "9.99", "currency": "EUR",
           "session_id": "s1", "channel": "web", "device": "mobile"}
    row.update(kw)
    return row


def write_csv(path: Path, rows: list[dict[str, str]], header: tuple[str, ...] = HEADER) -> Path:
    import csv

    with path.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(header))
        w.writeheader()
        for r in rows:
            w.writerow({k: r.get(k, "") for k in header})
    return path
