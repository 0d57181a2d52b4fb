r"""How much a training set says about each product's price slope.

For a logit demand ``logit P = a + b (r − 1)`` with ``r = price / list``, the Fisher information
about ``b`` in ``n`` views is ``Σ p (1 − p) (r − r̄)²``: zero when every view was at one price,
growing with the spread of the prices shown and with the number of views. The pricing engine
trusts a trained model's slope as far as this says it can
(:mod:`pricepilot.pricing.price_response`); every fitted
:class:`~pricepilot.demand.models.DemandEstimator` keeps it as ``price_information_``.

Keys: each product id, and ``category:<name>`` for each category (the spread of the category's
views around each of its products' own mean ratio, summed: what a model pooling the category has
learnt its slope from, used for a product without views of its own). ``p`` is the product's (or
category's) purchase rate, kept inside ``[0.01, 0.5]`` so that a product with no sale yet still
counts its price spread.

>>> import pandas as pd
>>> f = pd.DataFrame({"product_id": ["A"] * 4 + ["B"] * 4, "p_category": ["c"] * 8,
...                   "price": [900, 1000, 1100, 1000, 500, 500, 500, 500],
...                   "list_price": [1000] * 4 + [500] * 4, "y": [1, 0, 0, 1, 0, 1, 0, 0]})
>>> info = price_information(f)
>>> round(info["A"], 4), info["B"], round(info["category:c"], 4)
(0.005, 0.0, 0.0047)
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def price_information(frame: pd.DataFrame) -> dict[str, float] | None:
    """``{product_id: I, "category:<c>": I}`` from a training frame (see the module doc); None
    when the frame lacks the shown and list prices (nothing can be said: the model's slope is
    then trusted as it is)."""
    need = {"product_id", "price", "list_price", "y"}
    if not need <= set(frame.columns):
        return None
    r = frame["price"].to_numpy(dtype=np.float64) / frame["list_price"].to_numpy(dtype=np.float64)
    f = pd.DataFrame({"product": frame["product_id"].astype(str).to_numpy(), "r": r,
                      "y": frame["y"].to_numpy(dtype=np.float64)})
    f["dev2"] = (f["r"] - f.groupby("product")["r"].transform("mean")) ** 2
    out: dict[str, float] = {}
    by = f.groupby("product").agg(ss=("dev2", "sum"), p=("y", "mean"))
    p = by["p"].clip(0.01, 0.5)
    for pid, v in (by["ss"] * p * (1 - p)).items():
        out[str(pid)] = float(v)
    if "p_category" in frame.columns:
        f["category"] = frame["p_category"].astype(str).to_numpy()
        cat = f.groupby("category").agg(ss=("dev2", "sum"), p=("y", "mean"))
        pc = cat["p"].clip(0.01, 0.5)
        for c, v in (cat["ss"] * pc * (1 - pc)).items():
            out[f"category:{c}"] = float(v)
    return out
