"""``pricepilot bench``: run benchmarks from the command line with progress bars.

``pricepilot bench pricing`` runs the published benchmarks B1 and B2 (Ferreira, Simchi-Levi &
Wang 2018) with the engine's TS-update machinery and prints % of the LP optimum with 95% CIs
beside the published TS-update figures.
"""

from __future__ import annotations

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn


def _ints(text: str) -> list[int]:
    try:
        out = [int(x) for x in text.split(",") if x.strip()]
    except ValueError as e:
        raise typer.BadParameter(f"expected comma-separated integers, got {text!r}") from e
    if not out or any(h < 1 for h in out):
        raise typer.BadParameter("horizons must be positive integers")
    return out


def register(app: typer.Typer) -> None:
    bench = typer.Typer(help="Run benchmarks.", no_args_is_help=True)

    @bench.command("pricing")
    def pricing(
        seeds: int = typer.Option(200, "--seeds", min=0, help="Seeds (simulated shops) for B1."),
        b2_seeds: int = typer.Option(50, "--b2-seeds", min=0, help="Seeds for B2 (slower: a network LP per shop per period)."),
        horizons: str = typer.Option("500,1000,2000,5000,10000", "--horizons", help="B1 horizons T, comma-separated."),
        b2_horizons: str = typer.Option("500,1000,2000", "--b2-horizons", help="B2 horizons T, comma-separated."),
        seed: int = typer.Option(0, "--seed", help="Base random seed."),
        output: str = typer.Option("", "--output", "-o", help="Also write the Markdown table to this file."),
    ) -> None:
        """Published pricing benchmarks B1 and B2: % of LP optimum, mean and 95% CI over seeds."""
        from pathlib import Path

        from pricepilot.pricing.published import run_published, to_markdown

        b1_h, b2_h = _ints(horizons), _ints(b2_horizons)
        total = (2 * sum(b1_h) if seeds else 0) + (3 * sum(b2_h) if b2_seeds else 0)
        console = Console()
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                      TimeElapsedColumn(), console=console) as bar:
            task = bar.add_task("periods simulated", total=total)

            def progress(label: str, n: int, _total: int) -> None:
                bar.update(task, advance=n, description=label)

            rows = run_published(seeds, b2_seeds, b1_h, b2_h, seed, progress)
            bar.update(task, completed=total, description="done")
        table = to_markdown(rows)
        typer.echo(table)
        if output:
            Path(output).write_text(table + "\n", encoding="utf-8")

    app.add_typer(bench, name="bench")
