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
    return cfg
