"""Core tables: products, category policies, shoppers, events, decisions, price history.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

from alembic import op

from pricepilot.store import tables as t
from pricepilot.store.schema import create_tables, drop_tables

revision = "0001"
down_revision = None
branch_labels = ("core",)
depends_on = None

TABLES = (t.products, t.category_policies, t.shoppers, t.events, t.decisions, t.price_history)


def upgrade() -> None:
    create_tables(op.get_bind(), TABLES)


def downgrade() -> None:
    drop_tables(op.get_bind(), TABLES)
