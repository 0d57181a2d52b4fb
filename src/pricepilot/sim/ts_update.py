"""TS-update with the inventory LP (Ferreira, Simchi-Levi & Wang 2018) as a market policy.

Per product, a Beta(1, 1) prior on the purchase probability of a view at each price of its
menu (its ladder if it has one, else ``grid`` multiples of the list price, none below cost),
updated by the views and purchases it observes. For every view it draws one posterior sample
``theta`` and solves the single-resource LP of the paper (:func:`~pricepilot.pricing.lp.
solve_single_resource`, read-only use of pricepilot's solver)::

    max  sum_k (p_k - cost) q theta_k x_k   s.t.  sum_k q theta_k x_k <= c(t),  sum_k x_k <= 1

where ``q`` is the product's mean units per purchase so far and ``c(t)`` its remaining stock over
the views still expected before its season end (or the end of the horizon the policy is told),
the views expected from the product's observed view rate. The price is drawn from the mixture
``x``; the leftover ``1 - sum x`` is the paper's shut-off price, here the top of the menu.
Products without finite stock have no constraint (``c = inf``): plain Thompson sampling.
Sold-out products show the list price (nobody can buy them).

>>> from datetime import datetime, timezone
>>> from pricepilot.catalog.models import Product
>>> p = Product(product_id="p1", title="t", category="c", currency="EUR", unit_cost=500,
...             list_price=999, stock=3)
>>> pol = TSUpdatePolicy([p], horizon_end=datetime(2026, 1, 8, tzinfo=timezone.utc))
>>> [int(x) for x in pol.menu[0]]
[699, 799, 899, 999, 1099, 1199, 1299]
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import numpy as np
import numpy.typing as npt

from pricepilot.catalog.models import Product
from pricepilot.clock import to_micros
from pricepilot.errors import ValidationError
from pricepilot.events.schemas import Event, Inventory, Purchase, View
from pricepilot.pricing.lp import draw_from_mixture, solve_single_resource
from pricepilot.sim.policy import ViewBatch, ViewRequest

F = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
GRID = (0.7, 0.8, 0.9, 1.0, 1.1, 1.2, 1.3)
RATE_PRIOR_US = 86_400_000_000  # the view-rate estimate starts from the shop's mean rate, worth a day


def product_menu(p: Product, grid: Sequence[float] = GRID) -> list[int]:
    """The prices a per-product learner tries: the product's ladder, else ``grid`` times its
    list price; never at or below cost (the list price if nothing is left)."""
    if p.guardrails.ladder:
        steps = sorted(set(p.guardrails.ladder))
    else:
        steps = sorted({int(round(p.list_price * m)) for m in grid})
    return [s for s in steps if s > p.unit_cost] or [p.list_price]


class TSUpdatePolicy:
    """TS-update over every product's menu; see the module doc. ``horizon_end``: the end of the
    selling horizon (the paper's T) for products without a season end."""

    def __init__(self, products: Sequence[Product], *, horizon_end: datetime,
                 grid: Sequence[float] = GRID, seed: int = 0) -> None:
        if not products:
            raise ValidationError("TS-update policy", "products", "needs at least one product")
        if horizon_end.tzinfo is None:
            raise ValidationError("TS-update policy", "horizon_end", "must carry a time zone")
        self.ids = [p.product_id for p in products]
        self.pos = {pid: i for i, pid in enumerate(self.ids)}
        menus = [product_menu(p, grid) for p in products]
        k = max(len(m) for m in menus)
        n = len(products)
        self.menu = np.zeros((n, k), np.int64)
        self.valid = np.zeros((n, k), bool)
        self.rung: dict[tuple[str, int], int] = {}
        for i, m in enumerate(menus):
            self.menu[i, :len(m)] = m
            self.menu[i, len(m):] = m[-1]
            self.valid[i, :len(m)] = True
            for j, price in enumerate(m):
                self.rung[(self.ids[i], price)] = j
        self.top = np.array([m[-1] for m in menus], np.int64)
        self.cost = np.array([p.unit_cost for p in products], np.float64)
        self.list_price = np.array([p.list_price for p in products], np.int64)
        self.margin = np.where(self.valid, self.menu - self.cost[:, None], 0.0)
        self.alpha = np.ones((n, k))
        self.beta = np.ones((n, k))
        self.units = np.zeros(n)
        self.orders = np.zeros(n)
        self.stock = np.array([-1 if p.stock is None else p.stock for p in products], np.float64)
        end_us = to_micros(horizon_end)
        self.end_us = np.array([min(end_us, to_micros(p.season_end)) if p.season_end else end_us
                                for p in products], np.float64)
        self.views = np.zeros(n)
        self.first_us: int | None = None
        self.rng = np.random.default_rng(seed)
        self._map: I64 | None = None
        self._map_ids: Sequence[str] | None = None

    # ---- pricing ------------------------------------------------------------------------------
    def capacity(self, now_us: int) -> F:
        """Stock per expected remaining view, per product (inf: no stock limit)."""
        limited = self.stock >= 0
        elapsed = 0.0 if self.first_us is None else max(0.0, now_us - self.first_us)
        mean_rate = self.views.sum() / max(elapsed, 1.0) / len(self.ids)
        rate = (self.views + mean_rate * RATE_PRIOR_US) / (elapsed + RATE_PRIOR_US)
        remaining = np.maximum(self.end_us - now_us, 0.0) * rate
        with np.errstate(divide="ignore", invalid="ignore"):
            cap = np.where(remaining > 0, np.maximum(self.stock, 0.0) / remaining, np.inf)
        return np.where(limited & (elapsed > 0), cap, np.inf)

    def _prices(self, rows: I64, now_us: int) -> I64:
        theta = self.rng.beta(self.alpha[rows], self.beta[rows])
        q = np.where(self.orders[rows] > 0, self.units[rows] / np.maximum(self.orders[rows], 1), 1.0)
        demand = np.where(self.valid[rows], theta * q[:, None], 0.0)
        reward = demand * self.margin[rows]
        cap = self.capacity(now_us)[rows]
        x, _ = solve_single_resource(reward, demand, np.minimum(cap, 1e12))
        pick = draw_from_mixture(x, self.rng.random(rows.size))
        k = self.menu.shape[1]
        prices = np.where(pick < k, self.menu[rows, np.minimum(pick, k - 1)], self.top[rows])
        sold_out = self.stock[rows] == 0
        out: I64 = np.where(sold_out, self.list_price[rows], prices).astype(np.int64)
        return out

    def price(self, view: ViewRequest) -> int:
        row = np.array([self.pos[view.product_id]], np.int64)
        return int(self._prices(row, to_micros(view.ts))[0])

    def price_batch(self, batch: ViewBatch) -> I64:
        mapping = self._map
        if mapping is None or self._map_ids is not batch.product_ids:
            mapping = np.array([self.pos[p] for p in batch.product_ids], np.int64)
            self._map, self._map_ids = mapping, batch.product_ids
        rows = mapping[batch.product_index]
        if rows.size == 0:
            return np.zeros(0, np.int64)
        return self._prices(rows, int(batch.ts[0]))

    # ---- learning -----------------------------------------------------------------------------
    def observe(self, events: Sequence[Event]) -> None:
        for e in events:
            if isinstance(e, View):
                i = self.pos.get(e.product_id)
                if i is None:
                    continue
                self.views[i] += 1
                if self.first_us is None:
                    self.first_us = to_micros(e.ts)
                k = self.rung.get((e.product_id, e.price))
                if k is not None:
                    self.beta[i, k] += 1
            elif isinstance(e, Purchase):
                i = self.pos.get(e.product_id)
                if i is None:
                    continue
                k = self.rung.get((e.product_id, e.price))
                if k is not None:  # the view counted as a failure; turn it into a success
                    self.alpha[i, k] += 1
                    self.beta[i, k] -= 1
                self.units[i] += e.quantity
                self.orders[i] += 1
                if self.stock[i] >= 0:
                    self.stock[i] = max(0.0, self.stock[i] - e.quantity)
            elif isinstance(e, Inventory):
                i = self.pos.get(e.product_id)
                if i is not None:
                    self.stock[i] = float(e.stock)
