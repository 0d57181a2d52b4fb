r"""The demand curve known on day 0: a prior for every product, before any model is trained.

A new shop has no trained model, yet every view it prices is worth learning from. Without a
curve the engine could only serve the list price and learn nothing about other prices; with this
one it prices, explores (Thompson sampling over the posterior's correction of this curve) and
learns from the first view, and the trained model replaces it once there is data.

The curve is logit-linear in the price ratio ``r = price / list``:

.. math:: \operatorname{logit} P(r) = \operatorname{logit} P_0 - b\,(r - 1)

* **The slope** says the shop's own list price is the profit-maximising price (the Lerner
  condition of a logit demand, ``b = 1 / (margin · (1 − P0))`` with ``margin = 1 − cost / list``).
  It is the one assumption about elasticity that holds for any shop and any market: the list price
  is the shop's best guess, so pricepilot starts there and moves only as far as the evidence
  takes it. A thin margin means a steep curve (little room to move up), a fat one a shallow
  curve; ``b`` is clipped to ``[min_slope, max_slope]`` (elasticities of −1 to −10, the range
  reported for online retail), so no product starts with an absurd curve.
* **The level** ``P0`` is the product's own 7-day conversion (``p_purchases_7d`` of
  ``p_views_7d``, from the online features) shrunk towards ``conversion`` with ``strength``
  pseudo-views, so a product with a few views is not priced on one lucky sale.

Everything else (what the shopper, the competitor and the season change) is left to the trained
model; the posterior learns each product's level and slope correction from its outcomes, pooled
towards its category (:mod:`pricepilot.pricing.posterior`).

>>> import numpy as np
>>> from pricepilot.catalog.models import Product
>>> mug = Product(product_id="MUG", title="Mug", category="kitchen", list_price=1000,
...               unit_cost=500, currency="EUR")
>>> prior = PriorDemand({"MUG": mug})
>>> curve = prior.predict_curve({"p_product": "MUG"}, np.array([800, 1000, 1200]), 1000)
>>> [round(float(p), 3) for p in curve]
[0.074, 0.05, 0.033]
>>> profit = (np.array([800, 1000, 1200]) - 500) * curve
>>> int(np.array([800, 1000, 1200])[np.argmax(profit)])  # the list price is the prior optimum
1000
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt

from pricepilot.catalog.models import Product
from pricepilot.errors import ValidationError

F = npt.NDArray[np.float64]

PRIOR_VERSION = "prior"  # the version name of the day-0 curve (decision logs, posterior files)


class PriorDemand:
    """A :class:`~pricepilot.demand.base.DemandModel` from the catalogue alone; see the module doc.

    ``products`` is read at every call (a live mapping: products added later get a curve too);
    an unknown product gets the slope of a 50% margin.
    """

    def __init__(self, products: Mapping[str, Product], *, conversion: float = 0.05,
                 strength: float = 20.0, min_slope: float = 1.0, max_slope: float = 10.0) -> None:
        if not 0.0 < conversion < 1.0:
            raise ValidationError("prior demand", "conversion", f"must be in (0, 1), got {conversion}")
        if strength < 0 or not 0.0 < min_slope <= max_slope:
            raise ValidationError("prior demand", "slope",
                                  "strength must be >= 0 and 0 < min_slope <= max_slope")
        self.products = products
        self.conversion = conversion
        self.strength = strength
        self.min_slope = min_slope
        self.max_slope = max_slope

    @property
    def version(self) -> str:
        return PRIOR_VERSION

    def level(self, features: Mapping[str, object]) -> float:
        """P0: the product's 7-day conversion shrunk towards ``conversion``."""
        views, bought = _num(features.get("p_views_7d")), _num(features.get("p_purchases_7d"))
        views, bought = max(views, 0.0), min(max(bought, 0.0), max(views, 0.0))
        k = self.strength
        return (bought + k * self.conversion) / (views + k) if views + k > 0 else self.conversion

    def slope(self, product: Product | None, p0: float) -> float:
        """b: the slope that makes the list price the profit-maximising price."""
        if product is None:
            return lerner_slope(2, 1, p0, self.min_slope, self.max_slope)
        return lerner_slope(product.list_price, product.unit_cost, p0, self.min_slope,
                            self.max_slope)

    def predict_curve(self, features: Mapping[str, object], prices: npt.NDArray[np.int64],
                      list_price: int, competitor_price: int | None = None) -> F:
        pid = features.get("p_product")
        product = self.products.get(pid) if isinstance(pid, str) else None
        p0 = min(max(self.level(features), 1e-4), 0.5)
        b = self.slope(product, p0)
        z = math.log(p0 / (1.0 - p0)) - b * (prices.astype(np.float64) / float(list_price) - 1.0)
        return np.asarray(0.5 * (1.0 + np.tanh(0.5 * z)), dtype=np.float64)

    def predict_curves(self, features: Sequence[Mapping[str, object]],
                       prices: Sequence[npt.NDArray[np.int64]], list_prices: Sequence[int],
                       competitor_prices: Sequence[int | None]) -> list[F]:
        return [self.predict_curve(f, p, lp, c)
                for f, p, lp, c in zip(features, prices, list_prices, competitor_prices, strict=True)]


def lerner_slope(list_price: int, unit_cost: int, p0: float, min_slope: float = 1.0,
                 max_slope: float = 10.0) -> float:
    """The logit slope ``b`` (``logit P = a − b (r − 1)``) under which ``list_price`` maximises
    profit when ``P(list) = p0``: ``1 / (margin · (1 − p0))``, clipped to ``[min_slope, max_slope]``.

    >>> round(lerner_slope(1000, 500, 0.05), 3)
    2.105
    """
    margin = 1.0 - unit_cost / list_price if list_price > 0 else 0.5
    if margin <= 0.0:
        return max_slope
    return float(min(max(1.0 / (margin * (1.0 - min(max(p0, 0.0), 0.99))), min_slope), max_slope))


def _num(v: object) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return 0.0
    f = float(v)
    return f if math.isfinite(f) else 0.0
