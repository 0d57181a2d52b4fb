"""The store every conformance suite here runs against: SQLite (a temporary file) and
PostgreSQL (``pg_url``: fails, not skips, under ``CI``), migrated, on a fixed clock."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest

from pricepilot.clock import FixedClock
from pricepilot.store import open_store
from pricepilot.store.sql import SqlStore

T0 = datetime(2026, 3, 1, 10, 0, tzinfo=timezone.utc)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlStore]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    else:
        url = request.getfixturevalue("pg_url")
    s = open_store(url, clock=FixedClock(T0))
    s.migrate()
    yield s
    s.close()
