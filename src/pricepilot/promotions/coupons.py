"""Coupon codes: generation from an unambiguous alphabet, and validation with specific errors.

Codes are case-insensitive; the alphabet leaves out 0/O, 1/I/L so a code read aloud or typed
from print cannot be mistaken.

>>> import random
>>> codes = generate_codes(3, length=8, prefix="XMAS-", rng=random.Random(1))
>>> len(codes), all(c.startswith("XMAS-") and len(c) == 13 for c in codes)
(3, True)
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Sequence
from datetime import datetime

from pricepilot.errors import PricepilotError, ValidationError
from pricepilot.promotions.cart import Cart, Customer, MarketState, Usage
from pricepilot.promotions.engine import PromotionEngine
from pricepilot.promotions.validation import normalise_code

ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"

COUPON_ERRORS = ("unknown", "expired", "not_yet_valid", "used_up", "not_for_customer", "cart_does_not_qualify",
                 "not_combinable")


class CouponError(PricepilotError):
    """A coupon code cannot be used; ``reason`` is one of :data:`COUPON_ERRORS`."""

    http_status = 422
    code = "coupon_error"

    def __init__(self, coupon: str, reason: str, message: str) -> None:
        self.coupon = coupon
        self.reason = reason
        super().__init__(f"coupon {coupon!r}: {reason}: {message}")


def generate_codes(
    n: int, *, length: int = 10, prefix: str = "", existing: Sequence[str] = (), rng: random.Random | None = None,
) -> list[str]:
    """``n`` distinct new codes (not in ``existing``), cryptographically random unless ``rng``."""
    if n < 0:
        raise ValidationError("coupon generation", "n", "must not be negative")
    if length < 6:
        raise ValidationError("coupon generation", "length", "must be at least 6 characters")
    if len(ALPHABET) ** length < 4 * (n + len(existing)):
        raise ValidationError("coupon generation", "length", f"too short for {n} distinct codes")
    pick = rng.choice if rng is not None else secrets.choice
    taken = {normalise_code(c) for c in existing}
    out: list[str] = []
    while len(out) < n:
        code = normalise_code(prefix) + "".join(pick(ALPHABET) for _ in range(length))
        if code not in taken:
            taken.add(code)
            out.append(code)
    return out


def validate_coupon(
    engine: PromotionEngine,
    code: str,
    cart: Cart,
    customer: Customer | None = None,
    at: datetime | None = None,
    *,
    market: MarketState | None = None,
    usage: Usage | None = None,
) -> str:
    """The id of the promotion ``code`` unlocks on this cart, or :class:`CouponError` saying why not."""
    priced = engine.price_cart(cart, customer, at, [code], market=market, usage=usage)
    res = priced.coupons[0] if priced.coupons else None
    if res is None:
        raise CouponError(code, "unknown", "empty code")
    if res.status != "applied" or res.promotion_id is None:
        raise CouponError(res.code, res.error or "cart_does_not_qualify", res.message or "")
    return res.promotion_id
