"""Promotion definitions: conditions + benefit + targeting + limits + stacking.

Definitions are msgspec structs; conditions and benefits are tagged unions on ``kind`` so the
same shape is written in YAML/JSON files and through the Python API. Money is written as decimal
text in major units (``"20.00"``) and turned into integer minor units when the definition is
validated (:func:`pricepilot.promotions.validation.compile_promotion`).

>>> p = Promotion(id="P10", currency="EUR", benefit=PercentOff(percent="10"))
>>> msgspec.to_builtins(p)["benefit"]["kind"]
'percent_off'
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import msgspec

UnitOrder = Literal["cheapest", "most_expensive"]
Stage = Literal["auto", "catalogue", "item", "order", "shipping"]
STAGE_ORDER: dict[str, int] = {"catalogue": 0, "item": 1, "order": 2, "shipping": 3}


class _S(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, omit_defaults=True):
    pass


class Targeting(_S):
    """Which items a promotion is about. Empty include lists mean every item."""

    skus: list[str] = msgspec.field(default_factory=list)
    categories: list[str] = msgspec.field(default_factory=list)
    brands: list[str] = msgspec.field(default_factory=list)
    exclude_skus: list[str] = msgspec.field(default_factory=list)
    exclude_categories: list[str] = msgspec.field(default_factory=list)
    exclude_brands: list[str] = msgspec.field(default_factory=list)

    @property
    def is_all(self) -> bool:
        return not (self.skus or self.categories or self.brands)

    def matches(self, sku: str, category: str | None, brand: str | None) -> bool:
        if sku in self.exclude_skus:
            return False
        if category is not None and category in self.exclude_categories:
            return False
        if brand is not None and brand in self.exclude_brands:
            return False
        if self.is_all:
            return True
        return (
            sku in self.skus
            or (category is not None and category in self.categories)
            or (brand is not None and brand in self.brands)
        )


# ---------------------------------------------------------------- conditions
class _C(_S, tag_field="kind"):
    pass


class MinQuantity(_C, tag="min_quantity"):
    """At least ``qty`` units of targeted items (of ``targeting`` when given)."""

    qty: int
    targeting: Targeting | None = None


class MinSubtotal(_C, tag="min_subtotal"):
    """Targeted subtotal of at least ``amount``, on a declared base (the policy's by default)."""

    amount: str
    base: Literal["policy", "running_net", "original"] = "policy"
    targeting: Targeting | None = None


class DistinctSkus(_C, tag="distinct_skus"):
    """At least ``count`` distinct SKUs in the cart (of ``skus`` when given)."""

    count: int
    skus: list[str] = msgspec.field(default_factory=list)


class CustomerSegment(_C, tag="segment"):
    """The customer's segment or tier is one of ``segments``."""

    segments: list[str]


class NewCustomer(_C, tag="new_customer"):
    pass


class FirstOrder(_C, tag="first_order"):
    pass


class CouponCode(_C, tag="coupon"):
    """One of ``codes`` was entered (case-insensitive), with its own validity and usage limits."""

    codes: list[str]
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    max_uses: int | None = None
    max_uses_per_customer: int | None = None
    customer_ids: list[str] = msgspec.field(default_factory=list)


class Channel(_C, tag="channel"):
    channels: list[str]


class RecurringWindow(_C, tag="recurring"):
    """Recurring time window in the shop's time zone, e.g. daily 20:00-22:00 (end exclusive).

    ``days`` are ``mon`` .. ``sun`` (empty: every day); a window ending before it starts runs past
    midnight and belongs to the day it starts on.
    """

    start: str
    end: str
    days: list[str] = msgspec.field(default_factory=list)


class Holiday(_C, tag="holiday"):
    """Today is a holiday in the caller's calendar (one of ``names`` when given)."""

    names: list[str] = msgspec.field(default_factory=list)


class CompetitorPromotion(_C, tag="competitor_promotion"):
    """A competitor runs a promotion on a targeted product or its category."""

    scope: Literal["product", "category", "any"] = "any"


Condition = (
    MinQuantity | MinSubtotal | DistinctSkus | CustomerSegment | NewCustomer | FirstOrder
    | CouponCode | Channel | RecurringWindow | Holiday | CompetitorPromotion
)


# ---------------------------------------------------------------- benefits
class _B(_S, tag_field="kind"):
    pass


class PercentOff(_B, tag="percent_off"):
    """``percent`` off targeted units (running net or original price, per the policy).

    ``max_units`` caps units cart-wide, ``max_units_per_line`` per line, picked in ``unit_order``.
    ``include_shipping`` also discounts shipping (order stage).
    """

    percent: str
    max_units: int | None = None
    max_units_per_line: int | None = None
    unit_order: UnitOrder = "cheapest"
    include_shipping: bool = False


class AmountOff(_B, tag="amount_off"):
    """``amount`` off each unit, each line, or the order (allocated across targeted lines)."""

    amount: str
    per: Literal["unit", "line", "order"] = "order"
    max_units: int | None = None
    max_units_per_line: int | None = None
    unit_order: UnitOrder = "cheapest"
    include_shipping: bool = False


class FixedPrice(_B, tag="fixed_price"):
    """Any ``qty`` targeted units for ``price`` ("any 3 for 20.00"), repeating."""

    qty: int
    price: str


class Tier(_S):
    spend: str
    amount: str | None = None
    percent: str | None = None


class TieredThreshold(_B, tag="tiered"):
    """Spend X get Y off, best reached tier ("100->10, 200->25, 500->80")."""

    tiers: list[Tier]


class RepeatingThreshold(_B, tag="every_spend"):
    """Every ``step`` spent gives ``amount`` off, up to ``cap`` when given."""

    step: str
    amount: str
    cap: str | None = None


class BuyXGetY(_B, tag="buy_x_get_y"):
    """Buy ``buy_qty`` (of ``buy``), get ``get_qty`` (of ``get``) ``percent`` off or ``amount`` off.

    ``which`` picks the cheapest or most expensive units as the discounted ones. ``repeat``
    applies it as often as the cart allows, up to ``max_quantity`` discounted units (required
    when repeating).
    """

    buy_qty: int
    get_qty: int = 1
    buy: Targeting | None = None
    get: Targeting | None = None
    percent: str | None = None
    amount: str | None = None
    which: UnitOrder = "cheapest"
    repeat: bool = True
    max_quantity: int | None = None


class GiftItem(_S):
    sku: str
    unit_price: str
    category: str | None = None
    brand: str | None = None


class Gift(_B, tag="gift"):
    """Adds ``qty`` of a gift SKU for free, only when in stock (``MarketState.inventory``)."""

    items: list[GiftItem]
    qty: int = 1
    choice: Literal["first_available", "most_expensive_available"] = "first_available"


class Bundle(_B, tag="bundle"):
    """A named set of SKUs (``items``: sku -> units) for ``price``, repeating."""

    items: dict[str, int]
    price: str


class ShippingDiscount(_B, tag="shipping"):
    """Free (percent 100) or discounted shipping, on ``methods`` (empty: all)."""

    percent: str | None = None
    amount: str | None = None
    methods: list[str] = msgspec.field(default_factory=list)


Benefit = (
    PercentOff | AmountOff | FixedPrice | TieredThreshold | RepeatingThreshold | BuyXGetY | Gift
    | Bundle | ShippingDiscount
)


class Limits(_S):
    max_applications: int | None = None  # per cart
    max_discount_per_application: str | None = None
    budget: str | None = None  # total money given away, over all orders
    max_redemptions: int | None = None  # total orders
    max_redemptions_per_customer: int | None = None


class Promotion(_S):
    """One promotion. ``priority``: higher runs first within a stage.

    ``exclusive`` never combines with another promotion; ``combinable_with`` lists ids it may
    combine with anyway; promotions sharing an ``exclusion_group`` are alternatives (at most one).
    """

    id: str
    benefit: Benefit
    currency: str = "EUR"
    name: str = ""
    stage: Stage = "auto"
    priority: int = 0
    exclusive: bool = False
    combinable_with: list[str] = msgspec.field(default_factory=list)
    exclusion_group: str | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    targeting: Targeting = msgspec.field(default_factory=Targeting)
    conditions: list[Condition] = msgspec.field(default_factory=list)
    limits: Limits = msgspec.field(default_factory=Limits)


class PromotionFile(_S):
    promotions: list[Promotion]
