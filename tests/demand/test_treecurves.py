"""The serving fast paths give the same numbers as the model itself.

LightGBM: the compiled trees (``pricepilot.demand.treecurves``) against ``Booster.predict`` —
raw scores bit for bit, probabilities to the last bits of ``exp``. Logistic: the linear
decomposition (context once per product + price terms) against the full pipeline matrix.
"""

from __future__ import annotations

import pickle

import lightgbm as lgb
import numpy as np
import pytest

from pricepilot.demand.base import FEATURES
from pricepilot.demand.models import DemandEstimator, make_model, price_feature_arrays
from pricepilot.demand.synthetic import synthetic_frame
from pricepilot.demand.treecurves import compile_forest


def _contexts(frame, n):
    out = [{k: row[k] for k in FEATURES} for _, row in frame.head(n).iterrows()]
    # odd inputs: nothing known, unseen and missing categories, non-numeric and NaN numerics,
    # zero values (LightGBM reads |x| <= 1e-35 as 0 and routes zero by each split's rule)
    out += [{}, {"u_tier": "platinum", "p_category": None, "c_hour": "x", "p_product": "never-seen"},
            {"u_affinity": float("nan"), "u_views_7d": 0.0, "p_stock": 1e-40, "u_device": 3},
            {"p_product": None, "u_recency_days": -5.0, "p_conversion_7d": 0.0}]
    return out


def _queries(ctx, seed=0):
    rng = np.random.default_rng(seed)
    lists = [int(rng.integers(100, 20_000)) for _ in ctx]
    prices = [np.sort(rng.integers(1, 3 * lp, size=int(rng.integers(1, 30)))).astype(np.int64)
              for lp in lists]
    prices[0] = np.array([1, 99, 100, 101, lists[0]], dtype=np.int64)  # log price 0 at 100 minor
    comps = [None if i % 3 == 0 else int(lp * rng.uniform(0.5, 1.5)) for i, lp in enumerate(lists)]
    return prices, lists, comps


def _generic(model, ctx, prices, lists, comps):
    """The full-matrix path every family had before its fast path (calibrated)."""
    c = model.compiled_
    counts = [len(p) for p in prices]
    pv = price_feature_arrays(
        np.concatenate(prices).astype(np.float64),
        np.repeat(np.asarray(lists, dtype=np.float64), counts),
        np.repeat(np.array([np.nan if x is None else x for x in comps], dtype=np.float64), counts),
        model.exponent_,
    )
    X = c.matrix(c.context_rows(ctx), counts, pv)
    return X, model.calibrator_.apply(model._core_proba(X))


@pytest.fixture(scope="module")
def frame():
    return synthetic_frame(8_000, seed=5)


@pytest.mark.parametrize("params", [
    {"n_estimators": 40},
    {"n_estimators": 30, "num_leaves": 40},  # more than 16 leaves: 64-bit words
    {"n_estimators": 20, "calibration": "sigmoid"},
    {"n_estimators": 20, "features": ["u_tier", "p_category", "c_hour", "x_price_ratio_list",
                                      "x_log_price"]},
])
def test_compiled_lgbm_curves_equal_the_booster(frame, params):
    model = make_model("lgbm", **params).fit(frame)
    assert model._serving_forest() is not None
    ctx = _contexts(frame.tail(40), 40)
    prices, lists, comps = _queries(ctx)
    X, expected = _generic(model, ctx, prices, lists, comps)
    got = np.concatenate(model.predict_curves(ctx, prices, lists, comps))
    np.testing.assert_allclose(got, expected, rtol=1e-13, atol=1e-15)
    # raw scores: bit for bit
    forest, cols = model._serving_forest()
    c = model.compiled_
    rows = c.context_rows(ctx)
    if c.support is not None:
        rows = rows[:, c.support]
    counts = [len(p) for p in prices]
    reps = np.repeat(np.arange(len(ctx)), counts)
    price_values = {col: X[:, col] for col, _ in cols}
    raw = forest.raw_scores(rows, counts, price_values)
    np.testing.assert_array_equal(raw, model.booster_.predict(X, raw_score=True, num_threads=1))
    # one product at a time takes the scalar context path: same numbers
    for i in (0, 1, len(ctx) - 3, len(ctx) - 1):
        one = model.predict_curve(ctx[i], prices[i], lists[i], comps[i])
        np.testing.assert_allclose(one, expected[reps == i], rtol=1e-13, atol=1e-15)


