"""Candidate prices: the product's ladder, or a grid between floor and ceiling snapped to the
price ending; always integer minor units, ascending, unique.

>>> from pricepilot.catalog.models import Guardrails, Product
>>> p = Product(product_id="A", title="a", category="c", currency="EUR", unit_cost=500,
...             list_price=1000, guardrails=Guardrails(floor=800, ceiling=1200, price_ending=99))
>>> candidates(p, p.guardrails, grid_size=5).tolist()
[899, 999, 1099, 1199]
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from pricepilot.catalog.models import Guardrails, Product
from pricepilot.money import exponent

I64 = npt.NDArray[np.int64]

# Without a floor or ceiling the grid spans these fractions of the list price.
DEFAULT_LOW = 0.7
DEFAULT_HIGH = 1.3


def ending_modulus(g: Guardrails, currency: str) -> int:
    return g.ending_modulus or 10 ** exponent(currency)


def snap_to_ending(prices: I64, ending: int, modulus: int) -> I64:
    """Nearest price with ``price % modulus == ending`` (ties go up), vectorised."""
    base = prices - np.mod(prices - ending, modulus)  # largest ending price <= p
    up = base + modulus
    snapped = np.where(prices - base < up - prices, base, up)
    return np.maximum(snapped, np.where(ending > 0, ending, modulus)).astype(np.int64)


def grid_bounds(product: Product, g: Guardrails) -> tuple[int, int]:
    """The grid's (low, high): guardrails where set, else around cost and list price."""
    lp = product.list_price
    lo = g.floor if g.floor is not None else max(product.unit_cost, int(round(lp * DEFAULT_LOW)))
    hi = g.ceiling if g.ceiling is not None else int(round(lp * DEFAULT_HIGH))
    lo = max(lo, 1)
    if hi < lo:
        hi = lo
    return lo, hi


def candidates(product: Product, g: Guardrails, grid_size: int) -> I64:
    """The prices the engine evaluates for ``product`` under guardrails ``g``."""
    if g.ladder:
        return np.asarray(g.ladder, dtype=np.int64)
    lo, hi = grid_bounds(product, g)
    grid = np.unique(np.rint(np.linspace(lo, hi, grid_size)).astype(np.int64))
    if g.price_ending is not None:
        mod = ending_modulus(g, product.currency)
        snapped = snap_to_ending(grid, g.price_ending, mod)
        # keep inside [lo, hi]: step inward by one modulus where snapping overshot
        snapped = np.where(snapped > hi, snapped - mod, snapped)
        snapped = np.where(snapped < lo, snapped + mod, snapped)
        inside = (snapped >= lo) & (snapped <= hi) & (snapped > 0)
        grid = np.unique(snapped[inside]) if inside.any() else np.unique(snapped[:1])
    return grid
