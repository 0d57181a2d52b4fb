"""Historical data of the simulated shop, written in the shared event file format.

The shop's *historical pricing policy* (:class:`HistoricalPolicy`) is deliberately varied so
demand is learnable from the history: every product sits at its list price, except

* **promotions**: each product-day starts a promotion with probability ``promo_start_rate``;
  it lasts 4-10 days at 10, 15, 20 or 25% off;
* **price tests**: in a share ``price_test_share`` of product-weeks the price is multiplied by a
  random factor from 0.85 to 1.20 for that whole week (outside promotions).

Prices are the same for every shopper on a product-day (no personalisation in the history) and
end in 9 minor units. ``generate_history`` drives the market with this policy and writes
``events.<fmt>``, ``products.csv`` and ``shoppers.csv``, the files a shop would ingest, and
keeps the simulated shoppers' protected attribute (``gender``) out of them: it goes to
``audit/protected_attributes.csv`` (:data:`AUDIT_FILE`), read only by the fairness audit
(:func:`read_protected_attributes`), never ingested.

>>> import tempfile
>>> paths = generate_history(SimConfig(days=2, shoppers=100, products=10, seed=3),
...                          tempfile.mkdtemp(), fmt="csv")
>>> sorted(paths)
['audit', 'events', 'products', 'shoppers']
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal

import msgspec
import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from pricepilot.errors import ValidationError
from pricepilot.money import exponent, format_amount
from pricepilot.sim import eventlog as el
from pricepilot.sim.config import SimConfig
from pricepilot.sim.market import Market
from pricepilot.sim.policy import ViewBatch, ViewRequest
from pricepilot.sim.products import SimCatalog
from pricepilot.sim.shoppers import CHANNELS, DEVICES, GENDERS, REGIONS, TIERS

I = npt.NDArray[np.int64]
Format = Literal["parquet", "csv", "jsonl"]
TEST_FACTORS = np.array([0.85, 0.9, 0.95, 1.05, 1.1, 1.15, 1.2])
PROMO_DEPTHS = np.array([0.10, 0.15, 0.20, 0.25])
PRODUCT_COLUMNS = ("product_id", "title", "category", "brand", "currency", "unit_cost",
                   "list_price", "stock", "season_end", "floor", "ceiling", "min_margin",
                   "max_change_per_day", "price_ending", "ladder", "attributes")
SHOPPER_COLUMNS = ("customer_id", "tier", "device", "region", "channel")
# the protected attributes, kept out of the shoppers file: for fairness audits only
AUDIT_FILE = Path("audit") / "protected_attributes.csv"
AUDIT_COLUMNS = ("customer_id", "gender")


def historical_prices(catalog: SimCatalog, days: int, cfg: SimConfig, seed: int) -> I:
    """The (days, products) table of posted prices of the historical policy."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, 99]))
    n = catalog.n
    lp = catalog.list_price.astype(np.float64)
    weeks = (days + 6) // 7
    tested = rng.random((weeks, n)) < cfg.price_test_share
    factor = np.where(tested, rng.choice(TEST_FACTORS, size=(weeks, n)), 1.0)
    mult = np.repeat(factor, 7, axis=0)[:days]
    starts = rng.random((days, n)) < cfg.promo_start_rate
    lengths = rng.integers(4, 11, (days, n))
    depths = rng.choice(PROMO_DEPTHS, size=(days, n))
    left = np.zeros(n, np.int64)
    depth = np.zeros(n)
    for d in range(days):
        new = (left == 0) & starts[d]
        left = np.where(new, lengths[d], np.maximum(left - 1, 0))
        depth = np.where(new, depths[d], depth)
        mult[d] = np.where(left > 0, 1.0 - depth, mult[d])
    raw = lp[None, :] * mult
    # end in 9: round to tens of minor units, minus one; never below cost + 1
    priced = np.rint(raw / 10.0).astype(np.int64) * 10 - 1
    priced = np.where(mult == 1.0, catalog.list_price[None, :], priced)
    priced = np.maximum(priced, catalog.cost[None, :] + 1)
    for j in range(n):  # a ladder product was only ever sold at its rungs: the nearest one
        rungs = np.asarray(catalog.ladder(j), dtype=np.int64)
        if rungs.size:
            near = np.abs(priced[:, j][:, None] - rungs[None, :]).argmin(axis=1)
            priced[:, j] = rungs[near]
    return priced


