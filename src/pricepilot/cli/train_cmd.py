"""``pricepilot train`` and ``pricepilot models``: learn demand models and manage the registry."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from pricepilot.errors import ValidationError

if TYPE_CHECKING:  # the heavy ML imports wait until a command runs, to keep --help fast
    from pricepilot.demand.registry import ModelManifest

METRIC_ORDER = ("log_loss", "log_loss_constant", "auc", "brier", "ece", "base_rate", "mean_predicted",
                "calibrated")


def _fmt(x: float) -> str:
    return "n/a" if math.isnan(x) else f"{x:.4f}"


def metrics_table(manifest: ModelManifest) -> Table:
    """The manifest's out-of-time metrics and per-category elasticity as one Rich table."""
    t = Table(title=f"{manifest.version}  ({manifest.family}, {manifest.data.rows} rows, time CV)")
    t.add_column("metric")
    t.add_column("value", justify="right")
    for key in METRIC_ORDER:
        if key in manifest.metrics:
            t.add_row(key, _fmt(manifest.metrics[key]))
    for cat, e in sorted(manifest.elasticity.items()):
        t.add_row(f"elasticity {cat}", _fmt(e))
    return t


def print_verdicts(console: Console, manifest: ModelManifest) -> None:
    """Warnings the manifest carries: a calibration that fell back, a refused promotion."""
    if manifest.calibration_note:
        console.print(f"[yellow]warning:[/] {manifest.calibration_note}")
    if not manifest.promotable:
        console.print(f"[yellow]warning:[/] not promotable: {manifest.promotion_note}; "
                      f"'pricepilot models promote {manifest.version}' overrides the rule")


def calibration_table(manifest: ModelManifest) -> Table:
    """Predicted vs actual purchase rate per prediction bin (the calibration plot's data)."""
    t = Table(title="calibration (last time fold)")
    for col in ("bin", "rows", "predicted", "actual"):
        t.add_column(col, justify="right")
    for b in manifest.calibration:
        t.add_row(f"{b.lower:.3f}-{b.upper:.3f}", str(b.rows), f"{b.mean_predicted:.3f}", f"{b.actual_rate:.3f}")
    return t


def register(app: typer.Typer) -> None:
    @app.command("train")
    def train(
        data: Path = typer.Option(
            None, "--data",
            help="Training frame (Parquet). Default: build it from the store's event log."),
        family: str = typer.Option("lgbm", "--family", help="lgbm | logistic | forest"),
        search: bool = typer.Option(False, "--search", help="Search the family's grid by time-CV log loss."),
        folds: int = typer.Option(3, "--folds", help="Number of time-ordered CV folds."),
        promote: bool = typer.Option(False, "--promote", help="Make the new model the current one."),
    ) -> None:
        """Evaluate (time CV), fit and register a demand model; print its metrics."""
        import pandas as pd

        import pricepilot
        from pricepilot.cli.main import state

        settings = state.settings()
        console = Console()
        frame = None
        if data is not None:
            if not data.exists():
                raise ValidationError("training frame", None, f"{data} does not exist")
            try:
                frame = pd.read_parquet(data)
            except Exception as e:  # pyarrow raises several types for a non-Parquet file
                raise ValidationError("training frame", None, f"{data} is not a readable Parquet file: {e}") from e
        # training needs no online state: the shop is opened without replaying the event log
        with pricepilot.open(settings, warm=False) as shop:
            if frame is None:
                from pricepilot.features.training import training_set_from_store

                with console.status("building the point-in-time training set from the store"):
                    frame = training_set_from_store(shop.app.store, settings)
                console.print(f"training set: {len(frame):,} views, purchase rate {frame['y'].mean():.3f}")
            with Progress(TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(),
                          console=console, transient=True) as bar:
                task = bar.add_task("training", total=1.0)

                def report(msg: str, frac: float) -> None:
                    bar.update(task, description=msg, completed=frac)

                manifest = shop.train(frame=frame, family=family, search=search, n_splits=folds,
                                      promote=promote, progress=report)
        console.print(metrics_table(manifest))
        console.print(calibration_table(manifest))
        print_verdicts(console, manifest)
        promoted = promote and manifest.promotable
        console.print(f"registered [bold]{manifest.version}[/]" + (" and promoted it" if promoted else ""))

    models = typer.Typer(help="List, promote and roll back demand models.", no_args_is_help=True)

    @models.command("list")
    def list_models() -> None:
        """Every registered version, the current one marked."""
        from pricepilot.cli.main import state
        from pricepilot.demand.registry import ModelRegistry

        reg = ModelRegistry.from_settings(state.settings())
        current = reg.current_version()
        listed = reg.list()
        t = Table(title=f"demand models in {reg.root}")
        t.add_column("")
        # the version is what `models promote` takes: never cut short, whatever the width
        t.add_column("version", no_wrap=True,
                     min_width=max((len(m.version) for m in listed), default=7))
        for col in ("family", "rows", "log loss", "auc"):  # the version names its creation time
            t.add_column(col, no_wrap=True)
        for m in listed:
            t.add_row("*" if m.version == current else "", m.version, m.family,
                      f"{m.data.rows:,}", _fmt(m.metrics.get("log_loss", math.nan)),
                      _fmt(m.metrics.get("auc", math.nan)))
        Console().print(t)

    @models.command("promote")
    def promote_model(version: str = typer.Argument(..., help="Version to make current.")) -> None:
        """Make VERSION the current model (checked to load first)."""
        from pricepilot.cli.main import state
        from pricepilot.demand.registry import ModelRegistry

        ModelRegistry.from_settings(state.settings()).promote(version)
        Console().print(f"current model: [bold]{version}[/]")

    @models.command("rollback")
    def rollback_model() -> None:
        """Return to the previously promoted model."""
        from pricepilot.cli.main import state
        from pricepilot.demand.registry import ModelRegistry

        version = ModelRegistry.from_settings(state.settings()).rollback()
        Console().print(f"current model: [bold]{version}[/]")

    app.add_typer(models, name="models")
