"""What each stage of the pipeline costs in expected profit, so a shop sees what each rule costs it.

A stage that moves the price from ``before`` to ``after`` costs
``P(before) (before − cost) − P(after) (after − cost)`` per view, in minor units, with ``P`` the
posterior-mean demand curve the decision was made on (interpolated between candidate prices,
flat beyond them). Positive: the rule gave up expected profit (what it buys instead is its
reason to exist: a stable public price, a competitive one, a margin). Negative: the rule moved
the price somewhere the curve expects more profit (e.g. a floor above a price chosen to explore).
A stage that did not move the price costs 0. Summed over the decision log
(:func:`guardrail_costs`, ``pricepilot guardrail-costs``, ``Shop.guardrail_costs``) it is the
expected profit each rule costs the shop.

>>> import numpy as np
>>> from pricepilot.pricing.decision import StageEffect
>>> st = [StageEffect(stage="max_change", before=1200, after=1100, rule="daily change")]
>>> cands, mean = np.array([1000, 1100, 1200]), np.array([0.5, 0.4, 0.3])
>>> with_costs(st, cands, mean, 600)[0].profit_cost  # 0.3 x 600 - 0.4 x 500
-20.0
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import msgspec
import numpy as np
import numpy.typing as npt
import pandas as pd

from pricepilot.pricing.decision import StageEffect


def with_costs(stages: Sequence[StageEffect], cands: npt.NDArray[np.int64],
               mean: npt.NDArray[np.float64], unit_cost: int) -> list[StageEffect]:
    """``stages`` with ``profit_cost`` set from the mean curve over ``cands``."""
    costs = page_costs(np.array([[st.before for st in stages]]),
                       np.array([[st.after for st in stages]]), cands[None, :], mean[None, :],
                       np.array([unit_cost]))[0]
    return [msgspec.structs.replace(st, profit_cost=c) for st, c in zip(stages, costs, strict=True)]


def page_costs(before: npt.NDArray[np.int64], after: npt.NDArray[np.int64],
               cands: npt.NDArray[np.int64], mean: npt.NDArray[np.float64],
               unit_cost: npt.NDArray[np.int64]) -> list[list[float]]:
    """Every stage's cost for a page at once: ``before`` / ``after`` (n, S) prices per product
    and stage, ``cands`` / ``mean`` (n, k) each product's ascending candidates and mean curve
    (linear between candidates, flat beyond), ``unit_cost`` (n,); rounded to 4 decimals, 0 where
    a stage did not move the price."""
    xs = np.stack([before, after], axis=-1).astype(np.float64)  # (n, S, 2)
    c = cands.astype(np.float64)[:, None, None, :]  # (n, 1, 1, k)
    k = cands.shape[1]
    above = (c <= xs[..., None]).sum(axis=-1)  # candidates at or below each price
    lo = np.clip(above - 1, 0, k - 1)
    hi = np.clip(above, 0, k - 1)
    rows = np.arange(cands.shape[0])[:, None, None]
    x0, x1 = cands[rows, lo].astype(np.float64), cands[rows, hi].astype(np.float64)
    p0, p1 = mean[rows, lo], mean[rows, hi]
    span = x1 - x0
    w = np.where(span > 0, (xs - x0) / np.where(span > 0, span, 1.0), 0.0)
    value = (p0 + w * (p1 - p0)) * (xs - unit_cost[:, None, None])
    cost = np.where(before != after, np.round(value[..., 0] - value[..., 1], 4), 0.0)
    out: list[list[float]] = cost.tolist()
    return out


COST_COLUMNS = ("stage", "decisions", "moved", "moved_share", "moved_down", "profit_cost",
                "profit_cost_per_decision")


def guardrail_costs(explanations: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Per stage, over logged decisions' explanations (the decision log's ``explanation``
    column): how many decisions it moved (and how many down), and the expected profit it cost in
    total and per decision, minor units. Fallback decisions (no curve) count as decisions only.

    >>> e = {"stages": [{"stage": "smoothing", "before": 1200, "after": 1100, "profit_cost": 5.0},
    ...                 {"stage": "margin_floor", "before": 1100, "after": 1100, "profit_cost": 0.0}]}
    >>> float(guardrail_costs([e, e]).set_index("stage").loc["smoothing", "profit_cost"])
    10.0
    """
    rows: dict[str, list[float]] = {}
    n = 0
    for e in explanations:
        n += 1
        for st in e.get("stages") or ():
            r = rows.setdefault(str(st["stage"]), [0, 0, 0.0])
            if st["before"] != st["after"]:
                r[0] += 1
                r[1] += int(st["after"] < st["before"])
            cost = st.get("profit_cost")
            if cost is not None:
                r[2] += float(cost)
    out = pd.DataFrame(
        [(stage, n, int(m), (m / n) if n else 0.0, int(d), round(c, 2), (c / n) if n else 0.0)
         for stage, (m, d, c) in rows.items()], columns=list(COST_COLUMNS))
    return out.sort_values("profit_cost", ascending=False, ignore_index=True)
