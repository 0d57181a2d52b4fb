from __future__ import annotations

from pricepilot.sim.baselines import CostPlusPolicy, ListPricePolicy
from pricepilot.sim.compare import compare_policies, comparison_section
from pricepilot.sim.market import Market


def test_comparison_ranks_the_oracles_at_the_top(small_market: Market) -> None:
    ps = small_market.products()
    df = compare_policies(small_market, {"list": ListPricePolicy(ps), "cost": CostPlusPolicy(ps)}, days=3)
    assert list(df["policy"]) == ["list", "cost", "period oracle", "personalised oracle"]
    assert (df["views"] == df["views"].iloc[0]).all()  # same views for everyone
    top = df.set_index("policy")["expected_profit"]
    assert top["personalised oracle"] >= top["period oracle"] > max(top["list"], top["cost"])
    section = comparison_section(df)
    assert "personalised oracle" in section.html and len(section.figures) == 1
