from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.metrics import log_loss, roc_auc_score

from pricepilot.demand.base import FEATURES, DemandModel, price_features
from pricepilot.demand.evaluation import expected_calibration_error
from pricepilot.demand.models import (
    ForestDemand,
    LGBMDemand,
    LogisticDemand,
    make_model,
    price_feature_arrays,
)
from pricepilot.demand.synthetic import CATEGORIES, TIERS, synthetic_frame
from pricepilot.errors import ValidationError

FAMILIES = ["logistic", "forest", "lgbm"]


def frame_for_curve(features: dict[str, object], prices: np.ndarray, list_price: int,
                    competitor: int | None) -> pd.DataFrame:
    """The frame rows a curve stands for: the same context, one row per candidate price."""
    rows = {}
    for name, kind in FEATURES.items():
        value = features.get(name)
        if kind == "numeric":  # documented: a missing or non-numeric value is NaN
            rows[name] = pd.to_numeric(pd.Series([value] * len(prices), dtype=object), errors="coerce")
        else:
            rows[name] = [value] * len(prices)
    frame = pd.DataFrame(rows)
    for name, values in price_features(prices, list_price, competitor).items():
        frame[name] = values
    return frame


def contexts(test: pd.DataFrame, n: int) -> list[dict[str, object]]:
    return [{k: row[k] for k in FEATURES} for _, row in test.head(n).iterrows()]


@pytest.mark.parametrize("family", FAMILIES)
def test_each_family_recovers_the_known_demand_better_than_a_constant(family, fitted, frames):
    _, test = frames
    p = fitted[family].predict_proba(test)
    auc, true_auc = roc_auc_score(test["y"], p), roc_auc_score(test["y"], test["p_true"])
    assert auc > true_auc - 0.04
    constant = log_loss(test["y"], np.full(len(test), frames[0]["y"].mean()))
    assert log_loss(test["y"], p) < constant - 0.03
    # close to the truth itself, not only to the labels
    assert np.corrcoef(p, test["p_true"])[0, 1] > 0.85


@pytest.mark.parametrize("family", FAMILIES)
def test_calibration_error_is_small_on_later_held_out_data(family, fitted, frames):
    _, test = frames
    assert expected_calibration_error(test["y"], fitted[family].predict_proba(test)) < 0.05


@pytest.mark.parametrize("family", FAMILIES)
def test_predict_curve_equals_predict_proba_on_the_equivalent_frame_rows(family, fitted, frames):
    model = fitted[family]
    prices = np.arange(600, 1500, 45, dtype=np.int64)
    cases = contexts(frames[1], 5) + [{}, {"u_tier": "platinum", "p_category": None, "c_hour": "x"}]
    for features in cases:
        for comp in (None, 1100):
            curve = model.predict_curve(features, prices, 999, comp)
            expected = model.predict_proba(frame_for_curve(features, prices, 999, comp))
            np.testing.assert_allclose(curve, expected, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("family", FAMILIES)
def test_predict_curves_equals_repeated_predict_curve(family, fitted, frames):
    model = fitted[family]
    feats = contexts(frames[1], 7)
    rng = np.random.default_rng(3)
    prices = [np.sort(rng.integers(200, 12_000, size=k)).astype(np.int64) for k in (1, 5, 20, 20, 3, 9, 2)]
    lists = [int(rng.integers(500, 10_000)) for _ in feats]
    comps: list[int | None] = [None, 900, None, 5000, 1, None, 12_000]
    batch = model.predict_curves(feats, prices, lists, comps)
    assert [len(b) for b in batch] == [len(p) for p in prices]
    for f, p, lp, cp, got in zip(feats, prices, lists, comps, batch):
        np.testing.assert_allclose(got, model.predict_curve(f, p, lp, cp), rtol=1e-12)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    tier=st.sampled_from([*TIERS, None, "new-tier"]),
    category=st.sampled_from([*CATEGORIES, None]),
    affinity=st.one_of(st.none(), st.floats(0, 1)),
    hour=st.integers(0, 23),
    list_price=st.integers(100, 50_000),
    competitor=st.one_of(st.none(), st.integers(50, 60_000)),
    low=st.floats(0.2, 1.0),
    span=st.floats(0.01, 2.0),
)
def test_lgbm_and_forest_curves_never_rise_with_price(fitted, tier, category, affinity, hour,
                                                      list_price, competitor, low, span):
    features = {"u_tier": tier, "p_category": category, "u_affinity": affinity, "c_hour": hour}
    prices = np.unique(np.round(np.linspace(low, low + span, 25) * list_price).astype(np.int64))
    for family in ("lgbm", "forest"):
        curve = fitted[family].predict_curve(features, prices, list_price, competitor)
        assert np.all(np.diff(curve) <= 1e-12), (family, curve)
        assert np.all((curve > 0) & (curve < 1))


