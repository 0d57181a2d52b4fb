"""Validation on definition: a promotion that cannot be right is refused with a clear error.

:func:`compile_promotion` checks one definition and returns its compiled form (money in minor
units, percentages as Decimal, the resolved stage); :func:`compile_all` checks a whole set
(duplicate ids, unknown ``combinable_with`` references) so a file is accepted or refused whole.

>>> from pricepilot.promotions.model import Promotion, PercentOff
>>> compile_promotion(Promotion(id="X", benefit=PercentOff(percent="150")))
Traceback (most recent call last):
...
pricepilot.errors.ValidationError: promotion 'X', field 'benefit.percent': must be in (0, 100], got 150
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from pricepilot.errors import ValidationError
from pricepilot.money import exponent, parse_amount
from pricepilot.promotions import model as m

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class Catalog:
    """Known SKUs, categories and brands, to refuse references to things that do not exist."""

    skus: frozenset[str] = frozenset()
    categories: frozenset[str] = frozenset()
    brands: frozenset[str] = frozenset()


@dataclass
class Compiled:
    """A validated promotion with money in minor units; what the engine runs."""

    spec: m.Promotion
    stage: str
    money: dict[str, int] = field(default_factory=dict)
    percents: dict[str, Decimal] = field(default_factory=dict)
    tiers: list[tuple[int, int | None, Decimal | None]] = field(default_factory=list)
    windows: list[tuple[frozenset[int], time, time]] = field(default_factory=list)
    coupon_codes: frozenset[str] = frozenset()
    coupon: m.CouponCode | None = None
    gift_prices: list[tuple[m.GiftItem, int]] = field(default_factory=list)
    has_dynamic: bool = False  # has quantity or spend conditions, checked on the running state

    @property
    def id(self) -> str:
        return self.spec.id


def _err(p: m.Promotion, fld: str, reason: str) -> ValidationError:
    return ValidationError(f"promotion {p.id!r}", fld, reason)


def _percent(p: m.Promotion, fld: str, value: object) -> Decimal:
    if isinstance(value, float) or isinstance(value, bool):
        raise _err(p, fld, f"{value!r} must be decimal text, not a float")
    try:
        d = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise _err(p, fld, f"{value!r} is not a number") from None
    if not d.is_finite() or not (0 < d <= 100):
        raise _err(p, fld, f"must be in (0, 100], got {value}")
    return d


def _money(p: m.Promotion, fld: str, value: object, *, positive: bool = True) -> int:
    try:
        v = parse_amount(value, p.currency, field=fld)  # type: ignore[arg-type]
    except ValidationError as e:
        raise _err(p, fld, e.reason) from e
    if positive and v <= 0:
        raise _err(p, fld, f"must be positive, got {value}")
    if v < 0:
        raise _err(p, fld, f"must not be negative, got {value}")
    return v


def _positive_int(p: m.Promotion, fld: str, value: object, *, optional: bool = True) -> None:
    if value is None and optional:
        return
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise _err(p, fld, f"must be a whole number >= 1, got {value!r}")


def _check_targeting(p: m.Promotion, fld: str, t: m.Targeting, cat: Catalog | None) -> None:
    if cat is None:
        return
    for name, values, known in (
        ("skus", t.skus + t.exclude_skus, cat.skus),
        ("categories", t.categories + t.exclude_categories, cat.categories),
        ("brands", t.brands + t.exclude_brands, cat.brands),
    ):
        unknown = sorted(set(values) - known)
        if unknown:
            raise _err(p, f"{fld}.{name}", f"unknown {name[:-1] if name != 'categories' else 'category'} {unknown}")


def _hhmm(p: m.Promotion, fld: str, text: str) -> time:
    try:
        hh, mm = text.split(":")
        return time(int(hh), int(mm))
    except (ValueError, TypeError):
        raise _err(p, fld, f"{text!r} is not a time HH:MM") from None


def _aware(t: datetime, tz: ZoneInfo) -> datetime:
    return t if t.tzinfo is not None else t.replace(tzinfo=tz)


def compile_promotion(
    p: m.Promotion, catalog: Catalog | None = None, *, timezone: str = "UTC"
) -> Compiled:
    """Validate ``p`` (against ``catalog`` when given) and return its compiled form."""
    if not p.id or not p.id.strip():
        raise ValidationError("promotion", "id", "must not be empty")
    try:
        exponent(p.currency)
    except ValidationError as e:
        raise _err(p, "currency", e.reason) from e
    tz = ZoneInfo(timezone)
    if p.starts_at and p.ends_at and _aware(p.ends_at, tz) <= _aware(p.starts_at, tz):
        raise _err(p, "ends_at", f"ends {p.ends_at.isoformat()} before it starts {p.starts_at.isoformat()}")
    _check_targeting(p, "targeting", p.targeting, catalog)
    b = p.benefit
    c = Compiled(spec=p, stage="item")
    auto_stage = "item"
    if isinstance(b, m.PercentOff):
        c.percents["percent"] = _percent(p, "benefit.percent", b.percent)
        _positive_int(p, "benefit.max_units", b.max_units)
        _positive_int(p, "benefit.max_units_per_line", b.max_units_per_line)
        auto_stage = "order" if b.include_shipping else "item"
    elif isinstance(b, m.AmountOff):
        c.money["amount"] = _money(p, "benefit.amount", b.amount)
        _positive_int(p, "benefit.max_units", b.max_units)
        _positive_int(p, "benefit.max_units_per_line", b.max_units_per_line)
        if b.include_shipping and b.per != "order":
            raise _err(p, "benefit.include_shipping", "only an order-level amount can include shipping")
        auto_stage = "order" if b.per == "order" else "item"
    elif isinstance(b, m.FixedPrice):
        _positive_int(p, "benefit.qty", b.qty, optional=False)
        c.money["price"] = _money(p, "benefit.price", b.price, positive=False)
    elif isinstance(b, m.TieredThreshold):
        if not b.tiers:
            raise _err(p, "benefit.tiers", "needs at least one tier")
        last = -1
        for i, t in enumerate(b.tiers):
            spend = _money(p, f"benefit.tiers[{i}].spend", t.spend)
            if spend <= last:
                raise _err(p, f"benefit.tiers[{i}].spend", "tiers must be in increasing spend order")
            last = spend
            if (t.amount is None) == (t.percent is None):
                raise _err(p, f"benefit.tiers[{i}]", "needs exactly one of amount or percent")
            amt = _money(p, f"benefit.tiers[{i}].amount", t.amount) if t.amount is not None else None
            pct = _percent(p, f"benefit.tiers[{i}].percent", t.percent) if t.percent is not None else None
            c.tiers.append((spend, amt, pct))
        auto_stage = "order"
    elif isinstance(b, m.RepeatingThreshold):
        c.money["step"] = _money(p, "benefit.step", b.step)
        c.money["amount"] = _money(p, "benefit.amount", b.amount)
        if b.cap is not None:
            c.money["cap"] = _money(p, "benefit.cap", b.cap)
        auto_stage = "order"
    elif isinstance(b, m.BuyXGetY):
        _positive_int(p, "benefit.buy_qty", b.buy_qty, optional=False)
        _positive_int(p, "benefit.get_qty", b.get_qty, optional=False)
        _positive_int(p, "benefit.max_quantity", b.max_quantity)
        if b.percent is not None and b.amount is not None:
            raise _err(p, "benefit", "give percent or amount, not both")
        c.percents["percent"] = _percent(p, "benefit.percent", b.percent if b.percent is not None else "100")
        if b.amount is not None:
            c.money["amount"] = _money(p, "benefit.amount", b.amount)
        if b.repeat and b.max_quantity is None:
            raise _err(p, "benefit.max_quantity", "a repeating buy-x-get-y needs a max_quantity cap")
        for name, tgt in (("buy", b.buy), ("get", b.get)):
            if tgt is not None:
                _check_targeting(p, f"benefit.{name}", tgt, catalog)
    elif isinstance(b, m.Gift):
        if not b.items:
            raise _err(p, "benefit.items", "needs at least one gift SKU")
        _positive_int(p, "benefit.qty", b.qty, optional=False)
        for i, g in enumerate(b.items):
            c.gift_prices.append((g, _money(p, f"benefit.items[{i}].unit_price", g.unit_price, positive=False)))
        if catalog is not None:
            unknown = sorted({g.sku for g in b.items} - catalog.skus)
            if unknown:
                raise _err(p, "benefit.items", f"unknown sku {unknown}")
        auto_stage = "order"
    elif isinstance(b, m.Bundle):
        if not b.items:
            raise _err(p, "benefit.items", "a bundle needs at least one SKU")
        for sku, q in b.items.items():
            _positive_int(p, f"benefit.items.{sku}", q, optional=False)
        c.money["price"] = _money(p, "benefit.price", b.price, positive=False)
        if catalog is not None:
            unknown = sorted(set(b.items) - catalog.skus)
            if unknown:
                raise _err(p, "benefit.items", f"unknown sku {unknown}")
    elif isinstance(b, m.ShippingDiscount):
        if (b.percent is None) == (b.amount is None):
            raise _err(p, "benefit", "shipping needs exactly one of percent or amount")
        if b.percent is not None:
            c.percents["percent"] = _percent(p, "benefit.percent", b.percent)
        else:
            c.money["amount"] = _money(p, "benefit.amount", b.amount)
        auto_stage = "shipping"
    else:  # pragma: no cover - the union is closed
        raise _err(p, "benefit", f"unknown benefit {type(b).__name__}")
    c.stage = auto_stage if p.stage == "auto" else p.stage
    c.has_dynamic = any(isinstance(x, m.MinQuantity | m.MinSubtotal) for x in p.conditions)
    if c.stage == "shipping" and not isinstance(b, m.ShippingDiscount):
        raise _err(p, "stage", "only a shipping benefit runs in the shipping stage")
    if isinstance(b, m.ShippingDiscount) and c.stage != "shipping":
        raise _err(p, "stage", "a shipping benefit runs in the shipping stage")

    lim = p.limits
    for name in ("max_applications", "max_redemptions", "max_redemptions_per_customer"):
        _positive_int(p, f"limits.{name}", getattr(lim, name))
    if lim.max_discount_per_application is not None:
        c.money["max_discount"] = _money(p, "limits.max_discount_per_application", lim.max_discount_per_application)
    if lim.budget is not None:
        c.money["budget"] = _money(p, "limits.budget", lim.budget)

    for i, cond in enumerate(p.conditions):
        f = f"conditions[{i}]"
        if isinstance(cond, m.MinQuantity):
            _positive_int(p, f"{f}.qty", cond.qty, optional=False)
            if cond.targeting:
                _check_targeting(p, f"{f}.targeting", cond.targeting, catalog)
        elif isinstance(cond, m.MinSubtotal):
            c.money[f"min_subtotal{i}"] = _money(p, f"{f}.amount", cond.amount)
            if cond.targeting:
                _check_targeting(p, f"{f}.targeting", cond.targeting, catalog)
        elif isinstance(cond, m.DistinctSkus):
            _positive_int(p, f"{f}.count", cond.count, optional=False)
            if cond.skus and cond.count > len(set(cond.skus)):
                raise _err(p, f"{f}.count", "asks for more distinct SKUs than it lists")
            if catalog is not None and set(cond.skus) - catalog.skus:
                raise _err(p, f"{f}.skus", f"unknown sku {sorted(set(cond.skus) - catalog.skus)}")
        elif isinstance(cond, m.CustomerSegment | m.Channel):
            vals = cond.segments if isinstance(cond, m.CustomerSegment) else cond.channels
            if not vals:
                raise _err(p, f, "needs at least one value")
        elif isinstance(cond, m.CouponCode):
            if c.coupon is not None:
                raise _err(p, f, "only one coupon condition per promotion")
            if not cond.codes:
                raise _err(p, f"{f}.codes", "needs at least one code")
            codes = set()
            for code in cond.codes:
                norm = normalise_code(code)
                if not norm:
                    raise _err(p, f"{f}.codes", "a coupon code must not be empty")
                codes.add(norm)
            if cond.starts_at and cond.ends_at and _aware(cond.ends_at, tz) <= _aware(cond.starts_at, tz):
                raise _err(p, f"{f}.ends_at", "coupon ends before it starts")
            _positive_int(p, f"{f}.max_uses", cond.max_uses)
            _positive_int(p, f"{f}.max_uses_per_customer", cond.max_uses_per_customer)
            c.coupon = cond
            c.coupon_codes = frozenset(codes)
        elif isinstance(cond, m.RecurringWindow):
            start = _hhmm(p, f"{f}.start", cond.start)
            end = _hhmm(p, f"{f}.end", cond.end)
            if start == end:
                raise _err(p, f, "a recurring window needs start != end")
            bad = [d for d in cond.days if d.lower() not in DAYS]
            if bad:
                raise _err(p, f"{f}.days", f"unknown day {bad}; use {', '.join(DAYS)}")
            days = frozenset(DAYS.index(d.lower()) for d in cond.days) or frozenset(range(7))
            c.windows.append((days, start, end))
    return c


def normalise_code(code: str) -> str:
    """Coupon codes compare case-insensitively, ignoring surrounding blanks."""
    return code.strip().upper()


def compile_all(
    promotions: list[m.Promotion], catalog: Catalog | None = None, *, timezone: str = "UTC"
) -> list[Compiled]:
    """Validate a whole set; refuses duplicate ids, shared coupon codes, unknown references."""
    out = [compile_promotion(p, catalog, timezone=timezone) for p in promotions]
    seen: set[str] = set()
    codes: dict[str, str] = {}
    for c in out:
        if c.id in seen:
            raise ValidationError(f"promotion {c.id!r}", "id", "duplicate promotion id")
        seen.add(c.id)
        for code in c.coupon_codes:
            if code in codes:
                raise ValidationError(
                    f"promotion {c.id!r}", "conditions", f"coupon code {code!r} is already used by {codes[code]!r}"
                )
            codes[code] = c.id
    for c in out:
        unknown = sorted(set(c.spec.combinable_with) - seen)
        if unknown:
            raise ValidationError(f"promotion {c.id!r}", "combinable_with", f"unknown promotion {unknown}")
    return out
