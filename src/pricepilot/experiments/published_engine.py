"""The published pricing benchmarks B1 and B2 through the engine a shop gets.

:mod:`pricepilot.pricing.published` runs B1 and B2 (Ferreira, Simchi-Levi & Wang 2018) with a
vectorised reimplementation of TS-update: the *reference*. This module runs them through the
public Python API instead, as a shop's own evaluation harness would: ``pricepilot.open(...)`` on
a temporary data directory with an injected :class:`~pricepilot.clock.FixedClock`, the
benchmark's products upserted (the price menu as each product's ladder, stock, season end at the
horizon), one ``shop.quote`` per arriving shopper, the shopper's response drawn from the true
demand at the served price, ``shop.record`` of the view (naming its quote), the purchase and the
new stock, and ``shop.train(promote=True)`` as a shop schedules it. Until a model is promoted,
quotes are the guarded list price (fallback), as the service serves them.

How the benchmarks are expressed in what a shop can tell pricepilot (:data:`MAPPING`):

* one shopper arrives per hour; the engine estimates the arrival rate itself, as for any
  product (the last 7 days' views with a prior of ``pricing.prior_arrivals_per_hour``);
* the list price is the highest price of the menu (the menu read as a list price and its
  markdowns, to the season end); unit cost 0, so the default profit objective is revenue;
* B1: one product, stock ⌊αT⌋, season end after T shoppers, the shopper buys with the true
  probability of the served price;
* B2: **the engine has no shared-resource constraint.** Each product has its own ladder (the
  prices it takes in the paper's five vectors), so the engine may serve pairs outside them; a
  product's stock is reported (inventory events) as the units the remaining resources could
  make of it alone, while the simulation sells only while every resource it uses lasts. A
  period's Poisson demand is :data:`B2_SHOPPERS` shoppers, each buying product i with
  probability μi / 10 (the paper's mean per period);
* training: nightly until a model is promoted, then whenever the history has doubled since
  the last promoted model; a training the history cannot support yet (too few views, one class)
  is skipped, as a shop's nightly job would skip it;
* the outcome learner makes one pass per arriving shopper: in the service it runs every 0.5 s,
  thousands of times per simulated hour, so every outcome is learnt before the next shopper.

The settings are the defaults (``load_settings`` with no file and no environment) plus
``overrides``; :func:`settings_note` states the ones that matter here.
"""

from __future__ import annotations

import itertools
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

import pricepilot
from pricepilot.catalog.models import Guardrails, Product
from pricepilot.clock import FixedClock
from pricepilot.config import Settings, load_settings
from pricepilot.errors import ValidationError
from pricepilot.events.schemas import Event, Inventory, Purchase, View
from pricepilot.pricing.network import (
    B1_DEMAND,
    B1_PRICES,
    B2_CAPACITY,
    B2_PRICES,
    B2_USAGE,
    RunResult,
    b1_opt,
    b2_demand,
    b2_opt,
)
from pricepilot.pricing.published import PUBLISHED_B1, PUBLISHED_B2, BenchResult, BenchRow
from pricepilot.serving.api import Shop

F = npt.NDArray[np.float64]
START = datetime(2026, 3, 2, tzinfo=timezone.utc)
HOUR = timedelta(hours=1)
CURRENCY = "EUR"
B2_SHOPPERS = 10  # shoppers per B2 period: their purchases add up to the period's mean demand
B2_SETTINGS = ("linear", "exponential", "logit")
MAPPING = ("one shopper per hour; list price = the highest menu price; unit cost 0; training "
           "nightly until a model is promoted, then whenever the history has doubled")
Tick = Callable[[int], None]  # shoppers served since the last call
_TICK = 100


def _cents(prices: Sequence[float]) -> list[int]:
    return sorted({int(round(100 * p)) for p in prices})


