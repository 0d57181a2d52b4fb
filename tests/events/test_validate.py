"""The vectorised price parser agrees with the reference `money.parse_amount` on every input."""

from __future__ import annotations

from decimal import Decimal

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from pricepilot.compliance.identity import Pseudonymiser
from pricepilot.errors import ValidationError
from pricepilot.events.validate import Context, parse_batch
from pricepilot.money import parse_amount

CTX = Context(product_ids={"P"}, now_us=1_780_000_000_000_000, tolerance_us=0,
              pseudonymise=Pseudonymiser("k" * 16), source="t.csv")

price_text = st.one_of(
    st.decimals(min_value=Decimal("-1000000"), max_value=Decimal("1000000"), places=4,
                allow_nan=False, allow_infinity=False).map(str),
    st.from_regex(r"\A-?[0-9]{1,7}(\.[0-9]{0,4})?\Z"),
    st.text(alphabet="0123456789.-e ", max_size=8),
)


@settings(max_examples=150, deadline=None)
@given(prices=st.lists(price_text, min_size=1, max_size=20),
       currency=st.sampled_from(["EUR", "JPY", "KWD"]))
def test_vectorised_prices_match_parse_amount(prices: list[str], currency: str) -> None:
    n = len(prices)
    raw = pa.table({
        "event_id": [f"e{i}" for i in range(n)], "type": ["view"] * n,
        "ts": ["2026-03-01T10:00:00+00:00"] * n, "customer_id": ["c"] * n,
        "product_id": ["P"] * n, "price": prices, "currency": [currency] * n,
    })
    out = parse_batch(raw, list(range(2, n + 2)), CTX)
    got = dict(zip(out.table.column("event_id").to_pylist(), out.table.column("price").to_pylist()))
    for i, text in enumerate(prices):
        try:
            want: int | None = parse_amount(text, currency)
        except ValidationError:
            want = None
        if want is not None and want < 1:
            want = None  # negative prices are refused, and 0 is implausible (plausibility)
        if want is not None and want > CTX.plausibility.max_price:
            want = None  # implausibly high
        if want is not None and text.strip() != text:
            want = parse_amount(text.strip(), currency)
        if text.strip() and ("e" in text.lower() or text.strip().startswith(".")
                             or text.strip().endswith(".") or "+" in text):
            # exponent / bare-dot forms are not decimal text in the file format: refused
            want = None
        assert got.get(f"e{i}") == want, (text, currency)
