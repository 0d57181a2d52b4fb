"""Event schemas: what a shop tells pricepilot.

Every event has an ``event_id`` (re-sending it changes nothing) and a timezone-aware ``ts``.
Money is integer minor units of ``currency``. Every field's bounds (length, characters, range)
are declared in :mod:`pricepilot.bounds`; decoding enforces them and the API publishes them.

The shopper is ``customer_id`` at every interface (HTTP, event files, the Python API's dicts),
as in quotes, carts and orders: the shop's own customer id. Inside, the struct attribute is
``user_id`` and, once ingested, holds the *pseudonymous* shopper id (see
:mod:`pricepilot.compliance.identity`): ingestion pseudonymises the customer id on the way in,
and the store and the features only ever see the pseudonym.

Events are a msgspec tagged union on the ``type`` field, so one decoder reads any of them:

>>> import msgspec
>>> ev = msgspec.json.decode(
...     b'{"type":"view","event_id":"e1","ts":"2026-01-01T10:00:00Z","customer_id":"c1",'
...     b'"product_id":"SKU-1","price":999,"currency":"EUR"}', type=Event)
>>> ev.price, ev.user_id
(999, 'c1')
>>> b'"customer_id":"c1"' in msgspec.json.encode(ev)
True
"""

from __future__ import annotations

from datetime import date
from typing import Literal, Union

import msgspec

from pricepilot.bounds import Currency, Id, Label, Money, Name, Quantity, Stock, Timestamp

_OPTS = dict(forbid_unknown_fields=True, kw_only=True, tag_field="type")


class _Base(msgspec.Struct, **_OPTS):
    event_id: Id
    ts: Timestamp


class View(_Base, tag="view"):
    user_id: Id = msgspec.field(name="customer_id")
    product_id: Id
    price: Money  # price shown, minor units
    currency: Currency
    session_id: Id | None = None
    channel: Label | None = None
    device: Label | None = None
    quote_id: Id | None = None


class AddToCart(_Base, tag="add_to_cart"):
    user_id: Id = msgspec.field(name="customer_id")
    product_id: Id
    price: Money
    currency: Currency
    quantity: Quantity = 1
    session_id: Id | None = None


class RemoveFromCart(_Base, tag="remove_from_cart"):
    user_id: Id = msgspec.field(name="customer_id")
    product_id: Id
    quantity: Quantity = 1
    session_id: Id | None = None


class Purchase(_Base, tag="purchase"):
    user_id: Id = msgspec.field(name="customer_id")
    product_id: Id
    order_id: Id
    price: Money  # unit price paid, minor units
    currency: Currency
    quantity: Quantity = 1
    session_id: Id | None = None
    quote_id: Id | None = None


class CompetitorPrice(_Base, tag="competitor_price"):
    product_id: Id
    competitor: Label
    price: Money
    currency: Currency
    on_promotion: bool = False


class Inventory(_Base, tag="inventory"):
    product_id: Id
    stock: Stock  # absolute stock level after this event


class Calendar(_Base, tag="calendar"):
    day: date
    name: Name
    kind: Literal["holiday"] = "holiday"
    region: Label | None = None


Event = Union[View, AddToCart, RemoveFromCart, Purchase, CompetitorPrice, Inventory, Calendar]

EVENT_TYPES: dict[str, type[_Base]] = {
    "view": View,
    "add_to_cart": AddToCart,
    "remove_from_cart": RemoveFromCart,
    "purchase": Purchase,
    "competitor_price": CompetitorPrice,
    "inventory": Inventory,
    "calendar": Calendar,
}

# The flat columns every event is stored in (one table, sparse columns), in storage order.
# `ts` is stored as integer microseconds since the epoch; `day` as an ISO date string.
EVENT_COLUMNS: tuple[str, ...] = (
    "event_id", "type", "ts", "user_id", "product_id", "session_id", "order_id", "quantity",
    "price", "currency", "competitor", "on_promotion", "stock", "day", "name", "channel",
    "device", "quote_id", "region",
)


def event_type(ev: Event) -> str:
    return ev.__struct_config__.tag  # type: ignore[return-value]
