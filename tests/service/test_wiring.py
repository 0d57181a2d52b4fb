from __future__ import annotations

from pathlib import Path

import pytest

from pricepilot.config import load_settings
from pricepilot.errors import ConfigError
from pricepilot.service.wiring import build_backend, load_factory

from .fake_backend import FakeBackend


def test_a_named_factory_builds_the_backend() -> None:
    s = load_settings(path=None, env={},
                      overrides={"service.backend": "tests.service.fake_backend:build"})
    backend = build_backend(s)
    # Imported by name, so it is tests.service.fake_backend's class, not this package's alias.
    assert type(backend).__name__ == FakeBackend.__name__ and len(backend.products) == 1000


@pytest.mark.parametrize(
    ("spec", "reason"),
    [("no_colon", "form"), ("nowhere.module:f", "cannot import"),
     ("tests.service.fake_backend:missing", "no callable")],
)
def test_a_bad_factory_name_is_a_config_error(spec: str, reason: str) -> None:
    with pytest.raises(ConfigError, match=reason):
        load_factory(spec)


def test_a_factory_returning_something_else_is_refused() -> None:
    s = load_settings(path=None, env={}, overrides={"service.backend": "builtins:str"})
    with pytest.raises(ConfigError, match="not a ServiceBackend"):
        build_backend(s)


def test_without_a_factory_the_engines_backend_is_built(tmp_path: Path) -> None:
    s = load_settings(path=None, env={}, overrides={"paths.data_dir": str(tmp_path)})
    backend = build_backend(s)
    assert type(backend).__name__ == "EngineBackend"
    assert (tmp_path / "pricepilot.sqlite").exists()  # the embedded default store
    backend.close()  # type: ignore[attr-defined]
