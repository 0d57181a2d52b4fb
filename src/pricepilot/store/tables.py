"""The store's tables, declared once on the shared :data:`pricepilot.store.schema.metadata`: the
core (catalogue, shoppers, event and decision logs, price history, change revisions) and the
application layer's (orders, the admin view of promotions, the shared base prices), which the
repositories of :mod:`pricepilot.store.repositories_sql` run on. The migrations create them
from these declarations (:func:`pricepilot.store.schema.create_tables`).

Times are integer microseconds since the Unix epoch (UTC) on every backend, money is integer
minor units; both compare and index the same way on SQLite and PostgreSQL.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from pricepilot.bounds import ID_MAX, SHOPPER_ID_MAX, TEXT_MAX
from pricepilot.events.limits import TEXT_COLUMNS
from pricepilot.events.schemas import EVENT_COLUMNS
from pricepilot.store.schema import metadata

# Text columns are as wide as the bound validation enforces (pricepilot.bounds): an identifier
# ID_MAX, a pseudonymous shopper id SHOPPER_ID_MAX, a label LABEL_MAX, a name or title TEXT_MAX.
_ID = sa.String(ID_MAX)
_SHOPPER = sa.String(SHOPPER_ID_MAX)

products = sa.Table(
    "products",
    metadata,
    sa.Column("product_id", _ID, primary_key=True),
    sa.Column("title", sa.String(TEXT_MAX), nullable=False),
    sa.Column("category", _ID, nullable=False, index=True),
    sa.Column("brand", sa.String(TEXT_MAX), nullable=False, server_default=""),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("unit_cost", sa.BigInteger, nullable=False),
    sa.Column("list_price", sa.BigInteger, nullable=False),
    sa.Column("stock", sa.BigInteger, nullable=True),
    sa.Column("season_end", sa.BigInteger, nullable=True),  # micros
    sa.Column("guardrails", sa.JSON, nullable=False),
    sa.Column("attributes", sa.JSON, nullable=False),
    sa.Column("updated_at", sa.BigInteger, nullable=False),
)

category_policies = sa.Table(
    "category_policies",
    metadata,
    sa.Column("category", _ID, primary_key=True),
    sa.Column("guardrails", sa.JSON, nullable=False),
    sa.Column("updated_at", sa.BigInteger, nullable=False),
)

shoppers = sa.Table(
    "shoppers",
    metadata,
    sa.Column("shopper_id", _SHOPPER, primary_key=True),
    sa.Column("tier", sa.String(100), nullable=True),
    sa.Column("device", sa.String(100), nullable=True),
    sa.Column("region", sa.String(100), nullable=True),
    sa.Column("channel", sa.String(100), nullable=True),
    sa.Column("attributes", sa.JSON, nullable=False),
    sa.Column("audit_attributes", sa.JSON, nullable=False),
    sa.Column("personalisation_consent", sa.Boolean, nullable=False),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("updated_at", sa.BigInteger, nullable=False),
)

_EVENT_TYPES: dict[str, sa.types.TypeEngine[Any] | type[sa.types.TypeEngine[Any]]] = {
    **{c: sa.String(kind.max_length) for c, kind in TEXT_COLUMNS.items()},
    "type": sa.String(32),
    "ts": sa.BigInteger,
    "quantity": sa.Integer,
    "price": sa.BigInteger,
    "currency": sa.String(3),
    "on_promotion": sa.Boolean,
    "stock": sa.BigInteger,
    "day": sa.String(10),
}

events = sa.Table(
    "events",
    metadata,
    *[
        sa.Column(
            c,
            _EVENT_TYPES[c],
            primary_key=(c == "event_id"),
            nullable=c not in ("event_id", "type", "ts"),
        )
        for c in EVENT_COLUMNS
    ],
    sa.Index("ix_events_type_ts", "type", "ts"),
    sa.Index("ix_events_user_id_ts", "user_id", "ts"),
    sa.Index("ix_events_product_id_ts", "product_id", "ts"),
)

decisions = sa.Table(
    "decisions",
    metadata,
    sa.Column("decision_id", sa.String(200), primary_key=True),
    sa.Column("ts", sa.BigInteger, nullable=False),
    sa.Column("user_id", _SHOPPER, nullable=True),
    sa.Column("product_id", _ID, nullable=False),
    sa.Column("price", sa.BigInteger, nullable=False),
    sa.Column("list_price", sa.BigInteger, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("model_version", _ID, nullable=False),  # demand.manifest.VERSION_RE: 1-128
    sa.Column("propensity", sa.Float, nullable=True),
    sa.Column("personalised", sa.Boolean, nullable=False),
    sa.Column("fallback", sa.Boolean, nullable=False),
    sa.Column("binding_rule", sa.String(100), nullable=True),
    sa.Column("explanation", sa.JSON, nullable=False),
    sa.Column("context", sa.JSON, nullable=False),
    sa.Index("ix_decisions_ts", "ts"),
    sa.Index("ix_decisions_user_id_ts", "user_id", "ts"),
    sa.Index("ix_decisions_product_id_ts", "product_id", "ts"),
)

price_history = sa.Table(
    "price_history",
    metadata,
    sa.Column("product_id", _ID, primary_key=True),
    sa.Column("ts", sa.BigInteger, primary_key=True),
    sa.Column("price", sa.BigInteger, nullable=False),
)

CORE_TABLES = (products, category_policies, shoppers, events, decisions, price_history)

# One revision number per topic ("catalogue": products and category guardrails), bumped in the
# same transaction as the write it announces: every process compares it with the one it last
# read to learn, with one small read, that its cached copy is stale (the clock plays no part,
# so writes inside one tick of a simulated clock are seen too).
store_changes = sa.Table(
    "store_changes",
    metadata,
    sa.Column("topic", sa.String(64), primary_key=True),
    sa.Column("revision", sa.BigInteger, nullable=False),
)


# -- the application layer's tables ------------------------------------------------------------

# One row per confirmed order: the idempotency record of ``POST /v1/orders`` (a fingerprint of
# the request, so a reused order id with other content is a 409) and the confirmation returned
# on a resend. ``shopper_id`` is pseudonymous, so erasure can find it.
service_orders = sa.Table(
    "service_orders",
    metadata,
    sa.Column("order_id", _ID, primary_key=True),
    sa.Column("fingerprint", sa.String(64), nullable=False),  # sha256 hex of the request
    sa.Column("shopper_id", _SHOPPER, nullable=True, index=True),
    sa.Column("status", sa.String(16), nullable=False),  # confirmed | cancelled
    sa.Column("body", sa.Text, nullable=False),  # the OrderConfirmation as JSON
    sa.Column("created_at", sa.BigInteger, nullable=False),  # microseconds since the epoch
)

# The admin's view of each promotion (the definition as sent, paused or not, timestamps). The
# cart engine runs the active ones, stored by :mod:`pricepilot.promotions.repository`.
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
    sa.Column("product_id", _ID, primary_key=True),
    sa.Column("day", sa.Integer, nullable=False),
    sa.Column("current", sa.BigInteger, nullable=True),
    sa.Column("last", sa.BigInteger, nullable=False),
    sa.Column("updated_at", sa.BigInteger, nullable=False),
)

# API keys of the HTTP service, held hashed (serving/api_keys.py): the sha256 hex digest of the
# key (never the key), its scopes, a label, and when it was created and revoked. ``key_id`` (the
# digest's first 12 hex digits) names a key in ``pricepilot keys list`` and ``keys revoke``.
# ``source`` is "store" for keys created here, "config" for the revocation of a key that
# ``service.api_keys`` in the settings file still lists. Every process re-reads the table every
# ``service.sync_seconds``, so a revocation is refused everywhere within seconds, no restart.
api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("key_id", sa.String(16), primary_key=True),
    sa.Column("digest", sa.String(64), nullable=False, unique=True),
    sa.Column("scopes", sa.JSON, nullable=False),  # list of scope names
    sa.Column("label", sa.String(200), nullable=False, server_default=""),
    sa.Column("source", sa.String(16), nullable=False),  # store | config
    sa.Column("created_at", sa.BigInteger, nullable=False),  # microseconds since the epoch
    sa.Column("revoked_at", sa.BigInteger, nullable=True),
)
