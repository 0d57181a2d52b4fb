"""Smoothing of the public base price: ``p_new = p_cur + α (p_opt − p_cur)``, vectorised.

A jumpy public price confuses shoppers and competitors; smoothing moves part of the way each
decision (α = 1 disables it). The daily change limit is a guardrail (:mod:`.guardrails`).

On a product whose servable prices are steps (a price ladder, or a price ending such as .99),
part of the way to the next step would be snapped back to today's price by the ending stage:
smoothing would lock the price for good. There the smoothed price is rounded *away* from the
current price to the next step towards the proposal (never past the proposal), so smoothing slows
moves of several steps and never stops a move of one.

>>> import numpy as np
>>> smooth(np.array([1200]), 1000, 0.5).tolist()
[1100]
>>> smooth(np.array([1099, 1299]), 999, 0.5, ending=99, modulus=100).tolist()  # .99 steps
[1099, 1199]
>>> smooth(np.array([890]), 1000, 0.5, ladder=(790, 890, 1000)).tolist()  # one rung: all of it
[890]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

I64 = npt.NDArray[np.int64]


def smooth(p_opt: I64, p_cur: int | None, alpha: float, *, ending: int | None = None,
           modulus: int = 1, ladder: Sequence[int] | None = None) -> I64:
    """The smoothed proposals of one product (see the module doc for ``ending`` / ``ladder``)."""
    if p_cur is None or alpha >= 1.0:
        return p_opt.astype(np.int64)
    p = np.asarray(p_opt, dtype=np.int64)
    s = np.rint(p_cur + alpha * (p.astype(np.float64) - p_cur)).astype(np.int64)
    if ladder is not None:
        lad = np.sort(np.asarray(ladder, dtype=np.int64))
        up = lad[np.minimum(np.searchsorted(lad, s, side="left"), lad.shape[0] - 1)]
        dn = lad[np.maximum(np.searchsorted(lad, s, side="right") - 1, 0)]
        return _towards(p, s, p_cur, up, dn)
    if ending is not None and modulus > 1:
        out: I64 = steps_towards(p[None, :], s[None, :], np.array([[p_cur]]),
                                 np.array([[ending]]), np.array([[modulus]]))[0]
        return out
    return s


def steps_towards(p: I64, s: I64, cur: I64, ending: I64, modulus: I64) -> I64:
    """``s`` rounded away from ``cur`` to the next price ending in ``ending`` (mod ``modulus``),
    bounded by the proposal ``p``; (P, K) arrays against (P, 1) columns. Rows without an ending
    (``ending`` < 0) or without a current price (``cur`` ≤ 0) keep ``s``."""
    e = np.maximum(ending, 0)
    up = s + np.mod(e - s, modulus)
    dn = s - np.mod(s - e, modulus)
    out = _towards(p, s, cur, up, dn)
    keep = (ending < 0) | (modulus <= 1) | (cur <= 0)
    return np.asarray(np.where(keep, s, out), dtype=np.int64)


def _towards(p: I64, s: I64, cur: object, up: I64, dn: I64) -> I64:
    cur_a = np.asarray(cur)
    rising = np.minimum(up, p)
    falling = np.maximum(dn, p)
    return np.asarray(np.where(p > cur_a, rising, np.where(p < cur_a, falling, s)), dtype=np.int64)
