from __future__ import annotations

import numpy as np

from pricepilot.catalog.models import Guardrails, Product
from pricepilot.pricing.candidates import candidates, grid_bounds, snap_to_ending


def _product(**g: object) -> Product:
    return Product(product_id="A", title="a", category="c", currency="EUR", unit_cost=500,
                   list_price=1000, guardrails=Guardrails(**g))  # type: ignore[arg-type]


def test_a_ladder_product_evaluates_exactly_its_ladder() -> None:
    p = _product(ladder=[2990, 3490, 3990, 4490])
    assert candidates(p, p.guardrails, 20).tolist() == [2990, 3490, 3990, 4490]


def test_the_grid_spans_floor_to_ceiling_with_grid_size_integer_prices() -> None:
    p = _product(floor=800, ceiling=1200)
    c = candidates(p, p.guardrails, 5)
    assert c.dtype == np.int64
    assert c.tolist() == [800, 900, 1000, 1100, 1200]


def test_without_floor_or_ceiling_the_grid_is_around_cost_and_list_price() -> None:
    p = _product()
    lo, hi = grid_bounds(p, p.guardrails)
    assert lo == 700 and hi == 1300
    cheap = Product(product_id="B", title="b", category="c", currency="EUR", unit_cost=900,
                    list_price=1000)
    assert grid_bounds(cheap, cheap.guardrails)[0] == 900  # never start below cost


def test_grid_prices_are_snapped_to_the_price_ending_and_stay_inside_the_bounds() -> None:
    p = _product(floor=800, ceiling=1250, price_ending=99)
    c = candidates(p, p.guardrails, 20)
    assert np.all(c % 100 == 99)
    assert c.min() >= 800 and c.max() <= 1250
    assert np.all(np.diff(c) > 0)


def test_snapping_goes_to_the_nearest_ending_and_ties_go_up() -> None:
    assert snap_to_ending(np.array([1040, 1048, 1049, 1051]), 99, 100).tolist() == [999, 999, 1099, 1099]
    assert snap_to_ending(np.array([10]), 0, 100).tolist() == [100]  # never zero
