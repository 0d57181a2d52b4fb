"""Catalogue entities: products and their guardrail policy.

Money fields are integer minor units of ``currency``. Guardrails can be set per category and
overridden per product; :func:`effective_guardrails` resolves them.

>>> p = Product(product_id="SKU-1", title="Mug", category="kitchen", currency="EUR",
...             unit_cost=400, list_price=999)
>>> validate_product(p).list_price
999
"""

from __future__ import annotations

from datetime import datetime

import msgspec

from pricepilot.errors import ValidationError
from pricepilot.money import exponent


class Guardrails(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, omit_defaults=True):
    """Limits a served price may never leave. ``None`` means "not set" (inherit or no limit)."""

    floor: int | None = None  # minor units
    ceiling: int | None = None  # minor units
    min_margin: float | None = None  # (price - cost) / price must be >= this
    max_change_per_day: float | None = None  # fraction of yesterday's price
    price_ending: int | None = None  # e.g. 99: price % ending_modulus == 99
    ending_modulus: int | None = None  # default 10**exponent (one major unit)
    ladder: list[int] | None = None  # the only allowed prices, minor units, ascending

    def merged_over(self, base: Guardrails) -> Guardrails:
        """These guardrails with unset fields taken from ``base``."""
        return Guardrails(
            **{
                f: (getattr(self, f) if getattr(self, f) is not None else getattr(base, f))
                for f in self.__struct_fields__
            }
        )


class Product(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    product_id: str
    title: str
    category: str
    currency: str
    unit_cost: int
    list_price: int
    brand: str = ""
    attributes: dict[str, str] = msgspec.field(default_factory=dict)
    stock: int | None = None  # None: not stock-limited
    season_end: datetime | None = None
    guardrails: Guardrails = msgspec.field(default_factory=Guardrails)


class CategoryPolicy(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    category: str
    guardrails: Guardrails


def validate_guardrails(g: Guardrails, entity: str, cost: int | None = None) -> Guardrails:
    def bad(field: str, reason: str) -> ValidationError:
        return ValidationError(entity, f"guardrails.{field}", reason)

    if g.floor is not None and g.floor < 0:
        raise bad("floor", f"must not be negative, got {g.floor}")
    if g.ceiling is not None and g.ceiling <= 0:
        raise bad("ceiling", f"must be positive, got {g.ceiling}")
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
        if g.ladder != sorted(set(g.ladder)):
            raise bad("ladder", "prices must be strictly ascending")
    return g


def validate_product(p: Product) -> Product:
    """Check a product's fields; raises :class:`ValidationError` naming the product and field."""
    entity = f"product {p.product_id!r}"
    if not p.product_id or not p.product_id.strip():
        raise ValidationError("product", "product_id", "must not be empty")
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
    if p.season_end is not None and p.season_end.tzinfo is None:
        raise ValidationError(entity, "season_end", "must carry a time zone")
    validate_guardrails(p.guardrails, entity, p.unit_cost)
    return p


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
