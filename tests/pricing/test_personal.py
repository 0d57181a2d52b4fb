from __future__ import annotations

import numpy as np
import pytest

from pricepilot.pricing.personal import choose_personal, personal_candidates


def test_candidates_cover_the_discount_band_and_surcharges_only_when_allowed() -> None:
    assert personal_candidates(1000, 0.2, False, steps=3).tolist() == [800, 900, 1000]
    assert personal_candidates(1000, 0.2, True, steps=3).tolist() == [800, 900, 1000, 1100, 1200]


def test_a_discount_is_chosen_only_when_it_raises_expected_profit() -> None:
    prices = np.array([900, 1000])
    gain = choose_personal(1000, prices, np.array([0.9, 0.1]), cost=500, allow_surcharge=False)
    assert gain.personalised and gain.price == 900
    loss = choose_personal(1000, prices, np.array([0.11, 0.1]), cost=500, allow_surcharge=False)
    assert not loss.personalised and loss.price == 1000


def test_a_more_profitable_surcharge_is_refused_unless_configured() -> None:
    prices = np.array([1000, 1100])
    probs = np.array([0.5, 0.5])
    assert choose_personal(1000, prices, probs, 500, allow_surcharge=False).price == 1000
    assert choose_personal(1000, prices, probs, 500, allow_surcharge=True).price == 1100


def test_the_base_price_must_be_among_the_candidates() -> None:
    with pytest.raises(ValueError):
        choose_personal(1000, np.array([900]), np.array([0.5]), 0, False)
