"""API keys held hashed in the store, revocable without a restart (serving/api_keys.py).

Revision ID: keys_0001
Revises: serving_0002
"""

from __future__ import annotations

from alembic import op

from pricepilot.store import tables as t
from pricepilot.store.schema import create_tables, drop_tables

revision = "keys_0001"
down_revision = "serving_0002"
branch_labels = None
depends_on = None

TABLES = (t.api_keys,)


def upgrade() -> None:
    create_tables(op.get_bind(), TABLES)


def downgrade() -> None:
    drop_tables(op.get_bind(), TABLES)
