"""Scheduled retraining on a fake clock, through a shop opened with the public API."""

from __future__ import annotations

import logging
import random
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

import pricepilot
from pricepilot.catalog.models import Product
from pricepilot.clock import FixedClock
from pricepilot.config import load_settings
from pricepilot.serving.api import Shop
from pricepilot.serving.retraining import COLD_RETRY, Retraining

T0 = datetime(2026, 3, 2, 0, tzinfo=timezone.utc)
PRODUCTS = [Product(product_id=f"P{i}", title="x", category="kitchen", currency="EUR",
                    unit_cost=400, list_price=1000) for i in range(4)]


def day_of_events(day: int, n_views: int, *, priced: bool, seed: int) -> list[dict[str, Any]]:
    """A day of views at prices 700-1300 and their purchases: with ``priced``, purchases fall
    steeply with the price; without, they ignore it (labels a model can only memorise)."""
    rng = random.Random(seed)
    out: list[dict[str, Any]] = []
    for k in range(n_views):
        at = T0 + timedelta(days=day, seconds=86_400 * k / n_views)
        pid, price, user = f"P{rng.randrange(4)}", rng.choice(range(700, 1301, 100)), f"c{day}-{k}"
        out.append({"type": "view", "event_id": f"v{day}-{k}", "ts": at.isoformat(),
                    "customer_id": user, "product_id": pid, "price": price, "currency": "EUR"})
        p = 0.6 * (700 / price) ** 6 if priced else 0.2
        if rng.random() < p:
            out.append({"type": "purchase", "event_id": f"b{day}-{k}", "order_id": f"o{day}-{k}",
                        "ts": (at + timedelta(minutes=1)).isoformat(), "customer_id": user,
                        "product_id": pid, "price": price, "currency": "EUR"})
    return out


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0 + timedelta(days=1))


@pytest.fixture
def shop(tmp_path: Path, clock: FixedClock) -> Iterator[Shop]:
    with pricepilot.open(paths__data_dir=str(tmp_path), clock=clock) as shop:
        shop.upsert_products(PRODUCTS)
        yield shop


def retraining(shop: Shop, clock: FixedClock, **settings: Any) -> Retraining:
    s = shop.settings
    if settings:
        s = load_settings(None, env={}, overrides={"paths.data_dir": str(s.data_dir),
                                                   **settings})
    return Retraining(s, shop.app.store, shop.app.registry, clock,
                      reload=shop.app.learning.reload, before_read=shop.app.decisions.flush)


def test_retraining_is_off_at_zero_hours(shop: Shop, clock: FixedClock) -> None:
    r = retraining(shop, clock, **{"training.retrain_every_hours": 0})
    assert r.next_due() is None and not r.due() and r.run_if_due() is None


def test_a_retrain_is_due_every_period_after_the_newest_version(
        shop: Shop, clock: FixedClock) -> None:
    shop.record(day_of_events(0, 600, priced=True, seed=1))
    r = retraining(shop, clock)
    assert r.due()  # nothing registered yet
    first = r.run_if_due()
    assert first is not None and first.promoted and first.version is not None
    assert shop.app.learning.models.current().version == first.version  # reloaded
    assert shop.quote("c1", ["P0"]).fallback is False
    assert r.next_due() == clock.now() + timedelta(hours=24)
    clock.advance(timedelta(hours=23))
    assert not r.due() and r.run_if_due() is None
    clock.advance(timedelta(hours=1))
    assert r.due()
    # a version trained by hand counts as the newest: the schedule restarts from it
    shop.train(promote=False)
    assert not r.due() and r.next_due() == clock.now() + timedelta(hours=24)


def test_a_retrained_model_that_beats_the_current_one_is_promoted_with_its_reason(
        shop: Shop, clock: FixedClock, caplog: pytest.LogCaptureFixture) -> None:
    shop.record(day_of_events(0, 600, priced=False, seed=2))  # the first model learns noise
    r = retraining(shop, clock)
    first = r.run_if_due()
    assert first is not None and first.version is not None
    if not first.promoted:  # refused as chance by the promotion rule: promoted by hand
        shop.app.registry.promote(first.version)
    clock.advance(timedelta(hours=24))
    shop.record(day_of_events(1, 1_500, priced=True, seed=3))
    with caplog.at_level(logging.INFO, logger="pricepilot.serving.retraining"):
        second = r.run_if_due()
    assert second is not None and second.promoted, second
    assert "log loss" in second.reason and first.version in second.reason
    assert shop.app.registry.current_version() == second.version
    assert shop.app.learning.models.current().version == second.version
    manifest = shop.app.registry.manifest(second.version or "")
    assert any("promoted:" in n for n in manifest.training_notes)  # recorded in the registry
    assert "scheduled retrain" in caplog.text


def test_a_retrained_model_with_nothing_new_to_show_is_registered_but_not_promoted(
        shop: Shop, clock: FixedClock, caplog: pytest.LogCaptureFixture) -> None:
    shop.record(day_of_events(0, 600, priced=True, seed=4))
    r = retraining(shop, clock)
    first = r.run_if_due()
    assert first is not None and first.promoted
    clock.advance(timedelta(hours=24))  # no views since: nothing to judge a new model on
    with caplog.at_level(logging.WARNING, logger="pricepilot.serving.retraining"):
        second = r.run_if_due()
    assert second is not None and not second.promoted and second.version is not None
    assert "no views newer" in second.reason and "not promoted" in caplog.text
    assert shop.app.registry.current_version() == first.version
    manifest = shop.app.registry.manifest(second.version)
    assert not manifest.promotable and "no views newer" in (manifest.promotion_note or "")


def test_a_failed_attempt_on_a_fresh_shop_is_retried_soon_and_logged(
        shop: Shop, clock: FixedClock, caplog: pytest.LogCaptureFixture) -> None:
    r = retraining(shop, clock)
    with caplog.at_level(logging.WARNING, logger="pricepilot.serving.retraining"):
        failed = r.run_if_due()
    assert failed is not None and failed.version is None and not failed.promoted
    assert "no events" in failed.reason and "scheduled retrain failed" in caplog.text
    assert r.next_due() == clock.now() + COLD_RETRY
    shop.record(day_of_events(0, 400, priced=True, seed=5))
    clock.advance(COLD_RETRY)
    again = r.run_if_due()
    assert again is not None and again.promoted  # the first model, from a thin history


def test_the_shop_retrains_when_its_clock_says_so_and_never_behind_a_simulation(
        shop: Shop, clock: FixedClock) -> None:
    # no background retrain thread behind the API: a simulation stays repeatable
    assert shop.app._retrain is None
    shop.record(day_of_events(0, 600, priced=True, seed=6))
    first = shop.retrain_if_due()
    assert first is not None and first.promoted and first.version is not None
    assert shop.retrain_if_due() is None  # not due again for 24 hours
    again = shop.retrain_if_due(at=clock.now() + timedelta(hours=24))
    assert again is not None and again.version not in (None, first.version)


def test_the_served_application_retrains_in_the_background(tmp_path: Path) -> None:
    from pricepilot.config import load_settings as load
    from pricepilot.serving.application import build_application

    app = build_application(load(None, env={}, overrides={"paths.data_dir": str(tmp_path)}),
                            warm=False)
    try:
        assert app._retrain is not None
    finally:
        app.close()
    off = build_application(load(None, env={}, overrides={"paths.data_dir": str(tmp_path),
                                                          "training.retrain_every_hours": 0}),
                            warm=False)
    try:
        assert off._retrain is None
    finally:
        off.close()
