"""Benefits: from the running state to a list of applications (amount, units, weights).

Each function only proposes; the applicator caps every unit at its floor, enforces limits and
records exactly what was taken.
"""

from __future__ import annotations

from decimal import Decimal

from pricepilot.money import format_money, round_minor
from pricepilot.promotions import model as m
from pricepilot.promotions.state import Application, Run
from pricepilot.promotions.validation import Compiled


def item_units(run: Run, t: m.Targeting) -> list[int]:
    """Non-gift item units matched by ``t``, in canonical order (cached per cart: units of a
    cart never change between the combinations the search tries)."""
    u = run.units
    key = id(t)
    hit = u.cache.get(key)
    if hit is not None and hit[0] is t:
        return hit[1]
    res: list[int] = []
    for first, count in u.runs:  # one check per line, not per unit
        if t.matches(u.sku[first], u.category[first], u.brand[first]):
            res.extend(range(first, first + count))
    u.cache[key] = (t, res)
    return res


def _order(run: Run, units: list[int], order: str) -> list[int]:
    if order == "cheapest":
        return sorted(units, key=lambda i: (run.net[i], i))
    return sorted(units, key=lambda i: (-run.net[i], i))


def _select(run: Run, units: list[int], max_units: int | None, per_line: int | None, order: str) -> list[int]:
    units = _order(run, units, order)
    if per_line is not None:
        seen: dict[int, int] = {}
        keep = []
        for i in units:
            ln = run.units.line[i]
            if seen.get(ln, 0) < per_line:
                seen[ln] = seen.get(ln, 0) + 1
                keep.append(i)
        units = keep
    if max_units is not None:
        units = units[:max_units]
    return sorted(units)


def _base(run: Run, i: int) -> int:
    return run.net[i] if run.compounding == "running_net" else run.units.orig[i]


def _percent_apps(run: Run, units: list[int], pct: Decimal) -> list[Application]:
    """Percent of each unit's base, rounded at the policy's rounding point."""
    groups: dict[object, list[int]] = {}
    for i in units:
        key: object
        if run.rounding_point == "unit":
            key = i
        elif run.rounding_point == "line":
            key = run.units.line[i]
        else:
            key = 0
        groups.setdefault(key, []).append(i)
    apps = []
    for g in groups.values():
        bases = [_base(run, i) for i in g]
        amount = round_minor(Decimal(sum(bases)) * pct / 100, run.rounding)  # type: ignore[arg-type]
        if amount > 0:
            apps.append(Application(amount, g, bases, redistribute=False))
    return apps


def ship_units(run: Run, methods: list[str]) -> list[int]:
    u = run.units
    return [i for i in range(len(u.orig)) if u.is_ship[i] and (not methods or u.method[i] in methods)]


def threshold_base(run: Run, units: list[int], base: str = "policy") -> int:
    b = run.threshold_base if base == "policy" else base
    return sum(run.net[i] if b == "running_net" else run.units.orig[i] for i in units)


def describe(c: Compiled, tier_amount: int | None = None) -> str:
    """Short text of what the benefit gives, for upsell hints."""
    b = c.spec.benefit
    cur = c.spec.currency
    if tier_amount is not None:
        return f"{format_money(tier_amount, cur)} off"
    if isinstance(b, m.PercentOff | m.ShippingDiscount) and "percent" in c.percents:
        pct = c.percents["percent"]
        if isinstance(b, m.ShippingDiscount):
            return "free shipping" if pct == 100 else f"{format(pct.normalize(), 'f')}% off shipping"
        return f"{format(pct.normalize(), 'f')}% off"
    if "amount" in c.money:
        return f"{format_money(c.money['amount'], cur)} off"
    if isinstance(b, m.TieredThreshold) and c.tiers:
        spend, amt, tier_pct = c.tiers[0]
        if amt is not None:
            return f"{format_money(amt, cur)} off"
        return f"{format(tier_pct, 'f')}% off"
    if isinstance(b, m.Gift):
        return "a free gift"
    return "the offer"


