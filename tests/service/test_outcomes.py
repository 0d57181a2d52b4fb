"""Live outcome attribution: quotes become outcomes (bought, expired) that the posterior learns."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from pricepilot.catalog.models import Product
from pricepilot.clock import FixedClock
from pricepilot.config import load_settings
from pricepilot.errors import ConfigError
from pricepilot.pricing.engine import PricingEngine
from pricepilot.pricing.posterior import DemandPosterior
from pricepilot.pricing.testing import LogitDemand
from pricepilot.service.engine_backend import EngineBackend
from pricepilot.serving.outcomes import OutcomeTracker, PendingQuote

from .conftest import AD, SF
from .engine_support import NOW, engine_client, engine_settings, promote_small_model

Client = tuple[TestClient, EngineBackend]
TTL = timedelta(minutes=15)


# ------------------------------------------------------------------------- the tracker alone


def pending(qid: str, at: datetime, user: str = "u1", product: str = "MUG", price: int = 899,
            version: str = "v1") -> PendingQuote:
    p = Product(product_id=product, title=product, category="kitchen", currency="EUR",
                unit_cost=400, list_price=999)
    return PendingQuote(quote_id=qid, user_id=user, product=p, price=price, decided_at=at,
                        expires_at=at + TTL, model_version=version, features={"p_views_7d": 3.0})


class Tracked:
    def __init__(self, model: Any = None, **kw: Any) -> None:
        self.clock = FixedClock(NOW)
        self.posterior = DemandPosterior()
        self.version = "v1"
        self.engine = PricingEngine(load_settings(path=None, env={}),
                                    model or LogitDemand(a=1.0, b=4.0), self.posterior,
                                    clock=self.clock)
        self.tracker = OutcomeTracker(
            self.clock, lambda: (self.version, self.engine, self.posterior),
            interval=0, grace_seconds=60, **kw)

    def counts(self, product: str = "MUG", price: int = 899) -> list[float]:
        return self.posterior.counts_.get((product, price), [0.0, 0.0])


def test_a_purchase_within_the_window_is_learnt_as_bought_at_the_quoted_price() -> None:
    t = Tracked()
    q = pending("q1", NOW)
    t.tracker.remember([q])
    t.tracker.purchased("u1", "MUG", NOW + timedelta(minutes=3))
    assert t.tracker.flush() == 0 and t.tracker.pending == 1  # learnt when its window closes
    expected = t.engine.public_probabilities([(q.product, {"p_views_7d": 3.0}, None)], [899])[0]
    assert 0 < q.model_prob < 1 and q.model_prob == pytest.approx(expected)
    t.clock.set(NOW + TTL + timedelta(seconds=61))
    assert t.tracker.flush() == 1
    assert t.counts() == [1.0, 1.0] and t.tracker.bought == 1 and t.tracker.pending == 0
    # the public curve's P(buy) at the quoted price, as the engine's optimiser sees it, was
    # computed and fed the Gaussian step too
    assert t.posterior.products_["MUG"].n == 1


def test_a_quote_that_expires_unbought_is_learnt_as_not_bought_after_the_grace() -> None:
    t = Tracked()
    t.tracker.remember([pending("q1", NOW)])
    t.clock.set(NOW + TTL + timedelta(seconds=30))  # expired, but a late event may still come
    assert t.tracker.flush() == 0 and t.tracker.pending == 1
    t.clock.set(NOW + TTL + timedelta(seconds=61))
    assert t.tracker.flush() == 1
    assert t.counts() == [0.0, 1.0] and t.tracker.not_bought == 1


def test_a_purchase_after_expiry_or_of_another_product_or_shopper_is_not_attributed() -> None:
    t = Tracked()
    t.tracker.remember([pending("q1", NOW)])
    t.tracker.purchased("u2", "MUG", NOW + timedelta(minutes=1))
    t.tracker.purchased("u1", "LAMP", NOW + timedelta(minutes=1))
    t.tracker.purchased("u1", "MUG", NOW + TTL + timedelta(seconds=1))
    t.tracker.purchased("u1", "MUG", NOW - timedelta(minutes=1))  # before the quote
    assert t.tracker.flush() == 0 and t.tracker.pending == 1


def test_the_latest_quote_is_bought_and_the_earlier_views_are_not() -> None:
    t = Tracked()
    t.tracker.remember([pending("q1", NOW, price=949), pending("q2", NOW + timedelta(minutes=1))])
    t.tracker.purchased("u1", "MUG", NOW + timedelta(minutes=2))
    t.tracker.purchased("u1", "MUG", NOW + timedelta(minutes=2))  # a resent purchase: nothing left
    t.clock.set(NOW + timedelta(minutes=20))
    assert t.tracker.flush() == 2
    assert t.counts(price=899) == [1.0, 1.0] and t.counts(price=949) == [0.0, 1.0]


def test_a_purchase_naming_its_quote_is_matched_by_quote_id_whatever_its_time() -> None:
    t = Tracked()
    t.tracker.remember([pending("q1", NOW, price=949), pending("q2", NOW + timedelta(minutes=1))])
    # a simulated or back-dated purchase: the quote id ties it to q1, not to the latest quote
    t.tracker.purchased("u1", "MUG", NOW - timedelta(days=2), quote_id="q1")
    t.tracker.purchased("u1", "MUG", NOW - timedelta(days=2), quote_id="q1")  # resent: once
    t.clock.set(NOW + TTL + timedelta(seconds=61))  # q1's window closed, q2's not yet
    assert t.tracker.flush() == 1
    assert t.counts(price=949) == [1.0, 1.0] and t.tracker.pending == 1


def test_forgetting_a_shopper_drops_their_pending_quotes_unlearnt() -> None:
    t = Tracked()
    t.tracker.remember([pending("q1", NOW), pending("q2", NOW, user="u2")])
    assert t.tracker.forget("u1") == 1
    t.tracker.purchased("u1", "MUG", NOW + timedelta(minutes=1))
    t.clock.set(NOW + timedelta(hours=1))
    assert t.tracker.flush() == 1  # only u2's quote, as not bought
    assert t.counts() == [0.0, 1.0]


def test_memory_is_bounded_and_the_overflow_is_dropped_not_guessed() -> None:
    t = Tracked(max_pending=3)
    t.tracker.remember([pending(f"q{i}", NOW + timedelta(seconds=i), user=f"u{i}")
                        for i in range(3)])
    t.tracker.flush()
    t.tracker.remember([pending("q9", NOW + timedelta(seconds=9), user="u9")])
    t.tracker.flush()
    assert t.tracker.pending == 3 and t.tracker.dropped == 1
    t.tracker.purchased("u0", "MUG", NOW + timedelta(minutes=1))  # the evicted one
    assert t.tracker.flush() == 0


def test_quotes_of_a_replaced_model_are_not_learnt_by_the_new_one() -> None:
    t = Tracked()
    t.tracker.remember([pending("q1", NOW)])
    t.tracker.flush()
    t.version = "v2"
    t.tracker.purchased("u1", "MUG", NOW + timedelta(minutes=1))
    t.clock.set(NOW + timedelta(hours=1))
    assert t.tracker.flush() == 0 and t.tracker.dropped == 1 and not t.posterior.counts_


def test_a_failing_model_still_learns_the_counts() -> None:
    class Broken(LogitDemand):
        def predict_curves(self, *a: Any, **k: Any) -> Any:
            raise RuntimeError("boom")

    t = Tracked(model=Broken(a=1.0, b=4.0))
    q = pending("q1", NOW)
    t.tracker.remember([q])
    t.tracker.purchased("u1", "MUG", NOW + timedelta(minutes=1))
    t.clock.set(NOW + timedelta(hours=1))
    assert t.tracker.flush() == 1
    assert math.isnan(q.model_prob) and t.counts() == [1.0, 1.0]
    assert "MUG" not in t.posterior.products_  # no Gaussian step without the model's probability


# -------------------------------------------------------------------------- through the API


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


def _client(tmp_path: Path, clock: FixedClock, **overrides: object) -> Iterator[Client]:
    settings = engine_settings(tmp_path, **overrides)
    promote_small_model(settings.models_dir)
    with engine_client(settings, clock=clock, outcome_flush_seconds=0) as c:
        yield c


@pytest.fixture
def live(tmp_path: Path, clock: FixedClock) -> Iterator[Client]:
    yield from _client(tmp_path, clock)


@pytest.fixture
def greedy(tmp_path: Path, clock: FixedClock) -> Iterator[Client]:
    """Exploration off: the posterior mean decides, so a moved price is the posterior's doing."""
    yield from _client(tmp_path, clock, **{"pricing.exploration": False})


