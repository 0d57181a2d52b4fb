from __future__ import annotations

from datetime import timedelta

import numpy as np

from pricepilot.sim import Market, SimConfig
from pricepilot.sim.ts_update import TSUpdatePolicy, product_menu


def _stocked_market() -> Market:
    return Market(SimConfig(days=5, shoppers=600, products=16, seed=3, stock_limited_share=1.0,
                            season_end_share=0.5))


def test_ts_update_sells_no_more_than_the_stock_and_prices_on_its_menu() -> None:
    m = _stocked_market()
    products = m.products()
    pol = TSUpdatePolicy(products, horizon_end=m.config.start + timedelta(days=5), seed=1)
    r = m.run(pol, days=5, seed=7)
    dec = r.decisions
    sold = dec.groupby("product")["quantity"].sum()
    for j, units in sold.items():
        assert units <= m.catalog.stock[int(j)]
    for j, prices in dec.groupby("product")["price"]:
        menu = set(product_menu(products[int(j)]))
        assert set(prices.tolist()) <= menu | {products[int(j)].list_price}


def test_scarce_stock_raises_ts_update_prices_above_plain_thompson() -> None:
    m = _stocked_market()
    products = m.products()
    end = m.config.start + timedelta(days=5)
    pol = TSUpdatePolicy(products, horizon_end=end, seed=1)
    pol.observe([])
    # as if 1,000 views had been seen per product over a day: stock a tiny share of them
    pol.views[:] = 1000
    pol.first_us = int(pol.end_us.min()) - 4 * 86_400_000_000 - 86_400_000_000
    # a tight posterior on a steeply falling demand: dearer rungs sell far less
    rel = pol.menu / pol.list_price[:, None]
    theta = 0.3 * np.exp(-8.0 * (rel - 0.7))
    pol.alpha[:] = theta * 1e5
    pol.beta[:] = (1 - theta) * 1e5
    now = int(pol.first_us + 86_400_000_000)
    rows = np.arange(len(products), dtype=np.int64)
    pol.stock[:] = 1.0
    scarce = np.mean([pol._prices(rows, now) / pol.list_price for _ in range(20)])
    pol.stock[:] = -1.0
    free = np.mean([pol._prices(rows, now) / pol.list_price for _ in range(20)])
    assert scarce > free + 0.05
    assert np.isfinite(pol.capacity(now)).sum() == 0  # unlimited: no constraint
