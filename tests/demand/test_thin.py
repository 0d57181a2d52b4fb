"""Training on thin data: a fresh shop's few hundred views train a model instead of failing."""

from __future__ import annotations

import logging
import random
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import pricepilot
from pricepilot.catalog.models import Product
from pricepilot.clock import FixedClock
from pricepilot.config import Settings, load_settings
from pricepilot.demand.evaluation import supported_folds
from pricepilot.demand.models import LGBMDemand
from pricepilot.demand.synthetic import synthetic_frame
from pricepilot.demand.thin import (
    MIN_FIT_ROWS,
    boosting_rounds,
    calibration_shortfall,
    leaf_count,
    leaf_size,
)
from pricepilot.demand.training import train_model
from pricepilot.errors import ValidationError

T0 = datetime(2026, 3, 2, 8, tzinfo=timezone.utc)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(None, env={}, overrides={"paths.data_dir": str(tmp_path)})


def fresh_shop_events(n_views: int, *, products: int = 1, hours: float = 24.0,
                      seed: int = 0) -> list[dict[str, Any]]:
    """``n_views`` views of a new shop over ``hours``, at three prices, and their purchases
    (fewer at the higher prices), as a shop would send them."""
    rng = random.Random(seed)
    events: list[dict[str, Any]] = []
    for k in range(n_views):
        at = T0 + timedelta(seconds=hours * 3600 * k / n_views)
        pid, price, user = f"P{rng.randrange(products)}", rng.choice([900, 1000, 1100]), f"c{k}"
        events.append({"type": "view", "event_id": f"v{k}", "ts": at.isoformat(),
                       "customer_id": user, "product_id": pid, "price": price, "currency": "EUR"})
        if rng.random() < 0.12 * (1000 / price) ** 4:
            events.append({"type": "purchase", "event_id": f"b{k}", "order_id": f"o{k}",
                           "ts": (at + timedelta(minutes=2)).isoformat(), "customer_id": user,
                           "product_id": pid, "price": price, "currency": "EUR"})
    return events


def test_the_rules_shrink_trees_only_on_thin_data() -> None:
    assert leaf_size(100_000, 50) == 50 and leaf_count(100_000, 15, 50) == 15
    assert boosting_rounds(100_000, 100) == 100
    assert leaf_size(240, 50) == 12 and leaf_size(30, 50) == 10  # never below 10 rows
    assert leaf_count(30, 15, 10) == 2 and boosting_rounds(30, 100) == 10
    assert calibration_shortfall(np.array([1] * 10 + [0] * 10)) is None
    assert "9 purchases" in (calibration_shortfall(np.array([1] * 9 + [0] * 50)) or "")


def test_time_folds_are_as_many_as_the_rows_support() -> None:
    ts = np.arange(200)
    y = (ts % 7 == 0).astype(np.int64)
    assert supported_folds(ts, y, 3) == 3
    assert supported_folds(ts[:45], y[:45], 3) == 1  # 3 folds would train on 11 rows
    assert supported_folds(ts[:MIN_FIT_ROWS], y[:MIN_FIT_ROWS], 3) == 0


def test_a_thin_frame_trains_and_the_manifest_says_what_was_changed(settings: Settings) -> None:
    m = train_model(synthetic_frame(60, seed=3), settings, promote=True)
    assert m.metrics["cv_folds"] < 3 and m.calibration_method == "none"
    notes = " | ".join(m.training_notes)
    assert "folds" in notes and "calibration skipped" in notes and "min_data_in_leaf" in notes
    assert "skipped" in (m.calibration_note or "")


def test_a_frame_too_small_for_any_fold_trains_without_out_of_time_metrics(
        settings: Settings, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        m = train_model(synthetic_frame(25, seed=3), settings, promote=True)
    assert m.metrics["cv_folds"] == 0 and "auc" not in m.metrics and not m.folds
    assert "0 of 3 folds" in m.training_notes[0] and "thin training data" in caplog.text
    assert not m.promotable and "no out-of-time evaluation" in (m.promotion_note or "")


def test_large_data_keep_the_configured_trees() -> None:
    m = LGBMDemand().fit(synthetic_frame(3_000, seed=1))
    assert (m.min_child_samples_, m.num_leaves_, m.n_estimators_) == (50, 15, 100)
    assert m.fit_notes_ == []


def test_train_on_300_views_of_a_fresh_shop_succeeds(tmp_path: Path) -> None:
    clock = FixedClock(T0 + timedelta(days=1, hours=1))
    with pricepilot.open(paths__data_dir=str(tmp_path), clock=clock) as shop:
        shop.upsert_products([Product(product_id="P0", title="Mug", category="kitchen",
                                      currency="EUR", unit_cost=400, list_price=1000)])
        shop.record(fresh_shop_events(300))
        manifest = shop.train(promote=True)
        assert manifest.data.rows == 300
        assert manifest.training_notes  # thin data: what was changed is recorded
        quote = shop.quote("c1", ["P0"])
    if manifest.promotable:
        assert quote.fallback is False
    else:  # the promotion rule refused a chance ranking: it says so, training still succeeded
        assert "no better than chance" in (manifest.promotion_note or "")


@pytest.mark.parametrize(("n_views", "products", "hours"), [(300, 5, 72), (40, 1, 24)])
def test_train_succeeds_on_other_thin_histories(tmp_path: Path, n_views: int, products: int,
                                                 hours: float) -> None:
    clock = FixedClock(T0 + timedelta(hours=hours + 1))
    with pricepilot.open(paths__data_dir=str(tmp_path), clock=clock) as shop:
        shop.upsert_products([Product(product_id=f"P{i}", title="x", category="kitchen",
                                      currency="EUR", unit_cost=400, list_price=1000)
                              for i in range(products)])
        shop.record(fresh_shop_events(n_views, products=products, hours=hours, seed=4))
        manifest = shop.train(promote=True)
    assert manifest.data.rows == n_views


def test_views_without_any_purchase_are_refused_naming_what_is_missing(tmp_path: Path) -> None:
    clock = FixedClock(T0 + timedelta(days=1, hours=1))
    with pricepilot.open(paths__data_dir=str(tmp_path), clock=clock) as shop:
        shop.upsert_products([Product(product_id="P0", title="Mug", category="kitchen",
                                      currency="EUR", unit_cost=400, list_price=1000)])
        shop.record([e for e in fresh_shop_events(100) if e["type"] == "view"])
        with pytest.raises(ValidationError, match="hold no purchase"):
            shop.train(promote=True)
