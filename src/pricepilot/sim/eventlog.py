"""Columnar accumulation of simulated events, and their conversion to event structs.

The market writes every event as integer codes into numpy blocks (cheap at 10^6 events); the
history writer turns them into the shared file format, and online runs turn the recent ones into
:mod:`pricepilot.events.schemas` structs for ``PricingPolicy.observe``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np
import numpy.typing as npt

from pricepilot.clock import from_micros
from pricepilot.events.schemas import (
    AddToCart,
    Calendar,
    CompetitorPrice,
    Event,
    Inventory,
    Purchase,
    RemoveFromCart,
    View,
)

TYPES = ("view", "add_to_cart", "remove_from_cart", "purchase", "competitor_price", "inventory",
         "calendar")
VIEW, CART, REMOVE, PURCHASE, COMPETITOR, INVENTORY, CALENDAR = range(7)
# integer columns of a block; -1 means missing
INT_COLUMNS = ("seq", "type", "ts", "customer", "product", "session", "order", "quantity", "price",
               "competitor", "on_promotion", "stock", "day", "channel", "device")
I = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Lookups:
    """Strings the integer codes point into."""

    customer_ids: list[str]
    product_ids: list[str]
    competitors: list[str]
    channels: tuple[str, ...]
    devices: tuple[str, ...]
    days: list[date]
    holiday_names: list[str | None]
    currency: str


def session_id(n: int) -> str:
    return f"s{n:08d}"


def order_id(n: int) -> str:
    return f"o{n:08d}"


def event_id(n: int) -> str:
    return f"e{n:09d}"


@dataclass
class EventLog:
    """Append-only columnar event store; ``seq`` numbers events in creation order."""

    blocks: list[dict[str, I]] = field(default_factory=list)
    count: int = 0

    def add(self, type_code: int | I, ts: I, **cols: I | int) -> dict[str, I]:
        n = int(np.asarray(ts).size)
        block: dict[str, I] = {}
        for c in INT_COLUMNS:
            block[c] = np.full(n, -1, dtype=np.int64)
        block["seq"] = np.arange(self.count, self.count + n, dtype=np.int64)
        block["type"][:] = type_code
        block["ts"][:] = ts
        for k, v in cols.items():
            block[k][:] = v
        self.count += n
        if n:
            self.blocks.append(block)
        return block

    def columns(self) -> dict[str, I]:
        """All events, sorted by (ts, seq)."""
        if not self.blocks:
            return {c: np.zeros(0, np.int64) for c in INT_COLUMNS}
        cols = {c: np.concatenate([b[c] for b in self.blocks]) for c in INT_COLUMNS}
        order = np.lexsort((cols["seq"], cols["ts"]))
        return {c: v[order] for c, v in cols.items()}


def to_structs(block: dict[str, I], lk: Lookups) -> list[Event]:
    """Event structs of one (sorted) block, with ``user_id`` = the shop's customer id."""
    out: list[Event] = []
    cur = lk.currency
    for r in range(block["ts"].size):
        t = int(block["type"][r])
        eid = event_id(int(block["seq"][r]))
        ts = from_micros(int(block["ts"][r]))
        pid = lk.product_ids[int(block["product"][r])] if block["product"][r] >= 0 else ""
        cid = lk.customer_ids[int(block["customer"][r])] if block["customer"][r] >= 0 else ""
        sid = session_id(int(block["session"][r])) if block["session"][r] >= 0 else None
        if t == VIEW:
            ch, dv = int(block["channel"][r]), int(block["device"][r])
            out.append(View(event_id=eid, ts=ts, user_id=cid, product_id=pid,
                            price=int(block["price"][r]), currency=cur, session_id=sid,
                            channel=lk.channels[ch] if ch >= 0 else None,
                            device=lk.devices[dv] if dv >= 0 else None))
        elif t == CART:
            out.append(AddToCart(event_id=eid, ts=ts, user_id=cid, product_id=pid,
                                 price=int(block["price"][r]), currency=cur,
                                 quantity=int(block["quantity"][r]), session_id=sid))
        elif t == REMOVE:
            out.append(RemoveFromCart(event_id=eid, ts=ts, user_id=cid, product_id=pid,
                                      quantity=int(block["quantity"][r]), session_id=sid))
        elif t == PURCHASE:
            out.append(Purchase(event_id=eid, ts=ts, user_id=cid, product_id=pid,
                                order_id=order_id(int(block["order"][r])),
                                price=int(block["price"][r]), currency=cur,
                                quantity=int(block["quantity"][r]), session_id=sid))
        elif t == COMPETITOR:
            out.append(CompetitorPrice(event_id=eid, ts=ts, product_id=pid,
                                       competitor=lk.competitors[int(block["competitor"][r])],
                                       price=int(block["price"][r]), currency=cur,
                                       on_promotion=bool(block["on_promotion"][r] == 1)))
        elif t == INVENTORY:
            out.append(Inventory(event_id=eid, ts=ts, product_id=pid, stock=int(block["stock"][r])))
        else:
            d = int(block["day"][r])
            out.append(Calendar(event_id=eid, ts=ts, day=lk.days[d],
                                name=lk.holiday_names[d] or "holiday"))
    return out
