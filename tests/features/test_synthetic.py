from __future__ import annotations

import pandas as pd
import pytest

from pricepilot.events.schemas import EVENT_COLUMNS, EVENT_TYPES
from pricepilot.features.synthetic import synthetic_log


def test_a_synthetic_log_has_every_event_type_in_the_storage_layout() -> None:
    log = synthetic_log(3_000, seed=1)
    ev = log.events
    assert tuple(ev.columns) == EVENT_COLUMNS
    assert set(ev["type"]) == set(EVENT_TYPES) - {"remove_from_cart"}
    assert ev["event_id"].is_unique and ev["ts"].is_monotonic_increasing
    assert ev["ts"].duplicated().any()  # ties exercise the strict "before" rule
    views = ev[ev["type"] == "view"]
    assert views["session_id"].isna().any() and views["session_id"].notna().any()
    assert set(views["product_id"]) <= {p.product_id for p in log.products}


def test_the_same_seed_gives_the_same_log() -> None:
    pd.testing.assert_frame_equal(synthetic_log(1_000, seed=4).events,
                                  synthetic_log(1_000, seed=4).events)


def test_a_log_too_small_to_hold_every_type_is_refused() -> None:
    with pytest.raises(ValueError):
        synthetic_log(10)
