"""Latency of one price decision and of a page of 100, in process, with an analytic model.

    PYTHONPATH=src python benchmarks/decide.py [--n 3000]

Reports p50/p99 of: the model's own cost (predict_curve / predict_curves alone), the whole
decision, and the decision excluding the model (measured side by side in one run). Cases: a grid
product with 20 candidates and no stock limit; the same with finite stock (inventory LP); a
ladder product; a consenting shopper (personal layer, two model calls); a page of 100.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

import numpy as np

from pricepilot.catalog.models import Guardrails, Product
from pricepilot.clock import FixedClock
from pricepilot.compliance.attributes import Shopper
from pricepilot.config import load_settings
from pricepilot.pricing.engine import Context, PricingEngine
from pricepilot.pricing.history import InMemoryPriceHistory
from pricepilot.pricing.posterior import DemandPosterior, Outcome
from pricepilot.pricing.testing import LogitDemand

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def _time(fn: Callable[[], object], n: int) -> np.ndarray:
    for _ in range(min(200, n)):
        fn()
    out = np.empty(n)
    for i in range(n):
        t = time.perf_counter_ns()
        fn()
        out[i] = time.perf_counter_ns() - t
    return out / 1e6  # ms


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=3000)
    n = ap.parse_args().n
    settings = load_settings(path=None, env={})
    model = LogitDemand(a=1.0, b=4.0, shifts={("u_tier", "gold"): -1.0})
    post = DemandPosterior()
    for i in range(200):
        post.learn_one(Outcome(product_id="G", category="c", price=1000 + i, list_price=1000,
                               model_prob=0.4, purchased=i % 3 == 0))
    engine = PricingEngine(settings, model, post, InMemoryPriceHistory(), FixedClock(T0), seed=0)
    feats = {"u_tier": "gold", "p_category": "c", "c_hour": 12.0}
    grid = Product(product_id="G", title="g", category="c", currency="EUR", unit_cost=500,
                   list_price=1000, guardrails=Guardrails(min_margin=0.2))
    stocked = Product(product_id="S", title="s", category="c", currency="EUR", unit_cost=500,
                      list_price=1000, stock=40, season_end=T0 + timedelta(days=7))
    ladder = Product(product_id="L", title="l", category="c", currency="EUR", unit_cost=500,
                     list_price=1000, guardrails=Guardrails(ladder=list(range(700, 1300, 30))))
    ctx = Context(current_price=1000, competitor_price=1050, arrivals_per_hour=3.0)
    cands = np.rint(np.linspace(700, 1300, 20)).astype(np.int64)
    base = {k: v for k, v in feats.items() if not k.startswith("u_")}

    rows: list[tuple[str, np.ndarray, np.ndarray]] = []
    model_one = _time(lambda: model.predict_curve(base, cands, 1000, 1050), n)
    for name, fn, calls in [
        ("grid, 20 candidates", lambda: engine.decide(grid, feats, None, ctx), 1),
        ("grid + inventory LP", lambda: engine.decide(stocked, feats, None, ctx), 1),
        ("ladder, 20 prices (Beta TS)", lambda: engine.decide(ladder, feats, None, ctx), 1),
        ("grid + personal layer", lambda: engine.decide(grid, feats, Shopper(shopper_id="s"), ctx), 2),
    ]:
        total = _time(fn, n)
        rows.append((name, total, total - calls * np.median(model_one)))
    page = [(Product(product_id=f"P{i}", title="p", category="c", currency="EUR", unit_cost=500,
                     list_price=1000 + i, guardrails=Guardrails(price_ending=99)), feats, ctx)
            for i in range(100)]
    page_m = max(50, n // 30)
    model_page = _time(lambda: model.predict_curves([base] * 100, [cands] * 100, [1000] * 100, [1050] * 100), page_m)
    total = _time(lambda: engine.decide_page(page), page_m)
    rows.append(("page of 100", total, total - np.median(model_page)))
    singles = _time(lambda: [engine.decide(p, f, None, c) for p, f, c in page], page_m)
    rows.append(("100 single decides (same products)", singles, singles - 100 * np.median(model_one)))

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"machine: {platform.machine()}, Python {platform.python_version()}, 2 shared cores, "
          f"load average {load:.1f}; n={n}")
    print("| case | p50 ms | p99 ms | p50 ms excl. model | p99 ms excl. model |")
    print("|---|---|---|---|---|")
    print(f"| model alone: predict_curve, 20 prices | {np.median(model_one):.3f} | {np.percentile(model_one, 99):.3f} | – | – |")
    print(f"| model alone: predict_curves, 100 x 20 | {np.median(model_page):.3f} | {np.percentile(model_page, 99):.3f} | – | – |")
    for name, t, ex in rows:
        print(f"| {name} | {np.median(t):.3f} | {np.percentile(t, 99):.3f} | {np.median(ex):.3f} | {np.percentile(ex, 99):.3f} |")
    print("reproduce: PYTHONPATH=src python benchmarks/decide.py --n", n)


if __name__ == "__main__":
    main()
