"""``pricepilot demo``: the whole loop on the embedded default, in a few minutes.

1. simulate a shop's history and ingest it into the embedded SQLite store, exactly as a shop's
   files would be ingested (pseudonymised ids; the protected attribute stays out of the store,
   in the simulator's audit file, for the fairness audit only);
2. build the point-in-time training set, train, calibrate, register and promote a demand model;
3. price the following simulated weeks with pricepilot, every baseline and both oracles on the
   same shoppers;
4. start the HTTP service on that store and model, and replay simulated shoppers against it
   (quotes and events over HTTP, as a storefront would), showing profit per simulated hour vs
   the list-price baseline live;
5. write one HTML report: the history, profit vs baselines and oracles, the model's calibration
   on held-out days, the fairness audit and the live replay. It is written before step 4 (the
   offline results are kept whatever becomes of the service) and rewritten after it; a failed
   live step is a section of the report and exit code 1. The wait for the service to be ready
   lasts up to ``demo.ready_timeout_s`` (``--ready-timeout``).

By default the history ends at yesterday's midnight and the live replay prices (a part of)
yesterday, so every event the service receives is in the past, as a real storefront's would be.
``--start`` fixes the history's first day instead: with ``--seed`` it fixes every simulated
event (the weekdays, holidays and festivals that fall inside the history shape the data), so a
run does not depend on the day it runs; the start must leave the live window in the past.
"""

from __future__ import annotations

import contextlib
import shutil
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

if TYPE_CHECKING:  # pandas is imported when a command runs, to keep --help fast
    import pandas as pd


