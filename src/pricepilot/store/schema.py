"""The one SQLAlchemy MetaData every part's tables are declared on.

Each part declares its own tables in its own module (``pricepilot.store.tables`` for the store
and the application layer, ``pricepilot.promotions.tables`` for the ledger) on this
``metadata``; Alembic migrations under ``pricepilot/store/migrations`` create them on SQLite and
PostgreSQL alike.

A migration that creates tables the store declares creates them from the declarations
(:func:`create_tables`), so each table is written down once. That holds while the declaration is
the table the migration made: a later migration that changes a table (adds a column, an index)
must first give the migration that created it a frozen copy of the old definition, else a
fresh database fails at the later migration (every test that migrates shows it at once).
"""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)


def create_tables(conn: sa.Connection, tables: Iterable[sa.Table]) -> None:
    """Create ``tables`` (with their indexes) as declared, in order (a migration passes
    ``op.get_bind()``)."""
    for table in tables:
        table.create(conn)


def drop_tables(conn: sa.Connection, tables: Iterable[sa.Table]) -> None:
    """Drop ``tables`` (with their indexes), in reverse order."""
    for table in reversed(list(tables)):
        table.drop(conn)
