"""The applicator's working state: the cart as units with a running net price each.

Every unit of every line is one entry, so "the cheapest unit", per-unit floors and items consumed
by a deal are exact. Shipping lines are units too (``is_ship``), reached only by shipping
benefits and order discounts that include shipping.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pricepilot.money import allocate


@dataclass
class Units:
    """Immutable per-cart facts, shared by every combination the search tries."""

    line: list[int] = field(default_factory=list)  # canonical line index (-1-k for shipping k)
    sku: list[str] = field(default_factory=list)
    category: list[str | None] = field(default_factory=list)
    brand: list[str | None] = field(default_factory=list)
    orig: list[int] = field(default_factory=list)
    floor: list[int] = field(default_factory=list)
    is_ship: list[bool] = field(default_factory=list)
    method: list[str | None] = field(default_factory=list)
    gift_of: list[str | None] = field(default_factory=list)  # gift units: the promotion adding them
    cache: dict[int, tuple[object, list[int]]] = field(default_factory=dict)
    runs: list[tuple[int, int]] = field(default_factory=list)  # item lines: (first unit, count)

    def add(self, line: int, sku: str, category: str | None, brand: str | None, price: int,
            floor: int, *, ship: bool = False, method: str | None = None,
            gift_of: str | None = None) -> int:
        self.gift_of.append(gift_of)
        self.cache.clear()
        idx = len(self.gift_of) - 1
        if not ship and gift_of is None:
            if self.runs and self.line[self.runs[-1][0]] == line and self.runs[-1][0] + self.runs[-1][1] == idx:
                self.runs[-1] = (self.runs[-1][0], self.runs[-1][1] + 1)
            else:
                self.runs.append((idx, 1))
        self.line.append(line)
        self.sku.append(sku)
        self.category.append(category)
        self.brand.append(brand)
        self.orig.append(price)
        self.floor.append(floor)
        self.is_ship.append(ship)
        self.method.append(method)
        return len(self.orig) - 1


@dataclass
class Application:
    """One application of a benefit: ``amount`` spread over ``units`` by ``weights``.

    ``redistribute``: a unit that hits its floor passes its share to the others (amounts off);
    otherwise the share is simply lost (percentages never exceed their rate on any unit).
    """

    amount: int
    units: list[int]
    weights: list[int]
    redistribute: bool
    consume: list[int] = field(default_factory=list)


def split(total: int, weights: list[int], mode: str) -> list[int]:
    if mode == "largest_remainder" or total <= 0:
        return allocate(total, weights)
    n = len(weights)
    wsum = sum(weights)
    if wsum == 0:
        weights, wsum = [1] * n, n
    base = [total * w // wsum for w in weights]
    short = total - sum(base)
    order = range(n) if mode == "remainder_to_first" else range(n - 1, -1, -1)
    for i in order:
        if short == 0:
            break
        if weights[i] > 0:
            base[i] += 1
            short -= 1
    return base


def spread(total: int, weights: list[int], caps: list[int], redistribute: bool, mode: str) -> list[int]:
    """Integer parts of ``total`` by ``weights``, each within its cap; sums to what was taken."""
    n = len(weights)
    res = [0] * n
    if total <= 0 or n == 0:
        return res
    if n == 1:
        return [min(total, caps[0]) if caps[0] > 0 else 0]
    if not redistribute:
        parts = split(total, weights, mode)
        return [min(p, c) if c > 0 else 0 for p, c in zip(parts, caps)]
    active = [i for i in range(n) if caps[i] > 0]
    remaining = min(total, sum(caps[i] for i in active))
    while remaining > 0 and active:
        parts = split(remaining, [weights[i] for i in active], mode)
        over = [k for k, i in enumerate(active) if parts[k] >= caps[i] - res[i]]
        if not over:
            for k, i in enumerate(active):
                res[i] += parts[k]
            break
        for k in over:
            i = active[k]
            remaining -= caps[i] - res[i]
            res[i] = caps[i]
        drop = set(over)
        active = [i for k, i in enumerate(active) if k not in drop]
    return res


@dataclass
class Run:
    """Mutable state of one pass of the applicator over one combination of promotions."""

    units: Units
    net: list[int]
    consumed: list[bool]
    rounding: str
    compounding: str
    threshold_base: str
    allocation: str
    rounding_point: str
    consumption: str
    active_gifts: set[int] = field(default_factory=set)

    def room(self, u: int) -> int:
        return max(0, self.net[u] - self.units.floor[u])