def test_compiled_forest_routes_nan_and_zero_as_lightgbm_does():
    """Splits learnt with missing values (NaN default left/right) and zero-as-missing."""
    rng = np.random.default_rng(1)
    n = 4_000
    X = rng.normal(size=(n, 4))
    X[rng.random(n) < 0.2, 0] = np.nan
    X[rng.random(n) < 0.2, 1] = 0.0
    X[:, 3] = rng.integers(0, 6, n)
    X[rng.random(n) < 0.1, 3] = np.nan
    y = ((np.nan_to_num(X[:, 0], nan=1.0) + X[:, 1] - X[:, 2] + (X[:, 3] == 2)) > 0.3).astype(int)
    for zero_as_missing in (False, True):
        booster = lgb.train({"objective": "binary", "verbosity": -1, "num_leaves": 8,
                             "min_data_in_leaf": 20, "zero_as_missing": zero_as_missing,
                             "num_threads": 1, "min_data_per_group": 5, "cat_smooth": 1},
                            lgb.Dataset(X, label=y, categorical_feature=[3]), num_boost_round=30)
        forest = compile_forest(booster, [2])
        assert forest is not None
        probe = rng.normal(size=(300, 4))
        probe[::7, 0] = np.nan
        probe[::5, 1] = 0.0
        probe[::11, 2] = np.nan
        probe[::13, 2] = 0.0
        probe[:, 3] = rng.integers(-1, 9, 300)
        probe[::3, 3] = np.nan
        raw = forest.raw_scores(probe, [1] * len(probe), {2: probe[:, 2]})
        np.testing.assert_array_equal(raw, booster.predict(probe, raw_score=True, num_threads=1))


def test_unsupported_boosters_are_not_compiled():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(600, 3))
    y = rng.integers(0, 3, 600)
    multi = lgb.train({"objective": "multiclass", "num_class": 3, "verbosity": -1},
                      lgb.Dataset(X, label=y), num_boost_round=3)
    assert compile_forest(multi, [0]) is None
    reg = lgb.train({"objective": "regression", "verbosity": -1}, lgb.Dataset(X, label=X[:, 0]),
                    num_boost_round=3)
    assert compile_forest(reg, [0]) is None


def test_model_without_a_compiled_forest_serves_from_the_booster(frame, monkeypatch):
    model = make_model("lgbm", n_estimators=20).fit(frame)
    ctx = _contexts(frame.tail(5), 5)
    prices, lists, comps = _queries(ctx, seed=4)
    fast = model.predict_curves(ctx, prices, lists, comps)
    monkeypatch.setattr("pricepilot.demand.models.compile_forest", lambda *a: None)
    model.__dict__.pop("_serving_forest_")
    slow = model.predict_curves(ctx, prices, lists, comps)
    assert model._serving_forest() is None
    for a, b in zip(fast, slow, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("params", [{}, {"select_k": 15}, {"C": 0.05}])
def test_logistic_linear_curves_equal_the_pipeline(frame, params):
    model = make_model("logistic", **params).fit(frame)
    ctx = _contexts(frame.tail(30), 30)
    prices, lists, comps = _queries(ctx, seed=2)
    _, expected = _generic(model, ctx, prices, lists, comps)
    got = np.concatenate(model.predict_curves(ctx, prices, lists, comps))
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-14)
    # and against scikit-learn's own pipeline on the equivalent frame rows
    one = model.predict_curve(ctx[0], prices[0], lists[0], comps[0])
    np.testing.assert_allclose(one, got[: len(prices[0])], rtol=1e-12, atol=1e-14)


def test_serving_caches_are_not_pickled_and_a_refit_drops_them(frame):
    model = make_model("lgbm", n_estimators=10).fit(frame)
    ctx = _contexts(frame.tail(3), 3)
    prices, lists, comps = _queries(ctx, seed=6)
    before = model.predict_curves(ctx, prices, lists, comps)
    assert "_serving_forest_" in model.__dict__
    clone = pickle.loads(pickle.dumps(model))
    assert not any(k.startswith("_serving") for k in clone.__dict__)
    for a, b in zip(before, clone.predict_curves(ctx, prices, lists, comps), strict=True):
        np.testing.assert_array_equal(a, b)
    model.fit(synthetic_frame(3_000, seed=9))
    assert "_serving_forest_" not in model.__dict__
    after = model.predict_curves(ctx, prices, lists, comps)
    X, expected = _generic(model, ctx, prices, lists, comps)
    np.testing.assert_allclose(np.concatenate(after), expected, rtol=1e-13, atol=1e-15)
    assert isinstance(model, DemandEstimator)
