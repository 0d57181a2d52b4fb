from __future__ import annotations

import numpy as np
import pytest

from pricepilot.errors import ValidationError
from pricepilot.sim import Market, SimConfig, validate_config
from pricepilot.sim.competitors import CompetitorRules, Competitors
from pricepilot.sim.products import make_ladder
from pricepilot.sim.variants import DEFAULT_VARIANTS, VARIANTS, select_variants, variant_configs

SMALL = dict(days=5, shoppers=300, products=24, seed=4)


@pytest.mark.parametrize("field,value", [
    ("shape_share", (0.5, 0.5, 0.5, 0.0)), ("shape_share", (1.2, -0.2, 0.0, 0.0)),
    ("loyal_share", 1.5), ("ladder_share", -0.1), ("ladder_rungs", 1), ("ladder_step", 0.0),
    ("sensitivity_scale", 0.0), ("promo_depth", (0.4, 0.2)), ("promo_rate", 2.0),
    ("competitor_mode", "chaos"), ("index_volatility", -1.0), ("undercut_floor", 0.0),
])
def test_each_bad_variant_knob_is_refused_naming_its_field(field: str, value: object) -> None:
    with pytest.raises(ValidationError) as e:
        validate_config(SimConfig(**{field: value}))  # type: ignore[arg-type]
    assert e.value.field == field


@pytest.mark.parametrize("knobs", [
    dict(ladder_share=1.0), dict(loyal_share=0.5), dict(sensitivity_scale=1.6),
    dict(competitor_mode="index"), dict(promo_rate=0.08, promo_depth=(0.3, 0.5)),
])
def test_a_variant_knob_leaves_the_rest_of_the_market_as_it_was(knobs: dict[str, object]) -> None:
    base, other = Market(SimConfig(**SMALL)), Market(SimConfig(**SMALL, **knobs))  # type: ignore[arg-type]
    for f in ("cost", "list_price", "shape", "alpha", "beta", "popularity", "stock"):
        assert np.array_equal(getattr(base.catalog, f), getattr(other.catalog, f)), f
    for f in ("tier", "region", "gender", "affinity"):
        assert np.array_equal(getattr(base.shoppers, f), getattr(other.shoppers, f)), f


def test_one_shape_share_gives_every_product_that_shape() -> None:
    m = Market(SimConfig(**SMALL, shape_share=(0.0, 0.0, 0.0, 1.0)))  # type: ignore[arg-type]
    assert set(m.catalog.shape.tolist()) == {3}


def test_ladders_end_in_99_hold_the_list_price_and_sit_above_cost() -> None:
    m = Market(SimConfig(**SMALL, ladder_share=1.0))  # type: ignore[arg-type]
    for p in m.products():
        ladder = p.guardrails.ladder
        assert ladder is not None and p.list_price in ladder
        assert all(x % 100 == 99 and x > p.unit_cost for x in ladder)
        steps = np.diff(np.log(ladder))
        assert (steps > 0).all() and steps.max() < 0.25
    assert make_ladder(2999, 1500, 0.1, 5, 100) == (2499, 2699, 2999, 3299, 3599)


def test_the_history_of_a_ladder_product_is_on_its_ladder() -> None:
    from pricepilot.sim.history import historical_prices

    cfg = SimConfig(**SMALL, ladder_share=1.0)  # type: ignore[arg-type]
    m = Market(cfg)
    table = historical_prices(m.catalog, 30, cfg, seed=1)
    for j in range(m.catalog.n):
        assert set(table[:, j].tolist()) <= set(m.catalog.ladder(j))


def test_loyal_shoppers_are_less_sensitive_and_visit_more() -> None:
    base = Market(SimConfig(**SMALL)).shoppers
    mix = Market(SimConfig(**SMALL, loyal_share=0.5)).shoppers  # type: ignore[arg-type]
    assert mix.loyal is not None and 0.3 < mix.loyal.mean() < 0.7
    assert np.allclose(mix.sensitivity[mix.loyal], 0.4 * base.sensitivity[mix.loyal])
    assert np.allclose(mix.activity[mix.loyal], 2.0 * base.activity[mix.loyal])
    assert mix.tier[mix.loyal].mean() > mix.tier[~mix.loyal].mean()  # loyal lean gold


def test_index_competitors_move_together_and_promote_nothing() -> None:
    m = Market(SimConfig(**SMALL))
    rules = CompetitorRules(mode="index", index_volatility=0.05)
    comps = Competitors.create(3, m.catalog, np.random.default_rng(1), rules)
    ratios = []
    for _ in range(10):
        comps.step(m.catalog.list_price)
        ratios.append(comps.price[0] / comps.price[1])
        assert not comps.promo.any()
    # every competitor is its base times one index: their ratio stays fixed day to day
    assert np.allclose(ratios[0], ratios[-1], rtol=0.02)


def test_deep_promotions_go_deeper() -> None:
    m = Market(SimConfig(**SMALL))
    comps = Competitors.create(3, m.catalog, np.random.default_rng(1),
                               CompetitorRules(promo_rate=0.5, promo_depth=(0.3, 0.5)))
    comps.step(m.catalog.list_price)
    on = comps.promo[2]
    assert on.any()
    assert (comps.price[2][on] <= np.rint(comps._base[on] * 0.7) + 1).all()


def test_variants_are_selected_by_name_and_unknown_names_refused() -> None:
    assert [v.name for v in select_variants("all")] == list(DEFAULT_VARIANTS)
    assert [v.name for v in select_variants(" base , ladder-99")] == ["base", "ladder-99"]
    with pytest.raises(ValidationError):
        select_variants("base,nope")


def test_the_run_market_has_the_history_products_with_the_new_season() -> None:
    hist, run = variant_configs(VARIANTS["new-catalogue-hard"], seed=2, days=14, shoppers=200,
                                products=30)
    assert (run.start - hist.start).days == 0 and run.days == 14
    h, r = Market(hist), Market(run)
    assert np.array_equal(h.catalog.list_price, r.catalog.list_price)
    assert np.array_equal(h.catalog.alpha, r.catalog.alpha)
    ends = r.catalog.season_end_day[r.catalog.season_end_day >= 0]
    assert ends.size and (ends <= 14).all()
    assert ((r.catalog.stock >= 0) == (r.catalog.season_end_day >= 0)).all()
