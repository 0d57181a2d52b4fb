"""One decision path: the HTTP service, the CLI and the Python API decide alike, and a served
decision has every stage of the pricing pipeline."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient
from typer.testing import CliRunner

import pricepilot
from pricepilot.catalog.models import Guardrails, Product
from pricepilot.cli.main import app as cli
from pricepilot.clock import FixedClock
from pricepilot.demand.models import LogisticDemand
from pricepilot.demand.registry import ModelRegistry
from pricepilot.demand.synthetic import synthetic_frame
from pricepilot.errors import ValidationError
from pricepilot.money import format_money
from pricepilot.service.app import create_app
from pricepilot.service.auth import hash_key
from pricepilot.service.engine_backend import EngineBackend

KEY = "pp_test-one-path-key"
DAY1 = datetime(2026, 3, 2, 10, 0, tzinfo=timezone.utc)


def products() -> list[Product]:
    return [Product(product_id=f"SKU-{i}", title=f"Item {i}", category="kitchen" if i % 2 else "garden",
                    currency="EUR", unit_cost=400 + 10 * i, list_price=999 + 100 * i,
                    stock=50 if i != 2 else 3, guardrails=Guardrails(min_margin=0.1),
                    season_end=None if i != 2 else DAY1 + timedelta(days=2))
            for i in range(4)]


def promote_model(models_dir: Path) -> str:
    reg = ModelRegistry(models_dir)
    version = reg.register(LogisticDemand().fit(synthetic_frame(2000, seed=3))).version
    reg.promote(version)
    return version


@pytest.fixture
def shop_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A shop directory whose pricepilot.toml every caller reads (exploration off, so equal
    inputs give equal prices whichever process decides)."""
    (tmp_path / "pricepilot.toml").write_text(
        f'[paths]\ndata_dir = "{tmp_path / "data"}"\n'
        "[pricing]\nexploration = false\n"
        f'[service.api_keys]\n"{hash_key(KEY)}" = ["storefront", "admin"]\n')
    monkeypatch.chdir(tmp_path)
    for var in [v for v in __import__("os").environ if v.startswith("PRICEPILOT_")]:
        monkeypatch.delenv(var)
    with pricepilot.open() as shop:
        shop.upsert_products(products())
        promote_model(shop.settings.models_dir)
    return tmp_path


