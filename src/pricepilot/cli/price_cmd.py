"""``pricepilot price``: one price decision with its full explanation, for analysts."""

from __future__ import annotations

import json

import msgspec
import typer
from rich.console import Console
from rich.table import Table


def register(app: typer.Typer) -> None:
    @app.command("price")
    def price(
        product: list[str] = typer.Option(..., "--product", "-p",
                                          help="Product id (repeat for a page of products)."),
        user: str = typer.Option(None, "--customer",
                                 help="The shop's customer id (omit: anonymous shopper)."),
        session: str = typer.Option(None, "--session", help="Session id of the view."),
        channel: str = typer.Option(None, "--channel"),
        device: str = typer.Option(None, "--device"),
        as_json: bool = typer.Option(False, "--json", help="Print the quotes as JSON."),
    ) -> None:
        """Decide the price of PRODUCT for CUSTOMER now, exactly as the service would, and explain it.

        Uses the configured store, the current model in the registry and the online state a
        replay of the event log gives (the persisted snapshot when it is current, else only the
        events of this shopper, these products and the calendar); the decision is logged like
        any served quote.
        """
        import pricepilot
        from pricepilot.cli.main import state
        from pricepilot.money import format_money
        from pricepilot.serving.warmup import warm_online_features_for

        settings = state.settings()
        with pricepilot.open(settings, warm=False) as shop:
            app = shop.app
            with app.features_lock:
                warm_online_features_for(app.store, app.features, settings.online.type,
                                         app.pseudonymise(user) if user else None, product)
            response = shop.quote(user, product, session_id=session, channel=channel,
                                  device=device)
        if response.fallback:
            # as the service does: a missing or broken model gives guarded list prices
            reason = shop.app.learning.pricing().loaded.reason or "a dependency failed"
            Console(stderr=True).print(f"[yellow]fallback:[/] {reason}")
        console = Console()
        if as_json:
            console.print_json(json.dumps(msgspec.to_builtins(response)))
            return
        for q in response.quotes:
            def money(v: int | float | None) -> str:  # major units with the currency
                return "-" if v is None else format_money(v, q.currency)

            head = Table(title=f"{q.product_id}: {money(q.price)}", show_header=False)
            head.add_column("what")
            head.add_column("value")
            head.add_row("list price", money(q.list_price))
            head.add_row("lowest price, previous 30 days", money(q.reference_price))
            head.add_row("personalised", str(q.personalised))
            head.add_row("fallback", str(q.fallback))
            head.add_row("model version", q.model_version or "-")
            head.add_row("propensity", "-" if q.propensity is None else f"{q.propensity:.3f}")
            head.add_row("binding rule", q.binding_rule or "-")
            head.add_row("quote id", q.quote_id)
            head.add_row("expires", q.expires_at.isoformat())
            if q.disclosure:
                head.add_row("disclosure", q.disclosure)
            console.print(head)
            steps = Table(title="how the price was reached")
            steps.add_column("stage")
            steps.add_column("price", justify="right")
            steps.add_column("note")
            steps.add_column("profit cost / view", justify="right")
            for s in q.explanation:
                cost = "" if s.profit_cost is None else money(s.profit_cost)
                steps.add_row(s.stage, money(s.price), s.note, cost)
            console.print(steps)

    @app.command("guardrail-costs")
    def guardrail_costs(
        days: float = typer.Option(7.0, "--days", help="Over the decisions of the last DAYS days."),
        as_json: bool = typer.Option(False, "--json", help="Print the table as JSON."),
    ) -> None:
        """What smoothing and each guardrail cost in expected profit over the logged decisions:
        how many decisions each moved, and the profit given up (per the demand curve each
        decision was made on; negative: the rule gained). The table says it in the shop's
        currency, major units; --json in minor units."""
        from datetime import timedelta

        import pricepilot
        from pricepilot.cli.main import state
        from pricepilot.money import format_money

        settings = state.settings()
        with pricepilot.open(settings, warm=False) as shop:
            table = shop.guardrail_costs(since=shop.clock.now() - timedelta(days=days))
        console = Console()
        if as_json:
            console.print_json(json.dumps(table.to_dict("records")))
            return
        cur = settings.shop.currency
        out = Table(title=f"what each rule cost, last {days:g} days (expected profit)")
        for col in table.columns:
            out.add_column(col, justify="left" if col == "stage" else "right")
        for row in table.itertuples(index=False):
            out.add_row(*(format_money(float(v), cur) if col.startswith("profit_cost")
                          else f"{v:.3f}" if isinstance(v, float) else str(v)
                          for col, v in zip(table.columns, row, strict=True)))
        console.print(out)
