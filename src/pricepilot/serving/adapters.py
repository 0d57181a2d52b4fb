"""Mapping between the wire schemas of :mod:`pricepilot.serving.schemas` and the engines' types.

Pure functions, no I/O: promotion specs to promotion definitions, priced carts and decisions to
their wire form, and the compact quote token a shop hands back at checkout.

>>> from pricepilot.serving.schemas import PromotionSpec, PercentOff
>>> p = promotion_from_spec("P1", PromotionSpec(name="Spring", benefits=[PercentOff(percent=10)]),
...                         default_currency="EUR")
>>> p.benefit.percent, p.currency
('10', 'EUR')
"""

from __future__ import annotations

import base64
import binascii
from decimal import Decimal

import msgspec

from pricepilot.errors import ValidationError
from pricepilot.money import format_amount
from pricepilot.pricing.decision import Decision
from pricepilot.pricing.quotes import SignedQuote
from pricepilot.promotions import model as m
from pricepilot.promotions.results import PricedCart as EnginePricedCart
from pricepilot.serving import schemas as s

ANONYMOUS = ""  # the shopper id signed into quotes for anonymous shoppers


# ------------------------------------------------------------------------------------ promotions


def _percent(v: float) -> str:
    # the engine takes percentages as decimal text; repr(float) is the shortest exact round trip
    return format(Decimal(repr(v)).normalize(), "f")


def promotion_from_spec(promotion_id: str, spec: s.PromotionSpec, *,
                        default_currency: str) -> m.Promotion:
    """The promotions engine's definition of ``spec`` (validated later by the repository).

    The engine gives one benefit per promotion; a spec with several is refused (define one
    promotion per benefit) rather than silently combined in a way the admin did not state.
    """
    if len(spec.benefits) != 1:
        raise ValidationError("promotion", "$.benefits",
                              "exactly one benefit per promotion: define one promotion per benefit")
    cur = spec.currency or default_currency
    targeting = m.Targeting()
    conditions: list[m.Condition] = []
    for c in spec.conditions:
        if isinstance(c, s.MinSubtotal):
            conditions.append(m.MinSubtotal(amount=format_amount(c.amount, cur)))
        elif isinstance(c, s.MinQuantity):
            t = (m.Targeting(skus=list(c.product_ids), categories=list(c.categories))
                 if c.product_ids or c.categories else None)
            conditions.append(m.MinQuantity(qty=c.quantity, targeting=t))
        elif isinstance(c, s.InProducts):
            targeting.skus.extend(c.product_ids)
        elif isinstance(c, s.InCategories):
            targeting.categories.extend(c.categories)
        else:
            conditions.append(m.CustomerSegment(segments=list(c.segments)))
    if spec.coupon_code is not None:
        conditions.append(m.CouponCode(codes=[spec.coupon_code]))
    limits = m.Limits(
        budget=format_amount(spec.budget, cur) if spec.budget is not None else None,
        max_redemptions=spec.usage_limit,
        max_redemptions_per_customer=spec.per_customer_limit,
    )
    b = spec.benefits[0]
    benefit: m.Benefit
    if isinstance(b, s.PercentOff):
        benefit = m.PercentOff(percent=_percent(b.percent))
        targeting.skus.extend(b.product_ids)
        targeting.categories.extend(b.categories)
        if b.max_amount is not None:
            limits.max_discount_per_application = format_amount(b.max_amount, cur)
    elif isinstance(b, s.AmountOff):
        benefit = m.AmountOff(amount=format_amount(b.amount, cur),
                              per="unit" if b.per_item else "order")
    elif isinstance(b, s.FixedPrice):
        benefit = m.FixedPrice(qty=1, price=format_amount(b.price, cur))
        targeting.skus.extend(b.product_ids)
    elif isinstance(b, s.BuyXGetY):
        t = m.Targeting(skus=list(b.product_ids)) if b.product_ids else None
        benefit = m.BuyXGetY(buy_qty=b.buy, get_qty=b.get, percent=_percent(b.percent), buy=t,
                             get=t, repeat=False)
    else:
        benefit = m.ShippingDiscount(percent="100")
    # free shipping can only run in the shipping stage; the spec's stage defaults to "item"
    stage = "shipping" if isinstance(b, s.FreeShipping) else spec.stage
    return m.Promotion(
        id=promotion_id, benefit=benefit, currency=cur, name=spec.name, stage=stage,
        priority=spec.priority, exclusive=spec.exclusive,
        combinable_with=list(spec.combinable_with), starts_at=spec.starts_at,
        ends_at=spec.ends_at, targeting=targeting, conditions=conditions, limits=limits,
    )


