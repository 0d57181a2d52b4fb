"""Service: order confirmations (idempotency) and the admin view of promotions.

Revision ID: service_0001
Revises: promotions_0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "service_0001"
down_revision = "promotions_0001"
branch_labels = ("service",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "service_orders",
        sa.Column("order_id", sa.String(200), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("shopper_id", sa.String(64), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("order_id", name="pk_service_orders"),
    )
    op.create_index("ix_service_orders_shopper_id", "service_orders", ["shopper_id"])
    op.create_table(
        "service_promotions",
        sa.Column("promotion_id", sa.String(200), nullable=False),
        sa.Column("spec", sa.Text, nullable=False),
        sa.Column("paused", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("promotion_id", name="pk_service_promotions"),
    )


def downgrade() -> None:
    op.drop_table("service_promotions")
    op.drop_index("ix_service_orders_shopper_id", table_name="service_orders")
    op.drop_table("service_orders")
