"""Plausibility of event values: one rule set for file ingestion and ``POST /v1/events``.

Validation (:mod:`pricepilot.events.validate`) refuses what cannot be stored (a missing field, a
negative price, an unknown product); these rules refuse what can be stored but cannot be true:
a view at price 0 or 2^62, a price 1,000 times the product's list price, a timestamp in 1970 or
next year, a line of a billion units. Each rule is a column-wide mask; the reason names the
value, the rule and its bound, e.g. ``price 0 below the minimum 1 minor unit``. The bounds are
``settings.ingest.plausibility`` (see ``docs/ingestion.md``) and the clock's now.

>>> import pyarrow as pa
>>> from pricepilot.config import PlausibilitySettings
>>> rules = Rules.from_settings(PlausibilitySettings(), now_us=1_800_000_000_000_000,
...                             tolerance_us=300_000_000)
>>> table = pa.table({"type": ["view", "view"], "ts": [1_799_000_000_000_000] * 2,
...                   "product_id": ["SKU-1", "SKU-1"], "price": [0, 999],
...                   "currency": ["EUR", "EUR"], "quantity": pa.nulls(2, pa.int64())})
>>> [(v.field, v.reason(0)) for v in violations(table, rules, ListPrices({})) if v.mask[0]]
[('price', 'price 0 below the minimum 1 minor unit')]
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import timezone
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pricepilot.clock import from_micros

if TYPE_CHECKING:
    from pricepilot.config import PlausibilitySettings

_DAY_US = 86_400 * 1_000_000


def _np_bool(mask: pa.Array | pa.ChunkedArray) -> np.ndarray:
    return np.asarray(pc.fill_null(mask, False).to_numpy(zero_copy_only=False), dtype=bool)


def _np_int(col: pa.Array | pa.ChunkedArray) -> np.ndarray:
    return np.asarray(pc.fill_null(col, 0).to_numpy(zero_copy_only=False), dtype=np.int64)


def iso(micros: int) -> str:
    """UTC microseconds as ISO 8601 (``2026-03-02T12:00:00Z``; fractions only when present)."""
    try:
        dt = from_micros(int(micros))
    except (OverflowError, ValueError):  # beyond year 9999: say so instead of failing
        return f"{int(micros)} µs since 1970"
    text = dt.astimezone(timezone.utc).replace(tzinfo=None).isoformat()
    return text + "Z"


def duration(seconds: float) -> str:
    """A span as days, hours, minutes and seconds (``3 d 4 h``; the two largest units)."""
    s = int(round(abs(seconds)))
    parts = [(s // 86_400, "d"), (s % 86_400 // 3600, "h"), (s % 3600 // 60, "min"), (s % 60, "s")]
    shown = [f"{n} {u}" for n, u in parts if n][:2]
    return " ".join(shown) or "0 s"


@dataclass(frozen=True)
class Rules:
    """The bounds of one ingestion call (or one live request): settings plus the clock's now."""

    min_price: int
    max_price: int
    min_list_factor: float
    max_list_factor: float
    earliest_us: int
    max_age_days: int
    now_us: int
    tolerance_us: int
    max_quantity: int

    @classmethod
    def from_settings(cls, s: PlausibilitySettings, *, now_us: int, tolerance_us: int) -> Rules:
        return cls(min_price=s.min_price, max_price=s.max_price,
                   min_list_factor=s.min_list_price_factor,
                   max_list_factor=s.max_list_price_factor,
                   earliest_us=now_us - s.max_age_days * _DAY_US, max_age_days=s.max_age_days,
                   now_us=now_us, tolerance_us=tolerance_us, max_quantity=s.max_quantity)


class ListPrices:
    """Each known product's list price and currency, as Arrow arrays for vectorised lookups."""

    def __init__(self, prices: Mapping[str, tuple[int, str]]) -> None:
        ids = sorted(prices)
        self.ids = pa.array(ids, pa.string())
        self.price = np.asarray([prices[p][0] for p in ids], dtype=np.int64)
        self.currency = pa.array([prices[p][1] for p in ids], pa.string())

    def lookup(self, product: pa.Array | pa.ChunkedArray,
               currency: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
        """(list price per row, mask of rows whose product is known and priced in its currency)."""
        idx = pc.index_in(product, value_set=self.ids)
        known = _np_bool(pc.is_valid(idx))
        pos = _np_int(idx)
        if not len(self.price):
            return np.zeros(len(known), dtype=np.int64), np.zeros(len(known), dtype=bool)
        same = _np_bool(pc.equal(currency, pc.take(self.currency, pc.fill_null(idx, 0))))
        return self.price[pos], known & same


@dataclass(frozen=True)
class Violation:
    mask: np.ndarray
    field: str
    reason: Callable[[int], str]


def violations(table: pa.Table, rules: Rules, list_prices: ListPrices) -> Iterator[Violation]:
    """Rows of a storage-form ``table`` breaking a rule, rule by rule (a row may break several;
    the caller keeps the first)."""
    ts = _np_int(table.column("ts"))

    def too_old(i: int) -> str:
        return (f"ts {iso(ts[i])} is before the earliest accepted {iso(rules.earliest_us)} "
                f"({rules.max_age_days} days before now, {iso(rules.now_us)})")

    def too_new(i: int) -> str:
        ahead = (ts[i] - rules.now_us) / 1e6
        return (f"ts {iso(ts[i])} is {duration(ahead)} in the future (now {iso(rules.now_us)}, "
                f"tolerance {duration(rules.tolerance_us / 1e6)})")

    yield Violation(ts < rules.earliest_us, "ts", too_old)
    yield Violation(ts > rules.now_us + rules.tolerance_us, "ts", too_new)

    price_col = table.column("price")
    priced = _np_bool(pc.is_valid(price_col))
    price = _np_int(price_col)
    yield Violation(priced & (price < rules.min_price), "price",
                    lambda i: f"price {price[i]} below the minimum {rules.min_price} minor unit"
                              + ("" if rules.min_price == 1 else "s"))
    yield Violation(priced & (price > rules.max_price), "price",
                    lambda i: f"price {price[i]} above the maximum {rules.max_price} minor units")
    lp, comparable = list_prices.lookup(table.column("product_id"), table.column("currency"))
    comparable &= priced & (lp > 0) & (price > 0)  # 0 is min_price's to judge (free items)
    lpf = lp.astype(np.float64)
    pid = table.column("product_id")

    def against_list(word: str, factor: float) -> Callable[[int], str]:
        def reason(i: int) -> str:
            return (f"price {price[i]} {word} {factor:g}x the list price {lp[i]} of product "
                    f"{pid[i].as_py()!r} (allowed {rules.min_list_factor:g}x to "
                    f"{rules.max_list_factor:g}x)")
        return reason

    yield Violation(comparable & (price < rules.min_list_factor * lpf), "price",
                    against_list("below", rules.min_list_factor))
    yield Violation(comparable & (price > rules.max_list_factor * lpf), "price",
                    against_list("above", rules.max_list_factor))

    qty_col = table.column("quantity")
    qty = _np_int(qty_col)
    yield Violation(_np_bool(pc.is_valid(qty_col)) & (qty > rules.max_quantity), "quantity",
                    lambda i: f"quantity {qty[i]} above the maximum {rules.max_quantity}")


__all__ = ["ListPrices", "Rules", "Violation", "duration", "iso", "violations"]

