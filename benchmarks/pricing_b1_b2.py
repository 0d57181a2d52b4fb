"""Published pricing benchmarks B1 and B2 (Ferreira, Simchi-Levi & Wang 2018) run with
pricepilot's TS-update machinery; prints a Markdown table with means and 95% CIs.

    PYTHONPATH=src python benchmarks/pricing_b1_b2.py --b1-seeds 500 --b2-seeds 100 \\
        --b1-horizons 500,1000,2000,5000,10000 --b2-horizons 500,1000,2000,5000

Same as ``pricepilot bench pricing`` (which shows progress bars).
"""

from __future__ import annotations

import argparse
import platform
import sys
import time

from pricepilot.pricing.published import B1_HORIZONS, B2_HORIZONS, run_published, to_markdown


def _ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--b1-seeds", type=int, default=200)
    ap.add_argument("--b2-seeds", type=int, default=50)
    ap.add_argument("--b1-horizons", type=_ints, default=B1_HORIZONS)
    ap.add_argument("--b2-horizons", type=_ints, default=B2_HORIZONS)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    t0 = time.perf_counter()

    def progress(label: str, n: int, total: int) -> None:
        print(f"\r{label}: +{n} periods of {total}   ", end="", file=sys.stderr, flush=True)

    rows = run_published(a.b1_seeds, a.b2_seeds, a.b1_horizons, a.b2_horizons, a.seed, progress)
    print(file=sys.stderr)
    print(to_markdown(rows))
    print(f"\nmachine: {platform.machine()}, {platform.python_version()}; total {time.perf_counter() - t0:.0f} s")
    print("reproduce: PYTHONPATH=src python benchmarks/pricing_b1_b2.py " + " ".join(sys.argv[1:]))


if __name__ == "__main__":
    main()
