"""Exact money: integer minor units per currency, and one way to say an amount per interface.

How amounts are written (docs/money.md): on the wire (HTTP, JSON output) an integer of minor
units with the currency code beside it; in files, decimal text in major units (``"19.99"``,
:func:`parse_amount`); in text for people (CLI tables, promotion hints, explanation notes,
reports) major units after the currency code (``"EUR 19.99"``, :func:`format_money`).

pricepilot never stores or computes prices as floats. An amount is an ``int`` of the currency's
minor units (cents for EUR, yen for JPY); a currency code travels beside it. Conversions from
text go through :class:`decimal.Decimal` and refuse more decimals than the currency allows.

>>> parse_amount("19.99", "EUR")
1999
>>> format_amount(1999, "EUR")
'19.99'
>>> format_money(9284, "EUR")
'EUR 92.84'
>>> allocate(100, [1, 1, 1])
[34, 33, 33]
"""

from __future__ import annotations

from decimal import (
    ROUND_CEILING,
    ROUND_DOWN,
    ROUND_FLOOR,
    ROUND_HALF_EVEN,
    ROUND_HALF_UP,
    ROUND_UP,
    Decimal,
    InvalidOperation,
)
from typing import Literal

from pricepilot.errors import ValidationError

# ISO 4217 minor-unit exponents for the currencies shops use; extend as needed.
CURRENCY_EXPONENTS: dict[str, int] = {
    "EUR": 2, "USD": 2, "GBP": 2, "CHF": 2, "SEK": 2, "NOK": 2, "DKK": 2, "PLN": 2, "CZK": 2,
    "HUF": 2, "RON": 2, "BGN": 2, "CAD": 2, "AUD": 2, "NZD": 2, "BRL": 2, "MXN": 2, "INR": 2,
    "CNY": 2, "HKD": 2, "SGD": 2, "ZAR": 2, "TRY": 2, "ILS": 2, "AED": 2, "SAR": 2, "THB": 2,
    "PHP": 2, "MYR": 2, "IDR": 2, "TWD": 2, "JPY": 0, "KRW": 0, "ISK": 0, "CLP": 0, "VND": 0,
    "KWD": 3, "BHD": 3, "JOD": 3, "OMR": 3, "TND": 3,
}

RoundingMode = Literal["half_up", "half_even", "down", "up", "floor", "ceiling"]

_DECIMAL_ROUNDING: dict[str, str] = {
    "half_up": ROUND_HALF_UP,
    "half_even": ROUND_HALF_EVEN,
    "down": ROUND_DOWN,
    "up": ROUND_UP,
    "floor": ROUND_FLOOR,
    "ceiling": ROUND_CEILING,
}


def exponent(currency: str) -> int:
    """Number of decimals of ``currency``; raises ValidationError for an unknown code."""
    try:
        return CURRENCY_EXPONENTS[currency]
    except KeyError:
        raise ValidationError("currency", None, f"unknown currency {currency!r}") from None


def check_currency(currency: str) -> str:
    exponent(currency)
    return currency


def parse_amount(value: str | int | Decimal, currency: str, *, field: str = "amount") -> int:
    """Text or Decimal in major units (``"19.99"``) to integer minor units.

    Refuses floats (they are not exact), non-numbers and more decimals than the currency has.
    """
    if isinstance(value, bool) or isinstance(value, float):
        raise ValidationError("money", field, f"{value!r} must be a string or Decimal, not a float")
    exp = exponent(currency)
    try:
        d = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise ValidationError("money", field, f"{value!r} is not a number") from None
    if not d.is_finite():
        raise ValidationError("money", field, f"{value!r} is not a finite number")
    scaled = d.scaleb(exp)
    if scaled != scaled.to_integral_value():
        raise ValidationError(
            "money", field, f"{value!r} has more than {exp} decimals allowed for {currency}"
        )
    return int(scaled)


def to_decimal(minor: int, currency: str) -> Decimal:
    """Minor units back to a Decimal in major units."""
    return Decimal(minor).scaleb(-exponent(currency))


def format_amount(minor: int, currency: str) -> str:
    """Minor units to the plain text a shop would print (no symbol): ``1999 -> '19.99'``."""
    exp = exponent(currency)
    if exp == 0:
        return str(minor)
    return f"{to_decimal(minor, currency):.{exp}f}"


def format_money(amount: int | float, currency: str) -> str:
    """An amount for people: the currency code, then major units (``9284 -> 'EUR 92.84'``).

    ``amount`` is in minor units. An ``int`` is printed exactly with the currency's decimals; a
    ``float`` (an expected value, such as profit per view) with two more, rounded half-even:
    ``format_money(45.678, "EUR") -> 'EUR 0.4568'``. Negative amounts keep their sign after the
    code (``'EUR -1.50'``).

    >>> format_money(-150, "EUR"), format_money(1999, "JPY"), format_money(45.678, "EUR")
    ('EUR -1.50', 'JPY 1999', 'EUR 0.4568')
    """
    if isinstance(amount, bool):
        raise ValidationError("money", "amount", f"{amount!r} is not an amount")
    if isinstance(amount, int):
        return f"{currency} {format_amount(amount, currency)}"
    digits = exponent(currency) + 2
    d = Decimal(repr(float(amount))).scaleb(-exponent(currency))
    if not d.is_finite():
        return f"{currency} {amount}"
    return f"{currency} {d.quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_EVEN):.{digits}f}"


def round_minor(value: Decimal | int, mode: RoundingMode = "half_up") -> int:
    """Round a (possibly fractional) amount of minor units to an integer with an explicit mode."""
    if isinstance(value, int):
        return value
    return int(value.quantize(Decimal(1), rounding=_DECIMAL_ROUNDING[mode]))


def percent_of(amount: int, percent: Decimal | int | str, mode: RoundingMode = "half_up") -> int:
    """``percent`` % of ``amount`` minor units, rounded once with ``mode``."""
    p = percent if isinstance(percent, Decimal) else Decimal(str(percent))
    return round_minor(Decimal(amount) * p / 100, mode)


def allocate(total: int, weights: list[int]) -> list[int]:
    """Split ``total`` minor units over ``weights`` by largest remainder; parts sum exactly.

    Ties in the remainder go to the earlier weight, so the result is deterministic. With all
    weights zero the split is equal. A negative total is allocated as the negation of the
    positive split.
    """
    n = len(weights)
    if n == 0:
        if total != 0:
            raise ValueError("cannot allocate a non-zero total over no weights")
        return []
    if total < 0:
        return [-x for x in allocate(-total, weights)]
    if any(w < 0 for w in weights):
        raise ValueError("allocation weights must be non-negative")
    wsum = sum(weights)
    if wsum == 0:
        weights = [1] * n
        wsum = n
    base = [total * w // wsum for w in weights]
    rem = [total * w % wsum for w in weights]
    short = total - sum(base)
    order = sorted(range(n), key=lambda i: (-rem[i], i))
    for i in order[:short]:
        base[i] += 1
    return base
