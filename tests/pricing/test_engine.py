from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pricepilot.catalog.models import Guardrails, Product
from pricepilot.clock import FixedClock
from pricepilot.compliance.attributes import Shopper
from pricepilot.config import Settings, load_settings
from pricepilot.errors import ValidationError
from pricepilot.pricing.engine import Context, PricingEngine
from pricepilot.pricing.history import InMemoryPriceHistory
from pricepilot.pricing.posterior import DemandPosterior, Outcome
from pricepilot.pricing.testing import LogitDemand, TableDemand

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def _settings(**pricing: object) -> Settings:
    return load_settings(path=None, env={}, overrides={f"pricing.{k}": v for k, v in pricing.items()})


def _product(**kw: object) -> Product:
    base: dict[str, object] = dict(product_id="SKU", title="t", category="c", currency="EUR",
                                   unit_cost=400, list_price=1000)
    base.update(kw)
    return Product(**base)  # type: ignore[arg-type]


def _engine(model: object, s: Settings | None = None, **kw: object) -> PricingEngine:
    return PricingEngine(s or _settings(), model, clock=FixedClock(T0), seed=0, **kw)  # type: ignore[arg-type]


class _Raising:
    version = "broken-1"

    def predict_curve(self, *a: object, **k: object) -> np.ndarray:
        raise RuntimeError("boom")

    def predict_curves(self, *a: object, **k: object) -> list[np.ndarray]:
        raise RuntimeError("boom")


class _Returning:
    version = "bad-1"

    def __init__(self, value: object) -> None:
        self.value = value

    def predict_curve(self, features: Mapping[str, object], prices: np.ndarray, *a: object) -> object:
        return self.value if not callable(self.value) else self.value(prices)

    def predict_curves(self, features, prices, *a):  # type: ignore[no-untyped-def]
        return [self.predict_curve(f, p) for f, p in zip(features, prices)]


# ---- fallbacks ------------------------------------------------------------------------------

@pytest.mark.parametrize("model,why", [
    (None, "no demand model"),
    (_Raising(), "RuntimeError: boom"),
    (_Returning(lambda p: np.full(p.shape[0], np.nan)), "NaN"),
    (_Returning(lambda p: np.full(p.shape[0], 1.5)), "outside [0, 1]"),
    (_Returning(lambda p: np.ones(p.shape[0] + 1) * 0.5), "shape"),
    (_Returning("not numbers"), "non-numeric"),
])
def test_model_problems_give_the_list_price_inside_the_guardrails_flagged_as_fallback(model: object, why: str) -> None:
    p = _product(guardrails=Guardrails(ceiling=950, price_ending=99))
    d = _engine(model).decide(p, {})
    assert d.fallback and not d.personalised
    assert d.price == 899  # list 1000 capped at 950, then the ending .99 inside the window
    assert why in d.explanation.reason and d.explanation.model_price is None
    assert d.explanation.binding_rule == "price_ending" and d.propensity == 1.0


def test_a_model_failure_in_a_page_falls_back_for_every_product_without_raising() -> None:
    items = [(_product(product_id=f"P{i}"), {}, None) for i in range(3)]
    ds = _engine(_Raising()).decide_page(items)
    assert [d.fallback for d in ds] == [True] * 3 and all(d.price == 1000 for d in ds)


def test_a_failing_personal_curve_keeps_the_base_price_and_says_why() -> None:
    class HalfBroken(LogitDemand):
        def predict_curve(self, features, prices, list_price, competitor_price=None):  # type: ignore[no-untyped-def]
            if "u_tier" in features:
                raise RuntimeError("shopper features broke it")
            return super().predict_curve(features, prices, list_price, competitor_price)

    d = _engine(HalfBroken()).decide(_product(), {"u_tier": "gold"}, Shopper(shopper_id="s"))
    assert not d.fallback and not d.personalised and d.price == d.base_price
    assert "personal curve failed" in d.explanation.reason


# ---- the decision ---------------------------------------------------------------------------

