"""The scheduled retrain's comparison: both models scored on views neither has seen."""

from __future__ import annotations

import math

import numpy as np

from pricepilot.demand.challenge import auc_standard_error, compare_with_current
from pricepilot.demand.models import LGBMDemand
from pricepilot.demand.synthetic import synthetic_frame

FRAME = synthetic_frame(3_000, seed=4)
CUT = int(FRAME["ts"].iloc[999])
CURRENT = LGBMDemand().fit(FRAME.iloc[:1_000])


def test_a_recipe_with_more_data_beats_the_model_trained_on_less() -> None:
    c = compare_with_current(CURRENT, CUT, "lgbm", {}, FRAME)
    assert c.refusal is None and c.note.startswith("promoted:")
    assert c.rows == 1_000 and c.log_loss_new < c.log_loss_current
    assert c.auc_new < c.auc_current  # lower by less than its standard error: no refusal


def test_newer_views_that_ruin_the_ranking_keep_the_current_model() -> None:
    noisy = FRAME.copy()
    labels = noisy["y"].to_numpy().copy()
    labels[1_000:] = np.random.default_rng(0).permutation(labels[1_000:])
    noisy["y"] = labels
    c = compare_with_current(CURRENT, CUT, "lgbm", {}, noisy)
    assert c.refusal is not None and c.note.startswith("kept the current model")


def test_without_enough_new_outcomes_the_current_model_stays() -> None:
    assert "no views newer" in (compare_with_current(
        CURRENT, int(FRAME["ts"].max()), "lgbm", {}, FRAME).refusal or "")
    few = compare_with_current(CURRENT, int(FRAME["ts"].iloc[-30]), "lgbm", {}, FRAME)
    assert few.refusal is not None and "too few new outcomes" in few.refusal


def test_the_auc_standard_error_shrinks_with_the_rows() -> None:
    y_small = np.array([1] * 10 + [0] * 90)
    y_large = np.array([1] * 100 + [0] * 900)
    assert auc_standard_error(0.7, y_large) < auc_standard_error(0.7, y_small) < 0.1
    assert math.isnan(auc_standard_error(0.7, np.zeros(5, np.int64)))
