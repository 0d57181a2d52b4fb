from __future__ import annotations

from datetime import datetime, timedelta, timezone

import msgspec
import pytest

from pricepilot.clock import FixedClock
from pricepilot.config import load_settings
from pricepilot.errors import ConfigError
from pricepilot.pricing.quotes import (
    AlteredQuote,
    ExpiredQuote,
    ForgedQuote,
    QuoteError,
    QuoteSigner,
    UnknownQuoteKey,
)

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
K_OLD = "old-key-0123456789abcdef"
K_NEW = "new-key-0123456789abcdef"


def _signer(keys: dict[str, str], order: list[str], clock: FixedClock) -> QuoteSigner:
    return QuoteSigner(keys, order, clock)


def _quote(signer: QuoteSigner):  # type: ignore[no-untyped-def]
    return signer.sign("q-1", "shopper-1", "SKU-1", 1999, "EUR", T0 + timedelta(minutes=15))


def test_a_valid_quote_verifies() -> None:
    s = _signer({"k1": K_OLD}, ["k1"], FixedClock(T0))
    q = _quote(s)
    assert s.verify(q) == q and q.key_id == "k1"


def test_a_quote_survives_a_json_round_trip() -> None:
    s = _signer({"k1": K_OLD}, ["k1"], FixedClock(T0))
    q = _quote(s)
    back = msgspec.json.decode(msgspec.json.encode(q), type=type(q))
    assert s.verify(back) == q


@pytest.mark.parametrize("field,value", [("price", 999), ("shopper_id", "mallory"),
                                         ("product_id", "SKU-2"), ("currency", "USD"),
                                         ("expires_at", 10**18), ("quote_id", "q-2")])
def test_changing_any_signed_field_is_detected_as_altered(field: str, value: object) -> None:
    s = _signer({"k1": K_OLD}, ["k1"], FixedClock(T0))
    q = msgspec.structs.replace(_quote(s), **{field: value})
    with pytest.raises(AlteredQuote):
        s.verify(q)


def test_a_quote_signed_with_another_key_is_forged() -> None:
    clock = FixedClock(T0)
    mallory = _signer({"k1": "not-our-key-0123456789"}, ["k1"], clock)
    with pytest.raises(ForgedQuote) as e:
        _signer({"k1": K_OLD}, ["k1"], clock).verify(_quote(mallory))
    assert e.value.http_status == 401 and isinstance(e.value, QuoteError)


def test_an_authentic_quote_past_its_expiry_is_expired() -> None:
    clock = FixedClock(T0)
    s = _signer({"k1": K_OLD}, ["k1"], clock)
    q = _quote(s)
    clock.advance(timedelta(minutes=15))
    with pytest.raises(ExpiredQuote):
        s.verify(q)


def test_rotation_new_key_signs_old_key_verifies_until_removed() -> None:
    clock = FixedClock(T0)
    old = _signer({"k1": K_OLD}, ["k1"], clock)
    q_old = _quote(old)
    rotated = _signer({"k1": K_OLD, "k2": K_NEW}, ["k2", "k1"], clock)
    q_new = _quote(rotated)
    assert q_new.key_id == "k2"
    assert rotated.verify(q_old) == q_old and rotated.verify(q_new) == q_new
    retired = _signer({"k2": K_NEW}, ["k2"], clock)
    with pytest.raises(UnknownQuoteKey):
        retired.verify(q_old)
    assert retired.verify(q_new) == q_new


def test_the_signer_is_built_from_settings_and_refuses_a_signing_key_without_a_secret() -> None:
    s = QuoteSigner.from_settings(load_settings(path=None, env={}), FixedClock(T0))
    assert s.verify(_quote(s)).price == 1999
    with pytest.raises(ConfigError):
        QuoteSigner({"k1": K_OLD}, ["k9"], FixedClock(T0))
