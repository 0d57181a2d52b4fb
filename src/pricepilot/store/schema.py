"""The one SQLAlchemy MetaData every part's tables are declared on.

Each part declares its own tables in its own module (``pricepilot.store.tables`` for the core,
``pricepilot.promotions.tables`` for the ledger, ...) on this ``metadata``; Alembic migrations
under ``pricepilot/store/migrations`` create them on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import sqlalchemy as sa

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)
