"""The catalogue every use case reads: products and category guardrails, cached in process and
kept in step with the store.

Quotes need no database read for a known product. A write through any process (another worker,
the CLI's ``ingest products``, the admin API of another replica) bumps the store's catalogue
revision in the same transaction; each process compares it with the one it last read at most
every ``sync_seconds`` (one small read) and reloads on a change, so every process serves a
change within that bound. A product missing from the cache is read from the store at once, so a
product that is in the store is never "not found".

>>> from pricepilot.store import open_store
>>> from pricepilot.catalog.models import Product
>>> store = open_store("sqlite://"); store.migrate()
>>> cat = Catalogue(store, sync_seconds=0.0)
>>> _ = store.upsert_products([Product(product_id="MUG", title="Mug", category="kitchen",
...                                    currency="EUR", unit_cost=400, list_price=1000)])
>>> cat.product("MUG").list_price
1000
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence

from pricepilot.catalog.models import Guardrails, Product
from pricepilot.store.base import Store

ProductsChanged = Callable[[Sequence[Product]], None]


class Catalogue:
    """Products and category guardrails of ``store``; ``on_products`` hears of every product
    loaded or changed (the online features and the live ingestor keep their own lists)."""

    def __init__(self, store: Store, *, sync_seconds: float = 1.0,
                 on_products: ProductsChanged | None = None) -> None:
        self.store = store
        self.sync_seconds = sync_seconds
        self._listeners: list[ProductsChanged] = [on_products] if on_products else []
        self._lock = threading.Lock()
        self._revision = store.catalogue_revision()
        self.products: dict[str, Product] = {p.product_id: p for p in store.list_products()}
        # the dict every pricing engine reads: updated in place, never replaced
        self.categories: dict[str, Guardrails] = {
            c.category: c.guardrails for c in store.list_category_policies()}
        self._checked = time.monotonic()

    def listen(self, fn: ProductsChanged) -> None:
        self._listeners.append(fn)
        fn(list(self.products.values()))

    # ------------------------------------------------------------------ reading
    def product(self, product_id: str) -> Product:
        """The product (from the cache, else the store); :class:`NotFound` if it is in neither."""
        self.sync()
        p = self.products.get(product_id)
        if p is None:
            p = self.store.get_product(product_id)  # added since the last sync
            self._put([p])
        return p

    def cached(self, product_id: str) -> Product | None:
        """The cached product or None, without touching the store (the fallback path)."""
        return self.products.get(product_id)

    # ------------------------------------------------------------------ keeping in step
    def sync(self, force: bool = False) -> bool:
        """Reload if another process changed the catalogue; checked at most every
        ``sync_seconds``. Returns whether anything was reloaded."""
        now = time.monotonic()
        if not force and now - self._checked < self.sync_seconds:
            return False
        self._checked = now
        revision = self.store.catalogue_revision()
        if revision == self._revision:
            return False
        with self._lock:
            products = self.store.list_products()
            policies = self.store.list_category_policies()
            self._revision = revision
            changed = [p for p in products if self.products.get(p.product_id) != p]
            self.products.update({p.product_id: p for p in changed})
            fresh = {c.category: c.guardrails for c in policies}
            for gone in set(self.categories) - set(fresh):
                del self.categories[gone]
            self.categories.update(fresh)
        self._notify(changed)
        return True

    def wrote(self, products: Sequence[Product] = ()) -> None:
        """This process wrote ``products`` (or guardrails): use them at once."""
        self._put(list(products))
        self.sync(force=True)

    def _put(self, products: list[Product]) -> None:
        if not products:
            return
        with self._lock:
            self.products.update({p.product_id: p for p in products})
        self._notify(products)

    def _notify(self, products: Sequence[Product]) -> None:
        if products:
            for fn in self._listeners:
                fn(products)
