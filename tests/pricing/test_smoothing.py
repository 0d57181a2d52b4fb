from __future__ import annotations

import numpy as np

from pricepilot.pricing.smoothing import smooth


def test_smoothing_moves_alpha_of_the_way_from_the_current_price() -> None:
    assert smooth(np.array([1200, 800]), 1000, 0.25).tolist() == [1050, 950]


def test_without_a_current_price_or_with_alpha_one_there_is_no_smoothing() -> None:
    assert smooth(np.array([1200]), None, 0.25).tolist() == [1200]
    assert smooth(np.array([1200]), 1000, 1.0).tolist() == [1200]
