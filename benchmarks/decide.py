"""Latency of one price decision and of a page of 100, in process, per demand model family.

    PYTHONPATH=src python benchmarks/decide.py [--n 3000] [--models analytic,lgbm,logistic]

For each model (the analytic test ``LogitDemand``; LightGBM and logistic fitted with default
settings on synthetic rows, as ``pricepilot train`` fits them) reports p50/p99 of: the model's own
cost (predict_curve / predict_curves alone), the whole decision *including the model*, and the
decision excluding the model's median cost (measured side by side in one run). Cases: a grid
product with 20 candidates and no stock limit; the same with finite stock (inventory LP); a
ladder product; a consenting shopper (personal layer); a page of 100. The engine has a demand
posterior, so every grid decision makes 64 Thompson draws (16 with the LP). Wall-clock figures
include waiting for a core on a shared machine; the CPU columns (this thread's CPU time per call,
model included) are the work itself.

The engine rows time the pricing engine alone (the domain component, fed the same context a
served quote gets). The ``Shop.quote`` rows time what a shop gets through the public API
(``pricepilot.open`` on the embedded default, the model registered and promoted): catalogue,
online features, today's base price, arrival rate and stock, the engine, signing, the
decision record (written behind) and the prior-price disclosure.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import NamedTuple

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from timing import time_calls  # noqa: E402

from pricepilot.catalog.models import Guardrails, Product  # noqa: E402
from pricepilot.clock import FixedClock
from pricepilot.compliance.attributes import Shopper
from pricepilot.config import load_settings
from pricepilot.pricing.engine import Context, PricingEngine
from pricepilot.pricing.history import InMemoryPriceHistory
from pricepilot.pricing.posterior import DemandPosterior, Outcome
from pricepilot.pricing.testing import LogitDemand

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def _time(fn: Callable[[], object], n: int) -> Timing:
    wall, cpu = time_calls(fn, n, warmup=min(200, n))
    return Timing(wall, cpu)


class Timing(NamedTuple):
    """Per call, ms: wall clock, and this thread's CPU time (the work itself on a shared machine)."""

    wall: np.ndarray
    cpu: np.ndarray


def _model(name: str, train_rows: int, protected: list[str]) -> tuple[object, list[dict[str, object]]]:
    """The model and 100 feature dicts (one per page product; the first is the single case)."""
    if name == "analytic":
        feats = {"u_tier": "gold", "p_category": "c", "c_hour": 12.0}
        return LogitDemand(a=1.0, b=4.0, shifts={("u_tier", "gold"): -1.0}), [feats] * 100
    from pricepilot.demand.base import FEATURES, PRICE_FEATURES
    from pricepilot.demand.models import make_model
    from pricepilot.demand.synthetic import synthetic_frame

    frame = synthetic_frame(train_rows, seed=1)
    # default settings, as `pricepilot train` / the simulated shop fit them (lgbm: 100 trees of
    # 15 leaves; logistic: the scaled one-hot pipeline)
    model = make_model(name, protected_attributes=protected).fit(frame)
    rows = synthetic_frame(100, seed=7)
    feats = [{k: row[k] for k in FEATURES if k not in PRICE_FEATURES} for _, row in rows.iterrows()]
    return model, feats


