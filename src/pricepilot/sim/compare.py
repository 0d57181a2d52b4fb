"""Compare pricing policies on the same simulated views, with the oracles as ceilings.

>>> from pricepilot.sim import Market, SimConfig, ListPricePolicy
>>> m = Market(SimConfig(days=2, shoppers=200, products=16, seed=1))
>>> df = compare_policies(m, {"list": ListPricePolicy(m.products())}, days=2)
>>> list(df["policy"])
['list', 'period oracle', 'personalised oracle']
"""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from pricepilot.dashboard.report import Section  # noqa: E402
from pricepilot.money import format_amount  # noqa: E402
from pricepilot.sim.market import Market, MarketPolicy  # noqa: E402
from pricepilot.sim.oracle import PeriodOracle, PersonalisedOracle  # noqa: E402
from pricepilot.sim.policy import PricingPolicy  # noqa: E402


def compare_policies(market: Market, policies: Mapping[str, PricingPolicy], days: int | None = None,
                     seed: int | None = None, with_oracles: bool = True) -> pd.DataFrame:
    """Run each policy on the same seed (same views, same draws); one row per policy with
    realised revenue, profit (minor units), orders, conversion and expected profit; the two
    oracles (run as policies) are appended when ``with_oracles``."""
    runs: dict[str, MarketPolicy] = dict(policies)
    if with_oracles:
        runs["period oracle"] = PeriodOracle(market)
        runs["personalised oracle"] = PersonalisedOracle(market)
    rows = []
    for name, pol in runs.items():
        d = market.run(pol, days=days, seed=seed).daily
        views = int(d["views"].sum())
        rows.append(dict(policy=name, views=views, orders=int(d["orders"].sum()),
                         units=int(d["units"].sum()), revenue=int(d["revenue"].sum()),
                         profit=int(d["profit"].sum()),
                         conversion=float(d["orders"].sum() / views) if views else 0.0,
                         expected_profit=float(d["expected_profit"].sum())))
    return pd.DataFrame(rows)


def comparison_section(table: pd.DataFrame, currency: str = "EUR",
                       title: str = "Profit against baselines") -> Section:
    """A report section (table + bar chart of expected profit) from :func:`compare_policies`."""
    scale = 100.0 if currency != "JPY" else 1.0
    fig, ax = plt.subplots(figsize=(9, 0.5 + 0.45 * len(table)))
    colours = ["#9467bd" if "oracle" in p else "#1f77b4" for p in table["policy"]]
    ax.barh(table["policy"], table["expected_profit"] / scale, color=colours)
    ax.invert_yaxis()
    ax.set_xlabel(f"expected gross profit ({currency}) under the true demand")
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    best = table["expected_profit"].max()
    body = "".join(
        f"<tr><td>{r.policy}</td><td>{format_amount(int(r.revenue), currency)}</td>"
        f"<td>{format_amount(int(r.profit), currency)}</td>"
        f"<td>{format_amount(int(round(r.expected_profit)), currency)}</td>"
        f"<td>{r.expected_profit / best:.1%}</td><td>{r.conversion:.2%}</td></tr>"
        for r in table.itertuples())
    html = ("<p class='note'>Every policy faced the same views and random draws. Expected profit "
            "removes purchase noise; oracles (purple) know the true demand and are ceilings.</p>"
            "<table><tr><th>policy</th><th>revenue</th><th>profit</th><th>expected profit</th>"
            f"<th>of best</th><th>conversion</th></tr>{body}</table>")
    return Section(title, html, [fig])