def test_lgbm_demand_falls_with_price_like_the_truth(fitted):
    curve = fitted["lgbm"].predict_curve({"u_tier": "bronze", "p_category": "shoes"},
                                         np.array([700, 1000, 1300]), 1000)
    assert curve[0] > curve[1] > curve[2]


def test_models_satisfy_the_demand_model_protocol_and_start_unregistered(fitted):
    for model in fitted.values():
        assert isinstance(model, DemandModel)
        assert model.version == "unregistered"


def test_row_wise_price_features_equal_the_contract_function():
    prices = np.array([1, 99, 1000, 12345], dtype=np.int64)
    for comp in (None, 1100):
        ref = price_features(prices, 999, comp)
        got = price_feature_arrays(prices.astype(float), np.full(4, 999.0),
                                   np.full(4, np.nan if comp is None else float(comp)))
        for name in ref:
            np.testing.assert_allclose(got[name], ref[name], equal_nan=True)


def test_the_log_price_uses_the_training_currency_exponent():
    frame = synthetic_frame(3_000, seed=5, currency="JPY")
    frame["x_log_price"] = np.log(frame["price"].to_numpy(float))  # JPY has no minor units
    model = LogisticDemand().fit(frame)
    assert model.exponent_ == 0
    prices = np.array([900, 1000], dtype=np.int64)
    rows = frame_for_curve({}, prices, 1000, None)
    rows["x_log_price"] = np.log(prices.astype(float))
    np.testing.assert_allclose(model.predict_curve({}, prices, 1000), model.predict_proba(rows))


def test_feature_selection_keeps_the_serving_path_exact(frames):
    train, test = frames
    model = LogisticDemand(select_k=12).fit(train)
    assert model.compiled_.support is not None and model.compiled_.support.sum() == 12
    prices = np.array([800, 1000, 1200], dtype=np.int64)
    f = contexts(test, 1)[0]
    np.testing.assert_allclose(model.predict_curve(f, prices, 1000, 950),
                               model.predict_proba(frame_for_curve(f, prices, 1000, 950)), rtol=1e-9)


@pytest.mark.parametrize("method", ["sigmoid", "isotonic", "none"])
def test_every_calibration_method_keeps_lgbm_non_increasing(frames, method):
    model = LGBMDemand(n_estimators=20, calibration=method).fit(frames[0].iloc[:4000])
    curve = model.predict_curve({"u_tier": "gold"}, np.arange(500, 2000, 50), 1000, 1000)
    assert np.all(np.diff(curve) <= 1e-12)
    assert model.calibrator_.method_ == method


def test_auto_calibration_is_isotonic_only_with_enough_held_out_rows(frames):
    assert LogisticDemand().fit(frames[0].iloc[:3000]).calibrator_.method_ == "sigmoid"
    assert LogisticDemand().fit(frames[0]).calibrator_.method_ == "isotonic"


@pytest.mark.parametrize("name", ["gender", "customer_age", "Ethnicity"])
def test_a_protected_attribute_is_refused_as_a_feature(frames, name):
    frame = frames[0].iloc[:500].copy()
    frame[name] = "x"
    with pytest.raises(ValidationError, match="protected"):
        LogisticDemand(features=[*FEATURES, name]).fit(frame)


def test_the_settings_protected_list_is_the_one_enforced(frames):
    frame = frames[0].iloc[:500].copy()
    frame["loyalty"] = 1.0
    with pytest.raises(ValidationError, match="protected"):
        LogisticDemand(features=["x_log_price", "loyalty"], protected_attributes=["loyalty"]).fit(frame)
    model = LogisticDemand(features=["x_log_price", "loyalty"]).fit(frame)
    assert model.feature_names_ == ["x_log_price", "loyalty"]


def test_an_extra_text_feature_is_encoded_as_a_category(frames):
    frame = frames[0].iloc[:2000].copy()
    frame["brand"] = np.where(frame["y"] == 1, "acme", "other")
    model = LGBMDemand(n_estimators=10, features=["x_price_ratio_list", "brand"]).fit(frame)
    assert model.categorical_ == ["brand"]
    curve = model.predict_curve({"brand": "acme"}, np.array([900, 1000]), 1000)
    other = model.predict_curve({"brand": "other"}, np.array([900, 1000]), 1000)
    assert np.all(curve > other)


