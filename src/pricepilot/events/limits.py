"""The declared bounds (:mod:`pricepilot.bounds`) checked on a batch of events in storage form.

This is the store's last check before it writes (:func:`pricepilot.events.columns.conform`): a
value outside the bounds refuses the whole batch with a :class:`ValidationError` naming the
event and the field, and nothing is stored, on SQLite and PostgreSQL alike (PostgreSQL would
refuse an over-long or NUL-holding text itself, with a driver error; SQLite would store it).
Column-wide Arrow expressions; Python runs only to name the first offending event.

>>> import pyarrow as pa
>>> t = pa.table({"event_id": ["e1", "e2"], "channel": ["web", "w\\x00b"]})
>>> check_event_bounds(t)
Traceback (most recent call last):
...
pricepilot.errors.ValidationError: event 'e2', field 'channel': must not contain control characters
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pricepilot import bounds as b
from pricepilot.errors import ValidationError

# Text columns of the event log and the kind of text each holds (``user_id`` is stored
# pseudonymous; the shop's customer id is an identifier on the wire).
TEXT_COLUMNS: dict[str, b.TextKind] = {
    "event_id": b.ID, "user_id": b.SHOPPER_ID, "product_id": b.ID, "session_id": b.ID,
    "order_id": b.ID, "quote_id": b.ID, "competitor": b.LABEL, "channel": b.LABEL,
    "device": b.LABEL, "region": b.LABEL, "name": b.NAME,
}
INT_COLUMNS: dict[str, tuple[int, int]] = {
    "price": (b.MONEY_MIN, b.MONEY_MAX),
    "quantity": (b.QUANTITY_MIN, b.QUANTITY_MAX),
    "stock": (b.STOCK_MIN, b.STOCK_MAX),
}


def _re2(pattern: str) -> str:
    """A :mod:`pricepilot.bounds` pattern in RE2's syntax (``\\x{...}`` for ``\\u....``)."""
    return re.sub(r"\\u([0-9a-fA-F]{4})", r"\\x{\1}", pattern)


def _mismatch(col: pa.ChunkedArray | pa.Array, kind: b.TextKind) -> np.ndarray:
    """Rows of ``col`` (non-null) that are not of ``kind``."""
    length = pc.utf8_length(col)
    bad = pc.or_(pc.less(length, kind.min_length), pc.greater(length, kind.max_length))
    bad = pc.or_(bad, pc.invert(pc.match_substring_regex(col, _re2(kind.pattern))))
    return np.asarray(pc.fill_null(bad, False).to_numpy(zero_copy_only=False), dtype=bool)


def _text_reason(col: pa.ChunkedArray, kind: b.TextKind, i: int) -> str:
    return kind.problem(col[i].as_py()) or "out of bounds"


def _range_reason(col: pa.ChunkedArray, low: int, high: int, i: int) -> str:
    return f"must be in [{low}, {high}], got {col[i].as_py()}"


@dataclass(frozen=True)
class Violation:
    """The rows of a batch with a value outside one column's bounds, and why (per row)."""

    mask: np.ndarray
    field: str
    reason: Callable[[int], str]


def bound_violations(batch: pa.Table) -> Iterator[Violation]:
    """Every column of ``batch`` (storage form, any subset of the event columns) with values
    outside their bounds: for file ingestion to reject those rows one by one."""
    names = set(batch.column_names)
    for name, kind in TEXT_COLUMNS.items():
        if name not in names or batch.column(name).null_count == batch.num_rows:
            continue
        col = batch.column(name)
        bad = _mismatch(col, kind)
        if bad.any():
            yield Violation(bad, name, partial(_text_reason, col, kind))
    for name, (low, high) in INT_COLUMNS.items():
        if name not in names or batch.column(name).null_count == batch.num_rows:
            continue
        col = batch.column(name)
        bad = np.asarray(pc.fill_null(pc.or_(pc.less(col, low), pc.greater(col, high)), False)
                         .to_numpy(zero_copy_only=False), dtype=bool)
        if bad.any():
            yield Violation(bad, name, partial(_range_reason, col, low, high))


def check_event_bounds(batch: pa.Table) -> None:
    """Raise :class:`ValidationError` for the first value of ``batch`` outside its bounds."""
    for v in bound_violations(batch):
        i = int(np.flatnonzero(v.mask)[0])
        eid = batch.column("event_id")[i].as_py() if "event_id" in batch.column_names else None
        raise ValidationError(f"event {eid!r}", v.field, v.reason(i))
