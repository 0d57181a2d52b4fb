"""Issue #13 point 9: API keys are held hashed in the store and a revocation is refused by a
running server within its refresh interval (``service.sync_seconds``), without a restart, for a
key created in the store and for one listed in the settings file alike."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from starlette.testclient import TestClient
from typer.testing import CliRunner

from pricepilot.clock import SystemClock
from pricepilot.serving.api_keys import ApiKeys, hash_key
from pricepilot.store import open_store

from .engine_support import ADMIN_KEY, engine_client, engine_settings

SYNC = 0.2  # service.sync_seconds of the server under test


def _eventually(check: Callable[[], bool], within: float) -> float:
    start = time.monotonic()
    while not check():
        assert time.monotonic() - start < within, f"not within {within} s"
        time.sleep(0.02)
    return time.monotonic() - start


def _status(client: TestClient, key: str) -> int:
    return client.get("/v1/admin/promotions", headers={"X-API-Key": key}).status_code


def test_point9_a_key_revoked_elsewhere_is_refused_within_the_refresh_interval(
        tmp_path: Path) -> None:
    settings = engine_settings(tmp_path, **{"service.sync_seconds": SYNC})
    url = f"sqlite:///{settings.data_dir / 'pp.db'}"
    with engine_client(settings) as (client, _):
        # another process (the CLI, another replica) creates a key on the same store
        other = open_store(url)
        keys = ApiKeys(other.repositories().api_keys, {}, SystemClock())
        key, info = keys.create(["admin"], label="ops")
        held = other.repositories().api_keys.list()
        assert [r.digest for r in held] == [hash_key(key)] and key not in repr(held)
        _eventually(lambda: _status(client, key) == 200, within=SYNC * 10)
        keys.revoke(info.key_id)
        took = _eventually(lambda: _status(client, key) == 401, within=SYNC * 10)
        assert took <= SYNC * 5
        assert _status(client, ADMIN_KEY) == 200  # the other keys are untouched
        other.close()


def test_point9_a_settings_file_key_is_revoked_with_the_cli_without_a_restart(
        tmp_path: Path) -> None:
    settings = engine_settings(tmp_path, **{"service.sync_seconds": SYNC})
    db = settings.data_dir / "pp.db"
    config = tmp_path / "pricepilot.toml"
    digest = hash_key(ADMIN_KEY)
    config.write_text(f'[store]\nurl = "sqlite:///{db}"\n\n'
                      f'[service.api_keys]\n"{digest}" = ["admin"]\n')
    from pricepilot.cli.main import app as cli

    with engine_client(settings) as (client, _):
        assert _status(client, ADMIN_KEY) == 200
        listed = CliRunner().invoke(cli, ["--config", str(config), "keys", "list"])
        assert listed.exit_code == 0, listed.output
        assert digest[:12] in listed.output and "config" in listed.output
        res = CliRunner().invoke(cli, ["--config", str(config), "keys", "revoke", digest[:12]])
        assert res.exit_code == 0, res.output
        _eventually(lambda: _status(client, ADMIN_KEY) == 401, within=SYNC * 10)
