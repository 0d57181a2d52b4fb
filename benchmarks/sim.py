"""Benchmark: simulated history generation and online driving at the default size.

Run:  PYTHONPATH=src /work/venv/bin/python benchmarks/sim.py [--repeat 3]
Prints medians (seconds) of generate_history per format (90 days, 5,000 shoppers, 200
products), one online run of a per-view policy, and the oracle evaluation of that run.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq

from pricepilot.sim.baselines import ThompsonPolicy
from pricepilot.sim.config import SimConfig
from pricepilot.sim.history import generate_history
from pricepilot.sim.market import Market
from pricepilot.sim.oracle import oracle_report


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    cfg = SimConfig()
    print(f"config: days={cfg.days} shoppers={cfg.shoppers} products={cfg.products} seed={cfg.seed}")
    with tempfile.TemporaryDirectory() as tmp:
        for fmt in ("parquet", "csv", "jsonl"):
            times = []
            for k in range(args.repeat):
                t0 = time.perf_counter()
                paths = generate_history(cfg, Path(tmp) / f"{fmt}{k}", fmt=fmt)  # type: ignore[arg-type]
                times.append(time.perf_counter() - t0)
            size = paths["events"].stat().st_size / 1e6
            print(f"generate_history fmt={fmt:8} median {statistics.median(times):6.2f} s "
                  f"(runs: {', '.join(f'{t:.2f}' for t in times)}), events file {size:.1f} MB")
        rows = pq.read_table(Path(tmp) / "parquet0" / "events.parquet").num_rows
        print(f"events written: {rows:,}")
    m = Market(cfg)
    t0 = time.perf_counter()
    r = m.run(ThompsonPolicy(m.products(), seed=1))
    t_run = time.perf_counter() - t0
    print(f"Market.run ThompsonPolicy (per-view price + observe), 90 days: {t_run:.2f} s, "
          f"{len(r.decisions):,} views, {len(r.decisions) / t_run:,.0f} views/s")
    t0 = time.perf_counter()
    rep = oracle_report(m, r)
    t_or = time.perf_counter() - t0
    s = rep[["policy", "period_oracle", "personalised_oracle"]].sum() / 100
    print(f"oracle_report on that run: {t_or:.2f} s; expected profit EUR policy {s['policy']:,.0f}, "
          f"period oracle {s['period_oracle']:,.0f}, personalised oracle {s['personalised_oracle']:,.0f}")
    print("reproduce: PYTHONPATH=src /work/venv/bin/python benchmarks/sim.py --repeat 3")


if __name__ == "__main__":
    main()
