"""Thin data: what training does with a few hundred views instead of failing on them.

A fresh shop has little history: a day of one product's traffic, a few hundred views, a handful
of purchases. The settings that suit a large history (LightGBM leaves of at least 50 rows, three
time folds, a held-out fifth for calibration) then either fail or learn nothing. Each rule here
is stated in terms of the data in hand, so it holds on any shop, and each is recorded (the
estimator's ``fit_notes_``, the manifest's ``training_notes``):

* **leaves scale with the rows** (:func:`leaf_size`): a leaf holds at least 1/20 of the rows
  fitted (so a tree can still split into a handful of leaves) and never fewer than
  :data:`MIN_LEAF_ROWS`, and never more than the configured size. From 1,500 rows on nothing
  changes; on 240 rows the 50-row leaf of the default would leave room for 4 leaves at most, and
  on 60 rows for none (a constant model, which the promotion rule then refuses as chance).
  :func:`leaf_count` caps the leaves at what that leaf size leaves room for.
* **boosting rounds scale with the rows** (:func:`boosting_rounds`): at most one round per
  :data:`MIN_LEAF_ROWS` rows fitted (at least 10). Each round fits its leaf values again on the
  same rows; 100 rounds on 240 rows fitted the noise, and the out-of-time log loss was worse than
  the constant purchase rate's (on ``synthetic_frame``, 4 seeds: +0.034 at 300 rows, -0.033
  with the cap; at 2,000 rows -0.043 and -0.045). From 1,000 rows on nothing changes.
* **calibration needs both classes in numbers** (:func:`calibration_shortfall`): at least
  :data:`MIN_CALIBRATION_CLASS_ROWS` purchases and as many non-purchases in the held-out part,
  the common 10-events-per-parameter rule of logistic fits (Peduzzi et al., 1996) applied to the
  sigmoid's slope. With fewer, the calibration is skipped with a warning and the model is
  fitted on every row instead of losing a fifth of a thin history to a map it cannot fit.
* **as many time folds as the data support**
  (:func:`~pricepilot.demand.evaluation.supported_folds`): every fold's training
  part needs :data:`MIN_FIT_ROWS` rows with both classes; the number of folds is lowered until
  they do, and with not even one the model is registered without out-of-time metrics.

>>> leaf_size(240, 50), leaf_count(240, 15, leaf_size(240, 50))
(12, 10)
>>> leaf_size(5_000, 50), leaf_count(5_000, 15, 50), boosting_rounds(240, 100)
(50, 15, 24)
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

MIN_FIT_ROWS = 20  # two leaves of the smallest leaf: the least a model can be fitted on
MIN_LEAF_ROWS = 10  # a purchase rate from fewer rows moves by 10 points with one purchase
LEAF_FRACTION = 20  # a leaf holds at least 1/20 of the rows fitted
MIN_CALIBRATION_CLASS_ROWS = 10  # events per parameter of the sigmoid's slope


def leaf_size(n_rows: int, configured: int) -> int:
    """The smallest leaf for ``n_rows`` fitted rows: ``configured`` on large data, smaller on
    thin data (1/20 of the rows, at least :data:`MIN_LEAF_ROWS`)."""
    return max(1, min(configured, max(MIN_LEAF_ROWS, n_rows // LEAF_FRACTION)))


def leaf_count(n_rows: int, configured: int, min_leaf: int) -> int:
    """The most leaves a tree gets: ``configured``, or the number of balanced splits the rows
    leave room for (each leaf at least ``min_leaf`` rows, half-full on average), at least 2."""
    return max(2, min(configured, n_rows // (2 * max(min_leaf, 1))))


def boosting_rounds(n_rows: int, configured: int) -> int:
    """Boosting rounds for ``n_rows`` fitted rows: ``configured``, or one per
    :data:`MIN_LEAF_ROWS` rows on thin data (at least 10)."""
    return max(1, min(configured, max(10, n_rows // MIN_LEAF_ROWS)))


def calibration_shortfall(y: npt.NDArray[np.int64]) -> str | None:
    """Why held-out labels ``y`` are too thin to calibrate on, or ``None`` when they are not."""
    purchases = int(np.count_nonzero(y))
    others = len(y) - purchases
    if min(purchases, others) >= MIN_CALIBRATION_CLASS_ROWS:
        return None
    return (f"the latest {len(y)} rows hold {purchases} purchases and {others} non-purchases; "
            f"calibration needs at least {MIN_CALIBRATION_CLASS_ROWS} of each")
