"""The priced cart: values, never exceptions, with a reason for everything that happened.

All money is integer minor units of ``PricedCart.currency``.
"""

from __future__ import annotations

import msgspec


class _S(msgspec.Struct, kw_only=True, omit_defaults=False):
    pass


class Allocation(_S):
    promotion_id: str
    amount: int


class PricedLine(_S):
    index: int  # position in the input cart; gifts are numbered after the input lines
    sku: str
    qty: int
    unit_price: int
    subtotal: int
    discount: int
    total: int
    allocations: list[Allocation]
    is_gift: bool = False
    quote_id: str | None = None


class PricedShipping(_S):
    method: str
    price: int
    discount: int
    total: int
    allocations: list[Allocation]


class AppliedPromotion(_S):
    id: str
    name: str
    stage: str
    amount: int
    applications: int
    coupon_code: str | None = None
    hint: str | None = None  # upsell towards a higher tier, when one exists


class NotApplied(_S):
    id: str
    reason: str  # a stable code: min_subtotal, coupon_required, ended, ...
    message: str
    hint: str | None = None  # "add EUR 12.00 more to get EUR 20.00 off"


class CouponResult(_S):
    code: str
    status: str  # applied | rejected
    promotion_id: str | None
    error: str | None = None  # unknown | expired | not_yet_valid | used_up | not_for_customer | cart_does_not_qualify
    message: str | None = None


class PricedCart(_S):
    currency: str
    lines: list[PricedLine]
    shipping: list[PricedShipping]
    applied: list[AppliedPromotion]
    not_applied: list[NotApplied]
    coupons: list[CouponResult]
    gifts: list[PricedLine]
    subtotal: int
    item_discount: int
    shipping_total: int
    shipping_discount: int
    discount_total: int
    total: int
    search: str  # best_deal | priority | single
