"""Dependency faults against a real service process, observed only through HTTP.

Each test starts ``uvicorn`` on the app factory (as ``pricepilot serve`` does), then takes a
dependency away for real: a private ``redis-server`` is killed, the PostgreSQL connection runs
through a :class:`~tests.service.harness.FaultProxy` that is cut, or the promoted model file is
truncated on disk. What is checked is what a shop sees: status codes, ``fallback`` flags, prices
inside each product's floor and ceiling, ``Retry-After``, ``/metrics`` and ``/readyz``, and
afterwards the event rows in the store. See ``docs/service-faults.md``.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from pricepilot.config import Settings

from .harness import FaultProxy, RedisServer, ServiceProcess, metric_value, url_port
from .scenario import (
    AD,
    PRODUCT_IDS,
    SF,
    assert_guarded,
    count_events,
    make_settings,
    model_price,
    quote_body,
    register_model,
    seed_store,
    view,
)

FALLBACKS = "pricepilot_quote_fallbacks_total"


@pytest.fixture
def start_service(tmp_path: Path) -> Iterator[Callable[[Settings], ServiceProcess]]:
    started: list[ServiceProcess] = []

    def start(settings: Settings) -> ServiceProcess:
        proc = ServiceProcess(settings, tmp_path / f"service-{len(started)}.log").start()
        started.append(proc)
        proc.wait_ready()
        return proc

    yield start
    for proc in started:
        proc.stop()


def eventually(check: Callable[[], Any], timeout: float = 15.0, what: str = "") -> Any:
    """Poll ``check`` until it returns something truthy (recovery is not instantaneous)."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.2)
    raise AssertionError(f"not within {timeout}s: {what} (last: {last!r})")


def quotes(c: httpx.Client, customer: str = "c-1") -> dict[str, Any]:
    r = c.post("/v1/quotes", json=quote_body(customer))
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    assert [q["product_id"] for q in body["quotes"]] == PRODUCT_IDS
    assert_guarded(body)
    return body


def assert_fallback(body: dict[str, Any]) -> None:
    assert body["fallback"] is True
    for q in body["quotes"]:
        assert q["fallback"] is True
        assert model_price(q) is None  # no model price: the guarded list price was served
        assert q["signature"]  # still a signed quote the cart can honour


def assert_engine(body: dict[str, Any]) -> None:
    assert body["fallback"] is False
    for q in body["quotes"]:
        assert q["fallback"] is False
        assert model_price(q) is not None


def fallback_count(c: httpx.Client) -> float:
    return metric_value(c.get("/metrics").text, FALLBACKS)


# ---------------------------------------------------------------------------------------- Redis


# Client-side timeouts in the URL (redis-py reads them from the query string): without them a
# stalled Redis holds each quote for redis-py's default socket timeout before it falls back.
REDIS_TIMEOUTS = "?socket_timeout=0.5&socket_connect_timeout=0.5"


