"""The live replay against a real service process: events reach the store, quotes are served."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest

from pricepilot.clock import to_micros
from pricepilot.config import Settings, load_settings
from pricepilot.demand.models import LogisticDemand
from pricepilot.demand.registry import ModelRegistry
from pricepilot.demand.synthetic import synthetic_frame
from pricepilot.errors import ValidationError
from pricepilot.events.schemas import CompetitorPrice
from pricepilot.experiments.live_replay import (
    BASELINE,
    POLICY,
    HourUpdate,
    ServicePolicy,
    live_sections,
    replay_live,
    running_service,
)
from pricepilot.sim.config import SimConfig
from pricepilot.sim.market import Market
from pricepilot.store import open_store

HOURS = 2
DAY0 = datetime(2026, 10, 14, tzinfo=timezone.utc)


def _setup(tmp_path: Path, with_model: bool) -> tuple[Settings, Market, datetime]:
    settings = load_settings(path=None, env={}, overrides={"paths.data_dir": str(tmp_path)})
    day0 = DAY0  # a fixed past day: the simulated shoppers do not depend on the day the test runs
    market = Market(SimConfig(days=2, shoppers=300, products=12, seed=3, start=day0))
    store = open_store(settings.database_url)
    store.migrate()
    store.upsert_products(market.products())
    store.close()
    if with_model:
        reg = ModelRegistry(settings.models_dir)
        reg.promote(reg.register(LogisticDemand().fit(synthetic_frame(1500, seed=3))).version)
    return settings, market, day0 + timedelta(hours=18)  # the evening peak


@pytest.mark.parametrize("with_model", [True, False], ids=["promoted model", "no model"])
def test_replay_prices_through_the_service_and_the_events_reach_the_store(tmp_path: Path,
                                                                           with_model: bool) -> None:
    settings, market, start = _setup(tmp_path, with_model)
    updates: list[HourUpdate] = []
    with running_service(settings, tmp_path / "service.log") as svc:
        result = replay_live(settings, market, start=start, hours=HOURS, base_url=svc.base_url,
                             api_key=svc.api_key, progress=updates.append)
    assert result.quotes > 0
    assert result.fallbacks == 0  # without a model, the day-0 prior curve prices every quote
    assert result.events_accepted == result.events_sent > result.quotes
    assert sorted(set(result.hourly["policy"])) == sorted([POLICY, BASELINE])
    for name in (POLICY, BASELINE):
        assert list(result.hourly[result.hourly["policy"] == name]["hour"]) == list(range(HOURS))
    views = result.hourly.groupby("policy")["views"].sum()
    assert views[POLICY] == views[BASELINE] == result.quotes  # the same views for both
    assert updates and updates[-1].hour < HOURS
    base = result.hourly[result.hourly["policy"] == BASELINE].set_index("hour")["profit"]
    assert [u.baseline_profit for u in updates] == [int(base[u.hour]) for u in updates]
    store = open_store(settings.database_url)
    events = store.events_frame()
    store.close()
    live = events[events["event_id"].str.startswith("live-")]
    assert len(live) == result.events_accepted
    assert (live["type"] == "view").sum() == result.quotes
    assert live.loc[live["type"] == "view", "quote_id"].notna().all()
    assert not live["user_id"].str.match(r"^c\d+$").any()  # pseudonymised by the service
    sections = live_sections(result)
    assert sections[0].figures and "pricepilot" in sections[0].html


def test_a_window_ending_in_the_future_is_refused(tmp_path: Path) -> None:
    settings = load_settings(path=None, env={}, overrides={"paths.data_dir": str(tmp_path)})
    market = Market(SimConfig(days=1, shoppers=50, products=8, seed=1))
    with pytest.raises(ValidationError, match="future"):
        replay_live(settings, market, start=datetime.now(timezone.utc), hours=2,
                    base_url="http://127.0.0.1:9", api_key="x")


def test_events_are_sent_in_batches_of_at_most_1000_with_run_prefixed_ids() -> None:
    market = Market(SimConfig(days=1, shoppers=50, products=8, seed=1))
    bodies: list[list[dict[str, object]]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        batch = json.loads(request.content)
        bodies.append(batch)
        return httpx.Response(202, json={"accepted": len(batch), "duplicates": 0})

    t0 = to_micros(market.config.start)
    with httpx.Client(base_url="http://svc", transport=httpx.MockTransport(handler)) as client:
        policy = ServicePolicy(client, market, start_us=t0, end_us=t0 + 24 * 3_600_000_000, run_id="r1")
        events = [CompetitorPrice(event_id=f"e{i:09d}", ts=market.config.start, product_id="p0001",
                                  competitor="x", price=999, currency="EUR") for i in range(2_345)]
        policy.observe(events)
    assert [len(b) for b in bodies] == [1000, 1000, 345]
    assert all(str(e["event_id"]).startswith("live-r1-e") for b in bodies for e in b)
    assert policy.events_sent == policy.events_accepted == 2_345


def test_point10_a_service_that_exits_before_it_is_ready_reports_its_log_tail(tmp_path: Path) -> None:
    import sys

    from pricepilot.errors import Unavailable

    settings = load_settings(path=None, env={}, overrides={"paths.data_dir": str(tmp_path)})
    log = tmp_path / "service.log"
    boom = [sys.executable, "-c", "import sys; print('model artefact corrupt: boom'); sys.exit(3)"]
    waits: list[float] = []
    with pytest.raises(Unavailable) as info:
        with running_service(settings, log, ready_timeout=60, command=boom,
                             on_wait=lambda waited, last: waits.append(waited)):
            pass
    assert "exited with 3" in str(info.value) and "model artefact corrupt: boom" in str(info.value)


def test_point10_the_readiness_wait_reports_progress_and_times_out_with_the_log_tail(tmp_path: Path) -> None:
    import sys

    from pricepilot.errors import Unavailable

    settings = load_settings(path=None, env={}, overrides={"paths.data_dir": str(tmp_path)})
    log = tmp_path / "service.log"
    slow = [sys.executable, "-c", "import time; print('loading the model', flush=True); time.sleep(30)"]
    waits: list[tuple[float, str]] = []
    t0 = time.monotonic()
    with pytest.raises(Unavailable) as info:
        with running_service(settings, log, ready_timeout=1.5, command=slow,
                             on_wait=lambda waited, last: waits.append((waited, last))):
            pass
    assert time.monotonic() - t0 < 20  # stopped, not waited for
    assert "not ready after 1.5 s" in str(info.value) and "loading the model" in str(info.value)
    assert "demo.ready_timeout_s" in str(info.value)
    assert len(waits) >= 2 and waits[-1][0] >= 1.0 and "no answer" in waits[-1][1]


def test_point10_the_failure_section_shows_the_error_and_the_service_log_once(tmp_path: Path) -> None:
    from pricepilot.experiments.live_replay import live_failure_section, live_pending_section

    log = tmp_path / "service.log"
    log.write_text("started\nTraceback <model> failed\n")
    sec = live_failure_section(RuntimeError("POST /v1/quotes answered 500"), log)
    assert sec.title == "Live loop: failed"
    assert "POST /v1/quotes answered 500" in sec.html and "Traceback &lt;model&gt; failed" in sec.html
    inline = live_failure_section(RuntimeError(f"not ready; the end:\n{log.read_text().rstrip()}"), log)
    assert inline.html.count("Traceback") == 1  # the tail the error carries is not repeated
    assert "had not finished" in live_pending_section(3).html
