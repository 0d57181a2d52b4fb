"""``pricepilot keys``: create, list and revoke the HTTP service's API keys.

Keys are held hashed in the store (``keys create``), or, with ``keys create --write``, in
``[service.api_keys]`` of the settings file. A revocation (``keys revoke ID``) is kept in the
store and refused by every running server within ``service.sync_seconds``, with no restart,
wherever the key is kept. Heavy modules are imported inside the commands (``pricepilot --help``
imports this module).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from pricepilot.serving.api_keys import ApiKeyInfo, ApiKeys
    from pricepilot.store.base import Store


def _open() -> tuple[Store, ApiKeys]:
    from pricepilot.cli.main import state
    from pricepilot.clock import SystemClock
    from pricepilot.serving.api_keys import ApiKeys
    from pricepilot.store import open_store

    settings = state.settings()
    store = open_store(settings)
    store.migrate()
    return store, ApiKeys(store.repositories().api_keys, settings.service.api_keys, SystemClock())


def _when(info: ApiKeyInfo, revoked: bool = False) -> str:
    ts = info.revoked_at if revoked else info.created_at
    return ts.strftime("%Y-%m-%d %H:%M:%S UTC") if ts is not None else "-"


def register(app: typer.Typer) -> None:
    keys = typer.Typer(help="API keys for the HTTP service: create, list, revoke.",
                       no_args_is_help=True)

    @keys.command("create")
    def create(
        scope: list[str] = typer.Option(
            ..., "--scope", help="storefront (events, quotes, carts, orders) or admin; repeatable."
        ),
        label: str = typer.Option("", help="What the key is for (shown by `keys list`)."),
        write: bool = typer.Option(
            False, "--write",
            help="Keep the key in [service.api_keys] of the settings file (--config, default "
                 "./pricepilot.toml) instead of the store; servers read it at their next start.",
        ),
    ) -> None:
        """Create a key and print it once (only its sha256 digest is kept)."""
        from pricepilot.serving.api_keys import checked_scopes, key_id, new_key

        scopes = checked_scopes(scope)  # before anything is opened or written
        if write:
            from pricepilot.cli.main import state
            from pricepilot.cli.settings_file import add_api_key

            path = Path(state.config_path or "pricepilot.toml")
            key, digest = new_key()
            add_api_key(path, digest, scopes)
            typer.echo(f"key (shown once, store it now): {key}")
            typer.echo(f"id {key_id(digest)}, scopes {', '.join(scopes)}: added to "
                       f"[service.api_keys] of {path} (servers started from now on accept it)")
            return
        store, api_keys = _open()
        try:
            key, info = api_keys.create(scopes, label=label)
        finally:
            store.close()
        typer.echo(f"key (shown once, store it now): {key}")
        typer.echo(f"id {info.key_id}, scopes {', '.join(info.scopes)}: held in the store "
                   "(running servers accept it within service.sync_seconds)")

    @keys.command("list")
    def list_keys() -> None:
        """Every key: id, scopes, label, created, revoked, source (never the key or digest)."""
        from rich.console import Console
        from rich.table import Table

        store, api_keys = _open()
        try:
            infos = api_keys.list()
        finally:
            store.close()
        t = Table(show_header=True)
        for col in ("id", "scopes", "label", "created", "revoked", "source"):
            t.add_column(col)
        for i in infos:
            t.add_row(i.key_id, ", ".join(i.scopes), i.label, _when(i), _when(i, revoked=True),
                      i.source)
        Console(width=120).print(t)

    @keys.command("revoke")
    def revoke(key_id: str = typer.Argument(..., help="The key's id, as `keys list` shows it.")
               ) -> None:
        """Revoke a key: running servers refuse it within service.sync_seconds, no restart."""
        store, api_keys = _open()
        try:
            info = api_keys.revoke(key_id)
        finally:
            store.close()
        typer.echo(f"revoked {info.key_id} ({info.source} key) at {_when(info, revoked=True)}")

    app.add_typer(keys, name="keys")