# ------------------------------------------------------------------------------------- carts


def wire_cart(priced: EnginePricedCart) -> s.PricedCart:
    """The engine's priced cart in the API's shape (gifts appended as lines at price 0)."""
    names = {a.id: (a.name, a.stage) for a in priced.applied}

    def applied(allocs: list[object]) -> list[s.AppliedPromotion]:
        out = []
        for a in allocs:
            pid, amount = a.promotion_id, a.amount  # type: ignore[attr-defined]
            name, stage = names.get(pid, ("", ""))
            out.append(s.AppliedPromotion(promotion_id=pid, name=name, stage=stage, amount=amount))
        return out

    lines = [
        s.PricedLine(product_id=ln.sku, quantity=ln.qty, unit_price=ln.unit_price,
                     subtotal=ln.subtotal, discount=ln.discount, total=ln.total,
                     quote_id=ln.quote_id, promotions=applied(list(ln.allocations)))
        for ln in [*priced.lines, *priced.gifts]
    ]
    not_applied = [s.NotApplied(promotion_id=n.id, reason=f"{n.reason}: {n.message}", hint=n.hint)
                   for n in priced.not_applied]
    not_applied += [
        s.NotApplied(promotion_id=c.promotion_id or f"coupon:{c.code}",
                     reason=f"coupon {c.code} {c.error}: {c.message or ''}".rstrip(": "))
        for c in priced.coupons if c.status != "applied"
    ]
    return s.PricedCart(
        currency=priced.currency, lines=lines, subtotal=priced.subtotal,
        discount=priced.item_discount, shipping=priced.shipping_total,
        shipping_discount=priced.shipping_discount, total=priced.total,
        applied=[s.AppliedPromotion(promotion_id=a.id, name=a.name, stage=a.stage, amount=a.amount)
                 for a in priced.applied],
        not_applied=not_applied,
    )


# ------------------------------------------------------------------------------------- quotes


def wire_quote(d: Decision, signed: SignedQuote, token: str, disclosure: str | None) -> s.Quote:
    expl = [s.ExplanationStep(stage=st.stage, price=st.after, note=st.rule,
                              profit_cost=st.profit_cost)
            for st in d.explanation.stages]
    if d.explanation.model_price is not None:
        note = d.explanation.reason
        if d.explanation.lp_capacity is not None:
            # the inventory LP's input: what is left to sell per shopper expected until it must
            # last (season end, or the stock horizon); below the purchase rate, stock binds
            note += f"; stock per expected shopper {d.explanation.lp_capacity:.3g}"
        expl.insert(0, s.ExplanationStep(stage="model", price=d.explanation.model_price,
                                         note=note))
    return s.Quote(
        quote_id=signed.quote_id, product_id=d.product_id, price=d.price, currency=d.currency,
        list_price=d.list_price, expires_at=d.expires_at, signature=token,
        reference_price=d.reference_price if d.is_reduction else None,
        personalised=d.personalised, fallback=d.fallback, model_version=d.model_version,
        propensity=d.propensity, binding_rule=d.explanation.binding_rule, explanation=expl,
        disclosure=disclosure,
    )


class _Token(msgspec.Struct, array_like=True):
    key_id: str
    price: int
    currency: str
    expires_at: int
    shopper_id: str
    digest: str
    signature: str


def encode_token(q: SignedQuote) -> str:
    """What the shop stores as ``quote_signature``: everything but the ids it already sends."""
    raw = msgspec.json.encode(_Token(q.key_id, q.price, q.currency, q.expires_at, q.shopper_id,
                                     q.digest, q.signature))
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(quote_id: str, product_id: str, token: str) -> SignedQuote:
    """The signed quote ``token`` claims to be (not yet verified); ``ValueError`` if malformed."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        t = msgspec.json.decode(raw, type=_Token)
    except (binascii.Error, ValueError, msgspec.DecodeError) as e:
        raise ValueError(f"malformed quote signature: {e}") from e
    return SignedQuote(quote_id=quote_id, shopper_id=t.shopper_id, product_id=product_id,
                       price=t.price, currency=t.currency, expires_at=t.expires_at,
                       key_id=t.key_id, digest=t.digest, signature=t.signature)
