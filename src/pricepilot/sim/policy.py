"""The protocol between the simulated shop and any pricing policy.

A policy sees only what a real shop knows when a product page is rendered (:class:`ViewRequest`)
and the events a shop would emit afterwards (``observe``). Policies that can price many views at
once may also implement ``price_batch(batch: ViewBatch) -> array`` (used when present; it must
agree with ``price``).

>>> class ListPrice:
...     def __init__(self, prices): self.prices = prices
...     def price(self, view): return self.prices[view.product_id]
...     def observe(self, events): pass
>>> isinstance(ListPrice({}), PricingPolicy)
True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable

import msgspec
import numpy as np
import numpy.typing as npt

from pricepilot.events.schemas import Event


class ViewRequest(msgspec.Struct, frozen=True, kw_only=True):
    """What the shop knows when it must show a price."""

    customer_id: str  # the shop's customer id (pseudonymise before storing it)
    product_id: str
    ts: datetime
    session_id: str
    currency: str
    channel: str | None = None
    device: str | None = None
    tier: str | None = None
    region: str | None = None


@runtime_checkable
class PricingPolicy(Protocol):
    def price(self, view: ViewRequest) -> int:
        """The price to show, integer minor units of ``view.currency``."""
        ...

    def observe(self, events: Sequence[Event]) -> None:
        """Events the shop emitted since the last call, in time order."""
        ...


@dataclass(frozen=True)
class ViewBatch:
    """Many views at once, columnar; the same public information as :class:`ViewRequest`."""

    product_index: npt.NDArray[np.int64]  # index into product_ids
    customer_index: npt.NDArray[np.int64]  # index into customer_ids
    ts: npt.NDArray[np.int64]  # micros since the epoch
    day: int  # day number of the run
    product_ids: Sequence[str]
    customer_ids: Sequence[str]
    # per view, as in ViewRequest (None when the driver does not know them)
    session_ids: Sequence[str] | None = None
    channels: Sequence[str | None] | None = None
    devices: Sequence[str | None] | None = None
