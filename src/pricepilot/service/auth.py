"""API keys with scopes, stored hashed, compared in constant time.

Settings hold only ``sha256(key).hexdigest() -> scopes``; a presented key is hashed and compared
against every stored digest with :func:`hmac.compare_digest` (no early exit), so neither the
comparison nor the position of a key in the table leaks through timing.

>>> key, digest = new_key()
>>> auth = ApiKeyAuth({digest: ["storefront"]})
>>> sorted(auth.scopes_for(key) or [])
['storefront']
>>> auth.scopes_for("wrong") is None
True
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Mapping, Sequence

from pricepilot.errors import ConfigError, Forbidden, Unauthorized

STOREFRONT = "storefront"
ADMIN = "admin"
SCOPES = (STOREFRONT, ADMIN)
KEY_PREFIX = "pp_"
_DIGEST = re.compile(r"^[0-9a-f]{64}$")


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def new_key() -> tuple[str, str]:
    """A fresh random key (shown once) and the digest to store in ``service.api_keys``."""
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    return key, hash_key(key)


def validate_api_keys(api_keys: Mapping[str, Sequence[str]]) -> None:
    for digest, scopes in api_keys.items():
        if not _DIGEST.match(digest):
            raise ConfigError(
                "service.api_keys", f"{digest[:12]!r}... is not a lower-case sha256 hex digest"
            )
        if not scopes:
            raise ConfigError("service.api_keys", f"key {digest[:12]}... has no scope")
        unknown = set(scopes) - set(SCOPES)
        if unknown:
            raise ConfigError(
                "service.api_keys", f"unknown scopes {sorted(unknown)}; known: {list(SCOPES)}"
            )


def presented_key(authorization: str | None, x_api_key: str | None) -> str | None:
    """The key from ``Authorization: Bearer <key>`` or ``X-API-Key: <key>``."""
    if authorization:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
    if x_api_key and x_api_key.strip():
        return x_api_key.strip()
    return None


class ApiKeyAuth:
    def __init__(self, api_keys: Mapping[str, Sequence[str]]) -> None:
        validate_api_keys(api_keys)
        self._keys = [(d.encode("ascii"), frozenset(s)) for d, s in api_keys.items()]

    def scopes_for(self, key: str) -> frozenset[str] | None:
        digest = hash_key(key).encode("ascii")
        found: frozenset[str] | None = None
        for stored, scopes in self._keys:
            if hmac.compare_digest(stored, digest):
                found = scopes
        return found

    def authorize(self, authorization: str | None, x_api_key: str | None, scope: str) -> None:
        """Raise ``Unauthorized`` (no or unknown key) or ``Forbidden`` (key lacks ``scope``)."""
        key = presented_key(authorization, x_api_key)
        if key is None:
            raise Unauthorized("an API key is required (Authorization: Bearer <key> or X-API-Key)")
        scopes = self.scopes_for(key)
        if scopes is None:
            raise Unauthorized("unknown API key")
        if scope not in scopes:
            raise Forbidden(f"this API key lacks the {scope!r} scope")
