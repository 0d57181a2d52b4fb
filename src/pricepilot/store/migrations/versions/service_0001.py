"""Service: order confirmations (idempotency) and the admin view of promotions.

Revision ID: service_0001
Revises: promotions_0001
"""

from __future__ import annotations

from alembic import op

from pricepilot.store import tables as t
from pricepilot.store.schema import create_tables, drop_tables

revision = "service_0001"
down_revision = "promotions_0001"
branch_labels = ("service",)
depends_on = None

TABLES = (t.service_orders, t.service_promotions)


def upgrade() -> None:
    create_tables(op.get_bind(), TABLES)


def downgrade() -> None:
    drop_tables(op.get_bind(), TABLES)
