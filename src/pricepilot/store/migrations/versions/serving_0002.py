"""Serving: the catalogue's change counter and the shared public base prices.

Revision ID: serving_0002
Revises: service_0001
"""

from __future__ import annotations

from alembic import op

from pricepilot.store import tables as t
from pricepilot.store.schema import create_tables, drop_tables

revision = "serving_0002"
down_revision = "service_0001"
branch_labels = None
depends_on = None

TABLES = (t.store_changes, t.serving_base_prices)


def upgrade() -> None:
    create_tables(op.get_bind(), TABLES)


def downgrade() -> None:
    drop_tables(op.get_bind(), TABLES)
