"""Catalogue, guardrail and model administration.

Every write goes to the store or the registry first and then to this process's caches; other
processes see it within ``service.sync_seconds`` (the store's catalogue revision) or on their
next quote (the registry's pointer file).
"""

from __future__ import annotations

from datetime import UTC, datetime

from pricepilot.catalog.models import CategoryPolicy, Guardrails, Product, validate_guardrails
from pricepilot.demand.registry import ModelRegistry
from pricepilot.errors import NotFound
from pricepilot.serving import schemas as s
from pricepilot.serving.catalogue import Catalogue
from pricepilot.serving.learning import Learning
from pricepilot.store.base import Store


class CatalogueAdmin:
    def __init__(self, store: Store, catalogue: Catalogue) -> None:
        self.store = store
        self.catalogue = catalogue

    def upsert_products(self, products: list[Product]) -> list[Product]:
        self.store.upsert_products(products)
        stored = [self.store.get_product(p.product_id) for p in products]
        self.catalogue.wrote(stored)
        return stored

    def upsert_product(self, product: Product) -> Product:
        return self.upsert_products([product])[0]

    def get_product(self, product_id: str) -> Product:
        return self.store.get_product(product_id)

    def list_products(self, limit: int, after: str | None) -> s.ProductPage:
        products = [p for p in self.store.list_products() if after is None or p.product_id > after]
        page = products[:limit]
        more = len(products) > limit
        return s.ProductPage(products=page, next_after=page[-1].product_id if more else None)

    def set_guardrails(self, category: str, guardrails: Guardrails) -> CategoryPolicy:
        g = validate_guardrails(guardrails, f"guardrails of category {category!r}")
        policy = CategoryPolicy(category=category, guardrails=g)
        self.store.upsert_category_policy(policy)
        self.catalogue.categories[category] = g  # the dict every pricing engine reads
        self.catalogue.wrote()
        return policy

    def get_guardrails(self, category: str) -> CategoryPolicy:
        for p in self.store.list_category_policies():
            if p.category == category:
                return p
        raise NotFound("category guardrails", category)

    def list_guardrails(self) -> list[CategoryPolicy]:
        return self.store.list_category_policies()


class ModelAdmin:
    def __init__(self, registry: ModelRegistry, learning: Learning) -> None:
        self.registry = registry
        self.learning = learning

    def _info(self, version: str, active: str | None) -> s.ModelInfo:
        m = self.registry.manifest(version)
        return s.ModelInfo(
            version=m.version, kind=m.family,
            status="active" if m.version == active else "candidate",
            created_at=datetime.fromisoformat(m.created_at).astimezone(UTC),
            metrics={k: float(v) for k, v in m.metrics.items()},
        )

    def list(self) -> s.ModelList:
        active = self.registry.current_version()
        return s.ModelList(models=[self._info(m.version, active) for m in self.registry.list()],
                           active=active)

    def promote(self, version: str) -> s.ModelInfo:
        self.registry.promote(version)
        self.learning.reload()
        return self._info(version, self.registry.current_version())

    def rollback(self) -> s.ModelInfo:
        version = self.registry.rollback()
        self.learning.reload()
        return self._info(version, version)
