"""API keys with scopes, held hashed, compared in constant time.

Only ``sha256(key).hexdigest() -> scopes`` is held: the settings' ``service.api_keys`` and the
store's keys (:mod:`pricepilot.serving.api_keys`, created, listed and revoked with
``pricepilot keys``). A presented key is hashed and compared against every held digest with
:func:`hmac.compare_digest` (no early exit), so neither the comparison nor the position of a key
in the table leaks through timing. With ``live`` keys (the application's, re-read from the
store every ``service.sync_seconds``), a key created or revoked by any process is honoured or
refused here within that bound, with no restart.

>>> key, digest = new_key()
>>> auth = ApiKeyAuth({digest: ["storefront"]})
>>> sorted(auth.scopes_for(key) or [])
['storefront']
>>> auth.scopes_for("wrong") is None
True
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from pricepilot.config import validate_api_keys
from pricepilot.errors import Forbidden, Unauthorized
from pricepilot.serving.api_keys import KEY_PREFIX, hash_key, new_key, scopes_of

__all__ = ["KEY_PREFIX", "ApiKeyAuth", "LiveKeys", "hash_key", "new_key", "presented_key"]


class LiveKeys(Protocol):
    """The active keys of this process, kept current from the store."""

    def scopes_for(self, key: str) -> frozenset[str] | None: ...
    def any_keys(self) -> bool: ...


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
    """``api_keys`` of the settings, or, with ``live``, the application's active keys (which
    include the settings' keys not revoked)."""

    def __init__(self, api_keys: Mapping[str, Sequence[str]],
                 live: LiveKeys | None = None) -> None:
        validate_api_keys(api_keys)
        self._keys = [(d.encode("ascii"), frozenset(s)) for d, s in api_keys.items()]
        self._live = live

    def any_keys(self) -> bool:
        return self._live.any_keys() if self._live is not None else bool(self._keys)

    def scopes_for(self, key: str) -> frozenset[str] | None:
        if self._live is not None:
            return self._live.scopes_for(key)
        return scopes_of(key, self._keys)

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
