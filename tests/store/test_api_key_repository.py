"""Issue #13 points 9/14: the API-key repository (``Store.repositories().api_keys``) on every
Store backend, SQLite and PostgreSQL (the ``store`` fixture of tests/store/conftest.py)."""

from __future__ import annotations

import pytest

from pricepilot.errors import NotFound
from pricepilot.store.repositories import ApiKeyRecord
from pricepilot.store.sql import SqlStore


def rec(n: int, **kw: object) -> ApiKeyRecord:
    digest = f"{n:x}" * 64
    base: dict[str, object] = dict(key_id=digest[:12], digest=digest[:64], scopes=["admin"],
                                   label=f"key {n}", source="store", created_at=10 * n)
    base.update(kw)
    return ApiKeyRecord(**base)  # type: ignore[arg-type]


def test_point9_keys_are_added_once_and_listed_oldest_first(store: SqlStore) -> None:
    keys = store.repositories().api_keys
    assert keys.add(rec(2)) and keys.add(rec(1, scopes=["storefront", "admin"]))
    assert not keys.add(rec(2, label="again"))  # the id is taken: nothing written
    assert not keys.add(rec(3, digest=rec(1).digest))  # so is the digest
    assert keys.list() == [rec(1, scopes=["storefront", "admin"]), rec(2)]


def test_point9_a_revoked_key_keeps_its_first_revocation_time(store: SqlStore) -> None:
    keys = store.repositories().api_keys
    keys.add(rec(1))
    assert keys.revoke(rec(1).key_id, 500).revoked_at == 500
    assert keys.revoke(rec(1).key_id, 900).revoked_at == 500
    assert keys.list() == [rec(1, revoked_at=500)]
    with pytest.raises(NotFound, match="API key 'nope'"):
        keys.revoke("nope", 1)
