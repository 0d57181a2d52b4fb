from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from pricepilot.config import load_settings
from pricepilot.errors import ConfigError, Forbidden, Unauthorized
from pricepilot.service.auth import ApiKeyAuth, hash_key, new_key, presented_key

from .conftest import ADMIN_KEY, STOREFRONT_KEY


def test_a_new_key_is_authorised_only_through_its_digest() -> None:
    key, digest = new_key()
    assert digest == hash_key(key) and key not in digest
    auth = ApiKeyAuth({digest: ["admin"]})
    assert auth.scopes_for(key) == frozenset({"admin"})
    assert auth.scopes_for(key + "x") is None


def test_bearer_and_x_api_key_headers_are_both_read() -> None:
    assert presented_key("Bearer abc", None) == "abc"
    assert presented_key("bearer  abc ", None) == "abc"
    assert presented_key(None, "xyz") == "xyz"
    assert presented_key("Basic Zm9v", None) is None
    assert presented_key("Bearer ", "") is None


def test_missing_unknown_and_wrong_scope_keys_are_refused_distinctly() -> None:
    auth = ApiKeyAuth({hash_key("sf"): ["storefront"]})
    with pytest.raises(Unauthorized):
        auth.authorize(None, None, "storefront")
    with pytest.raises(Unauthorized):
        auth.authorize("Bearer nope", None, "storefront")
    with pytest.raises(Forbidden):
        auth.authorize("Bearer sf", None, "admin")
    auth.authorize(None, "sf", "storefront")


@pytest.mark.parametrize(
    "keys",
    [{"not-hex": ["admin"]}, {hash_key("k"): []}, {hash_key("k"): ["superuser"]}],
)
def test_malformed_key_settings_fail_at_start_up(keys: dict[str, list[str]]) -> None:
    with pytest.raises(ConfigError, match="service.api_keys"):
        load_settings(path=None, env={}, overrides={"service.api_keys": keys})


STOREFRONT_ROUTES = [
    ("POST", "/v1/events"), ("POST", "/v1/quotes"), ("POST", "/v1/carts/price"),
    ("POST", "/v1/orders"), ("POST", "/v1/orders/o1/cancel"),
]
ADMIN_ROUTES = [
    ("GET", "/v1/admin/promotions"), ("POST", "/v1/admin/promotions"),
    ("POST", "/v1/admin/promotions/preview"), ("GET", "/v1/admin/promotions/p"),
    ("PUT", "/v1/admin/promotions/p"), ("DELETE", "/v1/admin/promotions/p"),
    ("POST", "/v1/admin/promotions/p/pause"), ("POST", "/v1/admin/promotions/p/resume"),
    ("GET", "/v1/admin/products"), ("GET", "/v1/admin/products/x"),
    ("PUT", "/v1/admin/products/x"), ("GET", "/v1/admin/guardrails"),
    ("GET", "/v1/admin/guardrails/c"), ("PUT", "/v1/admin/guardrails/c"),
    ("GET", "/v1/admin/models"), ("POST", "/v1/admin/models/m3/promote"),
    ("POST", "/v1/admin/models/rollback"), ("DELETE", "/v1/shoppers/c1"),
    ("PUT", "/v1/shoppers/c1/consent"),
]


@pytest.mark.parametrize(("method", "path"), STOREFRONT_ROUTES + ADMIN_ROUTES)
def test_every_v1_route_answers_401_without_a_key_and_with_an_unknown_one(
    client: TestClient, method: str, path: str
) -> None:
    r = client.request(method, path, json={})
    assert r.status_code == 401 and r.json()["error"] == "unauthorized"
    assert r.headers["www-authenticate"].startswith("Bearer")
    r = client.request(method, path, json={}, headers={"Authorization": "Bearer pp_guess"})
    assert r.status_code == 401


@pytest.mark.parametrize(("method", "path"), STOREFRONT_ROUTES)
def test_storefront_routes_refuse_an_admin_key_with_403(
    client: TestClient, method: str, path: str
) -> None:
    r = client.request(method, path, json={}, headers={"X-API-Key": ADMIN_KEY})
    assert r.status_code == 403 and r.json()["error"] == "forbidden"


@pytest.mark.parametrize(("method", "path"), ADMIN_ROUTES)
def test_admin_routes_refuse_a_storefront_key_with_403(
    client: TestClient, method: str, path: str
) -> None:
    r = client.request(method, path, json={}, headers={"X-API-Key": STOREFRONT_KEY})
    assert r.status_code == 403


def test_health_metrics_and_docs_need_no_key(client: TestClient) -> None:
    for path in ("/healthz", "/readyz", "/metrics", "/openapi.json", "/docs"):
        assert client.get(path).status_code == 200, path
