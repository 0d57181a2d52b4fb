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
from collections.abc import Mapping
from typing import Any

import pandas as pd

from pricepilot.config import Settings
from pricepilot.demand.evaluation import Progress, cross_validate, grid_search
from pricepilot.demand.models import FAMILIES, make_model
from pricepilot.demand.registry import ModelManifest, ModelRegistry, data_range
from pricepilot.errors import ValidationError

log = logging.getLogger("pricepilot.demand.training")


def promotion_verdict(metrics: Mapping[str, float]) -> str | None:
    """The promotion rule: ``None`` when a model may be promoted, else why not.

    A model whose out-of-time AUC is not above 0.5 ranks purchases no better than chance: its
    prices would follow noise, and the guarded list price (what quotes fall back to without a
    model) is the better default. A missing AUC (a fold with one class only) does not refuse.
    """
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

    chosen = dict(base)
    if search:
        chosen, _scores = grid_search(family, frame, base_params=base, n_splits=n_splits, progress=step("search"))
    evaluation = cross_validate(family, chosen, frame, n_splits=n_splits, progress=step("evaluate"))
    if progress:
        progress("fit on all rows", 0.0)
    model = make_model(family, **chosen).fit(frame)
    if progress:
        progress("fit on all rows", 1.0)
    metrics = {**evaluation.metrics, "rows_sold_out_dropped": float(total - len(frame)),
               # 1 when the registered model applies the calibration asked for, 0 when the
               # held-out rows could not support it and the raw scores are used
               "calibrated": float(model.calibrator_.fallback_ is None)}
    verdict = promotion_verdict(metrics)
    manifest = registry.register(
        model, data=data_range(frame), metrics=metrics, folds=evaluation.folds,
        calibration=evaluation.calibration, elasticity=evaluation.elasticity,
        promotion_note=verdict,
    )
    if promote and verdict is None:
        registry.promote(manifest.version)
    elif promote:
        log.warning("model %s not promoted: %s", manifest.version, verdict)
    return manifest
