"""Promotions: definitions, usage counters and redemptions.

Revision ID: promotions_0001
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "promotions_0001"
down_revision = "0001"
branch_labels = ("promotions",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "promotion_definitions",
        sa.Column("id", sa.String(200), nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_promotion_definitions"),
    )
    op.create_table(
        "promotion_counters",
        sa.Column("key", sa.String(500), nullable=False),
        sa.Column("used", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("spent", sa.BigInteger, nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("key", name="pk_promotion_counters"),
    )
    op.create_table(
        "promotion_redemptions",
        sa.Column("order_id", sa.String(200), nullable=False),
        sa.Column("promotion_id", sa.String(200), nullable=False),
        sa.Column("customer_id", sa.String(200), nullable=True),
        sa.Column("coupon_code", sa.String(200), nullable=True),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("order_id", "promotion_id", name="pk_promotion_redemptions"),
    )


def downgrade() -> None:
    op.drop_table("promotion_redemptions")
    op.drop_table("promotion_counters")
    op.drop_table("promotion_definitions")
