"""The robustness suite: pricepilot at default settings on market variants x seeds.

Run:  PYTHONPATH=src python benchmarks/robustness.py [--variants all] [--seeds 5] [--days 28]
      [--shoppers 5000] [--products 200] [--retrain-every 1] [--out reports/robustness]
(the same as ``pricepilot bench robustness``, the same function: run_suite).

Each variant (pricepilot.sim.variants) x seed: the variant's history (0, 7 or 90 days) is
ingested into a fresh shop (pricepilot.open, default settings), a model trained with
shop.train() if there is history and retrained every --retrain-every days of the run; pricepilot
(shop.quote per view, shop.record of the events), list price, cost-plus, competitor match,
Thompson over the ladder, TS-update with the inventory LP and both oracles price the same views.
Prints the variant x policy table (% of the period oracle), the aggregate and the wall times of
pricepilot (run, training) beside TS-update's; writes CSV, JSON and robustness.png to --out.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pricepilot.experiments.robustness import SuiteConfig, run_suite
from pricepilot.experiments.robustness_report import (
    aggregate,
    load_outputs,
    markdown,
    write_outputs,
)
from pricepilot.sim.variants import select_variants


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--variants", default="all")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--first-seed", type=int, default=1)
    ap.add_argument("--days", type=int, default=28)
    ap.add_argument("--shoppers", type=int, default=5000)
    ap.add_argument("--products", type=int, default=200)
    ap.add_argument("--retrain-every", type=int, default=1)
    ap.add_argument("--out", default="reports/robustness")
    ap.add_argument("--merge", default="", help="Comma-separated output directories of earlier "
                    "runs: merge their cells into --out instead of running")
    args = ap.parse_args()
    if args.merge:
        merged = load_outputs([Path(d) for d in args.merge.split(",") if d.strip()])
        print(markdown(merged))
        print(f"written to {write_outputs(merged, Path(args.out))['summary'].parent}")
        return
    suite = SuiteConfig(seeds=args.seeds, first_seed=args.first_seed, days=args.days,
                        shoppers=args.shoppers, products=args.products,
                        retrain_every=args.retrain_every)

    def done(cell: object) -> None:
        print(f"{getattr(cell, 'variant')} seed {getattr(cell, 'seed')}: done", file=sys.stderr,
              flush=True)

    cells = run_suite(select_variants(args.variants), suite, done=done)
    print(markdown(cells))
    agg = aggregate(cells)
    print(f"\nwall time: pricepilot run {agg['pricepilot_run_s']:.0f} s + training "
          f"{agg['pricepilot_train_s']:.0f} s; TS-update run {agg['ts_update_run_s']:.1f} s")
    paths = write_outputs(cells, Path(args.out))
    print(f"written to {paths['summary'].parent}")
    print(f"command: PYTHONPATH=src python benchmarks/robustness.py --variants {args.variants} "
          f"--seeds {args.seeds} --first-seed {args.first_seed} --days {args.days} "
          f"--shoppers {args.shoppers} --products {args.products} "
          f"--retrain-every {args.retrain_every} --out {args.out}")


if __name__ == "__main__":
    main()
