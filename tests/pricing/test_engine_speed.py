"""The page pass's shortcuts give the numbers of the per-product code they replace."""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np

from pricepilot.catalog.models import Guardrails, Product
from pricepilot.clock import FixedClock
from pricepilot.config import load_settings
from pricepilot.pricing.engine import PricingEngine
from pricepilot.pricing.page import corrections
from pricepilot.pricing.posterior import DemandPosterior, Outcome
from pricepilot.pricing.testing import LogitDemand

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def _posterior() -> DemandPosterior:
    post = DemandPosterior()
    rng = np.random.default_rng(0)
    for i in range(300):
        pid = f"A{i % 3}"  # products with data in category "c"
        post.learn_one(Outcome(product_id=pid, category="c", price=int(rng.integers(800, 1200)),
                               list_price=1000, model_prob=float(rng.uniform(0.1, 0.6)),
                               purchased=bool(rng.random() < 0.3)))
    return post


def test_batched_corrections_equal_the_posteriors_own() -> None:
    post = _posterior()
    engine = PricingEngine(load_settings(path=None, env={}), LogitDemand(a=1.0, b=4.0), post,
                           clock=FixedClock(T0), seed=0)
    products = [("A0", "c"), ("NEW", "c"), ("A2", "c"), ("X", "empty-category"), ("A1", "c")]
    preps = [engine._prep.prepare(Product(product_id=pid, title="t", category=cat, currency="EUR",
                                          unit_cost=500, list_price=1000), {}, None)
             for pid, cat in products]
    mus, covs = corrections(post, preps)
    for r, (pid, cat) in enumerate(products):
        mu, cov = post.correction(pid, cat)
        np.testing.assert_array_equal(mus[r], mu)
        np.testing.assert_array_equal(covs[r], cov)


def test_a_page_with_one_bad_curve_falls_back_for_that_product_only() -> None:
    class OneNaN(LogitDemand):
        def predict_curves(self, features, prices, list_prices, competitor_prices):  # type: ignore[no-untyped-def]
            out = super().predict_curves(features, prices, list_prices, competitor_prices)
            out[1] = np.full_like(out[1], np.nan)
            return out

    engine = PricingEngine(load_settings(path=None, env={}), OneNaN(a=1.0, b=4.0), _posterior(),
                           clock=FixedClock(T0), seed=0)
    page = [(Product(product_id=f"P{i}", title="p", category="c", currency="EUR", unit_cost=500,
                     list_price=1000, guardrails=Guardrails(price_ending=99)), {}, None) for i in range(3)]
    got = engine.decide_page(page)
    assert [d.fallback for d in got] == [False, True, False]
    assert "NaN" in got[1].explanation.reason
