r"""True demand: the purchase probability of a view at a price. Ground truth, vectorised.

For a view of product *j* by shopper *i* at price *p* (``x = p / list_j``):

* intent  ``a = alpha_j + 0.6 log(C * affinity_ic) + 0.3 * holiday``
* slope   ``b = gamma * beta_j * s_i``  (``s_i`` the shopper's latent sensitivity)
* shape (per product):

  - logit:        ``P0 = sigma(a - b (x - 1))``
  - linear:       ``P0 = sigma(a) * max(0, 1 - b/2 (x - 1))``
  - exponential:  ``P0 = sigma(a) * exp(-b (x - 1))``
  - reference:    ``P0 = sigma(a - b (x - 1) - lambda_loss d+ + lambda_gain d-)`` with
    ``d = (p - ref) / ref`` the gap to the product's reference price, ``d+ = max(d, 0)``,
    ``d- = max(-d, 0)`` (losses loom larger than gains)

* competitors: ``P = min(0.95, P0 * 2 / (1 + exp(kappa (p / c_min - 1))))`` where ``c_min`` is
  the lowest competitor price of the product at that moment (factor 1 when nobody sells it):
  parity keeps the base probability, undercutting the cheapest rival wins shoppers (up to 2x),
  being dearer loses them.

Every shape is non-increasing in ``p``. The market and the oracles call the same function.

>>> import numpy as np
>>> sh = ShopperTruth(sensitivity=np.array([1.0]), affinity=np.array([0.125]), n_categories=8)
>>> pr = ProductTruth(shape=np.array([0]), alpha=np.array([-3.0]), beta=np.array([1.0]),
...                   list_price=np.array([1000.0]))
>>> ctx = DemandContext(reference_price=np.array([1000.0]),
...                     lowest_competitor=np.array([np.nan]), holiday=np.array([False]))
>>> p = true_purchase_probability(sh, pr, np.array([[800, 1000, 1200]]), ctx)
>>> bool(p[0, 0] > p[0, 1] > p[0, 2])
True
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from pricepilot.sim.calendar import HOLIDAY_INTENT
from pricepilot.sim.config import SimConfig

F = npt.NDArray[np.float64]
LOGIT, LINEAR, EXPONENTIAL, REFERENCE = 0, 1, 2, 3
SHAPES_COUNT = 4
P_MAX = 0.95


@dataclass(frozen=True)
class ShopperTruth:
    """Latent shopper parameters, one row per view."""

    sensitivity: F
    affinity: F  # the shopper's affinity for the viewed product's category
    n_categories: int


@dataclass(frozen=True)
class ProductTruth:
    """True demand parameters of the viewed product, one row per view."""

    shape: npt.NDArray[np.int64]
    alpha: F
    beta: F
    list_price: F


@dataclass(frozen=True)
class DemandContext:
    """The moment of the view: reference price, lowest competitor price (NaN: none), holiday."""

    reference_price: F
    lowest_competitor: F
    holiday: npt.NDArray[np.bool_]


@dataclass(frozen=True)
class DemandParams:
    price_response: float = 2.2
    competitor_penalty: float = 2.0
    reference_loss: float = 3.0
    reference_gain: float = 1.5

    @classmethod
    def from_config(cls, cfg: SimConfig) -> DemandParams:
        return cls(cfg.price_response, cfg.competitor_penalty, cfg.reference_loss,
                   cfg.reference_gain)


def _sigmoid(u: F) -> F:
    return 0.5 * (1.0 + np.tanh(0.5 * u))  # overflow-free logistic


def true_purchase_probability(
    shopper: ShopperTruth,
    product: ProductTruth,
    prices: npt.ArrayLike,
    context: DemandContext,
    params: DemandParams = DemandParams(),
) -> F:
    """P(purchase | view, price) for n views at one price each (shape (n,)) or at k candidate
    prices each (shape (n, k)). Prices in minor units; the result has the shape of ``prices``."""
    p = np.asarray(prices, dtype=np.float64)
    one_d = p.ndim == 1
    if one_d:
        p = p[:, None]

    def col(v: npt.ArrayLike) -> F:
        return np.asarray(v, dtype=np.float64)[:, None]

    lp = col(product.list_price)
    x = p / lp
    a = col(product.alpha + 0.6 * np.log(shopper.n_categories * np.maximum(shopper.affinity, 1e-6))
            + HOLIDAY_INTENT * context.holiday)
    b = col(params.price_response * product.beta * shopper.sensitivity)
    shape = np.asarray(product.shape)[:, None]
    ref = col(context.reference_price)
    d = (p - ref) / ref
    ref_term = -params.reference_loss * np.maximum(d, 0.0) + params.reference_gain * np.maximum(-d, 0.0)
    u = a - b * (x - 1.0) + np.where(shape == REFERENCE, ref_term, 0.0)
    base = _sigmoid(a)
    with np.errstate(over="ignore"):
        prob = np.where(
            shape == LINEAR, base * np.maximum(0.0, 1.0 - 0.5 * b * (x - 1.0)),
            np.where(shape == EXPONENTIAL, base * np.exp(np.minimum(-b * (x - 1.0), 50.0)),
                     _sigmoid(u)))
    comp = col(context.lowest_competitor)
    rel = np.where(np.isnan(comp), 1.0, p / np.where(np.isnan(comp), 1.0, comp))
    # smooth share against the cheapest rival: 1 at parity, -> 2 far below, -> 0 far above
    with np.errstate(over="ignore"):
        share = 2.0 / (1.0 + np.exp(np.minimum(params.competitor_penalty * (rel - 1.0), 50.0)))
    prob = np.minimum(prob * share, P_MAX)
    return prob[:, 0] if one_d else prob
