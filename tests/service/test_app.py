from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from pricepilot.service.app import create_app

from .conftest import AD, SF, make_settings
from .fake_backend import FakeBackend, sample_products

SF_JSON = {**SF, "Content-Type": "application/json"}
TS = "2026-03-01T10:00:00+00:00"


def view(event_id: str, user: str = "c1") -> dict[str, Any]:
    return {"type": "view", "event_id": event_id, "ts": TS, "customer_id": user,
            "product_id": "SKU-1", "price": 1009, "currency": "EUR"}


def detail(r: Any) -> tuple[str, str]:
    body = r.json()
    assert r.status_code == 422, body
    assert body["error"] == "validation_error"
    d = body["details"][0]
    return d["path"], d["reason"]


def metric(client: TestClient, name: str) -> float:
    total = 0.0
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(name) and not line.startswith("#"):
            total += float(line.rsplit(" ", 1)[1])
    return total


# ---------------------------------------------------------------------------------------- events


def test_a_single_event_and_a_batch_are_both_accepted(client: TestClient) -> None:
    r = client.post("/v1/events", json=view("e1"), headers=SF)
    assert r.status_code == 202 and r.json() == {"accepted": 1, "duplicates": 0}
    r = client.post("/v1/events", json=[view("e2"), view("e3")], headers=SF)
    assert r.json() == {"accepted": 2, "duplicates": 0}


def test_resending_events_is_idempotent_by_event_id(
    client: TestClient, backend: FakeBackend
) -> None:
    client.post("/v1/events", json=[view("e1"), view("e2")], headers=SF)
    r = client.post("/v1/events", json=[view("e2"), view("e3")], headers=SF)
    assert r.json() == {"accepted": 1, "duplicates": 1}
    assert sorted(backend.events) == ["e1", "e2", "e3"]
    assert metric(client, 'pricepilot_events_total{result="duplicate"}') == 1


@pytest.mark.parametrize(
    ("body", "path", "reason"),
    [
        ({**view("e1"), "price": "9.99"}, "$.price", "Expected `int`, got `str`"),
        ([{**view("e1"), "type": "teleport"}], "$[0].type", "Invalid value 'teleport'"),
        ({k: v for k, v in view("e1").items() if k != "customer_id"}, "$",
         "Object missing required field `customer_id`"),
        ([], "$", "Expected `array` of length >= 1"),
        ([view(f"e{i}") for i in range(1001)], "$", "Expected `array` of length <= 1000"),
    ],
)
def test_bad_events_are_refused_with_the_path_and_reason(
    client: TestClient, body: Any, path: str, reason: str
) -> None:
    got_path, got_reason = detail(client.post("/v1/events", json=body, headers=SF))
    assert got_path == path and reason in got_reason


def test_a_naive_timestamp_refused_by_the_backend_is_a_422_naming_the_field(
    client: TestClient,
) -> None:
    path, reason = detail(
        client.post("/v1/events", json=[{**view("e1"), "ts": "2026-03-01T10:00:00"}], headers=SF)
    )
    assert path == "$[0].ts" and "timezone" in reason


def test_malformed_json_is_a_422(client: TestClient) -> None:
    r = client.post("/v1/events", content=b'{"type": ', headers=SF_JSON)
    path, reason = detail(r)
    assert path == "$" and "malformed JSON" in reason


def test_events_not_durably_written_are_refused_with_503_and_retry_after(
    client: TestClient, backend: FakeBackend
) -> None:
    backend.event_log_down = True
    r = client.post("/v1/events", json=view("e1"), headers=SF)
    assert r.status_code == 503 and r.headers["retry-after"] == "5"
    assert backend.events == {}
    backend.event_log_down = False
    assert client.post("/v1/events", json=view("e1"), headers=SF).json()["accepted"] == 1


# ---------------------------------------------------------------------------------------- quotes


