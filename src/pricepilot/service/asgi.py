"""Server entry point: an app factory that server worker processes import by name.

Granian and uvicorn start workers in fresh processes, so the parent passes the settings it built
(file + environment + command-line options) as JSON in ``PP_SERVE_SETTINGS_JSON``; each worker
rebuilds the same typed settings and backend from it.
"""

from __future__ import annotations

import gc
import json
import os

import msgspec
from starlette.applications import Starlette

from pricepilot.config import Settings, settings_from_dict
from pricepilot.errors import ConfigError

# Deliberately outside the PRICEPILOT_ prefix, which load_settings reads as settings.
SETTINGS_ENV = "PP_SERVE_SETTINGS_JSON"
TARGET = "pricepilot.service.asgi:app_from_env"


def settings_to_env(settings: Settings) -> str:
    return msgspec.json.encode(settings).decode()


def app_from_env() -> Starlette:
    from pricepilot.service.app import create_app
    from pricepilot.service.wiring import build_backend

    raw = os.environ.get(SETTINGS_ENV)
    if not raw:
        raise ConfigError(SETTINGS_ENV, "not set; start the service with `pricepilot serve`")
    settings = settings_from_dict(json.loads(raw))
    app = create_app(settings, build_backend(settings))
    freeze_startup_heap()
    return app


def freeze_startup_heap() -> None:
    """Take what start-up built (modules, the model, the catalogue: ~200,000 objects) out of the
    cyclic garbage collector's full passes (``gc.freeze``): nothing of it becomes garbage while
    the worker serves, and each full pass over it paused every request for ~100 ms; after the
    freeze a full pass scans only what serving allocated (~15 ms; docs/benchmarks/serve.md)."""
    gc.collect()
    gc.freeze()