B1_LADDER = _cents(B1_PRICES.tolist())
B2_LADDERS = [_cents(B2_PRICES[:, j].tolist()) for j in range(B2_PRICES.shape[1])]
B2_PAIRS = np.array(list(itertools.product(*B2_LADDERS)), dtype=np.float64) / 100.0


class Market(Protocol):
    """A benchmark's products and true demand: what the shop sells and how shoppers respond."""

    products: list[Product]

    def stock(self) -> list[int]:
        """Units of each product that can still be sold."""
        ...

    def serve(self, prices: Sequence[int], rng: np.random.Generator) -> list[bool]:
        """One shopper sees ``prices``: which products they buy (within the stock)."""
        ...

    def sold_share(self, sold: Sequence[int]) -> float:
        """Share of what could be sold that was: the stock, or the binding resource."""
        ...


class B1Market:
    """B1: one product, Bernoulli purchase at the served price's true probability."""

    def __init__(self, alpha: float, horizon: int) -> None:
        self.left = self.initial = int(np.floor(alpha * horizon))
        self.products = [Product(
            product_id="B1", title="B1 product", category="b1", currency=CURRENCY, unit_cost=0,
            list_price=B1_LADDER[-1], stock=self.left, season_end=START + horizon * HOUR,
            guardrails=Guardrails(ladder=B1_LADDER))]

    def stock(self) -> list[int]:
        return [self.left]

    def serve(self, prices: Sequence[int], rng: np.random.Generator) -> list[bool]:
        p = B1_DEMAND[B1_LADDER.index(prices[0])]
        bought = self.left > 0 and bool(rng.random() < p)
        self.left -= bought
        return [bought]

    def sold_share(self, sold: Sequence[int]) -> float:
        return sold[0] / self.initial if self.initial else 0.0


class B2Market:
    """B2: two products sharing three resources; each shopper buys product i with probability
    μi(p1, p2) / :data:`B2_SHOPPERS`, fulfilled product by product while its resources last."""

    def __init__(self, shape: str, horizon: int) -> None:
        b2_demand(shape)  # an unknown shape fails here
        self.shape = shape
        self.capacity = B2_CAPACITY * horizon
        self.resources = self.capacity.copy()
        season_end = START + horizon * B2_SHOPPERS * HOUR
        self.products = [Product(
            product_id=f"B2-{j + 1}", title=f"B2 product {j + 1}", category="b2",
            currency=CURRENCY, unit_cost=0, list_price=ladder[-1], stock=s,
            season_end=season_end, guardrails=Guardrails(ladder=ladder))
            for j, (ladder, s) in enumerate(zip(B2_LADDERS, self.stock(), strict=True))]

    def stock(self) -> list[int]:
        """What the remaining resources could make of each product alone."""
        out = []
        for use in B2_USAGE.T:
            used = use > 0
            out.append(int(np.floor((self.resources[used] / use[used]).min() + 1e-9)))
        return out

    def serve(self, prices: Sequence[int], rng: np.random.Generator) -> list[bool]:
        mu = b2_demand(self.shape, np.array([prices], dtype=np.float64) / 100.0)[0]
        sold = []
        for j, want in enumerate(rng.random(len(mu)) < mu / B2_SHOPPERS):
            use = B2_USAGE[:, j]
            ok = bool(want) and bool((self.resources >= use - 1e-9).all())
            if ok:
                self.resources = self.resources - use
            sold.append(ok)
        return sold

    def sold_share(self, sold: Sequence[int]) -> float:
        return float((B2_USAGE @ np.asarray(sold, dtype=np.float64) / self.capacity).max())


@dataclass(frozen=True)
class ShopRun:
    """One simulated shop's run through the engine."""

    revenue: float  # major units
    sold: list[int]  # units per product
    sold_share: float  # of the stock (B1) or of the binding resource (B2)
    quotes: int  # quotes served (shoppers until the stock ran out)
    fallback_quotes: int  # quoted at the guarded list price (no model yet)
    models_promoted: int


