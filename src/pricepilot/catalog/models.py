"""Catalogue entities: products and their guardrail policy.

Money fields are integer minor units of ``currency``; every field's bounds (length, characters,
range) come from :mod:`pricepilot.bounds`: decoding enforces them, :func:`validate_product` checks
them again for products built in Python, and the store columns are declared at those widths. Guardrails can be set per category and
overridden per product; :func:`effective_guardrails` resolves them.

>>> p = Product(product_id="SKU-1", title="Mug", category="kitchen", currency="EUR",
...             unit_cost=400, list_price=999)
>>> validate_product(p).list_price
999
"""

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import Meta

from pricepilot import bounds as b
from pricepilot.bounds import Currency, Id, Label, Money, PositiveMoney, Stock, Text, Timestamp
from pricepilot.errors import ValidationError
from pricepilot.money import exponent

# A category names a URL path segment (``/v1/admin/guardrails/{category}``): printable, no ``/``,
# not starting with white space.
Category = Annotated[str, Meta(
    min_length=1, max_length=b.ID_MAX, pattern=b.CATEGORY_PATTERN,
    description=f"A category: 1-{b.ID_MAX} printable characters, no '/'.")]
Title = Annotated[str, Meta(min_length=1, max_length=b.TEXT_MAX, pattern=b.PRINTABLE_PATTERN)]
Margin = Annotated[float, Meta(gt=-1.0, lt=1.0)]
ChangeLimit = Annotated[float, Meta(gt=0.0, le=1.0)]
Modulus = Annotated[int, Meta(ge=2, le=b.MONEY_MAX)]
Ladder = Annotated[list[PositiveMoney], Meta(
    min_length=1, max_length=b.LADDER_MAX,
    description="The only allowed prices, minor units; kept sorted and without repeats.")]
Attributes = Annotated[dict[Label, Text], Meta(max_length=b.ATTRIBUTES_MAX)]


class Guardrails(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, omit_defaults=True):
    """Limits a served price may never leave. ``None`` means "not set" (inherit or no limit)."""

    floor: Money | None = None  # minor units
    ceiling: PositiveMoney | None = None  # minor units
    min_margin: Margin | None = None  # (price - cost) / price must be >= this
    max_change_per_day: ChangeLimit | None = None  # fraction of yesterday's price
    price_ending: Money | None = None  # e.g. 99: price % ending_modulus == 99
    ending_modulus: Modulus | None = None  # default 10**exponent (one major unit)
    ladder: Ladder | None = None  # the only allowed prices, minor units, ascending

    def __post_init__(self) -> None:
        # A ladder is a set of prices: given in any order, it is kept ascending and unique.
        if self.ladder:
            self.ladder = sorted(set(self.ladder))

    def merged_over(self, base: Guardrails) -> Guardrails:
        """These guardrails with unset fields taken from ``base``."""
        return Guardrails(
            **{
                f: (getattr(self, f) if getattr(self, f) is not None else getattr(base, f))
                for f in self.__struct_fields__
            }
        )


