"""``pricepilot serve``: run the HTTP service (API keys: ``pricepilot keys``, keys_cmd.py)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console

if TYPE_CHECKING:
    import threading

    from pricepilot.config import Settings


def register(app: typer.Typer) -> None:
    @app.command("serve")
    def serve(
        host: str = typer.Option(None, help="Address to bind (default: service.host)."),
        port: int = typer.Option(None, help="Port (default: service.port)."),
        workers: int = typer.Option(None, help="Worker processes (default: service.workers)."),
        database: str = typer.Option(None, help="Store URL (sqlite:///... or postgresql://...)."),
        redis: str = typer.Option(None, help="Redis URL for online state; implies online.type redis."),
        server: str = typer.Option(None, help="granian (production) or uvicorn."),
        backend: str = typer.Option(
            None, help="Backend factory 'module:function' (default: the engines' wiring)."
        ),
    ) -> None:
        """Serve the pricepilot HTTP API; "listening on ..." is printed once it answers."""
        import time

        started = time.monotonic()
        from pricepilot.cli.main import state
        from pricepilot.config import load_settings
        from pricepilot.service.asgi import SETTINGS_ENV, TARGET, settings_to_env
        from pricepilot.service.wiring import build_backend

        overrides: dict[str, Any] = {}
        for name, value in (("service.host", host), ("service.port", port),
                            ("service.workers", workers), ("service.server", server),
                            ("service.backend", backend)):
            if value is not None:
                overrides[name] = value
        if database:
            overrides["store.url"] = database
            overrides["store.type"] = "postgresql" if database.startswith("postgresql") else "sqlite"
        if redis:
            overrides["online.type"] = "redis"
            overrides["online.url"] = redis
        path = state.config_path if state.config_path else "pricepilot.toml"
        settings = load_settings(path, overrides=overrides)
        _check_keys(settings)
        # fail here, with a clear message, rather than in every worker; then let go of the store
        # (its writer threads would hold the database the workers are about to open). The
        # workers rebuild the online state from the event log; the probe need not.
        probe = build_backend(settings, warm=False)
        close = getattr(probe, "close", None)
        if close is not None:
            close()
        os.environ[SETTINGS_ENV] = settings_to_env(settings)
        svc = settings.service
        err = Console(stderr=True)
        err.print(f"pricepilot starting on http://{svc.host}:{svc.port} ({svc.server}, "
                  f"{svc.workers} worker(s)): loading the model and the online state")
        # "listening" only once a worker answers: the socket can be bound (granian) before the
        # workers have built their application, and a bound socket is not a served one
        announce_when_listening(svc.host, svc.port, err, started)
        if svc.server == "uvicorn":
            import uvicorn

            uvicorn.run(TARGET, factory=True, host=svc.host, port=svc.port, workers=svc.workers,
                        log_level="warning", access_log=False)
        else:
            import multiprocessing

            from granian import Granian
            from granian.constants import Interfaces

            # Workers start as fresh interpreters, not forks of this process: the probe above
            # loaded the model here, and LightGBM's OpenMP runtime is not fork-safe (a forked
            # worker hung for good loading its booster). Granian follows the start method.
            multiprocessing.set_start_method("spawn", force=True)
            Granian(TARGET, address=svc.host, port=svc.port, interface=Interfaces.ASGI,
                    workers=svc.workers, factory=True).serve()


def announce_when_listening(host: str, port: int, console: Console, started: float, *,
                            timeout: float = 600.0) -> threading.Thread:
    """Print "listening on http://host:port" once ``GET /healthz`` answers there (a worker
    accepts connections and has built its application: model loaded, online state warmed),
    with ``/readyz``'s verdict; polled from a daemon thread while the server starts."""
    import threading
    import time
    import urllib.error
    import urllib.request

    probe_host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)
    netloc = f"[{probe_host}]:{port}" if ":" in probe_host else f"{probe_host}:{port}"
    shown = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

    def status(path: str) -> int | None:
        try:
            with urllib.request.urlopen(f"http://{netloc}{path}", timeout=2) as r:
                return int(r.status)
        except urllib.error.HTTPError as e:
            return int(e.code)
        except (OSError, ValueError):
            return None

    def poll() -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if status("/healthz") == 200:
                ready = status("/readyz")
                note = "ready" if ready == 200 else f"not ready yet: see http://{shown}/readyz"
                console.print(f"pricepilot listening on http://{shown} ({note}, after "
                              f"{time.monotonic() - started:.1f} s); docs at /docs")
                return
            time.sleep(0.1)

    t = threading.Thread(target=poll, name="pricepilot-announce", daemon=True)
    t.start()
    return t


def _check_keys(settings: Settings) -> None:
    """The development keys are public (they are in this source). With the quote key anyone
    could sign a quote at any price: serving beyond this machine with it is refused. With the
    pseudonym key, shopper ids can be guessed back from their pseudonyms: a warning (changing
    it re-keys every shopper, so it must be set before data is ingested)."""
    from pricepilot.cli.dev_keys import warn_pseudonym_key
    from pricepilot.config import DEV_KEY
    from pricepilot.errors import ConfigError

    sec = settings.security
    secret = ("python -c 'import secrets; print(secrets.token_urlsafe(32))' makes a secret")
    local = settings.service.host in ("127.0.0.1", "localhost", "::1")
    if DEV_KEY in sec.quote_keys.values():
        how = (f"set a key of your own, e.g. PRICEPILOT_SECURITY__QUOTE_KEYS='{{ k1 = "
               f"\"<secret>\" }}' ({secret})")
        if not local:
            raise ConfigError("security.quote_keys", "still the public development key: "
                              f"quotes could be forged at any price on "
                              f"{settings.service.host}; {how}")
        Console(stderr=True).print(f"[yellow]warning:[/] security.quote_keys is the public "
                                   f"development key (acceptable on this machine only); {how}")
    warn_pseudonym_key(settings)
