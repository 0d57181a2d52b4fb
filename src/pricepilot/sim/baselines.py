"""Simple pricing policies to measure against: what shops do without a model.

Each uses only the public :class:`~pricepilot.sim.policy.ViewRequest` and observed events.

>>> from pricepilot.catalog.models import Product
>>> p = Product(product_id="p1", title="t", category="c", currency="EUR", unit_cost=500,
...             list_price=999)
>>> CostPlusPolicy([p], markup=0.5).prices["p1"]
750
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from pricepilot.catalog.models import Product
from pricepilot.errors import ValidationError
from pricepilot.events.schemas import CompetitorPrice, Event, Purchase, View
from pricepilot.sim.policy import ViewRequest


class ListPricePolicy:
    """Always the list price."""

    def __init__(self, products: Sequence[Product]) -> None:
        self.prices = {p.product_id: p.list_price for p in products}

    def price(self, view: ViewRequest) -> int:
        return self.prices[view.product_id]

    def observe(self, events: Sequence[Event]) -> None:
        return None


class CostPlusPolicy:
    """``cost * (1 + markup)``, rounded to the minor unit."""

    def __init__(self, products: Sequence[Product], markup: float = 0.6) -> None:
        if markup <= -1:
            raise ValidationError("cost-plus policy", "markup", f"must be above -1, got {markup}")
        self.prices = {p.product_id: max(1, int(round(p.unit_cost * (1 + markup)))) for p in products}

    def price(self, view: ViewRequest) -> int:
        return self.prices[view.product_id]

    def observe(self, events: Sequence[Event]) -> None:
        return None


class CompetitorMatchPolicy:
    """Beat the lowest observed competitor price by ``undercut`` (1%), never below cost; the
    list price while no competitor price is known."""

    def __init__(self, products: Sequence[Product], undercut: float = 0.01) -> None:
        if not 0 <= undercut < 1:
            raise ValidationError("competitor-match policy", "undercut", f"must be in [0, 1), got {undercut}")
        self.undercut = undercut
        self.list = {p.product_id: p.list_price for p in products}
        self.cost = {p.product_id: p.unit_cost for p in products}
        self.comp: dict[str, dict[str, int]] = {}

    def price(self, view: ViewRequest) -> int:
        pid = view.product_id
        seen = self.comp.get(pid)
        if not seen:
            return self.list[pid]
        target = int(round(min(seen.values()) * (1 - self.undercut)))
        return max(self.cost[pid], target, 1)

    def observe(self, events: Sequence[Event]) -> None:
        for e in events:
            if isinstance(e, CompetitorPrice):
                self.comp.setdefault(e.product_id, {})[e.competitor] = e.price


class RandomPricePolicy:
    """A uniformly random price between ``low`` and ``high`` times the list price."""

    def __init__(self, products: Sequence[Product], low: float = 0.7, high: float = 1.3,
                 seed: int = 0) -> None:
        if not 0 < low <= high:
            raise ValidationError("random policy", "low", f"need 0 < low <= high, got {low}, {high}")
        self.list = {p.product_id: p.list_price for p in products}
        self.low, self.high = low, high
        self.rng = np.random.default_rng(seed)

    def price(self, view: ViewRequest) -> int:
        return max(1, int(round(self.list[view.product_id] * self.rng.uniform(self.low, self.high))))

    def observe(self, events: Sequence[Event]) -> None:
        return None


class ThompsonPolicy:
    """Per-product Thompson sampling over a price ladder (multiples of the list price).

    Each (product, price) has a Beta(1, 1) prior on the purchase probability of a view, updated
    with the views and purchases it observes; a view is priced at the ladder step whose sampled
    probability times margin is largest. Ladder steps below cost are dropped. A product whose
    guardrails carry a price ladder is priced over that ladder instead.
    """

    def __init__(self, products: Sequence[Product],
                 ladder: Sequence[float] = (0.7, 0.8, 0.9, 1.0, 1.1, 1.2, 1.3), seed: int = 0) -> None:
        if not ladder or any(m <= 0 for m in ladder):
            raise ValidationError("thompson policy", "ladder", "needs positive multipliers")
        self.rng = np.random.default_rng(seed)
        self.ladders: dict[str, np.ndarray] = {}
        self.margin: dict[str, np.ndarray] = {}
        self.alpha: dict[str, np.ndarray] = {}
        self.beta: dict[str, np.ndarray] = {}
        self.index: dict[tuple[str, int], int] = {}
        for p in products:
            steps = (sorted(set(p.guardrails.ladder)) if p.guardrails.ladder
                     else sorted({int(round(p.list_price * m)) for m in ladder}))
            steps = [s for s in steps if s >= p.unit_cost] or [p.list_price]
            arr = np.array(steps, dtype=np.int64)
            self.ladders[p.product_id] = arr
            self.margin[p.product_id] = (arr - p.unit_cost).astype(np.float64)
            self.alpha[p.product_id] = np.ones(arr.size)
            self.beta[p.product_id] = np.ones(arr.size)
            for k, s in enumerate(steps):
                self.index[(p.product_id, s)] = k

    def price(self, view: ViewRequest) -> int:
        pid = view.product_id
        theta = self.rng.beta(self.alpha[pid], self.beta[pid])
        return int(self.ladders[pid][int(np.argmax(theta * self.margin[pid]))])

    def observe(self, events: Sequence[Event]) -> None:
        for e in events:
            if isinstance(e, View):
                k = self.index.get((e.product_id, e.price))
                if k is not None:
                    self.beta[e.product_id][k] += 1
            elif isinstance(e, Purchase):
                k = self.index.get((e.product_id, e.price))
                if k is not None:
                    # the view counted as a failure; turn it into a success
                    self.alpha[e.product_id][k] += 1
                    self.beta[e.product_id][k] -= 1


class LadderSnap:
    """Another policy's prices snapped to the nearest rung of each product's price ladder (a
    shop with ladders would apply its rules that way); products without a ladder unchanged."""

    def __init__(self, policy: ListPricePolicy | CostPlusPolicy | CompetitorMatchPolicy,
                 products: Sequence[Product]) -> None:
        self.policy = policy
        self.rungs = {p.product_id: np.asarray(p.guardrails.ladder, dtype=np.int64)
                      for p in products if p.guardrails.ladder}

    def price(self, view: ViewRequest) -> int:
        price = self.policy.price(view)
        rungs = self.rungs.get(view.product_id)
        if rungs is None:
            return price
        return int(rungs[int(np.abs(rungs - price).argmin())])

    def observe(self, events: Sequence[Event]) -> None:
        self.policy.observe(events)