def demo_window(start: str | None, days: int, now: datetime, *,
                live: bool = True) -> tuple[datetime, datetime]:
    """The history's first midnight and the midnight after the day the live replay prices.

    ``start`` (ISO date) or, by default, the day that makes the history end yesterday. With
    ``live``, the live replay's window ends at the second midnight, which must not be after
    ``now`` (the running service refuses future events); without it, any day will do.
    """
    from pricepilot.errors import ValidationError

    if start is None:
        today = now.replace(hour=0, minute=0, second=0, microsecond=0)
        return today - timedelta(days=days + 1), today
    try:
        day = date.fromisoformat(start)
    except ValueError as e:
        raise ValidationError("demo", "--start", f"{start!r} is not a date (YYYY-MM-DD)") from e
    first = datetime(day.year, day.month, day.day, tzinfo=timezone.utc)
    end = first + timedelta(days=days + 1)
    if live and end > now:
        raise ValidationError("demo", "--start", f"{start} with {days} days of history ends the "
                              f"live window at {end.date()}, after today ({now.date()})")
    return first, end


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
        live_hours: int = typer.Option(
            12, min=0, max=24, help="Simulated hours replayed live against the service (0: skip)."),
        start: str = typer.Option(
            None, "--start", metavar="YYYY-MM-DD",
            help="First day of the simulated history (UTC). Default: the day that makes the "
                 "history end yesterday."),
        ready_timeout: float = typer.Option(
            None, "--ready-timeout", metavar="SECONDS",
            help="How long the live step waits for the service to be ready "
                 "(default: demo.ready_timeout_s, 300 s)."),
    ) -> None:
        """Simulate a shop, ingest and learn from its history, price the following weeks
        against the baselines and oracles, and write a report."""
        from pricepilot.cli.bench_cmd import shop_table
        from pricepilot.cli.main import state
        from pricepilot.dashboard.report import Section, rendered, write_report
        from pricepilot.errors import ValidationError
        from pricepilot.experiments.live_replay import (
            live_display,
            live_failure_section,
            live_pending_section,
            live_sections,
            replay_live,
            running_service,
        )
        from pricepilot.experiments.shop_report import shop_sections
        from pricepilot.experiments.simulated_shop import evaluate_shop, shop_settings
        from pricepilot.sim.config import SimConfig
        from pricepilot.sim.market import Market
        from pricepilot.store.sql import open_store

        console = Console()
        settings = state.settings()
        if ready_timeout is not None and not ready_timeout > 0:
            raise ValidationError("demo", "--ready-timeout", f"must be positive, got {ready_timeout}")
        wait_s = settings.demo.ready_timeout_s if ready_timeout is None else ready_timeout
        root = out if out is not None else settings.data_dir / "demo"
        if root.exists():
            shutil.rmtree(root)
        root.mkdir(parents=True)
        started = time.perf_counter()
        now = datetime.now(timezone.utc)
        history_start, today = demo_window(start, days, now, live=live_hours > 0)

        with Progress(TextColumn("[bold]{task.description:<34}"), BarColumn(),
                      TaskProgressColumn(), TimeElapsedColumn(), console=console) as bar:
            task = bar.add_task("simulating", total=1.0)
            ev = evaluate_shop(seed, days=7 * weeks, history_days=days, shoppers=shoppers,
                               products=products, holdout_days=min(7, max(1, days // 4)),
                               workdir=root, start=history_start,
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
        promoted = ev.model.get("promotion_note") is None
        console.print(f"demand model {ev.model.get('version', '?')} trained on the history, "
                      + ("promoted in the registry" if promoted else "registered, not promoted")
                      + f" (calibration: {ev.model.get('calibration')})")
        for key in ("calibration_note", "promotion_note"):
            if ev.model.get(key):
                console.print(f"[yellow]warning:[/] {ev.model[key]}")
        if not promoted:
            console.print("pricepilot quotes guarded list prices until a model earns promotion")
        console.print(shop_table(ev))
        headline = demo_headline(ev.table)
        if headline:
            console.print(f"[bold]{headline}[/]", soft_wrap=True)
        console.print(f"fairness gap by gender (price paid, same product and day): "
                      f"{ev.fairness_gap:.2%}")

        history = store.events_frame()
        catalogue = store.list_products()
        store.close()

        # the offline results go into the report before the live step: whatever becomes of the
        # service, they are written; the live step's outcome rewrites it
        offline = rendered(shop_sections(ev))

        def report(live: list[Section]) -> Path:
            with console.status("writing the report"):
                return write_report(history, catalogue, root / "report",
                                    extra_sections=[*offline, *live],
                                    title=f"pricepilot demo: {settings.shop.name}",
                                    headline=headline)

        path = report([live_pending_section(live_hours)] if live_hours else [])
        failure: Exception | None = None
        if live_hours:
            console.print(f"report with the offline results: {path.resolve()}")
            svc_settings = shop_settings(root.resolve())
            cfg = SimConfig(seed=seed, days=days, shoppers=shoppers, products=products,
                            start=history_start)
            console.print(f"\n[bold]live:[/] the service on this store and model, "
                          f"{live_hours} simulated hours of shoppers over HTTP")
            log = root / "service.log"
            try:
                with contextlib.ExitStack() as stack:
                    with console.status(f"starting the service (waiting up to {wait_s:g} s)") as st:
                        svc = stack.enter_context(running_service(
                            svc_settings, log, ready_timeout=wait_s,
                            on_wait=lambda waited, last: st.update(
                                f"starting the service: {waited:.0f} s of at most {wait_s:g} s "
                                f"({last})")))
                    with live_display(ev.currency, live_hours, console) as show:
                        live = replay_live(svc_settings, Market(cfg),
                                           start=today - timedelta(hours=live_hours),
                                           hours=live_hours, base_url=svc.base_url,
                                           api_key=svc.api_key, progress=show)
            except Exception as e:  # noqa: BLE001 - any failure of the live step is reported
                failure = e
                path = report([live_failure_section(e, log)])
            else:
                path = report(live_sections(live))

        if failure is not None:
            console.print(f"\n[bold red]the live step failed:[/] {failure}", soft_wrap=True)
            console.print(f"[bold]report[/] (the offline results, and the failure): {path.resolve()}")
            console.print(f"store:  {(root / 'pricepilot.sqlite').resolve()}")
            raise typer.Exit(1)
        console.print(f"\n[bold green]report:[/] {path.resolve()}")
        console.print(f"store:  {(root / 'pricepilot.sqlite').resolve()}")
        console.print(f"done in {time.perf_counter() - started:.0f} s")


def demo_headline(table: pd.DataFrame) -> str | None:
    """The demo's one line: pricepilot's expected profit against the best baseline (every row
    of the shop table but pricepilot and the oracles), and its guardrail violations.

    >>> import pandas as pd
    >>> t = pd.DataFrame({"expected_profit": [110.0, 100.0, 90.0, 130.0],
    ...                   "guardrail_violations": [0, 0, 0, 0]},
    ...                  index=["pricepilot", "list price", "cost-plus 60%", "period oracle"])
    >>> demo_headline(t)
    'pricepilot vs the best baseline (list price): +10.0% expected profit; guardrail violations: 0'
    """
    if "pricepilot" not in table.index:
        return None
    row = table.loc["pricepilot"]
    best = table.drop(index=[i for i in table.index if i == "pricepilot" or "oracle" in str(i)])
    if best.empty:
        return None
    name = str(best["expected_profit"].idxmax())
    lead = float(row["expected_profit"]) / float(best["expected_profit"].max()) - 1
    return (f"pricepilot vs the best baseline ({name}): {lead:+.1%} expected profit; "
            f"guardrail violations: {int(row['guardrail_violations'])}")
