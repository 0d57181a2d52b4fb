"""Train, evaluate and register a demand model in one call (used by ``pricepilot train``).

>>> import tempfile
>>> from pricepilot.config import load_settings
>>> from pricepilot.demand.synthetic import synthetic_frame
>>> s = load_settings(None, env={}, overrides={"paths.models_dir": tempfile.mkdtemp()})
>>> m = train_model(synthetic_frame(2_000), s, family="logistic", n_splits=2)
>>> m.family, m.metrics["log_loss"] < m.metrics["log_loss_constant"]
('logistic', True)
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from typing import Any

import pandas as pd

from pricepilot.config import Settings
from pricepilot.demand.evaluation import (
    Evaluation,
    Progress,
    cross_validate,
    grid_search,
    supported_folds,
)
from pricepilot.demand.models import FAMILIES, DemandEstimator, make_model
from pricepilot.demand.registry import ModelManifest, ModelRegistry, data_range
from pricepilot.errors import ValidationError

log = logging.getLogger("pricepilot.demand.training")

# Asked before a version is registered: (why it must not be promoted, or None; notes to keep).
Comparison = Callable[[DemandEstimator, pd.DataFrame, Mapping[str, Any]],
                      tuple[str | None, list[str]]]


def promotion_verdict(metrics: Mapping[str, float]) -> str | None:
    """The promotion rule: ``None`` when a model may be promoted, else why not.

    A model whose out-of-time AUC is not above 0.5 ranks purchases no better than chance: its
    prices would follow noise, and the guarded list price (what quotes fall back to without a
    model) is the better default. A missing AUC (a fold with one class only) does not refuse.
    A model evaluated on no time fold at all (``cv_folds`` 0: the rows support none) has no
    out-of-time evidence either way; it is registered but not promoted automatically, and the
    day-0 demand curve (or the current model), which learns from every outcome, keeps pricing.
    """
    if metrics.get("cv_folds", 1.0) == 0:
        return ("no out-of-time evaluation: the rows support no time fold, so nothing shows the "
                "model beats the day-0 demand curve or the current model")
    auc = metrics.get("auc", math.nan)
    if not math.isnan(auc) and auc <= 0.5:
        return (f"out-of-time AUC {auc:.3f} is not above 0.5: the model ranks purchases no "
                "better than chance")
    return None


def in_stock(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows that observe demand: views of a sold-out product (``p_stock`` known and 0 or
    less) are dropped. Nobody could buy at any price, so they say nothing about the price
    response, and a model trained on them learns "this product does not sell" from its
    stock-outs (through the product id and its recent conversion), then under-prices or ignores
    it once it is back in stock."""
    if "p_stock" not in frame.columns:
        return frame
    stock = pd.to_numeric(frame["p_stock"], errors="coerce")
    keep = ~(stock <= 0).to_numpy()
    return frame if keep.all() else frame.loc[keep].reset_index(drop=True)


def train_model(
    frame: pd.DataFrame,
    settings: Settings,
    *,
    family: str = "lgbm",
    params: Mapping[str, Any] | None = None,
    search: bool = False,
    n_splits: int = 3,
    promote: bool = False,
    progress: Progress | None = None,
    registry: ModelRegistry | None = None,
    compare: Comparison | None = None,
) -> ModelManifest:
    """Evaluate ``family`` by time CV (optionally search its grid), fit on all rows, register.

    Metrics in the manifest are the mean over the time folds (out of time); the calibration table
    and per-category elasticities come from the last fold. The registered model is refitted on
    the whole frame. Protected attributes from ``settings.compliance`` are refused as features.
    Views of sold-out products are not demand observations and are left out (:func:`in_stock`);
    the manifest's ``rows_sold_out_dropped`` metric says how many.

    Calibration that the held-out rows cannot support never fails training: the model keeps its
    raw scores, the manifest records ``calibration_method`` and ``calibration_note`` and the
    ``calibrated`` metric is 0. With ``promote``, the new version becomes current only if
    :func:`promotion_verdict` allows it; the manifest's ``promotable`` and ``promotion_note`` say.

    Thin data never fail training (``pricepilot.demand.thin``): the time CV uses as many of the
    ``n_splits`` folds as the rows support (none: no out-of-time metrics, and nothing for the
    promotion rule to refuse on), leaves shrink with the rows, and calibration is skipped when
    the held-out rows are too few; the manifest's ``training_notes`` say what was changed. A
    frame without any purchase (or with fewer than ``MIN_FIT_ROWS`` rows) is refused, naming it.

    ``compare`` (a scheduled retrain: :mod:`pricepilot.serving.retraining`) is asked, with the
    fitted model, the frame and the chosen settings, whether this version beats the current
    one: its refusal is recorded and applied like the promotion rule's, its notes are kept.
    """
    if family not in FAMILIES:
        raise ValidationError("demand model", "family", f"{family!r} is not one of {sorted(FAMILIES)}")
    registry = registry or ModelRegistry.from_settings(settings)
    base = {**dict(params or {}), "protected_attributes": list(settings.compliance.protected_attributes)}
    make_model(family, **base)._feature_kinds(frame)  # fail on bad features before any fitting
    total = len(frame)
    frame = in_stock(frame)
    if len(frame) == 0:
        raise ValidationError("training set", "p_stock", f"all {total} views are of sold-out products")

    def step(name: str) -> Progress | None:
        if progress is None:
            return None
        return lambda msg, frac: progress(f"{name}: {msg}", frac)

    folds = supported_folds(frame["ts"].to_numpy(), frame["y"].to_numpy(), n_splits) \
        if "ts" in frame.columns and "y" in frame.columns else n_splits
    notes: list[str] = []
    if folds < n_splits:
        notes.append(f"time CV with {folds} of {n_splits} folds: the {len(frame)} rows support no "
                     "more (each fold's training part needs both classes and enough rows)")
        log.warning("thin training data: %s", notes[-1])
    chosen = dict(base)
    evaluation: Evaluation | None = None
    if folds:
        if search:
            chosen, _scores = grid_search(family, frame, base_params=base, n_splits=folds,
                                          progress=step("search"))
        evaluation = cross_validate(family, chosen, frame, n_splits=folds,
                                    progress=step("evaluate"))
    if progress:
        progress("fit on all rows", 0.0)
    model = make_model(family, **chosen).fit(frame)
    if progress:
        progress("fit on all rows", 1.0)
    notes += [f"final fit: {n}" for n in getattr(model, "fit_notes_", [])]
    metrics = {**(evaluation.metrics if evaluation else {}),
               "rows_sold_out_dropped": float(total - len(frame)), "cv_folds": float(folds),
               # 1 when the registered model applies the calibration asked for, 0 when the
               # held-out rows could not support it and the raw scores are used
               "calibrated": float(model.calibrator_.fallback_ is None)}
    verdict = promotion_verdict(metrics)
    if verdict is None and compare is not None:
        verdict, compared = compare(model, frame, chosen)
        notes += compared
    manifest = registry.register(
        model, data=data_range(frame), metrics=metrics,
        folds=evaluation.folds if evaluation else [],
        calibration=evaluation.calibration if evaluation else [],
        elasticity=evaluation.elasticity if evaluation else {},
        promotion_note=verdict, training_notes=notes,
    )
    if promote and verdict is None:
        registry.promote(manifest.version)
    elif promote:
        log.warning("model %s not promoted: %s", manifest.version, verdict)
    return manifest
