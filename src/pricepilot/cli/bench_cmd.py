"""``pricepilot bench``: run benchmarks from the command line with progress bars.

``pricepilot bench pricing`` runs the published benchmarks B1 and B2 (Ferreira, Simchi-Levi &
Wang 2018) twice: with the reference TS-update reimplementation (:mod:`pricepilot.pricing.published`)
and through the engine a shop gets (``pricepilot.open``,
:mod:`pricepilot.experiments.published_engine`); it prints % of the LP optimum with 95% CIs of
both beside the published TS-update figures, each in labelled columns.

``pricepilot bench shop`` runs the simulated shop end to end (history → ingestion → training →
28 days priced by pricepilot, every baseline and both oracles on the same views) for several
seeds, prints a table per seed and writes an HTML report.

``pricepilot bench robustness`` runs pricepilot at default settings on named market variants
(demand shapes, stocked seasonal products, competitor behaviour, ladders, history, shoppers; see
:mod:`pricepilot.sim.variants`), each with several seeds, against every baseline (incl.
TS-update with the inventory LP) and both oracles; prints a variant x policy table and the
summary, and writes CSV, JSON and a PNG plot to the output directory.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

if TYPE_CHECKING:  # the evaluation pulls in the ML stack; import it only when a command runs
    from pricepilot.experiments.robustness import CellResult
    from pricepilot.experiments.simulated_shop import ShopEvaluation


def _ints(text: str) -> list[int]:
    try:
        out = [int(x) for x in text.split(",") if x.strip()]
    except ValueError as e:
        raise typer.BadParameter(f"expected comma-separated integers, got {text!r}") from e
    if not out or any(h < 1 for h in out):
        raise typer.BadParameter("horizons must be positive integers")
    return out


def _settings(pairs: list[str]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise typer.BadParameter(f"expected NAME=VALUE (e.g. pricing.exploration=false), got {pair!r}")
        out[name.strip()] = value.strip()
    return out


def shop_table(ev: ShopEvaluation) -> Table:
    """One simulated shop's policies side by side: profit, conversion, shares of the oracles."""
    from pricepilot.money import exponent

    scale = 10 ** exponent(ev.currency)
    t = Table(title=f"seed {ev.seed}: {ev.days} days, {int(ev.table['views'].iloc[0]):,} views")
    for c in ("policy", "orders", "conversion", f"profit {ev.currency}",
              f"expected profit {ev.currency}", "% period oracle", "% personalised oracle",
              "violations"):
        t.add_column(c, justify="left" if c == "policy" else "right")
    for name, r in zip(ev.table.index, ev.table.itertuples(index=False)):
        t.add_row(str(name), f"{r.orders:,}", f"{r.conversion:.2%}",
                  f"{r.profit / scale:,.0f}", f"{r.expected_profit / scale:,.0f}",
                  f"{r.pct_period_oracle:.1%}", f"{r.pct_personalised_oracle:.1%}",
                  str(r.guardrail_violations))
    return t


def robustness_table(cells: list[CellResult]) -> Table:
    """Variant x policy: mean % of the period oracle over seeds, and pricepilot's rank."""
    from pricepilot.experiments.robustness_report import policies_frame, variant_policy_table

    vp = variant_policy_table(cells)
    pf = policies_frame(cells)
    rank = pf[pf["policy"] == "pricepilot"].groupby("variant")["rank"].mean()
    t = Table(title="% of the period oracle (expected profit, mean over seeds)")
    for c in ("variant", *vp.columns, "pricepilot rank"):
        t.add_column(str(c), justify="left" if c == "variant" else "right")
    for v, r in vp.iterrows():
        best = max(x for c, x in r.items() if c != "personalised oracle")
        t.add_row(str(v), *[(f"[bold]{100 * x:.1f}[/bold]" if x == best else f"{100 * x:.1f}")
                            for x in r.to_numpy()], f"{rank[v]:.1f}")
    return t


