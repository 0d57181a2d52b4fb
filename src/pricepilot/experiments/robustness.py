"""The robustness suite: pricepilot at default settings on market variants, against every
baseline and both oracles (issue 12, point 4).

For each variant (:mod:`pricepilot.sim.variants`) and seed, :func:`run_cell` does what a new
shop would do, through the public Python API only:

1. the simulator writes the variant's history (none for 0 days: just the products and shoppers
   files); a shop is opened on a store in a temporary directory with **default settings**
   (:func:`default_settings`: only the data directory and ``gender`` declared audit-only, which
   a shop whose shoppers file carries it must declare; none of the simulated shop's tuned
   pricing settings, tested-range guardrails or posterior warm start), ``ingest_files`` loads
   the files, and ``upsert_products`` sets the new season's stock, season ends and ladders;
2. with history, ``shop.train()`` trains and promotes a model (defaults; a failure is recorded
   and the shop serves what it serves without one);
3. pricepilot prices ``days`` days of views, one ``shop.quote`` per view, the events going to
   ``shop.record``; every ``retrain_every`` days (default: nightly) ``shop.train()`` again;
4. list price, cost-plus 60%, competitor match -1% (snapped to the ladder where there is one),
   per-product Thompson sampling over the ladder, TS-update with the inventory LP
   (:mod:`pricepilot.sim.ts_update`) and both oracles price the same views.

Measured per cell: expected profit (true demand) and % of both oracles, profit by week, guardrail
violations, the fairness gap by gender (within product x day), each stage's cost under the true
demand (:mod:`pricepilot.experiments.stage_costs`) and wall times (pricepilot's run, its
training, TS-update's run).
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
import pandas as pd
import pyarrow.csv as pacsv

import pricepilot
from pricepilot.catalog.models import Product
from pricepilot.clock import FixedClock
from pricepilot.config import Settings, load_settings
from pricepilot.errors import PricepilotError
from pricepilot.experiments.simulated_shop import fairness_table, guardrail_violations
from pricepilot.experiments.stage_costs import ExplainedShopPolicy, stage_costs
from pricepilot.serving.api import Shop
from pricepilot.sim import (
    CompetitorMatchPolicy,
    CostPlusPolicy,
    ListPricePolicy,
    Market,
    PeriodOracle,
    PersonalisedOracle,
    SimConfig,
    ThompsonPolicy,
    events_frame,
    generate_history,
)
from pricepilot.sim.baselines import LadderSnap
from pricepilot.sim.history import products_table, shoppers_table
from pricepilot.sim.market import MarketPolicy, RunResult
from pricepilot.sim.shoppers import GENDERS
from pricepilot.sim.ts_update import TSUpdatePolicy
from pricepilot.sim.variants import MarketVariant, variant_configs

PRICEPILOT = "pricepilot"
TS_UPDATE = "TS-update + LP"
BASELINES = ("list price", "cost-plus 60%", "competitor match -1%", "Thompson ladder", TS_UPDATE)
ORACLES = ("period oracle", "personalised oracle")
Progress = Callable[[str, float], None]


@dataclass(frozen=True)
class SuiteConfig:
    """The size of every cell: ``days`` priced, ``shoppers``, ``products``; seeds
    ``first_seed .. first_seed + seeds - 1``; pricepilot retrained every ``retrain_every``
    days (0: never after the first training)."""

    seeds: int = 5
    first_seed: int = 1
    days: int = 28
    shoppers: int = 5000
    products: int = 200
    retrain_every: int = 1

    def seed_list(self) -> list[int]:
        return list(range(self.first_seed, self.first_seed + self.seeds))


@dataclass
class CellResult:
    """One variant x seed. ``table``: one row per policy (index) with views, orders, profit,
    expected_profit, pct_period_oracle, pct_personalised_oracle, guardrail_violations.
    ``weekly``: expected profit per policy and week. ``stages``: pricepilot's stage costs."""

    variant: str
    seed: int
    days: int
    table: pd.DataFrame
    weekly: pd.DataFrame
    stages: pd.DataFrame
    fairness_gap: float
    fairness_offered_gap: float
    timings: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    stats: dict[str, int] = field(default_factory=dict)


def default_settings(root: Path, overrides: Mapping[str, Any] | None = None) -> Settings:
    """pricepilot's defaults, with only what this shop must declare: its data directory and the
    shoppers file's ``gender`` as an audit-only attribute."""
    base: dict[str, Any] = {"paths.data_dir": str(root), "compliance.audit_only": ["gender"]}
    return load_settings(None, env={}, overrides={**base, **(overrides or {})})


