"""Invariants on random carts and promotions (Hypothesis), and best deal against brute force."""

from __future__ import annotations

import itertools
from datetime import datetime, timezone
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from pricepilot.promotions import model as m
from pricepilot.promotions.cart import Cart, CartLine, MarketState, ShippingLine
from pricepilot.promotions.engine import PromotionEngine, compatible
from pricepilot.promotions.policy import StackingPolicy
from pricepilot.promotions.results import PricedCart

AT = datetime(2026, 3, 1, 12, tzinfo=timezone.utc)
MARKET = MarketState(inventory={"GIFT": 1})  # one in stock: a two-unit gift is out of stock
SKUS = ["A", "B", "C", "D"]
CATS = ["x", "y"]


@st.composite
def lines(draw: Any) -> CartLine:
    price = draw(st.integers(0, 5000))
    floor = draw(st.one_of(st.none(), st.integers(0, price)))
    return CartLine(sku=draw(st.sampled_from(SKUS)), qty=draw(st.integers(1, 3)), unit_price=price,
                    category=draw(st.sampled_from(CATS)), min_price=floor)


carts = st.builds(
    lambda ls, ship: Cart(currency="EUR", lines=ls, shipping=ship),
    st.lists(lines(), min_size=1, max_size=6),
    st.lists(st.builds(ShippingLine, method=st.sampled_from(["std", "exp"]), price=st.integers(0, 900)),
             max_size=1),
)

money = st.integers(1, 4000).map(lambda v: f"{v // 100}.{v % 100:02d}")
pct = st.integers(1, 100).map(str)
targeting = st.one_of(
    st.just(m.Targeting()),
    st.builds(lambda s: m.Targeting(skus=[s]), st.sampled_from(SKUS)),
    st.builds(lambda c: m.Targeting(categories=[c]), st.sampled_from(CATS)),
    st.builds(lambda s: m.Targeting(exclude_skus=[s]), st.sampled_from(SKUS)),
)
benefits = st.one_of(
    st.builds(m.PercentOff, percent=pct, max_units=st.one_of(st.none(), st.integers(1, 4)),
              unit_order=st.sampled_from(["cheapest", "most_expensive"]), include_shipping=st.booleans()),
    st.builds(m.AmountOff, amount=money, per=st.sampled_from(["unit", "line", "order"]),
              max_units=st.one_of(st.none(), st.integers(1, 4))),
    st.builds(m.FixedPrice, qty=st.integers(1, 3), price=money),
    st.builds(m.BuyXGetY, buy_qty=st.integers(1, 2), get_qty=st.integers(1, 2), percent=pct,
              which=st.sampled_from(["cheapest", "most_expensive"]), max_quantity=st.integers(1, 4)),
    st.builds(lambda a, b: m.TieredThreshold(tiers=[m.Tier(spend="20.00", amount=a), m.Tier(spend="60.00", amount=b)]),
              money, money),
    st.builds(m.RepeatingThreshold, step=st.just("25.00"), amount=money, cap=st.one_of(st.none(), money)),
    st.builds(m.ShippingDiscount, percent=pct),
    st.builds(lambda price, n: m.Gift(items=[m.GiftItem(sku="GIFT", unit_price=price)], qty=n), money,
              st.integers(1, 2)),
    st.builds(lambda items, p: m.Bundle(items=items, price=p),
              st.dictionaries(st.sampled_from(SKUS), st.integers(1, 2), min_size=1, max_size=2), money),
)


@st.composite
def promotion_sets(draw: Any) -> list[m.Promotion]:
    n = draw(st.integers(1, 5))
    out = []
    for i in range(n):
        conds = draw(st.lists(st.one_of(st.builds(m.MinQuantity, qty=st.integers(1, 4)),
                                        st.builds(m.MinSubtotal, amount=money,
                                                  base=st.sampled_from(["policy", "original"]))),
                              max_size=1))
        out.append(m.Promotion(
            id=f"P{i}", currency="EUR", benefit=draw(benefits), priority=draw(st.integers(0, 3)),
            exclusive=draw(st.booleans()), exclusion_group=draw(st.sampled_from([None, None, "g"])),
            targeting=draw(targeting), conditions=conds,
            limits=m.Limits(max_discount_per_application=draw(st.one_of(st.none(), money))),
        ))
    return out


