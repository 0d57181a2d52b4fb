from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timezone

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pricepilot.catalog.models import Guardrails, Product
from pricepilot.clock import FixedClock
from pricepilot.config import load_settings
from pricepilot.pricing.curve_fit import evidence_mask, logit_linear
from pricepilot.pricing.engine import PricingEngine
from pricepilot.pricing.testing import LogitDemand

F = npt.NDArray[np.float64]
T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def _sig(z: F) -> F:
    return 1.0 / (1.0 + np.exp(-z))


def test_an_exact_logit_linear_curve_is_kept() -> None:
    r = np.linspace(0.7, 1.2, 20)[None, :]
    curve = _sig(-2.0 - 4.0 * (r - 1.0))
    np.testing.assert_allclose(logit_linear(curve, r), curve, rtol=1e-9)


def test_evidence_drops_the_outer_parts_of_flat_ends() -> None:
    c = np.array([[0.3, 0.3, 0.3, 0.2, 0.1, 0.05, 0.05]])
    assert evidence_mask(c).tolist() == [[False, False, True, True, True, True, False]]


def test_a_step_curve_becomes_strictly_decreasing_and_extends_its_slope() -> None:
    r = np.array([[0.6, 0.7, 0.8, 0.9, 1.0, 1.1]])
    step = np.array([[0.2, 0.2, 0.2, 0.12, 0.12, 0.08]])  # flat below 0.8: no data there
    fit = logit_linear(step, r)
    assert np.all(np.diff(fit[0]) < 0)
    assert fit[0, 0] > 0.2  # the learnt slope is carried below the data


def test_no_slope_evidence_keeps_the_curve() -> None:
    r = np.array([[0.8, 0.9, 1.0], [0.8, 0.9, 1.0]])
    c = np.array([[0.1, 0.1, 0.1], [0.3, 0.3, 0.3]])
    np.testing.assert_array_equal(logit_linear(c, r), c)
    one = np.array([[0.4]])
    np.testing.assert_array_equal(logit_linear(one, np.array([[1.0]])), one)


def test_a_rising_curve_is_flattened_never_rising() -> None:
    r = np.array([[0.8, 0.9, 1.0, 1.1]])
    fit = logit_linear(np.array([[0.1, 0.12, 0.15, 0.2]]), r)
    assert np.ptp(fit) < 1e-12


def test_shapes_must_match() -> None:
    with pytest.raises(ValueError, match="same"):
        logit_linear(np.zeros((2, 3)), np.zeros((2, 4)))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(0.0, 1.0), min_size=2, max_size=25))
def test_fit_is_a_probability_and_non_increasing(vals: list[float]) -> None:
    curve = np.sort(np.array(vals))[::-1][None, :]  # non-increasing in price, like the models
    r = np.linspace(0.7, 1.2, curve.shape[1])[None, :]
    fit = logit_linear(curve, r)
    assert np.all((fit >= 0.0) & (fit <= 1.0))
    assert np.all(np.diff(fit[0]) <= 1e-12)


class StepDemand:
    """A tree-like model of a true logit: constant on price steps of 0.1 × list, flat below 0.8."""

    version = "step-1"

    def predict_curve(self, features: Mapping[str, object], prices: npt.NDArray[np.int64],
                      list_price: int, competitor_price: int | None = None) -> F:
        r = np.maximum(prices / list_price, 0.8)
        stepped = np.ceil(r * 10.0 - 1e-9) / 10.0  # every price takes its step's top value
        return _sig(-2.0 - 5.0 * (stepped - 1.0))

    def predict_curves(self, features: Sequence[Mapping[str, object]], prices: Sequence[npt.NDArray[np.int64]],
                       list_prices: Sequence[int], competitor_prices: Sequence[int | None]) -> list[F]:
        return [self.predict_curve(f, p, lp, c)
                for f, p, lp, c in zip(features, prices, list_prices, competitor_prices, strict=True)]


