"""Order-time rules of the service that are not pricing: what makes an order refusable.

A shop sends an order with the coupons its shopper entered. If a coupon can no longer be used
because a limit ran out since the cart was priced (its uses, the promotion's redemptions or
budget, the shopper's own limit), confirming the order at a higher total than the shopper saw
would be a silent price change. :func:`refuse_exhausted_coupons` turns that into a
:class:`~pricepilot.errors.Conflict` (HTTP 409) naming the coupon, so the shop can tell the
shopper and re-price the cart. Coupons rejected for other reasons (unknown code, cart does not
qualify) are the cart's business and show up in ``not_applied`` as before.

>>> from pricepilot.promotions.results import CouponResult, NotApplied, PricedCart
>>> cart = PricedCart(currency="EUR", lines=[], shipping=[], applied=[], gifts=[],
...     not_applied=[NotApplied(id="P1", reason="used_up", message="total redemptions used up")],
...     coupons=[CouponResult(code="FIFTY", status="rejected", promotion_id="P1",
...                           error="cart_does_not_qualify", message="total redemptions used up")],
...     subtotal=0, item_discount=0, shipping_total=0, shipping_discount=0, discount_total=0,
...     total=0, search="single")
>>> refuse_exhausted_coupons(cart)
Traceback (most recent call last):
...
pricepilot.errors.Conflict: coupon 'FIFTY': total redemptions used up; the order was not placed
"""

from __future__ import annotations

from pricepilot.errors import Conflict
from pricepilot.promotions.results import PricedCart

# Reasons (promotions.conditions) meaning "a limit ran out", not "this cart does not qualify".
LIMIT_REASONS = frozenset({"used_up", "budget_exhausted", "customer_limit"})


def refuse_exhausted_coupons(priced: PricedCart) -> None:
    """Raise :class:`Conflict` if an entered coupon was not applied because a limit ran out."""
    reasons = {n.id: n for n in priced.not_applied}
    for c in priced.coupons:
        if c.status == "applied":
            continue
        why = reasons.get(c.promotion_id) if c.promotion_id is not None else None
        if c.error == "used_up" or (why is not None and why.reason in LIMIT_REASONS):
            message = c.message or (why.message if why is not None else "used up")
            raise Conflict("coupon", c.code, f"{message}; the order was not placed")