def engine_settings(data_dir: str | Path, overrides: Mapping[str, Any] | None = None) -> Settings:
    """The defaults (no settings file, no environment) on ``data_dir``, plus ``overrides``."""
    return load_settings(None, env={}, overrides={**dict(overrides or {}),
                                                  "paths.data_dir": str(data_dir)})


def settings_note(settings: Settings) -> str:
    """The settings that shape these runs, as ``name=value``."""
    p = settings.pricing
    return (f"pricing.objective={p.objective}, exploration={p.exploration}, "
            f"smoothing_alpha={p.smoothing_alpha:g}, max_change_per_day={p.max_change_per_day:g}, "
            f"curve_fit={p.curve_fit}, prior_arrivals_per_hour={p.prior_arrivals_per_hour:g}; "
            f"service.learn_outcomes={settings.service.learn_outcomes}; training family lgbm")


def run_shop(market: Market, shoppers: int, seed: int, *,
             overrides: Mapping[str, Any] | None = None, data_dir: str | Path | None = None,
             tick: Tick | None = None) -> ShopRun:
    """Serve ``shoppers`` (one per hour) through ``pricepilot.open`` on ``market``; stops early
    once nothing is left to sell. ``data_dir`` keeps the shop's data (default: a temporary
    directory, removed afterwards)."""
    if data_dir is not None:
        Path(data_dir).mkdir(parents=True, exist_ok=True)
        return _run(market, shoppers, seed, engine_settings(data_dir, overrides), tick)
    with tempfile.TemporaryDirectory(prefix="pricepilot-bench-") as tmp:
        return _run(market, shoppers, seed, engine_settings(tmp, overrides), tick)


def _run(market: Market, shoppers: int, seed: int, settings: Settings,
         tick: Tick | None) -> ShopRun:
    rng = np.random.default_rng(seed)
    clock = FixedClock(START)
    pids = [p.product_id for p in market.products]
    revenue, sold = 0.0, [0] * len(pids)
    fallbacks = promoted = served = 0
    next_train = 24
    with pricepilot.open(settings, clock=clock, seed=seed) as shop:
        shop.upsert_products(market.products)
        stock = market.stock()
        for n in range(shoppers):
            now = START + n * HOUR
            clock.set(now)
            _learner_pass(shop)
            if n == next_train:  # nightly until a model is promoted, then as history doubles
                ok = _train(shop)
                promoted += ok
                next_train = 2 * n if ok else n + 24
            response = shop.quote(f"c{n}", pids, session_id=f"s{n}")
            fallbacks += response.fallback
            prices = [q.price for q in response.quotes]
            bought = market.serve(prices, rng)
            events: list[Event] = [View(event_id=f"v{n}-{q.product_id}", ts=now, user_id=f"c{n}",
                                        product_id=q.product_id, price=q.price, currency=CURRENCY,
                                        session_id=f"s{n}", quote_id=q.quote_id)
                                   for q in response.quotes]
            paid = now + timedelta(seconds=1)
            for j, (q, b) in enumerate(zip(response.quotes, bought, strict=True)):
                if b:
                    revenue += q.price / 100.0
                    sold[j] += 1
                    events.append(Purchase(event_id=f"p{n}-{q.product_id}", ts=paid,
                                           user_id=f"c{n}", product_id=q.product_id,
                                           order_id=f"o{n}", price=q.price, currency=CURRENCY,
                                           session_id=f"s{n}", quote_id=q.quote_id))
            new_stock = market.stock()
            events += [Inventory(event_id=f"i{n}-{pid}", ts=paid, product_id=pid, stock=s)
                       for pid, s, old in zip(pids, new_stock, stock, strict=True) if s != old]
            stock = new_stock
            shop.record(events)
            served = n + 1
            if tick is not None and served % _TICK == 0:
                tick(_TICK)
            if not any(stock):
                break
    if tick is not None:
        tick(shoppers - served + served % _TICK)  # the rest, sold-out hours included
    return ShopRun(revenue=revenue, sold=sold, sold_share=market.sold_share(sold), quotes=served,
                   fallback_quotes=fallbacks, models_promoted=promoted)


