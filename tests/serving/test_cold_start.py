"""A new shop prices, explores and learns from its first view: before any model is trained the
day-0 prior curve (demand/prior.py) decides, Thompson sampling explores around the list price,
and every outcome teaches the posterior of that curve."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pricepilot
from pricepilot.catalog.models import Product
from pricepilot.clock import FixedClock
from pricepilot.demand.prior import PRIOR_VERSION

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=timezone.utc)


def _shop(root: Path, clock: FixedClock, **kw: object) -> pricepilot.Shop:
    return pricepilot.open(paths__data_dir=str(root), clock=clock, warm=False, **kw)


def _mug() -> Product:
    return Product(product_id="MUG", title="Mug", category="kitchen", list_price=1000,
                   unit_cost=500, currency="EUR")


def test_without_a_model_the_prior_curve_prices_and_explores_from_the_first_quote(tmp_path: Path) -> None:
    clock = FixedClock(T0)
    with _shop(tmp_path, clock) as shop:
        shop.upsert_products([_mug()])
        quotes = [shop.quote(f"c{i}", ["MUG"]).quotes[0] for i in range(60)]
    assert not any(q.fallback for q in quotes)
    assert {q.model_version for q in quotes} == {PRIOR_VERSION}
    prices = {q.price for q in quotes}
    assert len(prices) > 1, "Thompson sampling explores around the list price"
    assert all(q.propensity < 1.0 for q in quotes)
    # the list price is the prior's optimum: exploration stays around it, inside the guardrails
    assert min(prices) >= 500 and abs(sum(q.price for q in quotes) / len(quotes) - 1000) < 150


def test_outcomes_of_prior_priced_quotes_teach_its_posterior(tmp_path: Path) -> None:
    clock = FixedClock(T0)
    with _shop(tmp_path, clock) as shop:
        shop.upsert_products([_mug()])
        for i in range(30):
            q = shop.quote(f"c{i}", ["MUG"]).quotes[0]
            if i % 3 == 0:  # a third buy at the quoted price
                shop.record([{"type": "purchase", "event_id": f"p{i}", "ts": clock.now(),
                              "customer_id": f"c{i}", "order_id": f"o{i}", "product_id": "MUG", "price": q.price,
                              "currency": "EUR", "quantity": 1, "quote_id": q.quote_id}])
        clock.advance(timedelta(hours=2))  # every other quote has expired unbought
        outcomes = shop.app.learning.outcomes
        assert outcomes is not None
        outcomes.flush()
        posterior = shop.app.learning.pricing().engine.posterior
        assert posterior is not None and "MUG" in posterior.products_
        assert outcomes.bought == 10 and outcomes.not_bought == 20
        # a third bought where the prior expected 5%: the learnt level is far above the prior's
        assert posterior.products_["MUG"].mean[0] > 0.5


def test_the_list_price_cold_start_is_still_available(tmp_path: Path) -> None:
    with _shop(tmp_path, FixedClock(T0), pricing__cold_start="list_price") as shop:
        shop.upsert_products([_mug()])
        q = shop.quote("c1", ["MUG"])
    assert q.fallback and q.quotes[0].price == 1000


def test_a_new_products_traffic_is_measured_over_the_hours_it_was_seen(tmp_path: Path) -> None:
    """Six views in its first six hours is one an hour, not six a week: the inventory LP sees
    that stock of 5 for the 3 days to the season end is short and rations it."""
    clock = FixedClock(T0)
    with _shop(tmp_path, clock) as shop:
        shop.upsert_products([Product(product_id="SCARF", title="Scarf", category="fashion",
                                      list_price=3000, unit_cost=1200, currency="EUR", stock=5,
                                      season_end=T0 + timedelta(days=3))])
        for i in range(6):  # one view an hour, each recorded as it happens
            shop.record([{"type": "view", "event_id": f"v{i}", "ts": clock.now(),
                          "customer_id": f"c{i}", "product_id": "SCARF", "price": 3000,
                          "currency": "EUR"}])
            clock.advance(timedelta(hours=1))
        q = shop.quote("c9", ["SCARF"]).quotes[0]
    model_step = q.explanation[0]
    assert model_step.stage == "model" and "inventory LP" in model_step.note, model_step.note
