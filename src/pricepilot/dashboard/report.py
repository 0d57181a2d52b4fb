"""A self-contained HTML report of a shop's events: KPIs, revenue and conversion per day, and
price against competitors and cost for the most viewed products.

Figures are matplotlib PNGs (Agg backend) embedded as base64, so the file opens anywhere with no
other files. Later parts append their own sections (model calibration, profit against baselines)
through ``extra_sections``.

>>> import pandas as pd, tempfile
>>> from pricepilot.catalog.models import Product
>>> ev = pd.DataFrame({"event_id": ["e1", "e2"], "type": ["view", "purchase"],
...                    "ts": [1_780_000_000_000_000] * 2, "user_id": ["u1", "u1"],
...                    "product_id": ["p1", "p1"], "price": [999, 999], "quantity": [None, 1]})
>>> p = Product(product_id="p1", title="Mug", category="kitchen", currency="EUR",
...             unit_cost=400, list_price=999)
>>> write_report(ev, [p], tempfile.mkdtemp()).name
'report.html'
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.dates as mdates  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from jinja2 import Environment  # noqa: E402
from markupsafe import Markup  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from pricepilot.catalog.models import Product  # noqa: E402
from pricepilot.errors import ValidationError  # noqa: E402
from pricepilot.money import exponent, format_amount, parse_amount  # noqa: E402


@dataclass
class Section:
    """A report section: a title, trusted HTML, and figures (matplotlib or PNG bytes)."""

    title: str
    html: str = ""
    figures: list[Figure | bytes] = field(default_factory=list)


_TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{ title }}</title>
<style>
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2rem auto;max-width:1100px;color:#222}
h1{font-size:1.6rem} h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:0.5rem 0} td,th{padding:4px 10px;border-bottom:1px solid #eee;text-align:right}
th:first-child,td:first-child{text-align:left} img{max-width:100%} .note{color:#666;font-size:0.9rem}
</style></head><body>
<h1>{{ title }}</h1>
{% if headline %}<p class="headline"><strong>{{ headline }}</strong></p>{% endif %}
<p class="note">Generated {{ generated }} &middot; {{ period }} &middot; amounts in {{ currency }}</p>
{% for s in sections %}<h2>{{ s.title }}</h2>
{{ s.html }}
{% for img in s.images %}<p><img alt="{{ s.title }}" src="data:image/png;base64,{{ img }}"></p>{% endfor %}
{% endfor %}</body></html>
"""


_COMP_COLOURS = ("#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2")


def _png(fig: Figure | bytes) -> str:
    if isinstance(fig, bytes):
        return base64.b64encode(fig).decode("ascii")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def rendered(sections: Sequence[Section]) -> list[Section]:
    """``sections`` with every matplotlib figure rendered to PNG bytes (and closed), so a report
    can be written more than once from them (the demo writes its report before its live step
    and again after it).

    >>> fig = plt.figure()
    >>> [type(f).__name__ for f in rendered([Section("s", "", [fig])])[0].figures]
    ['bytes']
    """
    out = []
    for s in sections:
        figs: list[Figure | bytes] = [f if isinstance(f, bytes) else base64.b64decode(_png(f))
                                      for f in s.figures]
        out.append(Section(s.title, s.html, figs))
    return out


def _products_frame(products: pd.DataFrame | Sequence[Product]) -> pd.DataFrame:
    if isinstance(products, pd.DataFrame):
        df = products.copy()
        missing = {"product_id", "unit_cost", "list_price"} - set(df.columns)
        if missing:
            raise ValidationError("report products", sorted(missing)[0], "column is missing")
        cur = df["currency"] if "currency" in df.columns else pd.Series("EUR", index=df.index)
        for col in ("unit_cost", "list_price"):
            if df[col].dtype == object or pd.api.types.is_string_dtype(df[col]):
                # major-unit decimal text (the products file) -> minor units
                df[col] = [parse_amount(str(v), str(c), field=col) for v, c in zip(df[col], cur)]
        df["currency"] = cur
        if "title" not in df.columns:
            df["title"] = df["product_id"]
        return df[["product_id", "title", "unit_cost", "list_price", "currency"]]
    return pd.DataFrame([dict(product_id=p.product_id, title=p.title, unit_cost=p.unit_cost,
                              list_price=p.list_price, currency=p.currency) for p in products])