def _learner_pass(shop: Shop) -> None:
    """What the service's outcome learner would have done by now: its 0.5 s ticker passes
    thousands of times per simulated hour; in simulated time the runner makes the pass."""
    outcomes = shop.app.learning.outcomes
    if outcomes is not None:
        outcomes.flush()


def _train(shop: Shop) -> bool:
    """A shop's scheduled training: True when a model was promoted."""
    try:
        manifest = shop.train(promote=True)
    except ValidationError:  # not enough history yet (too few views, no purchase in a fold)
        return False
    return manifest.promotion_note is None


@dataclass(frozen=True)
class EngineResult:
    """Several shops of one benchmark setting: ratios to the LP optimum and what they did."""

    result: RunResult  # realised revenue / (T x the paper's LP optimum), one per seed
    runs: list[ShopRun]
    wider_opt: float | None = None  # B2: the LP optimum over every pair the ladders allow / the paper's

    @property
    def fallback_share(self) -> float:
        """Share of the quotes served at the guarded list price (no model yet)."""
        return sum(r.fallback_quotes for r in self.runs) / max(1, sum(r.quotes for r in self.runs))

    @property
    def sold_share(self) -> float:
        """Mean over shops of the share of the stock (B1) or binding resource (B2) sold."""
        return float(np.mean([r.sold_share for r in self.runs])) if self.runs else 0.0


def run_engine_b1(alpha: float, horizon: int, seeds: int, seed: int = 0, *,
                  overrides: Mapping[str, Any] | None = None, tick: Tick | None = None,
                  data_dir: str | Path | None = None) -> EngineResult:
    """B1 through the engine for ``seeds`` shops (seeds ``seed .. seed + seeds - 1``)."""
    runs = [run_shop(B1Market(alpha, horizon), horizon, seed + s, overrides=overrides, tick=tick,
                     data_dir=None if data_dir is None else Path(data_dir) / f"b1-{alpha}-{horizon}-{seed + s}")
            for s in range(seeds)]
    ratios = np.array([r.revenue for r in runs]) / (horizon * b1_opt(alpha))
    return EngineResult(result=RunResult(ratios), runs=runs)


def run_engine_b2(shape: str, horizon: int, seeds: int, seed: int = 0, *,
                  overrides: Mapping[str, Any] | None = None, tick: Tick | None = None,
                  data_dir: str | Path | None = None) -> EngineResult:
    """B2 through the engine (each product on its own, see the module doc) for ``seeds`` shops."""
    runs = [run_shop(B2Market(shape, horizon), horizon * B2_SHOPPERS, seed + s,
                     overrides=overrides, tick=tick,
                     data_dir=None if data_dir is None else Path(data_dir) / f"b2-{shape}-{horizon}-{seed + s}")
            for s in range(seeds)]
    opt = b2_opt(shape)
    ratios = np.array([r.revenue for r in runs]) / (horizon * opt)
    return EngineResult(result=RunResult(ratios), runs=runs,
                        wider_opt=float(b2_opt(shape, B2_PAIRS)) / float(opt))


class EngineRow(BenchResult, frozen=True, kw_only=True):
    """One benchmark setting through the engine, as the tables print it."""

    fallback_pct: float  # share of quotes at the guarded list price (no model yet)
    sold_pct: float  # units sold / units the stock (B1) or the binding resource (B2) allowed
    own_opt_pct: float | None  # B2: mean % of the LP optimum over every pair the ladders allow
    seconds: float


Progress = Callable[[str, int, int], None]  # (label, shoppers served now, shoppers of the job)


