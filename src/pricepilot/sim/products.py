"""The simulated catalogue: products with cost, list price, brand, stock and a true demand shape.

Arrays are indexed by product number; the shop-facing view is :meth:`SimCatalog.to_products`.
The demand parameters (``shape``, ``alpha``, ``beta``, ``quantity_extra``) are ground truth and
never leave the simulator.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import numpy.typing as npt

from pricepilot.catalog.models import Guardrails, Product
from pricepilot.money import exponent
from pricepilot.sim.config import SimConfig

CATEGORY_NAMES = ("electronics", "kitchen", "toys", "fashion", "beauty", "garden", "sports",
                  "books", "grocery", "office", "pets", "music")
# median list price in major units per category (same order as CATEGORY_NAMES)
_CATEGORY_PRICE = (120.0, 30.0, 25.0, 45.0, 20.0, 40.0, 55.0, 15.0, 8.0, 12.0, 18.0, 22.0)
SHAPES = ("logit", "linear", "exponential", "reference")

F = npt.NDArray[np.float64]
I = npt.NDArray[np.int64]


@dataclass(frozen=True)
class SimCatalog:
    product_ids: list[str]
    titles: list[str]
    category_names: list[str]
    category: I  # index into category_names
    brand: list[str]
    cost: I  # minor units
    list_price: I  # minor units
    shape: I  # index into SHAPES
    alpha: F  # base purchase logit at list price for an average shopper
    beta: F  # product price sensitivity (times the shopper's)
    popularity: F  # relative view weight within the category
    quantity_extra: F  # quantity = 1 + Poisson(quantity_extra)
    stock: I  # initial stock; -1 = not stock-limited
    season_end_day: I  # day index after which the product is no longer sold; -1 = none
    currency: str
    start: datetime
    # per product: the only prices it may be sold at (ascending, minor units); () = a free grid
    ladders: tuple[tuple[int, ...], ...] = ()

    @property
    def n(self) -> int:
        return len(self.product_ids)

    def season_end(self, i: int) -> datetime | None:
        d = int(self.season_end_day[i])
        return None if d < 0 else self.start + timedelta(days=d)

    def ladder(self, i: int) -> tuple[int, ...]:
        """Product ``i``'s price ladder (empty: any price)."""
        return self.ladders[i] if self.ladders else ()

    def to_products(self) -> list[Product]:
        """The catalogue as the shop knows it (no demand parameters)."""
        out = []
        for i in range(self.n):
            ladder = list(self.ladder(i)) or None
            out.append(Product(
                product_id=self.product_ids[i], title=self.titles[i],
                category=self.category_names[int(self.category[i])], brand=self.brand[i],
                currency=self.currency, unit_cost=int(self.cost[i]),
                list_price=int(self.list_price[i]),
                stock=None if self.stock[i] < 0 else int(self.stock[i]),
                season_end=self.season_end(i),
                guardrails=Guardrails(floor=int(self.cost[i]), ladder=ladder),
            ))
        return out


def _ending_99(major: F, scale: int) -> I:
    """Round to the nearest whole major unit minus one minor unit (x.99)."""
    return np.maximum(np.rint(major).astype(np.int64), 1) * scale - 1


def make_ladder(list_price: int, cost: int, step: float, rungs: int, scale: int) -> tuple[int, ...]:
    """``rungs`` prices ending in .99 about ``step`` apart around ``list_price`` (which is one of
    them), none at or below ``cost``.

    >>> make_ladder(2999, 1500, 0.1, 5, 100)
    (2499, 2699, 2999, 3299, 3599)
    """
    lo = -(rungs // 2)
    out = {list_price}
    for k in range(lo, lo + rungs):
        if k:
            out.add(int(_ending_99(np.array([list_price * (1 + step) ** k / scale]), scale)[0]))
    kept = sorted(p for p in out if p > cost)
    return tuple(kept) or (list_price,)


def _ladders(cfg: SimConfig, list_price: I, cost: I, scale: int) -> tuple[tuple[int, ...], ...]:
    if cfg.ladder_share <= 0:
        return ()
    # a stream of its own, so the rest of the catalogue is the same with or without ladders
    pick = np.random.default_rng([cfg.seed, 41]).random(list_price.size) < cfg.ladder_share
    return tuple(make_ladder(int(lp), int(c), cfg.ladder_step, cfg.ladder_rungs, scale) if on else ()
                 for lp, c, on in zip(list_price, cost, pick))


def make_catalog(cfg: SimConfig, rng: np.random.Generator) -> SimCatalog:
    n, c = cfg.products, cfg.categories
    names = [CATEGORY_NAMES[k] if k < len(CATEGORY_NAMES) else f"category{k}" for k in range(c)]
    base = np.array([_CATEGORY_PRICE[k % len(_CATEGORY_PRICE)] for k in range(c)])
    # every category gets at least one product, the rest at random
    category = np.concatenate([np.arange(c), rng.integers(0, c, n - c)]).astype(np.int64)
    rng.shuffle(category)
    scale = 10 ** exponent(cfg.currency)
    list_price = _ending_99(base[category] * rng.lognormal(0.0, 0.45, n), scale)
    cost = np.rint(list_price * rng.uniform(0.45, 0.7, n)).astype(np.int64)
    shape = rng.choice(len(SHAPES), size=n, p=np.asarray(cfg.shape_share)).astype(np.int64)
    alpha = rng.normal(-3.0, 0.4, n)
    beta = rng.lognormal(0.0, 0.5, n) * rng.uniform(0.6, 1.5, c)[category]
    popularity = rng.lognormal(0.0, 0.8, n)
    quantity_extra = rng.uniform(0.05, 0.4, n)
    # finite stock: roughly a season's expected demand scaled by a random tightness
    limited = rng.random(n) < cfg.stock_limited_share
    views_per_product = cfg.shoppers * cfg.visit_rate * cfg.views_per_session * cfg.days / n
    expected_units = views_per_product * popularity / popularity.mean() * 0.05 * 1.2
    stock = np.where(limited, np.maximum(1, np.rint(expected_units * rng.uniform(0.3, 1.0, n))),
                     -1).astype(np.int64)
    has_end = limited & (rng.random(n) < cfg.season_end_share)
    lo = max(1, cfg.days // 2)
    season_end_day = np.where(has_end, rng.integers(lo, cfg.days + 1, n), -1).astype(np.int64)
    brands = [f"{names[int(category[i])].capitalize()}Co{int(rng.integers(1, 6))}" for i in range(n)]
    ids = [f"p{i:04d}" for i in range(n)]
    titles = [f"{names[int(category[i])]} item {i}" for i in range(n)]
    return SimCatalog(ids, titles, names, category, brands, cost, list_price, shape, alpha, beta,
                      popularity, quantity_extra, stock, season_end_day, cfg.currency, cfg.start,
                      _ladders(cfg, list_price, cost, scale))
