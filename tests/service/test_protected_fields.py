"""Issue #13 point 6 over HTTP: a protected shopper attribute sent in a request body (quotes,
events, ...) is refused with a 422 naming the field, matched by the same normalised patterns as
files (tests/serving/test_protected_attributes.py)."""

from __future__ import annotations

from starlette.testclient import TestClient

from .conftest import SF


def test_point6_protected_fields_sent_over_http_are_refused_naming_the_field(
        client: TestClient) -> None:
    r = client.post("/v1/quotes", headers=SF,
                    json={"product_ids": ["SKU-1"], "customer_id": "c1", "customerGender": "f"})
    assert r.status_code == 422, r.text
    detail = r.json()["details"][0]
    assert detail["path"] == "$.customerGender" and "protected attribute" in detail["reason"]
    view = {"type": "view", "event_id": "e1", "ts": "2026-03-02T10:00:00Z", "customer_id": "c1",
            "product_id": "SKU-1", "price": 1000, "currency": "EUR", "date_of_birth": "1990"}
    r = client.post("/v1/events", headers=SF, json=[view])
    assert r.status_code == 422, r.text
    detail = r.json()["details"][0]
    assert detail["path"] == "$[0].date_of_birth" and "protected attribute" in detail["reason"]
    # an unknown field that is not protected is still refused, as an unknown field
    r = client.post("/v1/quotes", headers=SF, json={"product_ids": ["SKU-1"], "page": 2})
    assert r.status_code == 422 and "unknown field" in r.json()["details"][0]["reason"]
