"""The cart engine: one applicator, stages in order, explicit stacking, exact money.

>>> from pricepilot.promotions.model import Promotion, AmountOff, MinSubtotal
>>> from pricepilot.promotions.cart import Cart, CartLine
>>> engine = PromotionEngine([Promotion(id="S100", currency="EUR",
...     benefit=AmountOff(amount="20.00"), conditions=[MinSubtotal(amount="100.00")])])
>>> cart = Cart(currency="EUR", lines=[CartLine(sku="A", qty=1, unit_price=8800)])
>>> priced = engine.price_cart(cart, at=datetime(2026, 1, 1, tzinfo=timezone.utc))
>>> priced.total, priced.not_applied[0].hint
(8800, 'add EUR 12.00 more to get EUR 20.00 off')
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from zoneinfo import ZoneInfo

from pricepilot.clock import Clock, SystemClock
from pricepilot.errors import ValidationError
from pricepilot.money import exponent
from pricepilot.promotions import model as m
from pricepilot.promotions.benefits import compute, describe, item_units, threshold_base
from pricepilot.promotions.cart import Cart, Customer, MarketState, Usage
from pricepilot.promotions.conditions import coupon_failure, dynamic_failure, static_failure
from pricepilot.promotions.policy import StackingPolicy
from pricepilot.promotions.results import (
    Allocation,
    AppliedPromotion,
    CouponResult,
    NotApplied,
    PricedCart,
    PricedLine,
    PricedShipping,
)
from pricepilot.promotions.state import Run, Units, spread
from pricepilot.promotions.targeting import PromotionIndex
from pricepilot.promotions.validation import Catalog, Compiled, compile_all, normalise_code

MAX_COMBINATIONS = 64

Failure = tuple[str, str, str | None]


@dataclass
class _Outcome:
    allocs: dict[str, dict[int, int]] = field(default_factory=dict)
    info: dict[str, tuple[int, int, str | None]] = field(default_factory=dict)
    fails: dict[str, Failure] = field(default_factory=dict)
    gifts: dict[str, list[int]] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)
    run: Any = None

    @property
    def total(self) -> int:
        return sum(v[0] for v in self.info.values())


@dataclass
class _Ctx:
    units: Units
    targeted: dict[str, list[int]]
    gift_units: dict[str, list[int]]
    usage: Usage
    coupon_of: dict[str, str]


def _rank(c: Compiled) -> tuple[int, int, str]:
    return (m.STAGE_ORDER[c.stage], -c.spec.priority, c.id)


def compatible(a: Compiled, b: Compiled) -> bool:
    """May ``a`` and ``b`` apply to the same cart?"""
    waived = b.id in a.spec.combinable_with or a.id in b.spec.combinable_with
    if a.spec.exclusion_group is not None and a.spec.exclusion_group == b.spec.exclusion_group:
        return waived
    if a.spec.exclusive or b.spec.exclusive:
        return waived
    return True


class PromotionEngine:
    """Prices carts against a fixed set of promotions under one stacking policy."""

    def __init__(
        self,
        promotions: Iterable[m.Promotion | Compiled],
        policy: StackingPolicy | None = None,
        *,
        catalog: Catalog | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.policy = policy or StackingPolicy()
        self.tz = ZoneInfo(self.policy.timezone)
        items = list(promotions)
        specs = [p.spec if isinstance(p, Compiled) else p for p in items]
        self.promotions = compile_all(specs, catalog, timezone=self.policy.timezone)
        self.by_id = {c.id: c for c in self.promotions}
        self.by_code = {code: c for c in self.promotions for code in c.coupon_codes}
        self.index = PromotionIndex(self.promotions)
        self.clock = clock or SystemClock()

    # ------------------------------------------------------------------ public
    def price_cart(
        self,
        cart: Cart,
        customer: Customer | None = None,
        at: datetime | None = None,
        coupon_codes: Sequence[str] = (),
        *,
        market: MarketState | None = None,
        usage: Usage | None = None,
    ) -> PricedCart:
        """Price ``cart``: deterministic, independent of line order, exact to the minor unit."""
        customer = customer or Customer()
        market = market or MarketState()
        usage = usage or Usage()
        at = at or self.clock.now()
        if at.tzinfo is None:
            at = at.replace(tzinfo=self.tz)
        exponent(cart.currency)
        for i, ln in enumerate(cart.lines):
            if ln.qty < 1:
                raise ValidationError("cart line", f"lines[{i}].qty", f"must be >= 1, got {ln.qty}")
            if ln.unit_price < 0:
                raise ValidationError("cart line", f"lines[{i}].unit_price", "must not be negative")
        for i, sh in enumerate(cart.shipping):
            if sh.price < 0:
                raise ValidationError("cart shipping", f"shipping[{i}].price", "must not be negative")

        units = Units()
        order = sorted(
            range(len(cart.lines)),
            key=lambda i: (
                cart.lines[i].sku, cart.lines[i].unit_price, cart.lines[i].category or "",
                cart.lines[i].brand or "", cart.lines[i].min_price or -1,
                cart.lines[i].quote_id or "", cart.lines[i].qty,
            ),
        )
        line_units: dict[int, list[int]] = {}
        for pos, li in enumerate(order):
            ln = cart.lines[li]
            floor = min(max(ln.min_price or 0, 0), ln.unit_price)
            line_units[li] = [
                units.add(pos, ln.sku, ln.category, ln.brand, ln.unit_price, floor) for _ in range(ln.qty)
            ]
        ship_order = sorted(range(len(cart.shipping)), key=lambda k: (cart.shipping[k].method, cart.shipping[k].price, k))
        ship_units: dict[int, int] = {}
        for pos, k in enumerate(ship_order):
            sh = cart.shipping[k]
            ship_units[k] = units.add(-1 - pos, sh.method, None, None, sh.price, 0, ship=True, method=sh.method)

        skus = {ln.sku for ln in cart.lines}
        cats = {ln.category for ln in cart.lines if ln.category is not None}
        brands = {ln.brand for ln in cart.lines if ln.brand is not None}
        candidates = self.index.candidates(skus, cats, brands)
        line_hits: dict[str, list[tuple[int, int]]] = {}
        for first, count in units.runs:
            for c in self.index.for_line(units.sku[first], units.category[first], units.brand[first]):
                line_hits.setdefault(c.id, []).append((first, count))

        # coupons entered: unknown ones are reported, known ones unlock their promotion
        entered: list[str] = []
        for raw in coupon_codes:
            code = normalise_code(raw)
            if code and code not in entered:
                entered.append(code)
        coupon_results: dict[str, CouponResult] = {}
        coupon_of: dict[str, str] = {}
        for code in entered:
            hit = self.by_code.get(code)
            if hit is None:
                coupon_results[code] = CouponResult(code=code, status="rejected", promotion_id=None,
                                                    error="unknown", message=f"coupon {code} does not exist")
                continue
            if hit not in candidates and hit.spec.currency == cart.currency:
                candidates.append(hit)
            coupon_of[hit.id] = code
        candidates.sort(key=lambda c: c.id)

        not_applied: dict[str, Failure] = {}
        live: list[Compiled] = []
        targeted: dict[str, list[int]] = {}
        for c in candidates:
            if c.spec.currency != cart.currency:
                not_applied[c.id] = ("currency", f"defined in {c.spec.currency}, cart is {cart.currency}", None)
                continue
            if c.coupon is not None:
                used = coupon_of.get(c.id)
                if used is None:
                    not_applied[c.id] = ("coupon_required", "needs a coupon code", None)
                    continue
                cf = coupon_failure(c, used, at=at, tz=self.tz, customer=customer, usage=usage)
                if cf is not None:
                    coupon_results[used] = CouponResult(code=used, status="rejected", promotion_id=c.id,
                                                        error=cf[0], message=cf[1])
                    not_applied[c.id] = ("coupon_invalid", cf[1], None)
                    continue
            t = c.spec.targeting
            if t.is_all or c.id not in line_hits:
                tu = item_units(_probe(units), t)
            else:  # the index already found the lines; only exclusions remain to check
                tu = [u for first, count in line_hits[c.id]
                      if t.matches(units.sku[first], units.category[first], units.brand[first])
                      for u in range(first, first + count)]
            targeted[c.id] = tu
            sf = static_failure(
                c, at=at, tz=self.tz, customer=customer, market=market, usage=usage,
                targeted_skus={units.sku[i] for i in tu},
                targeted_categories={units.category[i] for i in tu},
                cart_skus=skus,
            )
            if sf is not None:
                not_applied[c.id] = sf
                continue
            if isinstance(c.spec.benefit, m.Gift):
                b = c.spec.benefit
                stock = [(g, price) for g, price in c.gift_prices if market.inventory.get(g.sku, 0) >= b.qty]
                if not stock:
                    not_applied[c.id] = ("gift_out_of_stock", "no gift SKU in stock", None)
                    continue
                if b.choice == "most_expensive_available":
                    g, price = max(stock, key=lambda gp: (gp[1], gp[0].sku))
                else:
                    g, price = stock[0]
                targeted[f"gift:{c.id}"] = [
                    units.add(-10_000 - len(targeted), g.sku, g.category, g.brand, price, 0, gift_of=c.id)
                    for _ in range(b.qty)
                ]
            live.append(c)
        ctx = _Ctx(units=units, targeted=targeted,
                   gift_units={c.id: targeted.get(f"gift:{c.id}", []) for c in live}, usage=usage,
                   coupon_of=coupon_of)

        outcome, search = self._choose(ctx, live)
        chosen = set(outcome.order)
        for c in live:
            if c.id in outcome.fails:
                not_applied[c.id] = outcome.fails[c.id]
            elif c.id not in chosen:
                blockers = sorted(o for o in outcome.info if not compatible(c, self.by_id[o]))
                not_applied[c.id] = ("not_combinable",
                                     f"does not combine with {', '.join(blockers) or 'the better deal chosen'}", None)
        for c_id, code in coupon_of.items():
            if code in coupon_results:
                continue
            if c_id in outcome.info:
                coupon_results[code] = CouponResult(code=code, status="applied", promotion_id=c_id)
            else:
                reason = not_applied.get(c_id, ("cart_does_not_qualify", "", None))
                err = "not_combinable" if reason[0] == "not_combinable" else "cart_does_not_qualify"
                coupon_results[code] = CouponResult(code=code, status="rejected", promotion_id=c_id, error=err,
                                                    message=reason[1] + (f"; {reason[2]}" if reason[2] else ""))
        return self._result(cart, ctx, outcome, line_units, ship_units, not_applied,
                            [coupon_results[c] for c in entered], search)

    # ------------------------------------------------------------------ search
    def _choose(self, ctx: _Ctx, live: list[Compiled]) -> tuple[_Outcome, str]:
        special = [c for c in live if not _plain(c)]
        conflicted = [
            c for c in live
            if any(not compatible(c, o) for o in (special if _plain(c) else live) if o is not c)
        ]
        free = [c for c in live if c not in conflicted]
        if not conflicted:
            return self._run(ctx, free), "single"
        if self.policy.best_deal:
            subsets = _maximal_combinations(sorted(conflicted, key=_rank))
            if subsets is not None:
                rank = {c.id: k for k, c in enumerate(sorted(live, key=_rank))}
                best: tuple[tuple[int, tuple[int, ...]], _Outcome] | None = None
                for out in self._run_many(ctx, [free + s for s in subsets]):
                    key = (-out.total, tuple(sorted(rank[i] for i in out.info)))
                    if best is None or key < best[0]:
                        best = (key, out)
                assert best is not None  # the empty set is always a candidate
                return best[1], "best_deal"
        # priority mode (and the fallback past MAX_COMBINATIONS): exclusive promotions first, then
        # by stage and priority; a promotion joins when compatible with those already in and its
        # quantity/spend conditions hold on the undiscounted cart
        base = self._run(ctx, [])
        accepted: list[Compiled] = []
        for c in sorted(conflicted, key=lambda c: (not c.spec.exclusive,) + _rank(c)):
            if all(compatible(c, a) for a in accepted) and self._eligible(ctx, c, base):
                accepted.append(c)
        return self._run(ctx, free + accepted), "priority" if not self.policy.best_deal else "priority_fallback"

    def _eligible(self, ctx: _Ctx, c: Compiled, base: _Outcome) -> bool:
        run = base.run
        tu = ctx.targeted[c.id]
        if isinstance(c.spec.benefit, m.Gift):
            return dynamic_failure(c, lambda t: len(tu) if t is None else len(item_units(run, t)),
                                   lambda t, b: threshold_base(run, tu if t is None else item_units(run, t), b),
                                   lambda: "") is None
        apps, _, _ = compute(c, run, tu)
        return bool(apps) and dynamic_failure(
            c, lambda t: len(tu) if t is None else len(item_units(run, t)),
            lambda t, b: threshold_base(run, tu if t is None else item_units(run, t), b), lambda: "") is None

    def _run(self, ctx: _Ctx, combo: list[Compiled]) -> _Outcome:
        run, out = self._fresh(ctx)
        for c in sorted(combo, key=_rank):
            self._apply(ctx, run, out, c)
        return out

    def _run_many(self, ctx: _Ctx, combos: list[list[Compiled]]) -> list[_Outcome]:
        """Outcomes of several combinations, sharing the work of their common prefixes: every
        combination runs in rank order, so combinations agreeing on their first k promotions
        share the state after k steps (a trie walk)."""
        ordered = [sorted(cmb, key=_rank) for cmb in combos]
        results: list[_Outcome | None] = [None] * len(ordered)
        run0, out0 = self._fresh(ctx)
        stack: list[tuple[Run, _Outcome, int, list[int]]] = [(run0, out0, 0, list(range(len(ordered))))]
        while stack:
            run, out, depth, idxs = stack.pop()
            groups: dict[str | None, list[int]] = {}
            for i in idxs:
                key = ordered[i][depth].id if depth < len(ordered[i]) else None
                groups.setdefault(key, []).append(i)
            for n, (key, g) in enumerate(groups.items()):
                last = n == len(groups) - 1
                r, o = (run, out) if last else _copy_state(run, out)
                if key is None:
                    for i in g:
                        results[i] = o
                    continue
                self._apply(ctx, r, o, ordered[g[0]][depth])
                stack.append((r, o, depth + 1, g))
        return [r for r in results if r is not None]

    def _fresh(self, ctx: _Ctx) -> tuple[Run, _Outcome]:
        p = self.policy
        units = ctx.units
        run = Run(units=units, net=list(units.orig), consumed=[False] * len(units.orig), rounding=p.rounding,
                  compounding=p.compounding, threshold_base=p.threshold_base, allocation=p.allocation,
                  rounding_point=p.rounding_point, consumption=p.consumption)
        return run, _Outcome(run=run)

    def _apply(self, ctx: _Ctx, run: Run, out: _Outcome, c: Compiled) -> None:
        """Apply one promotion to the running state (the applicator's step)."""
        p = self.policy
        tu = ctx.targeted[c.id]

        def qty_of(t: m.Targeting | None, tu: list[int] = tu) -> int:
            return len(tu) if t is None else len(item_units(run, t))

        def spend_of(t: m.Targeting | None, base: str, tu: list[int] = tu) -> int:
            return threshold_base(run, tu if t is None else item_units(run, t), base)

        f = dynamic_failure(c, qty_of, spend_of, lambda: describe(c)) if c.has_dynamic else None
        if f is not None:
            out.fails[c.id] = f
            return
        if isinstance(c.spec.benefit, m.Gift):
            gu = ctx.gift_units[c.id]
            taken = {}
            for u in gu:
                taken[u] = run.net[u]
                run.net[u] = 0
            out.allocs[c.id] = taken
            out.info[c.id] = (sum(taken.values()), 1, None)
            out.gifts[c.id] = gu
            out.order.append(c.id)
            return
        apps, reason, hint = compute(c, run, tu)
        if not apps:
            msg = {"min_subtotal": "spend threshold not reached", "min_quantity": "not enough qualifying items",
                   "no_saving": "the deal would not lower the price", "no_shipping": "no shipping to discount",
                   "bundle_incomplete": "not every item of the bundle is in the cart"}.get(reason or "", "no qualifying items")
            out.fails[c.id] = (reason or "no_targeted_items", msg, hint)
            return
        if c.spec.limits.max_applications is not None:
            apps = apps[: c.spec.limits.max_applications]
        max_disc = c.money.get("max_discount")
        budget_left = None
        if "budget" in c.money:
            budget_left = c.money["budget"] - ctx.usage.spent.get(c.id, 0)
        total = 0
        napps = 0
        taken = {}
        for a in apps:
            amt = a.amount if max_disc is None else min(a.amount, max_disc)
            if budget_left is not None:
                amt = min(amt, budget_left - total)
            if amt <= 0:
                continue
            parts = spread(amt, a.weights, [run.room(u) for u in a.units], a.redistribute, p.allocation)
            s = sum(parts)
            if s == 0:
                continue
            for u, part in zip(a.units, parts):
                if part:
                    run.net[u] -= part
                    taken[u] = taken.get(u, 0) + part
            for u in a.consume:
                run.consumed[u] = True
            total += s
            napps += 1
        if total == 0:
            out.fails[c.id] = ("no_saving", "nothing left to discount (floors or earlier promotions)", hint)
            return
        out.allocs[c.id] = taken
        out.info[c.id] = (total, napps, hint)
        out.order.append(c.id)

    # ------------------------------------------------------------------ result
    def _result(self, cart: Cart, ctx: _Ctx, out: _Outcome, line_units: dict[int, list[int]],
                ship_units: dict[int, int], not_applied: dict[str, Failure], coupons: list[CouponResult],
                search: str) -> PricedCart:
        per_unit: dict[int, dict[str, int]] = {}
        for pid in out.order:
            for u, amt in out.allocs[pid].items():
                by_pid = per_unit.setdefault(u, {})
                by_pid[pid] = by_pid.get(pid, 0) + amt

        def allocs_of(us: list[int]) -> list[Allocation]:
            acc: dict[str, int] = {}
            for u in us:
                for pid, amt in per_unit.get(u, {}).items():
                    acc[pid] = acc.get(pid, 0) + amt
            return [Allocation(promotion_id=pid, amount=acc[pid]) for pid in out.order if acc.get(pid)]

        lines = []
        for i, ln in enumerate(cart.lines):
            al = allocs_of(line_units[i])
            d = sum(a.amount for a in al)
            sub = ln.unit_price * ln.qty
            lines.append(PricedLine(index=i, sku=ln.sku, qty=ln.qty, unit_price=ln.unit_price, subtotal=sub,
                                    discount=d, total=sub - d, allocations=al, quote_id=ln.quote_id))
        gifts: list[PricedLine] = []
        for pid in out.order:
            if pid in out.gifts:
                gu = out.gifts[pid]
                al = allocs_of(gu)
                price = ctx.units.orig[gu[0]]
                d = sum(a.amount for a in al)
                gifts.append(PricedLine(index=len(cart.lines) + len(gifts), sku=ctx.units.sku[gu[0]], qty=len(gu),
                                        unit_price=price, subtotal=price * len(gu), discount=d,
                                        total=price * len(gu) - d, allocations=al, is_gift=True))
        shipping = []
        for k, sh in enumerate(cart.shipping):
            al = allocs_of([ship_units[k]])
            d = sum(a.amount for a in al)
            shipping.append(PricedShipping(method=sh.method, price=sh.price, discount=d, total=sh.price - d,
                                           allocations=al))
        applied = []
        for pid in out.order:
            c = self.by_id[pid]
            amount, napps, hint = out.info[pid]
            applied.append(AppliedPromotion(id=pid, name=c.spec.name, stage=c.stage, amount=amount,
                                            applications=napps, coupon_code=ctx.coupon_of.get(pid), hint=hint))
        na = [NotApplied(id=k, reason=v[0], message=v[1], hint=v[2]) for k, v in sorted(not_applied.items())]
        subtotal = sum(ln.subtotal for ln in lines) + sum(g.subtotal for g in gifts)
        item_discount = sum(ln.discount for ln in lines) + sum(g.discount for g in gifts)
        ship_total = sum(s.price for s in shipping)
        ship_disc = sum(s.discount for s in shipping)
        return PricedCart(
            currency=cart.currency, lines=lines, shipping=shipping, applied=applied, not_applied=na,
            coupons=coupons, gifts=gifts, subtotal=subtotal, item_discount=item_discount,
            shipping_total=ship_total, shipping_discount=ship_disc, discount_total=item_discount + ship_disc,
            total=subtotal - item_discount + ship_total - ship_disc, search=search,
        )


def _probe(units: Units) -> Run:
    """A read-only view for targeting lookups before any promotion runs."""
    return Run(units=units, net=units.orig, consumed=[], rounding="half_up", compounding="running_net",
               threshold_base="running_net", allocation="largest_remainder", rounding_point="line",
               consumption="deals")


def _copy_state(run: Run, out: _Outcome) -> tuple[Run, _Outcome]:
    r = Run(units=run.units, net=list(run.net), consumed=list(run.consumed), rounding=run.rounding,
            compounding=run.compounding, threshold_base=run.threshold_base, allocation=run.allocation,
            rounding_point=run.rounding_point, consumption=run.consumption)
    # allocation dicts are never changed once recorded, so sharing them is safe
    o = _Outcome(allocs=dict(out.allocs), info=dict(out.info), fails=dict(out.fails), gifts=dict(out.gifts),
                 order=list(out.order), run=r)
    return r, o


def _plain(c: Compiled) -> bool:
    """Combines with every other plain promotion: not exclusive, no group, no exceptions."""
    return not (c.spec.exclusive or c.spec.exclusion_group is not None or c.spec.combinable_with)


def _maximal_combinations(cands: list[Compiled]) -> list[list[Compiled]] | None:
    """Every maximal set of mutually compatible promotions; None past :data:`MAX_COMBINATIONS`.

    Plain promotions are compatible with each other, so only subsets of the few non-plain ones
    (exclusive, grouped, with exceptions) are enumerated; each is completed with every plain
    promotion compatible with it, and kept when nothing else could be added.
    """
    special = [c for c in cands if not _plain(c)]
    plain = [c for c in cands if _plain(c)]
    out: list[list[Compiled]] = []
    seen: set[frozenset[str]] = set()

    def grow(start: int, cur: list[Compiled]) -> bool:
        combo = cur + [p for p in plain if all(compatible(p, s) for s in cur)]
        ids = frozenset(c.id for c in combo)
        if ids not in seen and not any(
            c.id not in ids and all(compatible(c, o) for o in combo) for c in cands
        ):
            seen.add(ids)
            out.append(sorted(combo, key=_rank))
            if len(out) > MAX_COMBINATIONS:
                return False
        for k in range(start, len(special)):
            c = special[k]
            if all(compatible(c, o) for o in cur):
                if not grow(k + 1, cur + [c]):
                    return False
        return True

    if len(special) > 16:
        return None
    return out if grow(0, []) else None


def price_cart(
    cart: Cart,
    customer: Customer | None,
    at: datetime | None,
    coupon_codes: Sequence[str] = (),
    *,
    promotions: Iterable[m.Promotion | Compiled],
    policy: StackingPolicy | None = None,
    market: MarketState | None = None,
    usage: Usage | None = None,
) -> PricedCart:
    """One-shot pricing; build a :class:`PromotionEngine` once to price many carts."""
    engine = PromotionEngine(promotions, policy)
    return engine.price_cart(cart, customer, at or datetime.now(timezone.utc), coupon_codes,
                             market=market, usage=usage)
