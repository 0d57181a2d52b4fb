"""What the model registry records about each version, readable without the models.

The manifest and pointer types and the registry's file names (layout: :mod:`pricepilot.demand.
registry`). Kept apart from the registry's training and loading code, which needs scikit-learn,
LightGBM and joblib: listing the registry (``pricepilot models list``) imports only this.
"""

from __future__ import annotations

import math
import re
from typing import Any

import msgspec

MODEL_FILE = "model.joblib"
MANIFEST_FILE = "manifest.json"
CURRENT_FILE = "current.json"
VERSION_RE = re.compile(  # a version id: also a file and directory name
    r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


class DataRange(msgspec.Struct, frozen=True):
    rows: int
    ts_min: int | None = None
    ts_max: int | None = None


class ModelManifest(msgspec.Struct, frozen=True, kw_only=True):
    """What the registry records about one model version."""

    version: str
    created_at: str  # ISO 8601 UTC
    family: str
    params: dict[str, Any]
    features: list[str]
    data: DataRange
    content_hash: str  # sha256 hex of model.joblib
    metrics: dict[str, float] = msgspec.field(default_factory=dict)
    folds: list[FoldResult] = msgspec.field(default_factory=list)
    calibration: list[CalibrationBin] = msgspec.field(default_factory=list)
    elasticity: dict[str, float] = msgspec.field(default_factory=dict)
    library_versions: dict[str, str] = msgspec.field(default_factory=dict)
    # the calibration the registered model applies ("isotonic", "sigmoid" or "none") and, when
    # the one asked for could not be fitted on the held-out rows, why not
    calibration_method: str = ""
    calibration_note: str | None = None
    # the promotion rule's verdict (see pricepilot.demand.training.promotion_verdict)
    promotable: bool = True
    promotion_note: str | None = None
    # what training changed for thin data (fewer folds, smaller leaves, calibration skipped) or
    # decided (a scheduled retrain's comparison with the current model); see demand/thin.py
    training_notes: list[str] = msgspec.field(default_factory=list)


class Pointer(msgspec.Struct):
    current: str | None = None
    history: list[str] = msgspec.field(default_factory=list)


class CalibrationBin(msgspec.Struct, frozen=True):
    lower: float
    upper: float
    rows: int
    mean_predicted: float
    actual_rate: float


class FoldResult(msgspec.Struct, frozen=True):
    fold: int
    train_rows: int
    test_rows: int
    train_ts_max: int
    test_ts_min: int
    metrics: dict[str, float]


def decode_manifest(data: bytes) -> ModelManifest:
    """A manifest as written: JSON has no NaN, so a metric that was NaN (the AUC of a time fold
    whose held-out block has one class only) is written as null and read back as NaN."""
    raw = msgspec.json.decode(data)
    if isinstance(raw, dict):
        holders = [raw, *(f for f in raw.get("folds") or [] if isinstance(f, dict))]
        for h in holders:
            for key in ("metrics", "elasticity"):
                values = h.get(key)
                if isinstance(values, dict):
                    h[key] = {k: math.nan if v is None else v for k, v in values.items()}
    return msgspec.convert(raw, ModelManifest)
