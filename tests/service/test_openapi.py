from __future__ import annotations

import re

import jsonschema_rs
from schemathesis.specs.openapi.definitions import OPENAPI_31
from starlette.routing import Route
from starlette.testclient import TestClient

from pricepilot.service.app import OPERATIONS


def test_the_document_is_valid_openapi_3_1(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert spec["openapi"] == "3.1.0"
    jsonschema_rs.validator_for(OPENAPI_31).validate(spec)


def test_every_route_of_the_app_is_in_the_document(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    documented = {(m.upper(), p) for p, item in spec["paths"].items() for m in item}
    served = set()
    for route in client.app.routes:  # type: ignore[attr-defined]
        assert isinstance(route, Route)
        for method in route.methods or ():
            if method != "HEAD":
                served.add((method, route.path))
    assert served == documented
    assert len(documented) == len(OPERATIONS)


def test_every_reference_resolves_to_a_component(client: TestClient) -> None:
    text = client.get("/openapi.json").text
    components = client.get("/openapi.json").json()["components"]["schemas"]
    for name in re.findall(r'"#/components/schemas/([^"]+)"', text):
        assert name in components


def test_request_constraints_are_published(client: TestClient) -> None:
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    ids = schemas["QuoteRequest"]["properties"]["product_ids"]
    assert (ids["minItems"], ids["maxItems"]) == (1, 100)
    assert schemas["CartLine"]["properties"]["quantity"]["minimum"] == 1


def test_the_docs_page_lists_every_operation_without_external_resources(
    client: TestClient,
) -> None:
    page = client.get("/docs")
    assert page.headers["content-type"].startswith("text/html")
    for op in OPERATIONS:
        assert f"<code>{op.path}</code>" in page.text
    assert "<script" not in page.text and "http://" not in page.text and "https://" not in page.text