@pytest.mark.redis
@pytest.mark.slow
def test_quotes_fall_back_while_redis_hangs_or_is_down_and_recover_when_it_returns(
    tmp_path: Path, start_service: Callable[[Settings], ServiceProcess]
) -> None:
    redis_server = RedisServer(tmp_path / "redis").start()
    try:
        with FaultProxy("127.0.0.1", redis_server.port) as proxy:
            settings = make_settings(tmp_path / "data",
                                     redis_url=proxy.url(redis_server.url) + REDIS_TIMEOUTS)
            seed_store(settings)
            register_model(settings)
            svc = start_service(settings)
            with svc.client(SF) as c:
                assert_engine(quotes(c))
                assert c.post("/v1/events", json=[view("v-1", "c-1")]).status_code == 202

                # 1. Redis hangs (accepts, never answers): the timeout bounds the wait
                proxy.stall()
                before = fallback_count(c)
                for i in range(3):
                    t0 = time.monotonic()
                    assert_fallback(quotes(c, customer=f"c-{i}"))
                    assert time.monotonic() - t0 < 3, "a stalled Redis must not hold quotes"
                assert fallback_count(c) >= before + 3
                proxy.restore()
                eventually(lambda: not quotes(c)["fallback"], what="non-fallback after the stall")

                # 2. Redis killed: features and the Redis ledger are gone
                redis_server.stop()
                before = fallback_count(c)
                for i in range(5):
                    t0 = time.monotonic()
                    assert_fallback(quotes(c, customer=f"c-{i}"))
                    assert time.monotonic() - t0 < 3, "a fallback quote must not wait out retries"
                text = c.get("/metrics").text
                assert metric_value(text, FALLBACKS) >= before + 5
                assert metric_value(text, FALLBACKS, dependency="online features") >= 5
                assert metric_value(text, "pricepilot_price_decisions_total",
                                    fallback="true") >= 8 * len(PRODUCT_IDS)
                ready = c.get("/readyz")
                assert ready.status_code == 503
                assert ready.json()["dependencies"]["online_features"]["ok"] is False
                # an event cannot be fully taken in: refused, with a time to come back
                refused = c.post("/v1/events", json=[view("v-2", "c-1")])
                assert refused.status_code == 503, refused.text
                assert refused.headers["Retry-After"] == "2"
                # the promotion ledger lives in Redis too: an order cannot be redeemed, so it is
                # refused with 503 rather than confirmed without its limits checked
                order = c.post("/v1/orders", json={"order_id": "o-down", "currency": "EUR",
                                                   "lines": [{"product_id": "MUG"}]})
                assert order.status_code == 503, order.text

                redis_server.start()  # back, empty (no persistence)
                eventually(lambda: c.get("/readyz").status_code == 200, what="ready again")
                eventually(lambda: not quotes(c)["fallback"], what="non-fallback quotes")
                assert_engine(quotes(c))
                # the shop resends what was refused: the event is taken in once
                resent = c.post("/v1/events", json=[view("v-2", "c-1")])
                assert resent.status_code == 202, resent.text
            assert count_events(settings) == 2
    finally:
        redis_server.stop()


# ------------------------------------------------------------------------------------ PostgreSQL


class EventSender(threading.Thread):
    """Sends small batches of fresh events until stopped, recording what each answer said."""

    def __init__(self, base_url: str) -> None:
        super().__init__(daemon=True)
        self.base_url = base_url
        self.stop_flag = threading.Event()
        self.acknowledged: set[str] = set()  # 202: the service says these are durable
        self.refused: list[list[dict[str, Any]]] = []  # 503 batches, to resend
        self.statuses: list[int] = []
        self.retry_after_ok = True

    def run(self) -> None:
        with httpx.Client(base_url=self.base_url, headers=SF, timeout=30) as c:
            n = 0
            while not self.stop_flag.is_set():
                batch = [view(f"ev-{n}-{k}-{uuid.uuid4().hex[:6]}", f"c-{n % 7}") for k in range(5)]
                n += 1
                try:
                    r = c.post("/v1/events", json=batch)
                except httpx.TransportError:
                    self.refused.append(batch)  # no answer: the shop cannot know, so it resends
                    continue
                self.statuses.append(r.status_code)
                if r.status_code == 202:
                    self.acknowledged.update(e["event_id"] for e in batch)
                elif r.status_code == 503:
                    self.retry_after_ok &= r.headers.get("Retry-After") == "2"
                    self.refused.append(batch)
                time.sleep(0.02)

    def stop(self) -> None:
        self.stop_flag.set()
        self.join(30)


def stored_event_ids(settings: Settings) -> set[str]:
    from pricepilot.store import open_store

    store = open_store(settings)
    try:
        return set(store.events_frame()["event_id"])
    finally:
        store.close()


def _seeded_behind(proxy: FaultProxy, pg_url: str, tmp_path: Path,
                   start_service: Callable[[Settings], ServiceProcess],
                   **extra: object) -> tuple[Settings, ServiceProcess]:
    """PostgreSQL seeded directly, and a service started on it through the fault proxy."""
    direct = make_settings(tmp_path / "data", store_url=pg_url)
    seed_store(direct)
    register_model(direct)
    return direct, start_service(make_settings(tmp_path / "data", store_url=proxy.url(pg_url), **extra))


