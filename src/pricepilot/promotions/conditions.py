"""Conditions: static ones (who, when, where) checked once per cart, dynamic ones (quantity,
spend) checked on the running state when the promotion's turn comes.

A failing condition returns ``(reason_code, message, hint)``; ``None`` means it holds.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from pricepilot.money import format_money
from pricepilot.promotions import model as m
from pricepilot.promotions.cart import Customer, MarketState, Usage
from pricepilot.promotions.validation import Compiled

Failure = tuple[str, str, str | None]


def _aware(t: datetime, tz: ZoneInfo) -> datetime:
    return t if t.tzinfo is not None else t.replace(tzinfo=tz)


def in_recurring_window(c: Compiled, local: datetime) -> bool:
    """Every recurring window of ``c`` holds at shop-local time ``local``."""
    for days, start, end in c.windows:
        t = local.time()
        wd = local.weekday()
        if start < end:
            ok = wd in days and start <= t < end
        else:  # past midnight: the part after midnight belongs to the previous day's window
            ok = (wd in days and t >= start) or ((wd - 1) % 7 in days and t < end)
        if not ok:
            return False
    return True


def static_failure(
    c: Compiled,
    *,
    at: datetime,
    tz: ZoneInfo,
    customer: Customer,
    market: MarketState,
    usage: Usage,
    targeted_skus: set[str],
    targeted_categories: set[str | None],
    cart_skus: set[str],
) -> Failure | None:
    p = c.spec
    if p.starts_at and at < _aware(p.starts_at, tz):
        return ("not_started", f"starts {p.starts_at.isoformat()}", None)
    if p.ends_at and at >= _aware(p.ends_at, tz):
        return ("ended", f"ended {p.ends_at.isoformat()}", None)
    if c.windows and not in_recurring_window(c, at.astimezone(tz)):
        return ("outside_window", "outside its recurring time window", None)
    lim = p.limits
    if lim.max_redemptions is not None and usage.redemptions.get(p.id, 0) >= lim.max_redemptions:
        return ("used_up", "total redemptions used up", None)
    if "budget" in c.money and usage.spent.get(p.id, 0) >= c.money["budget"]:
        return ("budget_exhausted", "budget used up", None)
    if (
        lim.max_redemptions_per_customer is not None
        and usage.customer_redemptions.get(p.id, 0) >= lim.max_redemptions_per_customer
    ):
        return ("customer_limit", "this customer has used it the maximum number of times", None)
    for cond in p.conditions:
        if isinstance(cond, m.CustomerSegment):
            if customer.segment not in cond.segments and customer.tier not in cond.segments:
                return ("segment", f"only for segments {cond.segments}", None)
        elif isinstance(cond, m.NewCustomer):
            if not customer.new_customer:
                return ("new_customer", "only for new customers", None)
        elif isinstance(cond, m.FirstOrder):
            if customer.order_count != 0:
                return ("first_order", "only on a customer's first order", None)
        elif isinstance(cond, m.Channel):
            if customer.channel not in cond.channels:
                return ("channel", f"only on channels {cond.channels}", None)
        elif isinstance(cond, m.Holiday):
            hol = set(market.holidays)
            if not hol or (cond.names and not hol & set(cond.names)):
                return ("no_holiday", "only on holidays", None)
        elif isinstance(cond, m.CompetitorPromotion):
            by_sku = bool(targeted_skus & set(market.competitor_skus))
            by_cat = bool(targeted_categories & set(market.competitor_categories))
            ok = {"product": by_sku, "category": by_cat, "any": by_sku or by_cat}[cond.scope]
            if not ok:
                return ("no_competitor_promotion", "no competitor promotion on these items", None)
        elif isinstance(cond, m.DistinctSkus):
            have = len(cart_skus & set(cond.skus)) if cond.skus else len(cart_skus)
            if have < cond.count:
                missing = cond.count - have
                return ("distinct_skus", f"needs {cond.count} different products",
                        f"add {missing} more different product{'s' if missing > 1 else ''}")
    return None


def coupon_failure(
    c: Compiled, code: str, *, at: datetime, tz: ZoneInfo, customer: Customer, usage: Usage
) -> tuple[str, str] | None:
    """Why a coupon code cannot be used (besides the cart not qualifying), or None."""
    cc = c.coupon
    if cc is None:
        return None
    p = c.spec
    start = cc.starts_at or p.starts_at
    end = cc.ends_at or p.ends_at
    if start and at < _aware(start, tz):
        return ("not_yet_valid", f"coupon {code} is valid from {start.isoformat()}")
    if end and at >= _aware(end, tz):
        return ("expired", f"coupon {code} expired {end.isoformat()}")
    if cc.customer_ids and customer.id not in cc.customer_ids:
        return ("not_for_customer", f"coupon {code} is not for this customer")
    if cc.max_uses is not None and usage.coupon_uses.get(code, 0) >= cc.max_uses:
        return ("used_up", f"coupon {code} has reached its usage limit")
    if (
        cc.max_uses_per_customer is not None
        and usage.customer_coupon_uses.get(code, 0) >= cc.max_uses_per_customer
    ):
        return ("used_up", f"coupon {code} was used the maximum number of times by this customer")
    return None


def dynamic_failure(
    c: Compiled,
    qty_of: Callable[[m.Targeting | None], int],
    spend_of: Callable[[m.Targeting | None, str], int],
    benefit_text: Callable[[], str],
) -> Failure | None:
    """Quantity and spend conditions, on the running state; with an upsell hint."""
    p = c.spec
    for i, cond in enumerate(p.conditions):
        if isinstance(cond, m.MinQuantity):
            have = qty_of(cond.targeting)
            if have < cond.qty:
                more = cond.qty - have
                return ("min_quantity", f"needs at least {cond.qty} qualifying items",
                        f"add {more} more item{'s' if more > 1 else ''} to get {benefit_text()}")
        elif isinstance(cond, m.MinSubtotal):
            need = c.money[f"min_subtotal{i}"]
            have = spend_of(cond.targeting, cond.base)
            if have < need:
                cur = p.currency
                return ("min_subtotal", f"needs a qualifying subtotal of {format_money(need, cur)}",
                        f"add {format_money(need - have, cur)} more to get {benefit_text()}")
    return None
