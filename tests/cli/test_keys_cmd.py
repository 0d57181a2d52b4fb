"""Issue #13 points 9 and 14: ``pricepilot keys create / list / revoke``, and ``keys create
--write`` merging the digest into the settings file safely (never a second table)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pricepilot.cli.main import app
from pricepilot.config import load_settings
from pricepilot.serving.api_keys import hash_key

runner = CliRunner()


def _config(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "pricepilot.toml"
    path.write_text(f'# the shop\'s settings\n[paths]\ndata_dir = "{tmp_path / "data"}"\n{extra}')
    return path


def _run(config: Path, *args: str) -> str:
    res = runner.invoke(app, ["--config", str(config), "keys", *args])
    assert res.exit_code == 0, res.output
    return res.output


def _key(output: str) -> str:
    m = re.search(r"shown once, store it now\): (pp_\S+)", output)
    assert m, output
    return m.group(1)


def test_point9_keys_are_created_listed_and_revoked_in_the_store(tmp_path: Path) -> None:
    config = _config(tmp_path)
    key = _key(_run(config, "create", "--scope", "storefront", "--label", "web shop"))
    digest = hash_key(key)
    listed = _run(config, "list")
    assert digest[:12] in listed and "web shop" in listed and "storefront" in listed
    assert key not in listed and digest not in listed  # never the key or the whole digest
    assert digest not in config.read_text()  # held in the store, not the settings file
    out = _run(config, "revoke", digest[:12])
    assert f"revoked {digest[:12]}" in out
    row = next(line for line in _run(config, "list").splitlines() if digest[:12] in line)
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC.*\d{4}-\d\d-\d\d", row), row
    res = runner.invoke(app, ["--config", str(config), "keys", "revoke", "feedfeedfeed"])
    assert res.exit_code != 0 and "feedfeedfeed" in str(res.exception or res.output)


def test_point9_an_unknown_scope_is_refused(tmp_path: Path) -> None:
    res = runner.invoke(app, ["--config", str(_config(tmp_path)), "keys", "create",
                              "--scope", "root"])
    assert res.exit_code != 0 and "root" in str(res.exception or res.output)


def test_point14_two_keys_written_give_one_table_and_keep_the_rest(tmp_path: Path) -> None:
    config = _config(tmp_path, '\n[service]\nport = 8100  # behind the proxy\n')
    first = _key(_run(config, "create", "--write", "--scope", "admin"))
    second = _key(_run(config, "create", "--write", "--scope", "storefront", "--scope",
                       "admin"))
    text = config.read_text()
    assert text.count("[service.api_keys]") == 1
    assert "# the shop's settings" in text and "# behind the proxy" in text
    s = load_settings(config, env={})  # the file still loads, with both keys and the rest
    assert s.service.api_keys == {hash_key(first): ["admin"],
                                  hash_key(second): ["storefront", "admin"]}
    assert s.service.port == 8100 and s.paths.data_dir == str(tmp_path / "data")
    assert first not in text and second not in text  # only digests are written


def test_point14_write_adds_under_an_existing_table(tmp_path: Path) -> None:
    old = "a" * 64
    config = _config(tmp_path, f'\n[service.api_keys]\n"{old}" = ["admin"]\n\n[shop]\n'
                               'name = "corner shop"\n')
    new = _key(_run(config, "create", "--write", "--scope", "storefront"))
    data = tomllib.loads(config.read_text())
    assert data["service"]["api_keys"] == {old: ["admin"], hash_key(new): ["storefront"]}
    assert data["shop"] == {"name": "corner shop"}


@pytest.mark.parametrize("inline", ['[service]\napi_keys = {}\n',
                                    f'service.api_keys = {{"{"b" * 64}" = ["admin"]}}\n'])
def test_point14_write_refuses_what_it_cannot_edit_safely_and_changes_nothing(
        tmp_path: Path, inline: str) -> None:
    config = tmp_path / "pricepilot.toml"
    config.write_text(f'{inline}\n[paths]\ndata_dir = "{tmp_path / "data"}"\n')
    before = config.read_bytes()
    res = runner.invoke(app, ["--config", str(config), "keys", "create", "--write",
                              "--scope", "admin"])
    assert res.exit_code != 0
    assert "by hand" in str(res.exception or res.output)
    assert config.read_bytes() == before
