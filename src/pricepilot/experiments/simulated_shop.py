"""The simulated shop, end to end through pricepilot's public API, against every baseline and
both oracles.

:func:`evaluate_shop` does what a shop adopting pricepilot would do, through the Python API
(:func:`pricepilot.open`) only, then measures it:

1. the simulator writes ``history_days`` of history (events, products, shoppers files);
2. a shop is opened on a store in the work directory (SQLite) with the shop's settings
   (:func:`shop_settings`) and a clock the simulation moves; ``shop.ingest_files`` loads the
   files (customer ids pseudonymised; the protected ``gender`` is not in them: it stays in the
   simulator's audit file, read only by the fairness audit) and
   ``shop.upsert_products`` sets the shop's own guardrails (:func:`history_range_guardrails`);
3. the store's point-in-time training set is built; the last ``holdout_days`` days are held out;
   ``shop.train`` trains a LightGBM demand model on the rest, registers and promotes it, its
   calibration is measured on the held-out days, and ``shop.warm_posterior`` teaches the model's
   demand posterior the whole history's in-stock views (each product's own correction of the
   pooled model, level and price slope);
4. :class:`~pricepilot.experiments.shop_policy.ShopApiPolicy` prices the next ``days`` days with
   ``shop.quote`` and reports the simulator's events with ``shop.record``: the decisions are the
   ones the HTTP service makes for the same inputs;
5. every baseline (list price, cost-plus, competitor match, per-product Thompson sampling) and
   both oracles run on the same views (same run seed: common random numbers).

>>> ev = evaluate_shop(3, days=2, history_days=14, shoppers=150, products=12)  # doctest: +SKIP
>>> ev.table.loc["pricepilot", "guardrail_violations"]  # doctest: +SKIP
0
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
import numpy as np
import pandas as pd

import pricepilot
from pricepilot.catalog.models import Guardrails, Product, effective_guardrails
from pricepilot.clock import FixedClock, to_micros
from pricepilot.config import Settings, load_settings
from pricepilot.demand.evaluation import CalibrationBin, bins
from pricepilot.demand.registry import ModelManifest
from pricepilot.demand.training import in_stock
from pricepilot.errors import ValidationError
from pricepilot.experiments.shop_policy import ShopApiPolicy
from pricepilot.features.training import training_set_from_store
from pricepilot.pricing.candidates import ending_modulus
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
from pricepilot.sim.history import read_protected_attributes
from pricepilot.sim.market import MarketPolicy, RunResult

PRICEPILOT = "pricepilot"
BASELINES = ("list price", "cost-plus 60%", "competitor match -1%", "Thompson ladder")
ORACLES = ("period oracle", "personalised oracle")
DAY_US = 86_400_000_000

# The registry's defaults (auto calibration: centred isotonic on this much data, which keeps the
# booster's price slope); plain isotonic steps sent the optimiser to the top of each flat step.
MODEL_PARAMS: dict[str, Any] = {}


Progress = Callable[[str, float], None]


@dataclass
class ShopEvaluation:
    """Results of :func:`evaluate_shop` for one seed.

    ``table``: one row per policy (index) with views, orders, units, revenue, profit (realised,
    minor units), expected_profit (under the true demand), conversion, pct_period_oracle,
    pct_personalised_oracle (of expected profit) and guardrail_violations. ``daily``: per policy
    and day, profit and expected profit. ``calibration``: predicted vs actual purchase rate on
    the held-out history days. ``fairness``: mean price paid per gender, within product × day
    cells. ``model``: registry version and held-out metrics.
    """

    seed: int
    days: int
    currency: str
    table: pd.DataFrame
    daily: pd.DataFrame
    calibration: list[CalibrationBin]
    fairness: pd.DataFrame
    fairness_gap: float
    fairness_offered_gap: float = 0.0
    model: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    policy_stats: dict[str, int] = field(default_factory=dict)
    events: pd.DataFrame | None = None  # pricepilot's run: EVENT_COLUMNS, pseudonymous user_id
    products: list[Product] = field(default_factory=list)


def shop_settings(root: Path, overrides: Mapping[str, Any] | None = None) -> Settings:
    """The settings the simulated shop is priced with (data under ``root``); see the docs."""
    return _settings(root, overrides)


def _settings(root: Path, overrides: Mapping[str, Any] | None) -> Settings:
    # pricepilot's pricing defaults: what a shop gets (the tuned set this shop used before,
    # smoothing off, +-25% a day, a +-50% band, a finer grid, 20% personal discounts, earned
    # +0.7% over the best baseline on the default seed against +0.6% at the defaults)
    base: dict[str, Any] = {
        "paths.data_dir": str(root),
        "compliance.audit_only": ["gender"],
    }
    base.update(overrides or {})
    return load_settings(None, env={}, overrides=base)


def history_range_guardrails(products: list[Product], views: pd.DataFrame,
                             below: float = 0.0, top_quantile: float = 1.0) -> list[Product]:
    """The shop's guardrails for model-driven prices: each product's floor and ceiling become
    the lowest (less ``below``, a fraction) and highest price its history has shown, never
    below its own floor or cost + 1, so prices stay near where the demand model has data.
    Products never shown keep their guardrails."""
    grouped = views.groupby("product_id")["price"]
    rng = pd.DataFrame({"min": grouped.min(), "max": grouped.quantile(top_quantile, interpolation="lower")})
    out = []
    for p in products:
        g = p.guardrails
        if p.product_id in rng.index:
            lo, hi = (int(v) for v in rng.loc[p.product_id])
            floor = max(int(np.ceil(lo * (1.0 - below))), g.floor or 1, p.unit_cost + 1)
            ceiling = max(hi if g.ceiling is None else min(hi, g.ceiling), floor)
            g = msgspec.structs.replace(g, floor=floor, ceiling=ceiling)
        out.append(msgspec.structs.replace(p, guardrails=g))
    return out


def guardrail_violations(views: pd.DataFrame, products: Mapping[str, Product],
                         categories: dict[str, Guardrails] | None = None) -> int:
    """Served prices (view events: ``product_id``, ``price``) outside their product's guardrails:
    below the floor or the margin floor, above the ceiling, off the ladder or the price ending."""
    bad = 0
    for pid, prices in views.groupby("product_id")["price"]:
        p = products[str(pid)]
        g = effective_guardrails(p, categories)
        arr = prices.to_numpy(np.int64)
        low = g.floor if g.floor is not None else 1
        if g.min_margin is not None:
            # the smallest price whose margin is at least min_margin
            low = max(low, int(np.ceil(p.unit_cost / (1.0 - g.min_margin) - 1e-9)))
        ok = arr >= low
        if g.ceiling is not None:
            ok &= arr <= g.ceiling
        if g.ladder:
            ok &= np.isin(arr, np.asarray(g.ladder, dtype=np.int64)) | (arr == low)
        elif g.price_ending is not None:
            ok &= (arr % ending_modulus(g, p.currency)) == g.price_ending
        bad += int((~ok).sum())
    return bad


def fairness_table(events: pd.DataFrame, gender: Mapping[str, str],
                   event_type: str = "purchase") -> tuple[pd.DataFrame, float]:
    """Mean price paid by gender, compared within product × day cells.

    For every cell (product, day) with purchases by both groups, the relative gap of each group's
    mean paid price to the cell's overall mean paid price is weighted by the group's purchases
    there. Returns a table (group, purchases, cells, weighted relative gap) and the largest
    absolute difference between any two groups' gaps (0.01 = 1%). ``event_type="view"`` compares
    the prices offered instead of the prices paid (many more observations, less noise).
    """
    buys = events[events["type"] == event_type].copy()
    buys["group"] = buys["user_id"].map(gender)
    buys = buys.dropna(subset=["group"])
    if buys.empty:
        return pd.DataFrame(columns=["group", "purchases", "cells", "relative_gap"]), 0.0
    buys["day"] = buys["ts"].to_numpy(np.int64) // DAY_US
    buys["price"] = buys["price"].astype(np.float64)
    cell = buys.groupby(["product_id", "day"])
    buys["cell_mean"] = cell["price"].transform("mean")
    buys["cell_groups"] = cell["group"].transform("nunique")
    both = buys[buys["cell_groups"] > 1]
    rows = []
    for g, part in both.groupby("group"):
        per = part.groupby(["product_id", "day"]).agg(n=("price", "size"), paid=("price", "mean"),
                                                      ref=("cell_mean", "first"))
        gap = float(np.average(per["paid"] / per["ref"] - 1.0, weights=per["n"]))
        rows.append(dict(group=g, purchases=int(per["n"].sum()), cells=len(per), relative_gap=gap))
    table = pd.DataFrame(rows)
    spread = float(table["relative_gap"].max() - table["relative_gap"].min()) if len(table) > 1 else 0.0
    return table, spread


@dataclass
class PreparedShop:
    """A simulated shop opened through the public API, its history ingested, guardrails set and
    model trained (:func:`prepare_shop`); close ``shop`` when done.

    ``clock``: the shop's clock (at the history's end; a policy moves it). ``original``: the
    products file's products; ``catalogue``: with the shop's guardrails. ``calibration``: the
    model's predicted vs actual purchase rate on the held-out days (empty without a servable
    model). ``customer_ids``: the shoppers file's (the shop's own ids). ``audit_path``: the
    simulator's protected attributes by customer id (never ingested; the fairness audit's).
    """

    shop: Shop
    clock: FixedClock
    end: datetime
    original: dict[str, Product]
    catalogue: list[Product]
    manifest: ModelManifest
    calibration: list[CalibrationBin]
    train_rows: int
    held_rows: int
    customer_ids: list[str]
    audit_path: Path | None = None
    timings: dict[str, float] = field(default_factory=dict)


def prepare_shop(
    cfg: SimConfig,
    root: Path,
    *,
    holdout_days: int = 7,
    overrides: Mapping[str, Any] | None = None,
    model_params: Mapping[str, Any] | None = None,
    tested_range: bool = True,
    family: str = "lgbm",
    range_below: float = 0.15,
    range_top: float = 0.9,
    warm_posterior: bool = True,
    progress: Progress | None = None,
) -> PreparedShop:
    """Steps 1-3 of the module doc for the market ``cfg``, in ``root``: the history's files,
    the shop opened on them (``pricepilot.open`` with :func:`shop_settings` and ``overrides``,
    seeded with ``cfg.seed``), the shop's guardrails, the model trained (the last
    ``holdout_days`` held out for its calibration) and, with ``warm_posterior``, its demand
    posterior taught the history."""
    say: Progress = progress or (lambda _m, _f: None)
    timings: dict[str, float] = {}
    t = time.perf_counter()
    say("history", 0.0)
    paths = generate_history(cfg, root / "history", fmt="parquet")
    timings["history"] = time.perf_counter() - t

    t = time.perf_counter()
    end = cfg.start + timedelta(days=cfg.days)
    clock = FixedClock(end)
    shop = pricepilot.open(shop_settings(root, overrides), clock=clock, seed=cfg.seed,
                           warm=False)
    try:
        say("ingest", 0.1)
        shop.ingest_files(products=paths["products"], shoppers=paths["shoppers"],
                          events=[paths["events"]])
        store = shop.app.store
        catalogue = store.list_products()
        original = {p.product_id: p for p in catalogue}
        if tested_range:
            catalogue = shop.upsert_products(history_range_guardrails(
                catalogue, store.events_frame(types=["view"]), below=range_below,
                top_quantile=range_top))
        timings["ingest"] = time.perf_counter() - t

        t = time.perf_counter()
        say("training set", 0.2)
        frame = training_set_from_store(store, shop.settings)
        cutoff = to_micros(end - timedelta(days=holdout_days))
        train, held = frame[frame["ts"] < cutoff], in_stock(frame[frame["ts"] >= cutoff])
        say("train model", 0.3)
        manifest = shop.train(frame=train.reset_index(drop=True), family=family, n_splits=2,
                              params={**MODEL_PARAMS, **(model_params or {})}, promote=True)
        # a model the promotion rule refuses is not what the shop would serve: pricepilot then
        # quotes guarded list prices (its fallback), as the service does without a model
        calibration: list[CalibrationBin] = []
        if manifest.promotable and len(held):
            model = shop.app.registry.get(manifest.version)
            calibration = bins(held["y"].to_numpy(), model.predict_proba(held))
        timings["train"] = time.perf_counter() - t

        t = time.perf_counter()
        if warm_posterior and manifest.promotable:
            say("warm the demand posterior", 0.45)
            shop.warm_posterior(frame, version=manifest.version)
        timings["warm"] = time.perf_counter() - t
    except BaseException:
        shop.close()
        raise
    customer_ids = pd.read_csv(paths["shoppers"], usecols=["customer_id"])["customer_id"]
    return PreparedShop(shop=shop, clock=clock, end=end, original=original, catalogue=catalogue,
                        manifest=manifest, calibration=calibration, train_rows=len(train),
                        held_rows=len(held), customer_ids=[str(c) for c in customer_ids],
                        audit_path=paths["audit"], timings=timings)


def audit_genders(prepared: PreparedShop) -> dict[str, str]:
    """Each shopper's gender, by pseudonymous id (the fairness audit's groups), from the
    simulator's audit file: the store never holds it."""
    if prepared.audit_path is None:
        raise ValidationError("fairness audit", "audit_path", "the shop has no protected-attributes file")
    pseudo = prepared.shop.app.pseudonymise
    gender = read_protected_attributes(prepared.audit_path)
    return {pseudo(cid): gender.get(cid, "") for cid in prepared.customer_ids}


