"""Cart pricing latency with 1,000 active promotions, carts of 1, 10 and 50 lines.

Run:  PYTHONPATH=src python benchmarks/cart.py [--carts 400] [--seed 1]

Promotions are indexed by SKU, category and brand, so a cart only evaluates the promotions that
can touch it. Prints wall-clock p50/p90/p99 per cart size, in process (no I/O), and the process
CPU time per cart (p50/p99), which is less disturbed by other work on a shared machine.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from datetime import datetime, timezone

import msgspec

from pricepilot.promotions import model as m
from pricepilot.promotions.cart import Cart, CartLine, Customer, MarketState, ShippingLine
from pricepilot.promotions.engine import PromotionEngine

N_SKUS, N_CATS, N_BRANDS = 20000, 200, 100


def promotions(rng: random.Random, n: int = 1000, conflicts: bool = True) -> list[m.Promotion]:
    out: list[m.Promotion] = []
    for i in range(n):
        r = rng.random()
        # mostly SKU-level offers, some category and brand campaigns
        if r < 0.85:
            t = m.Targeting(skus=[f"S{rng.randrange(N_SKUS)}" for _ in range(rng.randint(1, 5))])
        elif r < 0.95:
            t = m.Targeting(categories=[f"C{rng.randrange(N_CATS)}"])
        elif r < 0.99:
            t = m.Targeting(brands=[f"B{rng.randrange(N_BRANDS)}"], exclude_skus=[f"S{rng.randrange(N_SKUS)}"])
        else:
            t = m.Targeting(categories=[f"C{rng.randrange(N_CATS)}"], brands=[f"B{rng.randrange(N_BRANDS)}"])
        k = rng.random()
        conditions: list[m.Condition] = []
        if k < 0.35:
            b: m.Benefit = m.PercentOff(percent=str(rng.randint(1, 30)))
        elif k < 0.55:
            b = m.AmountOff(amount=f"{rng.randint(1, 20)}.00", per=rng.choice(["unit", "line", "order"]))
        elif k < 0.7:
            b = m.BuyXGetY(buy_qty=2, get_qty=1, max_quantity=3)
        elif k < 0.8:
            b = m.FixedPrice(qty=3, price=f"{rng.randint(20, 60)}.00")
        elif k < 0.9:
            b = m.TieredThreshold(tiers=[m.Tier(spend="100", amount="10"), m.Tier(spend="200", amount="25")])
        else:
            b = m.PercentOff(percent="10")
            conditions.append(m.CouponCode(codes=[f"CODE{i}"]))
        if rng.random() < 0.2:
            conditions.append(m.CustomerSegment(segments=["vip"]))
        out.append(m.Promotion(id=f"P{i:04d}", currency="EUR", benefit=b, targeting=t, conditions=conditions,
                               priority=rng.randint(0, 5)))
    # a few campaigns whose promotions are alternatives, and one exclusive storewide offer
    for g in range(2 if conflicts else 0):
        for j in range(2):
            out[g * 2 + j] = msgspec.structs.replace(out[g * 2 + j], exclusion_group=f"campaign{g}",
                                                     targeting=m.Targeting())
    out[-2] = m.Promotion(id="SHIP", currency="EUR", benefit=m.ShippingDiscount(percent="100"),
                          conditions=[m.MinSubtotal(amount="50")])
    out[-1] = m.Promotion(id="EXCL", currency="EUR", benefit=m.PercentOff(percent="15"), exclusive=conflicts)
    return out


def carts(rng: random.Random, lines: int, k: int) -> list[Cart]:
    return [
        Cart(currency="EUR", lines=[
            CartLine(sku=f"S{rng.randrange(N_SKUS)}", qty=rng.randint(1, 3), unit_price=rng.randint(200, 9000),
                     category=f"C{rng.randrange(N_CATS)}", brand=f"B{rng.randrange(N_BRANDS)}")
            for _ in range(lines)
        ], shipping=[ShippingLine(method="std", price=490)])
        for _ in range(k)
    ]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--carts", type=int, default=400)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--no-conflicts", action="store_true",
                    help="no exclusive or grouped promotions (one pass, no best-deal search)")
    a = ap.parse_args(argv)
    rng = random.Random(a.seed)
    promos = promotions(rng, conflicts=not a.no_conflicts)
    t0 = time.perf_counter()
    engine = PromotionEngine(promos)
    build = time.perf_counter() - t0
    at = datetime(2026, 3, 1, 12, tzinfo=timezone.utc)
    cust = Customer(id="c1", segment="vip")
    print(f"promotions: {len(promos)}, engine build {build * 1000:.1f} ms")
    flag = " --no-conflicts" if a.no_conflicts else ""
    print(f"command: PYTHONPATH=src python benchmarks/cart.py --carts {a.carts} --seed {a.seed}{flag}")
    print("conflicts: " + ("none" if a.no_conflicts else "1 exclusive storewide + 2 groups of 2 alternatives"))
    print(f"{'lines':>5} {'carts':>6} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'cands':>6} {'applied':>8} {'runs':>5}")
    for n in (1, 10, 50):
        cs = carts(rng, n, a.carts)
        for c in cs[:20]:  # warm-up
            engine.price_cart(c, cust, at, market=MarketState())
        times = []
        cpu = []
        cands = applied = passes = 0
        for c in cs:
            t = time.perf_counter()
            tc = time.process_time()
            r = engine.price_cart(c, cust, at, market=MarketState())
            cpu.append((time.process_time() - tc) * 1000)
            times.append((time.perf_counter() - t) * 1000)
            cands += len(r.applied) + len(r.not_applied)
            applied += len(r.applied)
            passes += 1 if r.search == "single" else 2
        times.sort()
        q = statistics.quantiles(times, n=100)
        qc = statistics.quantiles(cpu, n=100)
        print(f"{n:>5} {len(cs):>6} {statistics.median(times):>8.2f} {q[89]:>8.2f} {q[98]:>8.2f} "
              f"{cands / len(cs):>6.1f} {applied / len(cs):>8.1f} {r.search:>5}   "
              f"cpu p50 {statistics.median(cpu):.2f} p99 {qc[98]:.2f}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
