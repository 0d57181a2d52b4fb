"""Tables of the service layer, declared on the one shared ``metadata``.

- ``service_orders``: one row per confirmed order — the idempotency record of ``POST /v1/orders``
  (a fingerprint of the request, so a reused order id with other content is a 409) and the
  confirmation returned on a resend. ``shopper_id`` is pseudonymous, so erasure can find it.
- ``service_promotions``: the admin's view of each promotion (the definition as sent, paused or
  not, timestamps). The engine runs the active ones, stored through
  :class:`pricepilot.promotions.repository.PromotionRepository`.
"""

from __future__ import annotations

import sqlalchemy as sa

from pricepilot.store.schema import metadata

service_orders = sa.Table(
    "service_orders",
    metadata,
    sa.Column("order_id", sa.String(200), primary_key=True),
    sa.Column("fingerprint", sa.String(64), nullable=False),  # sha256 hex of the request
    sa.Column("shopper_id", sa.String(64), nullable=True, index=True),
    sa.Column("status", sa.String(16), nullable=False),  # confirmed | cancelled
    sa.Column("body", sa.Text, nullable=False),  # the OrderConfirmation as JSON
    sa.Column("created_at", sa.BigInteger, nullable=False),  # microseconds since the epoch
)

service_promotions = sa.Table(
    "service_promotions",
    metadata,
    sa.Column("promotion_id", sa.String(200), primary_key=True),
    sa.Column("spec", sa.Text, nullable=False),  # the PromotionSpec as sent, JSON
    sa.Column("paused", sa.Boolean, nullable=False),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("updated_at", sa.BigInteger, nullable=False),
)



# The public base price of each product for its current day (smoothing and the daily change
# limit read it), shared by every worker and process on the store: ``day`` is the shop-local day
# (days since the epoch), ``current`` the price in force that day (where the previous day's
# last decided base price ended), ``last`` the latest decided base price.
serving_base_prices = sa.Table(
    "serving_base_prices",
    metadata,
    sa.Column("product_id", sa.String(200), primary_key=True),
    sa.Column("day", sa.Integer, nullable=False),
    sa.Column("current", sa.BigInteger, nullable=True),
    sa.Column("last", sa.BigInteger, nullable=False),
    sa.Column("updated_at", sa.BigInteger, nullable=False),
)
TABLES = [service_orders, service_promotions, serving_base_prices]
