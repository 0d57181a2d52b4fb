"""Serving: the catalogue's change counter and the shared public base prices.

Revision ID: serving_0002
Revises: service_0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "serving_0002"
down_revision = "service_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "store_changes",
        sa.Column("topic", sa.String(64), nullable=False),
        sa.Column("revision", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("topic", name="pk_store_changes"),
    )
    op.create_table(
        "serving_base_prices",
        sa.Column("product_id", sa.String(200), nullable=False),
        sa.Column("day", sa.Integer, nullable=False),
        sa.Column("current", sa.BigInteger, nullable=True),
        sa.Column("last", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("product_id", name="pk_serving_base_prices"),
    )


def downgrade() -> None:
    op.drop_table("serving_base_prices")
    op.drop_table("store_changes")
