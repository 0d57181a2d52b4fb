"""What the caller hands the engine: the cart, the customer, the market state and usage so far.

The engine needs no database: everything it decides on arrives in these values.

>>> cart = Cart(currency="EUR", lines=[CartLine(sku="A", qty=2, unit_price=1000)])
>>> cart.lines[0].qty
2
"""

from __future__ import annotations

import msgspec


class _S(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, omit_defaults=True):
    pass


class CartLine(_S):
    sku: str
    qty: int
    unit_price: int  # minor units
    category: str | None = None
    brand: str | None = None
    min_price: int | None = None  # per-unit floor (minor units); no discount goes below it
    quote_id: str | None = None


class ShippingLine(_S):
    method: str
    price: int  # minor units


class Cart(_S):
    currency: str
    lines: list[CartLine]
    shipping: list[ShippingLine] = msgspec.field(default_factory=list)


class Customer(_S):
    id: str | None = None
    segment: str | None = None
    tier: str | None = None
    new_customer: bool = False
    order_count: int = 0
    channel: str | None = None


class MarketState(_S):
    """Calendar and competitor facts for today, and stock of possible gifts."""

    holidays: list[str] = msgspec.field(default_factory=list)
    competitor_skus: list[str] = msgspec.field(default_factory=list)
    competitor_categories: list[str] = msgspec.field(default_factory=list)
    inventory: dict[str, int] = msgspec.field(default_factory=dict)


class Usage(_S):
    """Consumption so far (from the redemption ledger), so limits can be explained up front.

    The ledger enforces the limits atomically at redemption; this only lets the priced cart say
    "used up" before checkout. Keys: promotion id; coupon uses keyed by upper-case code.
    """

    redemptions: dict[str, int] = msgspec.field(default_factory=dict)
    spent: dict[str, int] = msgspec.field(default_factory=dict)
    customer_redemptions: dict[str, int] = msgspec.field(default_factory=dict)
    coupon_uses: dict[str, int] = msgspec.field(default_factory=dict)
    customer_coupon_uses: dict[str, int] = msgspec.field(default_factory=dict)
