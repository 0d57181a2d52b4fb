"""The live replay against a real service process: events reach the store, quotes are served."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from pricepilot.config import Settings, load_settings
from pricepilot.demand.models import LogisticDemand
from pricepilot.demand.registry import ModelRegistry
from pricepilot.demand.synthetic import synthetic_frame
from pricepilot.errors import ValidationError
from pricepilot.experiments.live_replay import (BASELINE, POLICY, HourUpdate, live_sections,
                                                replay_live, running_service)
from pricepilot.sim.config import SimConfig
from pricepilot.sim.market import Market
from pricepilot.store import open_store

HOURS = 2


def _setup(tmp_path: Path, with_model: bool) -> tuple[Settings, Market, datetime]:
    settings = load_settings(path=None, env={}, overrides={"paths.data_dir": str(tmp_path)})
    today = datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    day0 = today - timedelta(days=1)
    market = Market(SimConfig(days=2, shoppers=300, products=12, seed=3, start=day0))
    store = open_store(settings.database_url)
    store.migrate()
    store.upsert_products(market.products())
    store.close()
    if with_model:
        reg = ModelRegistry(settings.models_dir)
        reg.promote(reg.register(LogisticDemand().fit(synthetic_frame(1500, seed=3))).version)
    return settings, market, day0 + timedelta(hours=18)  # the evening peak of yesterday


@pytest.mark.parametrize("with_model", [True, False], ids=["promoted model", "no model"])
def test_replay_prices_through_the_service_and_the_events_reach_the_store(tmp_path: Path,
                                                                           with_model: bool) -> None:
    settings, market, start = _setup(tmp_path, with_model)
    updates: list[HourUpdate] = []
    with running_service(settings, tmp_path / "service.log") as svc:
        result = replay_live(settings, market, start=start, hours=HOURS, base_url=svc.base_url,
                             api_key=svc.api_key, progress=updates.append)
    assert result.quotes > 0
    assert result.fallbacks == (0 if with_model else result.quotes)
    assert result.events_accepted == result.events_sent > result.quotes
    assert sorted(set(result.hourly["policy"])) == sorted([POLICY, BASELINE])
    for name in (POLICY, BASELINE):
        assert list(result.hourly[result.hourly["policy"] == name]["hour"]) == list(range(HOURS))
    views = result.hourly.groupby("policy")["views"].sum()
    assert views[POLICY] == views[BASELINE] == result.quotes  # the same views for both
    assert updates and updates[-1].hour < HOURS
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
