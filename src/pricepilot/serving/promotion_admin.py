"""Promotion administration: create, update, pause, delete, read, list and preview.

The admin's view (the definition as sent, paused or not, timestamps) is kept in a
:class:`~pricepilot.store.repositories.PromotionViewStore`; the cart engine runs the active
ones, stored and validated with the whole set by the
:class:`~pricepilot.promotions.repository.PromotionDefinitions`, so every process's
:class:`~pricepilot.serving.promotion_set.PromotionSet` sees a change on its next cart.
"""

from __future__ import annotations

import uuid
from typing import Any

import msgspec

from pricepilot.clock import Clock, from_micros, to_micros
from pricepilot.promotions import model as pm
from pricepilot.promotions.ledger import RedemptionLedger
from pricepilot.promotions.repository import PromotionDefinitions
from pricepilot.promotions.validation import compile_all
from pricepilot.serving import schemas as s
from pricepilot.serving.adapters import promotion_from_spec, wire_cart
from pricepilot.serving.checkout import Checkout
from pricepilot.store.repositories import PromotionView, PromotionViewStore


class PromotionAdmin:
    def __init__(self, views: PromotionViewStore, repository: PromotionDefinitions,
                 ledger: RedemptionLedger, checkout: Checkout, clock: Clock, *,
                 currency: str, timezone: str) -> None:
        self.views = views
        self.repository = repository
        self.ledger = ledger
        self.checkout = checkout
        self.clock = clock
        self.currency = currency
        self.timezone = timezone

    def _now(self) -> int:
        return to_micros(self.clock.now())

    def _wire(self, row: PromotionView, usage: Any = None) -> s.Promotion:
        if usage is None:
            usage = self.ledger.usage()
        return s.Promotion(
            promotion_id=row.promotion_id, status="paused" if row.paused else "active",
            spec=msgspec.json.decode(row.spec, type=s.PromotionSpec),
            created_at=from_micros(row.created_at), updated_at=from_micros(row.updated_at),
            redeemed_amount=usage.spent.get(row.promotion_id, 0),
            redemptions=usage.redemptions.get(row.promotion_id, 0),
        )

    def _definition(self, promotion_id: str, spec: s.PromotionSpec) -> pm.Promotion:
        return promotion_from_spec(promotion_id, spec, default_currency=self.currency)

    def create(self, spec: s.PromotionSpec) -> s.Promotion:
        pid = f"promo-{uuid.uuid4().hex[:12]}"
        self.repository.upsert(self._definition(pid, spec))  # validated with the stored set
        now = self._now()
        try:
            self.views.add(PromotionView(promotion_id=pid, spec=msgspec.json.encode(spec).decode(),
                                         paused=False, created_at=now, updated_at=now))
        except Exception:
            self.repository.delete(pid)
            raise
        return self._wire(self.views.get(pid))

    def update(self, promotion_id: str, spec: s.PromotionSpec) -> s.Promotion:
        row = self.views.get(promotion_id)
        definition = self._definition(promotion_id, spec)
        if row.paused:
            compile_all([definition], None, timezone=self.timezone)
        else:
            self.repository.upsert(definition)
        self.views.update(promotion_id, spec=msgspec.json.encode(spec).decode(),
                          updated_at=self._now())
        return self._wire(self.views.get(promotion_id))

    def set_paused(self, promotion_id: str, paused: bool) -> s.Promotion:
        row = self.views.get(promotion_id)
        if bool(row.paused) != paused:
            if paused:
                self.repository.delete(promotion_id)
            else:
                spec = msgspec.json.decode(row.spec, type=s.PromotionSpec)
                self.repository.upsert(self._definition(promotion_id, spec))
            self.views.update(promotion_id, paused=paused, updated_at=self._now())
        return self._wire(self.views.get(promotion_id))

    def delete(self, promotion_id: str) -> None:
        row = self.views.get(promotion_id)
        if not row.paused:
            self.repository.delete(promotion_id)
        self.views.delete(promotion_id)

    def get(self, promotion_id: str) -> s.Promotion:
        return self._wire(self.views.get(promotion_id))

    def list(self) -> s.PromotionList:
        rows = self.views.list()
        usage = self.ledger.usage()
        return s.PromotionList(promotions=[self._wire(r, usage) for r in rows])

    def preview(self, request: s.PromotionPreviewRequest) -> s.PricedCart:
        """The sample cart priced with the draft; nothing is stored or redeemed."""
        draft = self._definition("preview", request.promotion)
        c = request.cart
        return wire_cart(self.checkout.price(c.currency, c.lines, c.coupons, c.shipping,
                                             c.customer_id, extra=[draft],
                                             with_active=request.with_active))
