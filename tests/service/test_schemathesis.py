"""Property-based API testing: schemathesis generates requests from /openapi.json.

The same run is made against the in-memory double and against the real engines' backend
(SQLite store, in-process features, a small promoted model, a seeded catalogue).

Every generated request (valid bodies, boundary values, path parameters) must get a documented
status, never a 5xx, with a body that conforms to the published response schema.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.generation.case import Case
from schemathesis.specs.openapi.checks import positive_data_acceptance

from pricepilot.service.app import create_app
from pricepilot.service.auth import hash_key

from .conftest import make_settings
from .engine_support import NOW, catalogue, engine_settings, promote_small_model
from .fake_backend import FakeBackend, sample_products

BOTH_KEY = "pp_test-both-scopes"
_settings = make_settings()
_settings.service.api_keys[hash_key(BOTH_KEY)] = ["storefront", "admin"]
app = create_app(_settings, FakeBackend(sample_products(20)))
schema = schemathesis.openapi.from_asgi("/openapi.json", app)


def _engine_app() -> object:
    from pricepilot.clock import FixedClock
    from pricepilot.service.engine_backend import EngineBackend
    from pricepilot.store import open_store

    data = Path(tempfile.mkdtemp(prefix="pp-schemathesis-"))
    settings = engine_settings(data)
    settings.service.api_keys[hash_key(BOTH_KEY)] = ["storefront", "admin"]
    promote_small_model(settings.models_dir)
    store = open_store(f"sqlite:///{data / 'pp.db'}")
    store.migrate()
    store.upsert_products(catalogue(20))
    return create_app(settings, EngineBackend(settings, store=store, clock=FixedClock(NOW)))


engine_schema = schemathesis.openapi.from_asgi("/openapi.json", _engine_app())


@pytest.mark.slow
@schema.parametrize()
@settings(
    max_examples=5,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_generated_requests_get_documented_answers_and_never_a_5xx(case: Case) -> None:
    # Schema-valid is not always acceptable: rules the schema cannot state (a time zone on every
    # timestamp, ends_at after starts_at, the body's product id equal to the path's) are 422s by
    # design, so "valid data accepted" is not checked; status, content type, response schema and
    # "never a 5xx" are.
    case.call_and_validate(
        headers={"Authorization": f"Bearer {BOTH_KEY}"},
        excluded_checks=[positive_data_acceptance],
    )


@pytest.mark.slow
@engine_schema.parametrize()
@settings(
    max_examples=5,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_the_real_backend_answers_generated_requests_as_documented(case: Case) -> None:
    case.call_and_validate(
        headers={"Authorization": f"Bearer {BOTH_KEY}"},
        excluded_checks=[positive_data_acceptance],
    )
