"""The simulated shop prices through the public API: a storefront's loop, and the service's
decisions for the same inputs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import msgspec
import pytest
from starlette.testclient import TestClient

import pricepilot
from pricepilot.clock import FixedClock, to_micros
from pricepilot.experiments.shop_policy import ShopApiPolicy
from pricepilot.experiments.simulated_shop import PreparedShop, prepare_shop, shop_settings
from pricepilot.service.app import create_app
from pricepilot.service.auth import hash_key
from pricepilot.service.engine_backend import EngineBackend
from pricepilot.serving.warmup import warm_online_features
from pricepilot.sim import Market, SimConfig
from pricepilot.sim.policy import ViewRequest
from pricepilot.store import open_store

KEY = "pp_test-shop-policy-key"
# exploration off: equal inputs give equal prices whichever process decides
SETTINGS: dict[str, Any] = {"pricing.exploration": False,
                            "service.api_keys": {hash_key(KEY): ["storefront"]}}
CFG = SimConfig(seed=4, days=14, shoppers=150, products=12)
RUN_DAYS = 2


@dataclass
class RanShop:
    root: Path
    prepared: PreparedShop
    market: Market
    decisions: int
    learnt: int


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> RanShop:
    """A small simulated shop: history ingested, model trained, posterior warmed, then two
    days priced by the policy; the shop closed (its state in the store and the files)."""
    root = tmp_path_factory.mktemp("shop")
    prepared = prepare_shop(CFG, root, holdout_days=3, overrides=SETTINGS)
    market = Market(CFG)
    policy = ShopApiPolicy(prepared.shop, prepared.clock)
    with prepared.shop as shop:
        market.run(policy, days=RUN_DAYS, start=prepared.end, seed=9)
        assert shop.app.learning.outcomes is not None
        shop.app.learning.outcomes.flush()
        learnt = shop.app.learning.outcomes.bought + shop.app.learning.outcomes.not_bought
    return RanShop(root, prepared, market, policy.decisions, learnt)


def test_every_priced_view_reaches_the_shop_naming_its_quote(ran: RanShop) -> None:
    store = open_store(f"sqlite:///{ran.root / 'pricepilot.sqlite'}")
    try:
        views = store.events_frame(types=["view"])
        quotes = store.decisions_frame()
    finally:
        store.close()
    run_views = views[views["event_id"].str.startswith("run-")]
    assert len(run_views) == ran.decisions > 50
    assert run_views["quote_id"].notna().all()
    assert set(run_views["quote_id"]) <= set(quotes["decision_id"])
    assert not quotes[quotes["decision_id"].isin(run_views["quote_id"])]["fallback"].any()
    # live outcome learning paired the quotes with what the shoppers did
    assert ran.learnt > 0


def _views(ran: RanShop, consenting: set[str]) -> list[ViewRequest]:
    """Views the morning after the run: three shoppers who consented to personal prices and
    two who did not (``consenting``: the shop's customer ids), of different products."""
    ids = ran.market.shoppers.customer_ids
    yes = [i for i in range(len(ids)) if ids[i] in consenting][:3]
    no = [i for i in range(len(ids)) if ids[i] not in consenting][:2]
    at = to_micros(ran.prepared.end + timedelta(days=RUN_DAYS, hours=10))
    return [ran.market.view_request(shopper, 2 * k, at, session=10_000 + shopper, channel=0,
                                    device=1)
            for k, shopper in enumerate(yes + no)]


def _decision(q: dict[str, Any]) -> tuple[Any, ...]:
    return (q["product_id"], q["price"], q["binding_rule"], q["propensity"], q["personalised"],
            [(st["stage"], st["price"], st["note"]) for st in q["explanation"]])


def test_a_view_priced_by_the_simulated_shop_gets_the_services_decision(ran: RanShop) -> None:
    settings = shop_settings(ran.root, SETTINGS)
    with pricepilot.open(settings, clock=FixedClock(ran.prepared.end)) as shop:
        agreed = set(shop.app.store.shoppers_frame().query("personalisation_consent")["user_id"])
        consenting = {c for c in ran.prepared.customer_ids if shop.app.pseudonymise(c) in agreed}
    views = _views(ran, consenting)
    at = views[0].ts
    clock = FixedClock(at)
    with pricepilot.open(settings, clock=clock, seed=CFG.seed) as shop:
        policy = ShopApiPolicy(shop, clock)
        ours = [msgspec.to_builtins(policy.quote_view(v)) for v in views]
        backend = EngineBackend(settings, clock=FixedClock(at), seed=CFG.seed)
        warm_online_features(backend.app.store, backend.app.features, settings.online.type)
        served = []
        with TestClient(create_app(settings, backend)) as client:
            for v in views:
                r = client.post("/v1/quotes", headers={"Authorization": f"Bearer {KEY}"},
                                json={"product_ids": [v.product_id], "customer_id": v.customer_id,
                                      "session_id": policy.ids.session(v.session_id),
                                      "channel": v.channel, "device": v.device})
                assert r.status_code == 200, r.text
                served.append(r.json()["quotes"][0])
        # both decided from the run's state: the posterior it learnt (warm start and live
        # outcomes) and today's public prices where the run left them
        posterior = backend.app.learning.pricing().engine.posterior
        assert posterior is not None and len(posterior.products_) > 0
        moved = [q["product_id"] for q in ours if backend.app.base_prices.current(
            q["product_id"], at, list_price=q["list_price"]) != q["list_price"]]
        backend.close()
    assert not any(q["fallback"] for q in ours + served)
    assert any(q["personalised"] for q in ours)
    assert moved
    assert [_decision(q) for q in ours] == [_decision(q) for q in served]
