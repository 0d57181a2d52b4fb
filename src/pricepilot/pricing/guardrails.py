"""Guardrails, applied in a fixed order, each stage recorded: ceiling, competitor band, max change
per day, price ending (or ladder), and the **margin floor last**, so that nothing a model, the
smoothing or the personal layer proposes can take a price below the floor.

The margin floor is ``max(floor, ceil(cost / (1 − min_margin)))``. Stages clamp in order; while the
limits are compatible, clamping to one interval keeps the price inside the earlier ones, so the
result lies inside all of them. When they conflict, the later stage wins, and the floor wins over
everything. The price ending is taken inside the window the other limits leave when one exists.

Vectorised over candidate prices (the engine maps every candidate through the guardrails at once,
which also gives the exact propensity of the served price).

>>> import numpy as np
>>> from pricepilot.catalog.models import Guardrails
>>> spec = GuardrailSpec.build(Guardrails(ceiling=1500, min_margin=0.2, price_ending=99),
...                            cost=1000, currency="EUR", competitor_price=None,
...                            current_price=None, competitor_band=0.15, max_change=0.1)
>>> final, trace = apply_guardrails(np.array([1100, 2000]), spec)
>>> final.tolist(), trace[-1].name
([1299, 1499], 'margin_floor')
"""

from __future__ import annotations

import math

import msgspec
import numpy as np
import numpy.typing as npt

from pricepilot.catalog.models import Guardrails
from pricepilot.money import format_money
from pricepilot.pricing.candidates import ending_modulus

I64 = npt.NDArray[np.int64]
_BIG = np.iinfo(np.int64).max // 4

STAGES: tuple[str, ...] = ("ceiling", "competitor_band", "max_change", "price_ending", "margin_floor")


class GuardrailSpec(msgspec.Struct, frozen=True, kw_only=True):
    """Resolved integer limits for one product at one moment."""

    ceiling: int | None
    band: tuple[int, int] | None
    change: tuple[int, int] | None
    ending: int | None
    modulus: int
    ladder: tuple[int, ...] | None
    floor: int  # the margin floor: max(floor, cost / (1 - min_margin)), 0 if neither is set
    currency: str  # of every amount above; the explanation notes name it

    @classmethod
    def build(
        cls, g: Guardrails, *, cost: int, currency: str, competitor_price: int | None,
        current_price: int | None, competitor_band: float, max_change: float,
    ) -> GuardrailSpec:
        band = None
        if competitor_price is not None and competitor_price > 0 and competitor_band > 0:
            band = (_ceil(competitor_price * (1 - competitor_band)),
                    _floor(competitor_price * (1 + competitor_band)))
        m = g.max_change_per_day if g.max_change_per_day is not None else max_change
        modulus = ending_modulus(g, currency)
        change = None
        if current_price is not None and current_price > 0 and m > 0:
            change = (_ceil(current_price * (1 - m)), _floor(current_price * (1 + m)))
            # one step of movement is always allowed: a limit narrower than the ladder's rungs or
            # the ending's spacing would otherwise lock the price at today's for good
            below, above = neighbour_steps(current_price, g.ladder, g.price_ending, modulus)
            change = (min(change[0], below) if below is not None else change[0],
                      max(change[1], above) if above is not None else change[1])
            if g.ceiling is not None and change[0] > g.ceiling:
                # today's price is above the ceiling (a list price over it, or a ceiling lowered
                # since): the ceiling is a hard limit and the daily change a soft one, so the
                # window reaches down to the ceiling instead of pushing the price past it
                change = (g.ceiling, g.ceiling)
            elif g.ceiling is not None:
                change = (change[0], min(change[1], g.ceiling))
        floor = g.floor or 0
        if g.min_margin is not None:
            # smallest integer price with (p - cost) / p >= min_margin; guard float error
            f = math.ceil(cost / (1 - g.min_margin))
            while f > 1 and (f - 1 - cost) >= g.min_margin * (f - 1):
                f -= 1
            while (f - cost) < g.min_margin * f:
                f += 1
            floor = max(floor, f)
        return cls(
            ceiling=g.ceiling, band=band, change=change, ending=g.price_ending,
            modulus=modulus, ladder=tuple(g.ladder) if g.ladder else None,
            floor=floor, currency=currency,
        )


def _ceil(x: float) -> int:
    return math.ceil(x - 1e-9)  # 800 x 1.15 is 919.999... in binary floating point


def _floor(x: float) -> int:
    return math.floor(x + 1e-9)