@pytest.mark.postgres
@pytest.mark.slow
def test_a_database_outage_serves_fallback_quotes_refuses_events_and_loses_none(
    pg_url: str, tmp_path: Path, start_service: Callable[[Settings], ServiceProcess]
) -> None:
    host, port = url_port(pg_url, 5432)
    with FaultProxy(host, port) as proxy:
        direct, svc = _seeded_behind(proxy, pg_url, tmp_path, start_service)
        sender = EventSender(svc.base_url)
        with svc.client(SF) as c:
            assert_engine(quotes(c))
            sender.start()
            eventually(lambda: len(sender.acknowledged) >= 10, what="events acknowledged")

            proxy.cut()  # PostgreSQL unreachable: refused, open connections reset
            time.sleep(0.5)
            before = fallback_count(c)
            for i in range(5):
                t0 = time.monotonic()
                assert_fallback(quotes(c, customer=f"c-{i}"))
                assert time.monotonic() - t0 < 5
            assert fallback_count(c) >= before + 5
            ready = c.get("/readyz")
            assert ready.status_code == 503
            assert ready.json()["dependencies"]["store"]["ok"] is False
            acked_during_cut = len(sender.acknowledged)
            time.sleep(0.5)
            assert len(sender.acknowledged) == acked_during_cut, "an event was acknowledged while the database was down"
            # orders need the database too: a clear 503, never a 500 or a silent success
            order = c.post("/v1/orders", json={"order_id": "o-cut", "currency": "EUR",
                                               "lines": [{"product_id": "MUG"}]})
            assert order.status_code == 503, order.text

            proxy.restore()
            eventually(lambda: c.get("/readyz").status_code == 200, what="ready again")
            eventually(lambda: not quotes(c)["fallback"], what="non-fallback quotes")
            eventually(lambda: len(sender.acknowledged) > acked_during_cut + 10,
                       what="events acknowledged after the outage")
            sender.stop()
            assert 503 in sender.statuses, "the outage was never seen by the event sender"
            assert set(sender.statuses) <= {202, 503}, sender.statuses
            assert sender.retry_after_ok
            # the shop resends every refused batch: now accepted (or already stored)
            for batch in sender.refused:
                r = c.post("/v1/events", json=batch)
                assert r.status_code == 202, r.text
        stored = stored_event_ids(direct)
        assert sender.acknowledged <= stored, "an acknowledged event was lost"
        resent = {e["event_id"] for b in sender.refused for e in b}
        assert stored == sender.acknowledged | resent  # nothing lost, nothing invented


@pytest.mark.postgres
@pytest.mark.slow
def test_a_hanging_database_neither_holds_quotes_nor_freezes_the_worker(
    pg_url: str, tmp_path: Path, start_service: Callable[[Settings], ServiceProcess]
) -> None:
    host, port = url_port(pg_url, 5432)
    with FaultProxy(host, port) as proxy:
        direct, svc = _seeded_behind(proxy, pg_url, tmp_path, start_service)
        with svc.client(SF, timeout=3) as c:
            assert_engine(quotes(c))
            proxy.stall()  # connections stay open, queries are taken and never answered
            assert_fallback(quotes(c))
            assert httpx.get(f"{svc.base_url}/healthz", timeout=1).status_code == 200


