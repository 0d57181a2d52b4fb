"""Hanging writes: events, carts, orders and cancels against a store or ledger that never answers.

The real backend (SQLite, in-process features, a small model) is served by uvicorn on a thread,
and the test makes one store or ledger call hang on a gate it opens later — a PostgreSQL lock or a
stalled network, as the write thread sees it. What is checked is what a shop sees over HTTP: the
hanging request is answered 503 with ``Retry-After`` and an error naming what timed out (never a
500, never a frozen worker), quotes and health checks keep answering meanwhile, and after the
hang nothing acknowledged is lost and nothing is written twice (events by ``event_id``, orders by
``order_id``). Every HTTP call has a client timeout, so a frozen worker fails the test instead of
hanging it. See docs/service-faults.md.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any, Self

import httpx
import pytest
import uvicorn

from pricepilot.clock import FixedClock
from pricepilot.config import Settings
from pricepilot.service.app import create_app
from pricepilot.service.engine_backend import EngineBackend
from pricepilot.store import open_store

from .conftest import AD, SF
from .engine_support import NOW, catalogue, engine_settings, promote_small_model

COUPON = {"name": "Welcome 5", "benefits": [{"type": "amount_off", "amount": 500}],
          "coupon_code": "WELCOME", "usage_limit": 10, "stage": "order"}


class Gate:
    """Wraps a callable so that calls block until :meth:`open` (a store that stopped answering)."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.opened = threading.Event()
        self.calls = 0

    def wrap(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        def hung(*args: Any, **kw: Any) -> Any:
            self.calls += 1
            self.entered.set()
            if not self.opened.wait(30):
                raise AssertionError("gate never opened")
            return fn(*args, **kw)
        return hung

    def open(self) -> None:
        self.opened.set()


class Served:
    """The backend behind uvicorn on a free port, in this process."""

    def __init__(self, settings: Settings, backend: EngineBackend) -> None:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        sock.close()
        self.backend = backend
        config = uvicorn.Config(create_app(settings, backend), host="127.0.0.1", port=self.port,
                                log_level="warning", lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Self:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline:
                raise AssertionError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)

    def client(self, headers: dict[str, str], timeout: float = 10.0) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers=headers, timeout=timeout)


def serve(tmp_path: Path, **overrides: object) -> Served:
    # deadlines generous enough that a healthy call on a loaded CI host is never late: only the
    # gated call misses its deadline (quotes never depend on the gate, so they get 5 s)
    settings = engine_settings(tmp_path, **{"service.retry_after_seconds": 2,
                                            "service.write_deadline_ms": 1500,
                                            "service.quote_deadline_ms": 5000, **overrides})
    promote_small_model(settings.models_dir)
    store = open_store(f"sqlite:///{tmp_path / 'pp.db'}")
    store.migrate()
    store.upsert_products(catalogue())
    backend = EngineBackend(settings, store=store, clock=FixedClock(NOW), seed=7,
                            outcome_flush_seconds=0)
    return Served(settings, backend)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    with serve(tmp_path) as s:
        yield s
    s.backend.close()


def view(event_id: str, customer: str = "c1", product: str = "SKU-1") -> dict[str, Any]:
    return {"type": "view", "event_id": event_id, "customer_id": customer, "product_id": product,
            "price": 1099, "currency": "EUR", "ts": (NOW - timedelta(minutes=5)).isoformat()}


def assert_deadline(r: httpx.Response, operation: str) -> None:
    assert r.status_code == 503, r.text
    assert r.headers["Retry-After"] == "2"
    body = r.json()
    assert body["error"] == "deadline_exceeded"
    assert operation in body["message"] and "retry" in body["message"]


def assert_model_quotes(c: httpx.Client) -> None:
    r = c.post("/v1/quotes", json={"product_ids": ["SKU-1", "SKU-2"], "customer_id": "c9"})
    assert r.status_code == 200, r.text
    assert r.json()["fallback"] is False  # decided by the model: the quote path does not wait