def neighbour_steps(current: int, ladder: list[int] | None, ending: int | None,
                    modulus: int) -> tuple[int | None, int | None]:
    """The servable prices next below and next above ``current``: the neighbouring ladder rungs,
    or the neighbouring prices with the ending (None where there is none, or no steps at all).

    >>> neighbour_steps(999, None, 99, 100)
    (899, 1099)
    >>> neighbour_steps(1000, [790, 890, 1000, 1120], None, 1)
    (890, 1120)
    """
    if ladder:
        lad = sorted(ladder)
        below = [x for x in lad if x < current]
        above = [x for x in lad if x > current]
        return (below[-1] if below else None), (above[0] if above else None)
    if ending is None or modulus <= 1:
        return None, None
    lo = current - 1 - (current - 1 - ending) % modulus
    return (lo if lo > 0 else None), current + 1 + (ending - current - 1) % modulus


class StageTrace(msgspec.Struct, frozen=True):
    name: str
    before: I64
    after: I64
    rule: str


def _nearest_ending_in(p: I64, lo: I64, hi: I64, ending: I64, mod: I64) -> I64:
    """Nearest price with the ending inside [lo, hi] (ties up); outside it if none is inside.

    ``p``, ``lo``, ``hi`` are (P, K); ``ending`` and ``mod`` broadcast against them (P, 1).
    """
    base = p - np.mod(p - ending, mod)
    # p's neighbours, and the ending prices closest to the window edges
    lo_up = lo + np.mod(ending - lo, mod)
    hi_dn = hi - np.mod(hi - ending, mod)
    cands = np.stack([base - mod, base, base + mod, base + 2 * mod, lo_up, hi_dn], axis=-1)
    inside = (cands >= lo[..., None]) & (cands <= hi[..., None]) & (cands > 0)
    dist = np.where(inside, np.abs(cands - p[..., None]) * 2 + (cands < p[..., None]), _BIG)
    best = np.take_along_axis(cands, np.argmin(dist, axis=-1)[..., None], axis=-1)[..., 0]
    any_in = inside.any(axis=-1)
    outside = np.where(p - base < base + mod - p, base, base + mod)
    outside = np.where(outside > 0, outside, base + mod)
    return np.where(any_in, best, outside).astype(np.int64)


def _nearest_ladder_in(p: I64, lo: I64, hi: I64, ladder: I64) -> I64:
    inside = (ladder[None, :] >= lo[:, None]) & (ladder[None, :] <= hi[:, None])
    dist = np.abs(ladder[None, :] - p[:, None])
    d_in = np.where(inside, dist, _BIG)
    pick_in = ladder[np.argmin(d_in, axis=1)]
    pick_any = ladder[np.argmin(dist, axis=1)]
    return np.asarray(np.where(inside.any(axis=1), pick_in, pick_any), dtype=np.int64)


class GuardrailArrays(msgspec.Struct, frozen=True):
    """Limits of many products as (P, 1) integer columns, for batch application (no ladders)."""

    ceiling: I64
    band_lo: I64
    band_hi: I64
    change_lo: I64
    change_hi: I64
    ending: I64  # -1: no ending
    modulus: I64
    floor: I64

    @classmethod
    def of(cls, specs: list[GuardrailSpec]) -> GuardrailArrays:
        def col(values: list[int]) -> I64:
            return np.asarray(values, dtype=np.int64)[:, None]

        return cls(
            ceiling=col([s.ceiling if s.ceiling is not None else _BIG for s in specs]),
            band_lo=col([s.band[0] if s.band else 0 for s in specs]),
            band_hi=col([s.band[1] if s.band else _BIG for s in specs]),
            change_lo=col([s.change[0] if s.change else 0 for s in specs]),
            change_hi=col([s.change[1] if s.change else _BIG for s in specs]),
            ending=col([s.ending if s.ending is not None else -1 for s in specs]),
            modulus=col([s.modulus for s in specs]),
            floor=col([s.floor for s in specs]),
        )