def quote(client: TestClient, *products: str, customer: str | None = "c1") -> dict[str, Any]:
    body: dict[str, Any] = {"product_ids": list(products)}
    if customer is not None:
        body["customer_id"] = customer
    r = client.post("/v1/quotes", headers=SF, json=body)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def purchase(client: TestClient, n: int, product: str, price: int, customer: str = "c1",
             quote_id: str | None = None, at: datetime | None = None) -> None:
    ev = {"type": "purchase", "event_id": f"p{n}", "customer_id": customer, "product_id": product,
          "order_id": f"o{n}", "price": price, "currency": "EUR",
          "ts": (at or NOW + timedelta(minutes=1)).isoformat()}
    if quote_id is not None:
        ev["quote_id"] = quote_id
    r = client.post("/v1/events", headers=SF, json=ev)
    assert r.status_code == 202, r.text


def posterior(backend: EngineBackend) -> DemandPosterior:
    post = backend.app.learning.pricing().engine.posterior
    assert post is not None
    return post


def test_a_purchase_event_after_a_quote_is_learnt_as_bought(live: Client, clock: FixedClock) -> None:
    client, backend = live
    q = quote(client, "SKU-1", "SKU-2")["quotes"]
    assert backend.app.learning.outcomes is not None
    clock.advance(timedelta(minutes=2))
    purchase(client, 1, "SKU-1", q[0]["price"], at=clock.now())
    assert backend.app.learning.outcomes.flush() == 0 and backend.app.learning.outcomes.pending == 2  # windows open
    clock.advance(timedelta(minutes=30))  # both windows closed: SKU-1 bought, SKU-2 not
    assert backend.app.learning.outcomes.flush() == 2
    post = posterior(backend)
    assert post.counts_[("SKU-1", q[0]["price"])] == [1.0, 1.0]
    assert post.counts_[("SKU-2", q[1]["price"])] == [0.0, 1.0]
    assert backend.app.learning.outcomes.bought == 1 and backend.app.learning.outcomes.not_bought == 1
    learning = client.get("/readyz").json()["dependencies"]["outcome_learning"]
    assert learning == {"ok": True, "detail": "1 bought, 1 not bought, 0 pending, 0 dropped"}


