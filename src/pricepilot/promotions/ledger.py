"""The redemption ledger: budgets and usage limits consumed atomically at order confirmation.

Backends (SQL in :mod:`ledger_sql`, Redis in :mod:`ledger_redis`) share this interface and the
counter keys below; one conformance suite runs against all of them.

- ``redeem(order_id, redemptions)``: all of an order's promotions are consumed together or not
  at all (:class:`~pricepilot.errors.Conflict` naming the limit); a replayed ``order_id``
  consumes nothing again and returns the first result.
- ``release(order_id)``: gives back what the order consumed (cancellation, refund); idempotent.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol

import msgspec

from pricepilot.money import parse_amount
from pricepilot.promotions.cart import Usage
from pricepilot.promotions.model import CouponCode, Promotion
from pricepilot.promotions.validation import normalise_code


class Redemption(msgspec.Struct, kw_only=True, frozen=True):
    promotion_id: str
    amount: int  # minor units given away by this promotion on this order
    customer_id: str | None = None
    coupon_code: str | None = None


class RedeemResult(msgspec.Struct, kw_only=True):
    order_id: str
    status: str  # redeemed | replayed | released
    promotion_ids: list[str]


class CounterStep(msgspec.Struct, frozen=True):
    key: str
    uses: int
    spend: int
    max_uses: int | None
    max_spend: int | None
    promotion_id: str
    what: str  # names the limit in errors


class RedemptionLedger(Protocol):
    def configure(self, promotions: Iterable[Promotion]) -> None: ...
    def redeem(self, order_id: str, redemptions: Sequence[Redemption]) -> RedeemResult: ...
    def release(self, order_id: str) -> bool: ...
    def usage(self, customer_id: str | None = None) -> Usage: ...
    def erase_customer(self, customer_id: str) -> dict[str, int]:
        """Forget the customer (erasure): afterwards no key, field or value of the ledger
        carries ``customer_id``. Returns ``{"ledger_orders": orders unlinked,
        "ledger_counters": per-customer counters deleted}``."""
        ...


class LimitBook:
    """Limits per promotion and coupon, from the definitions, as counter steps for an order."""

    def __init__(self) -> None:
        self.promotions: dict[str, Promotion] = {}

    def configure(self, promotions: Iterable[Promotion]) -> None:
        self.promotions = {p.id: p for p in promotions}

    def _coupon(self, pid: str) -> CouponCode | None:
        p = self.promotions.get(pid)
        if p is None:
            return None
        return next((c for c in p.conditions if isinstance(c, CouponCode)), None)

    def steps(self, r: Redemption) -> list[CounterStep]:
        if r.amount < 0:
            raise ValueError("a redemption amount must not be negative")
        p = self.promotions.get(r.promotion_id)
        lim = p.limits if p is not None else None
        budget = parse_amount(lim.budget, p.currency) if p is not None and lim and lim.budget else None
        pid = r.promotion_id
        out = [CounterStep(f"p:{pid}", 1, r.amount, lim.max_redemptions if lim else None, budget, pid,
                           "redemption limit or budget")]
        if r.customer_id is not None:
            out.append(CounterStep(f"pc:{pid}:{r.customer_id}", 1, 0,
                                   lim.max_redemptions_per_customer if lim else None, None, pid,
                                   "per-customer limit"))
        if r.coupon_code is not None:
            code = normalise_code(r.coupon_code)
            cc = self._coupon(pid)
            out.append(CounterStep(f"c:{code}", 1, 0, cc.max_uses if cc else None, None, pid, "coupon usage limit"))
            if r.customer_id is not None:
                out.append(CounterStep(f"cc:{code}:{r.customer_id}", 1, 0,
                                       cc.max_uses_per_customer if cc else None, None, pid,
                                       "coupon per-customer limit"))
        return out


def usage_from_counters(counters: dict[str, tuple[int, int]], customer_id: str | None) -> Usage:
    u = Usage()
    for key, (used, spent) in counters.items():
        kind, _, rest = key.partition(":")
        if kind == "p":
            u.redemptions[rest] = used
            u.spent[rest] = spent
        elif kind == "c":
            u.coupon_uses[rest] = used
        elif kind in ("pc", "cc") and customer_id is not None:
            head, _, cust = rest.rpartition(":")
            if cust == customer_id:
                (u.customer_redemptions if kind == "pc" else u.customer_coupon_uses)[head] = used
    return u
