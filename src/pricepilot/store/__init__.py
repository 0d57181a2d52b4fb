"""Persistence behind one small typed interface (:class:`Store`).

>>> store = open_store("sqlite://")
>>> store.migrate()
>>> store.dialect
'sqlite'
"""

from __future__ import annotations

from pricepilot.store.base import Store
from pricepilot.store.records import DecisionRecord
from pricepilot.store.sql import SqlStore, open_store

__all__ = ["DecisionRecord", "SqlStore", "Store", "open_store"]
