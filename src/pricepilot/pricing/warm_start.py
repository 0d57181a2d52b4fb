"""A demand model's history as outcomes for its demand posterior (the posterior's warm start).

The pricing engine explores around its demand model with a per-product correction of the model's
public curve (:class:`~pricepilot.pricing.posterior.DemandPosterior`, level and price slope),
taught by outcomes: a shown price, bought or not, with the curve's probability there. A new
model version starts with an empty posterior, so every product starts at its category's
correction. The history the model was trained on already holds each product's own evidence:
:func:`history_outcomes` turns its in-stock views into outcomes, and learning them before the
first live decision gives every product its own correction at once (the pooled model
under-prices insensitive products; on the simulated shop this was worth 0.5-1.1 points of
profit, docs/benchmarks/shop.md). :meth:`Shop.warm_posterior
<pricepilot.serving.api.Shop.warm_posterior>` does it for a shop.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from pricepilot.demand.training import in_stock
from pricepilot.pricing.engine import SHOPPER_PREFIX
from pricepilot.pricing.posterior import Outcome


def history_outcomes(frame: pd.DataFrame, model: Any) -> list[Outcome]:
    """The in-stock views of a training set (``frame``: the point-in-time layout, with
    ``p_category`` and ``y``) as posterior outcomes: each shown price, bought or not, with the
    model's public probability there (shopper features left out, as the engine's base curve
    leaves them out). Views of a sold-out product are dropped (:func:`in_stock`): nobody could
    buy them at any price."""
    frame = in_stock(frame)
    if frame.empty:
        return []
    public = frame.copy()
    for col in public.columns:
        if col.startswith(SHOPPER_PREFIX):
            public[col] = np.nan if pd.api.types.is_numeric_dtype(public[col]) else None
    probs = model.predict_proba(public)
    return [Outcome(product_id=str(pid), category=str(cat), price=int(price), list_price=int(lp),
                    model_prob=float(q), purchased=bool(y))
            for pid, cat, price, lp, q, y in zip(frame["product_id"], frame["p_category"],
                                                 frame["price"], frame["list_price"], probs,
                                                 frame["y"], strict=True)]


__all__ = ["history_outcomes"]
