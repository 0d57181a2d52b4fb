from __future__ import annotations

import numpy as np
import pytest

from pricepilot.pricing.explore import thompson_choice


def test_without_stock_limits_the_probabilities_are_argmax_frequencies_over_draws() -> None:
    rng = np.random.default_rng(0)
    draws = rng.random((1000, 3))
    c = thompson_choice(draws, np.ones(3), None, rng)
    assert c.probs.sum() == pytest.approx(1.0) and not c.lp_used
    assert c.index == int(np.argmax(draws[0]))
    assert c.probs.tolist() == pytest.approx([1 / 3] * 3, abs=0.05)


def test_with_stock_the_choice_follows_the_lp_mixture_and_shut_off_goes_to_the_top_price() -> None:
    d = np.array([[0.8, 0.6, 0.3, 0.1]])
    w = np.array([29.9, 34.9, 39.9, 44.9])
    c = thompson_choice(d, w, 0.25, np.random.default_rng(0))
    assert c.lp_used and c.probs.tolist() == pytest.approx([0, 0, 0.75, 0.25])
    sold_out = thompson_choice(d, w, 0.0, np.random.default_rng(0))
    assert sold_out.index == 3 and sold_out.probs.tolist() == pytest.approx([0, 0, 0, 1])
