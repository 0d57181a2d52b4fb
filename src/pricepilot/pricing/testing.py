"""Analytic demand models implementing :class:`pricepilot.demand.base.DemandModel`, for tests,
benchmarks and demos of the pricing engine (the real models live in :mod:`pricepilot.demand`).

>>> import numpy as np
>>> m = LogitDemand(a=1.0, b=4.0)
>>> m.predict_curve({}, np.array([900, 1000, 1100]), 1000).round(3).tolist()
[0.802, 0.731, 0.646]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt

F = npt.NDArray[np.float64]


class LogitDemand:
    """``P = sigmoid(a − b·(price/list − 1) + shift)``; ``shift`` from a feature (e.g. tier).

    ``shifts`` maps (feature, value) to an additive logit shift, so a shopper's features change
    their curve; missing features shift nothing.
    """

    def __init__(self, a: float = 0.0, b: float = 5.0, shifts: dict[tuple[str, object], float] | None = None,
                 version: str = "logit-test-1") -> None:
        self.a, self.b = a, b
        self.shifts = shifts or {}
        self._version = version

    @property
    def version(self) -> str:
        return self._version

    def _shift(self, features: Mapping[str, object]) -> float:
        return sum(v for (k, val), v in self.shifts.items() if features.get(k) == val)

    def predict_curve(self, features: Mapping[str, object], prices: npt.NDArray[np.int64],
                      list_price: int, competitor_price: int | None = None) -> F:
        z = self.a + self._shift(features) - self.b * (prices / list_price - 1.0)
        return np.asarray(1.0 / (1.0 + np.exp(-z)), dtype=np.float64)

    def predict_curves(self, features: Sequence[Mapping[str, object]],
                       prices: Sequence[npt.NDArray[np.int64]], list_prices: Sequence[int],
                       competitor_prices: Sequence[int | None]) -> list[F]:
        return [self.predict_curve(f, p, lp, c)
                for f, p, lp, c in zip(features, prices, list_prices, competitor_prices, strict=True)]


class TableDemand:
    """P(buy) looked up per exact price (a price menu such as benchmark B1); 0 elsewhere."""

    def __init__(self, table: Mapping[int, float], version: str = "table-test-1") -> None:
        self.table = dict(table)
        self._version = version

    @property
    def version(self) -> str:
        return self._version

    def predict_curve(self, features: Mapping[str, object], prices: npt.NDArray[np.int64],
                      list_price: int, competitor_price: int | None = None) -> F:
        return np.array([self.table.get(int(p), 0.0) for p in prices], dtype=np.float64)

    def predict_curves(self, features: Sequence[Mapping[str, object]],
                       prices: Sequence[npt.NDArray[np.int64]], list_prices: Sequence[int],
                       competitor_prices: Sequence[int | None]) -> list[F]:
        return [self.predict_curve(f, p, lp, c)
                for f, p, lp, c in zip(features, prices, list_prices, competitor_prices, strict=True)]
