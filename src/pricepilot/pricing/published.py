"""Run the published pricing benchmarks B1 and B2 with the engine's TS-update machinery and set
the results beside the published TS-update figures (see ``docs/benchmarks/pricing.md``).

Targets: B1 at least the published TS-update minus 0.5 points at every T >= 1,000 for both
inventory levels; B2 within 1 point of the published TS-update at every T >= 2,000.

>>> rows = run_published(b1_seeds=10, b2_seeds=0, b1_horizons=[100], b2_horizons=[])
>>> [(r.bench, r.setting, r.horizon) for r in rows]
[('B1', 'alpha=0.25', 100), ('B1', 'alpha=0.5', 100)]
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import msgspec

from pricepilot.pricing.network import run_b1, run_b2

PUBLISHED_B1: dict[float, dict[int, float]] = {
    0.25: {500: 98.46, 1000: 99.48, 2000: 99.72, 5000: 99.86, 10000: 99.93},
    0.5: {500: 97.32, 1000: 99.05, 2000: 99.56, 5000: 99.73, 10000: 99.87},
}
PUBLISHED_B2: dict[str, dict[int, float]] = {
    "linear": {500: 97.79, 1000: 98.84, 2000: 99.38, 5000: 99.74, 10000: 99.86},
    "exponential": {500: 96.39, 1000: 97.60, 2000: 98.66, 5000: 99.40, 10000: 99.65},
    "logit": {500: 95.40, 1000: 97.04, 2000: 98.32, 5000: 99.11, 10000: 99.50},
}
B1_HORIZONS = [500, 1000, 2000, 5000, 10000]
B2_HORIZONS = [500, 1000, 2000]


class BenchResult(msgspec.Struct, frozen=True, kw_only=True):
    """One benchmark setting: mean % of the LP optimum over ``seeds`` runs with its 95% CI."""

    bench: str
    setting: str
    horizon: int
    seeds: int
    mean_pct: float
    ci_low: float
    ci_high: float


class BenchRow(BenchResult, frozen=True, kw_only=True):
    """The reference implementation's result beside the published figure."""

    published_pct: float | None
    meets_target: bool | None  # None: no target at this horizon
    seconds: float


Progress = Callable[[str, int, int], None]  # (label, periods done now, total periods of the job)


def run_published(
    b1_seeds: int = 200,
    b2_seeds: int = 50,
    b1_horizons: Sequence[int] = B1_HORIZONS,
    b2_horizons: Sequence[int] = B2_HORIZONS,
    seed: int = 0,
    progress: Progress | None = None,
) -> list[BenchRow]:
    rows: list[BenchRow] = []
    if b1_seeds > 0:
        for alpha in (0.25, 0.5):
            for h in b1_horizons:
                label = f"B1 alpha={alpha} T={h}"

                def tick(n: int, label: str = label, h: int = h) -> None:
                    if progress is not None:
                        progress(label, n, h)

                t0 = time.perf_counter()
                r = run_b1(alpha, h, b1_seeds, seed=seed + h, tick=tick)
                lo, hi = r.ci95()
                pub = PUBLISHED_B1[alpha].get(h)
                meets = None if pub is None or h < 1000 else 100 * r.mean_ratio >= pub - 0.5
                rows.append(BenchRow(bench="B1", setting=f"alpha={alpha}", horizon=h, seeds=b1_seeds,
                                     mean_pct=100 * r.mean_ratio, ci_low=100 * lo, ci_high=100 * hi,
                                     published_pct=pub, meets_target=meets,
                                     seconds=time.perf_counter() - t0))
    if b2_seeds > 0:
        for shape in ("linear", "exponential", "logit"):
            for h in b2_horizons:
                label = f"B2 {shape} T={h}"

                def tick2(n: int, label: str = label, h: int = h) -> None:
                    if progress is not None:
                        progress(label, n, h)

                t0 = time.perf_counter()
                r = run_b2(shape, h, b2_seeds, seed=seed + h, tick=tick2)
                lo, hi = r.ci95()
                pub = PUBLISHED_B2[shape].get(h)
                meets = None if pub is None or h < 2000 else abs(100 * r.mean_ratio - pub) <= 1.0
                rows.append(BenchRow(bench="B2", setting=shape, horizon=h, seeds=b2_seeds,
                                     mean_pct=100 * r.mean_ratio, ci_low=100 * lo, ci_high=100 * hi,
                                     published_pct=pub, meets_target=meets,
                                     seconds=time.perf_counter() - t0))
    return rows


def to_markdown(rows: Sequence[BenchRow]) -> str:
    out = ["| bench | setting | T | seeds | % of LP optimum (mean) | 95% CI | published TS-update | target met | seconds |",
           "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        pub = f"{r.published_pct:.2f}" if r.published_pct is not None else "–"
        met = {None: "–", True: "yes", False: "**no**"}[r.meets_target]
        out.append(f"| {r.bench} | {r.setting} | {r.horizon:,} | {r.seeds} | {r.mean_pct:.2f} | "
                   f"[{r.ci_low:.2f}, {r.ci_high:.2f}] | {pub} | {met} | {r.seconds:.1f} |")
    return "\n".join(out)
