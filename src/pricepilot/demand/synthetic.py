"""Training frames with a known true demand, for tests and benchmarks of the demand models.

The true purchase probability is a logistic function of the price ratio to list price, with a
price sensitivity that depends on the shopper's tier and the product's category, plus a few
context effects. Because the truth is known, a model can be checked against it: its AUC against
the truth, its calibration, and the sign and size of its implied price elasticity.

>>> frame = synthetic_frame(1_000, seed=1)
>>> set(FEATURES) <= set(frame.columns), int(frame["y"].isin([0, 1]).all())
(True, 1)
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

from pricepilot.demand.base import FEATURES

TIERS = ("bronze", "silver", "gold")
CATEGORIES = ("shoes", "books", "garden", "toys")
DEVICES = ("mobile", "desktop")
REGIONS = ("north", "south", "east", "west")
CHANNELS = ("web", "app", "email")
# Price sensitivity (slope of the logit in the price ratio) by tier and category.
TIER_SLOPE = {"bronze": -7.0, "silver": -5.0, "gold": -3.0}
CATEGORY_SLOPE = {"shoes": -1.0, "books": 0.0, "garden": -0.5, "toys": 1.0}
START_MICROS = 1_767_225_600_000_000  # 2026-01-01T00:00:00Z


def true_logit(
    ratio: npt.NDArray[np.float64],
    tier: npt.NDArray[np.object_],
    category: npt.NDArray[np.object_],
    affinity: npt.NDArray[np.float64],
    holiday: npt.NDArray[np.float64],
) -> npt.NDArray[np.float64]:
    """The true logit of P(purchase): falls with the price ratio, steeper for bronze shoppers."""
    slope: npt.NDArray[np.float64] = (
        np.array([TIER_SLOPE[t] for t in tier]) + np.array([CATEGORY_SLOPE[c] for c in category])
    )
    return -1.0 + slope * (ratio - 1.0) + 1.5 * affinity + 0.5 * holiday


def synthetic_frame(rows: int, seed: int = 0, currency: str = "EUR") -> pd.DataFrame:
    """A training frame (every FEATURES column, prices, ``ts`` and label ``y``) of known demand.

    Rows are in time order over 60 days; about 15% of shoppers have no tier (missing category)
    and about 40% of rows have no known competitor price.
    """
    rng = np.random.default_rng(seed)
    n = rows
    tier = rng.choice(np.array(TIERS, dtype=object), n)
    category = rng.choice(np.array(CATEGORIES, dtype=object), n)
    list_price = rng.choice(np.array([999, 1999, 4999, 9999]), n).astype(np.int64)
    ratio = rng.uniform(0.7, 1.3, n)
    price = np.maximum(np.round(list_price * ratio), 1).astype(np.int64)
    ratio = price / list_price
    has_comp = rng.random(n) < 0.6
    comp = np.where(has_comp, np.round(list_price * rng.uniform(0.85, 1.15, n)), np.nan)
    affinity = rng.beta(2, 5, n)
    holiday = (rng.random(n) < 0.1).astype(np.float64)
    logit = true_logit(ratio, tier, category, affinity, holiday)
    p_true = 1.0 / (1.0 + np.exp(-logit))
    y = (rng.random(n) < p_true).astype(np.int64)
    ts = START_MICROS + np.sort(rng.integers(0, 60 * 86_400_000_000, n))
    hours = (ts // 3_600_000_000) % 24
    weekday = ((ts // 86_400_000_000) + 3) % 7  # 1970-01-01 was a Thursday
    tier_obs = tier.copy()
    tier_obs[rng.random(n) < 0.15] = None
    recency = rng.exponential(30, n)
    recency[rng.random(n) < 0.3] = np.nan
    data: dict[str, object] = {
        "u_recency_days": recency,
        "u_frequency_90d": rng.poisson(2, n).astype(np.float64),
        "u_monetary_90d": rng.gamma(2, 40, n),
        "u_views_7d": rng.poisson(5, n).astype(np.float64),
        "u_affinity": affinity,
        "u_paid_vs_list": np.where(rng.random(n) < 0.5, rng.uniform(0.8, 1.05, n), np.nan),
        "u_session_views": rng.poisson(3, n).astype(np.float64),
        "u_tier": tier_obs,
        "u_device": rng.choice(np.array(DEVICES, dtype=object), n),
        "u_region": rng.choice(np.array(REGIONS, dtype=object), n),
        "u_channel": rng.choice(np.array(CHANNELS, dtype=object), n),
        "p_category": category,
        "p_product": None,  # filled from product_id below (drawn last, keeping the draws' order)
        "p_views_7d": rng.poisson(200, n).astype(np.float64),
        "p_purchases_7d": rng.poisson(10, n).astype(np.float64),
        "p_conversion_7d": rng.uniform(0.01, 0.1, n),
        "p_stock": np.where(rng.random(n) < 0.5, rng.integers(0, 500, n), np.nan),
        "p_days_to_season_end": np.full(n, np.nan),
        "p_comp_on_promo": (rng.random(n) < 0.1).astype(np.float64),
        "c_hour": hours.astype(np.float64),
        "c_weekday": weekday.astype(np.float64),
        "c_holiday": holiday,
        "x_price_ratio_list": price / list_price,
        "x_price_ratio_comp": price / comp,
        "x_log_price": np.log(price / 100.0),
    }
    frame = pd.DataFrame({name: data[name] for name in FEATURES})
    frame["price"] = price
    frame["list_price"] = list_price
    frame["competitor_price"] = comp
    frame["currency"] = currency
    frame["ts"] = ts.astype(np.int64)
    frame["user_id"] = [f"u{i}" for i in rng.integers(0, max(n // 5, 1), n)]
    frame["product_id"] = [f"p{i}" for i in rng.integers(0, 200, n)]
    frame["p_product"] = frame["product_id"]
    frame["y"] = y
    frame["p_true"] = p_true  # not a model input: the truth, for checks
    return frame
