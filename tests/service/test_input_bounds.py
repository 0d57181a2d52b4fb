"""Issue #13 points 1, 2, 3 and 8 through the HTTP app: every text field has a declared length
and allowed characters, money and stock a declared range, ids are never empty, an order id never
holds "/", and a body is parsed only when declared application/json. The refusals are 4xx naming
the field, on the real backend (SQLite, and PostgreSQL where the probe found 500s), and nothing
is stored."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from pricepilot.service.engine_backend import EngineBackend

from .conftest import AD, SF
from .engine_support import NOW, engine_client, engine_settings

Client = tuple[TestClient, EngineBackend]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def both(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Client]:
    """The real backend on SQLite and on PostgreSQL (where the probe's 500s were)."""
    if request.param == "sqlite":
        settings = engine_settings(tmp_path)
        url = None
    else:
        url = request.getfixturevalue("pg_url")
        settings = engine_settings(tmp_path, **{"store.type": "postgresql", "store.url": url})
    with engine_client(settings, store_url=url) as c:
        yield c


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Client]:
    """The real backend on SQLite (the wire refusals do not depend on the store)."""
    with engine_client(engine_settings(tmp_path)) as c:
        yield c


def view(**kw: Any) -> dict[str, Any]:
    return {"type": "view", "event_id": "e1", "customer_id": "c1", "product_id": "SKU-1",
            "price": 1099, "currency": "EUR", "session_id": "s1",
            "ts": (NOW - timedelta(minutes=5)).isoformat(), **kw}


def refused(r: Any, path: str, status: int = 422) -> str:
    assert r.status_code == status, r.text
    body = r.json()
    assert [d["path"] for d in body["details"]] == [path], body
    return str(body["details"][0]["reason"])


# ------------------------------------------------------------------------------------- point 1


@pytest.mark.parametrize(("field", "value"), [
    ("event_id", "e" * 201), ("session_id", "s" * 201), ("channel", "c" * 201),
    ("event_id", "e\x001"), ("session_id", "s\x001"), ("channel", "web\x00"),
    ("event_id", "e" * 129), ("channel", "c" * 65), ("device", "d\x07"),
    ("customer_id", "c\x00"), ("product_id", "SKU\n1"), ("quote_id", "q 1"),
])
def test_point1_overlong_or_nul_event_text_is_a_422_naming_the_field(
        both: Client, field: str, value: str) -> None:
    client, backend = both
    r = client.post("/v1/events", headers=SF, json=[view(**{field: value})])
    refused(r, f"$[0].{field}")
    assert backend.app.store.count_events() == 0


def test_point1_an_order_id_with_a_nul_byte_is_a_422(both: Client) -> None:
    client, _ = both
    r = client.post("/v1/orders", headers=SF, json={
        "order_id": "o\x001", "currency": "EUR", "lines": [{"product_id": "SKU-1"}]})
    refused(r, "$.order_id")
    assert client.post("/v1/orders/o1/cancel", headers=SF).status_code == 404  # nothing stored


def test_point1_event_text_at_its_bound_is_stored(both: Client) -> None:
    client, backend = both
    r = client.post("/v1/events", headers=SF, json=[view(
        event_id="e" * 128, session_id="s" * 128, channel="c" * 64, device="mobile app")])
    assert r.status_code == 202, r.text
    assert backend.app.store.count_events() == 1


# ------------------------------------------------------------------------------------- point 2


PRODUCT = {"product_id": "NEW-1", "title": "Lamp", "category": "home", "currency": "EUR",
           "unit_cost": 1500, "list_price": 4990}


@pytest.mark.parametrize(("field", "value"), [
    ("list_price", 2**63), ("list_price", 10**13 + 1), ("unit_cost", 2**63), ("stock", 2**63),
    ("stock", 10**9 + 1), ("title", "x" * 201), ("title", "La\x00mp"), ("category", "a/b"),
    ("brand", "b\x00"),
])
def test_point2_money_stock_and_text_beyond_their_bounds_are_a_422(
        both: Client, field: str, value: object) -> None:
    client, backend = both
    r = client.put("/v1/admin/products/NEW-1", headers=AD, json={**PRODUCT, field: value})
    refused(r, f"$.{field}")
    assert "NEW-1" not in backend.app.store.product_ids()


