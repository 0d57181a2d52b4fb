from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
import pytest

from pricepilot.catalog.models import Product
from pricepilot.errors import ValidationError
from pricepilot.events.schemas import CompetitorPrice, Purchase, View
from pricepilot.sim.baselines import (
    CompetitorMatchPolicy,
    CostPlusPolicy,
    ListPricePolicy,
    RandomPricePolicy,
    ThompsonPolicy,
)
from pricepilot.sim.market import Market
from pricepilot.sim.policy import PricingPolicy, ViewRequest

T = datetime(2026, 9, 1, tzinfo=timezone.utc)
P = Product(product_id="p1", title="t", category="c", currency="EUR", unit_cost=600, list_price=1000)


def view() -> ViewRequest:
    return ViewRequest(customer_id="c00001", product_id="p1", ts=T, session_id="s1", currency="EUR")


def comp(price: int, name: str = "a") -> CompetitorPrice:
    return CompetitorPrice(event_id=f"x{price}{name}", ts=T, product_id="p1", competitor=name,
                           price=price, currency="EUR")


def test_every_baseline_is_a_pricing_policy() -> None:
    for p in (ListPricePolicy([P]), CostPlusPolicy([P]), CompetitorMatchPolicy([P]),
              RandomPricePolicy([P]), ThompsonPolicy([P])):
        assert isinstance(p, PricingPolicy)


def test_list_and_cost_plus_prices() -> None:
    assert ListPricePolicy([P]).price(view()) == 1000
    assert CostPlusPolicy([P], markup=0.25).price(view()) == 750


def test_competitor_match_beats_the_lowest_by_one_percent_but_never_goes_below_cost() -> None:
    pol = CompetitorMatchPolicy([P])
    assert pol.price(view()) == 1000  # nothing known yet
    pol.observe([comp(900, "a"), comp(800, "b")])
    assert pol.price(view()) == 792
    pol.observe([comp(500, "b")])
    assert pol.price(view()) == 600


def test_random_prices_stay_in_their_band() -> None:
    pol = RandomPricePolicy([P], low=0.8, high=1.2, seed=1)
    prices = [pol.price(view()) for _ in range(200)]
    assert 800 <= min(prices) and max(prices) <= 1200 and len(set(prices)) > 20


def test_thompson_learns_which_price_sells_from_observed_outcomes() -> None:
    pol = ThompsonPolicy([P], ladder=(0.9, 1.0, 1.1), seed=0)
    for k in range(400):
        price = pol.price(view())
        ev: list = [View(event_id=f"v{k}", ts=T, user_id="u", product_id="p1", price=price, currency="EUR")]
        if price == 1100 and k % 3 == 0:  # only the top price ever sells
            ev.append(Purchase(event_id=f"b{k}", ts=T, user_id="u", product_id="p1", order_id=f"o{k}",
                               price=price, currency="EUR"))
        pol.observe(ev)
    late = [pol.price(view()) for _ in range(100)]
    assert np.mean(np.array(late) == 1100) > 0.8


def test_thompson_drops_ladder_steps_below_cost() -> None:
    pol = ThompsonPolicy([P], ladder=(0.5, 1.0))
    assert pol.ladders["p1"].tolist() == [1000]


@pytest.mark.parametrize("make", [
    lambda: CostPlusPolicy([P], markup=-1.0),
    lambda: CompetitorMatchPolicy([P], undercut=1.0),
    lambda: RandomPricePolicy([P], low=1.2, high=1.0),
    lambda: ThompsonPolicy([P], ladder=()),
])
def test_bad_baseline_settings_are_refused(make) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationError):
        make()


def test_competitor_match_never_prices_below_cost_in_the_market(small_market: Market) -> None:
    r = small_market.run(CompetitorMatchPolicy(small_market.products()))
    cost = small_market.catalog.cost[r.decisions["product"].to_numpy()]
    assert (r.decisions["price"].to_numpy() >= cost).all()