def _summary(name: str, run: RunResult) -> dict[str, Any]:
    d = run.daily
    views = int(d["views"].sum())
    return dict(policy=name, views=views, orders=int(d["orders"].sum()), units=int(d["units"].sum()),
                revenue=int(d["revenue"].sum()), profit=int(d["profit"].sum()),
                expected_profit=float(d["expected_profit"].sum()),
                conversion=float(d["orders"].sum() / views) if views else 0.0)


def evaluate_shop(
    seed: int,
    days: int = 28,
    history_days: int = 90,
    *,
    shoppers: int = 5000,
    products: int = 200,
    holdout_days: int = 7,
    run_seed: int | None = None,
    overrides: Mapping[str, Any] | None = None,
    model_params: Mapping[str, Any] | None = None,
    baselines: bool = True,
    oracles: bool = True,
    tested_range: bool = True,
    family: str = "lgbm",
    range_below: float = 0.15,
    range_top: float = 0.9,
    warm_posterior: bool = True,
    workdir: str | Path | None = None,
    progress: Progress | None = None,
    start: datetime | None = None,
) -> ShopEvaluation:
    """Run the whole pipeline for one simulated shop (see the module docstring); the store,
    model and posterior files stay in ``workdir`` when given (else a temporary directory)."""
    say: Progress = progress or (lambda _m, _f: None)
    tmp = tempfile.TemporaryDirectory(prefix="pricepilot-shop-") if workdir is None else None
    root = Path(workdir) if workdir is not None else Path(tmp.name)  # type: ignore[union-attr]
    try:
        start_kw: dict[str, Any] = {"start": start} if start is not None else {}
        cfg = SimConfig(seed=seed, days=history_days, shoppers=shoppers, products=products,
                        **start_kw)
        prepared = prepare_shop(cfg, root, holdout_days=holdout_days, overrides=overrides,
                                model_params=model_params, tested_range=tested_range,
                                family=family, range_below=range_below, range_top=range_top,
                                warm_posterior=warm_posterior, progress=say)
        with prepared.shop:
            return _evaluate(prepared, cfg, days, run_seed if run_seed is not None else seed + 1000,
                             baselines=baselines, oracles=oracles, say=say)
    finally:
        if tmp is not None:
            tmp.cleanup()