def default_engine_horizons(bench: str, reference: Sequence[int]) -> list[int]:
    """The reference's horizons the engine runs at by default: B1 from 500 to 1,000, B2 at 500
    (an engine period is a real quote and event write, about 1,000x a reference period; below
    ~200 shoppers there is not yet enough history for a first model)."""
    lo, hi = (500, 1000) if bench == "B1" else (500, 500)
    return [h for h in reference if lo <= h <= hi]


def run_engine(b1_seeds: int, b2_seeds: int, b1_horizons: Sequence[int],
               b2_horizons: Sequence[int], seed: int = 0, *,
               overrides: Mapping[str, Any] | None = None,
               progress: Progress | None = None) -> list[EngineRow]:
    """B1 (both α) and B2 (every shape) through the engine at the given horizons."""
    rows: list[EngineRow] = []
    jobs: list[tuple[str, float | str, int, int]] = []
    if b1_seeds > 0:
        jobs += [("B1", a, h, b1_seeds) for a in (0.25, 0.5) for h in b1_horizons]
    if b2_seeds > 0:
        jobs += [("B2", shape, h, b2_seeds) for shape in B2_SETTINGS for h in b2_horizons]
    for bench, arg, h, n in jobs:
        setting = f"alpha={arg}" if bench == "B1" else str(arg)
        label = f"engine {bench} {setting} T={h}"
        total = h * n * (B2_SHOPPERS if bench == "B2" else 1)

        def tick(k: int, label: str = label, total: int = total) -> None:
            if progress is not None:
                progress(label, k, total)

        t0 = time.perf_counter()
        if isinstance(arg, float):
            er = run_engine_b1(arg, h, n, seed + h, overrides=overrides, tick=tick)
        else:
            er = run_engine_b2(arg, h, n, seed + h, overrides=overrides, tick=tick)
        lo, hi = er.result.ci95()
        rows.append(EngineRow(
            bench=bench, setting=setting, horizon=h, seeds=n, mean_pct=100 * er.result.mean_ratio,
            ci_low=100 * lo, ci_high=100 * hi, fallback_pct=100 * er.fallback_share,
            sold_pct=100 * er.sold_share,
            own_opt_pct=None if er.wider_opt is None else 100 * er.result.mean_ratio / er.wider_opt,
            seconds=time.perf_counter() - t0))
    return rows


REFERENCE = "reference TS-update (pricing/published.py)"
ENGINE = "engine (pricepilot.open)"
PUBLISHED = "published TS-update"


def side_by_side(reference: Sequence[BenchRow], engine: Sequence[EngineRow]) -> str:
    """One Markdown table: per benchmark setting and horizon, the reference implementation's
    figure, the published one and the engine's, each in its own labelled columns."""
    ref = {(r.bench, r.setting, r.horizon): r for r in reference}
    eng = {(r.bench, r.setting, r.horizon): r for r in engine}
    order = {"B1": 0, "B2": 1, **{f"alpha={a}": i for i, a in enumerate((0.25, 0.5))},
             **{k: i for i, k in enumerate(B2_SETTINGS)}}
    keys = sorted(set(ref) | set(eng), key=lambda k: (order[k[0]], order[k[1]], k[2]))
    out = [f"| bench | setting | T | seeds | {REFERENCE} % of LP optimum | 95% CI | {PUBLISHED} "
           f"| target met | seconds | {ENGINE} seeds | {ENGINE} % of LP optimum | engine 95% CI "
           "| engine % of LP optimum over its ladder pairs | engine quotes at list price (no model) "
           "| engine sold | engine seconds |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    dash = "–"
    for key in keys:
        r, e = ref.get(key), eng.get(key)
        cells = [key[0], key[1], f"{key[2]:,}"]
        if r is not None:
            met = {None: dash, True: "yes", False: "**no**"}[r.meets_target]
            cells += [str(r.seeds), f"{r.mean_pct:.2f}", f"[{r.ci_low:.2f}, {r.ci_high:.2f}]"]
        else:
            met = dash
            cells += [dash, dash, dash]
        pub = _published(*key)
        cells += [dash if pub is None else f"{pub:.2f}", met,
                  dash if r is None else f"{r.seconds:.1f}"]
        if e is not None:
            cells += [str(e.seeds), f"{e.mean_pct:.2f}", f"[{e.ci_low:.2f}, {e.ci_high:.2f}]",
                      dash if e.own_opt_pct is None else f"{e.own_opt_pct:.2f}",
                      f"{e.fallback_pct:.0f}%", f"{e.sold_pct:.0f}%", f"{e.seconds:.0f}"]
        else:
            cells += [dash] * 7
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)