def _true_profit(price: int, cost: int = 400) -> float:
    return float((price - cost) * _sig(np.array(-2.0 - 5.0 * (price / 1000 - 1.0))))


@pytest.mark.parametrize("page", [False, True])
def test_the_fit_moves_the_price_towards_the_true_optimum_of_a_step_model(page: bool) -> None:
    product = Product(product_id="SKU", title="t", category="c", currency="EUR", unit_cost=400,
                      list_price=1000, guardrails=Guardrails(floor=650, ceiling=1200))
    prices = {}
    for mode in ("none", "logit_linear"):
        s = load_settings(path=None, env={}, overrides={"pricing.curve_fit": mode, "pricing.exploration": False,
                                                        "pricing.grid_size": 40})
        engine = PricingEngine(s, StepDemand(), clock=FixedClock(T0), seed=0)
        d = engine.decide_page([(product, {}, None)])[0] if page else engine.decide(product, {})
        prices[mode] = d.price
    grid = np.arange(650, 1201)
    best = max(grid, key=lambda p: _true_profit(int(p)))
    assert abs(prices["logit_linear"] - best) < abs(prices["none"] - best)
    assert _true_profit(prices["logit_linear"]) > _true_profit(prices["none"])


def test_public_probabilities_are_the_curve_the_optimiser_sees() -> None:
    product = Product(product_id="SKU", title="t", category="c", currency="EUR", unit_cost=400, list_price=1000)
    s = load_settings(path=None, env={}, overrides={})
    engine = PricingEngine(s, LogitDemand(a=-1.0, b=4.0), clock=FixedClock(T0), seed=0)
    got = engine.public_probabilities([(product, {}, None)], [930])
    assert got[0] == pytest.approx(float(_sig(np.array(-1.0 - 4.0 * (0.93 - 1.0)))), rel=1e-9)
    none = PricingEngine(s, None, clock=FixedClock(T0), seed=0)
    assert np.isnan(none.public_probabilities([(product, {}, None)], [930])[0])


@pytest.mark.parametrize("fit", ["none", "logit_linear"])
def test_each_decision_carries_the_public_probability_at_its_price(fit: str) -> None:
    product = Product(product_id="SKU", title="t", category="c", currency="EUR", unit_cost=400,
                      list_price=1000, guardrails=Guardrails(floor=650, ceiling=1200))
    s = load_settings(path=None, env={}, overrides={"pricing.curve_fit": fit})
    model = StepDemand()
    engine = PricingEngine(s, model, clock=FixedClock(T0), seed=0)
    for d in (engine.decide(product, {}), *engine.decide_page([(product, {}, None)] * 3)):
        assert d.public_probability is not None
        # the same number the posterior's outcome scoring gives for that price
        again = engine.public_probabilities([(product, {}, None)], [d.price])[0]
        assert d.public_probability == pytest.approx(again, rel=1e-12)
        if fit == "none":
            assert d.public_probability == pytest.approx(float(model.predict_curve({}, np.array([d.price]), 1000)[0]))
    fallback = PricingEngine(s, None, clock=FixedClock(T0), seed=0).decide(product, {})
    assert fallback.fallback and fallback.public_probability is None


@settings(max_examples=80, deadline=None)
@given(st.lists(st.floats(0.0, 1.0), min_size=1, max_size=25))
def test_the_single_curve_fit_equals_the_page_fit(vals: list[float]) -> None:
    from pricepilot.pricing.curve_fit import fit_logit_linear, fit_one

    curve = np.sort(np.array(vals))[::-1]
    r = np.linspace(0.7, 1.2, curve.shape[0])
    page = fit_logit_linear(curve[None, :], r[None, :])
    one = fit_one(curve, r)
    assert (one is not None) == bool(page.used[0])
    if one is not None:
        assert one[0] == pytest.approx(float(page.intercept[0]), rel=1e-9, abs=1e-9)
        assert one[1] == pytest.approx(float(page.slope[0]), rel=1e-9, abs=1e-9)