def test_quotes_come_back_in_request_order(client: TestClient) -> None:
    r = client.post("/v1/quotes", json={"product_ids": ["SKU-3", "SKU-1"], "customer_id": "c1"},
                    headers=SF)
    assert r.status_code == 200
    body = r.json()
    assert [q["product_id"] for q in body["quotes"]] == ["SKU-3", "SKU-1"]
    assert body["fallback"] is False and body["quotes"][0]["price"] == 1029
    assert metric(client, 'pricepilot_price_decisions_total{fallback="false"}') == 2


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"product_ids": []}, "$.product_ids"),
        ({"product_ids": [f"SKU-{i}" for i in range(101)]}, "$.product_ids"),
        ({"product_ids": [""]}, "$.product_ids[0]"),
        ({"product_ids": ["SKU-1"], "currency": "euro"}, "$.currency"),
        ({"product_ids": ["SKU-1"], "discount": 5}, "$"),
    ],
)
def test_bad_quote_requests_name_the_field(client: TestClient, body: Any, path: str) -> None:
    assert detail(client.post("/v1/quotes", json=body, headers=SF))[0] == path


def test_an_unknown_product_is_a_404_not_a_fallback(client: TestClient) -> None:
    r = client.post("/v1/quotes", json={"product_ids": ["nope"]}, headers=SF)
    assert r.status_code == 404 and r.json()["error"] == "not_found"


def test_an_unavailable_engine_gives_guarded_list_prices_flagged_as_fallback(
    client: TestClient, backend: FakeBackend
) -> None:
    backend.pricing_down = True
    r = client.post("/v1/quotes", json={"product_ids": ["SKU-2"]}, headers=SF)
    assert r.status_code == 200
    body = r.json()
    assert body["fallback"] is True and body["quotes"][0]["fallback"] is True
    assert body["quotes"][0]["price"] == body["quotes"][0]["list_price"]
    assert metric(client, 'pricepilot_quote_fallbacks_total{dependency="demand model"}') == 1
    assert metric(client, 'pricepilot_price_decisions_total{fallback="true"}') == 1


