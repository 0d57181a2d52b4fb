"""The engine's per-product caches (public curve, posterior corrections) change no decision:
a product quoted again with the same features gets exactly what a fresh computation gives."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timezone

import msgspec
import numpy as np
import numpy.typing as npt

from pricepilot.catalog.models import Product
from pricepilot.clock import FixedClock
from pricepilot.compliance.attributes import Shopper
from pricepilot.config import load_settings
from pricepilot.pricing.engine import Context, PricingEngine
from pricepilot.pricing.posterior import DemandPosterior, Outcome
from pricepilot.pricing.testing import LogitDemand

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
F = npt.NDArray[np.float64]


class StepDemand(LogitDemand):
    """A stepped curve (as trees give) whose level moves with ``p_views_7d``; counts its calls."""

    def __init__(self) -> None:
        super().__init__(a=0.5, b=4.0, shifts={("u_tier", "gold"): 0.4})
        self.rows: list[int] = []  # rows asked per call

    def predict_curve(self, features: Mapping[str, object], prices: npt.NDArray[np.int64],
                      list_price: int, competitor_price: int | None = None) -> F:
        views = features.get("p_views_7d")
        lift = 0.0 if not isinstance(views, float) or views != views else 0.01 * views
        if competitor_price is not None:  # a cheaper competitor lowers demand
            lift -= 0.5 * max(0.0, 1.0 - competitor_price / list_price)
        z = self.a + lift + self._shift(features) - self.b * np.round(4 * (prices / list_price - 1.0)) / 4
        return np.asarray(1.0 / (1.0 + np.exp(-z)), dtype=np.float64)

    def predict_curves(self, features: Sequence[Mapping[str, object]],
                       prices: Sequence[npt.NDArray[np.int64]], list_prices: Sequence[int],
                       competitor_prices: Sequence[int | None]) -> list[F]:
        self.rows.append(len(features))
        return super().predict_curves(features, prices, list_prices, competitor_prices)


def _posterior() -> DemandPosterior:
    post = DemandPosterior()
    rng = np.random.default_rng(1)
    for i in range(200):
        post.learn_one(Outcome(product_id=f"P{i % 2}", category="c", price=int(rng.integers(800, 1200)),
                               list_price=1000, model_prob=float(rng.uniform(0.1, 0.6)),
                               purchased=bool(rng.random() < 0.3)))
    return post


def _engine(post: DemandPosterior) -> tuple[PricingEngine, StepDemand]:
    model = StepDemand()
    return PricingEngine(load_settings(path=None, env={}), model, post, clock=FixedClock(T0),
                         seed=7), model


def _item(pid: str, views: float, competitor: int | None = None
          ) -> tuple[Product, dict[str, object], Context]:
    product = Product(product_id=pid, title="t", category="c", currency="EUR", unit_cost=500,
                      list_price=1000)
    return (product, {"p_views_7d": views, "p_conversion_7d": float("nan"), "u_tier": "gold"},
            Context(competitor_price=competitor))


def _same(a: list, b: list) -> None:  # type: ignore[type-arg]
    assert msgspec.to_builtins(a) == msgspec.to_builtins(b)


def test_repeat_quotes_from_the_caches_equal_fresh_computations() -> None:
    post_a, post_b = _posterior(), _posterior()
    cached, _ = _engine(post_a)
    fresh, _ = _engine(post_b)
    gold = Shopper(shopper_id="s", tier="gold", personalisation_consent=True)
    pages = [[_item("P0", 3.0)], [_item("P0", 3.0)], [_item("P1", float("nan")), _item("P0", 3.0)],
             [_item("P1", float("nan"))], [_item("P0", 4.0)], [_item("NEW", 1.0)],
             [_item("P0", 3.0, competitor=800)], [_item("P0", 3.0, competitor=700)]]
    for k, page in enumerate(pages * 3):
        shopper = gold if k % 2 else None
        got = cached.decide_page(page, shopper)
        fresh._curves.cache.clear()
        fresh._page.correction_cache.clear()
        fresh._personal.curve_cache.clear()
        _same(got, fresh.decide_page(page, shopper))
        if k == 7:  # outcomes move the posterior of P0 and of the category: corrections follow
            for post in (post_a, post_b):
                post.learn_one(Outcome(product_id="P0", category="c", price=950, list_price=1000,
                                       model_prob=0.4, purchased=True))
                post.learn_one(Outcome(product_id="P9", category="c", price=900, list_price=1000,
                                       model_prob=0.3, purchased=False))
    assert cached._curves.cache and cached._page.correction_cache and cached._personal.curve_cache


def test_a_repeat_quote_skips_the_base_model_call_and_a_changed_feature_does_not() -> None:
    engine, model = _engine(_posterior())
    engine.decide_page([_item("P0", 3.0)])
    engine.decide_page([_item("P0", 3.0)])
    engine.decide_page([_item("P0", 5.0)])  # new feature value: a new public curve
    assert model.rows == [1, 1]
    gold = Shopper(shopper_id="s", tier="gold", personalisation_consent=True)
    model.rows.clear()
    engine.decide_page([_item("P0", 3.0)], gold)  # only the shopper's curve is asked for
    engine.decide_page([_item("P0", 6.0)], gold)  # base and shopper's curves
    engine.decide_page([_item("P0", 6.0)], gold)  # the same inputs again: no model call
    silver = Shopper(shopper_id="t", tier="silver", personalisation_consent=True)
    other = _item("P0", 6.0)
    other[1]["u_tier"] = "silver"  # another shopper feature value: the shopper's curve again
    engine.decide_page([other], silver)
    assert model.rows == [1, 2, 1]


def test_a_one_product_page_decides_as_the_first_row_of_a_larger_page() -> None:
    # the one-product path (views instead of stacking, per-row counting) gives the numbers of the
    # page pass: with one seed, row 0 of a page draws the same normals as a page of one
    gold = Shopper(shopper_id="s", tier="gold", personalisation_consent=True)
    for shopper in (None, gold):
        one, _ = _engine(_posterior())
        many, _ = _engine(_posterior())
        for views in (3.0, 3.0, 8.0):  # the second from the caches
            one.rng, many.rng = np.random.default_rng(11), np.random.default_rng(11)
            alone = one.decide_page([_item("P0", views)], shopper)
            page = many.decide_page([_item("P0", views), _item("P1", 2.0), _item("NEW", 1.0)], shopper)
            _same(alone, page[:1])
