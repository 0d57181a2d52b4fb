"""Demand-model benchmark: serving latency of predict_curve(s) and LightGBM training time.

Run:  PYTHONPATH=src python benchmarks/decide_model.py [--train-rows 1000000] [--serve-rows 200000]

Prints, per family: p50/p99 of one product x 20 prices (``predict_curve``) and of a page of
100 products x 20 prices (``predict_curves``, one model call), beside the pandas reference path
(``predict_proba`` on the equivalent frame) measured in the same run; then the wall time of
``LGBMDemand().fit`` on ``--train-rows`` synthetic rows (1 and 2 threads).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from timing import time_calls  # noqa: E402

from pricepilot.demand.base import FEATURES, price_features  # noqa: E402
from pricepilot.demand.models import DemandEstimator, make_model  # noqa: E402
from pricepilot.demand.synthetic import synthetic_frame  # noqa: E402

GRID = 20
PAGE = 100


def percentiles(fn: Callable[[], object], repeat: int) -> tuple[float, float, float, float]:
    """(wall p50, wall p99, cpu p50, cpu p99) in ms; CPU time is this thread's, so it shows the
    work itself when the shared machine's other jobs stretch the wall clock."""
    wall, cpu = time_calls(fn, repeat, warmup=min(50, repeat))
    q = lambda a, p: float(np.percentile(a, p))  # noqa: E731
    return q(wall, 50), q(wall, 99), q(cpu, 50), q(cpu, 99)


def contexts(frame: pd.DataFrame, n: int) -> list[dict[str, object]]:
    return [{k: row[k] for k in FEATURES} for _, row in frame.head(n).iterrows()]


def serving(
    model: DemandEstimator, ctx: list[dict[str, object]], repeat: int
) -> dict[str, tuple[float, float, float, float]]:
    rng = np.random.default_rng(0)
    lists = [int(rng.choice([999, 1999, 4999])) for _ in ctx]
    grids = [np.round(np.linspace(0.7, 1.3, GRID) * lp).astype(np.int64) for lp in lists]
    comps: list[int | None] = [None if i % 3 == 0 else int(lp * 1.02) for i, lp in enumerate(lists)]
    one = lambda: model.predict_curve(ctx[0], grids[0], lists[0], comps[0])  # noqa: E731
    page = lambda: model.predict_curves(ctx, grids, lists, comps)  # noqa: E731
    rows = pd.DataFrame([ctx[0]] * GRID)
    for name, values in price_features(grids[0], lists[0], comps[0]).items():
        rows[name] = values
    ref = lambda: model.predict_proba(rows)  # noqa: E731
    return {
        "curve 1x20": percentiles(one, repeat),
        "curves 100x20": percentiles(page, max(repeat // 10, 50)),
        "pandas 1x20 (reference path)": percentiles(ref, max(repeat // 10, 50)),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--train-rows", type=int, default=1_000_000)
    ap.add_argument("--serve-rows", type=int, default=200_000)
    ap.add_argument("--repeat", type=int, default=2000)
    ap.add_argument("--skip-train", action="store_true")
    args = ap.parse_args()
    print(f"# decide_model benchmark  python {platform.python_version()}  cpus {os.cpu_count()}  "
          f"load {os.getloadavg()[0]:.1f}")
    print(f"# command: PYTHONPATH=src python {' '.join(sys.argv)}")
    frame = synthetic_frame(args.serve_rows, seed=1)
    ctx = contexts(frame.tail(PAGE), PAGE)
    families = {"lgbm": {}, "logistic": {}, "forest": {"n_estimators": 100}}
    print(f"\n## serving latency (models fitted on {args.serve_rows} rows; ms; wall and thread-CPU)")
    for family, params in families.items():
        t0 = time.perf_counter()
        model = make_model(family, **params).fit(frame)
        fit_s = time.perf_counter() - t0
        for name, (p50, p99, c50, c99) in serving(model, ctx, args.repeat).items():
            print(f"{family:9s} {name:30s} wall p50 {p50:8.3f} p99 {p99:8.3f} | cpu p50 {c50:8.3f} p99 {c99:8.3f}")
        print(f"{family:9s} {'fit':30s} {fit_s:8.1f} s")
    if args.skip_train:
        return
    print(f"\n## LightGBM training on {args.train_rows} rows (default settings: 100 trees, 15 leaves)")
    big = synthetic_frame(args.train_rows, seed=2)
    for threads in (1, 2):
        t0, c0 = time.perf_counter(), time.process_time()
        make_model("lgbm", n_jobs=threads).fit(big)
        print(f"lgbm fit n_jobs={threads}: {time.perf_counter() - t0:.1f} s wall, "
              f"{time.process_time() - c0:.1f} s CPU  (load {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
