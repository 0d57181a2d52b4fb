"""The one interface the HTTP layer calls: :class:`ServiceBackend`.

Routes decode and validate a request, call exactly one method here, and encode what it returns.
Everything else (pricing, promotions, ingestion, storage, compliance) lives behind this protocol;
:mod:`pricepilot.service.wiring` builds the real one from settings.

Error contract (the route layer maps them through ``pricepilot.errors``):

- bad input the schemas cannot express (unknown product, naive timestamp, ...): ``ValidationError``
  (422) naming the field; missing entities: ``NotFound`` (404); clashes with stored state (an
  order id reused with different lines, a used-up budget): ``Conflict`` (409);
- a dependency that cannot be reached: ``Unavailable`` (503). On ``quote`` the route then calls
  ``fallback_quote``; on ``ingest_events`` it answers 503 with ``Retry-After``, because events are
  accepted only once durably written.

Methods are ``async`` so a backend can await I/O; CPU-bound engines may run inline (they are fast)
or hand work to a thread with ``anyio.to_thread.run_sync``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from pricepilot.catalog.models import CategoryPolicy, Guardrails, Product
from pricepilot.events.schemas import Event
from pricepilot.serving.schemas import (
    CartRequest,
    Consent,
    ErasureResult,
    IngestResult,
    ModelInfo,
    ModelList,
    OrderConfirmation,
    OrderRequest,
    PricedCart,
    ProductPage,
    Promotion,
    PromotionList,
    PromotionPreviewRequest,
    PromotionSpec,
    QuoteRequest,
    QuoteResponse,
    Readiness,
)


@runtime_checkable
class ServiceBackend(Protocol):
    # --------------------------------------------------------------------------- storefront
    async def ingest_events(self, events: Sequence[Event]) -> IngestResult:
        """Write events durably, idempotent by ``event_id``.

        ``customer_id`` on incoming events (the structs' ``user_id``) is the shop's customer id
        as sent; the backend pseudonymises it, as file ingestion does, before anything is stored.
        Returns counts only after the write is durable; raises ``Unavailable`` otherwise.
        """
        ...

    async def quote(self, request: QuoteRequest) -> QuoteResponse:
        """Personalised, guarded, signed quotes, one per requested product (same order)."""
        ...

    async def fallback_quote(self, request: QuoteRequest) -> QuoteResponse:
        """Guarded list prices with ``fallback=True``, for when ``quote`` raised ``Unavailable``.

        Must not depend on the dependency that failed (models, online features); it should only
        need the catalogue (cached in process) and the quote-signing key.
        """
        ...

    async def price_cart(self, request: CartRequest) -> PricedCart:
        """Promotions applied to the cart, honouring valid signed quotes; no side effects."""
        ...

    async def confirm_order(self, request: OrderRequest) -> OrderConfirmation:
        """Price and redeem atomically, idempotent by ``order_id``.

        Re-sending the same order returns the stored confirmation with ``replayed=True``; the same
        order id with different lines, coupons or currency raises ``Conflict``.
        """
        ...

    async def cancel_order(self, order_id: str) -> OrderConfirmation:
        """Release the order's redemptions (budgets, usage counts); idempotent; ``NotFound``."""
        ...

    # ------------------------------------------------------------------------------- admin
    async def create_promotion(self, spec: PromotionSpec) -> Promotion: ...

    async def update_promotion(self, promotion_id: str, spec: PromotionSpec) -> Promotion: ...

    async def set_promotion_paused(self, promotion_id: str, paused: bool) -> Promotion: ...

    async def delete_promotion(self, promotion_id: str) -> None: ...

    async def get_promotion(self, promotion_id: str) -> Promotion: ...

    async def list_promotions(self) -> PromotionList: ...

    async def preview_promotion(self, request: PromotionPreviewRequest) -> PricedCart:
        """The sample cart priced with the draft promotion; nothing is stored or redeemed."""
        ...

    async def upsert_product(self, product: Product) -> Product: ...

    async def get_product(self, product_id: str) -> Product: ...

    async def list_products(self, limit: int, after: str | None) -> ProductPage: ...

    async def set_guardrails(self, category: str, guardrails: Guardrails) -> CategoryPolicy: ...

    async def get_guardrails(self, category: str) -> CategoryPolicy: ...

    async def list_guardrails(self) -> list[CategoryPolicy]: ...

    async def list_models(self) -> ModelList: ...

    async def promote_model(self, version: str) -> ModelInfo: ...

    async def rollback_model(self) -> ModelInfo:
        """Make the previously active model active again; ``Conflict`` when there is none."""
        ...

    # ---------------------------------------------------------------------------- shoppers
    async def erase_shopper(self, customer_id: str) -> ErasureResult:
        """Erase everything held about the shop's customer id (idempotent: counts become 0)."""
        ...

    async def set_consent(self, customer_id: str, personalisation: bool) -> Consent: ...

    # ------------------------------------------------------------------------------ health
    async def ready(self) -> Readiness:
        """Per-dependency status (store, online state, model, ...). Must not raise."""
        ...
