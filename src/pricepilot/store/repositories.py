"""The application layer's persistence, one small typed interface per concept.

The use cases in :mod:`pricepilot.serving` keep orders, the admin view of promotions and the
shared base prices through these interfaces, never through a database engine; the redemption
ledger (:class:`~pricepilot.promotions.ledger.RedemptionLedger`) and the promotion definitions
(:class:`~pricepilot.promotions.repository.PromotionDefinitions`) are the promotions part's own.
A :class:`~pricepilot.store.base.Store` hands out all of them at once,
:meth:`~pricepilot.store.base.Store.repositories`, each running on the store's own database
(SQL: :mod:`pricepilot.store.repositories_sql`). Times are UTC microseconds, money is integer
minor units; database failures raise :class:`~pricepilot.errors.Unavailable`.

>>> from pricepilot.store import open_store
>>> store = open_store("sqlite://"); store.migrate()
>>> orders = store.repositories().orders
>>> orders.add(OrderRecord(order_id="o1", fingerprint="f", shopper_id="u1", status="confirmed",
...                        body="{}", created_at=0))
True
>>> orders.add(OrderRecord(order_id="o1", fingerprint="g", shopper_id=None, status="confirmed",
...                        body="{}", created_at=1))  # the id is taken: nothing is written
False
>>> orders.get("o1").fingerprint
'f'
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import msgspec

if TYPE_CHECKING:
    from pricepilot.promotions.ledger import RedemptionLedger
    from pricepilot.promotions.repository import PromotionDefinitions


class BasePriceRow(msgspec.Struct, frozen=True, kw_only=True):
    """A product's public base price on its current shop-local ``day`` (days since the epoch)."""

    product_id: str
    day: int
    current: int | None  # in force on ``day`` (None: the list price)
    last: int  # the latest decided base price
    updated_at: int  # when it was written, UTC microseconds


class BasePriceStore(Protocol):
    """The public base prices every process on one store shares."""

    def write(self, rows: Sequence[BasePriceRow]) -> int:
        """Insert or replace the rows (one per product) atomically; returns how many."""
        ...

    def changed_since(self, updated_after: int) -> list[BasePriceRow]:
        """The rows written after ``updated_after`` (UTC microseconds), by any process."""
        ...


class OrderRecord(msgspec.Struct, frozen=True, kw_only=True):
    """A confirmed (or cancelled) order: the idempotency record and the confirmation sent."""

    order_id: str
    fingerprint: str  # sha256 hex of the request, so a reused id with other content is refused
    shopper_id: str | None  # pseudonymous
    status: str  # confirmed | cancelled
    body: str  # the confirmation as JSON
    created_at: int  # UTC microseconds


class OrderStore(Protocol):
    """Orders by id."""

    def get(self, order_id: str) -> OrderRecord | None:
        """The order, or None when no order has this id."""
        ...

    def add(self, order: OrderRecord) -> bool:
        """Record a new order; False (and nothing written) when its id is already taken."""
        ...

    def update(self, order_id: str, *, status: str, body: str) -> None:
        """Replace the order's status and confirmation (:class:`NotFound` naming the order)."""
        ...

    def unlink_shopper(self, shopper_id: str) -> int:
        """Erasure: the shopper's orders keep no shopper id; returns how many were unlinked."""
        ...


class PromotionView(msgspec.Struct, frozen=True, kw_only=True):
    """The admin's view of one promotion: its definition as sent, paused or not."""

    promotion_id: str
    spec: str  # the definition as sent, JSON
    paused: bool
    created_at: int  # UTC microseconds
    updated_at: int


class PromotionViewStore(Protocol):
    """The admin's views of promotions by id."""

    def add(self, view: PromotionView) -> None:
        """Record a new promotion (:class:`Conflict` if its id is taken)."""
        ...

    def get(self, promotion_id: str) -> PromotionView:
        """The promotion's view, or :class:`NotFound` naming the promotion."""
        ...

    def list(self) -> list[PromotionView]:
        """Every view, oldest first (by ``created_at``, then id)."""
        ...

    def update(self, promotion_id: str, *, updated_at: int, spec: str | None = None,
               paused: bool | None = None) -> None:
        """Replace the spec and/or the paused flag (:class:`NotFound` naming the promotion)."""
        ...

    def delete(self, promotion_id: str) -> None:
        """Remove the view (:class:`NotFound` naming the promotion)."""
        ...


class ApiKeyRecord(msgspec.Struct, frozen=True, kw_only=True):
    """An API key of the HTTP service, held hashed: never the key itself."""

    key_id: str  # the digest's first 12 hex digits: names the key in listings and revocation
    digest: str  # sha256 hex of the key
    scopes: list[str]
    label: str = ""
    source: str = "store"  # store: created here; config: a service.api_keys key, revoked here
    created_at: int  # UTC microseconds
    revoked_at: int | None = None


class ApiKeyStore(Protocol):
    """The API keys every process on one store shares."""

    def add(self, key: ApiKeyRecord) -> bool:
        """Record a key; False (and nothing written) when its id or digest is already there."""
        ...

    def list(self) -> list[ApiKeyRecord]:
        """Every key, revoked ones too, oldest first (by ``created_at``, then id)."""
        ...

    def revoke(self, key_id: str, revoked_at: int) -> ApiKeyRecord:
        """Mark the key revoked (a revoked key keeps its first ``revoked_at``) and return it;
        :class:`NotFound` naming the key when there is none with this id."""
        ...


@dataclass(frozen=True)
class Repositories:
    """Every repository of the application layer, on one store's database."""

    base_prices: BasePriceStore
    orders: OrderStore
    promotion_views: PromotionViewStore
    promotions: PromotionDefinitions  # the definitions the cart engine runs
    ledger: RedemptionLedger  # the redemption ledger on the store's database
    api_keys: ApiKeyStore  # the HTTP service's API keys, hashed