def test_without_exploration_the_engine_serves_the_expected_profit_maximising_candidate() -> None:
    model = LogitDemand(a=0.0, b=3.0)
    p = _product()
    d = _engine(model, _settings(exploration=False)).decide(p, {})
    prices = np.rint(np.linspace(700, 1300, 20)).astype(np.int64)
    best = prices[np.argmax((prices - 400) * model.predict_curve({}, prices, 1000))]
    assert d.price == best and d.explanation.model_price == best and d.propensity == 1.0
    assert d.candidates_evaluated == 20 and d.model_version == "logit-test-1"
    assert d.expires_at == T0 + timedelta(minutes=15)


def test_the_explanation_lists_every_stage_in_order_and_names_the_binding_rule() -> None:
    p = _product(guardrails=Guardrails(ceiling=1100, price_ending=99))
    d = _engine(LogitDemand(a=3.0, b=1.0), _settings(exploration=False)).decide(
        p, {}, context=Context(current_price=1000))
    names = [s.stage for s in d.explanation.stages]
    assert names == ["smoothing", "ceiling", "competitor_band", "max_change", "price_ending", "margin_floor"]
    s = d.explanation.stages
    assert s[0].before == d.explanation.model_price and s[-1].after == d.price
    assert all(a.after == b.before for a, b in zip(s, s[1:]))
    changed = [x.stage for x in s if x.before != x.after]
    assert d.explanation.binding_rule == (changed[-1] if changed else "model")


def test_revenue_objective_prices_lower_than_profit_objective() -> None:
    model = LogitDemand(a=0.0, b=3.0)
    profit = _engine(model, _settings(exploration=False)).decide(_product(), {})
    revenue = _engine(model, _settings(exploration=False, objective="revenue")).decide(_product(), {})
    assert revenue.price < profit.price


def test_finite_stock_before_season_end_raises_the_price_through_the_inventory_lp() -> None:
    model = LogitDemand(a=1.0, b=4.0)
    s = _settings(exploration=False)
    free = _engine(model, s).decide(_product(), {})
    scarce = _product(stock=5, season_end=T0 + timedelta(days=10))
    d = _engine(model, s).decide(scarce, {}, context=Context(arrivals_per_hour=10.0))
    assert d.explanation.lp_capacity == pytest.approx(5 / 2400)
    assert "inventory LP" in d.explanation.reason and d.price > free.price


def test_thompson_propensity_is_the_probability_of_the_served_price() -> None:
    post = DemandPosterior()
    eng = _engine(TableDemand({2990: 0.8, 3490: 0.6, 3990: 0.3, 4490: 0.1}), posterior=post,
                  draws=256)
    p = _product(list_price=3990, unit_cost=0, guardrails=Guardrails(ladder=[2990, 3490, 3990, 4490]))
    served = [eng.decide(p, {}) for _ in range(400)]
    freq: dict[int, float] = {}
    for d in served:
        freq[d.price] = freq.get(d.price, 0) + 1 / len(served)
        assert 0 < d.propensity <= 1
    for d in served[:50]:  # the logged propensity estimates how often that price is served
        assert d.propensity == pytest.approx(freq[d.price], abs=0.12)


def test_prices_react_to_learnt_outcomes_at_the_next_decision() -> None:
    post = DemandPosterior(prior_strength=2.0)
    ladder = [800, 1000, 1200]
    eng = _engine(TableDemand({800: 0.5, 1000: 0.5, 1200: 0.5}), _settings(exploration=False), posterior=post)
    p = _product(unit_cost=0, guardrails=Guardrails(ladder=ladder))
    assert eng.decide(p, {}).price == 1200  # same demand everywhere: highest price
    for _ in range(30):  # nobody buys at 1200
        eng.learn(Outcome(product_id="SKU", category="c", price=1200, list_price=1000,
                          model_prob=0.5, purchased=False))
    assert eng.decide(p, {}).price == 1000


