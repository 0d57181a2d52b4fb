from __future__ import annotations

import json
import re
import time
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import msgspec
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from pricepilot.errors import ValidationError
from pricepilot.events.schemas import EVENT_COLUMNS, EVENT_TYPES, Event
from pricepilot.money import parse_amount
from pricepilot.sim.config import SimConfig
from pricepilot.sim.history import (
    PRODUCT_COLUMNS,
    HistoricalPolicy,
    generate_history,
    historical_prices,
)
from pricepilot.sim.market import Market
from pricepilot.sim.shoppers import GENDERS

CFG = SimConfig(days=7, shoppers=500, products=30, seed=9)
FILE_COLUMNS = ["customer_id" if c == "user_id" else c for c in EVENT_COLUMNS]
MONEY = re.compile(r"^\d+\.\d{2}$")


@pytest.fixture(scope="module")
def csv_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("csv")
    generate_history(CFG, d, fmt="csv")
    return d


def read_csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def to_event(row: dict[str, str]) -> Event:
    """What an ingester does with a row: decimal text -> minor units (the shopper is
    ``customer_id`` in files as on the wire)."""
    d: dict[str, object] = {k: v for k, v in row.items() if v not in ("", None)}
    t = d["type"]
    if "price" in d:
        d["price"] = parse_amount(str(d["price"]), str(d.get("currency", "EUR")))
    for k in ("quantity", "stock"):
        if k in d:
            d[k] = int(str(d[k]))
    if "on_promotion" in d:
        d["on_promotion"] = d["on_promotion"] in ("true", True)
    allowed = set(EVENT_TYPES[str(t)].__struct_encode_fields__) | {"type"}
    d = {k: v for k, v in d.items() if k in allowed and v is not None}
    return msgspec.convert(d, Event, strict=False)


def test_csv_events_have_every_shared_column_and_parse_as_events(csv_dir: Path) -> None:
    ev = read_csv(csv_dir / "events.csv")
    assert list(ev.columns) == FILE_COLUMNS
    assert ev["event_id"].is_unique
    assert set(EVENT_TYPES) - {"calendar"} <= set(ev["type"]) <= set(EVENT_TYPES)
    for row in ev.groupby("type").head(20).to_dict("records"):
        to_event(row)  # raises if a required field is missing or mistyped
    priced = ev[ev["price"] != ""]
    assert priced["price"].str.match(MONEY).all()
    assert (priced["currency"] == "EUR").all()
    assert ev["ts"].str.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$").all()
    ts = pd.to_datetime(ev["ts"])
    assert ts.is_monotonic_increasing
    buys = ev[ev["type"] == "purchase"]
    assert buys["order_id"].is_unique and (buys["quantity"].astype(int) >= 1).all()
    comp = ev[ev["type"] == "competitor_price"]
    assert set(comp["on_promotion"]) <= {"true", "false"} and (comp["competitor"] != "").all()


def test_products_and_shoppers_files_follow_the_shared_format(csv_dir: Path) -> None:
    prods = read_csv(csv_dir / "products.csv")
    assert list(prods.columns) == list(PRODUCT_COLUMNS)
    assert len(prods) == CFG.products
    for col in ("unit_cost", "list_price", "floor"):
        assert prods[col].str.match(MONEY).all()
    assert all(Decimal(c) < Decimal(p) for c, p in zip(prods["unit_cost"], prods["list_price"]))
    for v in prods.loc[prods["season_end"] != "", "season_end"]:
        assert datetime.fromisoformat(v).tzinfo is not None
    assert all(isinstance(json.loads(a), dict) for a in prods["attributes"])
    shoppers = read_csv(csv_dir / "shoppers.csv")
    assert list(shoppers.columns) == ["customer_id", "tier", "device", "region", "channel"]
    assert shoppers["customer_id"].str.match(r"^c\d{5}$").all() and len(shoppers) == CFG.shoppers
    ev = read_csv(csv_dir / "events.csv")
    assert set(ev.loc[ev["customer_id"] != "", "customer_id"]) <= set(shoppers["customer_id"])
    assert set(ev.loc[ev["product_id"] != "", "product_id"]) <= set(prods["product_id"])


def test_parquet_types_follow_the_shared_format(tmp_path: Path) -> None:
    paths = generate_history(CFG, tmp_path, fmt="parquet")
    t = pq.read_table(paths["events"])
    assert t.column_names == FILE_COLUMNS
    assert str(t.schema.field("ts").type) == "timestamp[us, tz=UTC]"
    assert str(t.schema.field("price").type) == "string"
    assert str(t.schema.field("quantity").type) == "int64"
    assert str(t.schema.field("on_promotion").type) == "bool"


