"""An in-memory ServiceBackend for the HTTP layer's tests and the serving benchmark.

It is a test double: prices are guarded list prices and promotions support a small subset
(percent/amount off with a minimum subtotal, coupon codes, usage limits). What it does implement
honestly is the protocol's contract the routes rely on: idempotency of events by ``event_id`` and
of orders by ``order_id`` (with ``Conflict`` on a reused id), ``NotFound``, ``Unavailable`` on
demand, and durable-before-acknowledged events (an event is counted only once stored).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone

import msgspec

from pricepilot.catalog.models import (
    CategoryPolicy,
    Guardrails,
    Product,
    effective_guardrails,
    validate_guardrails,
    validate_product,
)
from pricepilot.config import Settings
from pricepilot.errors import Conflict, NotFound, Unavailable, ValidationError
from pricepilot.events.schemas import Event
from pricepilot.serving import schemas as s

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)


def _guard(price: int, g: Guardrails) -> tuple[int, str | None]:
    if g.ceiling is not None and price > g.ceiling:
        return g.ceiling, "ceiling"
    if g.floor is not None and price < g.floor:
        return g.floor, "floor"
    return price, None


class FakeBackend:
    def __init__(self, products: Sequence[Product] = ()) -> None:
        self.products: dict[str, Product] = {p.product_id: p for p in products}
        self.categories: dict[str, Guardrails] = {}
        self.events: dict[str, Event] = {}
        self.promotions: dict[str, s.Promotion] = {}
        self.orders: dict[str, tuple[bytes, s.OrderConfirmation]] = {}
        self.consent: dict[str, s.Consent] = {}
        self.quotes: dict[str, int] = {}
        self.models = [
            s.ModelInfo(version="m1", kind="lightgbm", status="retired", created_at=NOW),
            s.ModelInfo(version="m2", kind="lightgbm", status="active", created_at=NOW,
                        metrics={"auc": 0.71}),
            s.ModelInfo(version="m3", kind="lightgbm", status="candidate", created_at=NOW),
        ]
        self.model_history: list[str] = ["m1"]
        # Failure switches the tests flip.
        self.pricing_down = False
        self.event_log_down = False
        self._next_promo = 0

    # ------------------------------------------------------------------------ storefront
    async def ingest_events(self, events: Sequence[Event]) -> s.IngestResult:
        if self.event_log_down:
            raise Unavailable("event log", "write not acknowledged")
        for i, ev in enumerate(events):
            if ev.ts.tzinfo is None:
                raise ValidationError("event", f"$[{i}].ts", "must carry a time zone")
        accepted = duplicates = 0
        for ev in events:
            if ev.event_id in self.events:
                duplicates += 1
            else:
                self.events[ev.event_id] = ev
                accepted += 1
        return s.IngestResult(accepted=accepted, duplicates=duplicates)

    def _product(self, product_id: str) -> Product:
        try:
            return self.products[product_id]
        except KeyError:
            raise NotFound("product", product_id) from None

    def _quote(self, product: Product, request: s.QuoteRequest, fallback: bool) -> s.Quote:
        g = effective_guardrails(product, self.categories)
        price, rule = _guard(product.list_price, g)
        quote_id = hashlib.sha256(
            f"{product.product_id}|{request.customer_id}|{price}".encode()
        ).hexdigest()[:16]
        self.quotes[quote_id] = price
        return s.Quote(
            quote_id=quote_id, product_id=product.product_id, price=price,
            currency=product.currency, list_price=product.list_price,
            expires_at=NOW + timedelta(minutes=15), signature="sig-" + quote_id,
            fallback=fallback, binding_rule=rule, model_version=None if fallback else "m2",
            explanation=[s.ExplanationStep(stage="list_price", price=product.list_price)],
        )

    async def quote(self, request: s.QuoteRequest) -> s.QuoteResponse:
        if self.pricing_down:
            raise Unavailable("demand model", "not loaded")
        products = [self._product(pid) for pid in request.product_ids]
        return s.QuoteResponse(quotes=[self._quote(p, request, False) for p in products])

    async def fallback_quote(self, request: s.QuoteRequest) -> s.QuoteResponse:
        products = [self._product(pid) for pid in request.product_ids]
        return s.QuoteResponse(
            quotes=[self._quote(p, request, True) for p in products], fallback=True
        )

    def _price(
        self, req: s.CartRequest | s.OrderRequest, extra: Sequence[s.Promotion] = ()
    ) -> s.PricedCart:
        lines = []
        for i, line in enumerate(req.lines):
            p = self._product(line.product_id)
            if p.currency != req.currency:
                raise ValidationError("cart", f"$.lines[{i}].product_id",
                                      f"product is priced in {p.currency}, cart in {req.currency}")
            unit = self.quotes.get(line.quote_id, p.list_price) if line.quote_id else p.list_price
            sub = unit * line.quantity
            lines.append(s.PricedLine(product_id=p.product_id, quantity=line.quantity,
                                      unit_price=unit, subtotal=sub, discount=0, total=sub,
                                      quote_id=line.quote_id))
        subtotal = sum(x.subtotal for x in lines)
        applied: list[s.AppliedPromotion] = []
        not_applied: list[s.NotApplied] = []
        discount = 0
        for promo in [*self.promotions.values(), *extra]:
            spec = promo.spec
            if promo.status != "active":
                continue
            if spec.coupon_code and spec.coupon_code not in req.coupons:
                continue
            if spec.usage_limit is not None and promo.redemptions >= spec.usage_limit:
                not_applied.append(s.NotApplied(promotion_id=promo.promotion_id,
                                                reason="usage limit reached"))
                continue
            short = [c.amount - subtotal for c in spec.conditions
                     if isinstance(c, s.MinSubtotal) and subtotal < c.amount]
            if short:
                not_applied.append(s.NotApplied(promotion_id=promo.promotion_id,
                                                reason="minimum subtotal not reached",
                                                hint=f"spend {short[0]} more"))
                continue
            amount = 0
            for b in spec.benefits:
                if isinstance(b, s.PercentOff):
                    amount += int(subtotal * b.percent) // 100
                elif isinstance(b, s.AmountOff):
                    amount += b.amount
            amount = min(amount, subtotal - discount)
            if amount > 0:
                discount += amount
                applied.append(s.AppliedPromotion(promotion_id=promo.promotion_id,
                                                  name=spec.name, stage=spec.stage, amount=amount))
        return s.PricedCart(currency=req.currency, lines=lines, subtotal=subtotal,
                            discount=discount, shipping=req.shipping, shipping_discount=0,
                            total=subtotal - discount + req.shipping, applied=applied,
                            not_applied=not_applied)

    async def price_cart(self, request: s.CartRequest) -> s.PricedCart:
        return self._price(request)

    async def confirm_order(self, request: s.OrderRequest) -> s.OrderConfirmation:
        fingerprint = msgspec.json.encode(request)
        stored = self.orders.get(request.order_id)
        if stored is not None:
            if stored[0] != fingerprint:
                raise Conflict("order", request.order_id, "already confirmed with other content")
            return msgspec.structs.replace(stored[1], replayed=True)
        cart = self._price(request)
        redemptions = [s.Redemption(promotion_id=a.promotion_id, amount=a.amount)
                       for a in cart.applied]
        for r in redemptions:
            promo = self.promotions[r.promotion_id]
            promo.redemptions += 1
            promo.redeemed_amount += r.amount
        confirmation = s.OrderConfirmation(order_id=request.order_id, status="confirmed",
                                           cart=cart, redemptions=redemptions)
        self.orders[request.order_id] = (fingerprint, confirmation)
        return confirmation

    async def cancel_order(self, order_id: str) -> s.OrderConfirmation:
        stored = self.orders.get(order_id)
        if stored is None:
            raise NotFound("order", order_id)
        fingerprint, conf = stored
        if conf.status == "confirmed":
            for r in conf.redemptions:
                promo = self.promotions.get(r.promotion_id)
                if promo is not None:
                    promo.redemptions -= 1
                    promo.redeemed_amount -= r.amount
            conf = msgspec.structs.replace(conf, status="cancelled")
            self.orders[order_id] = (fingerprint, conf)
        return conf

    # ----------------------------------------------------------------------------- admin
    def _promotion(self, promotion_id: str) -> s.Promotion:
        try:
            return self.promotions[promotion_id]
        except KeyError:
            raise NotFound("promotion", promotion_id) from None

    @staticmethod
    def _check(spec: s.PromotionSpec) -> None:
        if spec.starts_at and spec.ends_at and spec.ends_at <= spec.starts_at:
            raise ValidationError("promotion", "ends_at", "must be after starts_at")

    async def create_promotion(self, spec: s.PromotionSpec) -> s.Promotion:
        self._check(spec)
        self._next_promo += 1
        pid = f"promo-{self._next_promo}"
        promo = s.Promotion(promotion_id=pid, status="active", spec=spec, created_at=NOW,
                            updated_at=NOW)
        self.promotions[pid] = promo
        return promo

    async def update_promotion(self, promotion_id: str, spec: s.PromotionSpec) -> s.Promotion:
        promo = self._promotion(promotion_id)
        self._check(spec)
        promo.spec = spec
        return promo

    async def set_promotion_paused(self, promotion_id: str, paused: bool) -> s.Promotion:
        promo = self._promotion(promotion_id)
        promo.status = "paused" if paused else "active"
        return promo

    async def delete_promotion(self, promotion_id: str) -> None:
        self._promotion(promotion_id)
        del self.promotions[promotion_id]

    async def get_promotion(self, promotion_id: str) -> s.Promotion:
        return self._promotion(promotion_id)

    async def list_promotions(self) -> s.PromotionList:
        return s.PromotionList(promotions=list(self.promotions.values()))

    async def preview_promotion(self, request: s.PromotionPreviewRequest) -> s.PricedCart:
        self._check(request.promotion)
        draft = s.Promotion(promotion_id="preview", status="active", spec=request.promotion,
                            created_at=NOW, updated_at=NOW)
        if request.with_active:
            return self._price(request.cart, [draft])
        saved, self.promotions = self.promotions, {}
        try:
            return self._price(request.cart, [draft])
        finally:
            self.promotions = saved

    async def upsert_product(self, product: Product) -> Product:
        self.products[product.product_id] = validate_product(product)
        return product

    async def get_product(self, product_id: str) -> Product:
        return self._product(product_id)

    async def list_products(self, limit: int, after: str | None) -> s.ProductPage:
        ids = sorted(i for i in self.products if after is None or i > after)
        page = ids[:limit]
        nxt = page[-1] if len(ids) > limit else None
        return s.ProductPage(products=[self.products[i] for i in page], next_after=nxt)

    async def set_guardrails(self, category: str, guardrails: Guardrails) -> CategoryPolicy:
        self.categories[category] = validate_guardrails(guardrails, f"category {category!r}")
        return CategoryPolicy(category=category, guardrails=guardrails)

    async def get_guardrails(self, category: str) -> CategoryPolicy:
        if category not in self.categories:
            raise NotFound("guardrails of category", category)
        return CategoryPolicy(category=category, guardrails=self.categories[category])

    async def list_guardrails(self) -> list[CategoryPolicy]:
        return [CategoryPolicy(category=c, guardrails=g) for c, g in self.categories.items()]

    async def list_models(self) -> s.ModelList:
        active = next((m.version for m in self.models if m.status == "active"), None)
        return s.ModelList(models=list(self.models), active=active)

    def _activate(self, version: str) -> s.ModelInfo:
        chosen = None
        for i, m in enumerate(self.models):
            if m.version == version:
                chosen = self.models[i] = msgspec.structs.replace(m, status="active")
            elif m.status == "active":
                self.models[i] = msgspec.structs.replace(m, status="retired")
        if chosen is None:
            raise NotFound("model", version)
        return chosen

    async def promote_model(self, version: str) -> s.ModelInfo:
        if not any(m.version == version for m in self.models):
            raise NotFound("model", version)
        current = next((m.version for m in self.models if m.status == "active"), None)
        if current is not None and current != version:
            self.model_history.append(current)
        return self._activate(version)

    async def rollback_model(self) -> s.ModelInfo:
        if not self.model_history:
            raise Conflict("model registry", "active", "no previous model to roll back to")
        return self._activate(self.model_history.pop())

    # -------------------------------------------------------------------------- shoppers
    async def erase_shopper(self, customer_id: str) -> s.ErasureResult:
        ids = [k for k, ev in self.events.items() if getattr(ev, "user_id", None) == customer_id]
        for k in ids:
            del self.events[k]
        had_consent = self.consent.pop(customer_id, None) is not None
        return s.ErasureResult(customer_id=customer_id,
                               erased={"events": len(ids), "consent": int(had_consent)})

    async def set_consent(self, customer_id: str, personalisation: bool) -> s.Consent:
        c = s.Consent(customer_id=customer_id, personalisation=personalisation, updated_at=NOW)
        self.consent[customer_id] = c
        return c

    async def ready(self) -> s.Readiness:
        deps = {
            "event_log": s.DependencyStatus(ok=not self.event_log_down),
            "pricing": s.DependencyStatus(ok=not self.pricing_down),
        }
        return s.Readiness(ready=all(d.ok for d in deps.values()), dependencies=deps)


def sample_products(n: int = 1000, currency: str = "EUR") -> list[Product]:
    return [
        Product(product_id=f"SKU-{i}", title=f"Item {i}", category=f"cat-{i % 10}",
                currency=currency, unit_cost=500 + i, list_price=999 + 10 * i)
        for i in range(n)
    ]


def build(settings: Settings) -> FakeBackend:
    """Factory for ``service.backend = "tests.service.fake_backend:build"`` (benchmarks)."""
    return FakeBackend(sample_products(1000, settings.shop.currency))