def test_an_engine_bug_also_falls_back_instead_of_a_500(
    client: TestClient, backend: FakeBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(_: Any) -> Any:
        raise ZeroDivisionError("bug")

    monkeypatch.setattr(backend, "quote", broken)
    r = client.post("/v1/quotes", json={"product_ids": ["SKU-2"]}, headers=SF)
    assert r.status_code == 200 and r.json()["fallback"] is True
    assert metric(client, 'pricepilot_quote_fallbacks_total{dependency="engine_error"}') == 1


def test_a_misconfigured_engine_falls_back_too(
    client: TestClient, backend: FakeBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pricepilot.errors import ConfigError

    async def broken(_: Any) -> Any:
        raise ConfigError("pricing.grid_size", "bad")

    monkeypatch.setattr(backend, "quote", broken)
    r = client.post("/v1/quotes", json={"product_ids": ["SKU-2"]}, headers=SF)
    assert r.status_code == 200 and r.json()["fallback"] is True
    assert metric(client, 'pricepilot_quote_fallbacks_total{dependency="config_error"}') == 1


def test_when_the_fallback_is_unavailable_too_the_answer_is_503_not_500(
    client: TestClient, backend: FakeBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pricepilot.errors import Unavailable

    async def down(_: Any) -> Any:
        raise Unavailable("catalogue", "store unreachable")

    backend.pricing_down = True
    monkeypatch.setattr(backend, "fallback_quote", down)
    r = client.post("/v1/quotes", json={"product_ids": ["SKU-2"]}, headers=SF)
    assert r.status_code == 503 and "retry-after" in r.headers


# ----------------------------------------------------------------------------- carts and orders

CART = {"currency": "EUR", "lines": [{"product_id": "SKU-0", "quantity": 2}]}


def test_a_cart_is_priced_with_promotions(client: TestClient) -> None:
    client.post("/v1/admin/promotions", headers=AD, json={
        "name": "10% off", "benefits": [{"type": "percent_off", "percent": 10}]})
    r = client.post("/v1/carts/price", json=CART, headers=SF)
    assert r.status_code == 200
    body = r.json()
    assert (body["subtotal"], body["discount"], body["total"]) == (1998, 199, 1799)
    assert body["applied"][0]["promotion_id"] == "promo-1"


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({**CART, "lines": []}, "$.lines"),
        ({**CART, "lines": [{"product_id": "SKU-0", "quantity": 0}]}, "$.lines[0].quantity"),
        ({**CART, "shipping": -1}, "$.shipping"),
        ({**CART, "coupons": ["x"] * 21}, "$.coupons"),
        ({"lines": CART["lines"]}, "$"),
    ],
)
def test_bad_carts_name_the_field(client: TestClient, body: Any, path: str) -> None:
    assert detail(client.post("/v1/carts/price", json=body, headers=SF))[0] == path


ORDER = {**CART, "order_id": "o-1"}


def test_confirming_an_order_twice_redeems_once(client: TestClient) -> None:
    client.post("/v1/admin/promotions", headers=AD, json={
        "name": "2 off", "benefits": [{"type": "amount_off", "amount": 200}], "usage_limit": 5})
    first = client.post("/v1/orders", json=ORDER, headers=SF)
    assert first.status_code == 201 and first.json()["replayed"] is False
    again = client.post("/v1/orders", json=ORDER, headers=SF)
    assert again.status_code == 200 and again.json()["replayed"] is True
    assert again.json()["cart"] == first.json()["cart"]
    promo = client.get("/v1/admin/promotions/promo-1", headers=AD).json()
    assert (promo["redemptions"], promo["redeemed_amount"]) == (1, 200)
    assert metric(client, "pricepilot_promotion_redemptions_total") == 1


def test_an_order_id_reused_with_other_lines_is_a_409(client: TestClient) -> None:
    client.post("/v1/orders", json=ORDER, headers=SF)
    other = {**ORDER, "lines": [{"product_id": "SKU-1"}]}
    r = client.post("/v1/orders", json=other, headers=SF)
    assert r.status_code == 409 and r.json()["error"] == "conflict"


def test_bad_orders_name_the_field(client: TestClient) -> None:
    assert detail(client.post("/v1/orders", json={**ORDER, "order_id": ""}, headers=SF))[0] == (
        "$.order_id"
    )


def test_cancelling_releases_redemptions_once(client: TestClient) -> None:
    client.post("/v1/admin/promotions", headers=AD, json={
        "name": "2 off", "benefits": [{"type": "amount_off", "amount": 200}]})
    client.post("/v1/orders", json=ORDER, headers=SF)
    for _ in range(2):
        r = client.post("/v1/orders/o-1/cancel", headers=SF)
        assert r.status_code == 200 and r.json()["status"] == "cancelled"
    assert client.get("/v1/admin/promotions/promo-1", headers=AD).json()["redemptions"] == 0
    assert client.post("/v1/orders/nope/cancel", headers=SF).status_code == 404
    path, _ = detail(client.post(f"/v1/orders/{'x' * 129}/cancel", headers=SF))
    assert path == "$.path.order_id"


# ------------------------------------------------------------------------------------ promotions

PROMO = {"name": "Spring", "benefits": [{"type": "percent_off", "percent": 20}],
         "conditions": [{"type": "min_subtotal", "amount": 5000}]}


def test_promotions_can_be_created_listed_updated_paused_and_deleted(client: TestClient) -> None:
    r = client.post("/v1/admin/promotions", json=PROMO, headers=AD)
    assert r.status_code == 201
    pid = r.json()["promotion_id"]
    assert [p["promotion_id"] for p in
            client.get("/v1/admin/promotions", headers=AD).json()["promotions"]] == [pid]
    r = client.put(f"/v1/admin/promotions/{pid}", json={**PROMO, "name": "Summer"}, headers=AD)
    assert r.json()["spec"]["name"] == "Summer"
    assert client.post(f"/v1/admin/promotions/{pid}/pause", headers=AD).json()["status"] == (
        "paused"
    )
    assert client.post(f"/v1/admin/promotions/{pid}/resume", headers=AD).json()["status"] == (
        "active"
    )
    assert client.delete(f"/v1/admin/promotions/{pid}", headers=AD).status_code == 204
    assert client.get(f"/v1/admin/promotions/{pid}", headers=AD).status_code == 404
    assert client.delete(f"/v1/admin/promotions/{pid}", headers=AD).status_code == 404
    assert client.put(f"/v1/admin/promotions/{pid}", json=PROMO, headers=AD).status_code == 404


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({**PROMO, "benefits": []}, "$.benefits"),
        ({**PROMO, "benefits": [{"type": "percent_off", "percent": 120}]}, "$.benefits[0].percent"),
        ({**PROMO, "benefits": [{"type": "bogof"}]}, "$.benefits[0].type"),
        ({**PROMO, "starts_at": "2026-03-02T00:00:00Z", "ends_at": "2026-03-01T00:00:00Z"},
         "$.ends_at"),
    ],
)
def test_invalid_promotions_are_refused_when_defined(
    client: TestClient, body: Any, path: str
) -> None:
    assert detail(client.post("/v1/admin/promotions", json=body, headers=AD))[0] == path


