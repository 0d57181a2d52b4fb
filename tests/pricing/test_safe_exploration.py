"""Thompson sampling explores only where little is at stake (pricing.exploration_max_loss)."""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
import pytest

from pricepilot.catalog.models import Product
from pricepilot.clock import FixedClock
from pricepilot.config import load_settings
from pricepilot.errors import ConfigError
from pricepilot.pricing.engine import Context, PricingEngine
from pricepilot.pricing.explore import safe_set, thompson_choice
from pricepilot.pricing.posterior import DemandPosterior
from pricepilot.pricing.testing import LogitDemand

T0 = datetime(2026, 3, 2, tzinfo=timezone.utc)


def _engine(max_loss: float) -> PricingEngine:
    settings = load_settings(None, env={}, overrides={"pricing.exploration_max_loss": max_loss})
    # a fresh posterior: wide uncertainty, so unrestricted Thompson sampling roams
    return PricingEngine(settings, LogitDemand(a=-1.0, b=4.0), DemandPosterior(),
                         clock=FixedClock(T0), seed=3)


def _products(n: int) -> list[Product]:
    return [Product(product_id=f"P{i}", title="p", category="c", currency="EUR", unit_cost=500,
                    list_price=1000 + 10 * i) for i in range(n)]


@pytest.mark.parametrize("page", [False, True], ids=["single", "page"])
def test_with_no_loss_allowed_every_decision_is_the_posterior_mean_optimum(page: bool) -> None:
    engine, products = _engine(0.0), _products(40)
    if page:
        ds = engine.decide_page([(p, {}, Context()) for p in products])
    else:
        ds = [engine.decide(p, {}, None, Context()) for p in products]
    assert all(d.explanation.model_price == d.explanation.greedy_price for d in ds)
    roaming = _engine(1.0).decide_page([(p, {}, Context()) for p in products])
    assert any(d.explanation.model_price != d.explanation.greedy_price for d in roaming)


def test_the_safe_set_bounds_the_posterior_mean_loss_of_every_choice() -> None:
    rng = np.random.default_rng(0)
    weights = np.linspace(2.0, 8.0, 12)
    for _ in range(50):
        draws = rng.uniform(0.01, 0.6, (64, 12))
        mean = draws.mean(axis=0)
        safe = safe_set(mean * weights, 0.05)
        c = thompson_choice(draws, weights, None, rng, safe=safe)
        best = float((mean * weights).max())
        assert (mean * weights)[c.index] >= 0.95 * best
        assert c.probs[~safe].sum() == 0.0 and c.probs.sum() == pytest.approx(1.0)


def test_the_setting_is_a_fraction() -> None:
    with pytest.raises(ConfigError, match="exploration_max_loss"):
        load_settings(None, env={}, overrides={"pricing.exploration_max_loss": 1.5})
