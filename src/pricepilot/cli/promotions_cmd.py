"""``pricepilot cart price``: price a cart, print JSON.

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
    ) -> None:
        """Print the priced cart as JSON: the shop's cart pricing (as the service prices it), or
        with --promotions the what-if calculator (allocations per line, applied and not applied)."""
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
            typer.echo(json.dumps(_shop_cart(settings, cart, when, coupon), indent=2))
            return
        policy = policy_from_settings(settings)
        promos = load_promotions(promotions, timezone=policy.timezone)
        c, customer, market, usage = read_cart(cart)
        engine = PromotionEngine(promos, policy)
        priced = engine.price_cart(c, customer, when, coupon, market=market, usage=usage)
        typer.echo(json.dumps(msgspec.to_builtins(priced), indent=2))

    app.add_typer(cart_app, name="cart")


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