def test_a_preview_prices_the_sample_cart_without_storing_anything(
    client: TestClient, backend: FakeBackend
) -> None:
    cart = {"currency": "EUR", "lines": [{"product_id": "SKU-19", "quantity": 5}]}
    r = client.post("/v1/admin/promotions/preview", json={"promotion": PROMO, "cart": cart},
                    headers=AD)
    assert r.status_code == 200 and r.json()["discount"] == 5945 * 20 // 100
    assert backend.promotions == {}
    small = {"currency": "EUR", "lines": [{"product_id": "SKU-0"}]}
    r = client.post("/v1/admin/promotions/preview", json={"promotion": PROMO, "cart": small},
                    headers=AD)
    assert r.json()["discount"] == 0 and r.json()["not_applied"][0]["hint"] == "spend 4001 more"
    assert detail(client.post("/v1/admin/promotions/preview", json={"promotion": PROMO},
                              headers=AD))[0] == "$"


# ---------------------------------------------------------------------- products and guardrails

PRODUCT = {"product_id": "NEW-1", "title": "Lamp", "category": "home", "currency": "EUR",
           "unit_cost": 1500, "list_price": 3999}


def test_products_are_upserted_read_and_paged(client: TestClient) -> None:
    r = client.put("/v1/admin/products/NEW-1", json=PRODUCT, headers=AD)
    assert r.status_code == 200 and r.json()["list_price"] == 3999
    assert client.get("/v1/admin/products/NEW-1", headers=AD).json()["title"] == "Lamp"
    assert client.get("/v1/admin/products/NOPE", headers=AD).status_code == 404
    page = client.get("/v1/admin/products?limit=5", headers=AD).json()
    assert len(page["products"]) == 5 and page["next_after"] == page["products"][-1]["product_id"]
    nxt = client.get(f"/v1/admin/products?limit=5&after={page['next_after']}", headers=AD).json()
    assert nxt["products"][0]["product_id"] > page["next_after"]


@pytest.mark.parametrize(
    ("url", "body", "path"),
    [
        ("/v1/admin/products/NEW-1", {**PRODUCT, "list_price": 0}, "$.list_price"),
        ("/v1/admin/products/NEW-1", {**PRODUCT, "unit_cost": "15.00"}, "$.unit_cost"),
        ("/v1/admin/products/OTHER", PRODUCT, "$.product_id"),
        ("/v1/admin/products/NEW-1", {**PRODUCT, "guardrails": {"floor": 5000, "ceiling": 10}},
         "$.guardrails.floor"),
    ],
)
def test_bad_products_name_the_field(client: TestClient, url: str, body: Any, path: str) -> None:
    assert detail(client.put(url, json=body, headers=AD))[0] == path


def test_bad_product_list_queries_name_the_parameter(client: TestClient) -> None:
    assert detail(client.get("/v1/admin/products?limit=0", headers=AD))[0] == "$.query.limit"
    assert detail(client.get("/v1/admin/products?limit=x", headers=AD))[0] == "$.query.limit"


