"""Shared fitted models and frames for the demand tests (fitted once per test session)."""

from __future__ import annotations

import pandas as pd
import pytest

from pricepilot.demand.models import DemandEstimator, make_model
from pricepilot.demand.synthetic import synthetic_frame

SMALL: dict[str, dict[str, object]] = {
    "logistic": {},
    "forest": {"n_estimators": 25, "max_depth": 8, "min_samples_leaf": 30},
    "lgbm": {"n_estimators": 60, "num_leaves": 15},
}


@pytest.fixture(scope="session")
def frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    """(train, later test) split in time of one known-demand frame."""
    frame = synthetic_frame(12_000, seed=11)
    return frame.iloc[:9_000].copy(), frame.iloc[9_000:].copy()


@pytest.fixture(scope="session")
def fitted(frames: tuple[pd.DataFrame, pd.DataFrame]) -> dict[str, DemandEstimator]:
    train, _ = frames
    return {family: make_model(family, **params).fit(train) for family, params in SMALL.items()}
