"""Tables, files and the figure of the robustness suite (:mod:`pricepilot.experiments.robustness`).

* :func:`policies_frame`: one row per variant x seed x policy (expected profit, % of both
  oracles, violations, pricepilot's rank among the non-oracle policies);
* :func:`cells_frame`: one row per variant x seed: pricepilot against the best baseline, the
  fairness gaps, violations, wall times, training notes;
* :func:`weekly_frame`, :func:`stages_frame`: profit by week, pricepilot's stage costs;
* :func:`aggregate`: the suite's summary (mean % of the period oracle over variants per policy,
  the cells pricepilot wins, the worst margin);
* :func:`write_outputs`: CSV and JSON of all of them and ``robustness.png`` (% of the period
  oracle by variant, and pricepilot's weekly % of the period oracle by variant).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from pricepilot.experiments.robustness import (  # noqa: E402
    BASELINES,
    ORACLES,
    PRICEPILOT,
    TS_UPDATE,
    CellResult,
)

POLICIES = (PRICEPILOT, *BASELINES)


def policies_frame(cells: Sequence[CellResult]) -> pd.DataFrame:
    rows = []
    for c in cells:
        t = c.table
        ranked = t.loc[[p for p in POLICIES if p in t.index], "expected_profit"].rank(ascending=False)
        for name, r in t.iterrows():
            rows.append(dict(variant=c.variant, seed=c.seed, policy=name,
                             expected_profit=float(r["expected_profit"]), profit=int(r["profit"]),
                             orders=int(r["orders"]), pct_period_oracle=float(r["pct_period_oracle"]),
                             pct_personalised_oracle=float(r["pct_personalised_oracle"]),
                             guardrail_violations=int(r["guardrail_violations"]),
                             rank=int(ranked[name]) if name in ranked.index else None))
    return pd.DataFrame(rows)


def cells_frame(cells: Sequence[CellResult]) -> pd.DataFrame:
    rows = []
    for c in cells:
        t = c.table
        base = t.loc[[b for b in BASELINES if b in t.index]]
        best = str(base["expected_profit"].idxmax())
        own = float(t.loc[PRICEPILOT, "expected_profit"])
        run_pp = c.timings.get(f"run {PRICEPILOT}", float("nan"))
        rows.append(dict(
            variant=c.variant, seed=c.seed, days=c.days, views=int(t.loc[PRICEPILOT, "views"]),
            pricepilot_pct_period=float(t.loc[PRICEPILOT, "pct_period_oracle"]),
            pricepilot_pct_personalised=float(t.loc[PRICEPILOT, "pct_personalised_oracle"]),
            best_baseline=best, best_baseline_pct_period=float(base.loc[best, "pct_period_oracle"]),
            vs_best_baseline=own / float(base.loc[best, "expected_profit"]) - 1.0,
            wins=own > float(base["expected_profit"].max()),
            # a baseline (none personalises) above the period oracle: the myopic oracle is no
            # ceiling here (binding stock: it sells out early), so % of it means little
            oracle_exceeded=bool((base["pct_period_oracle"] > 1.0 + 1e-9).any()),
            violations=int(t.loc[PRICEPILOT, "guardrail_violations"]),
            fairness_gap_paid=c.fairness_gap, fairness_gap_offered=c.fairness_offered_gap,
            fallbacks=c.stats.get("fallbacks", 0), personalised=c.stats.get("personalised", 0),
            pricepilot_run_s=run_pp, pricepilot_train_s=c.timings.get("train", 0.0),
            ts_update_run_s=c.timings.get(f"run {TS_UPDATE}", float("nan")),
            notes=" | ".join(c.notes)))
    return pd.DataFrame(rows)


def weekly_frame(cells: Sequence[CellResult]) -> pd.DataFrame:
    parts = []
    for c in cells:
        w = c.weekly.copy()
        oracle = w[w["policy"] == ORACLES[0]].set_index("week")["expected_profit"]
        w["pct_period_oracle"] = w["expected_profit"] / w["week"].map(oracle)
        w.insert(0, "seed", c.seed)
        w.insert(0, "variant", c.variant)
        parts.append(w)
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def stages_frame(cells: Sequence[CellResult]) -> pd.DataFrame:
    parts = []
    for c in cells:
        s = c.stages.copy()
        s.insert(0, "seed", c.seed)
        s.insert(0, "variant", c.variant)
        parts.append(s)
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def variant_policy_table(cells: Sequence[CellResult]) -> pd.DataFrame:
    """Variant x policy: mean % of the period oracle over seeds (variants in run order)."""
    df = policies_frame(cells)
    order = list(dict.fromkeys(df["variant"]))
    pivot = df.pivot_table(index="variant", columns="policy", values="pct_period_oracle",
                           aggfunc="mean")
    cols = [p for p in (*POLICIES, ORACLES[1]) if p in pivot.columns]
    return pivot.loc[order, cols]


def aggregate(cells: Sequence[CellResult]) -> dict[str, Any]:
    """The suite's summary: mean % of the period oracle over variants per policy (each variant
    weighted once, its seeds averaged), cells pricepilot wins against every baseline, its mean
    rank, the worst margin against the best baseline, violations and the largest fairness gap."""
    vp = variant_policy_table(cells)
    cf = cells_frame(cells)
    by_history: dict[str, float] = {}
    for name, part in cf.groupby(cf["variant"].str.startswith(("history-0", "new-catalogue"))):
        key = "no history" if name else "with history"
        by_history[key] = float(part.groupby("variant")["pricepilot_pct_period"].mean().mean())
    pf = policies_frame(cells)
    own = pf[pf["policy"] == PRICEPILOT]
    bad = sorted(set(cf.loc[cf["oracle_exceeded"], "variant"]))
    ok = vp.drop(index=bad)
    return dict(
        variants=int(vp.shape[0]), cells=int(len(cf)),
        mean_pct_period_oracle={p: float(vp[p].mean()) for p in vp.columns},
        oracle_exceeded_variants=bad,
        mean_pct_period_oracle_where_a_ceiling={p: float(ok[p].mean()) for p in ok.columns},
        pricepilot_mean_pct_period_by_history=by_history,
        pricepilot_wins=int(cf["wins"].sum()),
        pricepilot_mean_rank=float(own["rank"].mean()),
        worst_vs_best_baseline=float(cf["vs_best_baseline"].min()),
        worst_cell=(f"{cf.loc[cf['vs_best_baseline'].idxmin(), 'variant']} seed "
                    f"{cf.loc[cf['vs_best_baseline'].idxmin(), 'seed']}") if len(cf) else "",
        violations=int(cf["violations"].sum()),
        max_fairness_gap_paid=float(cf["fairness_gap_paid"].max()),
        max_fairness_gap_offered=float(cf["fairness_gap_offered"].max()),
        pricepilot_run_s=float(cf["pricepilot_run_s"].sum()),
        pricepilot_train_s=float(cf["pricepilot_train_s"].sum()),
        ts_update_run_s=float(cf["ts_update_run_s"].sum()),
    )


def plot(cells: Sequence[CellResult], path: Path) -> Path:
    """% of the period oracle by variant (every policy) and pricepilot's by week."""
    vp = variant_policy_table(cells)
    wk = weekly_frame(cells)
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(15, 0.8 + 0.38 * max(len(vp), 4)),
                                  gridspec_kw={"width_ratios": [2, 1]})
    y = np.arange(len(vp))
    cols = [c for c in vp.columns if c != ORACLES[1]]
    h = 0.8 / max(len(cols), 1)
    others = iter(["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#7f7f7f"])
    for k, col in enumerate(cols):
        ax.barh(y + k * h, 100 * vp[col].to_numpy(), height=h, label=col,
                color="#d62728" if col == PRICEPILOT else next(others, "#bcbd22"))
    ax.set_xlim(left=max(0.0, 100 * float(np.nanmin(vp[cols].to_numpy())) - 10))
    ax.set_yticks(y + 0.4 - h / 2, list(vp.index))
    ax.invert_yaxis()
    ax.axvline(100, color="#555", lw=0.8)
    ax.set_xlabel("% of the period oracle (expected profit, mean over seeds)")
    ax.legend(fontsize=7, loc="lower right")
    ax.grid(axis="x", alpha=0.3)
    own = wk[wk["policy"] == PRICEPILOT].groupby(["variant", "week"])["pct_period_oracle"].mean()
    for v in vp.index:
        if v in own.index.get_level_values(0):
            s = own.loc[v]
            ax2.plot(s.index, 100 * s.to_numpy(), marker="o", lw=1, label=str(v))
    ts = wk[wk["policy"] == TS_UPDATE].groupby("week")["pct_period_oracle"].mean()
    ax2.plot(ts.index, 100 * ts.to_numpy(), color="k", ls="--", lw=2, label="TS-update (mean)")
    ax2.set_xlabel("week of the run")
    ax2.xaxis.get_major_locator().set_params(integer=True)
    ax2.set_ylabel("pricepilot, % of the period oracle that week")
    ax2.legend(fontsize=6, ncol=2)
    ax2.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def markdown(cells: Sequence[CellResult]) -> str:
    """Variant x policy (% of the period oracle) with pricepilot's rank, then the aggregate."""
    vp = variant_policy_table(cells)
    pf = policies_frame(cells)
    rank = pf[pf["policy"] == PRICEPILOT].groupby("variant")["rank"].mean()
    head = ["variant", *vp.columns, "pricepilot rank"]
    out = ["| " + " | ".join(head) + " |", "|---" * len(head) + "|"]
    for v, r in vp.iterrows():
        cells_txt = [f"{100 * x:.1f}" for x in r.to_numpy()]
        out.append(f"| {v} | " + " | ".join(cells_txt) + f" | {rank[v]:.1f} |")
    agg = aggregate(cells)
    out.append("")
    out.append("mean % of the period oracle over variants: " + ", ".join(
        f"{k} {100 * v:.1f}" for k, v in agg["mean_pct_period_oracle"].items()))
    if agg["oracle_exceeded_variants"]:
        out.append("a baseline beat the (myopic) period oracle in: "
                   + ", ".join(agg["oracle_exceeded_variants"]) + "; without them: " + ", ".join(
                       f"{k} {100 * v:.1f}"
                       for k, v in agg["mean_pct_period_oracle_where_a_ceiling"].items()))
    out.append(f"pricepilot wins {agg['pricepilot_wins']} of {agg['cells']} variant x seed cells "
               f"(mean rank {agg['pricepilot_mean_rank']:.2f} of {len(POLICIES)}); worst margin "
               f"vs the best baseline {100 * agg['worst_vs_best_baseline']:+.1f}% "
               f"({agg['worst_cell']}); violations {agg['violations']}; fairness gap paid "
               f"<= {100 * agg['max_fairness_gap_paid']:.2f}%, offered "
               f"<= {100 * agg['max_fairness_gap_offered']:.2f}%")
    return "\n".join(out)


