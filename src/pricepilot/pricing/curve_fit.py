r"""A smooth price response from a step-shaped one: the logit-linear fit of a demand curve.

Tree ensembles (LightGBM, random forests) answer "P(buy) at each candidate price" with a
piecewise-constant curve: flat steps between the price splits they learnt, and flat beyond the
lowest and highest prices in their data. Maximising ``(p − cost) · P(p)`` over such a curve picks
the top end of whichever step wins, a bias towards high prices, and never moves into a flat
extrapolated region even when every step inside the data says demand rises as the price falls.

:func:`logit_linear` replaces each curve with its least-squares fit

.. math:: \operatorname{logit} P(p) = a + b\,(p / \text{list} - 1), \qquad b \le 0,

on the candidates where the model has evidence: the leading run of equal values at the low-price
end (the model's flat extrapolation below its data) and the trailing run at the high end are each
reduced to their inner point. The fit keeps the level the model gives over the data, smooths the
steps, and carries the learnt slope a little beyond the data (the guardrails bound how far).
A curve with fewer than two distinct values keeps its shape (no evidence of a slope), and a fit
that would make demand rise with price is flattened to its mean (demand never increases with
price). Vectorised over a page: ``curves`` and ``ratios`` are (n, k).

>>> import numpy as np
>>> r = np.array([[0.7, 0.8, 0.9, 1.0, 1.1]])
>>> step = np.array([[0.20, 0.20, 0.12, 0.12, 0.08]])
>>> fit = logit_linear(step, r)
>>> bool(np.all(np.diff(fit[0]) < 0)), bool(fit[0, 0] > 0.20)
(True, True)
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import numpy.typing as npt

F = npt.NDArray[np.float64]
_EPS = 1e-6


def evidence_mask(curves: F) -> npt.NDArray[np.bool_]:
    """Candidates (ascending prices) that carry evidence: all but the outer parts of the
    leading and trailing runs of equal values."""
    n, k = curves.shape
    cols = np.arange(k)[None, :]
    d = curves[:, 1:] - curves[:, :-1]  # np.diff's generic path costs more on small pages
    step = (d > 1e-12) | (d < -1e-12)  # (n, k-1): value changes between j and j+1
    any_step = step.any(axis=1)
    first = np.where(any_step, np.argmax(step, axis=1), 0)  # last index of the leading run
    last = np.where(any_step, k - 1 - np.argmax(step[:, ::-1], axis=1), k - 1)  # first of trailing
    return np.asarray((cols >= first[:, None]) & (cols <= last[:, None]), dtype=np.bool_)


class LogitLinearFit(NamedTuple):
    """Per curve: ``logit P(r) = intercept + slope (r − 1)`` where ``used``; elsewhere the
    model's curve stands (no slope evidence)."""

    intercept: F  # (n,)
    slope: F  # (n,), <= 0
    used: npt.NDArray[np.bool_]  # (n,)

    def at(self, ratios: F) -> F:
        """The fitted P(buy) at ``ratios`` (n,) or (n, k) (meaningful where ``used``)."""
        r = np.asarray(ratios, dtype=np.float64)
        a = self.intercept if r.ndim == 1 else self.intercept[:, None]
        b = self.slope if r.ndim == 1 else self.slope[:, None]
        return np.asarray(0.5 * (1.0 + np.tanh(0.5 * (a + b * (r - 1.0)))), dtype=np.float64)


def fit_logit_linear(curves: F, ratios: F) -> LogitLinearFit:
    """The least-squares logit-linear fit of each curve (see the module doc)."""
    curves = np.asarray(curves, dtype=np.float64)
    ratios = np.asarray(ratios, dtype=np.float64)
    if curves.ndim != 2 or curves.shape != ratios.shape:
        raise ValueError(f"curves {curves.shape} and ratios {ratios.shape} must be the same (n, k)")
    n, k = curves.shape
    if k < 2:
        return LogitLinearFit(np.zeros(n), np.zeros(n), np.zeros(n, dtype=bool))
    w = evidence_mask(curves).astype(np.float64)
    q = np.clip(curves, _EPS, 1.0 - _EPS)
    y = np.log(q / (1.0 - q))
    x = ratios - 1.0
    sw = w.sum(axis=1)
    xm = (w * x).sum(axis=1) / sw
    ym = (w * y).sum(axis=1) / sw
    dx = x - xm[:, None]
    sxx = (w * dx * dx).sum(axis=1)
    sxy = (w * dx * (y - ym[:, None])).sum(axis=1)
    ok = (sw >= 2) & (sxx > 1e-18)
    b = np.where(ok, sxy / np.where(ok, sxx, 1.0), 0.0)
    b = np.minimum(b, 0.0)  # demand never rises with price
    # no evidence of a slope (a flat curve): the model's own curve stands
    flat = ~(curves.max(axis=1) - curves.min(axis=1) > 1e-12)
    return LogitLinearFit(ym - b * xm, b, ok & ~flat)


def fit_one(curve: F, ratios: F) -> tuple[float, float] | None:
    """:func:`fit_logit_linear` of one curve (1-D), the decision path's fast twin: (intercept,
    slope), or None where the model's curve stands (no slope evidence)."""
    k = curve.shape[0]
    if k < 2:
        return None
    d = curve[1:] - curve[:-1]
    steps = np.flatnonzero((d > 1e-12) | (d < -1e-12))
    if steps.size:
        first, last = int(steps[0]), int(steps[-1]) + 1  # the evidence is one contiguous run
    elif float(curve.max() - curve.min()) > 1e-12:
        first, last = 0, k - 1  # only sub-threshold steps: every point counts, as on a page
    else:
        return None  # flat: no evidence of a slope
    q = np.clip(curve[first:last + 1], _EPS, 1.0 - _EPS)
    y = np.log(q / (1.0 - q))
    x = ratios[first:last + 1] - 1.0
    xm, ym = float(x.mean()), float(y.mean())
    dx = x - xm
    sxx = float(dx @ dx)
    if sxx <= 1e-18:
        return None
    b = min(float(dx @ (y - ym)) / sxx, 0.0)  # demand never rises with price
    return ym - b * xm, b


def logit_linear(curves: F, ratios: F) -> F:
    """The logit-linear least-squares fit of each curve (see the module doc), shape (n, k)."""
    curves = np.asarray(curves, dtype=np.float64)
    fit = fit_logit_linear(curves, ratios)
    if curves.shape[1] < 2:
        return curves.copy()
    return np.where(fit.used[:, None], fit.at(np.asarray(ratios, dtype=np.float64)), curves)