def test_the_reference_price_is_the_lowest_public_price_of_the_previous_30_days() -> None:
    h = InMemoryPriceHistory()
    h.record("SKU", T0 - timedelta(days=40), 700)
    h.record("SKU", T0 - timedelta(days=35), 950)  # in force when the 30-day window opens
    h.record("SKU", T0 - timedelta(days=10), 1100)
    d = _engine(LogitDemand(a=0.0, b=3.0), _settings(exploration=False), history=h).decide(
        _product(), {}, context=Context(current_price=1100))
    assert d.reference_price == 950
    assert d.is_reduction == (d.price < 1100)


def test_served_base_prices_are_recorded_in_the_history_when_they_change() -> None:
    h = InMemoryPriceHistory()
    eng = _engine(LogitDemand(a=0.0, b=3.0), _settings(exploration=False), history=h)
    d = eng.decide(_product(), {})
    assert h.lowest("SKU", T0, T0) == d.base_price
    assert d.reference_price is None  # the decided price is not its own prior price


class _EagerHistory:
    """A history whose answers include a price as soon as it is recorded, whatever its time (as
    the service's write-behind history does, whose cache is lowered at once by a record)."""

    def __init__(self, *prior: int) -> None:
        self.prices = list(prior)

    def record(self, product_id: str, ts: object, price: int) -> None:
        self.prices.append(price)

    def lowest(self, product_id: str, since: object, until: object) -> int | None:
        return min(self.prices, default=None)


def test_the_decided_price_is_never_its_own_prior_price_whatever_the_history() -> None:
    h = _EagerHistory()
    eng = _engine(LogitDemand(a=0.0, b=3.0), _settings(exploration=True), history=h,
                  posterior=DemandPosterior())  # Thompson draws: the price moves
    seen: list[int] = []
    for _ in range(20):
        pages = [eng.decide(_product(), {})] + eng.decide_page([(_product(), {}, None)])
        for d in pages:
            assert d.reference_price == min(seen, default=None)  # the earlier prices only
            seen.append(d.base_price)
    assert len(set(seen)) > 1  # exploration moved the price, so the check had teeth


def test_a_personal_price_has_the_prior_price_of_its_base_decision() -> None:
    h = _EagerHistory(1200)
    model = LogitDemand(a=0.0, b=3.0, shifts={("u_tier", "bargain"): -2.0})
    eng = _engine(model, _settings(exploration=False, personal_discount_max=0.1), history=h)
    d = eng.decide(_product(), {"u_tier": "bargain"}, Shopper(shopper_id="s"))
    assert d.personalised and d.base_price < 1200
    assert d.reference_price == 1200  # not the base price recorded a moment before
    assert h.prices == [1200, d.base_price]  # the public base price is what was recorded


def test_protected_attributes_among_the_features_are_refused() -> None:
    with pytest.raises(ValidationError, match="gender"):
        _engine(LogitDemand()).decide(_product(), {"u_gender": "f"}, Shopper(shopper_id="s"))


def test_a_page_is_priced_with_one_batched_model_call_and_matches_single_decisions() -> None:
    calls = {"one": 0, "many": 0}

    class Counting(LogitDemand):
        def predict_curve(self, *a, **k):  # type: ignore[no-untyped-def]
            calls["one"] += 1
            return super().predict_curve(*a, **k)

        def predict_curves(self, *a, **k):  # type: ignore[no-untyped-def]
            calls["many"] += 1
            return [LogitDemand.predict_curve(self, f, p, lp, c) for f, p, lp, c in zip(*a)]

    s = _settings(exploration=False)
    items = [(_product(product_id=f"P{i}", list_price=1000 + 10 * i), {}, None) for i in range(100)]
    page = _engine(Counting(a=0.5, b=3.0), s).decide_page(items)
    assert calls == {"one": 0, "many": 1}
    single = [_engine(LogitDemand(a=0.5, b=3.0), s).decide(p, f, None, c) for p, f, c in items]
    assert [d.price for d in page] == [d.price for d in single]
    with pytest.raises(ValidationError):
        _engine(LogitDemand(), s).decide_page(items + items[:1])


# ---- the personal layer ---------------------------------------------------------------------