def load_outputs(dirs: Sequence[Path]) -> list[CellResult]:
    """The cells written by :func:`write_outputs` into ``dirs`` (several runs merged, in order),
    rebuilt for these reports (timings: pricepilot's run and training, TS-update's run)."""
    cells = []
    for d in dirs:
        pol, cf = pd.read_csv(d / "policies.csv"), pd.read_csv(d / "cells.csv")
        wk, st = pd.read_csv(d / "weekly.csv"), pd.read_csv(d / "stage_costs.csv")
        for r in cf.itertuples(index=False):
            key = (pol["variant"] == r.variant) & (pol["seed"] == r.seed)
            table = pol[key].drop(columns=["variant", "seed", "rank"]).set_index("policy")
            table.insert(0, "views", int(r.views))
            weekly = wk[(wk["variant"] == r.variant) & (wk["seed"] == r.seed)]
            stages = st[(st["variant"] == r.variant) & (st["seed"] == r.seed)]
            notes = [] if pd.isna(r.notes) else str(r.notes).split(" | ")
            cells.append(CellResult(
                str(r.variant), int(r.seed), int(r.days), table,
                weekly[["week", "expected_profit", "policy"]].reset_index(drop=True),
                stages.drop(columns=["variant", "seed"]).reset_index(drop=True),
                float(r.fairness_gap_paid), float(r.fairness_gap_offered),
                {f"run {PRICEPILOT}": float(r.pricepilot_run_s), "train": float(r.pricepilot_train_s),
                 f"run {TS_UPDATE}": float(r.ts_update_run_s)},
                notes, {"fallbacks": int(r.fallbacks), "personalised": int(r.personalised)}))
    return cells


def write_outputs(cells: Sequence[CellResult], out_dir: Path) -> dict[str, Path]:
    """CSV of every frame, ``summary.json`` (the aggregate) and ``robustness.png``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {
        "policies": out_dir / "policies.csv", "cells": out_dir / "cells.csv",
        "weekly": out_dir / "weekly.csv", "stages": out_dir / "stage_costs.csv",
        "summary": out_dir / "summary.json", "plot": out_dir / "robustness.png",
        "markdown": out_dir / "robustness.md",
    }
    policies_frame(cells).to_csv(paths["policies"], index=False)
    cells_frame(cells).to_csv(paths["cells"], index=False)
    weekly_frame(cells).to_csv(paths["weekly"], index=False)
    stages_frame(cells).to_csv(paths["stages"], index=False)
    paths["summary"].write_text(json.dumps(aggregate(cells), indent=2) + "\n", encoding="utf-8")
    paths["markdown"].write_text(markdown(cells) + "\n", encoding="utf-8")
    plot(cells, paths["plot"])
    return paths
