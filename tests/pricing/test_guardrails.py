from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pricepilot.catalog.models import Guardrails, Product
from pricepilot.clock import FixedClock
from pricepilot.config import load_settings
from pricepilot.pricing.engine import Context, PricingEngine
from pricepilot.pricing.guardrails import STAGES, GuardrailSpec, apply_guardrails
from pricepilot.pricing.posterior import DemandPosterior


def _spec(g: Guardrails, cost: int = 500, comp: int | None = None, cur: int | None = None,
          band: float = 0.15, change: float = 0.1) -> GuardrailSpec:
    return GuardrailSpec.build(g, cost=cost, currency="EUR", competitor_price=comp,
                               current_price=cur, competitor_band=band, max_change=change)


def test_stages_run_in_the_documented_order_with_the_margin_floor_last() -> None:
    _, trace = apply_guardrails(np.array([1000]), _spec(Guardrails()))
    assert [t.name for t in trace] == list(STAGES)
    assert trace[-1].name == "margin_floor"


def test_the_ceiling_caps_the_price() -> None:
    final, trace = apply_guardrails(np.array([1500, 900]), _spec(Guardrails(ceiling=1200)))
    assert final.tolist() == [1200, 900]
    assert trace[0].after.tolist() == [1200, 900]


def test_the_competitor_band_keeps_the_price_within_the_band_of_the_lowest_competitor() -> None:
    final, _ = apply_guardrails(np.array([500, 1000, 1500]), _spec(Guardrails(), comp=1000, band=0.1))
    assert final.tolist() == [900, 1000, 1100]


def test_the_daily_change_limit_uses_the_current_price_and_the_product_setting_wins() -> None:
    final, _ = apply_guardrails(np.array([2000, 100]), _spec(Guardrails(), cur=1000, change=0.1))
    assert final.tolist() == [1100, 900]
    final, _ = apply_guardrails(np.array([2000]), _spec(Guardrails(max_change_per_day=0.2), cur=1000))
    assert final.tolist() == [1200]


@given(cur=st.integers(1, 5000), ceiling=st.integers(1, 5000), p=st.integers(1, 6000),
       change=st.floats(0.01, 0.5))
def test_the_daily_change_limit_never_pushes_a_price_past_the_ceiling(cur, ceiling, p, change) -> None:
    # today's price can sit above the ceiling (a list price over it, a ceiling lowered since):
    # the ceiling is hard, the daily change soft, so the price comes down to the ceiling
    final, _ = apply_guardrails(np.array([p]), _spec(Guardrails(ceiling=ceiling), cost=0,
                                                     cur=cur, change=change))
    assert final[0] <= ceiling


def test_a_current_price_above_the_ceiling_moves_to_the_ceiling() -> None:
    final, _ = apply_guardrails(np.array([1137]), _spec(Guardrails(ceiling=1200), cur=1500))
    assert final.tolist() == [1200]


def test_the_price_ending_is_chosen_inside_the_window_left_by_earlier_stages() -> None:
    # 1190 would snap to 1199, above the ceiling 1195: the ending stage picks 1099 instead
    final, _ = apply_guardrails(np.array([1190]), _spec(Guardrails(ceiling=1195, price_ending=99)))
    assert final.tolist() == [1099]


def test_the_margin_floor_is_applied_last_and_wins_over_a_lower_ceiling() -> None:
    # cost 1000, min margin 0.5 -> floor 2000, above the ceiling 1500: the floor wins
    final, trace = apply_guardrails(np.array([1200]), _spec(Guardrails(ceiling=1500, min_margin=0.5), cost=1000))
    assert final.tolist() == [2000]
    assert trace[-1].before.tolist() == [1200]


def test_the_margin_floor_is_the_larger_of_the_floor_and_cost_over_one_minus_min_margin() -> None:
    assert _spec(Guardrails(floor=1500, min_margin=0.2), cost=1000).floor == 1500
    assert _spec(Guardrails(floor=1100, min_margin=0.2), cost=1000).floor == 1250
    assert _spec(Guardrails(min_margin=0.3), cost=700).floor == 1000


def test_with_a_ladder_the_result_is_always_a_ladder_price_at_or_above_the_floor() -> None:
    g = Guardrails(ladder=[900, 1000, 1100, 1200], min_margin=0.5)
    final, _ = apply_guardrails(np.array([700, 1050, 5000]), _spec(g, cost=500))
    assert final.tolist() == [1000, 1000, 1200]


# ---- the invariant: no model, smoothing or personal layer can leave the guardrails -------------

