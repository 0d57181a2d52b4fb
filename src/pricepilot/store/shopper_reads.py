"""The quote path's read of one shopper on SQLite: a plain autocommit SELECT per thread.

The store opens every SQLite transaction with ``BEGIN IMMEDIATE`` (the write lock), so its
reads queue behind the write-behind flushes; a plain autocommit SELECT reads the last committed
WAL snapshot without taking a lock. The connection is kept per thread (the quote thread): a
pool checkout and its reset on return cost more than the read.
:meth:`pricepilot.store.sql.SqlStore.find_shopper` uses it on SQLite.

>>> from pricepilot.compliance.attributes import Shopper
>>> from pricepilot.store import open_store
>>> store = open_store("sqlite://"); store.migrate()
>>> store.upsert_shopper(Shopper(shopper_id="u1", tier="gold"))
>>> reader = SqliteShopperReader(store.engine)
>>> reader.read("u1").tier, reader.read("u2")
('gold', None)
>>> reader.close()
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
from typing import Any

import sqlalchemy as sa

from pricepilot.compliance.attributes import Shopper
from pricepilot.errors import Unavailable

_SELECT = ("SELECT tier, device, region, channel, attributes, personalisation_consent"
           " FROM shoppers WHERE shopper_id = ?")


class SqliteShopperReader:
    """Reads one shopper's pricing record on a per-thread raw connection; see the module doc."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self._local = threading.local()
        self._conns: list[Any] = []
        self._lock = threading.Lock()

    def read(self, shopper_id: str) -> Shopper | None:
        """The shopper, or None when it is not stored (:class:`Unavailable` if the read fails)."""
        raw = getattr(self._local, "conn", None)
        if raw is None:
            raw = self._local.conn = self.engine.raw_connection()
            with self._lock:
                self._conns.append(raw)
        try:
            cur = raw.cursor()
            cur.execute(_SELECT, (shopper_id,))
            row = cur.fetchone()
            cur.close()
        except sqlite3.Error as e:
            self._local.conn = None  # a fresh connection next time
            with contextlib.suppress(Exception):
                raw.invalidate()
            raise Unavailable("store", f"shopper read failed: {e}") from e
        if row is None:
            return None
        attrs = row[4]
        return Shopper(shopper_id=shopper_id, tier=row[0], device=row[1], region=row[2],
                       channel=row[3],
                       attributes=json.loads(attrs) if isinstance(attrs, str) else dict(attrs or {}),
                       personalisation_consent=bool(row[5]))

    def close(self) -> None:
        """Close every thread's connection (the store's :meth:`close` calls this)."""
        with self._lock:
            conns, self._conns = self._conns, []
        for conn in conns:
            with contextlib.suppress(Exception):
                conn.close()
