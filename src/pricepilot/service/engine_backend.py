"""The real :class:`~pricepilot.service.backend.ServiceBackend`: the HTTP routes' calls mapped
onto the application layer (:mod:`pricepilot.serving`), nothing more.

Quotes are decided on the runtime's quote thread within the quote deadline; every other call's
I/O runs on its write pool within the write deadline, so a hanging dependency is a 503, never a
frozen worker. The use cases themselves live in :mod:`pricepilot.serving`.

>>> from pricepilot.config import load_settings
>>> import tempfile, asyncio
>>> backend = EngineBackend(load_settings(None, env={}, overrides={"paths.data_dir": tempfile.mkdtemp()}))
>>> asyncio.run(backend.ready()).dependencies["store"].ok
True
>>> backend.close()
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pricepilot.catalog.models import CategoryPolicy, Guardrails, Product
from pricepilot.config import Settings
from pricepilot.events.schemas import Event
from pricepilot.serving import schemas as s
from pricepilot.serving.application import Application, build_application


class EngineBackend:
    """The service protocol over one :class:`~pricepilot.serving.application.Application`."""

    def __init__(self, settings: Settings | None = None, *, app: Application | None = None,
                 **parts: Any) -> None:
        if app is None:
            if settings is None:
                raise TypeError("EngineBackend needs settings or an application")
            app = Application(settings, **parts)
        self.app = app
        self._io = app.runtime.io
        self.api_keys = app.api_keys  # the auth honours the store's keys (service/auth.py)

    # ------------------------------------------------------------------ storefront
    async def ingest_events(self, events: Sequence[Event]) -> s.IngestResult:
        return await self._io("event write", self.app.intake.ingest, events)

    async def quote(self, request: s.QuoteRequest) -> s.QuoteResponse:
        return await self.app.runtime.decide(self.app.quoting.quote, request)

    async def fallback_quote(self, request: s.QuoteRequest) -> s.QuoteResponse:
        return self.app.quoting.fallback(request)

    async def price_cart(self, request: s.CartRequest) -> s.PricedCart:
        return await self._io("cart pricing", self.app.checkout.price_cart, request)

    async def confirm_order(self, request: s.OrderRequest) -> s.OrderConfirmation:
        return await self._io("order confirmation", self.app.checkout.confirm_order, request)

    async def cancel_order(self, order_id: str) -> s.OrderConfirmation:
        return await self._io("order cancellation", self.app.checkout.cancel_order, order_id)

    # ------------------------------------------------------------------ admin
    async def create_promotion(self, spec: s.PromotionSpec) -> s.Promotion:
        return await self._io("promotion admin", self.app.promotions.create, spec)

    async def update_promotion(self, promotion_id: str, spec: s.PromotionSpec) -> s.Promotion:
        return await self._io("promotion admin", self.app.promotions.update, promotion_id, spec)

    async def set_promotion_paused(self, promotion_id: str, paused: bool) -> s.Promotion:
        return await self._io("promotion admin", self.app.promotions.set_paused, promotion_id,
                              paused)

    async def delete_promotion(self, promotion_id: str) -> None:
        return await self._io("promotion admin", self.app.promotions.delete, promotion_id)

    async def get_promotion(self, promotion_id: str) -> s.Promotion:
        return await self._io("promotion admin", self.app.promotions.get, promotion_id)

    async def list_promotions(self) -> s.PromotionList:
        return await self._io("promotion admin", self.app.promotions.list)

    async def preview_promotion(self, request: s.PromotionPreviewRequest) -> s.PricedCart:
        return await self._io("promotion preview", self.app.promotions.preview, request)

    async def upsert_product(self, product: Product) -> Product:
        return await self._io("catalogue admin", self.app.catalogue_admin.upsert_product, product)

    async def get_product(self, product_id: str) -> Product:
        return await self._io("catalogue admin", self.app.catalogue_admin.get_product, product_id)

    async def list_products(self, limit: int, after: str | None) -> s.ProductPage:
        return await self._io("catalogue admin", self.app.catalogue_admin.list_products, limit,
                              after)

    async def set_guardrails(self, category: str, guardrails: Guardrails) -> CategoryPolicy:
        return await self._io("guardrails admin", self.app.catalogue_admin.set_guardrails,
                              category, guardrails)

    async def get_guardrails(self, category: str) -> CategoryPolicy:
        return await self._io("guardrails admin", self.app.catalogue_admin.get_guardrails,
                              category)

    async def list_guardrails(self) -> list[CategoryPolicy]:
        return await self._io("guardrails admin", self.app.catalogue_admin.list_guardrails)

    async def list_models(self) -> s.ModelList:
        return await self._io("model registry", self.app.models.list)

    async def promote_model(self, version: str) -> s.ModelInfo:
        return await self._io("model registry", self.app.models.promote, version)

    async def rollback_model(self) -> s.ModelInfo:
        return await self._io("model registry", self.app.models.rollback)

    # ------------------------------------------------------------------ shoppers
    async def erase_shopper(self, customer_id: str) -> s.ErasureResult:
        return await self._io("shopper erasure", self.app.privacy.erase, customer_id)

    async def set_consent(self, customer_id: str, personalisation: bool) -> s.Consent:
        return await self._io("consent write", self.app.privacy.set_consent, customer_id,
                              personalisation)

    # ------------------------------------------------------------------ health
    async def ready(self) -> s.Readiness:
        app = self.app

        async def probe(name: str, fn: Any) -> s.DependencyStatus:
            try:  # off the loop too: a hanging database makes the service unready, not frozen
                return s.DependencyStatus(ok=True, detail=await self._io(f"{name} probe", fn))
            except Exception as e:  # readiness reports, never raises
                return s.DependencyStatus(ok=False, detail=f"{type(e).__name__}: {e}")

        deps = {"store": await probe("store", app.probe_store),
                "online_features": await probe("online features", app.probe_features)}
        return app.readiness(deps)

    def close(self) -> None:
        self.app.close()


def build_engine_backend(settings: Settings, *, warm: bool = True) -> EngineBackend:
    """The engines' backend for ``settings`` (store migrated; with ``warm``, the in-process online
    state rebuilt from the event log)."""
    return EngineBackend(app=build_application(settings, warm=warm))


__all__ = ["EngineBackend", "build_engine_backend"]
