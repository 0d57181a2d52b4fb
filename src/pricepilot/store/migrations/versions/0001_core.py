"""Core tables: products, category policies, shoppers, events, decisions, price history.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = ("core",)
depends_on = None



def upgrade() -> None:
    op.create_table(
        "products",
        sa.Column("product_id", sa.String(200), nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("category", sa.String(200), nullable=False),
        sa.Column("brand", sa.String(200), nullable=False, server_default=""),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("unit_cost", sa.BigInteger, nullable=False),
        sa.Column("list_price", sa.BigInteger, nullable=False),
        sa.Column("stock", sa.BigInteger, nullable=True),
        sa.Column("season_end", sa.BigInteger, nullable=True),
        sa.Column("guardrails", sa.JSON, nullable=False),
        sa.Column("attributes", sa.JSON, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("product_id", name="pk_products"),
    )
    op.create_index("ix_products_category", "products", ["category"])
    op.create_table(
        "category_policies",
        sa.Column("category", sa.String(200), nullable=False),
        sa.Column("guardrails", sa.JSON, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("category", name="pk_category_policies"),
    )
    op.create_table(
        "shoppers",
        sa.Column("shopper_id", sa.String(64), nullable=False),
        sa.Column("tier", sa.String(100), nullable=True),
        sa.Column("device", sa.String(100), nullable=True),
        sa.Column("region", sa.String(100), nullable=True),
        sa.Column("channel", sa.String(100), nullable=True),
        sa.Column("attributes", sa.JSON, nullable=False),
        sa.Column("audit_attributes", sa.JSON, nullable=False),
        sa.Column("personalisation_consent", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("shopper_id", name="pk_shoppers"),
    )
    op.create_table(
        "events",
        sa.Column("event_id", sa.String(200), nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("ts", sa.BigInteger, nullable=False),
        sa.Column("user_id", sa.String(200), nullable=True),
        sa.Column("product_id", sa.String(200), nullable=True),
        sa.Column("session_id", sa.String(200), nullable=True),
        sa.Column("order_id", sa.String(200), nullable=True),
        sa.Column("quantity", sa.Integer, nullable=True),
        sa.Column("price", sa.BigInteger, nullable=True),
        sa.Column("currency", sa.String(3), nullable=True),
        sa.Column("competitor", sa.String(200), nullable=True),
        sa.Column("on_promotion", sa.Boolean, nullable=True),
        sa.Column("stock", sa.BigInteger, nullable=True),
        sa.Column("day", sa.String(10), nullable=True),
        sa.Column("name", sa.String(200), nullable=True),
        sa.Column("channel", sa.String(200), nullable=True),
        sa.Column("device", sa.String(200), nullable=True),
        sa.Column("quote_id", sa.String(200), nullable=True),
        sa.Column("region", sa.String(200), nullable=True),
        sa.PrimaryKeyConstraint("event_id", name="pk_events"),
    )
    op.create_index("ix_events_type_ts", "events", ["type", "ts"])
    op.create_index("ix_events_user_id_ts", "events", ["user_id", "ts"])
    op.create_index("ix_events_product_id_ts", "events", ["product_id", "ts"])
    op.create_table(
        "decisions",
        sa.Column("decision_id", sa.String(200), nullable=False),
        sa.Column("ts", sa.BigInteger, nullable=False),
        sa.Column("user_id", sa.String(64), nullable=True),
        sa.Column("product_id", sa.String(200), nullable=False),
        sa.Column("price", sa.BigInteger, nullable=False),
        sa.Column("list_price", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("model_version", sa.String(200), nullable=False),
        sa.Column("propensity", sa.Float, nullable=True),
        sa.Column("personalised", sa.Boolean, nullable=False),
        sa.Column("fallback", sa.Boolean, nullable=False),
        sa.Column("binding_rule", sa.String(100), nullable=True),
        sa.Column("explanation", sa.JSON, nullable=False),
        sa.Column("context", sa.JSON, nullable=False),
        sa.PrimaryKeyConstraint("decision_id", name="pk_decisions"),
    )
    op.create_index("ix_decisions_ts", "decisions", ["ts"])
    op.create_index("ix_decisions_user_id_ts", "decisions", ["user_id", "ts"])
    op.create_index("ix_decisions_product_id_ts", "decisions", ["product_id", "ts"])
    op.create_table(
        "price_history",
        sa.Column("product_id", sa.String(200), nullable=False),
        sa.Column("ts", sa.BigInteger, nullable=False),
        sa.Column("price", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("product_id", "ts", name="pk_price_history"),
    )


def downgrade() -> None:
    for name in ("price_history", "decisions", "events", "shoppers", "category_policies",
                 "products"):
        op.drop_table(name)
