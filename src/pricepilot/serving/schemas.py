"""Wire schemas of the HTTP API: msgspec structs with their constraints.

These are the request and response bodies of ``/v1``; the OpenAPI document is generated from them
(:mod:`pricepilot.service.openapi`), so a constraint written here is both enforced and published.
Money is always integer minor units plus an ISO currency code.

>>> import msgspec
>>> req = msgspec.json.decode(b'{"product_ids": ["SKU-1"], "customer_id": "c1"}', type=QuoteRequest)
>>> req.product_ids
['SKU-1']
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal, Union

import msgspec
from msgspec import Meta

from pricepilot import bounds as b

# Catalogue and event structs are part of the wire format as they are; re-exported here so every
# body type of the API can be found in one module.
from pricepilot.catalog.models import Category as Category
from pricepilot.catalog.models import CategoryPolicy as CategoryPolicy
from pricepilot.catalog.models import Guardrails as Guardrails
from pricepilot.catalog.models import Product as Product
from pricepilot.events.conflicts import EventConflict as EventConflict
from pricepilot.events.schemas import Event

MAX_QUOTE_PRODUCTS = 100
MAX_EVENTS_PER_BATCH = 1_000
MAX_CART_LINES = 200
MAX_COUPONS = 20

# The bounds every field is declared with live in pricepilot.bounds (one constant per kind of
# field, shared with validation and the store's columns); these are their wire names.
Id = b.Id  # a shop's identifier: 1-128 printable characters, no white space or "/"
Currency = b.Currency
Minor = b.Money  # money in integer minor units, [0, 10**13]
PositiveMinor = b.PositiveMoney
Quantity = b.Quantity
Label = b.Label
CouponCode = b.Label
Count = b.Count
Timestamp = b.Timestamp
Signature = Annotated[str, Meta(min_length=1, max_length=512, pattern=b.PRINTABLE_PATTERN)]

_OPTS = dict(forbid_unknown_fields=True, kw_only=True)


class _In(msgspec.Struct, **_OPTS):
    """Request bodies: unknown fields are refused so typos do not pass silently."""


class _Out(msgspec.Struct, kw_only=True):
    """Response bodies."""


# ---------------------------------------------------------------------------------------- errors


class ErrorDetail(_Out, kw_only=True):
    path: str  # JSON path of the bad field, e.g. "$.lines[0].quantity"
    reason: str


class ErrorResponse(_Out, kw_only=True):
    error: str  # machine-readable code: validation_error, not_found, unauthorized...
    message: str
    details: list[ErrorDetail] = msgspec.field(default_factory=list)


# ---------------------------------------------------------------------------------------- events

EventBatch = Annotated[
    list[Event], Meta(min_length=1, max_length=MAX_EVENTS_PER_BATCH)
]
# One event object, or a JSON array of up to 1,000 events.
EventsBody = Union[EventBatch, Event]


class IngestResult(_Out, kw_only=True, omit_defaults=True):
    """A batch is stored whole or refused whole (422, nothing written) when an event is invalid
    or implausible; a re-sent id is a duplicate when identical, a conflict when not
    (``conflicts`` is left out of the answer when there are none)."""

    accepted: int  # newly and durably written
    duplicates: int  # event ids already stored with the same content: changed nothing
    # event ids already stored (or earlier in the batch) with different content, with the fields
    # that differ: not written, the stored event stands
    conflicts: list[EventConflict] = msgspec.field(default_factory=list)


# ---------------------------------------------------------------------------------------- quotes


class QuoteRequest(_In, kw_only=True):
    product_ids: Annotated[list[Id], Meta(min_length=1, max_length=MAX_QUOTE_PRODUCTS)]
    customer_id: Id | None = None  # the shop's customer id; absent for anonymous shoppers
    session_id: Id | None = None
    currency: Currency | None = None  # default: the shop currency
    channel: Label | None = None
    device: Label | None = None
    region: Label | None = None


class ExplanationStep(_Out, kw_only=True):
    stage: str  # candidates, demand, objective, exploration, smoothing, guardrail:<rule>, ...
    price: int  # the price after this stage, minor units
    note: str = ""
    # expected profit per view the stage gave up, minor units (negative: gained); None: unknown
    profit_cost: float | None = None


class Quote(_Out, kw_only=True):
    quote_id: str
    product_id: str
    price: int
    currency: str
    list_price: int
    expires_at: datetime
    signature: str
    reference_price: int | None = None  # lowest price of the prior 30 days, beside any reduction
    personalised: bool = False
    fallback: bool = False  # true: a guarded list price served because the engine was unavailable
    model_version: str | None = None
    propensity: float | None = None
    binding_rule: str | None = None
    explanation: list[ExplanationStep] = msgspec.field(default_factory=list)
    disclosure: str | None = None


class QuoteResponse(_Out, kw_only=True):
    quotes: list[Quote]
    fallback: bool = False


# ----------------------------------------------------------------------------------------- carts


class CartLine(_In, kw_only=True):
    product_id: Id
    quantity: Quantity = 1
    quote_id: Id | None = None  # a quote to honour: its price, if still valid and signed
    quote_signature: Signature | None = None


class CartRequest(_In, kw_only=True):
    currency: Currency
    lines: Annotated[list[CartLine], Meta(min_length=1, max_length=MAX_CART_LINES)]
    customer_id: Id | None = None
    cart_id: Id | None = None
    coupons: Annotated[list[CouponCode], Meta(max_length=MAX_COUPONS)] = msgspec.field(
        default_factory=list
    )
    shipping: Minor = 0


class AppliedPromotion(_Out, kw_only=True):
    promotion_id: str
    name: str
    stage: str  # catalogue | item | order | shipping
    amount: int  # discount taken, minor units


class NotApplied(_Out, kw_only=True):
    promotion_id: str
    reason: str
    hint: str | None = None  # e.g. "spend 12.00 more for 20.00 off"


class PricedLine(_Out, kw_only=True):
    product_id: str
    quantity: int
    unit_price: int  # before promotions (the quoted price when a quote was honoured)
    subtotal: int
    discount: int
    total: int
    quote_id: str | None = None
    promotions: list[AppliedPromotion] = msgspec.field(default_factory=list)


class PricedCart(_Out, kw_only=True):
    currency: str
    lines: list[PricedLine]
    subtotal: int
    discount: int
    shipping: int
    shipping_discount: int
    total: int
    applied: list[AppliedPromotion] = msgspec.field(default_factory=list)
    not_applied: list[NotApplied] = msgspec.field(default_factory=list)


# ---------------------------------------------------------------------------------------- orders


class OrderRequest(_In, kw_only=True):
    order_id: Id
    currency: Currency
    lines: Annotated[list[CartLine], Meta(min_length=1, max_length=MAX_CART_LINES)]
    customer_id: Id | None = None
    coupons: Annotated[list[CouponCode], Meta(max_length=MAX_COUPONS)] = msgspec.field(
        default_factory=list
    )
    shipping: Minor = 0


class Redemption(_Out, kw_only=True):
    promotion_id: str
    amount: int


class OrderConfirmation(_Out, kw_only=True):
    order_id: str
    status: Literal["confirmed", "cancelled"]
    cart: PricedCart
    redemptions: list[Redemption] = msgspec.field(default_factory=list)
    # True when this order id had been confirmed before and the stored result is returned.
    replayed: bool = False


# ------------------------------------------------------------------------------------ promotions


class MinSubtotal(_In, kw_only=True, tag="min_subtotal"):
    amount: PositiveMinor


class MinQuantity(_In, kw_only=True, tag="min_quantity"):
    quantity: Quantity
    product_ids: Annotated[list[Id], Meta(max_length=1000)] = msgspec.field(default_factory=list)
    categories: Annotated[list[Category], Meta(max_length=100)] = msgspec.field(
        default_factory=list)


class InProducts(_In, kw_only=True, tag="products"):
    product_ids: Annotated[list[Id], Meta(min_length=1, max_length=1000)]


class InCategories(_In, kw_only=True, tag="categories"):
    categories: Annotated[list[Category], Meta(min_length=1, max_length=100)]


class CustomerSegment(_In, kw_only=True, tag="segment"):
    segments: Annotated[list[Label], Meta(min_length=1, max_length=100)]


Condition = Union[MinSubtotal, MinQuantity, InProducts, InCategories, CustomerSegment]

Percent = Annotated[float, Meta(gt=0, le=100)]


class PercentOff(_In, kw_only=True, tag="percent_off"):
    percent: Percent
    product_ids: Annotated[list[Id], Meta(max_length=1000)] = msgspec.field(default_factory=list)
    categories: Annotated[list[Category], Meta(max_length=100)] = msgspec.field(
        default_factory=list)
    max_amount: PositiveMinor | None = None


class AmountOff(_In, kw_only=True, tag="amount_off"):
    amount: PositiveMinor
    per_item: bool = False


class FixedPrice(_In, kw_only=True, tag="fixed_price"):
    price: Minor
    product_ids: Annotated[list[Id], Meta(min_length=1, max_length=1000)]


class BuyXGetY(_In, kw_only=True, tag="buy_x_get_y"):
    buy: Quantity
    get: Quantity
    percent: Percent = 100.0
    product_ids: Annotated[list[Id], Meta(max_length=1000)] = msgspec.field(default_factory=list)


class FreeShipping(_In, kw_only=True, tag="free_shipping"):
    pass


Benefit = Union[PercentOff, AmountOff, FixedPrice, BuyXGetY, FreeShipping]


class PromotionSpec(_In, kw_only=True):
    """A promotion as an admin defines it: conditions + benefits + limits."""

    name: b.Name
    stage: Literal["catalogue", "item", "order", "shipping"] = "item"
    # exactly one benefit: define one promotion per benefit
    benefits: Annotated[list[Benefit], Meta(min_length=1, max_length=1)]
    conditions: Annotated[list[Condition], Meta(max_length=20)] = msgspec.field(
        default_factory=list
    )
    priority: Annotated[int, Meta(ge=0, le=1_000_000)] = 0
    exclusive: bool = False
    combinable_with: Annotated[list[Id], Meta(max_length=100)] = msgspec.field(
        default_factory=list
    )
    coupon_code: CouponCode | None = None
    starts_at: Timestamp | None = None
    ends_at: Timestamp | None = None  # after starts_at
    currency: Currency | None = None
    budget: PositiveMinor | None = None  # total discount this promotion may give
    usage_limit: Count | None = None
    per_customer_limit: Count | None = None


class Promotion(_Out, kw_only=True):
    promotion_id: str
    status: Literal["active", "paused"]
    spec: PromotionSpec
    created_at: datetime
    updated_at: datetime
    redeemed_amount: int = 0
    redemptions: int = 0


class PromotionList(_Out, kw_only=True):
    promotions: list[Promotion]


class PromotionPreviewRequest(_In, kw_only=True):
    """What ``promotion`` would do to ``cart``, alone or on top of the active promotions."""

    promotion: PromotionSpec
    cart: CartRequest
    with_active: bool = True


# ------------------------------------------------------------------------- products, guardrails

ListLimit = Annotated[int, Meta(ge=1, le=1000)]


class ProductPage(_Out, kw_only=True):
    products: list[Product]
    next_after: str | None = None  # pass as ?after= to read the next page


class CategoryPolicyList(_Out, kw_only=True):
    policies: list[CategoryPolicy]


# ---------------------------------------------------------------------------------------- models


class ModelInfo(_Out, kw_only=True):
    version: str
    kind: str
    status: Literal["active", "candidate", "retired"]
    created_at: datetime
    metrics: dict[str, float] = msgspec.field(default_factory=dict)


class ModelList(_Out, kw_only=True):
    models: list[ModelInfo]
    active: str | None = None


# -------------------------------------------------------------------------------------- shoppers


class ConsentRequest(_In, kw_only=True):
    personalisation: bool


class Consent(_Out, kw_only=True):
    customer_id: str
    personalisation: bool
    updated_at: datetime


class ErasureResult(_Out, kw_only=True):
    customer_id: str
    erased: dict[str, int]  # records removed per store (events, features, consent, ...)


# ---------------------------------------------------------------------------------------- health


class DependencyStatus(_Out, kw_only=True):
    ok: bool
    detail: str = ""


class Readiness(_Out, kw_only=True):
    ready: bool
    dependencies: dict[str, DependencyStatus]


class Health(_Out, kw_only=True):
    status: Literal["ok"] = "ok"