def test_category_guardrails_apply_to_quotes(client: TestClient) -> None:
    r = client.put("/v1/admin/guardrails/cat-1", json={"ceiling": 1000}, headers=AD)
    assert r.status_code == 200 and r.json() == {"category": "cat-1",
                                                 "guardrails": {"ceiling": 1000}}
    assert client.get("/v1/admin/guardrails/cat-1", headers=AD).json()["guardrails"] == {
        "ceiling": 1000}
    assert len(client.get("/v1/admin/guardrails", headers=AD).json()["policies"]) == 1
    assert client.get("/v1/admin/guardrails/cat-2", headers=AD).status_code == 404
    q = client.post("/v1/quotes", json={"product_ids": ["SKU-11"]}, headers=SF).json()
    assert q["quotes"][0]["price"] == 1000 and q["quotes"][0]["binding_rule"] == "ceiling"
    assert detail(client.put("/v1/admin/guardrails/c", json={"ceiling": "high"}, headers=AD))[
        0] == "$.ceiling"
    assert detail(client.put("/v1/admin/guardrails/c", json={"ladder": []}, headers=AD))[
        0] == "$.ladder"
    # a ladder is a set of prices: kept ascending, without repeats
    r = client.put("/v1/admin/guardrails/c", json={"ladder": [3, 2, 3]}, headers=AD)
    assert r.status_code == 200 and r.json()["guardrails"]["ladder"] == [2, 3]


# ---------------------------------------------------------------------------------------- models


def test_models_are_listed_promoted_and_rolled_back(client: TestClient) -> None:
    assert client.get("/v1/admin/models", headers=AD).json()["active"] == "m2"
    assert client.post("/v1/admin/models/m3/promote", headers=AD).json()["status"] == "active"
    assert client.get("/v1/admin/models", headers=AD).json()["active"] == "m3"
    assert client.post("/v1/admin/models/rollback", headers=AD).json()["version"] == "m2"
    assert client.post("/v1/admin/models/rollback", headers=AD).json()["version"] == "m1"
    assert client.post("/v1/admin/models/rollback", headers=AD).status_code == 409
    assert client.post("/v1/admin/models/m9/promote", headers=AD).status_code == 404


# -------------------------------------------------------------------------------------- shoppers


def test_erasing_a_shopper_removes_their_events_and_consent(
    client: TestClient, backend: FakeBackend
) -> None:
    client.post("/v1/events", json=[view("e1", "c1"), view("e2", "c2")], headers=SF)
    r = client.put("/v1/shoppers/c1/consent", json={"personalisation": True}, headers=AD)
    assert r.status_code == 200 and r.json()["personalisation"] is True
    r = client.delete("/v1/shoppers/c1", headers=AD)
    assert r.json()["erased"] == {"events": 1, "consent": 1}
    assert list(backend.events) == ["e2"]
    assert client.delete("/v1/shoppers/c1", headers=AD).json()["erased"] == {
        "events": 0, "consent": 0}


def test_consent_needs_a_boolean(client: TestClient) -> None:
    r = client.put("/v1/shoppers/c1/consent", json={"personalisation": "yes"}, headers=AD)
    assert detail(r)[0] == "$.personalisation"


# --------------------------------------------------------------------------- limits and health


def test_a_body_over_the_limit_is_a_413_before_decoding(client: TestClient) -> None:
    big = b"[" + b" " * (256 * 1024) + b"]"
    r = client.post("/v1/events", content=big, headers=SF_JSON)
    assert r.status_code == 413 and r.json()["error"] == "body_too_large"


def test_a_streamed_body_over_the_limit_is_a_413(client: TestClient) -> None:
    def chunks() -> Any:
        for _ in range(300):
            yield b" " * 1024

    r = client.post("/v1/events", content=chunks(), headers=SF_JSON)
    assert r.status_code == 413


def test_readiness_reports_each_dependency(client: TestClient, backend: FakeBackend) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json()["ready"] is True
    backend.event_log_down = True
    r = client.get("/readyz")
    assert r.status_code == 503 and r.json()["dependencies"]["event_log"]["ok"] is False


