from __future__ import annotations

import json
from pathlib import Path

import pytest

from pricepilot.config import load_settings
from pricepilot.experiments.robustness import (
    BASELINES,
    ORACLES,
    PRICEPILOT,
    CellResult,
    SuiteConfig,
    default_settings,
    run_suite,
)
from pricepilot.experiments.robustness_report import (
    aggregate,
    cells_frame,
    load_outputs,
    markdown,
    policies_frame,
    write_outputs,
)
from pricepilot.experiments.simulated_shop import shop_settings
from pricepilot.sim.variants import MarketVariant

SUITE = SuiteConfig(seeds=1, first_seed=3, days=2, shoppers=200, products=12)
# stock-free, so the myopic oracles are the ceilings of every policy on these views
TWO_WEEKS = MarketVariant("two-weeks", "two weeks of history, nothing stocked", 14,
                          dict(stock_limited_share=0.0))
NEW_SHOP = MarketVariant("new-shop", "no history, ladders, deep promotions", 0,
                         dict(stock_limited_share=0.0, ladder_share=1.0, promo_rate=0.08,
                              promo_depth=(0.3, 0.5)))
NON_PERSONAL = ("list price", "cost-plus 60%", "competitor match -1%", "Thompson ladder",
                "TS-update + LP")


@pytest.fixture(scope="module")
def cells() -> list[CellResult]:
    return run_suite([TWO_WEEKS, NEW_SHOP], SUITE)


def test_every_cell_has_a_row_for_pricepilot_every_baseline_and_both_oracles(
        cells: list[CellResult]) -> None:
    assert [(c.variant, c.seed) for c in cells] == [("two-weeks", 3), ("new-shop", 3)]
    for c in cells:
        assert list(c.table.index) == [PRICEPILOT, *BASELINES, *ORACLES]
        assert c.table["views"].nunique() == 1 and c.table["views"].iloc[0] > 0
        assert set(c.weekly["policy"]) == set(c.table.index)
        assert {"smoothing", "served"} <= set(c.stages["stage"]) or c.stats["fallbacks"]
        assert c.timings[f"run {PRICEPILOT}"] > 0 and c.timings["run TS-update + LP"] > 0


def test_no_policy_leaves_the_guardrails(cells: list[CellResult]) -> None:
    # the oracles are ceilings on a free grid: they ignore ladders, so only policies count
    for c in cells:
        v = c.table["guardrail_violations"].drop(list(ORACLES))
        assert (v == 0).all(), v


def test_the_oracles_earn_at_least_every_policy_on_the_same_views(cells: list[CellResult]) -> None:
    for c in cells:
        t = c.table["expected_profit"]
        assert (t[ORACLES[1]] >= t.drop(ORACLES[1]) * (1 - 1e-9)).all()
        for name in NON_PERSONAL:
            assert t[ORACLES[0]] >= t[name] * (1 - 1e-9), name
        assert c.table.loc[ORACLES[0], "pct_period_oracle"] == pytest.approx(1.0)


def test_a_new_shop_is_priced_without_history_and_trained_overnight(cells: list[CellResult]) -> None:
    new = cells[1]
    assert new.timings["train"] > 0  # the night after day 1
    assert new.stats["decisions"] == int(new.table.loc[PRICEPILOT, "views"])


def test_the_suite_summarises_and_writes_its_files(cells: list[CellResult], tmp_path: Path) -> None:
    pf = policies_frame(cells)
    assert set(pf["rank"].dropna()) <= set(range(1, 7))
    cf = cells_frame(cells)
    assert list(cf["variant"]) == ["two-weeks", "new-shop"]
    agg = aggregate(cells)
    assert agg["cells"] == 2 and set(agg["mean_pct_period_oracle"]) >= {PRICEPILOT, *BASELINES}
    assert "| two-weeks |" in markdown(cells)
    paths = write_outputs(cells, tmp_path / "out")
    for p in paths.values():
        assert p.exists() and p.stat().st_size > 0
    assert json.loads(paths["summary"].read_text())["variants"] == 2
    again = load_outputs([tmp_path / "out"])
    assert markdown(again) == markdown(cells)


def test_the_suite_and_the_demo_shop_price_with_pricepilots_defaults(tmp_path: Path) -> None:
    defaults = load_settings(None, env={}, overrides={}).pricing
    assert default_settings(tmp_path).pricing == defaults
    assert shop_settings(tmp_path / "shop").pricing == defaults
