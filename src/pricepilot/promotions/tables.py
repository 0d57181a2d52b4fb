"""Tables of the promotions part, declared on the one shared ``metadata``.

- ``promotion_definitions``: the current promotion set (JSON body per promotion), replaced whole.
- ``promotion_counters``: usage and spend per counter key (promotion, promotion+customer, coupon,
  coupon+customer); limits come from the definitions and are checked in the conditional UPDATE.
- ``promotion_redemptions``: one row per (order, promotion) — the idempotency claim and the record
  of what to give back on release.
"""

from __future__ import annotations

import sqlalchemy as sa

from pricepilot.store.schema import metadata

promotion_definitions = sa.Table(
    "promotion_definitions",
    metadata,
    sa.Column("id", sa.String(200), primary_key=True),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("updated_at", sa.BigInteger, nullable=False),  # microseconds since the epoch
)

promotion_counters = sa.Table(
    "promotion_counters",
    metadata,
    sa.Column("key", sa.String(500), primary_key=True),
    sa.Column("used", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("spent", sa.BigInteger, nullable=False, server_default="0"),
)

promotion_redemptions = sa.Table(
    "promotion_redemptions",
    metadata,
    sa.Column("order_id", sa.String(200), primary_key=True),
    sa.Column("promotion_id", sa.String(200), primary_key=True),
    sa.Column("customer_id", sa.String(200), nullable=True),
    sa.Column("coupon_code", sa.String(200), nullable=True),
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # redeemed | released
    sa.Column("created_at", sa.BigInteger, nullable=False),
)

TABLES = [promotion_definitions, promotion_counters, promotion_redemptions]