def test_jsonl_rows_omit_empty_fields_and_decode(tmp_path: Path) -> None:
    paths = generate_history(CFG, tmp_path, fmt="jsonl")
    lines = paths["events"].read_text().splitlines()
    rows = [json.loads(x) for x in lines[:300]]
    assert all(None not in r.values() for r in rows)
    for r in rows:
        to_event({k: (str(v).lower() if isinstance(v, bool) else str(v)) for k, v in r.items()})


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_the_same_seed_writes_identical_files(tmp_path: Path, fmt: str) -> None:
    a = generate_history(CFG, tmp_path / "a", fmt=fmt)  # type: ignore[arg-type]
    b = generate_history(CFG, tmp_path / "b", fmt=fmt)  # type: ignore[arg-type]
    for k in a:
        assert a[k].read_bytes() == b[k].read_bytes(), k


def test_a_small_history_is_fast_and_sized_as_configured(tmp_path: Path) -> None:
    cfg = SimConfig(days=14, shoppers=1000, products=50, seed=1)
    t0 = time.perf_counter()
    paths = generate_history(cfg, tmp_path, fmt="parquet")
    assert time.perf_counter() - t0 < 20  # the default size is timed in benchmarks/sim.py
    ev = pq.read_table(paths["events"]).to_pandas()
    views = (ev["type"] == "view").sum()
    expected = cfg.shoppers * cfg.visit_rate * cfg.views_per_session * cfg.days
    assert 0.7 * expected < views < 1.3 * expected
    assert ev["ts"].dt.normalize().nunique() == cfg.days


def test_the_historical_policy_varies_prices_so_demand_is_learnable() -> None:
    m = Market(SimConfig(days=90, shoppers=100, products=100, seed=3))
    table = historical_prices(m.catalog, 90, m.config, 3)
    ratio = table / m.catalog.list_price[None, :]
    assert (ratio == 1.0).mean() > 0.3  # mostly list price
    assert ((ratio < 0.95).mean() > 0.05) and ((ratio > 1.04).mean() > 0.05)
    distinct = [np.unique(table[:, j]).size for j in range(100)]
    assert np.median(distinct) >= 3
    assert (table > m.catalog.cost[None, :]).all()
    assert (table % 10 == 9).all()


def test_the_historical_policy_prices_one_view_as_its_batch_twin_does() -> None:
    m = Market(SimConfig(days=4, shoppers=300, products=20, seed=3))

    class OneByOne:
        def __init__(self, inner: HistoricalPolicy) -> None:
            self.inner = inner

        def price(self, view):  # type: ignore[no-untyped-def]
            return self.inner.price(view)

        def observe(self, events):  # type: ignore[no-untyped-def]
            return None

    batch = m.run(HistoricalPolicy(m.catalog, m.config, 4, 3)).decisions
    single = m.run(OneByOne(HistoricalPolicy(m.catalog, m.config, 4, 3))).decisions
    pd.testing.assert_frame_equal(batch, single)


def test_an_unknown_format_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValidationError):
        generate_history(CFG, tmp_path, fmt="xml")  # type: ignore[arg-type]


def test_price_response_is_visible_in_the_history(tmp_path: Path) -> None:
    cfg = SimConfig(days=28, shoppers=1500, products=30, seed=5)
    paths = generate_history(cfg, tmp_path, fmt="parquet")
    ev = pq.read_table(paths["events"]).to_pandas()
    prods = pd.read_csv(paths["products"], dtype=str).set_index("product_id")
    views = ev[ev["type"] == "view"]
    buys = ev[ev["type"] == "purchase"]
    bought = set(zip(buys["session_id"], buys["product_id"]))
    y = np.array([(s, p) in bought for s, p in zip(views["session_id"], views["product_id"])])
    lp = views["product_id"].map(prods["list_price"]).map(Decimal)
    ratio = (views["price"].map(Decimal) / lp).astype(float).to_numpy()
    # prices were varied at random across products, so pooled conversion shows the response
    low, at, high = y[ratio < 0.97].mean(), y[ratio == 1.0].mean(), y[ratio > 1.03].mean()
    assert low > 1.3 * at and at > high
    assert min((ratio < 0.97).sum(), (ratio > 1.03).sum()) > 500


def test_protected_attributes_stay_out_of_the_shoppers_file_in_an_audit_file(tmp_path: Path) -> None:
    """Issue #13 point 11: the shoppers file the README ingests carries no protected attribute
    (ingestion refuses one); the simulator keeps gender in a separate audit file."""
    from pricepilot.sim.history import AUDIT_FILE, read_protected_attributes

    paths = generate_history(CFG, tmp_path, fmt="csv")
    shoppers = read_csv(paths["shoppers"])
    assert "gender" not in shoppers.columns
    assert paths["audit"] == tmp_path / AUDIT_FILE
    gender = read_protected_attributes(paths["audit"])
    assert set(gender) == set(shoppers["customer_id"])
    assert set(gender.values()) <= set(GENDERS) and len(set(gender.values())) > 1
    # the shoppers file ingests with the default settings (no audit-only declaration)
    from pricepilot.config import load_settings
    from pricepilot.events.ingest import ingest_shoppers
    from pricepilot.store import open_store

    settings = load_settings(None, env={}, overrides={"paths.data_dir": str(tmp_path / "data")})
    store = open_store(settings)
    try:
        store.migrate()
        assert ingest_shoppers(store, paths["shoppers"], settings) == CFG.shoppers
    finally:
        store.close()
