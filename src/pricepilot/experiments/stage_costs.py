"""What each stage of pricepilot's decision costs, measured under the simulator's true demand.

Every quote carries its explanation: the model's price, then the price after each later stage
(smoothing, each guardrail, the personal layer). :class:`ExplainedShopPolicy` keeps them, one per
priced view in the run's order. :func:`stage_costs` then prices every view at each stage's
price under the *true* demand of that view (the same expected profit the run is scored by) and
attributes the difference between consecutive stages to the later one: a stage's cost is the
expected profit the view had before it minus the expected profit after it (positive: the stage
lost profit). The decision explanations carry prices, not the engine's own estimate of a
stage's cost, so this is the cost seen by the truth, myopically (a stage's effect on tomorrow's
reference price, stock or competitor reaction is not counted).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pandas as pd

from pricepilot.clock import FixedClock
from pricepilot.experiments.shop_policy import ShopApiPolicy
from pricepilot.serving.api import Shop
from pricepilot.serving.schemas import Quote
from pricepilot.sim.demand import (
    DemandContext,
    ProductTruth,
    ShopperTruth,
    true_purchase_probability,
)
from pricepilot.sim.market import Market
from pricepilot.sim.oracle import truth_of_decisions

F = npt.NDArray[np.float64]
SERVED = "served"  # the served price, after every explained stage


class ExplainedShopPolicy(ShopApiPolicy):
    """:class:`ShopApiPolicy` that also keeps every quote's explanation as
    ``[(stage, price after it), ...]``, in the order the views were priced."""

    def __init__(self, shop: Shop, clock: FixedClock, *, run_id: str = "run") -> None:
        super().__init__(shop, clock, run_id=run_id)
        self.steps: list[list[tuple[str, int]]] = []

    def _quote(self, customer_id: str, product_id: str, ts_us: int, session_id: str | None,
               channel: str | None, device: str | None) -> Quote:
        quote = super()._quote(customer_id, product_id, ts_us, session_id, channel, device)
        self.steps.append([(e.stage, e.price) for e in quote.explanation])
        return quote


def stage_order(steps: Sequence[Sequence[tuple[str, int]]]) -> list[str]:
    """Every stage name, in decision order: a stage first seen is placed right after the stage
    before it in that quote (at the front if it is the quote's first), so a fallback quote
    that starts at the guardrails does not put the model after them.

    >>> stage_order([[("ceiling", 1), ("band", 1)], [("model", 1), ("smoothing", 1), ("ceiling", 1)]])
    ['model', 'smoothing', 'ceiling', 'band']
    """
    order: list[str] = []
    for quote in steps:
        prev: str | None = None
        for name, _ in quote:
            if name not in order:
                order.insert(0 if prev is None else order.index(prev) + 1, name)
            prev = name
    return order


def stage_prices(steps: Sequence[Sequence[tuple[str, int]]], served: npt.ArrayLike) -> tuple[list[str], F]:
    """(stage names, (views, stages + 1) prices): the price after each stage, carried forward
    where a quote's explanation skips it, and the served price last. A quote with no
    explanation is the served price throughout.

    >>> names, p = stage_prices([[("model", 120), ("smoothing", 110)], []], [100, 90])
    >>> names, p.tolist()
    (['model', 'smoothing', 'served'], [[120.0, 110.0, 100.0], [90.0, 90.0, 90.0]])
    """
    names = stage_order(steps)
    pos = {n: i for i, n in enumerate(names)}
    final = np.asarray(served, dtype=np.float64)
    out = np.full((final.size, len(names) + 1), np.nan)
    out[:, -1] = final
    for r, quote in enumerate(steps):
        for name, price in quote:
            out[r, pos[name]] = price
    # carry forward; a view whose first stages are missing starts at its first known price
    for c in range(1, out.shape[1]):
        out[:, c] = np.where(np.isnan(out[:, c]), out[:, c - 1], out[:, c])
    first = np.where(np.isnan(out), np.inf, 0.0).argmin(axis=1)
    head = out[np.arange(out.shape[0]), first]
    out = np.where(np.isnan(out), head[:, None], out)
    return names + [SERVED], out


def _true_profit(market: Market, decisions: pd.DataFrame, prices: F) -> F:
    tb = truth_of_decisions(market, decisions)
    st = ShopperTruth(tb.shopper.sensitivity, tb.shopper.affinity, tb.shopper.n_categories)
    pt = ProductTruth(tb.product.shape, tb.product.alpha, tb.product.beta, tb.product.list_price)
    ctx = DemandContext(tb.context.reference_price, tb.context.lowest_competitor, tb.context.holiday)
    prob = true_purchase_probability(st, pt, prices, ctx, market.demand_params)
    w = (tb.expected_quantity * tb.available)[:, None]
    profit: F = prob * w * (prices - tb.cost[:, None])
    return profit


def stage_costs(market: Market, decisions: pd.DataFrame,
                steps: Sequence[Sequence[tuple[str, int]]]) -> pd.DataFrame:
    """One row per stage: decisions it moved (``moved``, ``moved_down``), the mean relative
    price change it made (``mean_change``, over all decisions), and its ``cost``: the expected
    profit before it minus after it under the true demand (minor units; positive = lost), also
    as a share of the run's expected profit (``cost_share``). The first stage (the model's
    price) has no cost; ``served`` catches any difference the explanation does not name."""
    if len(steps) != len(decisions):
        raise ValueError(f"{len(steps)} explanations for {len(decisions)} decisions")
    cols = ["stage", "moved", "moved_down", "mean_change", "cost", "cost_share"]
    if not len(decisions):
        return pd.DataFrame(columns=cols)
    names, prices = stage_prices(steps, decisions["price"].to_numpy())
    profit = _true_profit(market, decisions, prices)
    total = float(decisions["expected_profit"].sum()) or 1.0
    rows = []
    for c, name in enumerate(names):
        before = prices[:, c - 1] if c else prices[:, 0]
        after = prices[:, c]
        cost = float((profit[:, c - 1] - profit[:, c]).sum()) if c else 0.0
        rows.append(dict(stage=name, moved=int((after != before).sum()),
                         moved_down=int((after < before).sum()),
                         mean_change=float(np.mean(after / before - 1.0)),
                         cost=cost, cost_share=cost / total))
    return pd.DataFrame(rows, columns=cols)