def apply_guardrails_batch(prices: I64, a: GuardrailArrays) -> tuple[I64, list[tuple[str, I64, I64]]]:
    """The ordered guardrails for many products at once: ``prices`` (P, K), one row each.

    Returns the final prices and, per stage, (name, before, after) arrays.
    """
    p0 = np.asarray(prices, dtype=np.int64)
    trace: list[tuple[str, I64, I64]] = []
    lo = np.broadcast_to(np.maximum(a.floor, 1), p0.shape)
    p1 = np.minimum(p0, a.ceiling)
    trace.append(("ceiling", p0, p1))
    hi = np.broadcast_to(a.ceiling, p0.shape)
    p2 = np.clip(p1, a.band_lo, a.band_hi)
    p2 = np.where(a.band_lo > a.band_hi, a.band_hi, p2)  # empty band: later stage wins (its top)
    trace.append(("competitor_band", p1, p2))
    lo, hi = np.maximum(lo, a.band_lo), np.minimum(hi, a.band_hi)
    p3 = np.minimum(np.maximum(p2, a.change_lo), a.change_hi)
    trace.append(("max_change", p2, p3))
    lo, hi = np.maximum(lo, a.change_lo), np.minimum(hi, a.change_hi)
    has_end = a.ending >= 0
    if has_end.any():
        p4 = np.where(has_end, _nearest_ending_in(p3, lo, hi, np.maximum(a.ending, 0), a.modulus), p3)
    else:
        p4 = p3
    trace.append(("price_ending", p3, p4))
    p5 = np.maximum(p4, a.floor)
    off = np.mod(p5 - a.ending, a.modulus)
    p5 = np.where(has_end & (off != 0), p5 + (a.modulus - off), p5).astype(np.int64)
    trace.append(("margin_floor", p4, p5))
    return p5, trace


def stage_rules(spec: GuardrailSpec) -> dict[str, str]:
    """The human-readable rule of each stage for one product (for the explanation): amounts in
    major units with the currency, as all text for people (docs/money.md).

    >>> from pricepilot.catalog.models import Guardrails
    >>> spec = GuardrailSpec.build(Guardrails(floor=9284, price_ending=99), cost=5000,
    ...                            currency="EUR", competitor_price=None, current_price=None,
    ...                            competitor_band=0.15, max_change=0.1)
    >>> r = stage_rules(spec)
    >>> r["margin_floor"], r["price_ending"]
    ('margin floor EUR 92.84', 'price ending EUR 0.99 (mod EUR 1.00)')
    """
    def m(amount: int) -> str:
        return format_money(amount, spec.currency)

    return {
        "ceiling": f"ceiling {m(spec.ceiling)}" if spec.ceiling is not None else "no ceiling",
        "competitor_band": (f"within [{m(spec.band[0])}, {m(spec.band[1])}] of the competitor "
                            "price" if spec.band is not None else "no competitor price known"),
        "max_change": (f"daily change within [{m(spec.change[0])}, {m(spec.change[1])}]"
                       if spec.change is not None else "no current price"),
        "price_ending": ("nearest ladder price" if spec.ladder is not None else
                         f"price ending {m(spec.ending)} (mod {m(spec.modulus)})"
                         if spec.ending is not None else "no price ending"),
        "margin_floor": f"margin floor {m(spec.floor)}",
    }


def apply_guardrails(prices: I64, spec: GuardrailSpec) -> tuple[I64, list[StageTrace]]:
    """Map each proposed price through the ordered guardrails; returns finals and the trace."""
    if spec.ladder is None:
        rules = stage_rules(spec)
        final, tr = apply_guardrails_batch(np.asarray(prices, dtype=np.int64)[None, :],
                                           GuardrailArrays.of([spec]))
        return final[0], [StageTrace(n, b[0], af[0], rules[n]) for n, b, af in tr]
    return _apply_ladder(prices, spec)


def _apply_ladder(prices: I64, spec: GuardrailSpec) -> tuple[I64, list[StageTrace]]:
    """Ladder products: the clamping stages as for any product, then the nearest ladder price
    inside the window they leave, then the first ladder price at or above the margin floor (the
    floor itself when no ladder price clears it: the floor wins over the ladder)."""
    rules = stage_rules(spec)
    a = GuardrailArrays.of([msgspec.structs.replace(spec, ending=None)])
    final, tr = apply_guardrails_batch(np.asarray(prices, dtype=np.int64)[None, :], a)
    trace = [StageTrace(n, b[0], af[0], rules[n]) for n, b, af in tr[:3]]
    p = tr[2][2][0]
    lo = np.full_like(p, max(int(a.floor[0, 0]), 1, int(a.band_lo[0, 0]), int(a.change_lo[0, 0])))
    hi = np.full_like(p, min(int(a.ceiling[0, 0]), int(a.band_hi[0, 0]), int(a.change_hi[0, 0])))
    lad = np.asarray(spec.ladder, dtype=np.int64)
    on_ladder = _nearest_ladder_in(p, lo, hi, lad)
    trace.append(StageTrace("price_ending", p, on_ladder, rules["price_ending"]))
    f = spec.floor
    ok = lad[lad >= f]
    floored = np.where(on_ladder >= f, on_ladder, ok[0] if ok.size else f).astype(np.int64)
    trace.append(StageTrace("margin_floor", on_ladder, floored, rules["margin_floor"]))
    return floored, trace