def _daily(ev: pd.DataFrame, cost: pd.Series) -> pd.DataFrame:
    day = pd.to_datetime(ev["ts"], unit="us", utc=True).dt.floor("D")
    views = ev[ev["type"] == "view"].groupby(day[ev["type"] == "view"]).size()
    buy = ev[ev["type"] == "purchase"].copy()
    buy["day"] = day[buy.index]
    q = pd.to_numeric(buy["quantity"], errors="coerce").fillna(1).astype(np.int64)
    buy["revenue"] = q * buy["price"].astype(np.int64)
    buy["profit"] = q * (buy["price"].astype(np.int64) - buy["product_id"].map(cost).fillna(0).astype(np.int64))
    buy["units"] = q
    g = buy.groupby("day").agg(orders=("event_id", "size"), units=("units", "sum"),
                               revenue=("revenue", "sum"), profit=("profit", "sum"))
    out = pd.DataFrame({"views": views}).join(g, how="outer").fillna(0)
    out["conversion"] = np.where(out["views"] > 0, out["orders"] / out["views"].where(out["views"] > 0, 1), 0.0)
    return out


def _fig_daily(daily: pd.DataFrame, scale: float, currency: str) -> Figure:
    fig, (a1, a2) = plt.subplots(2, 1, figsize=(10, 5.5), sharex=True)
    a1.plot(daily.index, daily["revenue"] / scale, color="#1f77b4", label="revenue")
    a1.plot(daily.index, daily["profit"] / scale, color="#2ca02c", label="gross profit")
    a1.set_ylabel(currency)
    a1.set_title("Revenue and gross profit per day")
    a1.legend(loc="upper left", frameon=False)
    a1.grid(alpha=0.3)
    a2.plot(daily.index, daily["conversion"] * 100, color="#d62728")
    a2.set_ylabel("% of views")
    a2.set_title("Conversion (orders per view) per day")
    a2.grid(alpha=0.3)
    # matplotlib.dates has no type annotations (no stub ships for it)
    loc = mdates.AutoDateLocator(maxticks=12)  # type: ignore[no-untyped-call]
    a2.xaxis.set_major_locator(loc)
    a2.xaxis.set_major_formatter(mdates.ConciseDateFormatter(loc))  # type: ignore[no-untyped-call]
    fig.tight_layout()
    return fig


def _fig_prices(ev: pd.DataFrame, prods: pd.DataFrame, scale: float, currency: str, n: int) -> Figure | None:
    views = ev[ev["type"] == "view"]
    if views.empty:
        return None
    top = views["product_id"].value_counts().index[:n]
    fig, axes = plt.subplots(len(top), 1, figsize=(10, 2.6 * len(top)), squeeze=False)
    info = prods.set_index("product_id")
    comp_all = ev[ev["type"] == "competitor_price"]
    end = pd.to_datetime(int(ev["ts"].max()), unit="us", utc=True)
    locator = mdates.AutoDateLocator(maxticks=10)  # type: ignore[no-untyped-call]
    for ax, pid in zip(axes[:, 0], top):
        v = views[views["product_id"] == pid]
        day = pd.to_datetime(v["ts"], unit="us", utc=True).dt.floor("D")
        shown = (v["price"].astype(np.float64) / scale).groupby(day).mean()
        # a price holds until the next change: draw steps and carry the last one to the end
        ax.step(list(shown.index) + [end], list(shown.values) + [shown.values[-1]], where="post",
                color="#1f77b4", lw=2, label="our mean shown price")
        comp = comp_all[comp_all["product_id"] == pid]
        for k, (name, g) in enumerate(comp.groupby("competitor")):
            t = list(pd.to_datetime(g["ts"], unit="us", utc=True)) + [end]
            y = list(g["price"].astype(np.float64) / scale)
            ax.step(t, y + [y[-1]], where="post", lw=1, alpha=0.85, label=f"{name}",
                    color=_COMP_COLOURS[k % len(_COMP_COLOURS)])
        if pid in info.index:
            ax.axhline(info.loc[pid, "unit_cost"] / scale, color="k", ls="--", lw=1, label="cost")
            ax.axhline(info.loc[pid, "list_price"] / scale, color="grey", ls=":", lw=1, label="list price")
            title = f"{pid} · {info.loc[pid, 'title']}"
        else:
            title = pid
        ax.set_title(title, fontsize=10)
        ax.xaxis.set_major_locator(locator)
        formatter = mdates.ConciseDateFormatter(locator)  # type: ignore[no-untyped-call]
        ax.xaxis.set_major_formatter(formatter)
        ax.set_ylabel(currency)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)
    fig.tight_layout()
    return fig


