"""A simulated shop with known true demand: the ground truth pricepilot is measured against.

>>> from pricepilot.sim import Market, SimConfig, ListPricePolicy
>>> m = Market(SimConfig(days=2, shoppers=200, products=16, seed=1))
>>> bool(m.run(ListPricePolicy(m.products())).daily["views"].sum() > 0)
True
"""

from __future__ import annotations

from pricepilot.sim.baselines import (
    CompetitorMatchPolicy,
    CostPlusPolicy,
    ListPricePolicy,
    RandomPricePolicy,
    ThompsonPolicy,
)
from pricepilot.sim.config import SimConfig, validate_config
from pricepilot.sim.demand import (
    DemandContext,
    DemandParams,
    ProductTruth,
    ShopperTruth,
    true_purchase_probability,
)
from pricepilot.sim.history import HistoricalPolicy, generate_history
from pricepilot.sim.market import Market, RunResult, events_frame
from pricepilot.sim.oracle import (
    PeriodOracle,
    PersonalisedOracle,
    optimal_period_prices,
    optimal_view_prices,
    oracle_report,
)
from pricepilot.sim.policy import PricingPolicy, ViewBatch, ViewRequest

__all__ = [
    "CompetitorMatchPolicy", "CostPlusPolicy", "DemandContext", "DemandParams", "HistoricalPolicy",
    "ListPricePolicy", "Market", "PeriodOracle", "PersonalisedOracle", "PricingPolicy",
    "ProductTruth", "RandomPricePolicy", "RunResult", "ShopperTruth", "SimConfig", "ThompsonPolicy",
    "ViewBatch", "ViewRequest", "events_frame", "generate_history", "optimal_period_prices",
    "optimal_view_prices", "oracle_report", "true_purchase_probability", "validate_config",
]
