"""The one typed interface to persistence. Backends: :mod:`pricepilot.store.sql` (SQLite, PostgreSQL).

Conventions shared by every method:

* times are timezone-aware ``datetime`` in and out (stored as UTC microseconds);
* money is integer minor units;
* writes of a single call are atomic; :meth:`Store.transaction` groups several calls;
* database failures raise :class:`pricepilot.errors.Unavailable` (server down, locked) or
  :class:`pricepilot.errors.Conflict` (constraint clash); bad input raises
  :class:`pricepilot.errors.ValidationError` before anything is written.

>>> from pricepilot.store import open_store
>>> store = open_store("sqlite://")
>>> store.migrate()
>>> store.count_events()
0
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

    from pricepilot.catalog.models import CategoryPolicy, Product
    from pricepilot.compliance.attributes import Shopper
    from pricepilot.events.schemas import Event
    from pricepilot.store.records import DecisionRecord
    from pricepilot.store.repositories import Repositories


@runtime_checkable
class Store(Protocol):
    """Persistence of catalogue, shoppers, the event log, the decision log and price history."""

    @property
    def url(self) -> str:
        """The database URL with any password masked."""
        ...

    @property
    def dialect(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        ...

    # -- lifecycle -----------------------------------------------------------------------------
    def migrate(self) -> None:
        """Bring the schema to the newest revision of every migration branch (``upgrade heads``)."""
        ...

    def close(self) -> None:
        """Release connections; the store must not be used afterwards."""
        ...

    def transaction(self) -> AbstractContextManager[None]:
        """Group several calls into one atomic unit: all of them commit, or none does."""
        ...

    def ping(self) -> None:
        """One round trip to the database (the health probe); raises when it cannot answer."""
        ...

    def repositories(self, *, timezone: str = "UTC") -> Repositories:
        """The application layer's repositories (orders, promotion views and definitions, base
        prices, the redemption ledger) on this store's database; ``timezone`` is the shop's,
        in which promotion schedules are validated. See :mod:`pricepilot.store.repositories`."""
        ...

    # -- catalogue -----------------------------------------------------------------------------
    def upsert_products(self, products: Iterable[Product]) -> int:
        """Insert or replace products (validated first); returns how many were written."""
        ...

    def get_product(self, product_id: str) -> Product:
        """The product, or :class:`NotFound`."""
        ...

    def list_products(self, category: str | None = None) -> list[Product]:
        """All products (of ``category``), ordered by id."""
        ...

    def product_ids(self) -> set[str]:
        """Every known product id (cheap: what ingestion checks events against)."""
        ...

    def upsert_category_policy(self, policy: CategoryPolicy) -> None: ...

    def list_category_policies(self) -> list[CategoryPolicy]: ...

    def catalogue_revision(self) -> int:
        """A number that grows with every product or category-guardrail write, by any process
        (0 before the first): a cached catalogue is stale when it differs from the one read."""
        ...

    # -- shoppers ------------------------------------------------------------------------------
    def upsert_shopper(self, shopper: Shopper) -> None: ...

    def upsert_shoppers(self, shoppers: Iterable[Shopper]) -> int:
        """Insert or replace several shoppers atomically; returns how many were written."""
        ...

    def get_shopper(self, shopper_id: str) -> Shopper:
        """The shopper, or :class:`NotFound`."""
        ...

    def find_shopper(self, shopper_id: str) -> Shopper | None:
        """The shopper, or None: the quote path's read, which may see a write of another
        process a moment late (the last committed snapshot), but never blocks behind one."""
        ...

    def shoppers_frame(self) -> pd.DataFrame:
        """Every shopper's pricing attributes: user_id, tier, device, region, channel, consent."""
        ...

    def set_consent(self, shopper_id: str, personalisation_consent: bool) -> None:
        """Record the shopper's personalisation consent (:class:`NotFound` if unknown)."""
        ...

    def erase_shopper(self, shopper_id: str) -> dict[str, int]:
        """Delete the shopper's row, events and decisions in one transaction; returns counts."""
        ...

    # -- event log -----------------------------------------------------------------------------
    def add_events(self, events: Iterable[Event]) -> int:
        """Append events; idempotent by ``event_id``; returns the number newly inserted."""
        ...

    def add_event_batch(self, batch: pa.Table) -> int:
        """Columnar fast path: a table with :data:`EVENT_COLUMNS` in storage form (see docs).

        Rows whose ``event_id`` is already stored are ignored. Returns the number inserted.
        """
        ...

    def events_by_id(self, event_ids: Sequence[str]) -> pa.Table:
        """The stored events among ``event_ids``, in storage form (any order): what a re-sent
        id is compared with to tell a duplicate from a conflict."""
        ...

    def bulk_load(self, expected_rows: int) -> AbstractContextManager[None]:
        """A :meth:`transaction` tuned for loading about ``expected_rows`` events through
        :meth:`add_event_batch` (may defer index maintenance to the end)."""
        ...

    def events_frame(
        self,
        types: Sequence[str] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        product_id: str | None = None,
        user_id: str | None = None,
    ) -> pd.DataFrame:
        """Events in storage form (columns :data:`EVENT_COLUMNS`), ``since <= ts < until``, by ts."""
        ...

    def iter_event_batches(self, batch_size: int = 100_000) -> Iterator[pd.DataFrame]:
        """Every event in ts order, in frames of at most ``batch_size`` rows (bounded memory)."""
        ...

    def count_events(self, types: Sequence[str] | None = None) -> int: ...

    # -- decision log --------------------------------------------------------------------------
    def log_decisions(self, records: Sequence[DecisionRecord]) -> int:
        """Append decisions; idempotent by ``decision_id``; returns the number newly inserted."""
        ...

    def decisions_frame(
        self,
        since: datetime | None = None,
        until: datetime | None = None,
        product_id: str | None = None,
        user_id: str | None = None,
    ) -> pd.DataFrame:
        """Decisions as a frame (``ts`` as UTC micros; explanation/context as dicts), by ts."""
        ...

    def get_decision(self, decision_id: str) -> DecisionRecord:
        """One logged decision, or :class:`NotFound`."""
        ...

    # -- price history -------------------------------------------------------------------------
    def record_price(self, product_id: str, ts: datetime, price: int) -> None:
        """The public base price of ``product_id`` from ``ts`` on (replaces an entry at ``ts``)."""
        ...

    def record_prices(self, rows: Sequence[tuple[str, datetime, int]], *,
                      keep_lowest: bool = False) -> int:
        """Many :meth:`record_price` ``(product_id, ts, price)`` in one statement and transaction,
        in order (a later row for the same product and ``ts`` wins; with ``keep_lowest`` the
        lowest of them and of an entry already stored at that ``ts`` is kept instead); all or none
        are written. Returns how many distinct (product, ts) entries were written."""
        ...

    def lowest_price(self, product_id: str, since: datetime, until: datetime) -> int | None:
        """Lowest price in force at any time in ``[since, until)`` (the one in force at
        ``since`` included), or None when no price was recorded by ``until``."""
        ...

    def lowest_prices(self, since: datetime, until: datetime) -> dict[str, int]:
        """:meth:`lowest_price` of every product with a recorded price, in one query."""
        ...
