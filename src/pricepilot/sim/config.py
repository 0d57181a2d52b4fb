"""Settings of a simulated market: size, horizon, seed and the behavioural constants.

>>> cfg = SimConfig(days=7, shoppers=200, products=20, seed=1)
>>> validate_config(cfg).days
7
"""

from __future__ import annotations

from datetime import datetime, timezone

import msgspec

from pricepilot.errors import ValidationError
from pricepilot.money import exponent


class SimConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    """Everything that fixes a simulated shop. Same config (incl. ``seed``) -> same market."""

    seed: int = 7
    days: int = 90
    shoppers: int = 5000
    products: int = 200
    categories: int = 8
    competitors: int = 3  # 0..3: undercutter, cost-plus, promoter (in that order)
    start: datetime = datetime(2026, 9, 1, tzinfo=timezone.utc)  # covers Singles Day, Black Friday
    currency: str = "EUR"
    # arrivals: expected sessions per shopper per day before weekday/holiday multipliers
    visit_rate: float = 0.15
    views_per_session: float = 3.5  # mean; 1 + Poisson(mean - 1)
    holiday_arrival_boost: float = 1.6
    # products
    stock_limited_share: float = 0.2  # share of products with finite stock
    season_end_share: float = 0.5  # of the stock-limited ones, share that also has a season end
    # demand
    sensitivity_spread: float = 0.6  # sd of log price sensitivity across shoppers
    price_response: float = 2.2  # gamma: utility slope per unit of price/list for sensitivity 1
    competitor_penalty: float = 2.0  # kappa: share 2 / (1 + exp(kappa (p/lowest_comp - 1)))
    reference_loss: float = 3.0  # lambda_loss: price above the reference price hurts ...
    reference_gain: float = 1.5  # lambda_gain: ... more than a price below it helps
    reference_memory: float = 0.8  # reference <- m * reference + (1 - m) * today's mean price
    cart_ratio: float = 2.5  # P(add to cart) = min(1, cart_ratio * P(buy))
    # share of products per true demand shape: logit, linear, exponential, reference (sums to 1)
    shape_share: tuple[float, float, float, float] = (0.3, 0.2, 0.2, 0.3)
    # shoppers: every latent sensitivity times this; a share of loyal shoppers (leaning to the
    # gold tier) whose sensitivity is further multiplied by loyal_sensitivity and who visit
    # loyal_activity times as often
    sensitivity_scale: float = 1.0
    loyal_share: float = 0.0
    loyal_sensitivity: float = 0.4
    loyal_activity: float = 2.0
    # price ladders: a share of products may only be sold at ladder_rungs prices ending in .99,
    # about ladder_step apart around the list price (the rest are priced on a free grid)
    ladder_share: float = 0.0
    ladder_step: float = 0.10
    ladder_rungs: int = 7
    # competitors (see competitors.py): "rules" (undercutter, cost-plus, promoter) or "index"
    # (every competitor follows one market index, a mean-reverting random walk)
    competitor_mode: str = "rules"
    undercut: float = 0.05  # the undercutter's cut below our price of yesterday ...
    undercut_floor: float = 0.85  # ... never below this share of list (nor cost + 5%)
    promo_rate: float = 0.04  # the promoter's promotion starts per product-day
    promo_depth: tuple[float, float] = (0.1, 0.3)  # its discount range (uniform)
    index_volatility: float = 0.03  # "index": daily sd of the log index
    # historical pricing policy (generate_history)
    promo_start_rate: float = 0.02  # per product-day
    price_test_share: float = 0.5  # share of product-weeks with a random price test


def _bad(field: str, reason: str) -> ValidationError:
    return ValidationError("sim config", field, reason)


def validate_config(cfg: SimConfig) -> SimConfig:
    """Check the config; raises :class:`ValidationError` naming the field."""
    for name in ("days", "shoppers", "products", "categories"):
        if getattr(cfg, name) < 1:
            raise _bad(name, f"must be at least 1, got {getattr(cfg, name)}")
    if cfg.categories > cfg.products:
        raise _bad("categories", f"{cfg.categories} categories need at least as many products")
    if not 0 <= cfg.competitors <= 3:
        raise _bad("competitors", f"must be 0..3, got {cfg.competitors}")
    if cfg.start.tzinfo is None:
        raise _bad("start", "must carry a time zone")
    try:
        exponent(cfg.currency)
    except ValidationError:
        raise _bad("currency", f"unknown currency {cfg.currency!r}") from None
    if cfg.visit_rate <= 0:
        raise _bad("visit_rate", f"must be positive, got {cfg.visit_rate}")
    if cfg.views_per_session < 1:
        raise _bad("views_per_session", f"must be at least 1, got {cfg.views_per_session}")
    for name in ("stock_limited_share", "season_end_share", "price_test_share"):
        v = getattr(cfg, name)
        if not 0.0 <= v <= 1.0:
            raise _bad(name, f"must be in [0, 1], got {v}")
    if not 0.0 <= cfg.reference_memory < 1.0:
        raise _bad("reference_memory", f"must be in [0, 1), got {cfg.reference_memory}")
    for name in ("sensitivity_spread", "price_response", "competitor_penalty", "reference_loss", "reference_gain",
                 "holiday_arrival_boost", "promo_start_rate"):
        if getattr(cfg, name) < 0:
            raise _bad(name, f"must not be negative, got {getattr(cfg, name)}")
    if cfg.cart_ratio < 1:
        raise _bad("cart_ratio", f"must be at least 1, got {cfg.cart_ratio}")
    _validate_variant_knobs(cfg)
    return cfg


COMPETITOR_MODES = ("rules", "index")


def _validate_variant_knobs(cfg: SimConfig) -> None:
    share = cfg.shape_share
    if len(share) != 4 or any(v < 0 for v in share) or abs(sum(share) - 1.0) > 1e-9:
        raise _bad("shape_share", f"needs 4 non-negative shares summing to 1, got {share}")
    for name in ("loyal_share", "ladder_share", "undercut", "promo_rate"):
        v = getattr(cfg, name)
        if not 0.0 <= v <= 1.0:
            raise _bad(name, f"must be in [0, 1], got {v}")
    for name in ("sensitivity_scale", "loyal_sensitivity", "loyal_activity", "ladder_step",
                 "undercut_floor"):
        if getattr(cfg, name) <= 0:
            raise _bad(name, f"must be positive, got {getattr(cfg, name)}")
    if cfg.ladder_rungs < 2:
        raise _bad("ladder_rungs", f"must be at least 2, got {cfg.ladder_rungs}")
    lo, hi = cfg.promo_depth
    if not 0.0 <= lo <= hi < 1.0:
        raise _bad("promo_depth", f"needs 0 <= low <= high < 1, got {cfg.promo_depth}")
    if cfg.competitor_mode not in COMPETITOR_MODES:
        raise _bad("competitor_mode", f"must be one of {COMPETITOR_MODES}, got {cfg.competitor_mode!r}")
    if cfg.index_volatility < 0:
        raise _bad("index_volatility", f"must not be negative, got {cfg.index_volatility}")
