"""The per-arrival objective of each candidate price, and the opportunity cost of stock.

``reward(p) = weight(p) · P(p)``, where the weight is the margin ``p − cost`` (profit), the price
(revenue) or ``w·p + (1 − w)(p − cost)`` (mix with ``revenue_weight = w``). Money is converted to
float major units only here, for the optimisation; served prices stay integer minor units.

With finite stock and a season end, the objective becomes the TS-update LP (see
:mod:`pricepilot.pricing.lp`): maximise reward subject to expected sales per arrival not exceeding
``stock / remaining arrivals``; the LP's mixture prices in the opportunity cost of stock. Finite
stock without a season still to come (none set, or already past) is planned over a rolling
horizon (``pricing.stock_horizon_days``): the stock should last that long; without a horizon it
is sold at the unconstrained optimum.

>>> import numpy as np
>>> margin_weights(np.array([1000, 1500]), 800, "profit", 0.0).tolist()
[200.0, 700.0]
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import numpy.typing as npt

F = npt.NDArray[np.float64]


def margin_weights(prices: npt.NDArray[np.int64], cost: int, objective: str, revenue_weight: float) -> F:
    p = prices.astype(np.float64)
    if objective == "revenue":
        return p
    if objective == "profit":
        return p - cost
    return revenue_weight * p + (1.0 - revenue_weight) * (p - cost)


def stock_capacity(
    stock: int | None, season_end: datetime | None, now: datetime, arrivals_per_hour: float | None,
    horizon_hours: float | None = None, units_per_purchase: float = 1.0,
) -> float | None:
    """Purchases the stock allows per remaining arrival (the stock over the units a purchase
    takes, per remaining arrival), or None when stock cannot bind (none, nothing to plan over,
    or at least one purchase per expected shopper).

    The remaining arrivals are counted to the season end, or over ``horizon_hours`` when no
    season end is still to come (none set, or already past); neither: no constraint. Shoppers
    who buy two units at a time empty a shelf twice as fast: the LP, which counts purchases,
    sees the stock divided by ``units_per_purchase``.

    >>> from datetime import datetime, timezone
    >>> now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    >>> end = datetime(2026, 1, 2, tzinfo=timezone.utc)
    >>> stock_capacity(12, end, now, 1.0), stock_capacity(12, end, now, 1.0, units_per_purchase=1.5)
    (0.5, 0.3333333333333333)
    """
    if stock is None or arrivals_per_hour is None:
        return None
    if not np.isfinite(arrivals_per_hour) or arrivals_per_hour <= 0:
        return None
    hours = (season_end - now).total_seconds() / 3600.0 if season_end is not None else 0.0
    if hours <= 0:
        if horizon_hours is None or horizon_hours <= 0:
            return None  # nothing to plan over: sell at the unconstrained optimum
        hours = horizon_hours
    q = units_per_purchase if np.isfinite(units_per_purchase) and units_per_purchase >= 1.0 else 1.0
    cap = float(stock) / (q * arrivals_per_hour * hours)
    # a shopper buys at most one unit at any price, so one unit or more per expected shopper
    # can never bind: the LP would return the unconstrained optimum, at several times its cost
    return cap if cap < 1.0 else None
