"""Cost of keeping the service's demand posterior across restarts, by catalogue size.

    PYTHONPATH=src python benchmarks/posterior_state.py [--products 1000,10000,50000] [--runs 5]

The service saves each model version's posterior (``DemandPosterior.to_bytes``, then an atomic
file write) from its learner thread at most every ``service.posterior_save_seconds`` (30 s), and
reads it back once when the version loads. Saving holds the interpreter lock, so its duration is
a pause for requests arriving meanwhile; this reports it (median of ``--runs``), with the file
size and the load time, for a posterior that has learnt 3 outcomes per product over 7 prices.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from pricepilot.pricing.posterior import DemandPosterior, Outcome  # noqa: E402
from pricepilot.serving.posterior_files import PosteriorFiles  # noqa: E402


def learnt(products: int, seed: int = 0) -> DemandPosterior:
    rng = np.random.default_rng(seed)
    post = DemandPosterior()
    bought = rng.random(3 * products) < 0.3
    for i in range(3 * products):
        post.learn_one(Outcome(product_id=f"SKU-{i % products}", category=f"cat-{i % 20}",
                               price=900 + 10 * (i % 7), list_price=999, model_prob=0.3,
                               purchased=bool(bought[i])))
    return post


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--products", default="1000,10000,50000")
    p.add_argument("--runs", type=int, default=5)
    a = p.parse_args()
    print(f"python {platform.python_version()}, {platform.machine()}, runs {a.runs}")
    print(f"{'products':>9} {'file MB':>8} {'save ms':>8} {'load ms':>8}")
    for n in (int(x) for x in a.products.split(",")):
        post = learnt(n)
        files = PosteriorFiles(tempfile.mkdtemp(prefix="pp-post-"), save_seconds=0)
        saves, loads = [], []
        for _ in range(a.runs):
            t = time.perf_counter()
            files.save("bench", post)
            saves.append(time.perf_counter() - t)
            t = time.perf_counter()
            back = files.load("bench")
            loads.append(time.perf_counter() - t)
        assert back.to_bytes() == post.to_bytes()
        size = files.path("bench").stat().st_size / 1e6
        print(f"{n:9d} {size:8.2f} {1000 * statistics.median(saves):8.1f} "
              f"{1000 * statistics.median(loads):8.1f}", flush=True)
    print("\nreproduce: PYTHONPATH=src python benchmarks/posterior_state.py " + " ".join(sys.argv[1:]))


if __name__ == "__main__":
    main()
