"""Named market variants for the robustness suite: one factor at a time around a base market,
plus a few hard combinations.

A variant is the base market (:class:`~pricepilot.sim.config.SimConfig` defaults: mixed demand
shapes, a fifth of the products stocked, rule-based competitors, free price grids, default
shoppers) with some settings changed and a number of days of history. The factors and levels:

* demand shape: logit, linear, exponential, reference price with loss aversion (base: a mix);
* stocked seasonal products (stock and a season end inside the run): none, a third, all;
* competitors: aggressive undercutting, deep temporary promotions, following a market index;
* prices: .99 ladders with rungs about 10% apart (base: a free grid);
* history: 0, 7 or 90 days (base: 90);
* shoppers: price-sensitive, half loyal.

>>> [v.name for v in select_variants("base,history-0")]
['base', 'history-0']
>>> hist, run = variant_configs(VARIANTS["stock-third"], seed=3, days=14, shoppers=100, products=12)
>>> run.stock_limited_share, run.days, (run.start - hist.start).days
(0.3333333333333333, 14, 90)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import msgspec

from pricepilot.errors import ValidationError
from pricepilot.sim.config import SimConfig, validate_config


@dataclass(frozen=True)
class MarketVariant:
    """A market: ``settings`` are :class:`SimConfig` fields changed from the base market."""

    name: str
    description: str
    history_days: int = 90
    settings: dict[str, Any] = field(default_factory=dict)


def _v(name: str, description: str, history_days: int = 90, **settings: Any) -> MarketVariant:
    return MarketVariant(name, description, history_days, settings)


ONE_FACTOR = (
    _v("base", "mixed demand shapes, 20% stocked, rule-based competitors, free grid, 90 days"),
    _v("demand-logit", "every product logit demand", shape_share=(1.0, 0.0, 0.0, 0.0)),
    _v("demand-linear", "every product linear demand", shape_share=(0.0, 1.0, 0.0, 0.0)),
    _v("demand-exponential", "every product exponential demand", shape_share=(0.0, 0.0, 1.0, 0.0)),
    _v("demand-reference", "every product reference-price demand with loss aversion",
       shape_share=(0.0, 0.0, 0.0, 1.0)),
    _v("stock-none", "no stocked product", stock_limited_share=0.0),
    _v("stock-third", "a third of the products stocked with a season end",
       stock_limited_share=1 / 3, season_end_share=1.0),
    _v("stock-all", "every product stocked with a season end", stock_limited_share=1.0, season_end_share=1.0),
    _v("comp-undercut", "the undercutter cuts 10% below us, down to 70% of list",
       undercut=0.10, undercut_floor=0.70),
    _v("comp-deep-promos", "the promoter runs deep (30-50%) promotions twice as often",
       promo_rate=0.08, promo_depth=(0.3, 0.5)),
    _v("comp-index", "every competitor follows one market index", competitor_mode="index"),
    _v("ladder-99", "every product on a .99 ladder, rungs about 10% apart", ladder_share=1.0),
    _v("history-0", "a new shop: no history", history_days=0),
    _v("history-7", "a week of history", history_days=7),
    _v("shoppers-sensitive", "every shopper 1.6x as price-sensitive", sensitivity_scale=1.6),
    _v("shoppers-loyal", "half the shoppers loyal (0.4x sensitive, visit twice as often)",
       loyal_share=0.5),
)
COMBINED = (
    _v("new-catalogue-hard", "no history, loss-averse reference demand, deep competitor "
       "promotions, .99 ladders, a third stocked with a season end", history_days=0,
       shape_share=(0.0, 0.0, 0.0, 1.0), promo_rate=0.08, promo_depth=(0.3, 0.5),
       ladder_share=1.0, stock_limited_share=1 / 3, season_end_share=1.0),
    _v("week-old-hard", "the same market with 7 days of history", history_days=7,
       shape_share=(0.0, 0.0, 0.0, 1.0), promo_rate=0.08, promo_depth=(0.3, 0.5),
       ladder_share=1.0, stock_limited_share=1 / 3, season_end_share=1.0),
    _v("ladder-stocked", ".99 ladders, every product stocked with a season end",
       ladder_share=1.0, stock_limited_share=1.0, season_end_share=1.0),
    _v("sensitive-undercut", "price-sensitive shoppers against an aggressive undercutter",
       sensitivity_scale=1.6, undercut=0.10, undercut_floor=0.70),
)
VARIANTS: dict[str, MarketVariant] = {v.name: v for v in ONE_FACTOR + COMBINED}
DEFAULT_VARIANTS = tuple(v.name for v in ONE_FACTOR + COMBINED)


def select_variants(names: str | None) -> list[MarketVariant]:
    """Variants by comma-separated names (``None``, ``""`` or ``"all"``: every one), checked."""
    if names is None or names.strip() in ("", "all"):
        return [VARIANTS[n] for n in DEFAULT_VARIANTS]
    out = []
    for raw in names.split(","):
        name = raw.strip()
        if not name:
            continue
        if name not in VARIANTS:
            raise ValidationError("robustness", "variants",
                                  f"unknown variant {name!r}; known: {', '.join(VARIANTS)}")
        out.append(VARIANTS[name])
    if not out:
        raise ValidationError("robustness", "variants", "names no variant")
    return out


def variant_configs(variant: MarketVariant, *, seed: int, days: int, shoppers: int,
                    products: int, **more: Any) -> tuple[SimConfig, SimConfig]:
    """The history's market and the run's: the same products and shoppers (same seed and
    settings), the run's starting when the history ends, its stock sized and its season ends
    placed for the ``days`` it lasts. ``more``: further :class:`SimConfig` fields."""
    if variant.history_days < 0:
        raise ValidationError("robustness", "history_days", f"must be >= 0, got {variant.history_days}")
    base = SimConfig(seed=seed, days=max(variant.history_days, 1), shoppers=shoppers,
                     products=products, **{**variant.settings, **more})
    history = validate_config(base)
    run = validate_config(msgspec.structs.replace(
        base, days=days, start=base.start + timedelta(days=variant.history_days)))
    return history, run