policies = st.builds(
    StackingPolicy,
    compounding=st.sampled_from(["running_net", "original"]),
    threshold_base=st.sampled_from(["running_net", "original"]),
    rounding=st.sampled_from(["half_up", "half_even", "down", "up"]),
    rounding_point=st.sampled_from(["unit", "line", "promotion"]),
    allocation=st.sampled_from(["largest_remainder", "remainder_to_first", "remainder_to_last"]),
    consumption=st.sampled_from(["deals", "all"]),
    best_deal=st.booleans(),
)


def check_invariants(cart: Cart, priced: PricedCart) -> None:
    assert priced.total >= 0
    for ln, src in zip(priced.lines, cart.lines):
        assert ln.total >= (src.min_price or 0) * src.qty or ln.discount == 0
        assert 0 <= ln.discount <= ln.subtotal
        assert ln.discount == sum(a.amount for a in ln.allocations)
    for s in priced.shipping:
        assert 0 <= s.discount <= s.price
    for a in priced.applied:
        parts = [x.amount for ln in priced.lines + priced.gifts + priced.shipping  # type: ignore[operator]
                 for x in ln.allocations if x.promotion_id == a.id]
        assert sum(parts) == a.amount > 0
    assert priced.discount_total == sum(a.amount for a in priced.applied)
    assert priced.total == priced.subtotal + priced.shipping_total - priced.discount_total


def signature(priced: PricedCart) -> Any:
    lines = sorted((ln.sku, ln.unit_price, ln.qty, ln.discount, tuple((a.promotion_id, a.amount) for a in ln.allocations))
                   for ln in priced.lines)
    return (lines, [(a.id, a.amount) for a in priced.applied], priced.total,
            [(n.id, n.reason) for n in priced.not_applied])


@settings(max_examples=150, deadline=None)
@given(carts, promotion_sets(), policies, st.randoms(use_true_random=False))
def test_totals_floors_allocations_and_line_order_hold_for_any_cart(cart: Cart, promos: list[m.Promotion],
                                                                      policy: StackingPolicy, rnd: Any) -> None:
    engine = PromotionEngine(promos, policy)
    priced = engine.price_cart(cart, None, AT, market=MARKET)
    check_invariants(cart, priced)
    shuffled = list(cart.lines)
    rnd.shuffle(shuffled)
    again = engine.price_cart(Cart(currency="EUR", lines=shuffled, shipping=cart.shipping), None, AT,
                              market=MARKET)
    assert signature(again) == signature(priced)


def brute_force_best(cart: Cart, promos: list[m.Promotion], policy: StackingPolicy) -> int:
    # promotions that cannot apply at all (a gift out of stock) take no part in the choice
    promos = [p for p in promos if not (isinstance(p.benefit, m.Gift) and p.benefit.qty > MARKET.inventory["GIFT"])]
    compiled = PromotionEngine(promos, policy).promotions
    conflicted = {c.id for c in compiled if any(not compatible(c, o) for o in compiled if o is not c)}
    by_id = {c.id: c for c in compiled}
    best = 0
    greedy = StackingPolicy(**{**{f: getattr(policy, f) for f in policy.__struct_fields__}, "best_deal": False})
    for r in range(len(promos) + 1):
        for subset in itertools.combinations(promos, r):
            ids = {p.id for p in subset}
            if not (set(by_id) - conflicted) <= ids:
                continue
            if any(not compatible(by_id[a.id], by_id[b.id]) for a, b in itertools.combinations(subset, 2)):
                continue
            # a combination is maximal: a promotion combinable with all chosen ones is never dropped
            if any(all(compatible(by_id[o], by_id[s.id]) for s in subset) for o in set(by_id) - ids):
                continue
            best = max(best, PromotionEngine(list(subset), greedy).price_cart(cart, None, AT, market=MARKET)
                       .discount_total)
    return best


@settings(max_examples=120, deadline=None)
@given(carts, promotion_sets(), policies)
def test_best_deal_saves_exactly_what_brute_force_finds(cart: Cart, promos: list[m.Promotion],
                                                         policy: StackingPolicy) -> None:
    best = StackingPolicy(**{**{f: getattr(policy, f) for f in policy.__struct_fields__}, "best_deal": True})
    priced = PromotionEngine(promos, best).price_cart(cart, None, AT, market=MARKET)
    assert priced.discount_total == brute_force_best(cart, promos, policy)
