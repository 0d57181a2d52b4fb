"""Issue #13 point 4: a signed quote is honoured at checkout only inside the product's current
floor and ceiling, for a bounded quantity, so a quote signed with a leaked key can never sell
below the floor."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from pricepilot.catalog.models import Guardrails, Product
from pricepilot.clock import FixedClock
from pricepilot.config import load_settings
from pricepilot.errors import ValidationError
from pricepilot.pricing.quotes import QuoteSigner
from pricepilot.serving import schemas as s
from pricepilot.serving.adapters import ANONYMOUS, encode_token
from pricepilot.serving.application import Application

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=timezone.utc)
# unit cost 400, min margin 20 %: the floor is 500; the explicit ceiling is 1500
MUG = Product(product_id="MUG", title="Mug", category="kitchen", currency="EUR", unit_cost=400,
              list_price=1000, guardrails=Guardrails(min_margin=0.2, ceiling=1500))


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Application]:
    settings = load_settings(None, env={}, overrides={
        "paths.data_dir": str(tmp_path / "data"), "checkout.max_quoted_quantity": 5})
    application = Application(settings, clock=FixedClock(T0), decision_flush_seconds=0)
    application.store.upsert_products([MUG])
    application.catalogue.wrote([MUG])
    yield application
    application.close()


def _forged_line(app: Application, price: int, quantity: int = 1) -> s.CartLine:
    """A quote signed with the shop's own (leaked) signing key at any price the forger likes."""
    signer = QuoteSigner.from_settings(app.settings, app.clock)
    q = signer.sign("q-forged", ANONYMOUS, "MUG", price, "EUR", T0 + timedelta(minutes=10))
    return s.CartLine(product_id="MUG", quantity=quantity, quote_id=q.quote_id,
                      quote_signature=encode_token(q))


def _cart(line: s.CartLine) -> s.CartRequest:
    return s.CartRequest(currency="EUR", lines=[line])


def _order(line: s.CartLine) -> s.OrderRequest:
    return s.OrderRequest(order_id="o1", currency="EUR", lines=[line])


def test_point4_a_quote_inside_floor_and_ceiling_is_honoured(app: Application) -> None:
    priced = app.checkout.price_cart(_cart(_forged_line(app, 700, quantity=5)))
    assert priced.total == 5 * 700
    assert app.checkout.confirm_order(_order(_forged_line(app, 500))).status == "confirmed"


def test_point4_a_quote_below_the_floor_is_refused_at_cart_pricing_and_at_confirmation(
        app: Application) -> None:
    line = _forged_line(app, 1)
    with pytest.raises(ValidationError, match=r"q-forged.*below.*floor 500") as e:
        app.checkout.price_cart(_cart(line))
    assert e.value.field == "$.lines[0].quote_id" and e.value.http_status == 422
    with pytest.raises(ValidationError, match=r"q-forged.*below.*floor 500"):
        app.checkout.confirm_order(_order(line))
    assert app.store.repositories().orders.get("o1") is None  # nothing was confirmed


def test_point4_the_floor_is_the_products_current_one(app: Application) -> None:
    line = _forged_line(app, 700)
    app.checkout.price_cart(_cart(line))
    dearer = Product(**{**{f: getattr(MUG, f) for f in MUG.__struct_fields__},
                        "unit_cost": 600})  # floor now ceil(600 / 0.8) = 750
    app.store.upsert_products([dearer])
    app.catalogue.wrote([dearer])
    with pytest.raises(ValidationError, match="floor 750"):
        app.checkout.price_cart(_cart(line))


def test_point4_a_quote_above_the_ceiling_is_refused(app: Application) -> None:
    with pytest.raises(ValidationError, match=r"q-forged.*above.*ceiling 1500"):
        app.checkout.price_cart(_cart(_forged_line(app, 1501)))
    with pytest.raises(ValidationError, match=r"above.*ceiling 1500"):
        app.checkout.confirm_order(_order(_forged_line(app, 1501)))


def test_point4_a_quoted_line_over_the_quantity_bound_is_refused(app: Application) -> None:
    with pytest.raises(ValidationError, match=r"q-forged.*at most 5") as e:
        app.checkout.price_cart(_cart(_forged_line(app, 700, quantity=6)))
    assert e.value.field == "$.lines[0].quantity"
    with pytest.raises(ValidationError, match="at most 5"):
        app.checkout.confirm_order(_order(_forged_line(app, 700, quantity=6)))
    # nor split over several lines quoting it
    with pytest.raises(ValidationError, match=r"at most 5 units \(over all lines\), got 6") as e:
        app.checkout.price_cart(s.CartRequest(currency="EUR", lines=[
            _forged_line(app, 700, quantity=3), _forged_line(app, 700, quantity=3)]))
    assert e.value.field == "$.lines[1].quantity"
    # a line without a quote is at list price and not bounded by the quoted-quantity setting
    plain = s.CartLine(product_id="MUG", quantity=6)
    assert app.checkout.price_cart(_cart(plain)).total == 6 * 1000