class Product(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    product_id: Id
    title: Title
    category: Category
    currency: Currency
    unit_cost: Money
    list_price: PositiveMoney
    brand: Text = ""
    attributes: Attributes = msgspec.field(default_factory=dict)
    stock: Stock | None = None  # None: not stock-limited
    season_end: Timestamp | None = None
    guardrails: Guardrails = msgspec.field(default_factory=Guardrails)


class CategoryPolicy(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    category: Category
    guardrails: Guardrails


def validate_guardrails(g: Guardrails, entity: str, cost: int | None = None) -> Guardrails:
    def bad(field: str, reason: str) -> ValidationError:
        return ValidationError(entity, f"guardrails.{field}", reason)

    if g.floor is not None and g.floor < 0:
        raise bad("floor", f"must not be negative, got {g.floor}")
    if g.ceiling is not None and g.ceiling <= 0:
        raise bad("ceiling", f"must be positive, got {g.ceiling}")
    for name in ("floor", "ceiling", "price_ending", "ending_modulus"):
        value = getattr(g, name)
        if value is not None:
            b.check_int(entity, f"guardrails.{name}", value, b.MONEY_MIN, b.MONEY_MAX)
    if g.floor is not None and g.ceiling is not None and g.floor > g.ceiling:
        raise bad("floor", f"floor {g.floor} is above ceiling {g.ceiling}")
    if g.min_margin is not None and not (-1.0 < g.min_margin < 1.0):
        raise bad("min_margin", f"must be in (-1, 1), got {g.min_margin}")
    if g.max_change_per_day is not None and not (0.0 < g.max_change_per_day <= 1.0):
        raise bad("max_change_per_day", f"must be in (0, 1], got {g.max_change_per_day}")
    if g.ending_modulus is not None and g.ending_modulus < 2:
        raise bad("ending_modulus", f"must be at least 2, got {g.ending_modulus}")
    if g.price_ending is not None:
        mod = g.ending_modulus or 100
        if not 0 <= g.price_ending < mod:
            raise bad("price_ending", f"must be in [0, {mod}), got {g.price_ending}")
    if g.ladder is not None:
        if not g.ladder:
            raise bad("ladder", "must list at least one price")
        if any(p <= 0 for p in g.ladder):
            raise bad("ladder", "prices must be positive")
        if any(p > b.MONEY_MAX for p in g.ladder):
            raise bad("ladder", f"prices must be at most {b.MONEY_MAX}")
        if len(g.ladder) > b.LADDER_MAX:
            raise bad("ladder", f"must list at most {b.LADDER_MAX} prices")
        if g.ladder != sorted(set(g.ladder)):
            raise bad("ladder", "prices must be strictly ascending")
    return g


def validate_product(p: Product) -> Product:
    """Check a product's fields; raises :class:`ValidationError` naming the product and field."""
    entity = f"product {p.product_id!r}"
    if not p.product_id or not p.product_id.strip():
        raise ValidationError("product", "product_id", "must not be empty")
    b.check_text("product", "product_id", p.product_id, b.ID)
    b.check_text(entity, "title", p.title, b.NAME)
    validate_category(entity, p.category)
    b.check_text(entity, "brand", p.brand, b.TEXT)
    if len(p.attributes) > b.ATTRIBUTES_MAX:
        raise ValidationError(entity, "attributes", f"at most {b.ATTRIBUTES_MAX} attributes")
    for key, value in p.attributes.items():
        b.check_text(entity, "attributes", key, b.LABEL)
        b.check_text(entity, f"attributes.{key}", value, b.TEXT)
    try:
        exponent(p.currency)
    except ValidationError:
        raise ValidationError(entity, "currency", f"unknown currency {p.currency!r}") from None
    if p.unit_cost < 0:
        raise ValidationError(entity, "unit_cost", f"must not be negative, got {p.unit_cost}")
    if p.list_price <= 0:
        raise ValidationError(entity, "list_price", f"must be positive, got {p.list_price}")
    if p.stock is not None and p.stock < 0:
        raise ValidationError(entity, "stock", f"must not be negative, got {p.stock}")
    b.check_int(entity, "unit_cost", p.unit_cost, b.MONEY_MIN, b.MONEY_MAX)
    b.check_int(entity, "list_price", p.list_price, 1, b.MONEY_MAX)
    if p.stock is not None:
        b.check_int(entity, "stock", p.stock, b.STOCK_MIN, b.STOCK_MAX)
    if p.season_end is not None and p.season_end.tzinfo is None:
        raise ValidationError(entity, "season_end", "must carry a time zone")
    validate_guardrails(p.guardrails, entity, p.unit_cost)
    return p


def validate_category(entity: str, category: str) -> str:
    """``category`` if it is a valid category name (see :data:`Category`)."""
    if not category.strip():
        raise ValidationError(entity, "category", "must not be empty")
    problem = b.CATEGORY.problem(category)
    if problem is not None:
        raise ValidationError(entity, "category", problem)
    return category


def effective_guardrails(
    product: Product,
    categories: dict[str, Guardrails] | None = None,
    default: Guardrails | None = None,
) -> Guardrails:
    """Product guardrails over its category's over the shop default."""
    g = product.guardrails
    if categories and product.category in categories:
        g = g.merged_over(categories[product.category])
    if default is not None:
        g = g.merged_over(default)
    return g