@pytest.mark.parametrize(("field", "value"), [
    ("floor", 2**63), ("ceiling", 10**13 + 1), ("ladder", [999, 2**63]), ("ending_modulus", 2**63),
])
def test_point2_guardrail_prices_beyond_the_money_bound_are_a_422(
        engine: Client, field: str, value: object) -> None:
    client, backend = engine
    r = client.put("/v1/admin/products/NEW-1", headers=AD,
                   json={**PRODUCT, "guardrails": {field: value}})
    assert r.status_code == 422, r.text
    assert r.json()["details"][0]["path"].startswith(f"$.guardrails.{field}")
    assert "NEW-1" not in backend.app.store.product_ids()
    r = client.put("/v1/admin/guardrails/home", headers=AD, json={field: value})
    assert r.status_code == 422, r.text


def test_point2_event_money_and_quantities_beyond_their_bounds_are_a_422(engine: Client) -> None:
    client, backend = engine
    refused(client.post("/v1/events", headers=SF, json=view(price=2**63)), "$.price")
    cart = {**view(type="add_to_cart", quantity=10_001)}
    del cart["session_id"]
    refused(client.post("/v1/events", headers=SF, json=cart), "$.quantity")
    stock = {"type": "inventory", "event_id": "i1", "product_id": "SKU-1", "stock": 2**63,
             "ts": NOW.isoformat()}
    refused(client.post("/v1/events", headers=SF, json=stock), "$.stock")
    assert backend.app.store.count_events() == 0


# ------------------------------------------------------------------------------------- point 3


@pytest.mark.parametrize("field", ["event_id", "customer_id", "product_id", "session_id"])
def test_point3_an_empty_event_id_or_user_id_is_a_422_naming_it(engine: Client, field: str) -> None:
    client, backend = engine
    reason = refused(client.post("/v1/events", headers=SF, json=view(**{field: ""})),
                     f"$.{field}")
    assert "length" in reason
    assert backend.app.store.count_events() == 0


@pytest.mark.parametrize(("path", "body", "field"), [
    ("/v1/orders", {"order_id": "", "currency": "EUR", "lines": [{"product_id": "SKU-1"}]},
     "$.order_id"),
    ("/v1/orders", {"order_id": "o1", "currency": "EUR", "lines": [{"product_id": ""}]},
     "$.lines[0].product_id"),
    ("/v1/quotes", {"product_ids": ["SKU-1"], "customer_id": ""}, "$.customer_id"),
    ("/v1/carts/price", {"currency": "EUR", "lines": [{"product_id": "SKU-1"}], "cart_id": ""},
     "$.cart_id"),
])
def test_point3_empty_ids_anywhere_are_a_422_naming_the_field(
        engine: Client, path: str, body: dict[str, Any], field: str) -> None:
    client, _ = engine
    refused(client.post(path, headers=SF, json=body), field)


# ------------------------------------------------------------------------------------- point 8


@pytest.mark.parametrize("order_id", ["a/b", "o 1", "x\t"])
def test_point8_an_order_id_that_could_not_be_cancelled_is_refused(
        engine: Client, order_id: str) -> None:
    client, _ = engine
    r = client.post("/v1/orders", headers=SF, json={
        "order_id": order_id, "currency": "EUR", "lines": [{"product_id": "SKU-1"}]})
    refused(r, "$.order_id")


def test_point8_an_order_confirmed_is_cancelled_by_its_path(engine: Client) -> None:
    client, _ = engine
    r = client.post("/v1/orders", headers=SF, json={
        "order_id": "o-1.x:y", "currency": "EUR", "lines": [{"product_id": "SKU-1"}]})
    assert r.status_code == 201, r.text
    cancel = client.post("/v1/orders/o-1.x:y/cancel", headers=SF)
    assert cancel.status_code == 200 and cancel.json()["status"] == "cancelled"


@pytest.mark.parametrize("content_type", [
    "text/plain", "application/x-www-form-urlencoded", None, "application/jsonx",
])
def test_point8_a_body_not_declared_json_is_a_415(engine: Client, content_type: str | None) -> None:
    client, backend = engine
    headers = {**SF, **({"Content-Type": content_type} if content_type else {})}
    body = b'{"type": "view", "event_id": "e1", "customer_id": "c1", "product_id": "SKU-1", ' \
           b'"price": 1099, "currency": "EUR", "ts": "2026-03-02T11:00:00Z"}'
    r = client.post("/v1/events", headers=headers, content=body)
    assert r.status_code == 415, r.text
    assert r.json()["error"] == "unsupported_media_type"
    assert backend.app.store.count_events() == 0
    ok = client.post("/v1/events", content=body,
                     headers={**SF, "Content-Type": "application/json; charset=utf-8"})
    assert ok.status_code == 202, ok.text
