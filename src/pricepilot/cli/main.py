"""The ``pricepilot`` command.

Each command group lives in its own module under ``pricepilot.cli`` and exposes
``register(app)``; this module only assembles them and maps pricepilot errors to a clean message
and exit code instead of a traceback.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import msgspec
import typer
from rich.console import Console

from pricepilot import __version__
from pricepilot.config import Settings, load_settings
from pricepilot.errors import PricepilotError

# Command modules, each with `register(app)`. Order is the order in --help.
COMMAND_MODULES: list[str] = [
    "pricepilot.cli.config_cmd",
    "pricepilot.cli.serve_cmd",
]

err_console = Console(stderr=True)

app = typer.Typer(
    name="pricepilot",
    help="Real-time personalised pricing and promotions for online shops.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


class State:
    """What the top-level options decide; commands read settings from here."""

    config_path: Path | None = None

    def settings(self) -> Settings:
        return load_settings(self.config_path if self.config_path else "pricepilot.toml")


state = State()


@app.callback()
def _root(
    config: Path = typer.Option(
        None, "--config", "-c", help="Settings file (default: ./pricepilot.toml if present)."
    ),
    version: bool = typer.Option(False, "--version", help="Print the version and exit."),
) -> None:
    if version:
        typer.echo(__version__)
        raise typer.Exit()
    state.config_path = config


for _name in COMMAND_MODULES:
    importlib.import_module(_name).register(app)


def main() -> None:
    try:
        app()
    except PricepilotError as e:
        err_console.print(f"[bold red]error:[/] {e}")
        sys.exit(2)
    except msgspec.DecodeError as e:
        err_console.print(f"[bold red]error:[/] {e}")
        sys.exit(2)


if __name__ == "__main__":
    main()
