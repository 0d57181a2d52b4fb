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

from collections.abc import Mapping
from typing import Any

import pandas as pd

from pricepilot.config import Settings
from pricepilot.demand.evaluation import Progress, cross_validate, grid_search
from pricepilot.demand.models import FAMILIES, make_model
from pricepilot.demand.registry import ModelManifest, ModelRegistry, data_range
from pricepilot.errors import ValidationError


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
    """
    if family not in FAMILIES:
        raise ValidationError("demand model", "family", f"{family!r} is not one of {sorted(FAMILIES)}")
    registry = registry or ModelRegistry.from_settings(settings)
    base = {**dict(params or {}), "protected_attributes": list(settings.compliance.protected_attributes)}
    make_model(family, **base)._feature_kinds(frame)  # fail on bad features before any fitting

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
    manifest = registry.register(
        model, data=data_range(frame), metrics=evaluation.metrics, folds=evaluation.folds,
        calibration=evaluation.calibration, elasticity=evaluation.elasticity,
    )
    if promote:
        registry.promote(manifest.version)
    return manifest
