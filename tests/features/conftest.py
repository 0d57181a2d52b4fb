from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

import pandas as pd
import pytest

from pricepilot.catalog.models import Product
from pricepilot.clock import to_micros
from pricepilot.events.schemas import EVENT_COLUMNS
from pricepilot.features.backends import FeatureBackend, MemoryBackend, RedisBackend

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=timezone.utc)  # a Monday
HOUR_US = 3_600_000_000
DAY_US = 86_400_000_000


def ts(hours: float = 0.0) -> int:
    """Epoch microseconds ``hours`` after T0."""
    return to_micros(T0) + int(hours * HOUR_US)


def log(*rows: dict[str, Any]) -> pd.DataFrame:
    """A tiny event log in the EVENT_COLUMNS layout; event ids default to e0, e1, ..."""
    full = []
    for i, r in enumerate(rows):
        row: dict[str, Any] = {c: None for c in EVENT_COLUMNS}
        row["event_id"] = f"e{i}"
        row.update(r)
        if row["type"] in ("view", "purchase", "add_to_cart", "competitor_price"):
            row.setdefault("currency", "EUR")
            if row["currency"] is None:
                row["currency"] = "EUR"
        full.append(row)
    df = pd.DataFrame(full, columns=list(EVENT_COLUMNS))
    for c in ("quantity", "price", "stock"):
        df[c] = df[c].astype("Int64")
    df["ts"] = df["ts"].astype("int64")
    return df


MUG = Product(product_id="MUG", title="Mug", category="kitchen", currency="EUR", unit_cost=400,
              list_price=1000)
PAN = Product(product_id="PAN", title="Pan", category="kitchen", currency="EUR", unit_cost=1500,
              list_price=4000, stock=7)
HAT = Product(product_id="HAT", title="Hat", category="clothes", currency="EUR", unit_cost=500,
              list_price=2000,
              season_end=datetime(2026, 3, 12, 10, tzinfo=timezone.utc))
CATALOGUE = [MUG, PAN, HAT]


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def backend(request: pytest.FixtureRequest) -> Iterator[FeatureBackend]:
    if request.param == "memory":
        yield MemoryBackend()
        return
    url = request.getfixturevalue("redis_url")
    prefix = request.getfixturevalue("redis_prefix")
    b = RedisBackend(url, prefix=prefix)
    yield b
    b.close()
