from __future__ import annotations

import re
from typing import Any

import jsonschema_rs
from schemathesis.specs.openapi.definitions import OPENAPI_31
from starlette.routing import Route
from starlette.testclient import TestClient

from pricepilot.demand.manifest import VERSION_RE
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


# ------------------------------------------------- issue #13 point 7: the schema says what is enforced


def _request_schemas(spec: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Every (location, schema) a request can carry: bodies (resolved) and parameters."""
    components = spec["components"]["schemas"]
    out: list[tuple[str, dict[str, Any]]] = []
    seen: set[str] = set()

    def walk(where: str, sch: Any) -> None:
        if isinstance(sch, dict):
            ref = sch.get("$ref")
            if ref:
                name = ref.rsplit("/", 1)[-1]
                if name not in seen:
                    seen.add(name)
                    walk(name, components[name])
                return
            out.append((where, sch))
            for k, v in sch.items():
                walk(f"{where}.{k}", v)
        elif isinstance(sch, list):
            for i, v in enumerate(sch):
                walk(f"{where}[{i}]", v)

    for path, item in spec["paths"].items():
        for method, op in item.items():
            for p in op.get("parameters", []):
                walk(f"{method} {path} {p['name']}", p["schema"])
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {})
            if body:
                walk(f"{method} {path} body", body["schema"])
    return out


def test_point7_every_request_string_and_integer_is_bounded(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    unbounded = []
    for where, sch in _request_schemas(spec):
        if sch.get("type") == "string" and "enum" not in sch:
            if "maxLength" not in sch and sch.get("format") != "date":
                unbounded.append(where)
            elif "format" not in sch and "pattern" not in sch:
                unbounded.append(f"{where} (no allowed characters)")
        if sch.get("type") == "integer" and ("maximum" not in sch or "minimum" not in sch):
            unbounded.append(where)
    assert unbounded == []


def test_point7_the_rules_the_probe_found_are_in_the_schema(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    schemas = spec["components"]["schemas"]

    def prop(struct: str, name: str) -> dict[str, Any]:
        p = schemas[struct]["properties"][name]
        return p["anyOf"][0] if "anyOf" in p else p  # type: ignore[no-any-return]

    assert prop("PromotionSpec", "budget")["minimum"] == 1  # budget: 0 is refused
    assert prop("Guardrails", "ladder")["minItems"] == 1  # ladder: [] is refused
    ts = prop("View", "ts")  # an empty ts, or one without an offset, is refused
    assert ts["format"] == "date-time" and re.match(ts["pattern"], "2026-03-01T10:00:00Z")
    assert not re.match(ts["pattern"], "") and not re.match(ts["pattern"], "2026-03-01T10:00:00")
    assert prop("PromotionSpec", "benefits")["maxItems"] == 1  # one benefit per promotion
    assert "EUR" in prop("Product", "currency")["enum"] and "AAA" not in prop(
        "Product", "currency")["enum"]
    params = {(path, p["name"]): p["schema"] for path, item in spec["paths"].items()
              for op in item.values() for p in op.get("parameters", [])}
    version = params[("/v1/admin/models/{version}/promote", "version")]
    assert version["pattern"] == VERSION_RE.pattern and version["maxLength"] == 128
    order = params[("/v1/orders/{order_id}/cancel", "order_id")]
    assert not re.match(order["pattern"], "a/b") and not re.match(order["pattern"], "a\x00")
    assert prop("OrderRequest", "order_id")["pattern"] == order["pattern"]
    body = spec["paths"]["/v1/events"]["post"]
    assert "415" in body["responses"] and "application/json" in body["requestBody"]["content"]


def test_point7_the_published_patterns_and_the_server_agree() -> None:
    """The id pattern is read alike by Python's re (the server), ECMA 262 (the document's
    dialect, checked with jsonschema_rs) and Arrow's RE2 (the store's check)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from pricepilot import bounds as b
    from pricepilot.events.limits import _re2

    samples = ["SKU-1", "a/b", "a b", "a\x00", "\u00a0x", "x\u3000", "Ünïcode", "e" * 3, "\x85",
               "tab\there", "ok:1.2_3", "\ufeffbom"]
    validator = jsonschema_rs.validator_for({"type": "string", "pattern": b.ID_PATTERN})
    arrow = pc.match_substring_regex(pa.array(samples), _re2(b.ID_PATTERN)).to_pylist()
    for s, by_arrow in zip(samples, arrow):
        by_python = re.match(b.ID_PATTERN, s) is not None
        assert by_python == validator.is_valid(s) == by_arrow, s
