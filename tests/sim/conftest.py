from __future__ import annotations

import pytest

from pricepilot.sim.config import SimConfig
from pricepilot.sim.market import Market

SMALL = SimConfig(days=6, shoppers=600, products=40, seed=11)


@pytest.fixture(scope="session")
def small_market() -> Market:
    return Market(SMALL)
