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
import secrets
from collections.abc import Mapping, Sequence

from pricepilot.config import validate_api_keys
from pricepilot.errors import Forbidden, Unauthorized

KEY_PREFIX = "pp_"


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def new_key() -> tuple[str, str]:
    """A fresh random key (shown once) and the digest to store in ``service.api_keys``."""
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    return key, hash_key(key)


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
