"""API keys of the HTTP service: created, listed and revoked in the store, held hashed, and
effective in every process within ``service.sync_seconds`` (no restart).

A key is ``pp_`` + 32 random bytes (URL-safe base64), shown once; only its sha256 hex digest is
kept. Keys listed in ``service.api_keys`` of the settings file are honoured too (read-only here,
listed with source ``config``); revoking one records its revocation in the store, which every
process honours from its next refresh, so no key, wherever it is kept, needs a restart to be
revoked. A key is named by its id, the digest's first 12 hex digits (never the key or the whole
digest).

Each process holds the active keys in memory (the auth reads only that, never the database, on
the request path) and re-reads them with the rest of the shared state on the application's
sync tick (:meth:`ApiKeys.refresh`); a failed refresh keeps the keys last read.

>>> from pricepilot.clock import FixedClock
>>> from datetime import datetime, timezone
>>> from pricepilot.store import open_store
>>> store = open_store("sqlite://"); store.migrate()
>>> keys = ApiKeys(store.repositories().api_keys, {}, FixedClock(datetime(2026, 1, 1, tzinfo=timezone.utc)))
>>> key, info = keys.create(["storefront"], label="web shop")
>>> sorted(keys.scopes_for(key) or []), info.source
(['storefront'], 'store')
>>> keys.revoke(info.key_id).revoked_at is not None, keys.scopes_for(key)
(True, None)
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from collections.abc import Mapping, Sequence
from datetime import datetime

import msgspec

from pricepilot.clock import Clock, from_micros, to_micros
from pricepilot.config import SCOPES, validate_api_keys
from pricepilot.errors import Conflict, NotFound, ValidationError
from pricepilot.store.repositories import ApiKeyRecord, ApiKeyStore

KEY_PREFIX = "pp_"
ID_LENGTH = 12  # hex digits of the digest that name a key


def hash_key(key: str) -> str:
    """The sha256 hex digest under which ``key`` is held."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def new_key() -> tuple[str, str]:
    """A fresh random key (shown once) and its digest."""
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    return key, hash_key(key)


def key_id(digest: str) -> str:
    return digest[:ID_LENGTH]


def checked_scopes(scopes: Sequence[str]) -> list[str]:
    """``scopes`` without repeats, each a known scope (:class:`ValidationError` otherwise)."""
    bad = [s for s in scopes if s not in SCOPES]
    if bad or not scopes:
        raise ValidationError("API key", "scope", f"unknown scopes {bad}; known: {list(SCOPES)}"
                              if bad else f"at least one scope is needed; known: {list(SCOPES)}")
    return list(dict.fromkeys(scopes))


class ApiKeyInfo(msgspec.Struct, frozen=True, kw_only=True):
    """What ``keys list`` shows of a key: never the key, never the whole digest."""

    key_id: str
    scopes: list[str]
    label: str
    source: str  # store | config
    created_at: datetime | None  # None: a key of the settings file, created elsewhere
    revoked_at: datetime | None


Active = tuple[tuple[bytes, frozenset[str]], ...]


class ApiKeys:
    """The use cases on API keys, and the active keys of this process (see the module doc)."""

    def __init__(self, store: ApiKeyStore, config_keys: Mapping[str, Sequence[str]],
                 clock: Clock) -> None:
        validate_api_keys(config_keys)
        self.store = store
        self.config_keys = {d: list(s) for d, s in config_keys.items()}
        self.clock = clock
        self._lock = threading.Lock()
        self._active: Active = ()
        self.refresh()

    # ------------------------------------------------------------------ the use cases
    def create(self, scopes: Sequence[str], label: str = "") -> tuple[str, ApiKeyInfo]:
        """A new key held in the store (returned once, with what ``list`` shows of it)."""
        scopes = checked_scopes(scopes)
        key, digest = new_key()
        rec = ApiKeyRecord(key_id=key_id(digest), digest=digest, scopes=scopes, label=label,
                           source="store", created_at=to_micros(self.clock.now()))
        if not self.store.add(rec):  # 48 bits of a fresh random digest: never in practice
            raise Conflict("API key", rec.key_id, "a key with this id exists; create another")
        self.refresh()
        return key, _info(rec)

    def list(self) -> list[ApiKeyInfo]:
        """Every key: those of the settings file first (as listed there), then the store's."""
        stored = self.store.list()
        held = {r.digest for r in stored}
        config = [ApiKeyInfo(key_id=key_id(d), scopes=s, label="", source="config",
                             created_at=None, revoked_at=None)
                  for d, s in self.config_keys.items() if d not in held]
        return config + [_info(r) for r in stored]

    def revoke(self, kid: str) -> ApiKeyInfo:
        """Revoke the key with id ``kid`` (idempotent); :class:`NotFound` naming it if none."""
        now = to_micros(self.clock.now())
        config = [d for d in self.config_keys if key_id(d) == kid]
        try:
            rec = self.store.revoke(kid, now)
        except NotFound:
            if not config:
                raise
            # a key of the settings file: its revocation is kept in the store
            self.store.add(ApiKeyRecord(key_id=kid, digest=config[0], scopes=self.config_keys[
                config[0]], source="config", created_at=now, revoked_at=now))
            rec = self.store.revoke(kid, now)
        self.refresh()
        return _info(rec)

    # ------------------------------------------------------------------ the active keys
    def refresh(self) -> None:
        """Re-read the store's keys (the application's sync tick calls this)."""
        stored = self.store.list()
        revoked = {r.digest for r in stored if r.revoked_at is not None}
        active = {d: frozenset(s) for d, s in self.config_keys.items() if d not in revoked}
        active.update({r.digest: frozenset(r.scopes) for r in stored
                       if r.revoked_at is None and r.source == "store"})
        with self._lock:
            self._active = tuple((d.encode("ascii"), s) for d, s in active.items())

    def any_keys(self) -> bool:
        return bool(self._active)

    def scopes_for(self, key: str) -> frozenset[str] | None:
        """The scopes of an active ``key``, None for an unknown or revoked one. Every digest is
        compared in constant time, with no early exit (no timing tells which key is close)."""
        return scopes_of(key, self._active)


def scopes_of(key: str, digests: Sequence[tuple[bytes, frozenset[str]]]) -> frozenset[str] | None:
    """The scopes of ``key`` among ``(sha256 hex digest, scopes)`` pairs, None if none matches.
    Every digest is compared in constant time, with no early exit.

    >>> scopes_of("k", [(hash_key("k").encode("ascii"), frozenset({"admin"}))])
    frozenset({'admin'})
    """
    digest = hash_key(key).encode("ascii")
    found: frozenset[str] | None = None
    for stored, scopes in digests:
        if hmac.compare_digest(stored, digest):
            found = scopes
    return found


def _info(r: ApiKeyRecord) -> ApiKeyInfo:
    return ApiKeyInfo(key_id=r.key_id, scopes=list(r.scopes), label=r.label, source=r.source,
                      created_at=from_micros(r.created_at) if r.source == "store" else None,
                      revoked_at=None if r.revoked_at is None else from_micros(r.revoked_at))