def run(model_name: str, n: int, train_rows: int) -> list[tuple[str, np.ndarray, np.ndarray]]:
    settings = load_settings(path=None, env={})
    model, page_feats = _model(model_name, train_rows, list(settings.compliance.protected_attributes))
    post = DemandPosterior()
    for i in range(200):
        post.learn_one(Outcome(product_id="G", category="c", price=1000 + i, list_price=1000,
                               model_prob=0.4, purchased=i % 3 == 0))
    engine = PricingEngine(settings, model, post, InMemoryPriceHistory(), FixedClock(T0), seed=0)
    feats = page_feats[0]
    grid = Product(product_id="G", title="g", category="c", currency="EUR", unit_cost=500,
                   list_price=1000, guardrails=Guardrails(min_margin=0.2))
    stocked = Product(product_id="S", title="s", category="c", currency="EUR", unit_cost=500,
                      list_price=1000, stock=40, season_end=T0 + timedelta(days=7))
    ladder = Product(product_id="L", title="l", category="c", currency="EUR", unit_cost=500,
                     list_price=1000, guardrails=Guardrails(ladder=list(range(700, 1300, 30))))
    ctx = Context(current_price=1000, competitor_price=1050, arrivals_per_hour=3.0)
    cands = np.rint(np.linspace(700, 1300, 20)).astype(np.int64)
    base = {k: v for k, v in feats.items() if not k.startswith("u_")}
    shopper = Shopper(shopper_id="s", personalisation_consent=True)

    rows: list[tuple[str, Timing, np.ndarray]] = []
    model_one = _time(lambda: model.predict_curve(base, cands, 1000, 1050), n)
    rows.append(("model alone: predict_curve, 20 prices", model_one, model_one.wall * np.nan))
    for name, fn, calls in [
        ("grid, 20 candidates", lambda: engine.decide(grid, feats, None, ctx), 1),
        ("grid + inventory LP", lambda: engine.decide(stocked, feats, None, ctx), 1),
        ("ladder, 20 prices (Beta TS)", lambda: engine.decide(ladder, feats, None, ctx), 1),
        ("grid + personal layer", lambda: engine.decide(grid, feats, shopper, ctx), 2),
    ]:
        total = _time(fn, n)
        rows.append((name, total, total.wall - calls * np.median(model_one.wall)))
    page = [(Product(product_id=f"P{i}", title="p", category="c", currency="EUR", unit_cost=500,
                     list_price=1000 + i, guardrails=Guardrails(price_ending=99)), page_feats[i], ctx)
            for i in range(100)]
    page_base = [{k: v for k, v in f.items() if not k.startswith("u_")} for f in page_feats]
    page_m = max(50, n // 30)
    model_page = _time(lambda: model.predict_curves(page_base, [cands] * 100,
                                                    [1000 + i for i in range(100)], [1050] * 100), page_m)
    rows.append(("model alone: predict_curves, 100 x 20", model_page, model_page.wall * np.nan))
    total = _time(lambda: engine.decide_page(page), page_m)
    rows.append(("page of 100", total, total.wall - np.median(model_page.wall)))
    singles = _time(lambda: [engine.decide(p, f, None, c) for p, f, c in page], page_m)
    rows.append(("100 single decides (same products)", singles,
                 singles.wall - 100 * np.median(model_one.wall)))
    if model_name != "analytic":  # the registry holds fitted estimators only
        rows += _api_rows(model, [grid, stocked, ladder, *(p for p, _f, _c in page)], n, page_m)
    return rows


def _api_rows(model: object, products: list[Product], n: int,
              page_m: int) -> list[tuple[str, Timing, np.ndarray]]:
    """The same products quoted through the public API (see the module doc)."""
    import tempfile

    import pricepilot
    from pricepilot.demand.models import DemandEstimator

    assert isinstance(model, DemandEstimator)
    with tempfile.TemporaryDirectory(prefix="pp-bench-decide-") as tmp, \
            pricepilot.open(paths__data_dir=tmp, clock=FixedClock(T0), seed=0, warm=False) as shop:
        shop.upsert_products(products)
        shop.app.registry.promote(shop.app.registry.register(model).version)  # type: ignore[arg-type]
        shop.app.learning.reload()
        ids = [p.product_id for p in products[3:]]
        out: list[tuple[str, Timing, np.ndarray]] = []
        for name, pid in (("Shop.quote: grid product", "G"), ("Shop.quote: stocked product", "S"),
                          ("Shop.quote: ladder product", "L")):
            t = _time(lambda pid=pid: shop.quote("c1", [pid]), n)  # type: ignore[misc]
            out.append((name, t, t.wall * np.nan))
        t = _time(lambda: shop.quote("c1", ids), page_m)
        out.append(("Shop.quote: page of 100", t, t.wall * np.nan))
        assert not shop.quote("c1", ["G"]).fallback, "the API rows must be model-priced"
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=3000)
    ap.add_argument("--models", default="analytic,lgbm,logistic",
                    help="comma-separated: analytic (the test LogitDemand), lgbm, logistic")
    ap.add_argument("--train-rows", type=int, default=50_000,
                    help="synthetic rows the lgbm / logistic models are fitted on")
    args = ap.parse_args()
    for name in args.models.split(","):
        rows = run(name, args.n, args.train_rows)
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
        print(f"\n## model: {name}  (machine: {platform.machine()}, Python {platform.python_version()}, "
              f"2 shared cores, load average {load:.1f}; n={args.n})")
        print("| case | p50 ms | p99 ms | p50 ms excl. model | p99 ms excl. model | CPU p50 ms | CPU p99 ms |")
        print("|---|---|---|---|---|---|---|")
        for case, t, ex in rows:
            excl = ("– | –" if np.isnan(ex).all()
                    else f"{np.median(ex):.3f} | {np.percentile(ex, 99):.3f}")
            print(f"| {case} | {np.median(t.wall):.3f} | {np.percentile(t.wall, 99):.3f} | {excl} | "
                  f"{np.median(t.cpu):.3f} | {np.percentile(t.cpu, 99):.3f} |")
    print(f"reproduce: PYTHONPATH=src python benchmarks/decide.py --n {args.n} --models {args.models}")


if __name__ == "__main__":
    main()
