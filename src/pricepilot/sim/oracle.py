"""Oracles: the best prices under the *true* demand. For evaluation only, never for a policy.

* **Personalised oracle** (:func:`optimal_view_prices`): for each view, the price maximising
  that view's expected profit ``P(buy | shopper, product, p, context) * E[quantity] * (p - cost)``.
  It knows the shopper's latent sensitivity and affinity: no real policy can do better on the
  same view, so it is the ceiling of personalised pricing.
* **Period oracle** (:func:`optimal_period_prices`): one price per product and day maximising the
  summed expected profit over that day's viewers of the product. The ceiling of non-personalised
  (posted) pricing. Personalised >= period on the same views, by construction.

Both are *myopic*: they maximise the expected profit of each decision in the context it happens
in (the reference price, competitor prices and stock availability at that moment) and ignore how
today's price moves tomorrow's reference price, competitor reactions or the value of keeping
stock. Finite stock: a view of a sold-out product yields 0 whatever the price (so both oracle and
policy get 0 there); otherwise stock is treated as unconstrained (opportunity cost 0) and the
quantity's truncation at the last units is ignored in the expectation.

Prices are searched on a grid from cost to 3x list price, refined around the best point, plus the
lowest competitor price and the reference price (the reference shape's kink), refined twice
around the best point and rounded to the better neighbouring whole minor unit. :func:`oracle_report` evaluates both oracles on the views of a finished run, so a policy
can be compared with them on exactly the same views and contexts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from pricepilot.sim.demand import (
    DemandContext,
    ProductTruth,
    ShopperTruth,
    true_purchase_probability,
)
from pricepilot.sim.market import Market, RunResult, TruthBatch

F = npt.NDArray[np.float64]
I = npt.NDArray[np.int64]
GRID = 121
REFINE = 41
REFINE_PASSES = 2  # each pass shrinks the step 20x: from ~2.5% of list to well under a cent
MAX_MULT = 3.0
_CHUNK = 4096


def _candidates(cost: F, list_price: F, kinks: list[F]) -> F:
    lo = np.maximum(cost, 1.0)
    hi = np.maximum(list_price * MAX_MULT, lo + 1.0)
    t = np.linspace(0.0, 1.0, GRID)
    grid = lo[:, None] + (hi - lo)[:, None] * t[None, :]
    # numpy fills NaN from an array ``nan`` element-wise; its stubs only allow a float
    extra = [np.clip(np.nan_to_num(k, nan=lo), lo, hi)[:, None]  # type: ignore[call-overload]
             for k in kinks]
    return np.concatenate([grid] + extra, axis=1)


def _profit(tb: TruthBatch, rows: slice | I, cand: F, params: object) -> F:
    st = ShopperTruth(tb.shopper.sensitivity[rows], tb.shopper.affinity[rows], tb.shopper.n_categories)
    pt = ProductTruth(tb.product.shape[rows], tb.product.alpha[rows], tb.product.beta[rows],
                      tb.product.list_price[rows])
    ctx = DemandContext(tb.context.reference_price[rows], tb.context.lowest_competitor[rows],
                        tb.context.holiday[rows])
    prob = true_purchase_probability(st, pt, cand, ctx, params)  # type: ignore[arg-type]
    w = (tb.expected_quantity[rows] * tb.available[rows])[:, None]
    return prob * w * (cand - tb.cost[rows][:, None])


def _integer_neighbours(best: F) -> F:
    return np.stack([np.floor(best), np.ceil(best)], axis=1)


def optimal_view_prices(tb: TruthBatch, market: Market) -> tuple[I, F]:
    """Personalised oracle: (price per view in minor units, its expected profit)."""
    n = tb.cost.size
    prices = np.zeros(n, np.int64)
    value = np.zeros(n)
    params = market.demand_params
    for s in range(0, n, _CHUNK):
        rows = slice(s, min(n, s + _CHUNK))
        cost, lp = tb.cost[rows], tb.product.list_price[rows]
        cand = _candidates(cost, lp, [tb.context.lowest_competitor[rows], tb.context.reference_price[rows]])
        prof = _profit(tb, rows, cand, params)
        best = cand[np.arange(cand.shape[0]), np.argmax(prof, axis=1)]
        lo = np.maximum(cost, 1.0)
        step = (np.maximum(lp * MAX_MULT, lo + 1) - lo) / (GRID - 1)
        for _ in range(REFINE_PASSES):
            fine = np.clip(best[:, None] + step[:, None] * np.linspace(-1, 1, REFINE)[None, :],
                           lo[:, None], None)
            cand2 = np.concatenate([fine, best[:, None]], axis=1)
            prof2 = _profit(tb, rows, cand2, params)
            best = cand2[np.arange(cand2.shape[0]), np.argmax(prof2, axis=1)]
            step = step * 2 / (REFINE - 1)
        best2 = best
        ints = np.maximum(_integer_neighbours(best2), 1.0)
        prof3 = _profit(tb, rows, ints, params)
        k3 = np.argmax(prof3, axis=1)
        prices[rows] = ints[np.arange(ints.shape[0]), k3].astype(np.int64)
        value[rows] = prof3[np.arange(ints.shape[0]), k3]
    return prices, value


def optimal_period_prices(tb: TruthBatch, market: Market, group: I) -> tuple[I, F]:
    """Period oracle: one price per group (e.g. product of a day) maximising the group's summed
    expected profit. Returns (price per view, expected profit per view at that price)."""
    n = tb.cost.size
    if n == 0:
        return np.zeros(0, np.int64), np.zeros(0)
    params = market.demand_params
    uniq, inv = np.unique(group, return_inverse=True)
    first = np.zeros(uniq.size, np.int64)
    first[inv[::-1]] = np.arange(n)[::-1]
    cost_g, lp_g = tb.cost[first], tb.product.list_price[first]
    # reference and competitor prices are constant within a day; take each group's first view's
    kinks_g = [tb.context.lowest_competitor[first], tb.context.reference_price[first]]
    cand_g = _candidates(cost_g, lp_g, kinks_g)

    by_group = np.argsort(inv, kind="stable")

    def total(cand_g: F) -> F:
        out = np.zeros((uniq.size, cand_g.shape[1]))
        for s in range(0, n, _CHUNK):
            rows = by_group[s:s + _CHUNK]
            g = inv[rows]
            starts = np.flatnonzero(np.r_[True, g[1:] != g[:-1]])
            prof = _profit(tb, rows, cand_g[g], params)
            out[g[starts]] += np.add.reduceat(prof, starts, axis=0)  # groups unique per chunk
        return out

    tot = total(cand_g)
    best = cand_g[np.arange(uniq.size), np.argmax(tot, axis=1)]
    lo = np.maximum(cost_g, 1.0)
    step = (np.maximum(lp_g * MAX_MULT, lo + 1) - lo) / (GRID - 1)
    for _ in range(REFINE_PASSES):
        fine = np.clip(best[:, None] + step[:, None] * np.linspace(-1, 1, REFINE)[None, :],
                       lo[:, None], None)
        cand2 = np.concatenate([fine, best[:, None]], axis=1)
        best = cand2[np.arange(uniq.size), np.argmax(total(cand2), axis=1)]
        step = step * 2 / (REFINE - 1)
    best2 = best
    ints = np.maximum(_integer_neighbours(best2), 1.0)
    k3 = np.argmax(total(ints), axis=1)
    price_g = ints[np.arange(uniq.size), k3].astype(np.int64)
    prices = price_g[inv]
    per_view = _profit(tb, np.arange(n), prices[:, None].astype(np.float64), params)[:, 0]
    return prices, per_view


def truth_of_decisions(market: Market, decisions: pd.DataFrame) -> TruthBatch:
    """Rebuild the oracle inputs of every view of a run from its ``decisions`` frame."""
    c = market.catalog
    sh = decisions["shopper"].to_numpy(np.int64)
    pr = decisions["product"].to_numpy(np.int64)
    st = ShopperTruth(market.shoppers.sensitivity[sh],
                      market.shoppers.affinity[sh, c.category[pr]], market.config.categories)
    pt = ProductTruth(c.shape[pr], c.alpha[pr], c.beta[pr], c.list_price[pr].astype(np.float64))
    ctx = DemandContext(decisions["reference"].to_numpy(np.float64),
                        decisions["lowest_competitor"].to_numpy(np.float64),
                        decisions["holiday"].to_numpy(bool))
    return TruthBatch(st, pt, ctx, c.cost[pr].astype(np.float64), 1.0 + c.quantity_extra[pr],
                      decisions["available"].to_numpy(bool), pr)


def oracle_report(market: Market, result: RunResult) -> pd.DataFrame:
    """Per day: the policy's expected profit and both oracles' on the same views and contexts."""
    dec = result.decisions
    tb = truth_of_decisions(market, dec)
    _, pers = optimal_view_prices(tb, market)
    day = dec["day"].to_numpy(np.int64)
    group = day * market.catalog.n + dec["product"].to_numpy(np.int64)
    _, per = optimal_period_prices(tb, market, group)
    df = pd.DataFrame({"day": day, "policy": dec["expected_profit"].to_numpy(),
                       "period_oracle": per, "personalised_oracle": pers})
    return df.groupby("day", as_index=False).sum()


@dataclass
class PersonalisedOracle:
    """The personalised oracle as a policy for :meth:`Market.run` (reads the truth; evaluation
    only). Its prices are myopically optimal per view in the run's own contexts."""

    market: Market

    def truth_prices(self, batch: TruthBatch) -> I:
        return optimal_view_prices(batch, self.market)[0]


@dataclass
class PeriodOracle:
    """One price per product and day, optimal for that day's viewers (knows them in advance)."""

    market: Market
    _day: object = None
    _prices: dict[int, int] | None = None

    def truth_prices(self, batch: TruthBatch) -> I:
        if batch.day_truth is not self._day or self._prices is None:
            assert batch.day_truth is not None  # set by Market.run for every chunk
            whole = batch.day_truth()
            prices, _ = optimal_period_prices(whole, self.market, whole.product_index)
            self._prices = dict(zip(whole.product_index.tolist(), prices.tolist()))
            self._day = batch.day_truth
        return np.array([self._prices[int(p)] for p in batch.product_index], dtype=np.int64)
