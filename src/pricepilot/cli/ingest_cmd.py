"""``pricepilot ingest ...`` and ``pricepilot db upgrade``: load data into the store.

    pricepilot db upgrade
    pricepilot ingest products products.csv
    pricepilot ingest shoppers shoppers.csv
    pricepilot ingest events day1.parquet day2.csv --on-error skip --rejects rejects.csv
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

if TYPE_CHECKING:  # the store (and pandas, via ingest) is imported only when a command runs
    from pricepilot.config import Settings
    from pricepilot.events.ingest import IngestReport
    from pricepilot.store import SqlStore


def _store() -> tuple[Settings, SqlStore]:
    """The settings and the store; before the first ingestion into an empty store, the warning
    about the development pseudonym key (a store without schema says to run ``db upgrade``)."""
    from pricepilot.cli.dev_keys import warn_pseudonym_key_before_first_ingest
    from pricepilot.cli.main import state
    from pricepilot.store import open_store

    settings = state.settings()
    store = open_store(settings)
    try:
        warn_pseudonym_key_before_first_ingest(settings, store)
    except BaseException:
        store.close()
        raise
    return settings, store


def summary_table(report: IngestReport) -> Table:
    t = Table(title="ingested events", show_header=True)
    t.add_column("", style="bold")
    t.add_column("rows", justify="right")
    for name, value in [
        ("read", report.rows_read), ("inserted", report.inserted),
        ("duplicates in input", report.duplicates), ("already stored", report.already_present),
        ("rejected", report.rejected), ("dropped (missing values)", report.dropped_missing),
        ("price outliers (kept)", report.outliers),
    ]:
        t.add_row(name, f"{value:,}")
    t.add_row("seconds", f"{report.seconds:.2f}")
    t.add_row("events/s", f"{report.events_per_second:,.0f}")
    return t


def register(app: typer.Typer) -> None:
    db = typer.Typer(help="Database schema.", no_args_is_help=True)
    ingest = typer.Typer(help="Load events, products and shoppers into the store.",
                         no_args_is_help=True)

    @db.command("upgrade")
    def upgrade() -> None:
        """Create or upgrade the schema to the newest revision (idempotent)."""
        from pricepilot.cli.main import state
        from pricepilot.store import open_store

        store = open_store(state.settings())
        store.migrate()
        Console().print(f"database [bold]{store.url}[/] is up to date")
        store.close()

    @ingest.command("events")
    def events(
        files: list[Path] = typer.Argument(..., help="CSV, JSON-lines or Parquet event files."),
        on_error: Optional[str] = typer.Option(
            None, "--on-error", help="fail (write nothing if any row is bad) or skip "
            "(write good rows, bad ones to --rejects); default: ingest.on_error"),
        rejects: Optional[Path] = typer.Option(
            None, "--rejects", help="Where rejected rows go (.csv or .jsonl)."),
    ) -> None:
        """Validate, clean and store events; idempotent by event_id."""
        from pricepilot.events.ingest import IngestError, ingest_event_files
        from pricepilot.events.readers import EventFileReader

        if on_error not in (None, "fail", "skip"):
            raise typer.BadParameter("must be 'fail' or 'skip'", param_hint="--on-error")
        settings, store = _store()
        console = Console()
        total = sum(EventFileReader(f).estimated_rows() for f in files)
        try:
            with Progress(TextColumn("[bold]ingest"), BarColumn(), MofNCompleteColumn(),
                          TimeElapsedColumn(), console=console, transient=True) as bar:
                task = bar.add_task("events", total=total or None)
                report = ingest_event_files(
                    store, files, settings, on_error=on_error,  # type: ignore[arg-type]
                    rejects_path=rejects, progress=lambda n: bar.advance(task, n),
                )
        except IngestError as e:
            console.print(f"[bold red]refused:[/] {e}")
            for r in e.rejects[:10]:
                console.print(f"  {r.message()}")
            raise typer.Exit(2) from None
        finally:
            store.close()
        console.print(summary_table(report))
        if report.outlier_examples:
            t = Table(title="price outliers (flagged, still stored)")
            for c in ("where", "event", "product", "type", "price", "median", "fences"):
                t.add_column(c)
            for o in report.outlier_examples:
                t.add_row(f"{o.source}:{o.line}", o.event_id, o.product_id, o.type, o.price,
                          o.median, f"{o.fences[0]} – {o.fences[1]}")
            console.print(t)
        if report.rejects_path:
            console.print(f"rejected rows written to [bold]{report.rejects_path}[/]")
        elif rejects is not None:
            console.print(f"no rejected rows; [bold]{rejects}[/] holds the header only")
        if report.ignored_columns:
            console.print(f"ignored unknown columns: {', '.join(report.ignored_columns)}")

    @ingest.command("products")
    def products(file: Path = typer.Argument(..., help="Products file (CSV or JSON lines).")) -> None:
        """Load or replace the catalogue: every row is written, or none."""
        from pricepilot.events.ingest import ingest_products

        settings, store = _store()
        try:
            n = ingest_products(store, file)
        finally:
            store.close()
        Console().print(f"{n:,} products written")

    @ingest.command("shoppers")
    def shoppers(file: Path = typer.Argument(..., help="Shoppers file (CSV or JSON lines).")) -> None:
        """Load shoppers; customer ids are pseudonymised, protected attributes refused."""
        from pricepilot.events.ingest import ingest_shoppers

        settings, store = _store()
        try:
            n = ingest_shoppers(store, file, settings)
        finally:
            store.close()
        Console().print(f"{n:,} shoppers written")

    app.add_typer(db, name="db")
    app.add_typer(ingest, name="ingest")
