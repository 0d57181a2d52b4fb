"""The contract between learned demand and the pricing engine.

A demand model answers one question fast: for this shopper, product and moment, what is the
probability of a purchase at each of these candidate prices? The pricing engine calls
:meth:`DemandModel.predict_curve` once per product with every candidate price (one vectorised
call), or :meth:`DemandModel.predict_curves` once for a page of products.

Features are named here once, so the point-in-time training set (:mod:`pricepilot.features`),
the online feature state and every model agree on them. Price-dependent features are set by the
model for each candidate price from ``prices``, ``list_price`` and ``competitor_price``; all other
features come in the ``features`` mapping (missing ones are NaN / unknown category).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

# name -> "numeric" | "categorical". The order is the column order of training frames.
FEATURES: dict[str, str] = {
    # shopper
    "u_recency_days": "numeric",  # days since the shopper's last purchase (NaN: never)
    "u_frequency_90d": "numeric",  # purchases in the previous 90 days
    "u_monetary_90d": "numeric",  # money spent in the previous 90 days, major units
    "u_views_7d": "numeric",  # views in the previous 7 days
    "u_affinity": "numeric",  # share of the shopper's past views in this product's category
    "u_paid_vs_list": "numeric",  # mean (price paid / list price) of past purchases (NaN: none)
    "u_session_views": "numeric",  # views earlier in the current session
    "u_tier": "categorical",
    "u_device": "categorical",
    "u_region": "categorical",
    "u_channel": "categorical",
    # product
    "p_category": "categorical",
    "p_product": "categorical",  # the product id: lets trees learn each product's own price response
    "p_views_7d": "numeric",
    "p_purchases_7d": "numeric",
    "p_conversion_7d": "numeric",  # purchases / views over 7 days (NaN: no views)
    "p_stock": "numeric",  # NaN: not stock-limited
    "p_days_to_season_end": "numeric",  # NaN: no season end
    "p_comp_on_promo": "numeric",  # 1 if a competitor runs a promotion on it now
    # context
    "c_hour": "numeric",
    "c_weekday": "numeric",
    "c_holiday": "numeric",
    # price (set per candidate by the model; demand is non-increasing in each)
    "x_price_ratio_list": "numeric",  # price / list price
    "x_price_ratio_comp": "numeric",  # price / lowest competitor price (NaN: none known)
    "x_log_price": "numeric",  # log(price in major units)
}

PRICE_FEATURES: tuple[str, ...] = ("x_price_ratio_list", "x_price_ratio_comp", "x_log_price")
CONTEXT_FEATURES: tuple[str, ...] = tuple(f for f in FEATURES if f not in PRICE_FEATURES)


def price_features(
    prices: npt.NDArray[np.int64],
    list_price: int,
    competitor_price: int | None,
    exponent: int = 2,
) -> dict[str, npt.NDArray[np.float64]]:
    """The price-dependent features of each candidate price (minor units), vectorised."""
    p = prices.astype(np.float64)
    comp = (p / competitor_price) if competitor_price else np.full_like(p, np.nan)
    return {
        "x_price_ratio_list": p / float(list_price),
        "x_price_ratio_comp": comp,
        "x_log_price": np.log(np.maximum(p, 1.0) / 10.0**exponent),
    }


@runtime_checkable
class DemandModel(Protocol):
    """Anything that gives purchase probabilities over candidate prices."""

    @property
    def version(self) -> str:
        """Registry version of the model (logged with every decision)."""
        ...

    def predict_curve(
        self,
        features: Mapping[str, object],
        prices: npt.NDArray[np.int64],
        list_price: int,
        competitor_price: int | None = None,
    ) -> npt.NDArray[np.float64]:
        """P(purchase) at each candidate price (minor units), same length as ``prices``."""
        ...

    def predict_curves(
        self,
        features: Sequence[Mapping[str, object]],
        prices: Sequence[npt.NDArray[np.int64]],
        list_prices: Sequence[int],
        competitor_prices: Sequence[int | None],
    ) -> list[npt.NDArray[np.float64]]:
        """Batched twin of :meth:`predict_curve` for a page of products, one model call."""
        ...