def _evaluate(prepared: PreparedShop, cfg: SimConfig, days: int, rseed: int, *,
              baselines: bool, oracles: bool, say: Progress) -> ShopEvaluation:
    """Steps 4-5 of the module doc: every policy on the same views, and the measurements."""
    timings = dict(prepared.timings)
    policy = ShopApiPolicy(prepared.shop, prepared.clock)
    market = Market(cfg)
    shop_products = market.products()
    runs: dict[str, MarketPolicy] = {PRICEPILOT: policy}
    if baselines:
        runs[BASELINES[0]] = ListPricePolicy(shop_products)
        runs[BASELINES[1]] = CostPlusPolicy(shop_products, markup=0.6)
        runs[BASELINES[2]] = CompetitorMatchPolicy(shop_products, undercut=0.01)
        runs[BASELINES[3]] = ThompsonPolicy(shop_products, seed=cfg.seed)
    if oracles:
        runs[ORACLES[0]] = PeriodOracle(market)
        runs[ORACLES[1]] = PersonalisedOracle(market)
    by_id = {p.product_id: p for p in prepared.catalogue}
    pseudo = prepared.shop.app.pseudonymise
    gender = audit_genders(prepared)
    rows, daily, fairness, gap, offered_gap = [], [], pd.DataFrame(), 0.0, 0.0
    own_events: pd.DataFrame | None = None
    for i, (name, pol) in enumerate(runs.items()):
        t = time.perf_counter()
        say(f"run {name}", 0.5 + 0.5 * i / len(runs))
        run = market.run(pol, days=days, start=prepared.end, seed=rseed)
        timings[f"run {name}"] = time.perf_counter() - t
        row = _summary(name, run)
        ev = events_frame(run)
        ev["user_id"] = [pseudo(u) if isinstance(u, str) else None for u in ev["user_id"]]
        served = ev[ev["type"] == "view"]
        # every policy against the products file's guardrails; pricepilot also against the
        # stricter ones the shop configured for it (tested range)
        row["guardrail_violations"] = guardrail_violations(served, prepared.original)
        if name == PRICEPILOT:
            row["guardrail_violations"] += guardrail_violations(served, by_id)
        rows.append(row)
        d = run.daily[["day", "profit", "expected_profit"]].copy()
        d["policy"] = name
        daily.append(d)
        if name == PRICEPILOT:
            fairness, gap = fairness_table(ev, gender)
            offered_gap = fairness_table(ev, gender, event_type="view")[1]
            own_events = ev
    table = pd.DataFrame(rows).set_index("policy")
    for o, col in ((ORACLES[0], "pct_period_oracle"), (ORACLES[1], "pct_personalised_oracle")):
        table[col] = table["expected_profit"] / table.loc[o, "expected_profit"] if o in table.index else np.nan
    say("done", 1.0)
    manifest = prepared.manifest
    return ShopEvaluation(
        seed=cfg.seed, days=days, currency=cfg.currency, table=table,
        daily=pd.concat(daily, ignore_index=True), calibration=prepared.calibration,
        fairness=fairness, fairness_gap=gap, fairness_offered_gap=offered_gap,
        model=dict(version=manifest.version, train_rows=prepared.train_rows,
                   held_rows=prepared.held_rows, cv_log_loss=manifest.metrics.get("log_loss"),
                   cv_auc=manifest.metrics.get("auc"), calibration=manifest.calibration_method,
                   calibration_note=manifest.calibration_note,
                   promotion_note=manifest.promotion_note),
        timings=timings,
        policy_stats=dict(decisions=policy.decisions, personalised=policy.personalised,
                          fallbacks=policy.fallbacks),
        events=own_events, products=prepared.catalogue,
    )