def test_a_price_sensitive_consenting_shopper_gets_a_discount_inside_the_band() -> None:
    model = LogitDemand(a=0.0, b=3.0, shifts={("u_tier", "bargain"): -2.0})
    eng = _engine(model, _settings(exploration=False, personal_discount_max=0.1))
    d = eng.decide(_product(), {"u_tier": "bargain"}, Shopper(shopper_id="s"))
    assert d.personalised and d.price < d.base_price
    assert d.price >= d.base_price * 0.9 - 1
    assert d.explanation.stages[-1].stage == "personal" and d.explanation.binding_rule == "personal"


def test_a_page_with_the_personal_layer_takes_one_model_call_and_matches_separate_calls() -> None:
    calls: list[int] = []

    class Counting(LogitDemand):
        def predict_curves(self, *a, **k):  # type: ignore[no-untyped-def]
            calls.append(len(a[0]))
            return super().predict_curves(*a, **k)

    model = Counting(a=0.0, b=3.0, shifts={("u_tier", "bargain"): -2.0})
    s = _settings(exploration=False, personal_discount_max=0.2)
    items = [(_product(product_id=f"P{i}", list_price=1000 + 37 * i,
                       guardrails=Guardrails(ladder=[999, 1099, 1199, 1499]) if i % 3 == 0
                       else Guardrails()),
              {"u_tier": "bargain"}, Context(current_price=1010 + 37 * i) if i % 2 else None)
             for i in range(12)]
    shopper = Shopper(shopper_id="s")
    page = _engine(model, s).decide_page(items, shopper)
    assert calls == [24]  # base and personal curves of the 12 products, in one call
    single = [_engine(LogitDemand(a=0.0, b=3.0, shifts={("u_tier", "bargain"): -2.0}), s)
              .decide(p, f, shopper, c) for p, f, c in items]
    assert any(d.personalised for d in page)
    assert [(d.price, d.base_price, d.personalised, d.explanation) for d in page] == \
           [(d.price, d.base_price, d.personalised, d.explanation) for d in single]


def test_a_page_whose_personal_curve_fails_keeps_base_prices_and_says_why() -> None:
    class HalfBroken(LogitDemand):
        def predict_curve(self, features, prices, list_price, competitor_price=None):  # type: ignore[no-untyped-def]
            if "u_tier" in features:
                raise RuntimeError("shopper features broke it")
            return super().predict_curve(features, prices, list_price, competitor_price)

    items = [(_product(product_id=f"P{i}"), {"u_tier": "gold"}, None) for i in range(3)]
    for d in _engine(HalfBroken()).decide_page(items, Shopper(shopper_id="s")):
        assert not d.fallback and not d.personalised and d.price == d.base_price
        assert "personal curve failed: RuntimeError: shopper features broke it" in d.explanation.reason


def test_no_consent_or_no_shopper_means_no_personal_price() -> None:
    model = LogitDemand(a=0.0, b=3.0, shifts={("u_tier", "bargain"): -2.0})
    eng = _engine(model, _settings(exploration=False))
    no = eng.decide(_product(), {"u_tier": "bargain"}, Shopper(shopper_id="s", personalisation_consent=False))
    anon = eng.decide(_product(), {"u_tier": "bargain"}, None)
    assert not no.personalised and not anon.personalised and no.price == no.base_price


@settings(max_examples=60, deadline=None)
@given(shift=st.floats(-4, 4), b=st.floats(0.5, 8), cost=st.integers(0, 900),
       discount=st.floats(0.0, 0.5), surcharge=st.booleans())
