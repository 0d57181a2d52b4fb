from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pricepilot.demand.base import FEATURES
from pricepilot.demand.evaluation import (
    bins,
    classification_metrics,
    cross_validate,
    elasticity_by_category,
    expected_calibration_error,
    grid_points,
    grid_search,
    time_folds,
    with_price_scaled,
)
from pricepilot.demand.models import LGBMDemand
from pricepilot.demand.synthetic import CATEGORY_SLOPE, TIER_SLOPE, synthetic_frame
from pricepilot.errors import ValidationError


@settings(max_examples=100, deadline=None)
@given(ts=st.lists(st.integers(0, 40), min_size=8, max_size=200), n_splits=st.integers(1, 4))
def test_time_folds_never_test_on_the_past(ts, n_splits):
    t = np.array(ts)
    try:
        folds = time_folds(t, n_splits)
    except ValidationError:
        assert len(np.unique(t)) < n_splits + 1  # refused only when it cannot be cut
        return
    assert len(folds) == n_splits
    previous_test_start = -1
    for train, test in folds:
        assert t[train].max() < t[test].min()
        assert len(np.intersect1d(train, test)) == 0
        assert t[test].min() > previous_test_start
        previous_test_start = t[test].min()
    # the first training block starts at the beginning; test blocks reach the end
    assert t[folds[0][0]].min() == t.min() and t[folds[-1][1]].max() == t.max()


def test_time_folds_expand_the_training_window():
    folds = time_folds(np.arange(100), 4)
    assert [len(tr) for tr, _ in folds] == [20, 40, 60, 80]
    assert [len(te) for _, te in folds] == [20, 20, 20, 20]


def test_too_few_timestamps_for_the_folds_are_refused():
    with pytest.raises(ValidationError, match="distinct"):
        time_folds(np.array([1, 1, 1, 1]), 3)
    with pytest.raises(ValidationError, match="n_splits"):
        time_folds(np.arange(10), 0)


def test_metrics_of_a_perfectly_calibrated_predictor():
    rng = np.random.default_rng(0)
    p = rng.random(200_000)
    y = (rng.random(len(p)) < p).astype(int)
    m = classification_metrics(y, p)
    assert m["ece"] < 0.01
    assert m["log_loss"] < m["log_loss_constant"]
    assert 0.8 < m["auc"] < 0.86  # AUC of a uniform calibrated score is 5/6
    assert abs(m["brier"] - 1 / 6) < 0.005  # E[p(1-p)] = 1/6


def test_expected_calibration_error_sees_a_biased_predictor():
    y = np.array([0, 1] * 500)
    assert expected_calibration_error(y, np.full(1000, 0.8)) == pytest.approx(0.3)


def test_calibration_table_bins_cover_every_row_in_order():
    rng = np.random.default_rng(1)
    p = rng.random(1003)
    y = (rng.random(1003) < p).astype(int)
    table = bins(y, p, 10)
    assert sum(b.rows for b in table) == 1003
    assert all(a.upper <= b.lower for a, b in zip(table, table[1:]))
    assert bins([], [], 10) == []


def test_cross_validation_tests_each_fold_after_its_training_data():
    frame = synthetic_frame(3000, seed=3)
    ev = cross_validate("logistic", {}, frame, n_splits=3)
    assert [f.fold for f in ev.folds] == [0, 1, 2]
    for f in ev.folds:
        assert f.train_ts_max < f.test_ts_min
        assert f.metrics["log_loss"] < f.metrics["log_loss_constant"]
    assert ev.calibration and ev.elasticity


def test_implied_elasticity_is_negative_and_near_the_truth():
    frame = synthetic_frame(12_000, seed=8)
    model = LGBMDemand(n_estimators=60).fit(frame.iloc[:9000])
    test = frame.iloc[9000:]
    e = elasticity_by_category(model, test)
    # truth: d ln P / d ln p = slope * ratio * (1 - P); slopes -2..-8, P about 0.4: about -3
    truth = np.mean([TIER_SLOPE["silver"] + s for s in CATEGORY_SLOPE.values()]) * (1 - test["y"].mean())
    for category in CATEGORY_SLOPE:
        assert e[category] < -0.5
    assert truth * 1.6 < e["(all)"] < truth * 0.5


def test_scaling_prices_recomputes_every_price_feature():
    frame = synthetic_frame(50, seed=2)
    up = with_price_scaled(frame, 1.1)
    np.testing.assert_allclose(up["x_price_ratio_list"], frame["x_price_ratio_list"] * 1.1)
    np.testing.assert_allclose(up["x_log_price"], frame["x_log_price"] + np.log(1.1))
    np.testing.assert_allclose(up["x_price_ratio_comp"], frame["x_price_ratio_comp"] * 1.1, equal_nan=True)


def test_elasticity_needs_the_price_columns():
    frame = synthetic_frame(100).drop(columns=["list_price"])
    with pytest.raises(ValidationError, match="list_price"):
        elasticity_by_category(object(), frame)  # type: ignore[arg-type]


def test_grid_search_returns_the_point_with_the_lowest_log_loss():
    frame = synthetic_frame(2500, seed=6)
    # The synthetic truth has no product effect: 200 one-hot product levels of pure noise on
    # ~1,250 rows would make any C look worse than it is, so this compares C without them.
    no_product = [f for f in FEATURES if f != "p_product"]
    best, scores = grid_search("logistic", frame, grid={"C": [1e-4, 1.0]}, n_splits=2,
                               base_params={"features": no_product})
    assert len(scores) == 2
    assert best == min(scores, key=lambda s: s[1])[0]
    assert best["C"] == 1.0  # C=1e-4 all but removes the price effect


def test_grid_points_is_the_cartesian_product():
    assert grid_points({"a": [1, 2], "b": ["x"]}) == [{"a": 1, "b": "x"}, {"a": 2, "b": "x"}]
