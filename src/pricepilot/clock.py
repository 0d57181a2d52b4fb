"""Injectable time, so that every time-dependent decision can be replayed and tested.

>>> from datetime import datetime, timezone
>>> c = FixedClock(datetime(2026, 1, 1, tzinfo=timezone.utc))
>>> c.now().year
2026
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware (UTC)."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(timezone.utc)


class FixedClock:
    """A clock that only moves when told to (tests, simulation, replay)."""

    def __init__(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("FixedClock needs a timezone-aware datetime")
        self._at = at

    def now(self) -> datetime:
        return self._at

    def set(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("FixedClock needs a timezone-aware datetime")
        self._at = at

    def advance(self, delta: timedelta) -> None:
        self._at = self._at + delta


EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def to_micros(ts: datetime) -> int:
    """A timezone-aware datetime as integer microseconds since the Unix epoch (storage form)."""
    if ts.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware")
    d = ts - EPOCH
    return (d.days * 86_400 + d.seconds) * 1_000_000 + d.microseconds


def from_micros(us: int) -> datetime:
    return EPOCH + timedelta(microseconds=us)
