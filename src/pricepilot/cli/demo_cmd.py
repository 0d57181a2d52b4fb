"""``pricepilot demo``: the whole loop on the embedded default, in a few minutes.

1. simulate a shop's history and ingest it into the embedded SQLite store, exactly as a shop's
   files would be ingested (pseudonymised ids, the protected attribute kept audit-only);
2. build the point-in-time training set, train, calibrate, register and promote a demand model;
3. price the following simulated weeks with pricepilot, every baseline and both oracles on the
   same shoppers;
4. write one HTML report: the history, profit vs baselines and oracles, the model's calibration
   on held-out days, and the fairness audit.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table


def register(app: typer.Typer) -> None:
    @app.command("demo")
    def demo(
        out: Path = typer.Option(
            None, "--out", help="Demo directory (default: <data_dir>/demo); it is recreated."),
        days: int = typer.Option(90, help="Days of simulated history to learn from."),
        weeks: int = typer.Option(2, min=1, help="Simulated weeks priced after the history."),
        shoppers: int = typer.Option(5000, help="Simulated shoppers."),
        products: int = typer.Option(200, help="Simulated products."),
        seed: int = typer.Option(7, help="Simulation seed."),
    ) -> None:
        """Simulate a shop, ingest and learn from its history, price the following weeks
        against the baselines and oracles, and write a report."""
        from pricepilot.cli.bench_cmd import shop_table
        from pricepilot.cli.main import state
        from pricepilot.dashboard.report import write_report
        from pricepilot.experiments.shop_report import shop_sections
        from pricepilot.experiments.simulated_shop import evaluate_shop
        from pricepilot.store.sql import open_store

        console = Console()
        settings = state.settings()
        root = out if out is not None else settings.data_dir / "demo"
        if root.exists():
            shutil.rmtree(root)
        root.mkdir(parents=True)
        started = time.perf_counter()

        with Progress(TextColumn("[bold]{task.description:<34}"), BarColumn(),
                      TaskProgressColumn(), TimeElapsedColumn(), console=console) as bar:
            task = bar.add_task("simulating", total=1.0)
            ev = evaluate_shop(seed, days=7 * weeks, history_days=days, shoppers=shoppers,
                               products=products, holdout_days=min(7, max(1, days // 4)),
                               workdir=root,
                               progress=lambda label, frac: bar.update(
                                   task, description=label, completed=frac))
            bar.update(task, description="done", completed=1.0)

        store = open_store(f"sqlite:///{root / 'pricepilot.sqlite'}")
        counts = Table(title="the embedded store")
        counts.add_column("what")
        counts.add_column("count", justify="right")
        counts.add_row("products", f"{len(store.list_products()):,}")
        counts.add_row("shoppers", f"{len(store.shoppers_frame()):,}")
        counts.add_row("events", f"{store.count_events():,}")
        console.print(counts)
        console.print(f"demand model {ev.model.get('version', '?')} trained on the history, "
                      "promoted in the registry")
        console.print(shop_table(ev))
        row = ev.table.loc["pricepilot"] if "pricepilot" in ev.table.index else None
        if row is not None:
            best = ev.table.drop(index=[i for i in ev.table.index
                                        if i == "pricepilot" or "oracle" in str(i)])
            lead = row["expected_profit"] / best["expected_profit"].max() - 1
            console.print(f"pricepilot vs the best baseline: {lead:+.1%} expected profit; "
                          f"guardrail violations: {int(row['guardrail_violations'])}")
        console.print(f"fairness gap by gender (price paid, same product and day): "
                      f"{ev.fairness_gap:.2%}")

        with console.status("writing the report"):
            history = store.events_frame()
            path = write_report(history, store.list_products(), root / "report",
                                extra_sections=shop_sections(ev),
                                title=f"pricepilot demo: {settings.shop.name}")
        store.close()
        console.print(f"\n[bold green]report:[/] {path.resolve()}")
        console.print(f"store:  {(root / 'pricepilot.sqlite').resolve()}")
        console.print(f"done in {time.perf_counter() - started:.0f} s")