def test_a_confirmed_order_carrying_the_quote_is_learnt_as_bought(live: Client,
                                                                 clock: FixedClock) -> None:
    client, backend = live
    q = quote(client, "SKU-3")["quotes"][0]
    order = {"order_id": "o1", "currency": "EUR", "customer_id": "c1",
             "lines": [{"product_id": "SKU-3", "quote_id": q["quote_id"],
                        "quote_signature": q["signature"]}]}
    assert client.post("/v1/orders", headers=SF, json=order).status_code == 201
    assert client.post("/v1/orders", headers=SF, json=order).status_code == 200  # replay
    assert backend.app.learning.outcomes is not None
    clock.advance(timedelta(minutes=30))
    backend.app.learning.outcomes.flush()
    assert posterior(backend).counts_[("SKU-3", q["price"])] == [1.0, 1.0]
    assert backend.app.learning.outcomes.bought == 1


def test_anonymous_and_fallback_quotes_are_not_remembered(live: Client,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    client, backend = live
    assert backend.app.learning.outcomes is not None
    quote(client, "SKU-1", customer=None)
    from pricepilot.errors import Unavailable

    def down(*a: object, **k: object) -> None:
        raise Unavailable("online features", "down")

    monkeypatch.setattr(backend.app.features, "features_many", down)
    assert quote(client, "SKU-1")["fallback"] is True
    assert backend.app.learning.outcomes.pending == 0


def test_erasure_drops_the_shoppers_pending_quotes(live: Client, clock: FixedClock) -> None:
    client, backend = live
    quote(client, "SKU-1", "SKU-2")
    quote(client, "SKU-1", customer="c2")
    assert backend.app.learning.outcomes is not None and backend.app.learning.outcomes.pending == 3
    assert client.delete("/v1/shoppers/c1", headers=AD).status_code == 200
    assert backend.app.learning.outcomes.pending == 1
    clock.advance(timedelta(hours=1))
    assert backend.app.learning.outcomes.flush() == 1  # c2's quote only


def test_an_opted_out_shopper_is_not_learnt_from(live: Client) -> None:
    client, backend = live
    assert backend.app.learning.outcomes is not None
    quote(client, "SKU-1")
    assert backend.app.learning.outcomes.pending == 1
    r = client.put("/v1/shoppers/c1/consent", headers=AD, json={"personalisation": False})
    assert r.status_code == 200
    assert backend.app.learning.outcomes.pending == 0  # withdrawn: the pending quote is dropped
    quote(client, "SKU-1")
    assert backend.app.learning.outcomes.pending == 0  # and new quotes are not remembered
    client.put("/v1/shoppers/c1/consent", headers=AD, json={"personalisation": True})
    quote(client, "SKU-1")
    assert backend.app.learning.outcomes.pending == 1


def test_many_unbought_quotes_at_a_price_move_the_price(greedy: Client, clock: FixedClock) -> None:
    client, backend = greedy
    first = quote(client, "SKU-2")["quotes"][0]["price"]
    assert backend.app.learning.outcomes is not None
    for rnd in range(6):
        for i in range(40):
            quote(client, "SKU-2", customer=f"s{rnd}-{i}")
        clock.advance(timedelta(minutes=20))  # every quote expires unbought
        backend.app.learning.outcomes.flush()
    assert backend.app.learning.outcomes.not_bought >= 240
    mean, _ = posterior(backend).correction("SKU-2", backend.app.catalogue.products["SKU-2"].category)
    assert mean[0] < 0  # demand below the model's
    later = quote(client, "SKU-2")["quotes"][0]["price"]
    assert later < first  # less demand than the model said: a lower profit-optimal price


def test_the_logged_propensity_is_the_engines(live: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    client, backend = live
    engine = backend.app.learning.pricing().engine
    assert engine.posterior is not None and backend.app.settings.pricing.exploration
    decided: list[Any] = []
    real = engine.decide_page

    def spy(*a: Any, **k: Any) -> Any:
        out = real(*a, **k)
        decided.extend(out)
        return out

    monkeypatch.setattr(engine, "decide_page", spy)
    quotes = []
    for i in range(5):
        quotes += quote(client, "SKU-1", "SKU-2", "SKU-3", customer=f"c{i}")["quotes"]
    backend.app.decisions.flush()
    logged = backend.app.store.decisions_frame().set_index("decision_id")["propensity"]
    engine_p = [d.propensity for d in decided]
    assert [float(logged[q["quote_id"]]) for q in quotes] == engine_p
    assert [q["propensity"] for q in quotes] == engine_p
    assert all(0 < p <= 1 for p in engine_p)
    assert min(engine_p) < 1  # Thompson sampling: the served price was not certain


def test_with_learning_off_there_is_no_posterior_and_the_propensity_is_one(
        tmp_path: Path, clock: FixedClock) -> None:
    for client, backend in _client(tmp_path, clock, **{"service.learn_outcomes": "off"}):
        assert backend.app.learning.outcomes is None
        assert backend.app.learning.pricing().engine.posterior is None
        assert {q["propensity"] for q in quote(client, "SKU-1", "SKU-2")["quotes"]} == {1.0}


def test_a_new_model_version_starts_its_own_posterior_and_a_rollback_finds_the_old_one(
        live: Client) -> None:
    client, backend = live
    old = posterior(backend)
    v2 = promote_small_model(backend.app.settings.models_dir)
    backend.app.learning.models.reload(force=True)
    assert backend.app.learning.models.current().version == v2
    assert posterior(backend) is not old
    r = client.post("/v1/admin/models/rollback", headers=AD)
    assert r.status_code == 200, r.text
    assert posterior(backend) is old


def test_learning_settings_are_validated() -> None:
    with pytest.raises(ConfigError, match="service.learn_outcomes"):
        load_settings(path=None, env={}, overrides={
            "service.learn_outcomes": "on", "service.workers": 2, "online.type": "redis"})
    with pytest.raises(ConfigError, match="service.learn_outcomes"):
        load_settings(path=None, env={}, overrides={"service.learn_outcomes": "sometimes"})
    for name, bad in (("write_deadline_ms", -1), ("write_threads", 0),
                      ("outcome_grace_seconds", -1), ("max_pending_outcomes", 0)):
        with pytest.raises(ConfigError, match=f"service.{name}"):
            load_settings(path=None, env={}, overrides={f"service.{name}": bad})


def test_learning_is_on_by_default_in_process_and_off_with_redis(tmp_path: Path) -> None:
    s = load_settings(path=None, env={})
    assert s.service.learn_outcomes == "auto"
    from pricepilot.store import open_store

    store = open_store("sqlite://")
    store.migrate()
    redis_settings = engine_settings(tmp_path, **{"online.type": "redis"})
    from pricepilot.features.online import OnlineFeatures

    class NoRedis(OnlineFeatures):  # the backend must not need Redis to decide this
        def __init__(self) -> None:
            pass

        def set_products(self, products: Any) -> None:
            pass

        def close(self) -> None:
            pass

    b = EngineBackend(redis_settings, store=store, features=NoRedis(),
                      ledger=_NullLedger(), outcome_flush_seconds=0)
    try:
        assert b.app.learning.enabled is False and b.app.learning.outcomes is None
    finally:
        b.close()


class _NullLedger:
    def configure(self, definitions: Any) -> None:
        pass


def test_a_view_naming_its_quote_puts_the_purchase_window_on_the_shops_clock() -> None:
    t = Tracked()
    t.tracker.remember([pending("q1", NOW)])
    shop_time = NOW - timedelta(days=1)  # a replay of yesterday, or a shop clock far behind
    t.tracker.purchased("u1", "MUG", shop_time + timedelta(minutes=1))  # before the view: no
    t.tracker.flush()
    assert t.tracker.bought == 0
    t.tracker.shown("u1", "MUG", shop_time, "q1")
    t.tracker.purchased("u1", "MUG", shop_time + timedelta(minutes=1))
    assert t.tracker.flush() == 0  # bought; its window (on the shop's clock) is still open
    # the shop's clock moves past the window (a later event of anyone): the outcome is learnt,
    # although the service's own clock has not reached the quote's expiry
    t.tracker.purchased("u7", "LAMP", shop_time + TTL + timedelta(seconds=61))
    assert t.tracker.flush() == 1 and t.counts() == [1.0, 1.0]


def test_a_purchase_naming_a_quote_not_remembered_closes_the_earlier_quotes_unbought() -> None:
    t = Tracked()
    t.tracker.remember([pending("q1", NOW)])
    # bought at another quote's price (a fallback quote, one issued by another process)
    t.tracker.purchased("u1", "MUG", NOW + timedelta(minutes=2), quote_id="q-elsewhere")
    t.tracker.purchased("u1", "MUG", NOW + timedelta(minutes=3))  # the same sale, without an id
    t.clock.set(NOW + timedelta(hours=1))
    assert t.tracker.flush() == 1
    assert t.counts() == [0.0, 1.0] and t.tracker.not_bought == 1


def test_a_large_batch_is_learnt_in_chunks_so_quotes_never_wait_for_all_of_it() -> None:
    from pricepilot.serving.outcomes import LEARN_CHUNK

    t = Tracked()
    sizes: list[int] = []
    real = t.posterior.learn_many

    def spy(outcomes: Any) -> None:
        assert t.tracker.learn_lock.locked()  # each chunk under the quote path's lock
        sizes.append(len(outcomes))
        real(outcomes)

    t.posterior.learn_many = spy  # type: ignore[method-assign]
    t.tracker.remember([pending(f"q{i}", NOW, user=f"u{i}") for i in range(600)])
    t.clock.set(NOW + timedelta(hours=1))
    assert t.tracker.flush() == 600
    assert sizes == [LEARN_CHUNK, LEARN_CHUNK, 600 - 2 * LEARN_CHUNK]
    assert t.counts() == [0.0, 600.0]
