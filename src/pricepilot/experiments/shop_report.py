"""Report sections and text tables for :func:`~pricepilot.experiments.simulated_shop.evaluate_shop`.

``shop_sections(evaluation)`` gives the sections the demo and ``pricepilot bench shop`` put into
:func:`pricepilot.dashboard.report.write_report`: profit per policy against both oracles (a bar
chart and per-day lines), the demand model's calibration on the held-out history days, and the
fairness table. ``seeds_section(evaluations)`` summarises several seeds.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from pricepilot.dashboard.report import Section  # noqa: E402
from pricepilot.experiments.simulated_shop import BASELINES, ORACLES, PRICEPILOT, ShopEvaluation  # noqa: E402
from pricepilot.money import format_amount  # noqa: E402


def _money(v: float, currency: str) -> str:
    return format_amount(int(round(v)), currency)


def _colour(name: str) -> str:
    if name == PRICEPILOT:
        return "#d62728"
    return "#9467bd" if name in ORACLES else "#1f77b4"


def profit_section(ev: ShopEvaluation) -> Section:
    t = ev.table
    scale = 100.0 if ev.currency != "JPY" else 1.0
    fig, ax = plt.subplots(figsize=(9, 0.6 + 0.45 * len(t)))
    ax.barh(list(t.index), t["expected_profit"] / scale, color=[_colour(n) for n in t.index])
    ax.invert_yaxis()
    ax.set_xlabel(f"expected gross profit ({ev.currency}) under the true demand, {ev.days} days")
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    fig2, ax2 = plt.subplots(figsize=(9, 4))
    for name, part in ev.daily.groupby("policy", sort=False):
        ax2.plot(part["day"], part["expected_profit"] / scale, label=str(name), color=_colour(str(name)),
                 lw=2.2 if name == PRICEPILOT else 1.2,
                 ls="--" if name in ORACLES else "-")
    ax2.set_xlabel("day of the evaluation")
    ax2.set_ylabel(f"expected profit per day ({ev.currency})")
    ax2.legend(fontsize=8, ncol=2)
    ax2.grid(alpha=0.3)
    fig2.tight_layout()
    body = "".join(
        f"<tr><td>{html.escape(str(name))}</td><td>{r.orders:,}</td><td>{r.conversion:.2%}</td>"
        f"<td>{_money(r.revenue, ev.currency)}</td><td>{_money(r.profit, ev.currency)}</td>"
        f"<td>{_money(r.expected_profit, ev.currency)}</td><td>{r.pct_period_oracle:.1%}</td>"
        f"<td>{r.pct_personalised_oracle:.1%}</td><td>{r.guardrail_violations}</td></tr>"
        for name, r in zip(t.index, t.itertuples(index=False)))
    note = (f"<p class='note'>Seed {ev.seed}: every policy priced the same {int(t['views'].iloc[0]):,} "
            f"views with the same random draws over {ev.days} days after the history. Expected "
            "profit is under the true demand (no purchase noise); oracles (purple) know the truth. "
            f"Model {html.escape(str(ev.model.get('version')))}.</p>")
    table = ("<table><tr><th>policy</th><th>orders</th><th>conversion</th><th>revenue</th>"
             "<th>profit</th><th>expected profit</th><th>% period oracle</th>"
             f"<th>% personalised oracle</th><th>guardrail violations</th></tr>{body}</table>")
    return Section("Profit per policy against the oracles", note + table, [fig, fig2])


def calibration_section(ev: ShopEvaluation) -> Section:
    cal = ev.calibration
    fig, ax = plt.subplots(figsize=(5, 5))
    if cal:
        pred = [b.mean_predicted for b in cal]
        act = [b.actual_rate for b in cal]
        hi = max(max(pred), max(act)) * 1.1
        ax.plot([0, hi], [0, hi], color="#999", ls="--", lw=1)
        ax.plot(pred, act, "o-", color="#d62728")
    ax.set_xlabel("predicted purchase rate")
    ax.set_ylabel("actual purchase rate")
    ax.set_title("held-out history days")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    body = "".join(f"<tr><td>{b.lower:.4f}–{b.upper:.4f}</td><td>{b.rows:,}</td>"
                   f"<td>{b.mean_predicted:.4f}</td><td>{b.actual_rate:.4f}</td></tr>" for b in cal)
    note = (f"<p class='note'>The promoted model was trained on the history without its last days "
            f"({ev.model.get('held_rows', 0):,} held-out views); equal-count bins of the "
            "prediction.</p>")
    table = ("<table><tr><th>bin</th><th>views</th><th>predicted</th><th>actual</th></tr>"
             f"{body}</table>")
    return Section("Demand model calibration (held-out days)", note + table, [fig])


def fairness_section(ev: ShopEvaluation) -> Section:
    body = "".join(f"<tr><td>{html.escape(str(r.group))}</td><td>{r.purchases:,}</td><td>{r.cells:,}</td>"
                   f"<td>{r.relative_gap:+.2%}</td></tr>" for r in ev.fairness.itertuples())
    note = ("<p class='note'>Mean price paid by the protected attribute <code>gender</code> (never "
            "ingested nor an input to pricing: the simulator's audit file), compared within product × day cells bought by more than one "
            "group, weighted by purchases. Largest difference between groups: "
            f"<b>{ev.fairness_gap:.2%}</b> (bound: 1%); for the prices offered (every view): "
            f"{ev.fairness_offered_gap:.2%}.</p>")
    table = ("<table><tr><th>group</th><th>purchases</th><th>cells</th><th>vs cell mean</th></tr>"
             f"{body}</table>")
    return Section("Fairness: price paid by a protected attribute", note + table, [])


def shop_sections(evaluation: ShopEvaluation) -> list[Section]:
    """Report sections for one seed: profit vs oracles, calibration, fairness."""
    return [profit_section(evaluation), calibration_section(evaluation), fairness_section(evaluation)]


def seeds_frame(evaluations: Sequence[ShopEvaluation]) -> pd.DataFrame:
    """One row per seed: each policy's share of the personalised oracle, and pricepilot's margin
    over the best baseline."""
    rows = []
    for ev in evaluations:
        t = ev.table
        row: dict[str, object] = {"seed": ev.seed}
        for name in (PRICEPILOT, *BASELINES, ORACLES[0]):
            if name in t.index:
                row[name] = float(t.loc[name, "pct_personalised_oracle"])
        base = [n for n in BASELINES if n in t.index]
        if base:
            best = max(float(t.loc[n, "expected_profit"]) for n in base)
            row["vs best baseline"] = float(t.loc[PRICEPILOT, "expected_profit"]) / best - 1.0
            best_real = max(float(t.loc[n, "profit"]) for n in base)
            row["realised vs best baseline"] = float(t.loc[PRICEPILOT, "profit"]) / best_real - 1.0
        row["violations"] = int(t.loc[PRICEPILOT, "guardrail_violations"])
        row["fairness gap (paid)"] = ev.fairness_gap
        row["fairness gap (offered)"] = ev.fairness_offered_gap
        rows.append(row)
    return pd.DataFrame(rows)


def seeds_section(evaluations: Sequence[ShopEvaluation]) -> Section:
    df = seeds_frame(evaluations)
    cols = [c for c in df.columns if c != "seed"]
    head = "".join(f"<th>{html.escape(c)}</th>" for c in ["seed", *cols])
    body = ""
    for r in df.itertuples(index=False):
        cells = [f"<td>{r[0]}</td>"]
        for c, v in zip(cols, r[1:]):
            cells.append(f"<td>{v}</td>" if c == "violations" else f"<td>{float(v):.1%}</td>")
        body += "<tr>" + "".join(cells) + "</tr>"
    note = ("<p class='note'>Expected profit as a share of the personalised oracle, per seed; "
            "'vs best baseline' is pricepilot's expected profit over the best baseline's.</p>")
    return Section("All seeds", note + f"<table><tr>{head}</tr>{body}</table>", [])


def markdown_summary(evaluations: Sequence[ShopEvaluation]) -> str:
    """Per-seed Markdown tables (the benchmark record) and the cross-seed summary."""
    out = []
    for ev in evaluations:
        t = ev.table
        out.append(f"### seed {ev.seed} ({ev.days} days, {int(t['views'].iloc[0]):,} views)\n")
        out.append("| policy | orders | conversion | profit | expected profit | % period oracle "
                   "| % personalised oracle | guardrail violations |")
        out.append("|---|---|---|---|---|---|---|---|")
        for name, r in zip(t.index, t.itertuples(index=False)):
            out.append(f"| {name} | {r.orders:,} | {r.conversion:.2%} | {r.profit / 100:,.0f} "
                       f"| {r.expected_profit / 100:,.0f} | {r.pct_period_oracle:.1%} "
                       f"| {r.pct_personalised_oracle:.1%} | {r.guardrail_violations} |")
        out.append(f"\nfairness gap (gender, within product × day): paid {ev.fairness_gap:.2%}, "
                   f"offered {ev.fairness_offered_gap:.2%}\n")
    df = seeds_frame(evaluations)
    cols = [c for c in df.columns if c != "seed"]
    out.append("### all seeds (expected profit, % of the personalised oracle)\n")
    out.append("| seed | " + " | ".join(cols) + " |")
    out.append("|---|" + "---|" * len(cols))
    for r in df.itertuples(index=False):
        cells = [str(v) if c == "violations" else f"{float(v):.1%}" for c, v in zip(cols, r[1:])]
        out.append(f"| {r[0]} | " + " | ".join(cells) + " |")
    return "\n".join(out)
