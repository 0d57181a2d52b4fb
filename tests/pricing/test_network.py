from __future__ import annotations

import numpy as np
import pytest

from pricepilot.pricing.network import b1_opt, b2_demand, b2_opt, run_b1, run_b2


def test_the_lp_optima_match_the_published_values() -> None:
    assert b1_opt(0.25) == pytest.approx(10.10) and b1_opt(0.5) == pytest.approx(17.95)
    assert b2_opt("linear") == pytest.approx(6.667, abs=1e-3)
    assert b2_opt("exponential") == pytest.approx(4.598, abs=1e-3)
    assert b2_opt("logit") == pytest.approx(3.768, abs=1e-3)


def test_ts_update_on_b1_reaches_a_sane_share_of_the_optimum_at_t500() -> None:
    # published TS-update at T=500: 98.46% (alpha .25), 97.32% (alpha .5)
    for alpha in (0.25, 0.5):
        r = run_b1(alpha, horizon=500, seeds=40, seed=7)
        assert r.mean_ratio > 0.96
        lo, hi = r.ci95()
        assert lo < r.mean_ratio < hi


def test_ts_update_beats_ts_fixed_on_b1() -> None:
    upd = run_b1(0.25, horizon=500, seeds=60, seed=3).mean_ratio
    fixed = run_b1(0.25, horizon=500, seeds=60, seed=3, update=False).mean_ratio
    assert upd > fixed


def test_ts_update_on_b2_linear_demand_is_near_the_optimum() -> None:
    r = run_b2("linear", horizon=150, seeds=12, seed=1)
    assert 0.85 < r.mean_ratio <= 1.05


def test_b2_demand_shapes_are_the_published_ones_and_unknown_shapes_are_refused() -> None:
    lin = b2_demand("linear")
    assert lin[0].tolist() == [6.5, 4.5] and lin[4].tolist() == [2.0, 0.0]  # negatives clipped
    with pytest.raises(ValueError):
        b2_demand("cubic")
    assert np.all(b2_demand("logit") > 0)


def test_b2_gives_identical_results_with_highs_and_the_batched_exact_solver() -> None:
    vertex = run_b2("exponential", horizon=40, seeds=4, seed=5)
    highs = run_b2("exponential", horizon=40, seeds=4, seed=5, solver="highs")
    assert vertex.ratios.tolist() == pytest.approx(highs.ratios.tolist(), abs=1e-9)
    with pytest.raises(ValueError):
        run_b2("linear", horizon=2, seeds=1, solver="simplex")
