"""Shoppers: their records (consent, declared attributes) as quotes and carts read them, and
the shopper use cases, consent and erasure on every backend.

Records are cached for ``ttl_seconds``: an opt-out or erasure through this process applies to
its next quote (the entry is dropped), one through another process (another worker, the CLI)
within the TTL. ``ttl_seconds=0`` (the default on PostgreSQL, whose outage must show at once)
reads the store on every request.
"""

from __future__ import annotations

import time

from pricepilot.compliance.attributes import Shopper
from pricepilot.store.base import Store

MAX_CACHED = 100_000


class ShopperDirectory:
    """Shopper records by pseudonymous id, cached; see the module doc."""

    def __init__(self, store: Store, ttl_seconds: float | None = None) -> None:
        self.store = store
        if ttl_seconds is None:
            ttl_seconds = 1.0 if store.dialect == "sqlite" else 0.0
        self.ttl = ttl_seconds
        self._cache: dict[str, tuple[float, Shopper | None]] = {}

    def get(self, user_id: str | None) -> Shopper | None:
        if user_id is None:
            return None
        now = time.monotonic()
        hit = self._cache.get(user_id)
        if hit is not None and hit[0] > now:
            return hit[1]
        shopper = self.store.find_shopper(user_id)  # the store's lock-free read
        if self.ttl > 0:
            if len(self._cache) >= MAX_CACHED:
                self._cache.clear()
            self._cache[user_id] = (now + self.ttl, shopper)
        return shopper

    def drop(self, user_id: str) -> None:
        self._cache.pop(user_id, None)

    def close(self) -> None:
        self._cache.clear()  # the store owns (and closes) the connections records are read on
