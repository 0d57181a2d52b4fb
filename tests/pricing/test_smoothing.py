from __future__ import annotations

import numpy as np

from pricepilot.pricing.smoothing import smooth


def test_smoothing_moves_alpha_of_the_way_from_the_current_price() -> None:
    assert smooth(np.array([1200, 800]), 1000, 0.25).tolist() == [1050, 950]


def test_without_a_current_price_or_with_alpha_one_there_is_no_smoothing() -> None:
    assert smooth(np.array([1200]), None, 0.25).tolist() == [1200]
    assert smooth(np.array([1200]), 1000, 1.0).tolist() == [1200]


def test_on_steps_smoothing_rounds_away_from_the_current_price_but_never_past_the_proposal() -> None:
    # .99 endings: half of one step would snap back to today's price; it moves the whole step
    assert smooth(np.array([899, 1099, 1399]), 999, 0.5, ending=99, modulus=100).tolist() == [899, 1099, 1199]
    # a ladder: one rung moves all the way, several rungs part of the way (still whole rungs)
    ladder = (750, 870, 1000, 1130, 1250)
    got = smooth(np.array([750, 870, 1000, 1130, 1250]), 1000, 0.5, ladder=ladder).tolist()
    assert got == [870, 870, 1000, 1130, 1130]


def test_the_engine_moves_a_ladder_product_off_todays_price_under_the_default_limits() -> None:
    """Ferreira et al.'s 4-price menu (rungs 12.5% apart) under the default 10% daily limit and
    α = 0.5: the next rung is always reachable, so a model that wants it gets it."""
    from datetime import datetime, timezone

    from pricepilot.catalog.models import Guardrails, Product
    from pricepilot.clock import FixedClock
    from pricepilot.config import load_settings
    from pricepilot.pricing.engine import Context, PricingEngine
    from pricepilot.pricing.testing import LogitDemand

    settings = load_settings(None, env={}, overrides={"pricing.exploration": False})
    ladder = [2999, 3499, 3999, 4499]
    product = Product(product_id="P", title="menu", category="c", list_price=3999, unit_cost=1000,
                      currency="EUR", guardrails=Guardrails(ladder=ladder))
    engine = PricingEngine(settings, LogitDemand(a=-2.0, b=15.0), None,
                           clock=FixedClock(datetime(2026, 3, 2, tzinfo=timezone.utc)))
    for cur, want in ((3999, 3499), (3499, 2999)):  # a cheap-loving market: one rung down a day
        d = engine.decide(product, {}, None, Context(current_price=cur))
        assert d.price == want, d.explanation
    for cur, want in ((2999, 2999),):
        assert engine.decide(product, {}, None, Context(current_price=cur)).price == want