def write_catalogue_files(market: Market, out: Path) -> dict[str, Path]:
    """The products and shoppers files of a shop without history."""
    out.mkdir(parents=True, exist_ok=True)
    paths = {"products": out / "products.csv", "shoppers": out / "shoppers.csv"}
    opts = pacsv.WriteOptions(quoting_style="needed")
    pacsv.write_csv(products_table(market), paths["products"], opts)
    pacsv.write_csv(shoppers_table(market), paths["shoppers"], opts)
    return paths


def season_products(stored: list[Product], run: Market) -> list[Product]:
    """The stored products with the new season's stock, season end and ladder."""
    new = {p.product_id: p for p in run.products()}
    out = []
    for p in stored:
        q = new[p.product_id]
        g = msgspec.structs.replace(p.guardrails, ladder=q.guardrails.ladder)
        out.append(msgspec.structs.replace(p, stock=q.stock, season_end=q.season_end, guardrails=g))
    return out


def _train(shop: Shop, clock: FixedClock, at: datetime, notes: list[str]) -> float:
    """``shop.train()`` at ``at`` with the defaults; a failure is noted, not raised."""
    t = time.perf_counter()
    clock.set(at)
    try:
        m = shop.train(promote=True)
        if not m.promotable:
            notes.append(f"{at:%m-%d}: model {m.version} not promoted ({m.promotion_note})")
    except (PricepilotError, ValueError) as e:
        notes.append(f"{at:%m-%d}: train failed: {str(e)[:160]}")
    return time.perf_counter() - t


def open_shop(variant: MarketVariant, history: SimConfig, run: Market, root: Path,
              notes: list[str], overrides: Mapping[str, Any] | None = None) -> tuple[Shop, FixedClock, float]:
    """Steps 1-2 of the module doc; returns the shop, its clock and the training time."""
    if variant.history_days > 0:
        paths = generate_history(history, root / "history", fmt="parquet")
        events = [paths["events"]]
    else:
        paths, events = write_catalogue_files(run, root / "history"), []
    clock = FixedClock(run.config.start)
    shop = pricepilot.open(default_settings(root, overrides), clock=clock, seed=history.seed,
                           warm=False)
    try:
        shop.ingest_files(products=paths["products"], shoppers=paths["shoppers"], events=events)
        shop.upsert_products(season_products(shop.app.store.list_products(), run))
        train_s = _train(shop, clock, run.config.start, notes) if events else 0.0
    except BaseException:
        shop.close()
        raise
    return shop, clock, train_s


def baseline_policies(market: Market, seed: int, horizon_end: datetime) -> dict[str, MarketPolicy]:
    products = market.products()
    laddered = any(p.guardrails.ladder for p in products)

    def snap(pol: ListPricePolicy | CostPlusPolicy | CompetitorMatchPolicy) -> MarketPolicy:
        return LadderSnap(pol, products) if laddered else pol

    return {
        BASELINES[0]: snap(ListPricePolicy(products)),
        BASELINES[1]: snap(CostPlusPolicy(products, markup=0.6)),
        BASELINES[2]: snap(CompetitorMatchPolicy(products, undercut=0.01)),
        BASELINES[3]: ThompsonPolicy(products, seed=seed),
        TS_UPDATE: TSUpdatePolicy(products, horizon_end=horizon_end, seed=seed),
    }


def _row(name: str, run: RunResult) -> dict[str, Any]:
    d = run.daily
    return dict(policy=name, views=int(d["views"].sum()), orders=int(d["orders"].sum()),
                units=int(d["units"].sum()), profit=int(d["profit"].sum()),
                expected_profit=float(d["expected_profit"].sum()))


def _weekly(name: str, run: RunResult) -> pd.DataFrame:
    d = run.daily[["day", "expected_profit"]].copy()
    d["week"] = d["day"] // 7 + 1
    w = d.groupby("week", as_index=False)["expected_profit"].sum()
    w["policy"] = name
    return w


def run_cell(variant: MarketVariant, seed: int, suite: SuiteConfig, *,
             overrides: Mapping[str, Any] | None = None, progress: Progress | None = None,
             workdir: Path | None = None) -> CellResult:
    """One variant and seed, every policy on the same views (see the module doc)."""
    say: Progress = progress or (lambda _m, _f: None)
    tmp = tempfile.TemporaryDirectory(prefix="pricepilot-robust-") if workdir is None else None
    root = workdir if workdir is not None else Path(tmp.name)  # type: ignore[union-attr]
    try:
        return _run_cell(variant, seed, suite, root, overrides, say)
    finally:
        if tmp is not None:
            tmp.cleanup()


