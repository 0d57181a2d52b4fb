"""The personal layer: for a consenting shopper, a discount inside a declared band, only where it
raises expected profit under the shopper's own demand curve.

* candidates: ``base · (1 − δ)`` for δ on a grid in ``[0, personal_discount_max]`` (and surcharges
  ``base · (1 + δ)`` only when ``allow_surcharge`` is set), each mapped through the guardrails;
* the shopper's curve comes from the demand model with the shopper's features; the base price
  came from the curve without them;
* the personal price is kept only if its expected profit ``(p − cost) · P_shopper(p)`` is strictly
  above the base price's; otherwise the base price stands (so the layer never loses expected
  profit, and never surcharges unless configured).

Protected attributes never get here: the engine refuses features named in
``settings.compliance.protected_attributes`` before any model call.

>>> import numpy as np
>>> personal_candidates(1000, 0.10, False, steps=3).tolist()
[900, 950, 1000]
"""

from __future__ import annotations

import functools

import msgspec
import numpy as np
import numpy.typing as npt

I64 = npt.NDArray[np.int64]
F = npt.NDArray[np.float64]

STEPS = 6  # discount levels between 0 and the maximum


class PersonalResult(msgspec.Struct, frozen=True):
    price: int
    personalised: bool
    base_value: float
    value: float


@functools.lru_cache(maxsize=64)
def _deltas(discount_max: float, steps: int) -> F:
    d = np.linspace(0.0, discount_max, steps)
    d.flags.writeable = False  # shared between calls
    return d


@functools.lru_cache(maxsize=64)
def personal_factors(discount_max: float, allow_surcharge: bool, steps: int = STEPS) -> F:
    """The multipliers of the base price: ``1 − δ`` (and ``1 + δ`` with surcharges)."""
    deltas = _deltas(discount_max, steps)
    f = np.concatenate([1.0 - deltas, 1.0 + deltas]) if allow_surcharge else 1.0 - deltas
    f.flags.writeable = False  # shared between calls
    return f


def personal_candidates(base: int, discount_max: float, allow_surcharge: bool, steps: int = STEPS) -> I64:
    """Ascending distinct prices around ``base`` inside the declared band (base included)."""
    out = np.unique(np.rint(base * personal_factors(discount_max, allow_surcharge, steps))
                    .astype(np.int64))
    return out[out > 0]


def choose_personal(
    base: int, prices: I64, probs: F, cost: int, allow_surcharge: bool
) -> PersonalResult:
    """Pick the personal price among guardrailed ``prices`` (``base`` must be among them)."""
    value = (prices.astype(np.float64) - cost) * probs
    at_base = np.nonzero(prices == base)[0]
    if at_base.size == 0:
        raise ValueError("the base price must be among the personal candidates")
    base_value = float(value[at_base[0]])
    allowed = prices <= base if not allow_surcharge else np.ones_like(prices, dtype=bool)
    v = np.where(allowed, value, -np.inf)
    best = int(np.argmax(v))
    if prices[best] != base and v[best] > base_value + 1e-9 * max(1.0, abs(base_value)):
        return PersonalResult(int(prices[best]), True, base_value, float(v[best]))
    return PersonalResult(base, False, base_value, base_value)
