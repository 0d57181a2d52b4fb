"""Small helpers shared by the SQL store's parts: checked microsecond timestamps and the
time-window filter of the event and decision reads."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pricepilot.clock import to_micros
from pricepilot.errors import ValidationError


def micros(ts: datetime, field: str, entity: str = "store") -> int:
    """``ts`` as epoch microseconds; a naive or out-of-range time is a ValidationError naming
    ``entity`` and ``field``."""
    try:
        return to_micros(ts)
    except ValueError as e:
        raise ValidationError(entity, field, str(e)) from e


def window_filter(q: Any, c: Any, since: datetime | None, until: datetime | None,
                  product_id: str | None, user_id: str | None) -> Any:
    """``q`` narrowed to ``since <= ts < until`` and, when given, one product and one shopper."""
    if since is not None:
        q = q.where(c.ts >= micros(since, "since"))
    if until is not None:
        q = q.where(c.ts < micros(until, "until"))
    if product_id is not None:
        q = q.where(c.product_id == product_id)
    if user_id is not None:
        q = q.where(c.user_id == user_id)
    return q
