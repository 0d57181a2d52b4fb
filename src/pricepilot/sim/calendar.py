"""Calendar of the simulated shop: weekly seasonality and holidays.

Holidays raise arrivals (``SimConfig.holiday_arrival_boost``) and purchase intent
(:data:`HOLIDAY_INTENT` on the logit scale).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np
import numpy.typing as npt

# Monday .. Sunday multipliers of arrivals
WEEKDAY_ARRIVALS = (0.9, 0.92, 0.95, 1.0, 1.1, 1.25, 1.15)
# share of a day's sessions starting in each hour (UTC), evening peak
HOURLY_PROFILE = np.array([1, 0.6, 0.4, 0.3, 0.3, 0.5, 1, 2, 3, 3.5, 4, 4, 4.5, 4.5, 4, 4, 4.5,
                           5, 6, 7, 7.5, 6.5, 4, 2], dtype=np.float64)
HOURLY_PROFILE /= HOURLY_PROFILE.sum()
HOLIDAY_INTENT = 0.3


def _fourth_thursday_november(year: int) -> date:
    d = date(year, 11, 1)
    first_thu = d + timedelta(days=(3 - d.weekday()) % 7)
    return first_thu + timedelta(days=21)


def holidays_of_year(year: int) -> dict[date, str]:
    thanksgiving = _fourth_thursday_november(year)
    return {
        date(year, 1, 1): "New Year",
        date(year, 2, 14): "Valentine's Day",
        date(year, 5, 1): "Labour Day",
        date(year, 10, 31): "Halloween",
        date(year, 11, 11): "Singles Day",
        thanksgiving + timedelta(days=1): "Black Friday",
        thanksgiving + timedelta(days=4): "Cyber Monday",
        date(year, 12, 24): "Christmas Eve",
        date(year, 12, 26): "Boxing Day",
    }


@dataclass(frozen=True)
class SimCalendar:
    days: list[date]
    holiday: npt.NDArray[np.bool_]
    holiday_name: list[str | None]
    weekday_mult: npt.NDArray[np.float64]


def make_calendar(start: datetime, days: int) -> SimCalendar:
    ds = [start.date() + timedelta(days=i) for i in range(days)]
    known: dict[date, str] = {}
    for y in {d.year for d in ds}:
        known.update(holidays_of_year(y))
    names = [known.get(d) for d in ds]
    return SimCalendar(
        days=ds,
        holiday=np.array([n is not None for n in names], dtype=bool),
        holiday_name=names,
        weekday_mult=np.array([WEEKDAY_ARRIVALS[d.weekday()] for d in ds]),
    )