def register(app: typer.Typer) -> None:
    bench = typer.Typer(help="Run benchmarks.", no_args_is_help=True)

    @bench.command("pricing")
    def pricing(
        seeds: int = typer.Option(200, "--seeds", min=0, help="Seeds (simulated shops) for B1."),
        b2_seeds: int = typer.Option(50, "--b2-seeds", min=0, help="Seeds for B2 (slower: a network LP per shop per period)."),
        horizons: str = typer.Option("500,1000,2000,5000,10000", "--horizons", help="B1 horizons T, comma-separated."),
        b2_horizons: str = typer.Option("500,1000,2000", "--b2-horizons", help="B2 horizons T, comma-separated."),
        seed: int = typer.Option(0, "--seed", help="Base random seed."),
        engine_seeds: int = typer.Option(10, "--engine-seeds", min=0, help="Shops run through the engine (pricepilot.open) for B1; 0: none."),
        engine_b2_seeds: int = typer.Option(3, "--engine-b2-seeds", min=0, help="Shops run through the engine for B2 (10 shoppers per period)."),
        engine_horizons: str = typer.Option("", "--engine-horizons", help="B1 horizons for the engine (default: the B1 horizons from 500 to 1,000; every period is a real quote and event write)."),
        engine_b2_horizons: str = typer.Option("", "--engine-b2-horizons", help="B2 horizons for the engine (default: T = 500 if among the B2 horizons)."),
        engine_set: list[str] = typer.Option([], "--engine-set", help="A setting for the engine run, NAME=VALUE (e.g. pricing.max_change_per_day=1); repeatable. Default: none, the shop defaults."),
        output: str = typer.Option("", "--output", "-o", help="Also write the Markdown table to this file."),
    ) -> None:
        """Published pricing benchmarks B1 and B2: % of LP optimum, mean and 95% CI over seeds,
        for the reference TS-update and for the engine a shop gets, beside the published figures."""
        from pathlib import Path

        from pricepilot.errors import ConfigError
        from pricepilot.experiments.published_engine import (
            B2_SHOPPERS,
            default_engine_horizons,
            engine_settings,
            notes,
            run_engine,
            side_by_side,
        )
        from pricepilot.pricing.published import run_published

        b1_h, b2_h = _ints(horizons), _ints(b2_horizons)
        e1_h = _ints(engine_horizons) if engine_horizons.strip() else default_engine_horizons("B1", b1_h)
        e2_h = (_ints(engine_b2_horizons) if engine_b2_horizons.strip()
                else default_engine_horizons("B2", b2_h))
        overrides = _settings(engine_set)
        try:  # a wrong setting fails now, not after the reference's run
            engine_settings(".", overrides)
        except ConfigError as e:
            raise typer.BadParameter(str(e), param_hint="--engine-set") from e
        total = (2 * sum(b1_h) if seeds else 0) + (3 * sum(b2_h) if b2_seeds else 0)
        engine_total = (2 * engine_seeds * sum(e1_h)
                        + 3 * engine_b2_seeds * B2_SHOPPERS * sum(e2_h))
        console = Console()
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                      TimeElapsedColumn(), console=console) as bar:
            task = bar.add_task("reference: periods simulated", total=total)
            engine_task = bar.add_task("engine: shoppers served", total=engine_total,
                                       visible=engine_total > 0)

            def progress(label: str, n: int, _total: int) -> None:
                bar.update(task, advance=n, description=f"reference {label}")

            def engine_progress(label: str, n: int, _total: int) -> None:
                bar.update(engine_task, advance=n, description=label)

            rows = run_published(seeds, b2_seeds, b1_h, b2_h, seed, progress)
            bar.update(task, completed=total, description="reference: done")
            engine_rows = run_engine(engine_seeds, engine_b2_seeds, e1_h, e2_h, seed,
                                     overrides=overrides, progress=engine_progress)
            bar.update(engine_task, completed=engine_total, description="engine: done")
        table = side_by_side(rows, engine_rows) + "\n\n" + notes(engine_rows, overrides)
        typer.echo(table)
        if output:
            Path(output).write_text(table + "\n", encoding="utf-8")

    @bench.command("shop")
    def shop(
        seeds: int = typer.Option(5, "--seeds", min=1, help="Simulated shops (seeds 1..N)."),
        days: int = typer.Option(28, "--days", min=1, help="Days priced after the history."),
        history_days: int = typer.Option(90, "--history-days", min=8, help="Days of history to train on."),
        shoppers: int = typer.Option(5000, "--shoppers", min=10, help="Shoppers per shop."),
        products: int = typer.Option(200, "--products", min=8, help="Products per shop."),
        first_seed: int = typer.Option(1, "--first-seed", help="First seed."),
        out: str = typer.Option("", "--out", help="Report directory (default: <reports_dir>/shop)."),
        output: str = typer.Option("", "--output", "-o", help="Also write the Markdown summary to this file."),
    ) -> None:
        """The simulated shop: pricepilot vs baselines vs oracles, per seed, with a report."""
        from pathlib import Path

        import pandas as pd

        from pricepilot.cli.main import state
        from pricepilot.dashboard.report import write_report
        from pricepilot.experiments.shop_report import (
            markdown_summary,
            seeds_frame,
            seeds_section,
            shop_sections,
        )
        from pricepilot.experiments.simulated_shop import evaluate_shop

        console = Console()
        evals = []
        steps = 100
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                      TimeElapsedColumn(), console=console) as bar:
            task = bar.add_task("shop", total=seeds * steps)
            for k in range(seeds):
                seed = first_seed + k

                def progress(label: str, frac: float, k: int = k, seed: int = seed) -> None:
                    bar.update(task, completed=k * steps + int(frac * steps),
                               description=f"seed {seed}: {label}")

                ev = evaluate_shop(seed, days=days, history_days=history_days, shoppers=shoppers,
                                   products=products, progress=progress)
                evals.append(ev)
                bar.console.print(shop_table(ev))
                bar.console.print(f"fairness gap (gender, within product x day): {ev.fairness_gap:.2%}")
        summary = markdown_summary(evals)
        typer.echo(summary)
        settings = state.settings()
        report_dir = Path(out) if out else settings.reports_dir / "shop"
        first = evals[0]
        sections = [seeds_section(evals)]
        for ev in evals:
            for s in shop_sections(ev):
                s.title = f"seed {ev.seed}: {s.title}"
                sections.append(s)
        events = first.events if first.events is not None else pd.DataFrame()
        path = write_report(events, first.products, report_dir, extra_sections=sections,
                            title=f"pricepilot on the simulated shop ({seeds} seeds, {days} days)")
        console.print(f"report: {path}")
        df = seeds_frame(evals)
        beats = bool((df["vs best baseline"] > 0).all())
        console.print(f"pricepilot beats every baseline on every seed: {beats}")
        if output:
            Path(output).write_text(summary + "\n", encoding="utf-8")

    @bench.command("robustness")
    def robustness(
        variants: str = typer.Option("all", "--variants", help="Comma-separated variant names, or 'all' (see --list)."),
        seeds: int = typer.Option(5, "--seeds", min=1, help="Seeds per variant."),
        first_seed: int = typer.Option(1, "--first-seed", help="First seed."),
        days: int = typer.Option(28, "--days", min=1, help="Days priced after the history."),
        shoppers: int = typer.Option(5000, "--shoppers", min=10, help="Shoppers per market."),
        products: int = typer.Option(200, "--products", min=8, help="Products per market."),
        retrain_every: int = typer.Option(1, "--retrain-every", min=0, help="Retrain pricepilot every N days of the run (0: never)."),
        out: str = typer.Option("", "--out", help="Output directory (default: <reports_dir>/robustness)."),
        list_only: bool = typer.Option(False, "--list", help="List the variants and exit."),
    ) -> None:
        """Robustness suite: pricepilot (default settings) vs baselines vs oracles on market
        variants x seeds; CSV, JSON and a plot in the output directory."""
        from pathlib import Path

        from pricepilot.cli.main import state
        from pricepilot.errors import ValidationError
        from pricepilot.experiments.robustness import SuiteConfig, run_suite
        from pricepilot.experiments.robustness_report import markdown, write_outputs
        from pricepilot.sim.variants import MarketVariant, select_variants

        try:
            chosen = select_variants(variants)
        except ValidationError as e:
            raise typer.BadParameter(str(e), param_hint="--variants") from e
        console = Console()
        if list_only:
            for v in chosen:
                console.print(f"{v.name}: {v.description} ({v.history_days} days of history)")
            return
        suite = SuiteConfig(seeds=seeds, first_seed=first_seed, days=days, shoppers=shoppers,
                            products=products, retrain_every=retrain_every)
        steps = 100
        index = {(v.name, s): k for k, (v, s) in enumerate(
            (v, s) for v in chosen for s in suite.seed_list())}
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                      TimeElapsedColumn(), console=console) as bar:
            task = bar.add_task("robustness", total=len(index) * steps)

            def progress(v: MarketVariant, seed: int, label: str, frac: float) -> None:
                bar.update(task, completed=index[(v.name, seed)] * steps + int(frac * steps),
                           description=f"{v.name} seed {seed}: {label}")

            def done(cell: CellResult) -> None:
                t = cell.table
                bar.console.print(
                    f"{cell.variant} seed {cell.seed}: pricepilot "
                    f"{t.loc['pricepilot', 'pct_period_oracle']:.1%} of the period oracle, "
                    f"best baseline {t.drop(index=['pricepilot', 'period oracle', 'personalised oracle'])['pct_period_oracle'].max():.1%}")

            cells = run_suite(chosen, suite, progress=progress, done=done)
        console.print(robustness_table(cells))
        summary = markdown(cells)
        typer.echo(summary)
        target = Path(out) if out else state.settings().reports_dir / "robustness"
        paths = write_outputs(cells, target)
        console.print(f"written: {', '.join(str(p) for p in paths.values())}")
        console.print("pricepilot ran with default settings (only the data directory and the "
                      "audit-only gender declared)")

    app.add_typer(bench, name="bench")
