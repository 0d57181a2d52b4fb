from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pricepilot.cli.main import app
from pricepilot.errors import ConfigError
from pricepilot.service.auth import ApiKeyAuth

runner = CliRunner()


def test_keys_create_prints_a_key_once_and_writes_its_settings_line(tmp_path: Path) -> None:
    config = tmp_path / "pricepilot.toml"  # `keys create` alone keeps it in the store instead
    r = runner.invoke(app, ["--config", str(config), "keys", "create", "--write",
                            "--scope", "storefront", "--scope", "admin"])
    assert r.exit_code == 0, r.output
    key = re.search(r"shown once, store it now\): (\S+)", r.output).group(1)  # type: ignore[union-attr]
    line = re.search(r'"([0-9a-f]{64})" = \[(.*)\]', config.read_text())
    assert line is not None and key not in line.group(0)
    assert line.group(2) == '"storefront", "admin"'
    auth = ApiKeyAuth({line.group(1): ["storefront", "admin"]})
    assert auth.scopes_for(key) == frozenset({"storefront", "admin"})


def test_keys_create_refuses_an_unknown_scope() -> None:
    r = runner.invoke(app, ["keys", "create", "--scope", "root"])
    assert r.exit_code != 0


def test_serve_stops_before_starting_a_server_when_the_backend_cannot_be_built() -> None:
    r = runner.invoke(app, ["serve", "--port", "1", "--server", "uvicorn",
                            "--backend", "nowhere.module:build"])
    assert isinstance(r.exception, ConfigError) and "cannot import" in str(r.exception)


def test_serve_passes_its_options_to_the_server_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    import json
    import os

    import uvicorn

    from pricepilot.service.asgi import SETTINGS_ENV, TARGET, app_from_env

    calls: list[tuple[str, dict[str, object]]] = []
    monkeypatch.setattr(uvicorn, "run", lambda target, **kw: calls.append((target, kw)))
    monkeypatch.setenv(SETTINGS_ENV, "")
    r = runner.invoke(app, [
        "serve", "--server", "uvicorn", "--port", "8765", "--workers", "2",
        "--database", "postgresql+psycopg://db.example/x", "--redis", "redis://r.example:6379/1",
        "--backend", "tests.service.fake_backend:build",
    ])
    assert r.exit_code == 0, r.output
    assert calls == [(TARGET, {"factory": True, "host": "127.0.0.1", "port": 8765, "workers": 2,
                               "log_level": "warning", "access_log": False})]
    passed = json.loads(os.environ[SETTINGS_ENV])
    assert passed["store"] == {"type": "postgresql", "url": "postgresql+psycopg://db.example/x"}
    assert passed["online"]["type"] == "redis" and passed["online"]["url"].startswith("redis://r")
    import gc

    thresholds = gc.get_threshold()
    try:
        assert app_from_env().state.pricepilot.settings.service.port == 8765
        assert gc.get_freeze_count() > 0  # start-up objects are out of the collector's full passes
        assert gc.get_threshold() == (5_000, 20, 100)
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)


def test_serve_refuses_the_public_quote_key_beyond_this_machine(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import uvicorn

    from pricepilot.service.asgi import SETTINGS_ENV

    calls: list[object] = []
    monkeypatch.setattr(uvicorn, "run", lambda target, **kw: calls.append(target))
    monkeypatch.setenv(SETTINGS_ENV, "")  # serve sets it for its workers; restored after
    args = ["serve", "--server", "uvicorn", "--backend", "tests.service.fake_backend:build"]
    r = runner.invoke(app, [*args, "--host", "0.0.0.0"])
    assert isinstance(r.exception, ConfigError) and r.exception.setting == "security.quote_keys"
    assert "forged" in str(r.exception) and calls == []
    # on this machine only: served, with a warning for each public key
    r = runner.invoke(app, [*args, "--host", "127.0.0.1"])
    assert r.exit_code == 0, r.output
    assert "quote_keys is the public development key" in r.output
    assert "pseudonym_key is the public development key" in r.output
    # keys of the shop's own: served anywhere, no warning
    monkeypatch.setenv("PRICEPILOT_SECURITY__QUOTE_KEYS", '{ k1 = "shop-own-quote-key-0123456789" }')
    monkeypatch.setenv("PRICEPILOT_SECURITY__PSEUDONYM_KEY", "shop-own-pseudonym-key-0123")
    r = runner.invoke(app, [*args, "--host", "0.0.0.0"])
    assert r.exit_code == 0, r.output
    assert "warning" not in r.output and len(calls) == 2
