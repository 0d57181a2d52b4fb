"""The simulated shop end to end: pricepilot vs baselines vs oracles, several seeds.

Run:  PYTHONPATH=src python benchmarks/shop.py [--seeds 5] [--days 28] [--first-seed 1]
(the same as ``pricepilot bench shop --seeds 5 --days 28``, without the HTML report).

Per seed (``evaluate_shop``, through the public Python API only): 90 days of simulated history
are ingested into a shop's SQLite store (``pricepilot.open``, ``shop.ingest_files``), a demand
model is trained on the point-in-time training set (last 7 days held out for calibration),
registered and promoted (``shop.train``) and its posterior warmed with the history
(``shop.warm_posterior``); then pricepilot (``shop.quote`` per view, ``shop.record`` of the
events), list price, cost-plus 60%, competitor match (-1%), per-product Thompson sampling and
both oracles price the same 28 days of views. Prints the per-seed tables
(expected profit under the true demand, shares of both oracles, guardrail violations, fairness
gap) in Markdown, then the per-seed wall time.
"""

from __future__ import annotations

import argparse
import sys
import time

from pricepilot.experiments.shop_report import markdown_summary
from pricepilot.experiments.simulated_shop import evaluate_shop


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--first-seed", type=int, default=1)
    ap.add_argument("--days", type=int, default=28)
    ap.add_argument("--history-days", type=int, default=90)
    args = ap.parse_args()
    evals, walls = [], []
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        t = time.perf_counter()
        evals.append(evaluate_shop(seed, days=args.days, history_days=args.history_days))
        walls.append(time.perf_counter() - t)
        print(f"seed {seed}: {walls[-1]:.0f} s", file=sys.stderr, flush=True)
    print(markdown_summary(evals))
    print(f"\nwall time per seed (s): {', '.join(f'{w:.0f}' for w in walls)}")
    print(f"command: PYTHONPATH=src python benchmarks/shop.py --seeds {args.seeds} "
          f"--days {args.days} --first-seed {args.first_seed}")


if __name__ == "__main__":
    main()