class HistoricalPolicy:
    """The shop's past pricing (see the module doc); a :class:`PricingPolicy` with a batch twin."""

    def __init__(self, catalog: SimCatalog, cfg: SimConfig, days: int, seed: int) -> None:
        self.table = historical_prices(catalog, days, cfg, seed)
        self.index = {pid: i for i, pid in enumerate(catalog.product_ids)}
        self.start = cfg.start

    def price(self, view: ViewRequest) -> int:
        d = (view.ts - self.start).days
        return int(self.table[d, self.index[view.product_id]])

    def price_batch(self, batch: ViewBatch) -> I:
        prices: I = self.table[batch.day, batch.product_index]
        return prices


def _strings(lookup: Sequence[str | None], codes: I) -> pa.Array:
    arr = np.array(list(lookup) + [None], dtype=object)
    return pa.array(arr[np.where(codes >= 0, codes, len(lookup))], type=pa.string())


def _ids(prefix: str, width: int, codes: I) -> pa.Array:
    return pa.array([f"{prefix}{c:0{width}d}" if c >= 0 else None for c in codes.tolist()],
                    type=pa.string())


def _money(codes: I, currency: str) -> pa.Array:
    exp = exponent(currency)
    if exp == 2:
        vals = [f"{p // 100}.{p % 100:02d}" if p >= 0 else None for p in codes.tolist()]
    else:
        vals = [format_amount(p, currency) if p >= 0 else None for p in codes.tolist()]
    return pa.array(vals, type=pa.string())


def _ints(codes: I) -> pa.Array:
    return pa.array(codes, type=pa.int64(), mask=codes < 0)


def events_table(cols: dict[str, I], lk: el.Lookups, ts_as_text: bool) -> pa.Table:
    """The shared event format as an Arrow table (ts as text for CSV/JSONL)."""
    t = cols["type"]
    has_price = (t == el.VIEW) | (t == el.CART) | (t == el.PURCHASE) | (t == el.COMPETITOR)
    ts_us = cols["ts"]
    if ts_as_text:
        secs = np.datetime_as_string(ts_us.astype("datetime64[us]"), unit="s")
        ts = pa.array(np.char.add(secs.astype(str), "+00:00"), type=pa.string())
    else:
        ts = pa.array(ts_us, type=pa.timestamp("us", tz="UTC"))
    comp = cols["on_promotion"]
    day_names = [d.isoformat() for d in lk.days]
    return pa.table({
        "event_id": _ids("e", 9, cols["seq"]),
        "type": pa.array(np.array(el.TYPES, dtype=object)[t], type=pa.string()),
        "ts": ts,
        "customer_id": _strings(lk.customer_ids, cols["customer"]),
        "product_id": _strings(lk.product_ids, cols["product"]),
        "session_id": _ids("s", 8, cols["session"]),
        "order_id": _ids("o", 8, cols["order"]),
        "quantity": _ints(cols["quantity"]),
        "price": _money(cols["price"], lk.currency),
        "currency": pa.array(np.where(has_price, lk.currency, np.array(None, dtype=object)),
                             type=pa.string()),
        "competitor": _strings(lk.competitors, cols["competitor"]),
        "on_promotion": pa.array(comp == 1, type=pa.bool_(), mask=comp < 0),
        "stock": _ints(cols["stock"]),
        "day": _strings(day_names, cols["day"]),
        "name": _strings(lk.holiday_names, cols["day"]),
        "channel": _strings(lk.channels, cols["channel"]),
        "device": _strings(lk.devices, cols["device"]),
        "quote_id": pa.nulls(t.size, type=pa.string()),
        "region": pa.nulls(t.size, type=pa.string()),
    })


