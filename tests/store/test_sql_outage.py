"""A PostgreSQL server that cannot be reached is ``Unavailable`` on every path to the store,
including callers that run on ``SqlStore.engine`` directly (ledger, repository, service tables)."""

from __future__ import annotations

import socket

import pytest
import sqlalchemy as sa

from pricepilot.errors import Unavailable
from pricepilot.store import open_store


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # nothing listens once the socket is closed


@pytest.fixture
def unreachable_store():  # type: ignore[no-untyped-def]
    store = open_store(f"postgresql+psycopg://postgres@127.0.0.1:{_closed_port()}/test")
    yield store
    store.close()


def test_raw_engine_use_of_an_unreachable_server_raises_unavailable(unreachable_store) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(Unavailable, match="database"):
        with unreachable_store.engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))


def test_store_methods_on_an_unreachable_server_raise_unavailable(unreachable_store) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(Unavailable, match="database"):
        unreachable_store.count_events()
