"""Each stage's cost in expected profit is in the explanation and totalled over the decision log."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import pricepilot
from pricepilot.catalog.models import Guardrails, Product
from pricepilot.clock import FixedClock
from pricepilot.config import load_settings
from pricepilot.pricing.engine import Context, PricingEngine
from pricepilot.pricing.testing import LogitDemand

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=timezone.utc)


def _product(**g: object) -> Product:
    return Product(product_id="MUG", title="Mug", category="kitchen", list_price=1000,
                   unit_cost=400, currency="EUR", guardrails=Guardrails(**g))  # type: ignore[arg-type]


def test_a_binding_competitor_band_costs_what_the_curve_says_it_costs() -> None:
    settings = load_settings(None, env={}, overrides={"pricing.exploration": False,
                                                       "pricing.competitor_band": 0.15})
    model = LogitDemand(a=0.0, b=2.0)  # shallow: the optimum is well above the band
    engine = PricingEngine(settings, model, None, clock=FixedClock(T0))
    d = engine.decide(_product(), {}, None, Context(competitor_price=800))
    st = {s.stage: s for s in d.explanation.stages}
    ceiling = st["competitor_band"]
    assert ceiling.before > ceiling.after == 920
    p = lambda x: 1 / (1 + np.exp(-(0.0 - 2.0 * (x / 1000 - 1))))  # noqa: E731
    want = p(ceiling.before) * (ceiling.before - 400) - p(920) * 520
    # the engine optimises the logit-linear fit of the curve on its candidates: the same curve here
    assert ceiling.profit_cost == pytest.approx(want, rel=0.02)
    assert ceiling.profit_cost > 0
    assert all(s.profit_cost == 0.0 for s in d.explanation.stages if s.before == s.after)


def test_the_shop_totals_what_each_rule_cost_and_the_cli_prints_it(tmp_path: Path) -> None:
    clock = FixedClock(T0)
    with pricepilot.open(paths__data_dir=str(tmp_path / "data"), clock=clock, warm=False,
                         pricing__competitor_band=0.15) as shop:
        shop.upsert_products([_product()])
        shop.record([{"type": "competitor_price", "event_id": "k1", "ts": T0, "product_id": "MUG",
                      "competitor": "rival", "price": 800, "currency": "EUR"}])
        quotes = [shop.quote(f"c{i}", ["MUG"]).quotes[0] for i in range(20)]
        costs = shop.guardrail_costs().set_index("stage")
    moved = sum(1 for q in quotes for s in q.explanation if s.stage == "competitor_band"
                and s.profit_cost not in (None, 0.0))
    assert costs.loc["competitor_band", "decisions"] == 20
    assert costs.loc["competitor_band", "moved"] >= moved > 0
    wire_total = sum(s.profit_cost or 0.0 for q in quotes for s in q.explanation if s.stage == "competitor_band")
    assert costs.loc["competitor_band", "profit_cost"] == pytest.approx(wire_total, abs=0.05)
    from pricepilot.cli.main import app as cli

    (tmp_path / "pricepilot.toml").write_text(f'[paths]\ndata_dir = "{tmp_path / "data"}"\n')
    res = CliRunner().invoke(cli, ["--config", str(tmp_path / "pricepilot.toml"),
                                   "guardrail-costs", "--days", "100000", "--json"])
    assert res.exit_code == 0, res.output
    assert '"stage": "competitor_band"' in res.output
    # the table, for people, says the costs in the shop's currency (issue #13 point 13)
    res = CliRunner().invoke(cli, ["--config", str(tmp_path / "pricepilot.toml"),
                                   "guardrail-costs", "--days", "100000"], env={"COLUMNS": "250"})
    assert res.exit_code == 0, res.output
    assert "EUR " in res.output and "minor units" not in res.output
