from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from pricepilot.sim.demand import (
    LINEAR,
    LOGIT,
    REFERENCE,
    SHAPES_COUNT,
    DemandContext,
    ProductTruth,
    ShopperTruth,
    true_purchase_probability,
)


def one(shape: int, *, ref: float = 1000.0, comp: float = np.nan, sens: float = 1.0,
        aff: float = 0.125, alpha: float = -3.0, holiday: bool = False):
    return (ShopperTruth(np.array([sens]), np.array([aff]), 8),
            ProductTruth(np.array([shape]), np.array([alpha]), np.array([1.0]), np.array([1000.0])),
            DemandContext(np.array([ref]), np.array([comp]), np.array([holiday])))


@settings(max_examples=60, deadline=None)
@given(shape=st.integers(0, SHAPES_COUNT - 1), ref=st.floats(300, 3000), comp=st.floats(300, 3000),
       sens=st.floats(0.2, 4.0), aff=st.floats(0.0, 1.0), alpha=st.floats(-6, 1),
       no_comp=st.booleans())
def test_every_shape_is_non_increasing_in_price_and_a_probability(shape, ref, comp, sens, aff, alpha, no_comp) -> None:
    s, p, c = one(shape, ref=ref, comp=np.nan if no_comp else comp, sens=sens, aff=aff, alpha=alpha)
    prices = np.linspace(1, 5000, 400)[None, :]
    prob = true_purchase_probability(s, p, prices, c)[0]
    assert np.all(np.diff(prob) <= 1e-12)
    assert np.all((prob >= 0) & (prob <= 0.95))


def test_reference_products_sell_less_when_the_reference_price_is_lower() -> None:
    high = true_purchase_probability(*one(REFERENCE, ref=1200.0)[:2], np.array([1000]), one(REFERENCE, ref=1200.0)[2])
    low = true_purchase_probability(*one(REFERENCE, ref=800.0)[:2], np.array([1000]), one(REFERENCE, ref=800.0)[2])
    assert high[0] > low[0] * 1.2


def test_losses_loom_larger_than_gains_around_the_reference() -> None:
    s, p, c = one(REFERENCE, ref=1000.0)
    s0, p0, c0 = one(LOGIT, ref=1000.0)
    ratio = true_purchase_probability(s, p, np.array([[900, 1000, 1100]]), c)[0] / \
        true_purchase_probability(s0, p0, np.array([[900, 1000, 1100]]), c0)[0]
    assert ratio[1] == 1.0
    assert (1 - ratio[2]) > (ratio[0] - 1) > 0


def test_other_shapes_ignore_the_reference_price() -> None:
    for shape in (LOGIT, LINEAR):
        a = true_purchase_probability(*one(shape, ref=500.0)[:2], np.array([1000]), one(shape, ref=500.0)[2])
        b = true_purchase_probability(*one(shape, ref=2000.0)[:2], np.array([1000]), one(shape, ref=2000.0)[2])
        assert a[0] == b[0]


def test_pricing_above_the_lowest_competitor_loses_buyers_and_below_wins_some() -> None:
    s, p, _ = one(LOGIT)
    none = true_purchase_probability(s, p, np.array([1000]), one(LOGIT)[2])[0]
    parity = true_purchase_probability(s, p, np.array([1000]), one(LOGIT, comp=1000.0)[2])[0]
    above = true_purchase_probability(s, p, np.array([1000]), one(LOGIT, comp=800.0)[2])[0]
    below = true_purchase_probability(s, p, np.array([1000]), one(LOGIT, comp=1200.0)[2])[0]
    assert above < none == parity < below < 2 * none


def test_more_sensitive_shoppers_react_more_to_price() -> None:
    def drop(sens: float) -> float:
        s, p, c = one(LOGIT, sens=sens)
        pr = true_purchase_probability(s, p, np.array([[1000, 1200]]), c)[0]
        return float(pr[1] / pr[0])
    assert drop(2.0) < drop(1.0) < drop(0.5)


def test_holidays_raise_intent() -> None:
    s, p, c = one(LOGIT)
    s2, p2, c2 = one(LOGIT, holiday=True)
    assert true_purchase_probability(s2, p2, np.array([1000]), c2)[0] > \
        true_purchase_probability(s, p, np.array([1000]), c)[0]


def test_one_price_per_view_agrees_with_the_candidate_matrix() -> None:
    s, p, c = one(REFERENCE, comp=950.0)
    mat = true_purchase_probability(s, p, np.array([[700, 1000, 1300]]), c)[0]
    each = [true_purchase_probability(s, p, np.array([x]), c)[0] for x in (700, 1000, 1300)]
    assert np.allclose(mat, each)
