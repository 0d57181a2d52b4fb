"""Shared fixtures: real PostgreSQL and Redis servers, isolated per test.

Locally a missing server skips its tests; with ``CI`` set it fails them, so CI can never pass
by quietly skipping the backends it is meant to prove.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

PG_URL = os.environ.get("PRICEPILOT_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("PRICEPILOT_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def _missing(service: str, reason: BaseException) -> None:
    msg = f"{service} is not reachable ({reason})"
    if os.environ.get("CI"):
        pytest.fail(f"{msg}; CI is set, so this fails instead of skipping", pytrace=False)
    pytest.skip(msg)


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh schema, dropped after the test."""
    import sqlalchemy as sa

    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(PG_URL)
    try:
        with admin.begin() as c:
            c.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    except Exception as e:  # OperationalError when the server is down
        admin.dispose()
        _missing("PostgreSQL", e)
    sep = "&" if "?" in PG_URL else "?"
    try:
        yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as c:
            c.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def redis_url() -> str:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except Exception as e:
        _missing("Redis", e)
    return REDIS_URL


@pytest.fixture
def redis_prefix(redis_url: str) -> Iterator[str]:
    """A unique key prefix; every key under it is deleted after the test."""
    import redis

    prefix = f"pptest:{uuid.uuid4().hex[:12]}:"
    yield prefix
    r = redis.Redis.from_url(redis_url)
    keys = list(r.scan_iter(match=prefix + "*", count=1000))
    if keys:
        r.delete(*keys)
    r.close()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The figures of the schemathesis runs (tests/service/test_schemathesis.py), summed over
    every operation and xdist worker: CI's log shows them although passing output is hidden.
    (Here, not in tests/service/conftest.py: the xdist controller loads only this one.)"""
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
