"""``pricepilot config``: show the effective settings (secrets masked)."""

from __future__ import annotations

import json

import msgspec
import typer
from rich.console import Console


def register(app: typer.Typer) -> None:
    cfg = typer.Typer(help="Inspect settings.", no_args_is_help=True)

    @cfg.command("show")
    def show() -> None:
        """Print the settings in force (file + environment), with secrets masked."""
        from pricepilot.cli.main import state

        s = msgspec.to_builtins(state.settings())
        s["security"]["pseudonym_key"] = "***"
        s["security"]["quote_keys"] = {k: "***" for k in s["security"]["quote_keys"]}
        Console().print_json(json.dumps(s))

    app.add_typer(cfg, name="config")
