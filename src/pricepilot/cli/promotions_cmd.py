"""``pricepilot cart price``: price a cart; a table for people, or ``--json``.

The table says amounts in major units with the currency (``EUR 19.99``); ``--json`` prints the
priced cart as the service answers it, amounts in integer minor units beside the currency code
(docs/money.md).

Without ``--promotions``, the shop's own cart pricing, exactly as ``POST /v1/carts/price``
answers (the catalogue, signed quotes, the active promotions, the market state, the ledger):
the cart file is that request's body, ``{"currency": "EUR", "customer_id": "c1", "lines":
[{"product_id": "MUG", "quantity": 2, "quote_id": "...", "quote_signature": "..."}],
"coupons": ["SAVE10"]}``.

With ``--promotions FILE``, a what-if calculator that needs no shop: the cart against the
promotions in FILE only. Cart file (JSON): ``{"currency": "EUR", "lines": [{"sku": "A", "qty": 2, "unit_price": "19.99",
"category": "shoes", "brand": "x", "min_price": "10.00"}], "shipping": [{"method": "std",
"price": "4.90"}], "customer": {"id": "c1", "segment": "vip"}, "market": {"holidays": ["xmas"]},
"usage": {...}}``; money as decimal text in major units.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import msgspec
import typer

from pricepilot.errors import ValidationError
from pricepilot.money import parse_amount


def read_cart(path: Path) -> tuple[Any, Any, Any, Any]:
    from pricepilot.promotions.cart import (
        Cart,
        CartLine,
        Customer,
        MarketState,
        ShippingLine,
        Usage,
    )

    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise ValidationError("cart file", None, str(e), location=str(path)) from e
    if not isinstance(raw, dict) or "lines" not in raw:
        raise ValidationError("cart file", "lines", "needs a 'lines' list", location=str(path))
    cur = raw.get("currency", "EUR")
    lines = []
    for i, ln in enumerate(raw["lines"]):
        try:
            lines.append(CartLine(
                sku=str(ln["sku"]), qty=int(ln.get("qty", 1)),
                unit_price=parse_amount(ln["unit_price"], cur, field=f"lines[{i}].unit_price"),
                category=ln.get("category"), brand=ln.get("brand"),
                min_price=parse_amount(ln["min_price"], cur) if ln.get("min_price") not in (None, "") else None,
                quote_id=ln.get("quote_id"),
            ))
        except KeyError as e:
            raise ValidationError("cart file", f"lines[{i}]", f"missing {e}", location=str(path)) from e
    shipping = [ShippingLine(method=s["method"], price=parse_amount(s["price"], cur)) for s in raw.get("shipping", [])]
    try:
        customer = msgspec.convert(raw.get("customer", {}), Customer)
        market = msgspec.convert(raw.get("market", {}), MarketState)
        usage = msgspec.convert(raw.get("usage", {}), Usage)
    except msgspec.ValidationError as e:
        raise ValidationError("cart file", None, str(e), location=str(path)) from e
    return Cart(currency=cur, lines=lines, shipping=shipping), customer, market, usage


def register(app: typer.Typer) -> None:
    cart_app = typer.Typer(help="Price carts against promotions.", no_args_is_help=True)

    @cart_app.command("price")
    def price(
        cart: Path = typer.Option(..., "--cart", help="Cart JSON file."),
        promotions: Path = typer.Option(
            None, "--promotions",
            help="What-if: price against this promotions YAML or JSON file only (no shop)."),
        at: str = typer.Option(None, "--at", help="ISO time (default: now); naive = shop time zone."),
        coupon: list[str] = typer.Option([], "--coupon", help="Coupon code (repeatable)."),
        as_json: bool = typer.Option(
            False, "--json", help="Print the priced cart as JSON (amounts in minor units)."),
    ) -> None:
        """Print the priced cart: the shop's cart pricing (as the service prices it), or with
        --promotions the what-if calculator (allocations per line, applied and not applied).
        A table in major units with the currency; --json: the JSON, amounts in minor units."""
        from pricepilot.cli.main import state
        from pricepilot.promotions.engine import PromotionEngine
        from pricepilot.promotions.loader import load_promotions
        from pricepilot.promotions.policy import policy_from_settings

        settings = state.settings()
        when = None
        if at:
            try:
                when = datetime.fromisoformat(at)
            except ValueError as e:
                raise ValidationError("option", "--at", f"{at!r} is not an ISO time") from e
        if promotions is None:
            out = _shop_cart(settings, cart, when, coupon)
        else:
            policy = policy_from_settings(settings)
            promos = load_promotions(promotions, timezone=policy.timezone)
            c, customer, market, usage = read_cart(cart)
            engine = PromotionEngine(promos, policy)
            out = msgspec.to_builtins(engine.price_cart(c, customer, when, coupon, market=market,
                                                        usage=usage))
        if as_json:
            typer.echo(json.dumps(out, indent=2))
        else:
            from rich.console import Console

            Console().print(*cart_tables(out))

    app.add_typer(cart_app, name="cart")


def cart_tables(priced: dict[str, Any]) -> list[Any]:
    """A priced cart (the service's answer or the what-if calculator's, as JSON builtins) as
    Rich tables, every amount in major units with the currency."""
    from rich.table import Table

    from pricepilot.money import format_money

    cur = str(priced["currency"])

    def m(v: int) -> str:
        return format_money(int(v), cur)

    lines = Table(title="cart")
    for col in ("product", "qty", "unit price", "subtotal", "discount", "total"):
        lines.add_column(col, justify="left" if col == "product" else "right")
    for ln in [*priced["lines"], *priced.get("gifts", [])]:
        name = str(ln.get("product_id") or ln.get("sku"))
        lines.add_row(name + (" (gift)" if ln.get("is_gift") else ""),
                      str(ln.get("quantity", ln.get("qty"))), m(ln["unit_price"]),
                      m(ln["subtotal"]), m(ln["discount"]), m(ln["total"]))
    totals = Table(show_header=False)
    totals.add_column("what")
    totals.add_column("amount", justify="right")
    shipping = priced["shipping"]
    shipping_total = priced.get("shipping_total", shipping if isinstance(shipping, int) else 0)
    for what, v in (("subtotal", priced["subtotal"]),
                    ("discount", priced.get("discount", priced.get("item_discount", 0))),
                    ("shipping", shipping_total),
                    ("shipping discount", priced["shipping_discount"]),
                    ("total", priced["total"])):
        totals.add_row(what, m(v))
    out: list[Any] = [lines, totals]
    if priced.get("applied"):
        applied = Table(title="promotions applied")
        for col in ("promotion", "stage", "discount", "hint"):
            applied.add_column(col, justify="right" if col == "discount" else "left")
        for a in priced["applied"]:
            applied.add_row(str(a.get("promotion_id") or a.get("id")), str(a["stage"]),
                            m(a["amount"]), a.get("hint") or "")
        out.append(applied)
    if priced.get("not_applied"):
        missed = Table(title="promotions not applied")
        for col in ("promotion", "why", "hint"):
            missed.add_column(col)
        for n in priced["not_applied"]:
            why = str(n["reason"]) + (f": {n['message']}" if n.get("message") else "")
            missed.add_row(str(n.get("promotion_id") or n.get("id")), why, n.get("hint") or "")
        out.append(missed)
    if priced.get("coupons"):
        coupons = Table(title="coupons")
        for col in ("code", "status", "detail"):
            coupons.add_column(col)
        for c in priced["coupons"]:
            coupons.add_row(str(c["code"]), str(c["status"]), c.get("message") or c.get("error") or "")
        out.append(coupons)
    return out


def _shop_cart(settings: Any, path: Path, when: datetime | None, coupons: list[str]) -> Any:
    """The cart file priced by the shop's application layer (``Shop.price_cart``)."""
    import pricepilot

    try:
        body = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise ValidationError("cart file", None, str(e), location=str(path)) from e
    if not isinstance(body, dict):
        raise ValidationError("cart file", None, "must be a JSON object", location=str(path))
    if coupons:
        body["coupons"] = [*body.get("coupons", []), *coupons]
    if when is not None and when.tzinfo is None:
        from zoneinfo import ZoneInfo

        when = when.replace(tzinfo=ZoneInfo(settings.shop.timezone))
    with pricepilot.open(settings, warm=False) as shop:
        return msgspec.to_builtins(shop.price_cart(body, at=when))
