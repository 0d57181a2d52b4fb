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
    tune_gc_for_serving()
    return app


def tune_gc_for_serving() -> None:
    """The cyclic garbage collector, set for a long-running worker (docs/benchmarks/serve.md).

    What start-up built (modules, the model, the catalogue: ~200,000 objects) never becomes
    garbage, and each full pass over it paused every request for ~100 ms: it is frozen out of
    the collector's view (``gc.freeze``). A request allocates a few hundred containers that die
    young; collecting the youngest generation every 5,000 allocations instead of 700, and a full
    pass after 100 middle-generation passes instead of 10, made full passes (~10-15 ms each over
    what serving keeps: caches, pending outcomes) rare instead of every few seconds."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(5_000, 20, 100)
