"""Adapters from the peer cases (django-oscar, Saleor, Medusa, Sylius) to pricepilot definitions.

Each peer's semantics are reproduced by a declared :class:`StackingPolicy` plus a mapping of its
promotion JSON onto our definitions; nothing here changes how the engine computes.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from pricepilot.money import parse_amount
from pricepilot.promotions import model as m
from pricepilot.promotions.cart import Cart, CartLine, Customer, MarketState, ShippingLine, Usage
from pricepilot.promotions.policy import StackingPolicy

# How each peer stacks, as a declared policy.
PEER_POLICY: dict[str, StackingPolicy] = {
    # oscar: offers consume the items they use; rounding per line
    "django-oscar": StackingPolicy(consumption="all", best_deal=False),
    # saleor: percentages rounded per line (ROUND_HALF_UP); order discounts compound on the net
    "saleor": StackingPolicy(rounding_point="line", best_deal=True),
    "medusa": StackingPolicy(rounding_point="line", best_deal=False),
    # sylius: exclusive promotions win outright; leftover cents go to the first item
    "sylius": StackingPolicy(allocation="remainder_to_first", best_deal=False),
}

# Per-case policy adjustments, each stated by the case's own semantics text.
CASE_POLICY: dict[str, dict[str, Any]] = {
    # "computed per line without rounding and only the offer total is truncated"
    "oscar-pct-3pct-round-down-total": {"rounding_point": "promotion", "rounding": "down"},
    # "non-last lines are rounded down and the last line takes the remainder"
    "oscar-absolute-split-three-equal-lines": {"allocation": "remainder_to_last"},
}


def _t(spec: Any) -> m.Targeting:
    if spec in (None, "all"):
        return m.Targeting()
    return m.Targeting(skus=spec.get("skus", []), categories=spec.get("categories", []))


def _day(text: str) -> datetime:
    d = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return d if d.tzinfo else d.replace(tzinfo=timezone.utc)


def promotion(case: dict[str, Any], p: dict[str, Any], index: int) -> m.Promotion:
    peer = case["peer"]
    cur = case["currency"]
    kind = p["type"]
    cond = p.get("condition") or {}
    conditions: list[Any] = []
    if "min_qty" in cond:
        conditions.append(m.MinQuantity(qty=cond["min_qty"]))
    for key in ("min_subtotal", "min_total_incl_shipping"):
        if key in cond:
            conditions.append(m.MinSubtotal(amount=cond[key]))
    if "min_subtotal_after_prior_discounts" in cond:
        conditions.append(m.MinSubtotal(amount=cond["min_subtotal_after_prior_discounts"], base="running_net"))
    if "customer_group_in" in cond:
        conditions.append(m.CustomerSegment(segments=cond["customer_group_in"]))
    code = p.get("coupon_code")
    if code is None and peer == "medusa" and p["id"] in (case.get("coupon_codes") or []):
        code = p["id"]  # medusa promotions are looked up by their code
    if code is not None:
        conditions.append(m.CouponCode(
            codes=[code],
            ends_at=_day(p["coupon_ends_at"]) if "coupon_ends_at" in p else None,
            max_uses=p.get("coupon_usage_limit"),
        ))
    alloc = p.get("allocation")
    unit_order: m.UnitOrder = "most_expensive" if alloc == "each" else "cheapest"
    per_line = p.get("max_quantity") if alloc == "each" else None
    max_units = p.get("max_quantity") if alloc == "once" else p.get("max_affected_items")
    if p.get("max_applications") == 1 and p.get("target") == "cheapest_eligible_unit":
        max_units = 1
    benefit: Any
    stage: m.Stage = "auto"
    if kind == "percent_off":
        benefit = m.PercentOff(percent=p["percent"], max_units=max_units, max_units_per_line=per_line,
                               unit_order=unit_order, include_shipping=bool(p.get("includes_shipping")))
        if p.get("per") == "order" and peer in ("saleor", "sylius"):
            stage = "order"
    elif kind == "amount_off":
        per = {"item": "unit", "order": "order"}[p.get("per", "order")]
        benefit = m.AmountOff(amount=p["amount"], per=per, max_units=max_units, max_units_per_line=per_line,
                              unit_order=unit_order, include_shipping=bool(p.get("includes_shipping")))
    elif kind == "fixed_price":
        benefit = m.FixedPrice(qty=p["bundle_size"], price=p["bundle_price"])
    elif kind == "threshold":
        if "percent" in p:
            benefit = m.PercentOff(percent=p["percent"])
            stage = "order"
        else:
            spend = cond.get("min_subtotal") or cond.get("min_total_incl_shipping")
            benefit = m.TieredThreshold(tiers=[m.Tier(spend=spend, amount=p["amount"])])
            conditions = [c for c in conditions if not isinstance(c, m.MinSubtotal)]
    elif kind == "buy_x_get_y":
        if "buy" in p:
            get = p["get"]
            benefit = m.BuyXGetY(
                buy_qty=p["buy"]["min_qty"], get_qty=get["qty"], buy=_t(p["buy"]["applies_to"]),
                get=_t(get["applies_to"]), percent=get.get("percent") if "amount" not in get else None,
                amount=get.get("amount"), repeat=bool(p.get("repeat")), max_quantity=p.get("max_quantity"),
            )
        else:  # oscar multibuy: the condition's count includes the free unit
            n = cond["min_qty"]
            get = p["get"]
            benefit = m.BuyXGetY(buy_qty=n - get["qty"], get_qty=get["qty"], percent=get["percent"],
                                 which=get["which"], repeat=False)
            conditions = []
    elif kind == "gift":
        benefit = m.Gift(items=[m.GiftItem(sku=g["sku"], unit_price=g["unit_price"]) for g in p["gift_skus"]],
                         choice=p.get("gift_choice", "first_available"))
    elif kind == "free_shipping":
        targets = (p.get("applies_to") or {}).get("shipping_options", []) if isinstance(p.get("applies_to"), dict) else []
        if p.get("variant") == "shipping_amount_off":
            benefit = m.ShippingDiscount(amount=p["amount"], methods=targets)
        else:
            benefit = m.ShippingDiscount(percent=p.get("percent", "100"), methods=targets)
    else:
        raise ValueError(f"no adapter for {kind}")
    priority = p.get("priority", 0)
    if peer == "medusa" and kind == "percent_off" and alloc == "across":
        # medusa applies percentage promotions highest value first
        priority = int(float(p["percent"]))
    if peer == "medusa" and priority == 0:
        priority = -index  # otherwise in the order given
    if peer == "django-oscar":
        priority = -index
    budget = p.get("budget") if p.get("budget_type") == "spend" else None
    return m.Promotion(
        id=p["id"], currency=cur, benefit=benefit, stage=stage, priority=priority,
        exclusive=bool(p.get("exclusive")),
        exclusion_group="rules" if case.get("selection") == "best_single_order_rule" else None,
        starts_at=_day(p["starts_at"]) if p.get("starts_at") else None,
        ends_at=_day(p["ends_at"]) if p.get("ends_at") else None,
        targeting=_t(p.get("applies_to")), conditions=conditions,
        limits=m.Limits(
            max_redemptions=p.get("max_applications_global"),
            max_redemptions_per_customer=p.get("usage_limit_per_customer"),
            budget=budget,
        ),
    )


def policy(case: dict[str, Any]) -> StackingPolicy:
    import msgspec

    base = msgspec.to_builtins(PEER_POLICY[case["peer"]])
    base.update(CASE_POLICY.get(case["id"], {}))
    return msgspec.convert(base, StackingPolicy)


def cart(case: dict[str, Any]) -> Cart:
    cur = case["currency"]
    return Cart(
        currency=cur,
        lines=[
            CartLine(sku=ln["sku"], qty=ln["qty"], unit_price=parse_amount(ln["unit_price"], cur),
                     category=ln.get("category"),
                     min_price=parse_amount(ln["min_price"], cur) if ln.get("min_price") else None)
            for ln in case["cart"]
        ],
        shipping=[ShippingLine(method=s["method"], price=parse_amount(s["price"], cur)) for s in case.get("shipping", [])],
    )


def customer(case: dict[str, Any]) -> Customer:
    c = case.get("customer") or {}
    return Customer(id=c.get("id") or c.get("email"), segment=c.get("segment"))


def usage(case: dict[str, Any]) -> Usage:
    red: dict[str, int] = {}
    cust: dict[str, int] = {}
    coupons: dict[str, int] = {}
    spent: dict[str, int] = {}
    for p in case["promotions"]:
        if "used_global" in p:
            red[p["id"]] = p["used_global"]
        if "coupon_used" in p:
            coupons[p["coupon_code"].upper()] = p["coupon_used"]
        if p.get("budget_used"):
            spent[p["id"]] = parse_amount(p["budget_used"], case["currency"])
    for pid, n in ((case.get("customer") or {}).get("prior_uses") or {}).items():
        cust[pid] = n
    return Usage(redemptions=red, customer_redemptions=cust, coupon_uses=coupons, spent=spent)


def at(case: dict[str, Any]) -> datetime:
    return _day(case["at"]) if case.get("at") else datetime(2026, 6, 1, 12, tzinfo=timezone.utc)


def market(case: dict[str, Any]) -> MarketState:
    """The cases state gift variants as available; model that as one unit in stock each."""
    stock = {g["sku"]: 1 for p in case["promotions"] for g in p.get("gift_skus", [])}
    return MarketState(inventory=stock)
