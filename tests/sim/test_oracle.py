from __future__ import annotations

import numpy as np
import pytest

from pricepilot.sim.baselines import (
    CompetitorMatchPolicy,
    CostPlusPolicy,
    ListPricePolicy,
    RandomPricePolicy,
    ThompsonPolicy,
)
from pricepilot.sim.config import SimConfig
from pricepilot.sim.market import Market
from pricepilot.sim.oracle import (
    PeriodOracle,
    PersonalisedOracle,
    optimal_period_prices,
    optimal_view_prices,
    oracle_report,
    truth_of_decisions,
)

CFG = SimConfig(days=5, shoppers=800, products=40, seed=21)


@pytest.fixture(scope="module")
def market() -> Market:
    return Market(CFG)


def policies(m: Market):
    ps = m.products()
    return {"list": ListPricePolicy(ps), "cost_plus": CostPlusPolicy(ps),
            "competitor_match": CompetitorMatchPolicy(ps), "random": RandomPricePolicy(ps, seed=1),
            "thompson": ThompsonPolicy(ps, seed=1)}


@pytest.mark.parametrize("name", ["list", "cost_plus", "competitor_match", "random", "thompson"])
def test_no_simple_policy_beats_the_oracles_on_its_own_views(market: Market, name: str) -> None:
    r = market.run(policies(market)[name])
    tb = truth_of_decisions(market, r.decisions)
    _, best = optimal_view_prices(tb, market)
    got = r.decisions["expected_profit"].to_numpy()
    # view by view, up to the search's resolution (well under a cent of price)
    assert np.all(best >= got - 1e-7 * np.maximum(1.0, np.abs(got)))
    rep = oracle_report(market, r)
    assert rep["personalised_oracle"].sum() >= rep["period_oracle"].sum() >= rep["policy"].sum()


def test_personalised_oracle_is_at_least_the_period_oracle_view_group_by_group(market: Market) -> None:
    r = market.run(ListPricePolicy(market.products()))
    tb = truth_of_decisions(market, r.decisions)
    _, pers = optimal_view_prices(tb, market)
    group = r.decisions["day"].to_numpy() * 1000 + r.decisions["product"].to_numpy()
    prices, per = optimal_period_prices(tb, market, group)
    assert np.all(pers >= per - 1e-9)
    # one price per product and day
    for g in np.unique(group)[:50]:
        assert np.unique(prices[group == g]).size == 1


def test_oracle_prices_are_whole_minor_units_at_or_above_cost(market: Market) -> None:
    r = market.run(ListPricePolicy(market.products()), days=1)
    tb = truth_of_decisions(market, r.decisions)
    prices, value = optimal_view_prices(tb, market)
    assert prices.dtype == np.int64
    assert np.all(prices >= np.floor(tb.cost)) and np.all(value >= 0)


def test_the_oracle_as_a_policy_out_earns_every_baseline_in_expected_profit(market: Market) -> None:
    oracle = market.run(PersonalisedOracle(market)).expected_profit
    period = market.run(PeriodOracle(market)).expected_profit
    assert oracle >= period
    for name, p in policies(market).items():
        assert oracle > market.run(p).expected_profit, name