def test_metrics_expose_latency_histograms_per_route(client: TestClient) -> None:
    client.post("/v1/quotes", json={"product_ids": ["SKU-1"]}, headers=SF)
    text = client.get("/metrics").text
    assert "# TYPE pricepilot_http_request_duration_seconds histogram" in text
    assert ('pricepilot_http_request_duration_seconds_bucket{le="0.5",method="POST",'
            'route="/v1/quotes"} 1.0') in text
    assert ('pricepilot_http_requests_total{method="POST",route="/v1/quotes",status="200"} 1.0'
            in text)


def test_two_apps_keep_separate_metrics() -> None:
    apps = [create_app(make_settings(), FakeBackend(sample_products(3))) for _ in range(2)]
    with TestClient(apps[0]) as a, TestClient(apps[1]) as b:
        a.get("/healthz")
        count = 'pricepilot_http_request_duration_seconds_count{method="GET",route="/healthz"}'
        assert f"{count} 1.0" in a.get("/metrics").text
        assert f"{count} 0.0" in b.get("/metrics").text


def test_without_configured_keys_every_v1_route_is_closed() -> None:
    app = create_app(make_settings(api_keys={}), FakeBackend())
    with TestClient(app) as c:
        assert c.post("/v1/quotes", json={"product_ids": ["a"]}, headers=SF).status_code == 401


LONG = "x" * 129


@pytest.mark.parametrize(
    ("method", "url", "param", "key"),
    [
        ("GET", f"/v1/admin/promotions/{LONG}", "promotion_id", AD),
        ("DELETE", f"/v1/admin/promotions/{LONG}", "promotion_id", AD),
        ("POST", f"/v1/admin/promotions/{LONG}/pause", "promotion_id", AD),
        ("POST", f"/v1/admin/promotions/{LONG}/resume", "promotion_id", AD),
        ("GET", f"/v1/admin/products/{LONG}", "product_id", AD),
        ("GET", f"/v1/admin/guardrails/{LONG}", "category", AD),
        ("POST", f"/v1/admin/models/{LONG}/promote", "version", AD),
        ("DELETE", f"/v1/shoppers/{LONG}", "customer_id", AD),
    ],
)
def test_an_overlong_path_parameter_is_a_422_naming_it(
    client: TestClient, method: str, url: str, param: str, key: dict[str, str]
) -> None:
    assert detail(client.request(method, url, headers=key))[0] == f"$.path.{param}"


def test_updating_a_promotion_validates_the_body_like_creating_one(client: TestClient) -> None:
    pid = client.post("/v1/admin/promotions", json=PROMO, headers=AD).json()["promotion_id"]
    r = client.put(f"/v1/admin/promotions/{pid}", json={**PROMO, "priority": -1}, headers=AD)
    assert detail(r)[0] == "$.priority"
    r = client.put(f"/v1/shoppers/{LONG}/consent", json={"personalisation": True}, headers=AD)
    assert detail(r)[0] == "$.path.customer_id"


def test_an_unknown_route_or_method_is_not_a_5xx(client: TestClient) -> None:
    assert client.get("/v1/nothing", headers=SF).status_code == 404
    r = client.patch("/v1/admin/promotions/p", headers=AD)
    assert r.status_code == 405 and set(r.headers["allow"].split(", ")) >= {"GET", "PUT", "DELETE"}


def test_point7_an_integral_float_is_an_integer_as_json_schema_counts_it(
    client: TestClient,
) -> None:
    cart = {"currency": "EUR", "lines": [{"product_id": "SKU-1", "quantity": 2.0}]}
    r = client.post("/v1/carts/price", json=cart, headers=SF)
    assert r.status_code == 200, r.text
    assert r.json()["lines"][0]["quantity"] == 2
    cart["lines"][0]["quantity"] = 2.5  # type: ignore[index]
    assert detail(client.post("/v1/carts/price", json=cart, headers=SF))[0] == "$.lines[0].quantity"
