r"""How far to trust a trained model's price slope: as far as its training prices varied.

A demand model learns how demand responds to price only from price variation in its data. A
shop whose history sits at the list price gives a model with no evidence about the slope: trees
answer with a flat curve, a regression with whatever noise fitted. A flat curve says "demand
does not care about the price", and maximising ``(p − cost) · P(p)`` on it drives every price to
the top of its range; the guardrails then drag it back. That is what a pricing team would call
a broken engine, and it is what an unidentified slope gives.

So the slope the optimiser sees is a precision-weighted mean (the Gaussian posterior of a slope
observed with the model's information, under a prior):

.. math:: b = \frac{\tau_0\, b_0 + I\, b_\text{model}}{\tau_0 + I}

* ``b_model``: the slope of the logit-linear fit of the model's curve (:mod:`.curve_fit`; 0 for
  a flat curve);
* ``I``: the Fisher information about the slope in the model's training data, for this product
  (its category's when the product had no views): ``Σ p̄ (1 − p̄) (r − r̄)²`` over its views,
  ``r = price / list`` (:func:`pricepilot.demand.price_information.price_information`, kept on
  the fitted model as ``price_information_``);
* ``b0``: the Lerner slope ``1 / margin``, under which the list price is the profit optimum of
  a product with a small purchase probability (:func:`pricepilot.demand.prior.lerner_slope` at
  ``p0 = 0``): the shop's own price as the prior, the one assumption that holds on every market.
  It is anchored to the margin, not to the moment's level, so demand above the usual (a product
  selling fast, a busy hour) still raises the optimal price;
* ``τ0 = 1 / prior_slope_sd²`` (``pricing.prior_slope_sd``).

A history with prices spread ±15% around the list (a few hundred views) carries information of a
few units, and the model's slope wins; a history at one price carries none, and the list price
stays the optimum until the live posterior (which corrects the slope from every outcome) learns
otherwise. The level at the list price is the model's either way. A model that declares no
``price_information_`` (an analytic test model, or one trained before this existed) is trusted
as it is.

>>> import numpy as np
>>> a, b = shrink_slopes(np.array([-2.0, -2.0]), np.array([0.0, -6.0]), np.array([2.0, 2.0]),
...                      np.array([0.0, 100.0]), prior_sd=1.5)
>>> [round(float(x), 2) for x in b]  # no information: the prior's slope; plenty: the model's
[-2.0, -5.98]
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import numpy.typing as npt

from pricepilot.catalog.models import Product

F = npt.NDArray[np.float64]


def shrink_slopes(intercept: F, slope: F, prior_slope: F, information: F, *,
                  prior_sd: float) -> tuple[F, F]:
    """(intercept, slope) per curve with the slope shrunk towards ``-prior_slope`` (slopes are
    ``<= 0`` in the fit's convention ``logit P = a + b (r − 1)``); infinite information keeps the
    model's slope."""
    tau0 = 1.0 / prior_sd**2
    info = np.asarray(information, dtype=np.float64)
    finite = np.isfinite(info)
    safe = np.where(finite, info, 0.0)
    blended = (tau0 * -np.asarray(prior_slope) + safe * slope) / (tau0 + safe)
    return intercept, np.where(finite, blended, slope)


def information_for(model: object, product: Product) -> float:
    """The model's training information about ``product``'s price slope (inf: not declared)."""
    table = getattr(model, "price_information_", None)
    if not isinstance(table, Mapping):
        return float("inf")
    got = table.get(product.product_id)
    if got is None:
        got = table.get(f"category:{product.category}", 0.0)
    return float(got)
