"""Does a newly trained demand model beat the current one? Both scored on the same unseen views.

A scheduled retrain (:mod:`pricepilot.serving.retraining`) promotes a new version only when it
wins this comparison. Comparing the two manifests' time-CV metrics would compare scores on
different data (a week with more purchases has a higher log loss whatever the model), so both
models are scored on the same rows, and on rows neither has seen:

* the **new rows** are the views after the current model's training data (its manifest's
  ``data.ts_max``); the current model never saw them;
* they are cut in two halves by time; the **challenger** is the new recipe (family and settings,
  thin-data scaling included) fitted on everything before the second half, i.e. on all the
  current model's data *and* the first half of the new rows, so it is scored out of time too and
  the comparison measures what retraining adds: newer data and the current recipe;
* the **verdict**: promote when, on the second half, the challenger's log loss is lower *and*
  its AUC is not worse, i.e. not lower than the current model's by more than that AUC's
  standard error (Hanley & McNeil, 1982). Log loss is the measure of the probabilities the
  price optimiser multiplies by the margin (level and ranking both), so it decides; AUC guards
  the ranking across shoppers and prices, so a model that wins on log loss only by matching
  this week's purchase rate while ranking clearly worse is not promoted (the live posterior
  corrects the level anyway). A drop within the AUC's noise is no evidence of a worse ranking:
  with a strict "not lower", a model trained on twice the rows with a log loss 0.02 lower was
  refused for an AUC 0.004 lower on 1,000 views, where the standard error is about 0.017.

The version promoted is the recipe refitted on every row, which has seen even more. With too
few new outcomes to tell (fewer than :data:`~pricepilot.demand.thin.MIN_CALIBRATION_CLASS_ROWS`
purchases or non-purchases in the second half) the current model stays: the new rows keep
accumulating (its data end does not move), so the comparison is made once they suffice.

>>> from pricepilot.demand.models import LogisticDemand
>>> from pricepilot.demand.synthetic import synthetic_frame
>>> frame = synthetic_frame(3_000, seed=4)
>>> old = LogisticDemand().fit(frame.iloc[:1_000])
>>> c = compare_with_current(old, int(frame["ts"].iloc[999]), "logistic", {}, frame)
>>> c.rows > 0, c.refusal is None or "log loss" in c.refusal
(True, True)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import msgspec
import numpy as np
import numpy.typing as npt
import pandas as pd

from pricepilot.demand.evaluation import classification_metrics
from pricepilot.demand.models import DemandEstimator, make_model
from pricepilot.demand.thin import MIN_CALIBRATION_CLASS_ROWS
from pricepilot.errors import PricepilotError


class Challenge(msgspec.Struct, frozen=True, kw_only=True):
    """The comparison: why the new version must not be promoted (``None``: it may), what it was
    decided on, and the two models' scores on the same rows (NaN when not scored)."""

    refusal: str | None
    note: str
    rows: int = 0
    log_loss_new: float = math.nan
    log_loss_current: float = math.nan
    auc_new: float = math.nan
    auc_current: float = math.nan


def auc_standard_error(auc: float, y: npt.NDArray[np.int64]) -> float:
    """Hanley & McNeil's (1982) standard error of an AUC on labels ``y``."""
    n1 = int(y.sum())
    n0 = len(y) - n1
    if n1 == 0 or n0 == 0 or math.isnan(auc):
        return math.nan
    q1, q2 = auc / (2 - auc), 2 * auc * auc / (1 + auc)
    var = (auc * (1 - auc) + (n1 - 1) * (q1 - auc * auc) + (n0 - 1) * (q2 - auc * auc)) / (n1 * n0)
    return math.sqrt(max(var, 0.0))


def compare_with_current(current: DemandEstimator, current_ts_max: int | None, family: str,
                         params: Mapping[str, Any], frame: pd.DataFrame) -> Challenge:
    """Score the recipe ``family(**params)`` against ``current`` on the views of ``frame`` after
    ``current_ts_max`` (see the module); ``frame`` is the new version's training frame."""
    ts = frame["ts"].to_numpy(np.int64)
    new = ts > current_ts_max if current_ts_max is not None else np.ones(len(ts), bool)
    if not new.any():
        return Challenge(refusal="no views newer than the current model's training data",
                         note="kept the current model: no views newer than its training data")
    distinct = np.unique(ts[new])
    cut = distinct[len(distinct) // 2]  # the second half starts here (at a distinct instant)
    test = ts >= cut
    y = frame["y"].to_numpy(np.int64)[test]
    purchases = int(y.sum())
    if min(purchases, len(y) - purchases) < MIN_CALIBRATION_CLASS_ROWS:
        why = (f"too few new outcomes to compare: the latest {len(y)} unseen views hold "
               f"{purchases} purchases (at least {MIN_CALIBRATION_CLASS_ROWS} of each class "
               "are needed)")
        return Challenge(refusal=why, note=f"kept the current model: {why}", rows=len(y))
    held_out = frame.loc[test]
    try:
        challenger = make_model(family, **params).fit(frame.loc[~test])
        p_new = challenger.predict_proba(held_out)
    except PricepilotError as e:  # the rows before the cut cannot be fitted: nothing to judge
        why = f"the new settings could not be fitted on the rows before the latest ones ({e})"
        return Challenge(refusal=why, note=f"kept the current model: {why}", rows=len(y))
    new_m = classification_metrics(y, p_new)
    try:
        cur_m = classification_metrics(y, current.predict_proba(held_out))
    except PricepilotError as e:  # e.g. the current model reads a feature no longer built
        return Challenge(refusal=None, rows=len(y), log_loss_new=new_m["log_loss"],
                         auc_new=new_m["auc"],
                         note=f"promoted: the current model cannot score the new views ({e})")

    def verdict(refusal: str | None, note: str) -> Challenge:
        return Challenge(refusal=refusal, note=note, rows=len(y), log_loss_new=new_m["log_loss"],
                         log_loss_current=cur_m["log_loss"], auc_new=new_m["auc"],
                         auc_current=cur_m["auc"])

    said = (f"on the latest {len(y)} views neither model saw, log loss {new_m['log_loss']:.4f} "
            f"vs {cur_m['log_loss']:.4f} (current), AUC {new_m['auc']:.3f} vs "
            f"{cur_m['auc']:.3f}")
    if not new_m["log_loss"] < cur_m["log_loss"]:
        return verdict(f"held-out log loss not lower than the current model's: {said}",
                       f"kept the current model: {said}")
    se = auc_standard_error(cur_m["auc"], y)
    if new_m["auc"] < cur_m["auc"] - se:
        return verdict(f"held-out AUC lower than the current model's by more than its standard "
                       f"error {se:.3f}: {said}", f"kept the current model: {said}")
    return verdict(None, f"promoted: {said}")
