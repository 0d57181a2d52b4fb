"""Cart pricing and checkout: the catalogue, signed quotes verified, the market, the ledger.

A quoted line is honoured only inside the product's *current* floor and ceiling (the engine's
own guardrails, :class:`~pricepilot.pricing.guardrails.GuardrailSpec`) and for at most
``checkout.max_quoted_quantity`` units (over all the cart's lines quoting it): a quote outside them is refused with a 422 naming the
quote and the bound, never re-priced (a shop must not charge other than the price the shopper
saw), so even a quote signed with a leaked key cannot sell below the floor.

``price_cart`` has no side effects. ``confirm_order`` prices and redeems atomically, idempotent
by ``order_id`` (a resend returns the stored confirmation with ``replayed=True``; the same id
with other content is a :class:`Conflict`); ``cancel_order`` releases the order's redemptions.
Customer ids are pseudonymised before anything is read, stored or fingerprinted.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from datetime import datetime

import msgspec

from pricepilot.catalog.models import Product, effective_guardrails
from pricepilot.clock import Clock, to_micros
from pricepilot.compliance.identity import Pseudonymiser
from pricepilot.errors import Conflict, NotFound, Unavailable, ValidationError
from pricepilot.pricing.guardrails import GuardrailSpec
from pricepilot.pricing.quotes import QuoteError, QuoteSigner, SignedQuote
from pricepilot.promotions import model as pm
from pricepilot.promotions.cart import Cart, CartLine, Customer, MarketState, ShippingLine
from pricepilot.promotions.engine import PromotionEngine
from pricepilot.promotions.ledger import Redemption, RedemptionLedger
from pricepilot.promotions.results import PricedCart as EnginePricedCart
from pricepilot.serving import schemas as s
from pricepilot.serving.adapters import ANONYMOUS, decode_token, wire_cart
from pricepilot.serving.catalogue import Catalogue
from pricepilot.serving.orders import refuse_exhausted_coupons
from pricepilot.serving.promotion_set import PromotionSet
from pricepilot.serving.shoppers import ShopperDirectory
from pricepilot.store.repositories import OrderRecord, OrderStore

Purchased = Callable[[str, str, datetime, str | None], None]


class Checkout:
    def __init__(self, orders: OrderStore, clock: Clock, pseudonymise: Pseudonymiser,
                 catalogue: Catalogue, shoppers: ShopperDirectory, signer: QuoteSigner,
                 promotions: PromotionSet, ledger: RedemptionLedger,
                 market: Callable[[datetime], MarketState],
                 purchased: Purchased | None = None, max_quoted_quantity: int = 100) -> None:
        self.orders = orders
        self.clock = clock
        self.pseudonymise = pseudonymise
        self.catalogue = catalogue
        self.shoppers = shoppers
        self.signer = signer
        self.promotions = promotions
        self.ledger = ledger
        self.market = market
        self.purchased = purchased  # outcome learning hears of every confirmed line
        self.max_quoted_quantity = max_quoted_quantity

    # ------------------------------------------------------------------ pricing
    def _verified_price(self, i: int, line: s.CartLine, product: Product, currency: str,
                        user_id: str | None, units: int) -> int:
        where = f"$.lines[{i}].quote_signature"
        if line.quote_id is None or line.quote_signature is None:
            raise ValidationError("quote", where if line.quote_id else f"$.lines[{i}].quote_id",
                                  "a quote needs both quote_id and quote_signature")
        try:
            claimed = decode_token(line.quote_id, product.product_id, line.quote_signature)
            q = self.signer.verify(claimed)
        except ValueError as e:
            raise ValidationError("quote", where, f"invalid_quote: {e}") from e
        except QuoteError as e:
            raise ValidationError("quote", where, f"{e.code}: {e.reason}") from e
        if q.shopper_id != ANONYMOUS and q.shopper_id != user_id:
            raise ValidationError("quote", where, "quote_not_for_shopper: the quote was issued "
                                  "to another shopper")
        if q.currency != currency:
            raise ValidationError("quote", where, f"quote is in {q.currency}, cart in {currency}")
        self._within_bounds(i, units, product, q)
        return q.price

    def _within_bounds(self, i: int, units: int, product: Product, q: SignedQuote) -> None:
        """Refuse an authentic quote outside the product's current floor..ceiling or for more
        than the quoted-quantity bound (``units``: this line's and the earlier lines' quoting
        it), the limits the engine itself prices within."""
        entity = f"quote {q.quote_id!r}"
        if units > self.max_quoted_quantity:
            raise ValidationError(entity, f"$.lines[{i}].quantity",
                                  f"quote_quantity_exceeded: a quote buys at most "
                                  f"{self.max_quoted_quantity} units (over all lines), got "
                                  f"{units}")
        g = effective_guardrails(product, self.catalogue.categories)
        spec = GuardrailSpec.build(g, cost=product.unit_cost, currency=product.currency,
                                   competitor_price=None, current_price=None,
                                   competitor_band=0.0, max_change=0.0)
        where = f"$.lines[{i}].quote_id"
        if q.price < spec.floor:
            raise ValidationError(entity, where, f"quote_below_floor: quoted price {q.price} is "
                                  f"below product {product.product_id!r}'s current floor "
                                  f"{spec.floor}")
        # the floor wins over a ceiling below it, as in the guardrails
        if spec.ceiling is not None and q.price > max(spec.ceiling, spec.floor):
            raise ValidationError(entity, where, f"quote_above_ceiling: quoted price {q.price} "
                                  f"is above product {product.product_id!r}'s current ceiling "
                                  f"{max(spec.ceiling, spec.floor)}")

    def price(self, currency: str, lines: Sequence[s.CartLine], coupons: Sequence[str],
              shipping: int, customer_id: str | None,
              extra: Sequence[pm.Promotion] | None = None,
              with_active: bool = True) -> EnginePricedCart:
        """The cart priced with the active promotions (and ``extra`` drafts, for previews)."""
        now = self.clock.now()
        user_id = self.pseudonymise(customer_id) if customer_id else None
        cart_lines = []
        quoted: dict[str, int] = {}  # units bought at each quote so far
        for i, line in enumerate(lines):
            try:
                p = self.catalogue.product(line.product_id)
            except NotFound as e:
                raise ValidationError("cart", f"$.lines[{i}].product_id", "unknown product") from e
            if p.currency != currency:
                raise ValidationError("cart", f"$.lines[{i}].product_id",
                                      f"product is priced in {p.currency}, cart in {currency}")
            unit = p.list_price
            if line.quote_id is not None or line.quote_signature is not None:
                units = quoted[line.quote_id or ""] = (quoted.get(line.quote_id or "", 0)
                                                       + line.quantity)
                unit = self._verified_price(i, line, p, currency, user_id, units)
            cart_lines.append(CartLine(sku=p.product_id, qty=line.quantity, unit_price=unit,
                                       category=p.category, brand=p.brand,
                                       quote_id=line.quote_id))
        cart = Cart(currency=currency, lines=cart_lines,
                    shipping=[ShippingLine(method="standard", price=shipping)] if shipping else [])
        state = self.promotions.state()
        defs = state.definitions if with_active else []
        if extra is not None:
            engine = PromotionEngine([*defs, *extra], self.promotions.policy, clock=self.clock)
        else:
            engine = state.engine
        shopper = self.shoppers.get(user_id)
        customer = Customer(id=user_id, tier=shopper.tier if shopper else None,
                            segment=shopper.tier if shopper else None,
                            channel=shopper.channel if shopper else None)
        try:
            usage = self.ledger.usage(user_id)
        except Exception as e:
            raise Unavailable("redemption ledger", str(e)) from e
        return engine.price_cart(cart, customer, now, list(coupons), market=self.market(now),
                                 usage=usage)

    def price_cart(self, request: s.CartRequest) -> s.PricedCart:
        return wire_cart(self.price(request.currency, request.lines, request.coupons,
                                    request.shipping, request.customer_id))

    # ------------------------------------------------------------------ orders
    def _stored(self, order_id: str) -> tuple[str, s.OrderConfirmation] | None:
        row = self.orders.get(order_id)
        if row is None:
            return None
        return row.fingerprint, msgspec.json.decode(row.body, type=s.OrderConfirmation)

    def confirm_order(self, request: s.OrderRequest) -> s.OrderConfirmation:
        user_id = self.pseudonymise(request.customer_id) if request.customer_id else None
        # the shop's customer id never reaches storage, not even inside the fingerprint
        fingerprint = hashlib.sha256(msgspec.json.encode(
            msgspec.structs.replace(request, customer_id=user_id))).hexdigest()
        stored = self._stored(request.order_id)
        if stored is not None:
            return _replay(request.order_id, stored, fingerprint)
        priced = self.price(request.currency, request.lines, request.coupons, request.shipping,
                            request.customer_id)
        refuse_exhausted_coupons(priced)  # never confirm at a total the shopper did not see
        coupons = {a.id: a.coupon_code for a in priced.applied}
        redemptions = [Redemption(promotion_id=a.id, amount=a.amount, customer_id=user_id,
                                  coupon_code=coupons.get(a.id)) for a in priced.applied]
        # the ledger's own claim on order_id makes a concurrent or post-crash resend redeem
        # nothing twice; Conflict names a used-up limit
        self.ledger.redeem(request.order_id, redemptions)
        conf = s.OrderConfirmation(
            order_id=request.order_id, status="confirmed", cart=wire_cart(priced),
            redemptions=[s.Redemption(promotion_id=r.promotion_id, amount=r.amount)
                         for r in redemptions])
        record = OrderRecord(order_id=request.order_id, fingerprint=fingerprint,
                             shopper_id=user_id, status="confirmed",
                             body=msgspec.json.encode(conf).decode(),
                             created_at=to_micros(self.clock.now()))
        try:
            added = self.orders.add(record)
        except Unavailable as e:
            raise Unavailable("store", f"order {request.order_id!r} not recorded: "
                              f"{e.reason}") from e
        if not added:
            stored = self._stored(request.order_id)  # a concurrent resend won the race
            if stored is None:
                raise Conflict("order", request.order_id, "its id was taken, then vanished")
            return _replay(request.order_id, stored, fingerprint)
        if self.purchased is not None and user_id is not None:
            now = self.clock.now()
            for line in request.lines:
                self.purchased(user_id, line.product_id, now, line.quote_id)
        return conf

    def cancel_order(self, order_id: str) -> s.OrderConfirmation:
        stored = self._stored(order_id)
        if stored is None:
            raise NotFound("order", order_id)
        conf = stored[1]
        if conf.status == "cancelled":
            return conf
        self.ledger.release(order_id)
        conf = msgspec.structs.replace(conf, status="cancelled")
        self.orders.update(order_id, status="cancelled", body=msgspec.json.encode(conf).decode())
        return conf


def _replay(order_id: str, stored: tuple[str, s.OrderConfirmation],
            fingerprint: str) -> s.OrderConfirmation:
    if stored[0] != fingerprint:
        raise Conflict("order", order_id, "already confirmed with other lines, coupons, "
                       "currency or customer")
    return msgspec.structs.replace(stored[1], replayed=True)