class _Wild:
    """A model returning arbitrary (valid) curves chosen by Hypothesis."""

    version = "wild"

    def __init__(self, seed: int, kind: str) -> None:
        self.rng = np.random.default_rng(seed)
        self.kind = kind

    def predict_curve(self, features, prices, list_price, competitor_price=None):  # type: ignore[no-untyped-def]
        k = prices.shape[0]
        if self.kind == "random":
            return self.rng.random(k)
        if self.kind == "increasing":
            return np.linspace(0.0, 1.0, k)
        return np.ones(k)  # "flat": would pick the highest price

    def predict_curves(self, features, prices, list_prices, competitor_prices):  # type: ignore[no-untyped-def]
        return [self.predict_curve(f, p, lp, c) for f, p, lp, c in zip(features, prices, list_prices, competitor_prices)]


money = st.integers(min_value=50, max_value=100_000)


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[Product, Context, _Wild, bool]:
    cost = draw(st.integers(min_value=0, max_value=50_000))
    list_price = draw(money)
    floor = draw(st.none() | money)
    ceiling = draw(st.none() | money)
    if floor is not None and ceiling is not None and floor > ceiling:
        floor, ceiling = ceiling, floor
    ladder = draw(st.none() | st.lists(money, min_size=1, max_size=6, unique=True).map(sorted))
    g = Guardrails(
        floor=floor, ceiling=ceiling,
        min_margin=draw(st.none() | st.floats(min_value=-0.5, max_value=0.9)),
        max_change_per_day=draw(st.none() | st.floats(min_value=0.01, max_value=1.0)),
        price_ending=None if ladder else draw(st.none() | st.integers(min_value=0, max_value=99)),
        ladder=ladder,
    )
    stock = draw(st.none() | st.integers(min_value=0, max_value=1000))
    product = Product(product_id="P", title="p", category="c", currency="EUR", unit_cost=cost,
                      list_price=list_price, guardrails=g, stock=stock,
                      season_end=datetime(2026, 2, 1, tzinfo=timezone.utc) if stock is not None else None)
    ctx = Context(competitor_price=draw(st.none() | money), current_price=draw(st.none() | money),
                  arrivals_per_hour=draw(st.none() | st.floats(min_value=0.1, max_value=100)))
    model = _Wild(draw(st.integers(0, 2**32 - 1)), draw(st.sampled_from(["random", "increasing", "flat"])))
    return product, ctx, model, draw(st.booleans())


def _limits(product: Product, ctx: Context, engine: PricingEngine) -> tuple[int, int, GuardrailSpec]:
    ps = engine.settings.pricing
    spec = GuardrailSpec.build(product.guardrails, cost=product.unit_cost, currency="EUR",
                               competitor_price=ctx.competitor_price, current_price=ctx.current_price,
                               competitor_band=ps.competitor_band, max_change=ps.max_change_per_day)
    lo, hi = spec.floor, 10**12
    if spec.ceiling is not None:
        hi = min(hi, spec.ceiling)
    for w in (spec.band, spec.change):
        if w is not None:
            lo, hi = max(lo, w[0]), min(hi, w[1])
    return lo, hi, spec


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_no_model_can_push_a_served_price_outside_the_guardrails(
    case: tuple[Product, Context, _Wild, bool],
) -> None:
    product, ctx, model, with_shopper = case
    from pricepilot.compliance.attributes import Shopper

    engine = PricingEngine(load_settings(path=None, env={}), model, DemandPosterior(),
                           clock=FixedClock(datetime(2026, 1, 1, tzinfo=timezone.utc)), seed=0)
    shopper = Shopper(shopper_id="s") if with_shopper else None
    d = engine.decide(product, {"u_tier": "gold"}, shopper, ctx)
    lo, hi, spec = _limits(product, ctx, engine)
    g = product.guardrails
    for price in (d.price, d.base_price):
        assert price >= spec.floor  # the margin floor always holds
        if g.ladder:
            ok = [p for p in g.ladder if p >= spec.floor]
            if ok:
                assert price in g.ladder
        elif g.price_ending is not None:
            assert price % 100 == g.price_ending
        if g.ladder:
            feasible = any(lo <= p <= hi for p in g.ladder)
        elif g.price_ending is not None:
            first = max(lo, 1) + (g.price_ending - max(lo, 1)) % 100
            feasible = first <= hi
        else:
            feasible = max(lo, 1) <= hi
        if feasible:  # when the limits are compatible, the price respects every one of them
            assert lo <= price <= hi


def test_guardrail_spec_rejects_nothing_but_computes_an_exact_integer_margin_floor() -> None:
    for cost in range(0, 3000, 7):
        f = _spec(Guardrails(min_margin=0.35), cost=cost).floor
        assert (f - cost) >= 0.35 * f and (f - 1 - cost) < 0.35 * (f - 1)


@pytest.mark.parametrize("ending", [0, 49, 99])
def test_every_output_of_the_ending_stage_has_the_ending(ending: int) -> None:
    prices = np.arange(1, 5000, 13, dtype=np.int64)
    final, _ = apply_guardrails(prices, _spec(Guardrails(price_ending=ending)))
    assert np.all(final % 100 == ending)
