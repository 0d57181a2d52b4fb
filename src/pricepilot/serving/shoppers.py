"""Shoppers: their records (consent, declared attributes) as quotes and carts read them, and
the shopper use cases, consent and erasure on every backend.

Records are cached for ``ttl_seconds``: an opt-out or erasure through this process applies to
its next quote (the entry is dropped), one through another process (another worker, the CLI)
within the TTL. ``ttl_seconds=0`` (the default on PostgreSQL, whose outage must show at once)
reads the store on every request.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
import time
from typing import Any

from pricepilot.compliance.attributes import Shopper
from pricepilot.errors import NotFound, Unavailable
from pricepilot.store.sql import SqlStore

MAX_CACHED = 100_000


class ShopperDirectory:
    """Shopper records by pseudonymous id, cached; see the module doc."""

    def __init__(self, store: SqlStore, ttl_seconds: float | None = None) -> None:
        self.store = store
        if ttl_seconds is None:
            ttl_seconds = 1.0 if store.dialect == "sqlite" else 0.0
        self.ttl = ttl_seconds
        self._cache: dict[str, tuple[float, Shopper | None]] = {}
        self._reader = threading.local()  # per thread: the SQLite connection shoppers are read on
        self._reader_conns: list[Any] = []

    def get(self, user_id: str | None) -> Shopper | None:
        if user_id is None:
            return None
        now = time.monotonic()
        hit = self._cache.get(user_id)
        if hit is not None and hit[0] > now:
            return hit[1]
        shopper = self._read(user_id)
        if self.ttl > 0:
            if len(self._cache) >= MAX_CACHED:
                self._cache.clear()
            self._cache[user_id] = (now + self.ttl, shopper)
        return shopper

    def drop(self, user_id: str) -> None:
        self._cache.pop(user_id, None)

    def _read(self, user_id: str) -> Shopper | None:
        if self.store.dialect == "sqlite":
            return self._sqlite_read(user_id)
        try:
            return self.store.get_shopper(user_id)
        except NotFound:
            return None

    def _sqlite_read(self, user_id: str) -> Shopper | None:
        # The store opens every SQLite transaction with BEGIN IMMEDIATE (the write lock), so its
        # reads queue behind the write-behind flushes; a plain autocommit SELECT reads the last
        # committed WAL snapshot without taking a lock. The connection is kept per thread (the
        # quote thread): a pool checkout and its reset on return cost more than the read.
        raw = getattr(self._reader, "conn", None)
        if raw is None:
            raw = self._reader.conn = self.store.engine.raw_connection()
            self._reader_conns.append(raw)
        try:
            cur = raw.cursor()
            cur.execute("SELECT tier, device, region, channel, attributes, personalisation_consent"
                        " FROM shoppers WHERE shopper_id = ?", (user_id,))
            row = cur.fetchone()
            cur.close()
        except sqlite3.Error as e:
            self._reader.conn = None  # a fresh connection next time
            with contextlib.suppress(Exception):
                raw.invalidate()
            raise Unavailable("store", f"shopper read failed: {e}") from e
        if row is None:
            return None
        attrs = row[4]
        return Shopper(shopper_id=user_id, tier=row[0], device=row[1], region=row[2],
                       channel=row[3],
                       attributes=json.loads(attrs) if isinstance(attrs, str) else dict(attrs or {}),
                       personalisation_consent=bool(row[5]))

    def close(self) -> None:
        for conn in self._reader_conns:
            with contextlib.suppress(Exception):
                conn.close()
        self._reader_conns.clear()