def smallest_step(ladder: Sequence[int]) -> float:
    """The smallest change, as a share of the price moved from, between neighbouring ladder
    prices (a step down from the higher price is the smaller share).

    >>> round(smallest_step([2990, 3490, 3990, 4490]), 3)
    0.111
    """
    return min((hi - lo) / hi for lo, hi in itertools.pairwise(ladder))


def _published(bench: str, setting: str, horizon: int) -> float | None:
    if bench == "B1":
        by_alpha = {f"alpha={a}": v for a, v in PUBLISHED_B1.items()}
        return by_alpha.get(setting, {}).get(horizon)
    return PUBLISHED_B2.get(setting, {}).get(horizon)


def notes(engine: Sequence[EngineRow], overrides: Mapping[str, Any] | None = None) -> str:
    """What each column measures, and how the engine ran (its settings), below the table."""
    lines = [f"- {PUBLISHED}: the reproduction quoted in shared/benchmarks/"
             "published-pricing-benchmarks.md (500 runs).",
             f"- {REFERENCE}: a vectorised reimplementation of TS-update with the engine's LP and "
             "posterior pieces, not the decision path a shop gets."]
    if not engine:
        lines.append(f"- {ENGINE}: not run at these horizons (--engine-horizons, "
                     "--engine-b2-horizons).")
        return "\n".join(lines)
    seeds = sorted({f"{r.bench}: {r.seeds}" for r in engine})
    changed = "".join(f"{', ' if i else ' with '}{k}={v}"
                      for i, (k, v) in enumerate(dict(overrides or {}).items()))
    lines += [
        f"- {ENGINE}: the engine a shop gets, through the public Python API ({', '.join(seeds)} "
        f"seeds per setting); {MAPPING}. Settings: the defaults{changed} — "
        f"{settings_note(engine_settings('.', overrides))}.",
    ]
    ladders = [B1_LADDER] * any(r.bench == "B1" for r in engine)
    ladders += B2_LADDERS * any(r.bench == "B2" for r in engine)
    limit = engine_settings(".", overrides).pricing.max_change_per_day
    step = min(smallest_step(ladder) for ladder in ladders)
    if limit < step:
        lines.append(
            f"- The daily change limit (pricing.max_change_per_day = {limit:.0%}) is narrower than "
            f"the smallest step of these ladders ({step:.1%}); the limit always allows the "
            "neighbouring rung, so the engine moves at most one rung a day here.")
    if any(r.bench == "B2" for r in engine):
        lines.append(
            "- B2 through the engine: **the engine has no shared-resource constraint.** Each "
            "product is priced from its own ladder and given as stock what the remaining "
            "resources could make of it alone; the simulation sells only while every resource "
            f"lasts. {B2_SHOPPERS} shoppers per period, each buying product i with probability "
            f"mu_i / {B2_SHOPPERS}. The engine may serve any of the {len(B2_PAIRS)} ladder pairs, "
            "not only the paper's five price vectors, so its % of the paper's LP optimum can pass "
            "100; the column 'over its ladder pairs' divides by the LP optimum over all of them.")
    return "\n".join(lines)

