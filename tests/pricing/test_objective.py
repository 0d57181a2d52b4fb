from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from pricepilot.pricing.objective import margin_weights, stock_capacity

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def test_profit_revenue_and_mix_weights() -> None:
    p = np.array([1000, 1500])
    assert margin_weights(p, 800, "profit", 0.0).tolist() == [200.0, 700.0]
    assert margin_weights(p, 800, "revenue", 0.0).tolist() == [1000.0, 1500.0]
    assert margin_weights(p, 800, "mix", 0.25).tolist() == [400.0, 900.0]


def test_stock_capacity_is_stock_per_remaining_arrival() -> None:
    assert stock_capacity(10, T0 + timedelta(hours=50), T0, 2.0) == pytest.approx(0.1)


def test_stock_without_a_season_to_come_is_planned_over_the_horizon() -> None:
    assert stock_capacity(10, None, T0, 2.0, horizon_hours=50.0) == pytest.approx(0.1)
    past = T0 - timedelta(hours=1)
    assert stock_capacity(10, past, T0, 2.0, horizon_hours=50.0) == pytest.approx(0.1)
    # a season end still to come wins over the horizon
    assert stock_capacity(9, T0 + timedelta(hours=5), T0, 2.0, horizon_hours=50.0) == pytest.approx(0.9)
    # a unit or more per expected shopper cannot bind (nobody buys two): no constraint
    assert stock_capacity(10, T0 + timedelta(hours=5), T0, 2.0, horizon_hours=50.0) is None
    assert stock_capacity(10, None, T0, 2.0, horizon_hours=0.0) is None


@pytest.mark.parametrize("stock,end,rate", [
    (None, T0 + timedelta(days=1), 1.0),  # not stock-limited
    (10, None, 1.0),  # no season end
    (10, T0 + timedelta(days=1), None),  # arrival rate unknown
    (10, T0 + timedelta(days=1), 0.0),
    (10, T0 + timedelta(days=1), float("nan")),
    (10, T0 - timedelta(hours=1), 1.0),  # season over
])
def test_no_capacity_constraint_when_stock_is_not_the_binding_resource(
    stock: int | None, end: datetime | None, rate: float | None,
) -> None:
    assert stock_capacity(stock, end, T0, rate) is None