def decisions(quotes: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [(q["product_id"], q["price"], q["binding_rule"], q["propensity"],
             [(st["stage"], st["price"]) for st in q["explanation"]]) for q in quotes]


def test_http_the_cli_and_the_python_api_make_identical_decisions(shop_dir: Path) -> None:
    ids = ["SKU-1", "SKU-2", "SKU-3"]
    with pricepilot.open() as shop:
        api = [msgspec_builtins(q) for q in shop.quote("c1", ids, session_id="s1").quotes]
    backend = EngineBackend(pricepilot.open(warm=True).settings)
    with TestClient(create_app(backend.app.settings, backend)) as client:
        r = client.post("/v1/quotes", headers={"Authorization": f"Bearer {KEY}"},
                        json={"product_ids": ids, "customer_id": "c1", "session_id": "s1"})
        assert r.status_code == 200, r.text
        http = r.json()["quotes"]
    backend.close()
    result = CliRunner().invoke(cli, ["price", *[a for i in ids for a in ("-p", i)], "--customer", "c1",
                                      "--session", "s1", "--json"])
    assert result.exit_code == 0, result.output
    cli_quotes = json.loads(result.output)["quotes"]
    assert not any(q["fallback"] for q in api)
    assert decisions(api) == decisions(http) == decisions(cli_quotes)


def msgspec_builtins(obj: Any) -> Any:
    import msgspec

    return msgspec.to_builtins(obj)


def test_a_served_quote_smooths_limits_the_daily_change_and_plans_the_stock(shop_dir: Path) -> None:
    clock = FixedClock(DAY1)
    # no rolling stock horizon: SKU-1's 50 units cannot bind, SKU-2's 3 before its season end do
    with pricepilot.open(clock=clock, pricing__exploration=False,
                         pricing__stock_horizon_days=0) as shop:
        q = shop.quote("c1", ["SKU-1"]).quotes[0]
        steps = {st.stage: st for st in q.explanation}
        # today's public price before any decision is the list price: smoothing starts there
        assert f"p_cur {format_money(q.list_price, q.currency)}" in steps["smoothing"].note
        assert steps["max_change"].note.startswith("daily change within")
        assert "no current price" not in steps["smoothing"].note
        # 3 in stock for two days of shoppers: the inventory LP has the stock to plan, and its
        # mixture is served as drawn (smoothing would change its sell-through)
        lp = {st.stage: st for st in shop.quote("c1", ["SKU-2"]).quotes[0].explanation}
        assert "stock per expected shopper" in lp["model"].note
        assert lp["smoothing"].note == "not smoothed: a price of the inventory LP mixture"
        assert lp["max_change"].note.startswith("daily change within")
        # the next day, the public price in force is where the first day's base price ended
        clock.set(DAY1 + timedelta(days=1))
        q2 = shop.quote("c2", ["SKU-1"]).quotes[0]
        smoothing = next(st for st in q2.explanation if st.stage == "smoothing")
        assert f"p_cur {format_money(q.price, q.currency)}" in smoothing.note


def test_the_current_price_is_shared_by_every_process_on_the_store(shop_dir: Path) -> None:
    clock = FixedClock(DAY1)
    # no rolling stock horizon, so SKU-1 is smoothed (an inventory LP price is not)
    with pricepilot.open(clock=clock, service__sync_seconds=0.0,
                         pricing__stock_horizon_days=0) as first:
        price = first.quote("c1", ["SKU-1"]).quotes[0].price
        first.app.base_prices.flush(0)
        clock.set(DAY1 + timedelta(days=1))
        with pricepilot.open(clock=clock, service__sync_seconds=0.0,
                             pricing__stock_horizon_days=0) as second:
            smoothing = next(st for st in second.quote("c2", ["SKU-1"]).quotes[0].explanation
                             if st.stage == "smoothing")
    assert f"p_cur {format_money(price, 'EUR')}" in smoothing.note


def test_the_api_validates_its_input_as_the_service_does(shop_dir: Path) -> None:
    with pricepilot.open() as shop:
        with pytest.raises(ValidationError, match="product_ids"):
            shop.quote("c1", [])
        with pytest.raises(ValidationError, match="events"):
            shop.record([{"type": "view", "event_id": "e1"}])
        with pytest.raises(ValidationError, match="at"):
            shop.quote("c1", ["SKU-1"], at=datetime(2026, 3, 2))
        assert shop.record([]).accepted == 0  # nothing stored was lost either


def test_the_cli_prices_a_cart_as_the_python_api_and_the_service_do(shop_dir: Path) -> None:
    with pricepilot.open() as shop:
        q = shop.quote("c1", ["SKU-1"]).quotes[0]
        cart = {"currency": "EUR", "customer_id": "c1",
                "lines": [{"product_id": "SKU-1", "quantity": 2, "quote_id": q.quote_id,
                           "quote_signature": q.signature},
                          {"product_id": "SKU-3", "quantity": 1}]}
        api = msgspec_builtins(shop.price_cart(cart))
    (shop_dir / "cart.json").write_text(json.dumps(cart))
    result = CliRunner().invoke(cli, ["cart", "price", "--json", "--cart",
                                      str(shop_dir / "cart.json")])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == api
    with pricepilot.open() as served:
        backend = EngineBackend(app=served.app)
        with TestClient(create_app(served.settings, backend)) as client:
            r = client.post("/v1/carts/price", json=cart,
                            headers={"Authorization": f"Bearer {KEY}"})
    assert r.status_code == 200, r.text
    assert r.json() == api
    assert api["lines"][0]["unit_price"] == q.price  # the signed quote is honoured


def test_point12_the_price_command_decides_on_the_full_replays_state(shop_dir: Path) -> None:
    """``pricepilot price`` no longer replays the whole log: from the snapshot, or without one
    only the events its quote reads; either way the same decision as a fully warmed shop."""
    events: list[dict[str, Any]] = []
    for i in range(60):
        ts = (DAY1 - timedelta(days=3) + timedelta(minutes=37 * i)).isoformat()
        events.append({"type": "view", "event_id": f"v{i}", "ts": ts, "customer_id": f"c{i % 4}",
                       "product_id": f"SKU-{i % 4}", "price": 999 + 100 * (i % 4),
                       "currency": "EUR", "session_id": f"s{i % 5}"})
        if i % 6 == 0:
            events.append({"type": "purchase", "event_id": f"b{i}", "ts": ts,
                           "customer_id": f"c{i % 4}", "product_id": f"SKU-{i % 4}",
                           "order_id": f"o{i}", "price": 999 + 100 * (i % 4), "currency": "EUR"})
    events.append({"type": "competitor_price", "event_id": "k1", "ts": events[-1]["ts"],
                   "product_id": "SKU-1", "competitor": "rival", "price": 1050, "currency": "EUR"})
    clock = FixedClock(DAY1)
    with pricepilot.open(clock=clock, warm=False) as shop:
        shop.record(events)
    snapshot = shop_dir / "data" / "pricepilot.sqlite.online"
    ids = ["SKU-1", "SKU-3"]

    notes: list[str] = []

    def cli_quotes() -> list[tuple[Any, ...]]:
        res = CliRunner().invoke(cli, ["price", *[a for i in ids for a in ("-p", i)], "--customer", "c1",
                                       "--session", "s1", "--json"])
        assert res.exit_code == 0, res.output
        quotes = json.loads(res.output)["quotes"]
        notes.extend(st["note"] for st in quotes[0]["explanation"] if st["stage"] == "competitor_band")
        return decisions(quotes)

    assert not snapshot.exists()
    scoped = cli_quotes()  # no snapshot: only the events of c1, SKU-1, SKU-3 and the calendar
    with pricepilot.open() as full:  # the whole log replayed (and the snapshot written)
        reference = decisions([msgspec_builtins(q) for q in
                               full.quote("c1", ids, session_id="s1").quotes])
    assert snapshot.exists()
    assert scoped == reference == cli_quotes()  # ... and from the snapshot
    # the competitor's price (an event of SKU-1's) reached the decision in both CLI paths
    assert notes == ["within [EUR 7.35, EUR 13.65] of the competitor price"] * 2  # 1050 +- 30%