def _kpi_html(daily: pd.DataFrame, ev: pd.DataFrame, currency: str) -> str:
    views, orders = int(daily["views"].sum()), int(daily["orders"].sum())
    revenue, profit = int(daily["revenue"].sum()), int(daily["profit"].sum())
    rows = [
        ("Days", f"{len(daily)}"),
        ("Shoppers seen", f"{ev.loc[ev['type'] == 'view', 'user_id'].nunique():,}"),
        ("Views", f"{views:,}"),
        ("Orders", f"{orders:,}"),
        ("Units", f"{int(daily['units'].sum()):,}"),
        ("Conversion", f"{orders / views:.2%}" if views else "n/a"),
        ("Revenue", format_amount(revenue, currency)),
        ("Gross profit", format_amount(profit, currency)),
        ("Margin", f"{profit / revenue:.1%}" if revenue else "n/a"),
        ("Average order value", format_amount(revenue // orders, currency) if orders else "n/a"),
    ]
    body = "".join(f"<tr><td>{k}</td><td>{v}</td></tr>" for k, v in rows)
    return f"<table><tr><th>KPI</th><th>value</th></tr>{body}</table>"


def write_report(events: pd.DataFrame, products: pd.DataFrame | Sequence[Product],
                 out_dir: str | Path, extra_sections: Sequence[Section] = (),
                 title: str = "pricepilot report", top_products: int = 4,
                 filename: str = "report.html", headline: str | None = None) -> Path:
    """Write ``out_dir/report.html`` and return its path (``headline``: the one line at the top,
    under the title).

    ``events``: the EVENT_COLUMNS layout (``ts`` integer micros, ``price`` integer minor units;
    at least event_id, type, ts, user_id, product_id, price, quantity). ``products``: Product
    structs or a frame with product_id, unit_cost, list_price (minor units, or decimal text).
    """
    need = {"event_id", "type", "ts", "product_id", "price"}
    missing = need - set(events.columns)
    if missing:
        raise ValidationError("report events", sorted(missing)[0], "column is missing")
    prods = _products_frame(products)
    currency = str(prods["currency"].iloc[0]) if len(prods) else "EUR"
    scale = float(10 ** exponent(currency))
    ev = events
    for col, default in (("user_id", None), ("quantity", 1), ("competitor", None)):
        if col not in ev.columns:
            ev = ev.assign(**{col: default})
    cost = prods.set_index("product_id")["unit_cost"]
    daily = _daily(ev, cost)
    sections = [Section("Key figures", _kpi_html(daily, ev, currency))]
    if len(daily):
        sections.append(Section("Revenue and conversion per day", "", [_fig_daily(daily, scale, currency)]))
    pf = _fig_prices(ev, prods, scale, currency, top_products)
    if pf is not None:
        sections.append(Section(
            "Price against competitors and cost",
            f"<p class='note'>The {top_products} most viewed products: our mean shown price per "
            "day, each competitor's price, our unit cost and list price.</p>", [pf]))
    sections.extend(extra_sections)
    ts = ev["ts"]
    period = "no events"
    if len(ts):
        a = datetime.fromtimestamp(int(ts.min()) / 1e6, tz=timezone.utc).date()
        b = datetime.fromtimestamp(int(ts.max()) / 1e6, tz=timezone.utc).date()
        period = f"{a} to {b}"
    html = Environment(autoescape=True).from_string(_TEMPLATE).render(
        title=title, headline=headline,
        generated=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        period=period, currency=currency,
        sections=[dict(title=s.title, html=Markup(s.html), images=[_png(f) for f in s.figures])
                  for s in sections])
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / filename
    path.write_text(html, encoding="utf-8")
    return path
