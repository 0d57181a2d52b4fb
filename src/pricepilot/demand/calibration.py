"""Probability calibration on held-out data, applied with plain numpy at serving time.

Isotonic calibration is fitted with scikit-learn's :class:`~sklearn.isotonic.IsotonicRegression`
and kept as its threshold arrays, so serving is one ``np.interp`` (what the fitted regressor's
``predict`` computes), with each block's level add-one smoothed so no block predicts exactly 0
or 1. Both methods are non-decreasing maps of the raw probability,
so a model that is non-increasing in price stays so after calibration.

>>> import numpy as np
>>> c = Calibrator("isotonic").fit(np.array([0.1, 0.2, 0.8, 0.9]), np.array([0, 0, 1, 1]))
>>> c.apply(np.array([0.15, 0.85])).round(3).tolist()  # add-one smoothed: 1/4 and 3/4
[0.25, 0.75]
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy.special import expit
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

from pricepilot.errors import ValidationError

Method = Literal["auto", "isotonic", "sigmoid", "none"]
METHODS: tuple[str, ...] = ("auto", "isotonic", "sigmoid", "none")
# Below this many held-out rows isotonic calibration overfits (steps at 0 and 1); "auto" then
# uses the two-parameter sigmoid, as scikit-learn's calibration guide advises.
ISOTONIC_MIN_ROWS = 1000
EPS = 1e-6  # keep probabilities off 0 and 1 so log loss and log-elasticities stay finite
F64 = npt.NDArray[np.float64]


def _logit(p: F64) -> F64:
    q = np.clip(p, EPS, 1 - EPS)
    return np.log(q / (1 - q))


def _laplace_levels(iso: IsotonicRegression, raw: F64, y: npt.NDArray[np.int64], levels: F64) -> F64:
    """Isotonic levels with add-one smoothing per block: (purchases + 1) / (rows + 2).

    A block of held-out rows with no purchase would otherwise predict 0 (log loss: infinite on
    the first later purchase there). Smoothing can break the order of neighbouring levels, so a
    running maximum restores it: the map stays non-decreasing.
    """
    fitted = iso.predict(raw)
    blocks, inverse, rows = np.unique(fitted, return_inverse=True, return_counts=True)
    purchases = np.bincount(inverse, weights=y.astype(np.float64), minlength=len(blocks))
    smoothed = (purchases + 1.0) / (rows + 2.0)
    idx = np.clip(np.searchsorted(blocks, levels), 0, len(blocks) - 1)
    exact = np.isclose(blocks[idx], levels, rtol=0, atol=1e-12)
    # thresholds sit on block levels; anything else (none expected) keeps its own level
    out = np.where(exact, smoothed[idx], levels)
    return np.maximum.accumulate(out)


class Calibrator:
    """A monotone map from raw model probabilities to calibrated ones."""

    def __init__(self, method: Method = "auto") -> None:
        self.method = method

    def fit(self, raw: F64, y: npt.NDArray[np.int64]) -> Calibrator:
        if self.method not in METHODS:
            raise ValidationError("calibration", "method", f"{self.method!r} is not one of {METHODS}")
        method = self.method
        if method == "auto":
            method = "isotonic" if len(y) >= ISOTONIC_MIN_ROWS else "sigmoid"
        self.method_ = method
        if method != "none" and len(np.unique(y)) < 2:
            raise ValidationError(
                "calibration", "y", "the held-out calibration rows need both purchases and non-purchases"
            )
        if method == "isotonic":
            iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0, increasing=True)
            iso.fit(raw, y.astype(np.float64))
            self.x_: F64 = np.asarray(iso.X_thresholds_, dtype=np.float64)
            self.y_: F64 = _laplace_levels(iso, raw, y, np.asarray(iso.y_thresholds_, dtype=np.float64))
        elif method == "sigmoid":
            lr = LogisticRegression(C=1e6, max_iter=1000).fit(_logit(raw)[:, None], y)
            slope = float(lr.coef_[0, 0])
            # A non-positive slope would reverse the ranking (and monotonicity in price); the raw
            # scores are then useless and the caller should hear it rather than get a flat model.
            if slope <= 0:
                raise ValidationError(
                    "calibration", "sigmoid", f"fitted slope {slope:.3g} is not positive; the model "
                    "ranks held-out purchases no better than chance",
                )
            self.a_ = slope
            self.b_ = float(lr.intercept_[0])
        return self

    def apply(self, raw: F64) -> F64:
        if self.method_ == "isotonic":
            out = np.interp(raw, self.x_, self.y_)
        elif self.method_ == "sigmoid":
            out = expit(self.a_ * _logit(raw) + self.b_)
        else:
            out = raw
        return np.clip(out, EPS, 1 - EPS)