def compute(c: Compiled, run: Run, targeted: list[int]) -> tuple[list[Application], str | None, str | None]:
    """Applications of ``c`` on ``run``; also a did-not-apply reason or an upsell hint."""
    b = c.spec.benefit
    consume_all = run.consumption == "all" and c.stage in ("catalogue", "item")
    avail = [i for i in targeted if not run.consumed[i]] if consume_all else targeted
    if isinstance(b, m.PercentOff):
        units = _select(run, [i for i in avail if run.room(i) > 0], b.max_units, b.max_units_per_line, b.unit_order)
        if b.include_shipping:
            units = units + ship_units(run, [])
        apps = _percent_apps(run, units, c.percents["percent"])
        if consume_all:
            for a in apps:
                a.consume = list(a.units)
        return apps, None, None
    if isinstance(b, m.AmountOff):
        amount = c.money["amount"]
        units = _select(run, [i for i in avail if run.room(i) > 0], b.max_units, b.max_units_per_line, b.unit_order)
        if b.per == "unit":
            apps = [Application(amount, [i], [1], redistribute=False) for i in units]
        elif b.per == "line":
            by_line: dict[int, list[int]] = {}
            for i in units:
                by_line.setdefault(run.units.line[i], []).append(i)
            apps = [Application(amount, g, [run.net[i] for i in g], redistribute=True) for g in by_line.values()]
        else:
            if b.include_shipping:
                units = units + ship_units(run, [])
            apps = [Application(amount, units, [run.net[i] for i in units], redistribute=True)] if units else []
        if consume_all:
            for a in apps:
                a.consume = list(a.units)
        return apps, None, None
    if isinstance(b, m.FixedPrice):
        units = _order(run, [i for i in targeted if not run.consumed[i]], "most_expensive")
        apps = []
        price = c.money["price"]
        for k in range(0, len(units) - b.qty + 1, b.qty):
            g = units[k:k + b.qty]
            saving = sum(run.net[i] for i in g) - price
            if saving <= 0:
                break
            apps.append(Application(saving, g, [run.net[i] for i in g], redistribute=True, consume=list(g)))
        return apps, (None if apps else "no_saving"), None
    if isinstance(b, m.Bundle):
        pools = {
            sku: _order(run, [i for i in targeted if run.units.sku[i] == sku and not run.consumed[i]], "most_expensive")
            for sku in b.items
        }
        apps = []
        price = c.money["price"]
        k = 0
        while all(len(pools[s]) >= (k + 1) * q for s, q in b.items.items()):
            g = [i for s, q in sorted(b.items.items()) for i in pools[s][k * q:(k + 1) * q]]
            saving = sum(run.net[i] for i in g) - price
            if saving <= 0:
                break
            apps.append(Application(saving, sorted(g), [run.net[i] for i in sorted(g)], redistribute=True, consume=list(g)))
            k += 1
        if not apps and k == 0 and not all(len(pools[s]) >= q for s, q in b.items.items()):
            return [], "bundle_incomplete", None
        return apps, (None if apps else "no_saving"), None
    if isinstance(b, m.BuyXGetY):
        return _bxgy(c, b, run)
    if isinstance(b, m.TieredThreshold):
        base = threshold_base(run, targeted)
        best = None
        nxt = None
        for spend, amt, pct in c.tiers:
            if base >= spend:
                best = (spend, amt, pct)
            elif nxt is None:
                nxt = (spend, amt, pct)
        hint = None
        if nxt is not None:
            spend, amt, pct = nxt
            gain = amt if amt is not None else round_minor(Decimal(spend) * pct / 100, run.rounding)  # type: ignore[arg-type,operator]
            hint = f"add {format_money(spend - base, c.spec.currency)} more to get {format_money(gain, c.spec.currency)} off"
        if best is None:
            return [], "min_subtotal", hint
        _, amt, pct = best
        amount = amt if amt is not None else round_minor(Decimal(base) * pct / 100, run.rounding)  # type: ignore[operator,arg-type]
        return [Application(amount, targeted, [run.net[i] for i in targeted], redistribute=True)], None, hint
    if isinstance(b, m.RepeatingThreshold):
        base = threshold_base(run, targeted)
        step = c.money["step"]
        k = base // step
        cap = c.money.get("cap")
        amount = k * c.money["amount"]
        if cap is not None:
            amount = min(amount, cap)
        hint = None
        if cap is None or amount < cap:
            hint = (f"add {format_money((k + 1) * step - base, c.spec.currency)} more to get "
                    f"{format_money(min((k + 1) * c.money['amount'], cap or 10**18), c.spec.currency)} off")
        if k == 0:
            return [], "min_subtotal", hint
        return [Application(amount, targeted, [run.net[i] for i in targeted], redistribute=True)], None, hint
    if isinstance(b, m.Gift):
        return [], None, None  # gifts are added by the applicator (they create lines)
    if isinstance(b, m.ShippingDiscount):
        units = ship_units(run, b.methods)
        if "percent" in c.percents:
            apps = _percent_apps(run, units, c.percents["percent"])
        else:
            apps = [Application(c.money["amount"], [i], [1], redistribute=False) for i in units]
        return apps, (None if units else "no_shipping"), None
    raise TypeError(f"unknown benefit {type(b).__name__}")  # pragma: no cover


def _bxgy(c: Compiled, b: m.BuyXGetY, run: Run) -> tuple[list[Application], str | None, str | None]:
    tb = b.buy or c.spec.targeting
    tg = b.get or c.spec.targeting
    free = [i for i in item_units(run, tb) if not run.consumed[i]]
    get_pool = [i for i in item_units(run, tg) if not run.consumed[i]] if tg is not tb else list(free)
    get_set = set(get_pool)
    get_order = _order(run, get_pool, b.which)
    buy_order = sorted(free, key=lambda i: (i in get_set, -run.net[i], i))
    taken: set[int] = set()
    gp = bp = 0
    quota = b.max_quantity if b.max_quantity is not None else b.get_qty
    apps: list[Application] = []
    pct = c.percents["percent"]
    amount = c.money.get("amount")
    while quota > 0:
        want = min(b.get_qty, quota)
        gets: list[int] = []
        g = gp
        while g < len(get_order) and len(gets) < want:
            if get_order[g] not in taken:
                gets.append(get_order[g])
            g += 1
        if len(gets) < want:
            break
        buys: list[int] = []
        bb = bp
        gs = set(gets)
        while bb < len(buy_order) and len(buys) < b.buy_qty:
            i = buy_order[bb]
            if i not in taken and i not in gs:
                buys.append(i)
            bb += 1
        if len(buys) < b.buy_qty:
            break
        gp, bp = g, bb
        taken.update(gets)
        taken.update(buys)
        per = [
            min(amount, run.net[i]) if amount is not None
            else round_minor(Decimal(_base(run, i)) * pct / 100, run.rounding)  # type: ignore[arg-type]
            for i in gets
        ]
        apps.append(Application(sum(per), gets, per, redistribute=False, consume=gets + buys))
        quota -= want
        if not b.repeat:
            break
    if not apps:
        need = b.buy_qty + b.get_qty
        return [], "min_quantity", f"add qualifying items to reach {need} (buy {b.buy_qty} get {b.get_qty})"
    return apps, None, None