def test_the_personal_layer_never_loses_expected_profit_and_never_surcharges_unless_allowed(
    shift: float, b: float, cost: int, discount: float, surcharge: bool,
) -> None:
    model = LogitDemand(a=0.0, b=b, shifts={("u_tier", "x"): shift})
    s = _settings(exploration=False, personal_discount_max=discount, allow_surcharge=surcharge)
    d = _engine(model, s).decide(_product(unit_cost=cost, guardrails=Guardrails(price_ending=99)),
                                 {"u_tier": "x"}, Shopper(shopper_id="s"))
    assert d.price % 100 == 99
    if not surcharge:
        assert d.price <= d.base_price
    curve = model.predict_curve({"u_tier": "x"}, np.array([d.base_price, d.price]), 1000)
    profit_base, profit_personal = (np.array([d.base_price, d.price]) - cost) * curve
    assert profit_personal >= profit_base - 1e-9
    assert d.personalised == (d.price != d.base_price)


def test_a_page_mixing_ladder_stocked_and_failing_products_explores_within_the_guardrails() -> None:
    post = DemandPosterior()
    eng = _engine(LogitDemand(a=0.5, b=3.0), posterior=post, history=InMemoryPriceHistory())
    ctx = Context(current_price=1000, competitor_price=1020, arrivals_per_hour=5.0)
    items = [
        (_product(product_id="GRID", guardrails=Guardrails(price_ending=99, min_margin=0.5)), {}, ctx),
        (_product(product_id="LAD", guardrails=Guardrails(ladder=[900, 1000, 1100])), {}, ctx),
        (_product(product_id="STOCK", stock=3, season_end=T0 + timedelta(days=2)), {}, ctx),
    ]
    for _ in range(20):
        grid, lad, stock = eng.decide_page(items)
        assert grid.price % 100 == 99 and grid.price >= 800
        assert lad.price in (900, 1000, 1100)
        assert "inventory LP" in stock.explanation.reason
        assert stock.explanation.lp_capacity == pytest.approx(3 / 240)
        for d in (grid, lad, stock):
            assert 0 < d.propensity <= 1 + 1e-9 and not d.fallback
            assert 867 <= d.price <= 1100  # competitor band and daily change hold


def test_a_stocked_ladder_price_held_by_the_daily_change_limit_has_a_propensity_of_at_most_one() -> None:
    # every candidate ends at today's price, so the propensity sums all of the LP's mixture:
    # rounding took it to 1.0000000000000002, which the decision log refuses
    eng = _engine(LogitDemand(a=-2.0, b=1.0), posterior=DemandPosterior())
    p = _product(unit_cost=0, list_price=4490, stock=60, season_end=T0 + timedelta(hours=200),
                 guardrails=Guardrails(ladder=[2990, 3490, 3990, 4490]))
    props = [d.propensity for _ in range(300)
             for d in eng.decide_page([(p, {}, Context(arrivals_per_hour=1.0, current_price=2990))])]
    assert max(props) <= 1.0


@pytest.mark.parametrize("ladder", [None, [2990, 3490, 3990, 4490]])
def test_an_inventory_lp_price_is_served_as_drawn_and_an_unconstrained_one_is_smoothed(
    ladder: list[int] | None,
) -> None:
    """Smoothing a price of the LP's mixture towards today's price would change the mixture's
    sell-through (the stock it plans to keep); the unconstrained optimum is smoothed."""
    g = Guardrails(ladder=ladder, max_change_per_day=1.0)
    eng = _engine(LogitDemand(a=1.0, b=4.0), _settings(exploration=False, smoothing_alpha=0.5))
    scarce = _product(list_price=3990, stock=5, season_end=T0 + timedelta(days=10), guardrails=g)
    free = _product(list_price=3990, guardrails=g)
    for d in (eng.decide(scarce, {}, context=Context(arrivals_per_hour=10.0, current_price=2990)),
              *eng.decide_page([(scarce, {}, Context(arrivals_per_hour=10.0, current_price=2990))])):
        smoothing = next(s for s in d.explanation.stages if s.stage == "smoothing")
        assert "inventory LP" in d.explanation.reason
        assert smoothing.before == smoothing.after == d.explanation.model_price
        assert smoothing.rule == "not smoothed: a price of the inventory LP mixture"
    d = eng.decide(free, {}, context=Context(current_price=2990))
    smoothing = next(s for s in d.explanation.stages if s.stage == "smoothing")
    assert smoothing.after < smoothing.before == d.explanation.model_price
