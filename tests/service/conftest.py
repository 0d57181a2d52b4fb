from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from pricepilot.config import Settings, load_settings
from pricepilot.service.app import create_app
from pricepilot.service.auth import hash_key

from .fake_backend import FakeBackend, sample_products

STOREFRONT_KEY = "pp_test-storefront-key"
ADMIN_KEY = "pp_test-admin-key"
SF = {"Authorization": f"Bearer {STOREFRONT_KEY}"}
AD = {"X-API-Key": ADMIN_KEY}


def make_settings(**service: object) -> Settings:
    return load_settings(
        path=None,
        env={},
        overrides={
            "service.api_keys": {
                hash_key(STOREFRONT_KEY): ["storefront"],
                hash_key(ADMIN_KEY): ["admin"],
            },
            **{f"service.{k}": v for k, v in service.items()},
        },
    )


@pytest.fixture
def backend() -> FakeBackend:
    return FakeBackend(sample_products(20))


@pytest.fixture
def client(backend: FakeBackend) -> Iterator[TestClient]:
    app = create_app(make_settings(max_body_bytes=256 * 1024), backend)
    with TestClient(app) as c:
        yield c

