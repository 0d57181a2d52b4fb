"""Out-of-time evaluation of demand models: time folds, metrics, calibration, elasticity, search.

Every score here is out of time: folds are cut on ``ts`` so each test block lies strictly after
everything its model was trained on (rows sharing a timestamp never straddle a cut).

>>> import numpy as np
>>> folds = time_folds(np.array([5, 1, 3, 2, 4, 6, 8, 7]), n_splits=3)
>>> [(sorted(tr.tolist()), sorted(te.tolist())) for tr, te in folds][0]
([1, 3], [2, 4])
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import msgspec
import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score

from pricepilot.demand.calibration import EPS
from pricepilot.demand.manifest import CalibrationBin as CalibrationBin  # re-exported
from pricepilot.demand.manifest import FoldResult as FoldResult
from pricepilot.demand.models import DemandEstimator, make_model, price_feature_arrays
from pricepilot.demand.thin import MIN_FIT_ROWS
from pricepilot.errors import ValidationError
from pricepilot.money import exponent as currency_exponent

F64 = npt.NDArray[np.float64]
Progress = Callable[[str, float], None]

# The declared search grids (small on purpose: every point costs n_splits fits).
GRIDS: dict[str, dict[str, list[Any]]] = {
    "logistic": {"C": [0.1, 1.0, 10.0]},
    "forest": {"max_depth": [8, 14], "min_samples_leaf": [20, 100]},
    "lgbm": {"num_leaves": [15, 31], "learning_rate": [0.05, 0.1]},
}


class Evaluation(msgspec.Struct, frozen=True):
    """Time-CV result: mean metrics, per-fold detail, and last-fold calibration and elasticity."""

    family: str
    params: dict[str, Any]
    metrics: dict[str, float]
    folds: list[FoldResult]
    calibration: list[CalibrationBin]
    elasticity: dict[str, float]


def time_folds(ts: npt.ArrayLike, n_splits: int = 3) -> list[tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]]:
    """Expanding-window folds: (train indices, test indices), every test row after every train row.

    The rows are cut by time into ``n_splits + 1`` blocks of about equal size; fold ``k`` trains on
    blocks ``0..k`` and tests on block ``k + 1``.
    """
    t = np.asarray(ts)
    if n_splits < 1:
        raise ValidationError("time folds", "n_splits", "must be at least 1")
    n = len(t)
    distinct = np.unique(t)
    if len(distinct) < n_splits + 1:
        raise ValidationError(
            "time folds", "ts", f"{len(distinct)} distinct timestamps are too few for {n_splits} folds"
        )
    st = np.sort(t, kind="stable")
    cuts: list[object] = []
    prev = distinct[0]
    for i in range(1, n_splits + 1):
        cut = st[(i * n) // (n_splits + 1)]
        # each block needs at least one distinct timestamp: no empty train or test block
        cut = max(cut, distinct[np.searchsorted(distinct, prev, side="right")])
        cut = min(cut, distinct[len(distinct) - (n_splits - i) - 1])
        cuts.append(cut)
        prev = cut
    folds = []
    for k in range(n_splits):
        lo = cuts[k]
        train = np.flatnonzero(t < lo)
        test = np.flatnonzero((t >= lo) & (t < cuts[k + 1])) if k + 1 < n_splits else np.flatnonzero(t >= lo)
        folds.append((train.astype(np.int64), test.astype(np.int64)))
    return folds


def supported_folds(ts: npt.ArrayLike, y: npt.ArrayLike, asked: int) -> int:
    """The most time folds, up to ``asked``, whose training parts each hold at least
    :data:`~pricepilot.demand.thin.MIN_FIT_ROWS` rows with both purchases and non-purchases
    (0: not even one fold does). Thin data get fewer folds instead of a failed fit."""
    t, yy = np.asarray(ts), np.asarray(y)
    for n in range(asked, 0, -1):
        try:
            folds = time_folds(t, n)
        except ValidationError:  # too few distinct timestamps for n folds
            continue
        if all(len(tr) >= MIN_FIT_ROWS and len(np.unique(yy[tr])) == 2 for tr, _ in folds):
            return n
    return 0


def bins(y: npt.ArrayLike, p: npt.ArrayLike, n_bins: int = 10) -> list[CalibrationBin]:
    """Predicted vs actual purchase rate in ``n_bins`` equal-count bins of the prediction."""
    yy = np.asarray(y, dtype=np.float64)
    pp = np.asarray(p, dtype=np.float64)
    if len(yy) == 0:
        return []
    order = np.argsort(pp, kind="stable")
    out = []
    for chunk in np.array_split(order, min(n_bins, len(order))):
        if len(chunk) == 0:
            continue
        out.append(CalibrationBin(
            lower=float(pp[chunk].min()), upper=float(pp[chunk].max()), rows=int(len(chunk)),
            mean_predicted=float(pp[chunk].mean()), actual_rate=float(yy[chunk].mean()),
        ))
    return out


def expected_calibration_error(y: npt.ArrayLike, p: npt.ArrayLike, n_bins: int = 10) -> float:
    """Row-weighted mean |predicted - actual| over equal-count bins of the prediction."""
    table = bins(y, p, n_bins)
    total = sum(b.rows for b in table)
    return float(sum(b.rows * abs(b.mean_predicted - b.actual_rate) for b in table) / max(total, 1))


def classification_metrics(y: npt.ArrayLike, p: npt.ArrayLike, base_rate: float | None = None) -> dict[str, float]:
    """Log loss, AUC, Brier, ECE, and the log loss of a constant ``base_rate`` predictor."""
    yy = np.asarray(y, dtype=np.int64)
    pp = np.clip(np.asarray(p, dtype=np.float64), EPS, 1 - EPS)
    rate = float(yy.mean()) if base_rate is None else base_rate
    both = len(np.unique(yy)) == 2
    return {
        "log_loss": float(log_loss(yy, pp, labels=[0, 1])),
        "auc": float(roc_auc_score(yy, pp)) if both else float("nan"),
        "brier": float(brier_score_loss(yy, pp)),
        "ece": expected_calibration_error(yy, pp),
        "log_loss_constant": float(log_loss(yy, np.full(len(yy), min(max(rate, EPS), 1 - EPS)), labels=[0, 1])),
        "base_rate": float(yy.mean()),
        "mean_predicted": float(pp.mean()),
    }


def with_price_scaled(frame: pd.DataFrame, factor: float) -> pd.DataFrame:
    """``frame`` with every shown price multiplied by ``factor`` and the price features recomputed."""
    price = frame["price"].to_numpy(dtype=np.float64) * factor
    lp = frame["list_price"].to_numpy(dtype=np.float64)
    comp = pd.to_numeric(frame["competitor_price"], errors="coerce").to_numpy(dtype=np.float64)
    if "currency" in frame.columns:
        cur = frame["currency"].astype(str)
        exps = cur.map({c: currency_exponent(c) for c in cur.unique()}).to_numpy(dtype=np.int64)
    else:
        exps = np.full(len(frame), 2, dtype=np.int64)
    out = frame.copy()
    for name, values in price_feature_arrays(price, lp, comp, exps).items():
        if name in out.columns:
            out[name] = values
    return out


def elasticity_by_category(
    model: DemandEstimator, frame: pd.DataFrame, *, step: float = 0.05, max_rows: int = 20_000,
    category: str = "p_category", seed: int = 0,
) -> dict[str, float]:
    """Mean implied own-price elasticity d ln P / d ln price at the shown price, per category.

    A central difference of the model's curve at ``price * (1 +- step)``. Negative is sane;
    isotonic calibration has flat steps, so single rows can read 0.
    """
    for col in ("price", "list_price", "competitor_price"):
        if col not in frame.columns:
            raise ValidationError("elasticity frame", col, "column is missing")
    if len(frame) > max_rows:
        frame = frame.sample(max_rows, random_state=seed)
    up = model.predict_proba(with_price_scaled(frame, 1 + step))
    down = model.predict_proba(with_price_scaled(frame, 1 - step))
    e = (np.log(up) - np.log(down)) / (np.log1p(step) - np.log1p(-step))
    groups = frame[category].astype(object).where(frame[category].notna(), "(none)").astype(str) \
        if category in frame.columns else pd.Series("(all)", index=frame.index)
    out = pd.Series(e, index=frame.index).groupby(groups.to_numpy()).mean()
    result = {str(k): float(v) for k, v in out.items()}
    result["(all)"] = float(np.mean(e))
    return result


def cross_validate(
    family: str, params: Mapping[str, Any], frame: pd.DataFrame, *, n_splits: int = 3,
    progress: Progress | None = None, with_details: bool = True,
) -> Evaluation:
    """Fit ``family(**params)`` on each time fold and score it on the following block."""
    if "ts" not in frame.columns:
        raise ValidationError("training frame", "ts", "column is missing")
    frame = frame.reset_index(drop=True)
    folds = time_folds(frame["ts"].to_numpy(), n_splits)
    results: list[FoldResult] = []
    last: tuple[DemandEstimator, pd.DataFrame, F64] | None = None
    ts = frame["ts"].to_numpy()
    for k, (tr, te) in enumerate(folds):
        train, test = frame.iloc[tr], frame.iloc[te]
        model = make_model(family, **params).fit(train)
        p = model.predict_proba(test)
        m = classification_metrics(test["y"].to_numpy(), p, base_rate=float(train["y"].mean()))
        results.append(FoldResult(
            fold=k, train_rows=len(tr), test_rows=len(te), train_ts_max=int(ts[tr].max()),
            test_ts_min=int(ts[te].min()), metrics=m,
        ))
        last = (model, test, p)
        if progress:
            progress(f"{family} fold {k + 1}/{n_splits}", (k + 1) / n_splits)
    mean = {key: _nanmean([r.metrics[key] for r in results]) for key in results[0].metrics}
    calibration: list[CalibrationBin] = []
    elasticity: dict[str, float] = {}
    if with_details and last is not None:
        model, test, p = last
        calibration = bins(test["y"].to_numpy(), p)
        if {"price", "list_price", "competitor_price"} <= set(test.columns):
            elasticity = elasticity_by_category(model, test)
    return Evaluation(family=family, params=dict(params), metrics=mean, folds=results,
                      calibration=calibration, elasticity=elasticity)


def _nanmean(values: Sequence[float]) -> float:
    """The mean of the values that are not NaN; NaN (without numpy's warning) when none is (the
    AUC of folds whose held-out blocks all hold one class only)."""
    kept = [v for v in values if not np.isnan(v)]
    return float(np.mean(kept)) if kept else float("nan")


def grid_points(grid: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    keys = list(grid)
    return [dict(zip(keys, values)) for values in itertools.product(*(grid[k] for k in keys))]


def grid_search(
    family: str, frame: pd.DataFrame, *, grid: Mapping[str, Sequence[Any]] | None = None,
    base_params: Mapping[str, Any] | None = None, n_splits: int = 3, progress: Progress | None = None,
) -> tuple[dict[str, Any], list[tuple[dict[str, Any], float]]]:
    """The grid point with the lowest mean time-CV log loss, and every point's score."""
    grid = GRIDS.get(family, {}) if grid is None else grid
    points = grid_points(grid) or [{}]
    scores: list[tuple[dict[str, Any], float]] = []
    for i, point in enumerate(points):
        params = {**(base_params or {}), **point}
        ev = cross_validate(family, params, frame, n_splits=n_splits, with_details=False)
        scores.append((params, ev.metrics["log_loss"]))
        if progress:
            progress(f"search {family} {point}", (i + 1) / len(points))
    best = min(scores, key=lambda s: s[1])[0]
    return best, scores