def _run_cell(variant: MarketVariant, seed: int, suite: SuiteConfig, root: Path,
              overrides: Mapping[str, Any] | None, say: Progress) -> CellResult:
    hist_cfg, run_cfg = variant_configs(variant, seed=seed, days=suite.days,
                                        shoppers=suite.shoppers, products=suite.products)
    market = Market(run_cfg)
    notes: list[str] = []
    timings: dict[str, float] = {}
    rseed = seed + 1000
    t = time.perf_counter()
    say("history and shop", 0.0)
    shop, clock, train_s = open_shop(variant, hist_cfg, market, root, notes, overrides)
    timings["setup"] = time.perf_counter() - t - train_s
    timings["train"] = train_s
    rows, weekly, runs_out = [], [], {}
    with shop:
        policy = ExplainedShopPolicy(shop, clock, run_id=f"robust{seed}")
        start = run_cfg.start

        def nightly(done: int) -> None:
            say(f"{PRICEPILOT}: day {done}/{suite.days}", 0.05 + 0.6 * done / suite.days)
            if suite.retrain_every and done < suite.days and done % suite.retrain_every == 0:
                timings["train"] += _train(shop, clock, start + timedelta(days=done), notes)

        t = time.perf_counter()
        run = market.run(policy, days=suite.days, seed=rseed, progress=nightly)
        timings[f"run {PRICEPILOT}"] = time.perf_counter() - t
        timings["retrain"] = timings["train"] - train_s
        timings[f"run {PRICEPILOT}"] -= timings["retrain"]
        runs_out[PRICEPILOT] = run
        pseudo = shop.app.pseudonymise
        gender = {pseudo(c): GENDERS[int(g)] for c, g in
                  zip(market.shoppers.customer_ids, market.shoppers.gender)}
    others: dict[str, MarketPolicy] = dict(baseline_policies(
        market, seed, start + timedelta(days=suite.days)))
    others[ORACLES[0]] = PeriodOracle(market)
    others[ORACLES[1]] = PersonalisedOracle(market)
    for i, (name, pol) in enumerate(others.items()):
        say(f"run {name}", 0.65 + 0.35 * i / len(others))
        t = time.perf_counter()
        runs_out[name] = market.run(pol, days=suite.days, seed=rseed)
        timings[f"run {name}"] = time.perf_counter() - t
    products = {p.product_id: p for p in market.products()}
    gap = offered = 0.0
    for name, r in runs_out.items():
        ev = events_frame(r)
        row = _row(name, r)
        row["guardrail_violations"] = guardrail_violations(ev[ev["type"] == "view"], products)
        rows.append(row)
        weekly.append(_weekly(name, r))
        if name == PRICEPILOT:
            ev["user_id"] = [pseudo(u) if isinstance(u, str) else None for u in ev["user_id"]]
            gap = fairness_table(ev, gender)[1]
            offered = fairness_table(ev, gender, event_type="view")[1]
    table = pd.DataFrame(rows).set_index("policy")
    for o, col in ((ORACLES[0], "pct_period_oracle"), (ORACLES[1], "pct_personalised_oracle")):
        table[col] = table["expected_profit"] / table.loc[o, "expected_profit"]
    stages = stage_costs(market, runs_out[PRICEPILOT].decisions, policy.steps)
    say("done", 1.0)
    return CellResult(variant.name, seed, suite.days, table, pd.concat(weekly, ignore_index=True),
                      stages, gap, offered, timings, notes,
                      dict(decisions=policy.decisions, personalised=policy.personalised,
                           fallbacks=policy.fallbacks))


def run_suite(variants: list[MarketVariant], suite: SuiteConfig, *,
              overrides: Mapping[str, Any] | None = None,
              progress: Callable[[MarketVariant, int, str, float], None] | None = None,
              done: Callable[[CellResult], None] | None = None) -> list[CellResult]:
    """Every variant x seed in turn; ``done`` is called with each finished cell."""
    cells = []
    for v in variants:
        for seed in suite.seed_list():
            def say(label: str, frac: float, v: MarketVariant = v, seed: int = seed) -> None:
                if progress is not None:
                    progress(v, seed, label, frac)
            cell = run_cell(v, seed, suite, overrides=overrides, progress=say)
            cells.append(cell)
            if done is not None:
                done(cell)
    return cells


