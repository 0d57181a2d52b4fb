"""``pricepilot sim``: generate a simulated shop's history in the shared file format."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn


def register(app: typer.Typer) -> None:
    sim = typer.Typer(help="Simulated market (ground truth for evaluation).", no_args_is_help=True)

    @sim.command("generate")
    def generate(
        out: Path = typer.Option(..., "--out", help="Directory for events, products and shoppers."),
        days: int = typer.Option(90, help="Days of history."),
        shoppers: int = typer.Option(5000, help="Number of shoppers."),
        products: int = typer.Option(200, help="Number of products."),
        seed: int = typer.Option(7, help="Seed; the same seed writes identical files."),
        fmt: str = typer.Option("parquet", "--format", help="parquet, csv or jsonl."),
    ) -> None:
        """Write a history of views, carts, purchases, competitor prices, inventory and holidays."""
        from pricepilot.sim.config import SimConfig, validate_config
        from pricepilot.sim.history import generate_history

        cfg = validate_config(SimConfig(days=days, shoppers=shoppers, products=products, seed=seed))
        console = Console()
        with Progress(TextColumn("[bold]simulating[/]"), BarColumn(),
                      TextColumn("day {task.completed}/{task.total}"), TimeElapsedColumn(),
                      console=console, transient=False) as bar:
            task = bar.add_task("days", total=days)
            paths = generate_history(cfg, out, fmt=fmt,  # type: ignore[arg-type]
                                     progress=lambda d: bar.update(task, completed=d))
        for kind, path in paths.items():
            console.print(f"{kind:9} {path}  ({path.stat().st_size / 1e6:.1f} MB)")

    app.add_typer(sim, name="sim")