@pytest.mark.postgres
@pytest.mark.slow
def test_a_hanging_database_refuses_writes_within_the_deadline_and_loses_nothing(
    pg_url: str, tmp_path: Path, start_service: Callable[[Settings], ServiceProcess]
) -> None:
    host, port = url_port(pg_url, 5432)
    with FaultProxy(host, port) as proxy:
        direct, svc = _seeded_behind(proxy, pg_url, tmp_path, start_service,
                                     **{"service.write_deadline_ms": 2000})
        # client timeouts well above the deadline: a frozen worker fails the test, not hangs it
        with svc.client(SF, timeout=10) as c, svc.client(AD, timeout=10) as admin:
            r = admin.post("/v1/admin/promotions", json={
                "name": "Welcome", "benefits": [{"type": "amount_off", "amount": 100}],
                "coupon_code": "WELCOME", "usage_limit": 10, "stage": "order"})
            assert r.status_code == 201, r.text
            pid = r.json()["promotion_id"]
            assert_engine(quotes(c))
            before = [view(f"h-{k}", "c-1") for k in range(3)]
            assert c.post("/v1/events", json=before).status_code == 202

            proxy.stall()  # queries are taken and never answered: a lock, a stalled network
            refused = [view(f"h-stall-{k}", "c-2") for k in range(3)]
            order = {"order_id": "o-hang", "currency": "EUR", "customer_id": "c-3",
                     "lines": [{"product_id": "MUG"}], "coupons": ["WELCOME"]}
            cart = {k: v for k, v in order.items() if k != "order_id"}
            for path, body, operation in (("/v1/events", refused, "event write"),
                                          ("/v1/orders", order, "order confirmation"),
                                          ("/v1/carts/price", cart, "cart pricing")):
                r = c.post(path, json=body)
                assert r.status_code == 503, (path, r.text)
                assert r.headers["Retry-After"] == "2"
                assert r.json()["error"] == "deadline_exceeded"
                assert operation in r.json()["message"]
            assert_fallback(quotes(c))  # quotes still answer, with guarded fallback prices
            assert httpx.get(f"{svc.base_url}/healthz", timeout=5).status_code == 200
            assert c.get("/readyz").status_code == 503

            # the network finally gives up on the stalled connections (in production:
            # tcp_user_timeout / keepalives in the store URL), and the database is back
            proxy.cut()
            proxy.restore()
            eventually(lambda: c.get("/readyz").status_code == 200, what="ready again")
            r = c.post("/v1/events", json=refused)  # the shop resends
            assert r.status_code == 202, r.text
            first = c.post("/v1/orders", json=order)
            assert first.status_code in (200, 201), first.text  # 200: the stuck attempt landed
            again = c.post("/v1/orders", json=order)
            assert again.status_code == 200 and again.json()["replayed"] is True
            promo = admin.get(f"/v1/admin/promotions/{pid}").json()
            assert promo["redemptions"] == 1, promo
        stored = stored_event_ids(direct)
        assert stored == {e["event_id"] for e in before + refused}


# ---------------------------------------------------------------------------------- model files


@pytest.mark.slow
def test_a_corrupt_model_artefact_gives_fallback_quotes_until_a_good_model_is_promoted(
    tmp_path: Path, start_service: Callable[[Settings], ServiceProcess]
) -> None:
    from pricepilot.demand.registry import MODEL_FILE, ModelRegistry

    settings = make_settings(tmp_path / "data")
    seed_store(settings)
    good = register_model(settings)
    svc = start_service(settings)
    registry = ModelRegistry.from_settings(settings)
    with svc.client(SF) as c, svc.client(AD) as admin:
        body = quotes(c)
        assert_engine(body)
        assert {q["model_version"] for q in body["quotes"]} == {good}

        # a training job promotes a new version, then its file is damaged on disk (a partial
        # copy, a bad sync): the service picks up the new pointer and must not serve from it
        bad = register_model(settings, promote=True, seed=4)
        artefact = registry.root / bad / MODEL_FILE
        artefact.write_bytes(artefact.read_bytes()[:100])
        before = fallback_count(c)
        for i in range(3):
            assert_fallback(quotes(c, customer=f"c-{i}"))
        assert fallback_count(c) >= before + 3
        ready = c.get("/readyz").json()
        assert ready["dependencies"]["demand_model"]["ok"] is False
        # promoting the damaged version through the API is refused, not a 500
        r = admin.post(f"/v1/admin/models/{bad}/promote")
        assert r.status_code == 503, r.text
        assert_fallback(quotes(c))

        r = admin.post(f"/v1/admin/models/{good}/promote")
        assert r.status_code == 200, r.text
        body = quotes(c)
        assert_engine(body)
        assert {q["model_version"] for q in body["quotes"]} == {good}
