"""Statements SQLite and PostgreSQL spell alike: ``INSERT ... ON CONFLICT`` on either dialect.

>>> import sqlalchemy as sa
>>> from pricepilot.store import tables as t
>>> eng = sa.create_engine("sqlite://"); t.store_changes.create(eng)
>>> with eng.begin() as conn:
...     upsert(conn, t.store_changes, [{"topic": "a", "revision": 1}], ["topic"])
...     upsert(conn, t.store_changes, [{"topic": "a", "revision": 2}], ["topic"])
...     conn.execute(sa.select(t.store_changes.c.revision)).scalar_one()
2
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite


def insert(dialect: str, table: sa.Table) -> Any:
    """The dialect's own ``INSERT`` (it has ``on_conflict_do_update`` / ``_do_nothing``)."""
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


def upsert(conn: sa.Connection, table: sa.Table, rows: Sequence[dict[str, Any]],
           keys: Sequence[str], keep: Sequence[str] = ()) -> None:
    """Insert ``rows``, replacing the row with the same ``keys`` (its ``keep`` columns kept)."""
    if not rows:
        return
    stmt = insert(conn.dialect.name, table)
    update = {c: stmt.excluded[c] for c in rows[0] if c not in keys and c not in keep}
    conn.execute(stmt.on_conflict_do_update(index_elements=list(keys), set_=update), list(rows))
