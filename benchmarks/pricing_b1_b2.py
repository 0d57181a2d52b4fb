"""Published pricing benchmarks B1 and B2 (Ferreira, Simchi-Levi & Wang 2018), run twice: with
the reference TS-update reimplementation (pricing/published.py) and through the engine a shop
gets (pricepilot.open, experiments/published_engine.py); prints one Markdown table with both,
beside the published TS-update figures, each in labelled columns, and how the engine ran.

    PYTHONPATH=src python benchmarks/pricing_b1_b2.py --b1-seeds 500 --b2-seeds 100 \\
        --b1-horizons 500,1000,2000,5000,10000 --b2-horizons 500,1000,2000,5000 \\
        --engine-seeds 20 --engine-b2-seeds 3

The engine runs at the B1 horizons from 500 to 1,000 and at B2 T = 500 unless
--engine-horizons / --engine-b2-horizons say otherwise; --engine-seeds 0 --engine-b2-seeds 0
runs the reference only. --engine-set NAME=VALUE (repeatable) changes a setting of the engine
run (default: the shop defaults). Same as ``pricepilot bench pricing`` (which shows progress bars).
"""

from __future__ import annotations

import argparse
import platform
import sys
import time

from pricepilot.experiments.published_engine import (
    default_engine_horizons,
    notes,
    run_engine,
    side_by_side,
)
from pricepilot.pricing.published import B1_HORIZONS, B2_HORIZONS, run_published


def _ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def _setting(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return name.strip(), value.strip()


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--b1-seeds", type=int, default=200)
    ap.add_argument("--b2-seeds", type=int, default=50)
    ap.add_argument("--b1-horizons", type=_ints, default=B1_HORIZONS)
    ap.add_argument("--b2-horizons", type=_ints, default=B2_HORIZONS)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--engine-seeds", type=int, default=10)
    ap.add_argument("--engine-b2-seeds", type=int, default=3)
    ap.add_argument("--engine-horizons", type=_ints, default=None)
    ap.add_argument("--engine-b2-horizons", type=_ints, default=None)
    ap.add_argument("--engine-set", type=_setting, action="append", default=[])
    a = ap.parse_args(argv)
    t0 = time.perf_counter()

    done: dict[str, int] = {}

    def progress(label: str, n: int, total: int) -> None:
        done[label] = done.get(label, 0) + n
        print(f"\r{label}: {done[label]:,} of {total:,}   ", end="", file=sys.stderr, flush=True)

    rows = run_published(a.b1_seeds, a.b2_seeds, a.b1_horizons, a.b2_horizons, a.seed, progress)
    e1 = a.engine_horizons if a.engine_horizons is not None else default_engine_horizons("B1", a.b1_horizons)
    e2 = (a.engine_b2_horizons if a.engine_b2_horizons is not None
          else default_engine_horizons("B2", a.b2_horizons))
    overrides = dict(a.engine_set)
    engine_rows = run_engine(a.engine_seeds, a.engine_b2_seeds, e1, e2, a.seed,
                             overrides=overrides, progress=progress)
    print(file=sys.stderr)
    print(side_by_side(rows, engine_rows))
    print()
    print(notes(engine_rows, overrides))
    print(f"\nmachine: {platform.machine()}, {platform.python_version()}; total {time.perf_counter() - t0:.0f} s")
    print("reproduce: PYTHONPATH=src python benchmarks/pricing_b1_b2.py " + " ".join(sys.argv[1:]))


if __name__ == "__main__":
    main()
