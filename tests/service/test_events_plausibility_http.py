"""Issue #13 points 3 and 16 through the HTTP app with the real backend: an implausible event
refuses its batch with a 422 naming the field and the rule (nothing stored); a re-sent id with
other content comes back as a conflict in the 202 answer and is not stored."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from pricepilot.clock import FixedClock
from pricepilot.service.engine_backend import EngineBackend

from .conftest import SF
from .engine_support import NOW, engine_client, engine_settings

Client = tuple[TestClient, EngineBackend]


@pytest.fixture
def client(tmp_path: Path) -> Iterator[Client]:
    with engine_client(engine_settings(tmp_path), clock=FixedClock(NOW)) as c:
        yield c


def view(eid: str, **kw: Any) -> dict[str, Any]:
    return {"type": "view", "event_id": eid, "customer_id": "c1", "product_id": "SKU-1",
            "price": 999, "currency": "EUR", "ts": (NOW - timedelta(minutes=5)).isoformat(),
            **kw}


@pytest.mark.parametrize(("over", "field", "reason"), [
    ({"price": 0}, "price", "price 0 below the minimum 1 minor unit"),
    ({"ts": "1970-01-01T00:00:00Z"}, "ts", "ts 1970-01-01T00:00:00Z is before the earliest"),
    ({"ts": (NOW + timedelta(days=2)).isoformat()}, "ts",
     "ts 2026-03-04T12:00:00Z is 2 d in the future (now 2026-03-02T12:00:00Z"),
])
def test_point3_an_implausible_event_refuses_the_batch_with_a_422_naming_the_rule(
    client: Client, over: dict[str, Any], field: str, reason: str
) -> None:
    http, backend = client
    r = http.post("/v1/events", headers=SF, json=[view("ok"), view("bad", **over)])
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["details"][0]["path"] == f"$.{field}"
    assert reason in body["details"][0]["reason"]
    assert "events, event 1" in body["message"]
    assert backend.app.store.count_events() == 0


def test_point3_a_resent_id_with_other_content_is_a_conflict_in_the_answer(
    client: Client,
) -> None:
    http, backend = client
    assert http.post("/v1/events", headers=SF, json=[view("e1")]).json() == {
        "accepted": 1, "duplicates": 0}
    r = http.post("/v1/events", headers=SF,
                  json=[view("e1"), view("e1", price=899), view("e2")])
    assert r.status_code == 202, r.text
    assert r.json() == {"accepted": 1, "duplicates": 1,
                        "conflicts": [{"event_id": "e1", "fields": ["price"]}]}
    stored = backend.app.store.events_frame().set_index("event_id")
    assert stored.loc["e1", "price"] == 999
