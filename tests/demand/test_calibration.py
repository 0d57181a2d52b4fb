from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pricepilot.demand.calibration import ISOTONIC_MIN_ROWS, Calibrator
from pricepilot.errors import ValidationError


def noisy(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    raw = rng.random(n)
    y = (rng.random(n) < raw**2).astype(np.int64)  # raw scores are miscalibrated (too high)
    return raw, y


@pytest.mark.parametrize("method", ["isotonic", "sigmoid"])
def test_calibration_fixes_a_miscalibrated_score(method):
    raw, y = noisy(5000)
    cal = Calibrator(method).fit(raw, y)
    test_raw, test_y = noisy(5000, seed=1)
    before = abs(test_raw.mean() - test_y.mean())
    after = abs(cal.apply(test_raw).mean() - test_y.mean())
    assert after < before / 5


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(20, 3000), method=st.sampled_from(["isotonic", "sigmoid", "auto"]))
def test_every_calibration_map_is_non_decreasing_and_inside_zero_one(seed, n, method):
    raw, y = noisy(n, seed)
    if len(np.unique(y)) < 2:
        return
    cal = Calibrator(method).fit(raw, y)
    grid = np.linspace(-0.5, 1.5, 401)
    out = cal.apply(grid)
    assert np.all(np.diff(out) >= 0)
    assert np.all((out > 0) & (out < 1))


def test_isotonic_blocks_without_purchases_do_not_predict_zero():
    raw = np.linspace(0, 1, 100)
    y = (raw > 0.5).astype(np.int64)
    out = Calibrator("isotonic").fit(raw, y).apply(np.array([0.0, 1.0]))
    assert 0.01 < out[0] < 0.05 and 0.95 < out[1] < 0.99  # 1/52 and 51/52


def test_auto_uses_isotonic_only_with_enough_rows():
    raw, y = noisy(ISOTONIC_MIN_ROWS)
    assert Calibrator().fit(raw, y).method_ == "isotonic"
    assert Calibrator().fit(raw[:-1], y[:-1]).method_ == "sigmoid"


def test_none_is_the_identity_inside_zero_one():
    out = Calibrator("none").fit(np.zeros(0), np.zeros(0, np.int64)).apply(np.array([0.0, 0.3, 1.0]))
    assert out[1] == 0.3 and 0 < out[0] < 1e-5 and 1 - 1e-5 < out[2] < 1


def test_an_unknown_method_is_refused():
    with pytest.raises(ValidationError, match="method"):
        Calibrator("beta").fit(np.array([0.1, 0.2]), np.array([0, 1]))  # type: ignore[arg-type]


@pytest.mark.parametrize("method", ["isotonic", "sigmoid", "auto"])
def test_held_out_rows_of_one_class_keep_the_raw_scores_and_say_why(method, caplog):
    c = Calibrator(method).fit(np.array([0.1, 0.2, 0.3]), np.array([0, 0, 0]))
    assert c.method_ == "none"
    assert c.fallback_ is not None and "both purchases and non-purchases" in c.fallback_
    assert c.apply(np.array([0.3]))[0] == pytest.approx(0.3)
    assert any(r.levelname == "WARNING" and "raw scores" in r.getMessage() for r in caplog.records)


def test_a_sigmoid_that_would_reverse_the_ranking_falls_back_to_the_raw_scores(caplog):
    raw = np.linspace(0.01, 0.99, 200)
    c = Calibrator("sigmoid").fit(raw, (raw < 0.5).astype(np.int64))
    assert c.method_ == "none"
    assert c.fallback_ is not None and "slope" in c.fallback_ and "200 held-out rows" in c.fallback_
    out = c.apply(raw)
    assert np.all(np.diff(out) >= 0)  # the ranking (and monotonicity in price) is kept
    assert "slope" in caplog.text


def test_a_calibration_that_fits_records_no_fallback():
    raw, y = noisy(400)
    c = Calibrator("sigmoid").fit(raw, y)
    assert c.method_ == "sigmoid" and c.fallback_ is None


def test_isotonic_calibration_keeps_a_slope_between_its_knots():
    # a step-shaped map would make demand flat in price inside each step (elasticity 0)
    raw, y = noisy(5000, seed=4)
    cal = Calibrator("isotonic").fit(raw, y)
    grid = np.linspace(cal.x_[0], cal.x_[-1], 500)
    assert np.mean(np.diff(cal.apply(grid)) > 0) > 0.95
