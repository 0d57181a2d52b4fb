"""Build the :class:`~pricepilot.service.backend.ServiceBackend` the service runs on.

``build_backend(settings)`` is the one place the engines (store, ingestion, online features,
pricing, promotions, model registry, compliance) are assembled behind the service protocol.
``settings.service.backend`` may name another factory as ``"module:factory"`` (a factory takes
the settings and returns a backend), which is how the benchmark and tests plug in a backend.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from pricepilot.config import Settings
from pricepilot.errors import ConfigError
from pricepilot.service.backend import ServiceBackend

BackendFactory = Callable[[Settings], ServiceBackend]


def load_factory(spec: str) -> BackendFactory:
    """The callable named by ``"package.module:function"``."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise ConfigError("service.backend", f"{spec!r} is not of the form 'module:factory'")
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise ConfigError("service.backend", f"cannot import {module_name!r}: {e}") from e
    factory: Any = getattr(module, attr, None)
    if not callable(factory):
        raise ConfigError("service.backend", f"{module_name!r} has no callable {attr!r}")
    return factory  # type: ignore[no-any-return]


def build_backend(settings: Settings, *, warm: bool = True) -> ServiceBackend:
    """The backend for ``settings``: ``service.backend`` if set, else the engines' backend.

    ``warm=False`` (the start-up probe of ``pricepilot serve``, which only checks that a backend
    can be built) skips rebuilding the engines' in-process online state from the event log,
    which the workers do themselves; a factory named by ``service.backend`` is called as is."""
    if settings.service.backend:
        backend = load_factory(settings.service.backend)(settings)
    else:
        backend = build_engine_backend(settings, warm=warm)
    if not isinstance(backend, ServiceBackend):
        raise ConfigError("service.backend", f"{type(backend).__name__} is not a ServiceBackend")
    return backend


def build_engine_backend(settings: Settings, *, warm: bool = True) -> ServiceBackend:
    """The real backend over the engines (:class:`pricepilot.service.engine_backend.EngineBackend`):
    the store of ``settings`` (SQLite by default, migrated on start), online features in process or
    on Redis, the model registry under ``settings.models_dir``."""
    from pricepilot.service.engine_backend import build_engine_backend as build

    return build(settings, warm=warm)
