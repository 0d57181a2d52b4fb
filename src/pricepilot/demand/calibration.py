"""Probability calibration on held-out data, applied with plain numpy at serving time.

Isotonic calibration is fitted with scikit-learn's :class:`~sklearn.isotonic.IsotonicRegression`
and kept as knot arrays (one per block, at the block's centre), so serving is one ``np.interp``
and the map has a slope everywhere inside the data (see :func:`_centred_isotonic`). Both methods are non-decreasing maps of the raw probability,
so a model that is non-increasing in price stays so after calibration.

>>> import numpy as np
>>> c = Calibrator("isotonic").fit(np.array([0.1, 0.2, 0.8, 0.9]), np.array([0, 0, 1, 1]))
>>> c.apply(np.array([0.15, 0.85])).round(3).tolist()  # end blocks add-one smoothed
[0.25, 0.75]
>>> c.apply(np.array([0.5])).round(3).tolist()  # between the block centres 0.15 and 0.85
[0.5]

A held-out set that cannot support a calibration (one class only, or a sigmoid that would reverse
the ranking) keeps the raw scores and says why, instead of failing the whole training run:

>>> s = Calibrator("sigmoid").fit(np.array([0.9, 0.8, 0.2, 0.1]), np.array([0, 0, 1, 1]))
>>> s.method_, s.fallback_ is not None
('none', True)
"""

from __future__ import annotations

import logging
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
log = logging.getLogger("pricepilot.demand.calibration")


def _logit(p: F64) -> F64:
    q = np.clip(p, EPS, 1 - EPS)
    return np.log(q / (1 - q))


def _centred_isotonic(iso: IsotonicRegression, raw: F64, y: npt.NDArray[np.int64]) -> tuple[F64, F64]:
    """Knots of a centred isotonic map: one per isotonic block, at the block's mean raw score.

    Plain isotonic regression is a step function: flat inside each block, so a price change
    inside a block changes nothing and the implied price elasticity shrinks towards 0.
    Interpolating between block centres (centred isotonic regression, Oron & Flournoy 2017)
    keeps the calibration and gives the map a slope everywhere inside the data.

    Only the end blocks can sit at exactly 0 or 1 (levels are non-decreasing block means); they
    are moved to their add-one estimate, (purchases + 1) / (rows + 2), but never past half-way to
    their neighbour, so the map stays increasing and no score predicts exactly 0 or 1.
    """
    fitted = iso.predict(raw)
    levels, inverse, rows = np.unique(fitted, return_inverse=True, return_counts=True)
    purchases = np.bincount(inverse, weights=y.astype(np.float64), minlength=len(levels))
    centres = np.bincount(inverse, weights=raw, minlength=len(levels)) / rows
    means = purchases / rows
    order = np.argsort(centres, kind="stable")
    centres, means, rows, purchases = centres[order], means[order], rows[order], purchases[order]
    if len(means) == 1:
        return centres, (purchases + 1.0) / (rows + 2.0)
    if means[0] <= 0.0:
        means[0] = min(1.0 / (rows[0] + 2.0), means[1] / 2.0)
    if means[-1] >= 1.0:
        means[-1] = max((rows[-1] + 1.0) / (rows[-1] + 2.0), (1.0 + means[-2]) / 2.0)
    return centres, np.maximum.accumulate(means)


class Calibrator:
    """A monotone map from raw model probabilities to calibrated ones.

    After ``fit``: ``method_`` is the method actually used (``"none"`` when the held-out rows
    could not support the one asked for) and ``fallback_`` says why it fell back (``None`` when
    it did not). A fallback is logged as a warning; it never raises: a small or unlucky held-out
    set must not throw away a model that was fitted on everything else.
    """

    def __init__(self, method: Method = "auto") -> None:
        self.method = method

    def fit(self, raw: F64, y: npt.NDArray[np.int64]) -> Calibrator:
        if self.method not in METHODS:
            raise ValidationError("calibration", "method", f"{self.method!r} is not one of {METHODS}")
        method = self.method
        if method == "auto":
            method = "isotonic" if len(y) >= ISOTONIC_MIN_ROWS else "sigmoid"
        self.method_ = method
        self.fallback_: str | None = None
        if method == "none":
            return self
        if len(np.unique(y)) < 2:
            return self._fall_back(method, f"the {len(y)} held-out rows need both purchases and "
                                           "non-purchases")
        if method == "isotonic":
            iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0, increasing=True)
            iso.fit(raw, y.astype(np.float64))
            self.x_, self.y_ = _centred_isotonic(iso, raw, y)
        elif method == "sigmoid":
            lr = LogisticRegression(C=1e6, max_iter=1000).fit(_logit(raw)[:, None], y)
            slope = float(lr.coef_[0, 0])
            # A non-positive slope would reverse the ranking (and monotonicity in price): on these
            # held-out rows the scores rank purchases no better than chance. Too few rows to tell
            # a bad model from bad luck, so the raw scores are kept and the fallback recorded;
            # the model's out-of-time metrics say whether it is any good.
            if slope <= 0:
                return self._fall_back(method, f"fitted slope {slope:.3g} is not positive on the "
                                               f"{len(y)} held-out rows")
            self.a_ = slope
            self.b_ = float(lr.intercept_[0])
        return self

    def skip(self, why: str) -> Calibrator:
        """Fitted without calibrating: the held-out rows are too thin (``why``), so the model
        was fitted on every row and keeps its raw scores (``method_ = "none"``, logged)."""
        if self.method not in METHODS:
            raise ValidationError("calibration", "method", f"{self.method!r} is not one of {METHODS}")
        self.method_ = "none"
        self.fallback_ = None
        if self.method == "none":
            return self
        self.fallback_ = f"{self.method} calibration skipped ({why}); the raw scores are used"
        log.warning("%s", self.fallback_)
        return self

    def _fall_back(self, method: str, why: str) -> Calibrator:
        self.method_ = "none"
        self.fallback_ = f"{method} calibration not fitted ({why}); the raw scores are used"
        log.warning("%s", self.fallback_)
        return self

    def apply(self, raw: F64) -> F64:
        if self.method_ == "isotonic":
            out = np.interp(raw, self.x_, self.y_)
        elif self.method_ == "sigmoid":
            out = expit(self.a_ * _logit(raw) + self.b_)
        else:
            out = raw
        return np.clip(out, EPS, 1 - EPS)
