"""B1 and B2 through the engine a shop gets: every shopper is a quote of pricepilot.open's Shop,
logged in the shop's decision log, and sales stay within the stock and the shared resources."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import pricepilot
from pricepilot.experiments.published_engine import (
    B1_LADDER,
    B2_CAPACITY,
    B2_SHOPPERS,
    B2_USAGE,
    ENGINE,
    PUBLISHED,
    REFERENCE,
    EngineRow,
    default_engine_horizons,
    engine_settings,
    notes,
    run_engine,
    run_engine_b1,
    run_engine_b2,
    side_by_side,
)
from pricepilot.pricing.published import run_published


def _shop_dir(root: Path) -> Path:
    (d,) = list(root.iterdir())
    return d


def test_b1_through_the_engine_quotes_every_shopper_through_the_shop_and_logs_each_decision(
        tmp_path: Path) -> None:
    er = run_engine_b1(0.5, 30, 1, seed=3, data_dir=tmp_path)
    (run,) = er.runs
    # 30 shoppers: too few to train a model, but the day-0 curve prices, explores and learns
    assert run.quotes == 30 and run.fallback_quotes == 0
    with pricepilot.open(engine_settings(_shop_dir(tmp_path))) as shop:
        decisions = shop.app.store.decisions_frame()
        views = shop.app.store.events_frame(types=["view"])
        (product,) = shop.app.store.list_products()
    assert len(decisions) == 30 and set(views["quote_id"]) == set(decisions["decision_id"])
    assert product.guardrails.ladder == B1_LADDER and product.stock == 15
    # the first shoppers are priced on the day-0 curve (a model trained on a few views may follow)
    assert set(decisions["price"]) <= set(B1_LADDER) and "prior" in set(decisions["model_version"])
    assert 0 < er.result.mean_ratio <= 1.0


def test_b1_through_the_engine_never_sells_more_than_the_stock_and_stops_once_sold_out() -> None:
    er = run_engine_b1(0.05, 200, 2, seed=1)  # 10 units; at the list price ~20 shoppers want one
    for run in er.runs:
        assert run.sold == [10] and run.quotes < 200 and run.sold_share == 1.0
    assert 0 < er.result.mean_ratio <= 1.0


@pytest.mark.slow
def test_b1_through_the_engine_trains_a_model_as_a_shop_would_and_then_explores_the_ladder() -> None:
    # the daily change limit lifted (the default 10 % holds a ladder of 12-17 % steps in place)
    er = run_engine_b1(0.5, 260, 1, seed=2, overrides={"pricing.max_change_per_day": 1})
    (run,) = er.runs
    assert run.models_promoted >= 1 and run.fallback_quotes == 0 and run.quotes <= 260
    assert run.sold[0] <= 130 and 0 < er.result.mean_ratio <= 1.0


def test_b2_through_the_engine_never_uses_more_of_a_shared_resource_than_there_is() -> None:
    er = run_engine_b2("linear", 6, 2, seed=4)
    for run in er.runs:
        used = B2_USAGE @ np.array(run.sold, dtype=np.float64)
        assert (used <= B2_CAPACITY * 6 + 1e-9).all() and run.sold_share <= 1.0
        assert run.quotes <= 6 * B2_SHOPPERS
    # the engine may serve ladder pairs outside the paper's five vectors: a wider optimum
    assert er.wider_opt is not None and er.wider_opt > 1.0
    assert 0 < er.result.mean_ratio <= er.wider_opt


def test_the_engine_runs_by_default_at_the_horizons_a_first_model_can_be_trained_in() -> None:
    assert default_engine_horizons("B1", [100, 500, 1000, 2000]) == [500, 1000]
    assert default_engine_horizons("B2", [500, 1000]) == [500]


def test_the_side_by_side_table_says_which_figure_is_which_implementations() -> None:
    reference = run_published(b1_seeds=3, b2_seeds=0, b1_horizons=[500], b2_horizons=[])
    engine = [EngineRow(bench="B1", setting="alpha=0.25", horizon=500, seeds=2, mean_pct=42.5,
                        ci_low=41.0, ci_high=44.0, fallback_pct=50.0, sold_pct=38.0,
                        own_opt_pct=None, seconds=12.0),
              EngineRow(bench="B2", setting="logit", horizon=500, seeds=1, mean_pct=90.0,
                        ci_low=90.0, ci_high=90.0, fallback_pct=10.0, sold_pct=95.0,
                        own_opt_pct=77.7, seconds=50.0)]
    table = side_by_side(reference, engine)
    header = table.splitlines()[0]
    assert REFERENCE in header and ENGINE in header and PUBLISHED in header
    b1 = next(line for line in table.splitlines() if line.startswith("| B1 | alpha=0.25 | 500 |"))
    assert "| 98.46 |" in b1 and "| 42.50 | [41.00, 44.00] |" in b1  # published, engine
    b2 = next(line for line in table.splitlines() if line.startswith("| B2 | logit | 500 |"))
    assert "| – | – | – | 95.40 |" in b2 and "| 77.70 |" in b2  # no reference run at B2 here
    text = notes(engine, {"pricing.max_change_per_day": "1"})
    assert "no shared-resource constraint" in text and "pricing.max_change_per_day=1" in text
    assert "max_change_per_day=1," in text  # the settings as the engine ran them
    assert "at most one rung a day" not in text
    # at the defaults the daily change limit (10 %) is narrower than the ladders' steps: the
    # engine moves one rung a day (the limit always allows the neighbouring rung)
    assert "at most one rung a day" in notes(engine)


def test_run_engine_makes_one_row_per_setting_with_labelled_progress() -> None:
    seen: list[str] = []
    rows = run_engine(1, 1, [20], [2], seed=5, progress=lambda label, n, total: seen.append(label))
    assert [(r.bench, r.setting, r.horizon) for r in rows] == [
        ("B1", "alpha=0.25", 20), ("B1", "alpha=0.5", 20),
        ("B2", "linear", 2), ("B2", "exponential", 2), ("B2", "logit", 2)]
    assert all(0 < r.mean_pct <= 100 for r in rows if r.bench == "B1")
    # 20 shoppers of B2: too few for a bound on realised revenue; the share is reported
    assert all(r.own_opt_pct is not None and r.own_opt_pct >= 0 for r in rows if r.bench == "B2")
    assert seen and all(label.startswith("engine ") for label in seen)
