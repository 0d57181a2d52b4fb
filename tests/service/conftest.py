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


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The figures of the schemathesis runs (tests/service/test_schemathesis.py), summed over
    every operation and xdist worker: CI's log shows them although passing output is hidden."""
    cases = server_errors = violations = runs = 0
    for reports in terminalreporter.stats.values():
        for report in reports:
            if getattr(report, "when", None) != "call":
                continue
            for key, figures in getattr(report, "user_properties", ()):
                if key == "schemathesis":
                    runs += 1
                    cases += figures["cases"]
                    server_errors += figures["server_errors"]
                    violations += figures["violations"]
    if runs:
        terminalreporter.write_sep("-", "schemathesis")
        terminalreporter.write_line(
            f"schemathesis: {cases} cases in {runs} runs, {server_errors} server errors, "
            f"{violations} schema violations (checks: status, content type, response schema, "
            "positive data accepted, negative data rejected)")