def products_table(market: Market) -> pa.Table:
    cur = market.config.currency
    rows: dict[str, list[str | None]] = {c: [] for c in PRODUCT_COLUMNS}
    for p in market.products():
        rows["product_id"].append(p.product_id)
        rows["title"].append(p.title)
        rows["category"].append(p.category)
        rows["brand"].append(p.brand)
        rows["currency"].append(cur)
        rows["unit_cost"].append(format_amount(p.unit_cost, cur))
        rows["list_price"].append(format_amount(p.list_price, cur))
        rows["stock"].append(None if p.stock is None else str(p.stock))
        rows["season_end"].append(None if p.season_end is None else p.season_end.isoformat())
        rows["floor"].append(format_amount(p.guardrails.floor, cur) if p.guardrails.floor is not None else None)
        for c in ("ceiling", "min_margin", "max_change_per_day", "price_ending"):
            rows[c].append(None)
        ladder = p.guardrails.ladder
        rows["ladder"].append(";".join(format_amount(x, cur) for x in ladder) if ladder else None)
        rows["attributes"].append(json.dumps(p.attributes, sort_keys=True))
    return pa.table({c: pa.array(v, type=pa.string()) for c, v in rows.items()})


def shoppers_table(market: Market) -> pa.Table:
    s = market.shoppers

    def pick(names: Sequence[str], codes: I) -> pa.Array:
        return pa.array(np.array(names, dtype=object)[codes], type=pa.string())

    return pa.table({
        "customer_id": pa.array(s.customer_ids, type=pa.string()),
        "tier": pick(TIERS, s.tier), "device": pick(DEVICES, s.device),
        "region": pick(REGIONS, s.region), "channel": pick(CHANNELS, s.channel),
    })


def protected_attributes_table(market: Market) -> pa.Table:
    """Each shopper's protected attribute (``gender``) by customer id: the audit file's rows."""
    s = market.shoppers
    return pa.table({
        "customer_id": pa.array(s.customer_ids, type=pa.string()),
        "gender": pa.array(np.array(GENDERS, dtype=object)[s.gender], type=pa.string()),
    })


def read_protected_attributes(path: str | Path) -> dict[str, str]:
    """The audit file's ``gender`` by customer id (the shop's own ids, not pseudonyms)."""
    t = pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(
        column_types={c: pa.string() for c in AUDIT_COLUMNS}, include_columns=list(AUDIT_COLUMNS)))
    return dict(zip(t.column("customer_id").to_pylist(), t.column("gender").to_pylist()))


def _write_csv(table: pa.Table, path: Path) -> None:
    pacsv.write_csv(table, path, pacsv.WriteOptions(quoting_style="needed"))


def _write_jsonl(table: pa.Table, path: Path) -> None:
    enc = msgspec.json.Encoder()
    with path.open("wb") as f:
        for batch in table.to_batches(max_chunksize=50_000):
            for row in batch.to_pylist():
                f.write(enc.encode({k: v for k, v in row.items() if v is not None}))
                f.write(b"\n")


def generate_history(config: SimConfig, out_dir: str | Path, fmt: Format = "parquet",
                     progress: Callable[[int], None] | None = None) -> dict[str, Path]:
    """Simulate ``config.days`` days under :class:`HistoricalPolicy` and write the files.

    Returns ``{"events": ..., "products": ..., "shoppers": ..., "audit": ...}`` paths (``audit``:
    the protected attributes, :data:`AUDIT_FILE`, not for ingestion). Deterministic: the same
    config (and seed) writes byte-identical files.
    """
    if fmt not in ("parquet", "csv", "jsonl"):
        raise ValidationError("history", "fmt", f"must be parquet, csv or jsonl, got {fmt!r}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    market = Market(config)
    policy = HistoricalPolicy(market.catalog, config, config.days, config.seed)
    result = market.run(policy, days=config.days, chunk_seconds=86_400, progress=progress)
    table = events_table(result.events.columns(), result.lookups, ts_as_text=fmt != "parquet")
    events = out / f"events.{fmt}"
    if fmt == "parquet":
        pq.write_table(table, events, compression="zstd")
    elif fmt == "csv":
        _write_csv(table, events)
    else:
        _write_jsonl(table, events)
    products, shoppers = out / "products.csv", out / "shoppers.csv"
    _write_csv(products_table(market), products)
    _write_csv(shoppers_table(market), shoppers)
    audit = out / AUDIT_FILE
    audit.parent.mkdir(parents=True, exist_ok=True)
    _write_csv(protected_attributes_table(market), audit)
    return {"events": events, "products": products, "shoppers": shoppers, "audit": audit}
