"""The real backend through the HTTP app: SQLite store, in-process online features, a small model."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import msgspec
import pytest
from starlette.testclient import TestClient

from pricepilot.clock import FixedClock
from pricepilot.compliance.identity import Pseudonymiser
from pricepilot.service.engine_backend import EngineBackend

from .conftest import AD, SF
from .engine_support import NOW, engine_client, engine_settings, promote_small_model

Client = tuple[TestClient, EngineBackend]


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
def modelled(tmp_path: Path, clock: FixedClock) -> Iterator[Client]:
    settings = engine_settings(tmp_path)
    promote_small_model(settings.models_dir)
    with engine_client(settings, clock=clock) as c:
        yield c


def view(i: int, customer: str = "c1", product: str = "SKU-1", **kw: Any) -> dict[str, Any]:
    return {"type": "view", "event_id": f"v{i}-{customer}-{product}", "customer_id": customer,
            "product_id": product, "price": 1099, "currency": "EUR", "session_id": "s1",
            "ts": (NOW - timedelta(minutes=30 - i)).isoformat(), **kw}


def quote(client: TestClient, *products: str, **kw: Any) -> dict[str, Any]:
    r = client.post("/v1/quotes", headers=SF, json={"product_ids": list(products), **kw})
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def metric(client: TestClient, name: str) -> float:
    text = client.get("/metrics").text
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith(name) and not line.startswith("#"))


# ------------------------------------------------------------------------------------ events


def test_events_are_stored_pseudonymised_and_the_next_quote_reads_them(modelled: Client) -> None:
    client, backend = modelled
    r = client.post("/v1/events", headers=SF, json=[view(i) for i in range(3)])
    assert r.status_code == 202 and r.json() == {"accepted": 3, "duplicates": 0}
    pseudo = Pseudonymiser(backend.app.settings.security.pseudonym_key)("c1")
    stored = backend.app.store.events_frame()
    assert set(stored["user_id"]) == {pseudo}  # the shop's id never reaches storage
    # read-your-writes: the features a quote is computed from already count the three views
    p = backend.app.catalogue.products["SKU-1"]
    f = backend.app.features.features_for(pseudo, p, NOW, "s1")
    assert f["u_views_7d"] == 3.0 and f["u_session_views"] == 3.0
    body = quote(client, "SKU-1", "SKU-2", customer_id="c1", session_id="s1")
    assert body["fallback"] is False and [q["product_id"] for q in body["quotes"]] == [
        "SKU-1", "SKU-2"]
    assert body["quotes"][0]["model_version"] == backend.app.learning.models.current().version
    backend.app.decisions.flush()  # the decision log is written in batches
    logged = backend.app.store.decisions_frame()
    assert set(logged["decision_id"]) == {q["quote_id"] for q in body["quotes"]}
    assert set(logged["user_id"]) == {pseudo}


def test_resent_events_are_counted_as_duplicates_and_learned_once(modelled: Client) -> None:
    client, backend = modelled
    client.post("/v1/events", headers=SF, json=[view(0), view(1)])
    r = client.post("/v1/events", headers=SF, json=[view(1), view(2)])
    assert r.json() == {"accepted": 1, "duplicates": 1}
    pseudo = backend.app.pseudonymise("c1")
    assert backend.app.features.features_for(pseudo, backend.app.catalogue.products["SKU-1"], NOW)[
        "u_views_7d"] == 3.0


def test_an_event_for_an_unknown_product_is_refused_and_nothing_is_written(modelled: Client) -> None:
    client, backend = modelled
    r = client.post("/v1/events", headers=SF, json=[view(0), view(1, product="NOPE")])
    assert r.status_code == 422
    assert backend.app.store.count_events() == 0


def test_a_store_failure_on_events_is_a_503_and_nothing_is_acknowledged(
        modelled: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    client, backend = modelled
    from pricepilot.errors import Unavailable

    def down(*a: object, **k: object) -> int:
        raise Unavailable("store", "database is locked")

    monkeypatch.setattr(backend.app.store, "add_event_batch", down)
    r = client.post("/v1/events", headers=SF, json=view(0))
    assert r.status_code == 503 and r.headers["Retry-After"] == "5"
    monkeypatch.undo()
    # the shop resends; the event is then stored and learned exactly once
    assert client.post("/v1/events", headers=SF, json=view(0)).json()["accepted"] == 1


# ------------------------------------------------------------------------------------ quotes


def test_quotes_are_signed_guarded_and_logged(modelled: Client) -> None:
    client, backend = modelled
    q = quote(client, "SKU-3")["quotes"][0]
    p = backend.app.catalogue.products["SKU-3"]
    assert p.unit_cost * 1.1 <= q["price"] and q["currency"] == "EUR"
    assert q["list_price"] == p.list_price and q["signature"] and q["explanation"]
    assert q["expires_at"].startswith("2026-03-02T12:15")


def test_the_prior_price_is_the_lowest_earlier_price_and_the_disclosure_says_it_in_money(
    modelled: Client, clock: FixedClock,
) -> None:
    """The service records prices behind (its history answers from a cache that a record lowers
    at once): a quote's prior price must still be the earlier prices' lowest, never its own."""
    client, _ = modelled
    earlier: list[int] = []
    reductions = 0
    for _ in range(30):
        clock.advance(timedelta(seconds=1))
        q = quote(client, "SKU-1")["quotes"][0]  # anonymous: the public price
        if q["price"] < q["list_price"]:
            reductions += 1
            prior = min(earlier, default=None)
            assert q["reference_price"] == prior
            if prior is not None:
                assert q["disclosure"] == (f"Lowest price in the previous 30 days: "
                                           f"{prior // 100}.{prior % 100:02d} EUR.")
        else:
            assert q["reference_price"] is None and q["disclosure"] is None  # no reduction
        earlier.append(q["price"])
    assert reductions and len(set(earlier)) > 1  # exploration: reductions and several prices


def test_an_unknown_product_in_a_quote_is_a_404_not_a_fallback(modelled: Client) -> None:
    client, _ = modelled
    r = client.post("/v1/quotes", headers=SF, json={"product_ids": ["NOPE"]})
    assert r.status_code == 404


def test_without_a_promoted_model_quotes_fall_back_to_guarded_list_prices(
        tmp_path: Path) -> None:
    settings = engine_settings(tmp_path, **{"pricing.cold_start": "list_price"})
    with engine_client(settings) as (client, backend):
        body = quote(client, "SKU-1", "SKU-2")
        assert body["fallback"] is True and all(q["fallback"] for q in body["quotes"])
        assert [q["price"] for q in body["quotes"]] == [1099, 1199]
        assert metric(client, "pricepilot_quote_fallbacks_total") == 1
        backend.app.decisions.flush()
        assert set(backend.app.store.decisions_frame()["fallback"]) == {True}


def test_a_corrupt_model_artefact_gives_fallback_prices_and_counts_the_fallback(
        tmp_path: Path) -> None:
    settings = engine_settings(tmp_path)
    version = promote_small_model(settings.models_dir)
    (settings.models_dir / version / "model.joblib").write_bytes(b"not a pickle")
    with engine_client(settings) as (client, _):
        body = quote(client, "SKU-1")
        assert body["fallback"] is True and body["quotes"][0]["price"] == 1099
        assert metric(client, "pricepilot_quote_fallbacks_total") == 1
        ready = client.get("/readyz").json()
        assert ready["ready"] is True and ready["dependencies"]["demand_model"]["ok"] is False
        assert "content hash" in ready["dependencies"]["demand_model"]["detail"]


def test_a_model_promoted_through_the_api_is_used_by_the_next_quote_and_can_be_rolled_back(
        tmp_path: Path) -> None:
    settings = engine_settings(tmp_path)
    first = promote_small_model(settings.models_dir)
    with engine_client(settings) as (client, backend):
        old_engine = backend.app.learning._pricing.engine
        second = promote_small_model(settings.models_dir)  # registered (and promoted) elsewhere
        models = client.get("/v1/admin/models", headers=AD).json()
        assert models["active"] == second and len(models["models"]) == 2
        assert quote(client, "SKU-1")["quotes"][0]["model_version"] == second  # hot reload
        assert backend.app.learning._pricing.engine is not old_engine
        r = client.post("/v1/admin/models/rollback", headers=AD)
        assert r.status_code == 200 and r.json()["version"] == first
        assert quote(client, "SKU-1")["quotes"][0]["model_version"] == first
        assert client.post(f"/v1/admin/models/{second}/promote", headers=AD).json()[
            "status"] == "active"
        assert client.post("/v1/admin/models/nope/promote", headers=AD).status_code == 404


def test_rolling_back_with_nothing_to_roll_back_to_is_a_conflict(modelled: Client) -> None:
    client, _ = modelled
    assert client.post("/v1/admin/models/rollback", headers=AD).status_code == 409


def test_when_online_features_fail_the_quote_falls_back_instead_of_failing(
        modelled: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    client, backend = modelled

    def down(*a: object, **k: object) -> object:
        raise ConnectionError("redis gone")

    monkeypatch.setattr(backend.app.features, "features_many", down)
    body = quote(client, "SKU-1", customer_id="c1")
    assert body["fallback"] is True and body["quotes"][0]["price"] == 1099
    assert metric(client, "pricepilot_quote_fallbacks_total") == 1


# ------------------------------------------------------------------------------ consent


def test_personalisation_needs_consent_and_an_opt_out_applies_to_the_next_quote(
        modelled: Client) -> None:
    client, backend = modelled
    products = [f"SKU-{i}" for i in range(5)]
    for cid in ("c1", "c2"):
        client.post("/v1/events", headers=SF, json=[view(i, cid, p) for i in range(3)
                                                    for p in products])
    # no consent recorded: never personalised
    assert not any(q["personalised"] for q in quote(client, *products, customer_id="c2")["quotes"])
    r = client.put("/v1/shoppers/c1/consent", headers=AD, json={"personalisation": True})
    assert r.status_code == 200 and r.json()["personalisation"] is True
    seen = []
    calls: list[object] = []
    original = backend.app.learning._pricing.engine.decide_page

    def spy(items: Any, shopper: Any = None) -> Any:
        calls.append(shopper)
        return original(items, shopper)

    backend.app.learning._pricing.engine.decide_page = spy  # type: ignore[method-assign]
    seen.append(quote(client, *products, customer_id="c1"))
    assert calls[-1] is not None and calls[-1].shopper_id == backend.app.pseudonymise("c1")
    client.put("/v1/shoppers/c1/consent", headers=AD, json={"personalisation": False})
    body = quote(client, *products, customer_id="c1")
    assert calls[-1] is None  # the engine got no shopper: the public price
    assert not any(q["personalised"] for q in body["quotes"])
    assert all(q["disclosure"] is None or "personalised" not in q["disclosure"]
               for q in body["quotes"])


# -------------------------------------------------------------------------- carts, quotes


def cart(lines: list[dict[str, Any]], **kw: Any) -> dict[str, Any]:
    return {"currency": "EUR", "lines": lines, **kw}


def honoured_line(q: dict[str, Any], qty: int = 1) -> dict[str, Any]:
    return {"product_id": q["product_id"], "quantity": qty, "quote_id": q["quote_id"],
            "quote_signature": q["signature"]}


def test_a_cart_honours_a_valid_quote(modelled: Client) -> None:
    client, _ = modelled
    q = quote(client, "SKU-2", customer_id="c1")["quotes"][0]
    r = client.post("/v1/carts/price", headers=SF,
                    json=cart([honoured_line(q, 2), {"product_id": "SKU-1"}], customer_id="c1"))
    assert r.status_code == 200, r.text
    lines = r.json()["lines"]
    assert lines[0]["unit_price"] == q["price"] and lines[0]["quote_id"] == q["quote_id"]
    assert lines[1]["unit_price"] == 1099  # no quote: list price
    assert r.json()["total"] == 2 * q["price"] + 1099


def _tamper(token: str, **changes: Any) -> str:
    raw = msgspec.json.decode(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    fields = ["key_id", "price", "currency", "expires_at", "shopper_id", "digest", "signature"]
    for k, v in changes.items():
        raw[fields.index(k)] = v
    return base64.urlsafe_b64encode(msgspec.json.encode(raw)).decode().rstrip("=")


@pytest.mark.parametrize(
    ("change", "code"),
    [({"price": 1}, "altered_quote"),
     ({"signature": "0" * 64}, "forged_quote"),
     ({"key_id": "k-old"}, "unknown_quote_key")],
)
def test_an_altered_or_forged_quote_is_refused_with_a_clear_reason(
        modelled: Client, change: dict[str, Any], code: str) -> None:
    client, _ = modelled
    q = quote(client, "SKU-2")["quotes"][0]
    line = {**honoured_line(q), "quote_signature": _tamper(q["signature"], **change)}
    r = client.post("/v1/carts/price", headers=SF, json=cart([line]))
    assert r.status_code == 422
    detail = r.json()["details"][0]
    assert detail["path"] == "$.lines[0].quote_signature" and detail["reason"].startswith(code)


def test_a_quote_moved_to_another_product_or_shopper_is_refused(modelled: Client) -> None:
    client, _ = modelled
    q = quote(client, "SKU-2", customer_id="c1")["quotes"][0]
    moved = {**honoured_line(q), "product_id": "SKU-3"}
    assert client.post("/v1/carts/price", headers=SF,
                       json=cart([moved], customer_id="c1")).status_code == 422
    r = client.post("/v1/carts/price", headers=SF, json=cart([honoured_line(q)], customer_id="c9"))
    assert r.status_code == 422 and "another shopper" in r.json()["details"][0]["reason"]
    garbage = {**honoured_line(q), "quote_signature": "%%%"}
    assert client.post("/v1/carts/price", headers=SF,
                       json=cart([garbage], customer_id="c1")).status_code == 422


def test_an_expired_quote_is_refused(modelled: Client, clock: FixedClock) -> None:
    client, _ = modelled
    q = quote(client, "SKU-2")["quotes"][0]
    clock.advance(timedelta(minutes=16))
    r = client.post("/v1/carts/price", headers=SF, json=cart([honoured_line(q)]))
    assert r.status_code == 422 and r.json()["details"][0]["reason"].startswith("expired_quote")


def test_an_unknown_product_in_a_cart_names_the_line(modelled: Client) -> None:
    client, _ = modelled
    r = client.post("/v1/carts/price", headers=SF, json=cart([{"product_id": "NOPE"}]))
    assert r.status_code == 422 and r.json()["details"][0]["path"] == "$.lines[0].product_id"


# ------------------------------------------------------------------------- promotions, orders

COUPON = {"name": "Welcome 5", "benefits": [{"type": "amount_off", "amount": 500}],
          "coupon_code": "WELCOME", "usage_limit": 1, "stage": "order"}


def test_an_order_with_a_coupon_redeems_once_replays_idempotently_and_cancel_releases(
        modelled: Client) -> None:
    client, _ = modelled
    r = client.post("/v1/admin/promotions", headers=AD, json=COUPON)
    assert r.status_code == 201, r.text
    pid = r.json()["promotion_id"]
    order = {"order_id": "o1", "currency": "EUR", "lines": [{"product_id": "SKU-1"}],
             "coupons": ["welcome"], "customer_id": "c1"}
    first = client.post("/v1/orders", headers=SF, json=order)
    assert first.status_code == 201, first.text
    assert first.json()["redemptions"] == [{"promotion_id": pid, "amount": 500}]
    assert first.json()["cart"]["total"] == 1099 - 500
    again = client.post("/v1/orders", headers=SF, json=order)
    assert again.status_code == 200 and again.json()["replayed"] is True
    assert again.json()["cart"] == first.json()["cart"]
    assert metric(client, "pricepilot_promotion_redemptions_total") == 1
    reused = client.post("/v1/orders", headers=SF, json={**order, "coupons": []})
    assert reused.status_code == 409
    promo = client.get(f"/v1/admin/promotions/{pid}", headers=AD).json()
    assert promo["redemptions"] == 1 and promo["redeemed_amount"] == 500
    # used up: the next order's cart says so, and confirming it is refused (409), never
    # confirmed at a total the shopper did not see
    second = {**order, "order_id": "o2", "customer_id": "c2"}
    priced = client.post("/v1/carts/price", headers=SF,
                         json={k: v for k, v in second.items() if k != "order_id"}).json()
    assert priced["discount"] == 0 and priced["not_applied"]
    refused = client.post("/v1/orders", headers=SF, json=second)
    assert refused.status_code == 409 and "welcome" in refused.json()["message"].lower()
    cancelled = client.post("/v1/orders/o1/cancel", headers=SF)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert client.post("/v1/orders/o1/cancel", headers=SF).json()["status"] == "cancelled"
    assert client.get(f"/v1/admin/promotions/{pid}", headers=AD).json()["redemptions"] == 0
    third = client.post("/v1/orders", headers=SF, json={**order, "order_id": "o3"})
    assert third.json()["redemptions"] == [{"promotion_id": pid, "amount": 500}]
    assert client.post("/v1/orders/nope/cancel", headers=SF).status_code == 404


def test_an_order_honours_its_quote_and_refuses_a_forged_one(modelled: Client) -> None:
    client, _ = modelled
    q = quote(client, "SKU-4", customer_id="c1")["quotes"][0]
    order = {"order_id": "oq", "currency": "EUR", "lines": [honoured_line(q)],
             "customer_id": "c1"}
    r = client.post("/v1/orders", headers=SF, json=order)
    assert r.status_code == 201 and r.json()["cart"]["lines"][0]["unit_price"] == q["price"]
    forged = {**order, "order_id": "oq2",
              "lines": [{**honoured_line(q), "quote_signature": _tamper(q["signature"], price=5)}]}
    assert client.post("/v1/orders", headers=SF, json=forged).status_code == 422


def test_promotions_are_managed_through_the_repository_and_paused_ones_do_not_apply(
        modelled: Client) -> None:
    client, backend = modelled
    spec = {"name": "10% kitchen", "benefits": [{"type": "percent_off", "percent": 10,
                                                  "categories": ["kitchen"]}]}
    pid = client.post("/v1/admin/promotions", headers=AD, json=spec).json()["promotion_id"]
    assert [p.id for p in backend.app.promotion_set.repository.list()] == [pid]
    body = cart([{"product_id": "SKU-1"}, {"product_id": "SKU-2"}])  # kitchen, garden
    priced = client.post("/v1/carts/price", headers=SF, json=body).json()
    assert priced["discount"] == 110 and priced["applied"][0]["promotion_id"] == pid
    assert client.post(f"/v1/admin/promotions/{pid}/pause", headers=AD).json()["status"] == "paused"
    assert client.post("/v1/carts/price", headers=SF, json=body).json()["discount"] == 0
    preview = client.post("/v1/admin/promotions/preview", headers=AD,
                          json={"promotion": spec, "cart": body})
    assert preview.status_code == 200 and preview.json()["discount"] == 110
    client.post(f"/v1/admin/promotions/{pid}/resume", headers=AD)
    r = client.put(f"/v1/admin/promotions/{pid}", headers=AD,
                   json={**spec, "benefits": [{"type": "percent_off", "percent": 20,
                                               "categories": ["kitchen"]}]})
    assert r.status_code == 200 and r.json()["spec"]["benefits"][0]["percent"] == 20
    assert client.post("/v1/carts/price", headers=SF, json=body).json()["discount"] == 220
    two = {**spec, "benefits": [*spec["benefits"], {"type": "free_shipping"}]}
    bad = client.post("/v1/admin/promotions", headers=AD, json=two)
    assert bad.status_code == 422 and bad.json()["details"][0]["path"] == "$.benefits"
    assert client.delete(f"/v1/admin/promotions/{pid}", headers=AD).status_code == 204
    assert backend.app.promotion_set.repository.list() == []
    assert client.get(f"/v1/admin/promotions/{pid}", headers=AD).status_code == 404


def test_a_competitor_promotion_event_switches_on_a_matching_promotion(modelled: Client) -> None:
    client, backend = modelled
    from pricepilot.promotions import model as pm

    backend.app.promotion_set.repository.upsert(pm.Promotion(
        id="MATCH", benefit=pm.PercentOff(percent="5"),
        conditions=[pm.CompetitorPromotion(scope="product")]))
    body = cart([{"product_id": "SKU-1"}])
    assert client.post("/v1/carts/price", headers=SF, json=body).json()["discount"] == 0
    client.post("/v1/events", headers=SF, json={
        "type": "competitor_price", "event_id": "cp1", "product_id": "SKU-1",
        "competitor": "rival", "price": 999, "currency": "EUR", "on_promotion": True,
        "ts": (NOW - timedelta(hours=1)).isoformat()})
    assert client.post("/v1/carts/price", headers=SF, json=body).json()["discount"] == 55


# ---------------------------------------------------------------------- catalogue, privacy


def test_a_product_updated_through_the_api_is_quoted_at_once(modelled: Client) -> None:
    client, _ = modelled
    new = {"product_id": "NEW-1", "title": "Kettle", "category": "kitchen", "currency": "EUR",
           "unit_cost": 1000, "list_price": 2999}
    assert client.put("/v1/admin/products/NEW-1", headers=AD, json=new).status_code == 200
    assert quote(client, "NEW-1")["quotes"][0]["product_id"] == "NEW-1"
    page = client.get("/v1/admin/products?limit=2", headers=AD).json()
    assert len(page["products"]) == 2 and page["next_after"] == page["products"][-1]["product_id"]
    r = client.put("/v1/admin/guardrails/kitchen", headers=AD, json={"floor": 2500})
    assert r.status_code == 200
    assert quote(client, "SKU-1")["quotes"][0]["price"] >= 2500  # category floor applies at once
    assert client.get("/v1/admin/guardrails/kitchen", headers=AD).json()["guardrails"][
        "floor"] == 2500
    assert client.get("/v1/admin/guardrails/none", headers=AD).status_code == 404


def test_erasure_removes_the_shopper_from_store_features_and_orders(modelled: Client) -> None:
    client, backend = modelled
    client.post("/v1/events", headers=SF, json=[view(i) for i in range(2)])
    client.put("/v1/shoppers/c1/consent", headers=AD, json={"personalisation": True})
    quote(client, "SKU-1", customer_id="c1")
    client.post("/v1/orders", headers=SF, json={"order_id": "oe", "currency": "EUR",
                                                "lines": [{"product_id": "SKU-1"}],
                                                "customer_id": "c1"})
    r = client.delete("/v1/shoppers/c1", headers=AD)
    assert r.status_code == 200
    erased = r.json()["erased"]
    assert erased["events"] == 2 and erased["decisions"] == 1 and erased["shoppers"] == 1
    assert erased["orders"] == 1
    pseudo = backend.app.pseudonymise("c1")
    assert backend.app.store.count_events() == 0
    assert backend.app.features.features_for(pseudo, backend.app.catalogue.products["SKU-1"], NOW)[
        "u_views_7d"] == 0.0
    again = client.delete("/v1/shoppers/c1", headers=AD).json()["erased"]
    assert all(v == 0 for v in again.values())


def test_readiness_reports_every_dependency(modelled: Client) -> None:
    client, _ = modelled
    r = client.get("/readyz")
    assert r.status_code == 200
    deps = r.json()["dependencies"]
    assert deps["store"] == {"ok": True, "detail": "sqlite"}
    assert deps["online_features"]["ok"] and deps["demand_model"]["ok"]


def test_a_consent_change_written_by_another_process_applies_once_the_shopper_cache_expires(
        modelled: Client) -> None:
    import time

    client, backend = modelled
    assert backend.app.shoppers.ttl == 1.0  # the SQLite default
    backend.app.shoppers.ttl = 0.2
    client.put("/v1/shoppers/c1/consent", headers=AD, json={"personalisation": True})
    calls: list[object] = []
    original = backend.app.learning._pricing.engine.decide_page

    def spy(items: Any, shopper: Any = None) -> Any:
        calls.append(shopper)
        return original(items, shopper)

    backend.app.learning._pricing.engine.decide_page = spy  # type: ignore[method-assign]
    quote(client, "SKU-1", customer_id="c1")
    assert calls[-1] is not None
    backend.app.store.set_consent(backend.app.pseudonymise("c1"), False)  # not through this process
    time.sleep(0.25)
    quote(client, "SKU-1", customer_id="c1")
    assert calls[-1] is None
