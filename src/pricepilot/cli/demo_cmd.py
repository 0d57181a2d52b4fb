"""``pricepilot demo``: the whole loop on the embedded default, in a few minutes.

Simulates a shop's history, ingests it into the embedded SQLite store exactly as a shop's files
would be ingested, and writes an HTML report. Each stage shows progress; the report path is
printed at the end.
"""

from __future__ import annotations

import shutil
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import msgspec
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table


def _progress(console: Console) -> Progress:
    return Progress(TextColumn("[bold]{task.description:<28}"), BarColumn(), TaskProgressColumn(),
                    TimeElapsedColumn(), console=console)


def register(app: typer.Typer) -> None:
    @app.command("demo")
    def demo(
        out: Path = typer.Option(
            None, "--out", help="Demo directory (default: <data_dir>/demo); it is recreated."),
        days: int = typer.Option(90, help="Days of simulated history."),
        shoppers: int = typer.Option(5000, help="Simulated shoppers."),
        products: int = typer.Option(200, help="Simulated products."),
        seed: int = typer.Option(7, help="Simulation seed."),
    ) -> None:
        """Simulate a shop, ingest its history into the embedded store and write a report."""
        from pricepilot.cli.main import state
        from pricepilot.dashboard.report import write_report
        from pricepilot.events.ingest import ingest_event_files, ingest_products, ingest_shoppers
        from pricepilot.sim.config import SimConfig, validate_config
        from pricepilot.sim.history import generate_history
        from pricepilot.store.sql import open_store

        console = Console()
        settings = state.settings()
        # The simulated shop records a protected attribute (gender) so the demo can audit
        # fairness; it is stored audit-only and never reaches a price.
        if "gender" not in settings.compliance.audit_only:
            settings = msgspec.structs.replace(settings, compliance=msgspec.structs.replace(
                settings.compliance, audit_only=[*settings.compliance.audit_only, "gender"]))
        root = out if out is not None else settings.data_dir / "demo"
        if root.exists():
            shutil.rmtree(root)
        root.mkdir(parents=True)
        started = time.perf_counter()

        # The history ends at today's midnight (UTC), so every event is in the past, as a real
        # shop's export would be, and ingestion's future-timestamp check holds.
        today = datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
        cfg = validate_config(SimConfig(seed=seed, days=days, shoppers=shoppers,
                                        products=products, start=today - timedelta(days=days)))
        with _progress(console) as bar:
            t = bar.add_task("simulating history", total=days)
            paths = generate_history(cfg, root / "history", fmt="parquet",
                                     progress=lambda d: bar.update(t, completed=d))

        store = open_store(f"sqlite:///{root / 'pricepilot.sqlite'}")
        store.migrate()
        with _progress(console) as bar:
            import pyarrow.parquet as pq

            rows = pq.ParquetFile(paths["events"]).metadata.num_rows
            t = bar.add_task("ingesting history", total=rows)
            n_products = ingest_products(store, paths["products"])
            n_shoppers = ingest_shoppers(store, paths["shoppers"], settings)
            report = ingest_event_files(store, [paths["events"]], settings,
                                        progress=lambda n: bar.advance(t, n))

        table = Table(title="ingested into the embedded store")
        table.add_column("what")
        table.add_column("count", justify="right")
        for what, n in (("products", n_products), ("shoppers", n_shoppers),
                        ("events read", report.rows_read), ("events stored", report.inserted),
                        ("duplicates removed", report.duplicates),
                        ("price outliers flagged", report.outliers),
                        ("rejected", report.rejected)):
            table.add_row(what, f"{n:,}")
        console.print(table)

        with _progress(console) as bar:
            t = bar.add_task("writing report", total=None)
            events = store.events_frame()
            path = write_report(events, store.list_products(), root / "report",
                                title=f"pricepilot demo: {settings.shop.name}")
            bar.update(t, completed=1, total=1)
        store.close()
        console.print(f"\n[bold green]report:[/] {path.resolve()}")
        console.print(f"store:  {(root / 'pricepilot.sqlite').resolve()}")
        console.print(f"done in {time.perf_counter() - started:.0f} s")