def _frame(n=500):
    return synthetic_frame(n, seed=2)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda f: f.drop(columns=["ts"]), "ts"),
        (lambda f: f.drop(columns=["y"]), "y"),
        (lambda f: f.assign(y=2), "y"),
        (lambda f: f.assign(y=np.nan), "y"),
        (lambda f: f.assign(y=0), "y"),
        (lambda f: f.drop(columns=["u_tier"]), None),
        (lambda f: f.head(10), None),
    ],
)
def test_a_bad_training_frame_is_refused_naming_the_problem(change, field):
    with pytest.raises(ValidationError) as e:
        LogisticDemand().fit(change(_frame()))
    assert e.value.field == field


def test_purchases_only_in_the_latest_rows_skip_calibration_and_fit_every_row():
    frame = _frame()
    frame["y"] = 0
    frame.loc[frame.index[-5:], "y"] = 1  # purchases only where calibration would hold out
    m = LogisticDemand().fit(frame)
    assert m.calibrator_.method_ == "none" and "skipped" in (m.calibrator_.fallback_ or "")
    assert m.fit_notes_ and "calibration skipped" in m.fit_notes_[0]
    frame.loc[frame.index[-40:], "y"] = 1  # enough of each held out, but none before them
    m = LogisticDemand().fit(frame)
    assert "one class only" in (m.calibrator_.fallback_ or "")


def test_a_frame_without_purchases_is_refused_saying_so():
    frame = _frame().assign(y=0)
    with pytest.raises(ValidationError, match="hold no purchase"):
        LGBMDemand().fit(frame)


@pytest.mark.parametrize(
    ("make", "field"),
    [
        (lambda: LogisticDemand(C=0), "C"),
        (lambda: LogisticDemand(calibration_fraction=1.0), "calibration_fraction"),
        (lambda: LogisticDemand(calibration="beta"), "calibration"),  # type: ignore[arg-type]
        (lambda: LogisticDemand(select_k=0), "select_k"),
        (lambda: LogisticDemand(select_k=10_000), "select_k"),
        (lambda: LogisticDemand(features=[]), "features"),
        (lambda: LogisticDemand(features=["u_tier", "u_tier", "x_log_price"]), "features"),
        (lambda: LogisticDemand(features=["u_tier", "c_hour"]), "features"),
        (lambda: ForestDemand(n_estimators=0), "n_estimators"),
        (lambda: ForestDemand(min_samples_leaf=0), "min_samples_leaf"),
        (lambda: LGBMDemand(learning_rate=0), "learning_rate"),
        (lambda: LGBMDemand(num_leaves=1), "num_leaves"),
        (lambda: LGBMDemand(feature_fraction=0), "feature_fraction"),
    ],
)
def test_bad_model_settings_are_refused_at_fit(make, field):
    with pytest.raises(ValidationError) as e:
        make().fit(_frame())
    assert e.value.field == field


def test_selection_that_drops_every_price_feature_is_refused():
    frame = _frame(2000)
    frame["leak"] = frame["y"].astype(float)
    with pytest.raises(ValidationError, match="price feature"):
        LogisticDemand(features=["leak", "x_log_price"], select_k=1).fit(frame)


def test_unknown_family_and_parameter_are_refused():
    with pytest.raises(ValidationError, match="family"):
        make_model("svm")
    with pytest.raises(ValidationError, match="params"):
        make_model("lgbm", n_trees=3)


def test_an_unfitted_model_refuses_to_predict():
    with pytest.raises(ValidationError, match="not fitted"):
        LGBMDemand().predict_curve({}, np.array([100]), 100)


def test_bad_queries_are_refused(fitted):
    model = fitted["logistic"]
    with pytest.raises(ValidationError, match="list_price"):
        model.predict_curve({}, np.array([100]), 0)
    with pytest.raises(ValidationError, match="length"):
        model.predict_curves([{}], [np.array([100]), np.array([1])], [100], [None])
    with pytest.raises(ValidationError, match="missing feature"):
        model.predict_proba(pd.DataFrame({"u_tier": ["gold"]}))


def test_a_curve_over_no_prices_is_empty(fitted):
    assert fitted["lgbm"].predict_curve({}, np.array([], dtype=np.int64), 1000).shape == (0,)
    assert not math.isnan(float(fitted["lgbm"].predict_curve({}, np.array([1]), 1000)[0]))
