"""The declared bounds of every value pricepilot stores: one constant per kind of field.

The wire schemas (:mod:`pricepilot.serving.schemas`, :mod:`pricepilot.events.schemas`,
:mod:`pricepilot.catalog.models`) publish them as JSON Schema constraints, validation enforces
them (:func:`check_text`, :func:`check_int`, used by the catalogue, the store and ingestion), and
the store's columns (:mod:`pricepilot.store.tables`) are declared at these widths, so a value one
accepts the others accept too, on SQLite and PostgreSQL alike.

* **Identifiers** (a shop's product, order, event, session, quote, customer, promotion and
  category ids): 1-128 printable characters, no white space and no ``/`` (they appear in URL
  paths: ``/v1/orders/{order_id}/cancel``).
* **Labels** (channel, device, region, segment, competitor, coupon code): 1-64 printable
  characters. **Text** (product title, brand, promotion and holiday names): up to 200.
  Printable: no control characters (C0, DEL, C1), so no NUL, which PostgreSQL cannot store.
* **Money** is integer minor units in ``[0, 10**13]``; **quantities** ``[1, 10_000]``;
  **stock** ``[0, 10**9]`` — all far inside a signed 64-bit column.

>>> check_text("event 'e1'", "channel", "web\\x00", LABEL)
Traceback (most recent call last):
...
pricepilot.errors.ValidationError: event 'e1', field 'channel': must not contain control characters
>>> check_int("product 'P1'", "list_price", 2**63, MONEY_MIN, MONEY_MAX)
Traceback (most recent call last):
...
pricepilot.errors.ValidationError: product 'P1', field 'list_price': must be at most 10000000000000, got 9223372036854775808
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Literal

from msgspec import Meta

from pricepilot.errors import ValidationError
from pricepilot.money import CURRENCY_EXPONENTS

ID_MAX = 128  # a shop's identifiers
SHOPPER_ID_MAX = 64  # the pseudonymous shopper id as stored (32 hex digits today)
LABEL_MAX = 64  # short labels: channel, device, region, segment, competitor, coupon code
TEXT_MAX = 200  # names and titles

MONEY_MIN, MONEY_MAX = 0, 10**13  # minor units: 100 billion in a two-decimal currency
QUANTITY_MIN, QUANTITY_MAX = 1, 10_000
STOCK_MIN, STOCK_MAX = 0, 10**9
COUNT_MAX = 10**9  # usage limits and other counters a shop sets
LADDER_MAX = 1_000  # prices in a guardrail ladder
ATTRIBUTES_MAX = 100  # attributes of one product

# Control characters (C0, DEL, C1) and the white space Python's ``str.isspace`` knows, spelled
# out so that Python's ``re``, ECMA 262 (JSON Schema's dialect) and RE2 (Arrow's) read the
# patterns alike (their ``\\s`` differ).
CONTROL_CHARS = "\\x00-\\x1f\\x7f-\\x9f"
SPACE_CHARS = "\\x20\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000"
ID_PATTERN = f"^[^/{CONTROL_CHARS}{SPACE_CHARS}]+$"
PRINTABLE_PATTERN = f"^[^{CONTROL_CHARS}]*$"
# a category is a path segment that may hold spaces, but does not start with one
CATEGORY_PATTERN = f"^[^/{CONTROL_CHARS}{SPACE_CHARS}][^/{CONTROL_CHARS}]*$"
# RFC 3339 with a mandatory offset (what the decoder accepts for an aware timestamp).
TIMESTAMP_PATTERN = (
    "^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{1,9})?"
    "([Zz]|[+-][0-9]{2}:[0-9]{2})$"
)


@dataclass(frozen=True)
class TextKind:
    """What a text field may hold: its length bounds and allowed characters."""

    name: str
    min_length: int
    max_length: int
    pattern: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "_re", re.compile(self.pattern))

    def problem(self, value: str) -> str | None:
        """Why ``value`` is not of this kind, or ``None``."""
        if len(value) < self.min_length:
            return "must not be empty" if self.min_length == 1 else (
                f"must have at least {self.min_length} characters")
        if len(value) > self.max_length:
            return f"must have at most {self.max_length} characters, got {len(value)}"
        if self._re.match(value) is None:  # type: ignore[attr-defined]
            if re.search(f"[{CONTROL_CHARS}]", value):
                return "must not contain control characters"
            if "/" in value:
                return "must not contain '/'"
            if self.pattern == ID_PATTERN:
                return "must not contain white space"
            if self.pattern == CATEGORY_PATTERN:
                return "must not start with white space"
            return f"must match {self.pattern}"
        return None


ID = TextKind("identifier", 1, ID_MAX, ID_PATTERN)
SHOPPER_ID = TextKind("shopper id", 1, SHOPPER_ID_MAX, ID_PATTERN)
LABEL = TextKind("label", 1, LABEL_MAX, PRINTABLE_PATTERN)
CATEGORY = TextKind("category", 1, ID_MAX, CATEGORY_PATTERN)
NAME = TextKind("name", 1, TEXT_MAX, PRINTABLE_PATTERN)
TEXT = TextKind("text", 0, TEXT_MAX, PRINTABLE_PATTERN)  # may be empty (a product's brand)


def check_text(entity: str, field: str, value: str, kind: TextKind) -> str:
    """``value`` if it is of ``kind``; else :class:`ValidationError` naming entity and field."""
    problem = kind.problem(value)
    if problem is not None:
        raise ValidationError(entity, field, problem)
    return value


def check_int(entity: str, field: str, value: int, low: int, high: int) -> int:
    """``value`` if ``low <= value <= high``; else :class:`ValidationError` naming the field."""
    if value < low:
        raise ValidationError(entity, field, f"must be at least {low}, got {value}")
    if value > high:
        raise ValidationError(entity, field, f"must be at most {high}, got {value}")
    return value


# -- the same bounds as msgspec types: decoding enforces them, the JSON Schema publishes them ----

Id = Annotated[str, Meta(
    min_length=1, max_length=ID_MAX, pattern=ID_PATTERN,
    description=f"An identifier: 1-{ID_MAX} printable characters, no white space or '/'.")]
ShopperId = Annotated[str, Meta(min_length=1, max_length=SHOPPER_ID_MAX, pattern=ID_PATTERN)]
Label = Annotated[str, Meta(
    min_length=1, max_length=LABEL_MAX, pattern=PRINTABLE_PATTERN,
    description=f"1-{LABEL_MAX} printable characters.")]
Name = Annotated[str, Meta(
    min_length=1, max_length=TEXT_MAX, pattern=PRINTABLE_PATTERN,
    description=f"1-{TEXT_MAX} printable characters.")]
Text = Annotated[str, Meta(max_length=TEXT_MAX, pattern=PRINTABLE_PATTERN,
                           description=f"Up to {TEXT_MAX} printable characters.")]
Money = Annotated[int, Meta(ge=MONEY_MIN, le=MONEY_MAX,
                            description="Money in integer minor units of the currency.")]
PositiveMoney = Annotated[int, Meta(ge=1, le=MONEY_MAX,
                                    description="Money in integer minor units, above zero.")]
Quantity = Annotated[int, Meta(ge=QUANTITY_MIN, le=QUANTITY_MAX)]
Stock = Annotated[int, Meta(ge=STOCK_MIN, le=STOCK_MAX)]
Count = Annotated[int, Meta(ge=1, le=COUNT_MAX)]
Timestamp = Annotated[datetime, Meta(
    tz=True,
    extra_json_schema={"format": "date-time", "pattern": TIMESTAMP_PATTERN, "maxLength": 35},
    description="RFC 3339 date-time with a UTC offset.")]
if TYPE_CHECKING:
    Currency = str
else:  # one of the supported codes; decoded as a plain str
    Currency = Annotated[Literal[tuple(sorted(CURRENCY_EXPONENTS))], Meta(
        description="ISO 4217 code of a supported currency, e.g. EUR.")]
