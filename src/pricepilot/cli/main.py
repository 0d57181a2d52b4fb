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

from pricepilot.config import Settings, load_settings
from pricepilot.errors import PricepilotError

# Command modules are discovered: every `pricepilot/cli/*_cmd.py` exposes `register(app)`. All
# are imported for every invocation (--help lists them), so their module tops import only typer
# and rich: heavy libraries are imported inside the command functions (tests/cli/test_cli_speed.py).
# Listed first in --help; the rest follow alphabetically.
_FIRST = ["demo", "sim", "ingest", "train", "price", "cart", "serve"]


def _command_modules() -> list[str]:
    import pkgutil

    import pricepilot.cli as pkg

    names = [m.name[: -len("_cmd")] for m in pkgutil.iter_modules(pkg.__path__)
             if m.name.endswith("_cmd")]
    names.sort(key=lambda n: (_FIRST.index(n) if n in _FIRST else len(_FIRST), n))
    return [f"pricepilot.cli.{n}_cmd" for n in names]


COMMAND_MODULES: list[str] = _command_modules()

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


def _print_version(value: bool) -> None:
    """``--version``: eager, so it answers before Typer asks for a command."""
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            v = version("pricepilot")
        except PackageNotFoundError:  # a source tree that was never installed
            from pricepilot import __version__ as v
        typer.echo(f"pricepilot {v}")
        raise typer.Exit()


@app.callback()
def _root(
    config: Path = typer.Option(
        None, "--config", "-c", help="Settings file (default: ./pricepilot.toml if present)."
    ),
    version: bool = typer.Option(False, "--version", help="Print the version and exit.",
                                 is_eager=True, callback=_print_version),
) -> None:
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
