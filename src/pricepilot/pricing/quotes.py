"""Signed price quotes: HMAC-SHA256 over a canonical encoding, with key rotation.

A quote binds (quote id, shopper, product, price, currency, expiry). The shop hands it back at
checkout; :meth:`QuoteSigner.verify` proves pricepilot issued exactly that price, to that shopper,
and that it has not expired. Keys come from ``settings.security.quote_keys``; the first id in
``quote_key_order`` signs, every configured key verifies (rotate by adding a new key first, then
removing the old one once its quotes have expired).

Verification raises a specific error: :class:`UnknownQuoteKey`, :class:`AlteredQuote` (a field was
changed after signing: the payload no longer matches the digest it was issued with),
:class:`ForgedQuote` (the signature was not made by any of our keys) or :class:`ExpiredQuote`
(authentic but past its expiry). All are :class:`QuoteError` (HTTP 401). Altered vs forged is a
diagnostic only: both are rejected.

>>> from datetime import datetime, timedelta, timezone
>>> from pricepilot.config import load_settings
>>> from pricepilot.clock import FixedClock
>>> clock = FixedClock(datetime(2026, 1, 1, tzinfo=timezone.utc))
>>> signer = QuoteSigner.from_settings(load_settings(path=None, env={}), clock)
>>> q = signer.sign("q1", "shopper-1", "SKU-1", 999, "EUR", clock.now() + timedelta(minutes=15))
>>> signer.verify(q).price
999
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime

import msgspec

from pricepilot.clock import Clock, to_micros
from pricepilot.config import Settings
from pricepilot.errors import ConfigError, Unauthorized

_VERSION = 1


class QuoteError(Unauthorized):
    code = "invalid_quote"

    def __init__(self, quote_id: str, reason: str) -> None:
        self.quote_id = quote_id
        self.reason = reason
        super().__init__(f"quote {quote_id!r}: {reason}")


class ForgedQuote(QuoteError):
    code = "forged_quote"


class AlteredQuote(QuoteError):
    code = "altered_quote"


class ExpiredQuote(QuoteError):
    code = "expired_quote"


class UnknownQuoteKey(QuoteError):
    code = "unknown_quote_key"


class SignedQuote(msgspec.Struct, frozen=True, kw_only=True):
    quote_id: str
    shopper_id: str
    product_id: str
    price: int
    currency: str
    expires_at: int  # microseconds since the epoch, UTC
    key_id: str
    digest: str  # sha256 of the canonical payload at issue (tells "altered" from "forged")
    signature: str  # hex HMAC-SHA256 of the canonical payload


def canonical(quote_id: str, shopper_id: str, product_id: str, price: int, currency: str,
              expires_at: int) -> bytes:
    """Deterministic bytes: a JSON array in fixed field order (no key-order or spacing ambiguity)."""
    return msgspec.json.encode([_VERSION, quote_id, shopper_id, product_id, price, currency, expires_at])


class QuoteSigner:
    def __init__(self, keys: dict[str, str], order: list[str], clock: Clock) -> None:
        if not order:
            raise ConfigError("security.quote_key_order", "needs at least one key id")
        for kid in order:
            if kid not in keys:
                raise ConfigError("security.quote_key_order", f"key id {kid!r} has no key")
        self._keys = {k: v.encode() for k, v in keys.items()}
        self._signing = order[0]
        self._clock = clock

    @classmethod
    def from_settings(cls, settings: Settings, clock: Clock) -> QuoteSigner:
        sec = settings.security
        return cls(dict(sec.quote_keys), list(sec.quote_key_order), clock)

    def _mac(self, kid: str, payload: bytes) -> str:
        return hmac.digest(self._keys[kid], payload, "sha256").hex()  # OpenSSL's one-shot HMAC

    def sign(self, quote_id: str, shopper_id: str, product_id: str, price: int, currency: str,
             expires_at: datetime) -> SignedQuote:
        exp = to_micros(expires_at)
        payload = canonical(quote_id, shopper_id, product_id, price, currency, exp)
        return SignedQuote(
            quote_id=quote_id, shopper_id=shopper_id, product_id=product_id, price=price,
            currency=currency, expires_at=exp, key_id=self._signing,
            digest=hashlib.sha256(payload).hexdigest(), signature=self._mac(self._signing, payload),
        )

    def verify(self, q: SignedQuote) -> SignedQuote:
        """Return the quote if authentic and unexpired, else raise a specific :class:`QuoteError`."""
        if q.key_id not in self._keys:
            raise UnknownQuoteKey(q.quote_id, f"signed with unknown or retired key {q.key_id!r}")
        payload = canonical(q.quote_id, q.shopper_id, q.product_id, q.price, q.currency, q.expires_at)
        if not hmac.compare_digest(self._mac(q.key_id, payload), q.signature):
            if not hmac.compare_digest(hashlib.sha256(payload).hexdigest(), q.digest):
                raise AlteredQuote(q.quote_id, "fields were changed after the quote was signed")
            raise ForgedQuote(q.quote_id, "signature does not match any pricepilot key")
        if to_micros(self._clock.now()) >= q.expires_at:
            raise ExpiredQuote(q.quote_id, "quote has expired")
        return q