def eventually(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 15
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within 15 s: {what}")
        time.sleep(0.05)


# ------------------------------------------------------------------------------------ events


def test_a_hanging_event_write_is_a_503_naming_it_while_quotes_and_health_keep_answering(
        served: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    store = served.backend.app.store
    gate = Gate()
    monkeypatch.setattr(store, "add_event_batch", gate.wrap(store.add_event_batch))
    with served.client(SF) as c:
        r = c.post("/v1/events", json=[view("e1"), view("e2")])
        assert_deadline(r, "event write")
        assert gate.entered.is_set()
        # the write is still stuck on its thread: the worker answers everything else
        assert_model_quotes(c)
        assert httpx.get(f"{served.url}/healthz", timeout=5).status_code == 200
        assert store.count_events() == 0  # not acknowledged, and indeed not written (yet)
        # the database answers again: the stuck write lands late, and the shop's resend of
        # the refused batch is a duplicate, so each event is stored exactly once
        gate.open()
        eventually(lambda: store.count_events() == 2, "the late write landed")
        r = c.post("/v1/events", json=[view("e1"), view("e2")])
        assert r.status_code == 202 and r.json() == {"accepted": 0, "duplicates": 2}
    assert store.count_events() == 2


def test_quotes_are_answered_while_an_event_write_hangs_however_long_its_deadline(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # a deadline far beyond the client's timeout: only the thread pool keeps the loop free
    with serve(tmp_path, **{"service.write_deadline_ms": 60_000}) as served:
        store = served.backend.app.store
        gate = Gate()
        monkeypatch.setattr(store, "add_event_batch", gate.wrap(store.add_event_batch))
        answers: list[httpx.Response] = []

        def send() -> None:
            with served.client(SF, timeout=30) as c:
                answers.append(c.post("/v1/events", json=[view("e1")]))

        sender = threading.Thread(target=send)
        sender.start()
        assert gate.entered.wait(10)
        with served.client(SF, timeout=10) as c:
            for _ in range(3):
                assert_model_quotes(c)
        assert not answers  # the event is still waiting for its write, unacknowledged
        gate.open()
        sender.join(30)
        assert answers[0].status_code == 202 and answers[0].json()["accepted"] == 1
    served.backend.close()


def test_no_acknowledged_event_is_lost_or_doubled_across_a_hang_and_recovery(
        served: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    store = served.backend.app.store
    original = store.add_event_batch
    gate = Gate()
    acknowledged: set[str] = set()
    refused: list[list[dict[str, Any]]] = []
    statuses: list[int] = []
    with served.client(SF) as c:
        def send(n: int) -> None:
            batch = [view(f"b{n}-{k}", customer=f"c{n % 3}") for k in range(4)]
            r = c.post("/v1/events", json=batch)
            statuses.append(r.status_code)
            if r.status_code == 202:
                acknowledged.update(e["event_id"] for e in batch)
            else:
                assert_deadline(r, "event write")
                refused.append(batch)

        for n in range(3):
            send(n)  # healthy
        monkeypatch.setattr(store, "add_event_batch", gate.wrap(original))
        for n in range(3, 8):
            send(n)  # hanging: every batch refused, none acknowledged
        assert statuses == [202] * 3 + [503] * 5
        gate.open()  # recovery: the stuck writes finish late
        monkeypatch.setattr(store, "add_event_batch", original)
        for n in range(8, 10):
            send(n)
        for batch in refused:  # the shop resends what was refused
            r = c.post("/v1/events", json=batch)
            assert r.status_code == 202, r.text
    stored = list(store.events_frame()["event_id"])
    assert len(stored) == len(set(stored)), "an event was written twice"
    resent = {e["event_id"] for b in refused for e in b}
    assert acknowledged <= set(stored), "an acknowledged event was lost"
    assert set(stored) == acknowledged | resent  # nothing lost, nothing invented


# ------------------------------------------------------------------------- carts and orders


def test_a_hanging_cart_read_is_a_503_naming_cart_pricing(
        served: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    store = served.backend.app.store
    gate = Gate()
    monkeypatch.setattr(store, "events_frame", gate.wrap(store.events_frame))  # market state
    with served.client(SF) as c:
        r = c.post("/v1/carts/price", json={"currency": "EUR", "lines": [{"product_id": "SKU-1"}]})
        assert_deadline(r, "cart pricing")
        assert_model_quotes(c)
        gate.open()
        r = c.post("/v1/carts/price", json={"currency": "EUR", "lines": [{"product_id": "SKU-1"}]})
        assert r.status_code == 200, r.text


def test_an_order_retried_after_a_hanging_redemption_is_redeemed_once(
        served: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    ledger = served.backend.app.ledger
    with served.client(SF) as c, served.client(AD) as admin:
        pid = admin.post("/v1/admin/promotions", json=COUPON).json()["promotion_id"]
        order = {"order_id": "o1", "currency": "EUR", "lines": [{"product_id": "SKU-1"}],
                 "coupons": ["WELCOME"], "customer_id": "c1"}
        gate = Gate()
        monkeypatch.setattr(ledger, "redeem", gate.wrap(ledger.redeem))
        assert_deadline(c.post("/v1/orders", json=order), "order confirmation")
        # the shop retries at once, while the first attempt is still stuck: refused again
        assert_deadline(c.post("/v1/orders", json=order), "order confirmation")
        assert_model_quotes(c)
        gate.open()  # both stuck attempts now finish, racing each other
        eventually(lambda: served.backend.app.checkout._stored("o1") is not None, "the order recorded")
        r = c.post("/v1/orders", json=order)
        assert r.status_code == 200 and r.json()["replayed"] is True, r.text
        assert r.json()["redemptions"] == [{"promotion_id": pid, "amount": 500}]
        promo = admin.get(f"/v1/admin/promotions/{pid}").json()
        assert promo["redemptions"] == 1 and promo["redeemed_amount"] == 500


def test_a_hanging_cancel_is_a_503_and_the_retry_releases_once(
        served: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    ledger = served.backend.app.ledger
    with served.client(SF) as c, served.client(AD) as admin:
        pid = admin.post("/v1/admin/promotions", json=COUPON).json()["promotion_id"]
        order = {"order_id": "o2", "currency": "EUR", "lines": [{"product_id": "SKU-1"}],
                 "coupons": ["WELCOME"], "customer_id": "c1"}
        assert c.post("/v1/orders", json=order).status_code == 201
        gate = Gate()
        monkeypatch.setattr(ledger, "release", gate.wrap(ledger.release))
        assert_deadline(c.post("/v1/orders/o2/cancel"), "order cancellation")
        gate.open()
        eventually(lambda: admin.get(f"/v1/admin/promotions/{pid}").json()["redemptions"] == 0,
                   "the late release landed")
        r = c.post("/v1/orders/o2/cancel")
        assert r.status_code == 200 and r.json()["status"] == "cancelled"
        assert admin.get(f"/v1/admin/promotions/{pid}").json()["redemptions"] == 0


def test_readiness_reports_a_hanging_store_instead_of_freezing(
        served: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    gate = Gate()
    monkeypatch.setattr(served.backend.app, "probe_store", gate.wrap(served.backend.app.probe_store))
    r = httpx.get(f"{served.url}/readyz", timeout=10)
    assert r.status_code == 503
    store = r.json()["dependencies"]["store"]
    assert store["ok"] is False and "store probe did not finish" in store["detail"]
    gate.open()


# ------------------------------------------------------------------------------ Redis outage


def _dead_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port: int = s.getsockname()[1]
    s.close()  # nothing listens there: connections are refused
    return port


def test_a_redis_ledger_outage_is_a_503_on_carts_orders_and_cancels_never_a_500(
        tmp_path: Path) -> None:
    import msgspec

    from pricepilot.promotions.ledger_redis import RedisLedger
    from pricepilot.serving import schemas as s
    from pricepilot.store.repositories import OrderRecord

    settings = engine_settings(tmp_path, **{"service.retry_after_seconds": 2})
    promote_small_model(settings.models_dir)
    store = open_store(f"sqlite:///{tmp_path / 'pp.db'}")
    store.migrate()
    store.upsert_products(catalogue())
    url = f"redis://127.0.0.1:{_dead_port()}/0?socket_timeout=0.2&socket_connect_timeout=0.2"
    backend = EngineBackend(settings, store=store, clock=FixedClock(NOW), seed=7,
                            ledger=RedisLedger.from_url(url, prefix="pp:test:"))
    # an order confirmed before the outage, so cancelling it needs the ledger
    conf = s.OrderConfirmation(order_id="o0", status="confirmed", cart=s.PricedCart(
        currency="EUR", lines=[], subtotal=0, discount=0, shipping=0, shipping_discount=0,
        total=0), redemptions=[])
    store.repositories().orders.add(OrderRecord(
        order_id="o0", fingerprint="f", shopper_id=None, status="confirmed",
        body=msgspec.json.encode(conf).decode(), created_at=0))
    with Served(settings, backend) as served, served.client(SF) as c:
        cart = {"currency": "EUR", "lines": [{"product_id": "SKU-1"}], "customer_id": "c1"}
        for path, body in (("/v1/carts/price", cart), ("/v1/orders", {**cart, "order_id": "o1"}),
                           ("/v1/orders/o0/cancel", None)):
            r = c.post(path, json=body) if body is not None else c.post(path)
            assert r.status_code == 503, (path, r.text)
            assert r.headers["Retry-After"] == "2"
            assert "redis" in r.json()["message"].lower() or "ledger" in r.json()["message"]
        assert_model_quotes(c)  # quotes need no ledger
    backend.close()


def test_an_online_features_outage_after_the_write_is_a_503_and_the_resend_is_a_duplicate(
        served: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    import redis

    features = served.backend.app.features
    real = features.learn_many

    def down(*a: object, **k: object) -> None:
        raise redis.ConnectionError("Connection refused")

    monkeypatch.setattr(features, "learn_many", down)
    with served.client(SF) as c:
        r = c.post("/v1/events", json=[view("e1")])
        assert r.status_code == 503 and r.headers["Retry-After"] == "2", r.text
        monkeypatch.setattr(features, "learn_many", real)
        r = c.post("/v1/events", json=[view("e1")])
        assert r.status_code == 202 and r.json() == {"accepted": 0, "duplicates": 1}
