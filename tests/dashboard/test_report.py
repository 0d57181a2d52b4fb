from __future__ import annotations

import base64
import re
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import pytest

from pricepilot.dashboard.report import Section, write_report
from pricepilot.errors import ValidationError
from pricepilot.events.schemas import EVENT_COLUMNS
from pricepilot.sim.config import SimConfig
from pricepilot.sim.history import HistoricalPolicy, products_table
from pricepilot.sim.market import Market, events_frame


@pytest.fixture(scope="module")
def shop() -> tuple[Market, pd.DataFrame]:
    cfg = SimConfig(days=5, shoppers=400, products=20, seed=2)
    m = Market(cfg)
    return m, events_frame(m.run(HistoricalPolicy(m.catalog, cfg, 5, 2)))


def test_events_frame_has_the_storage_layout(shop: tuple[Market, pd.DataFrame]) -> None:
    _, ev = shop
    assert list(ev.columns) == list(EVENT_COLUMNS)
    assert ev["ts"].dtype == "int64" and str(ev["price"].dtype) == "Int64"


def test_report_is_one_self_contained_html_file_with_figures_and_kpis(
        shop: tuple[Market, pd.DataFrame], tmp_path: Path) -> None:
    m, ev = shop
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    extra = Section("Calibration", "<p id='cal'>calibrated</p>", [fig])
    path = write_report(ev, m.products(), tmp_path, extra_sections=[extra], title="Demo <shop>")
    html = path.read_text()
    assert "Demo &lt;shop&gt;" in html  # titles are escaped, section html is trusted
    assert "<p id='cal'>calibrated</p>" in html
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    assert len(images) == 3
    assert all(base64.b64decode(i)[:8] == b"\x89PNG\r\n\x1a\n" for i in images)
    assert "Revenue and conversion per day" in html and "Price against competitors" in html
    assert "src=\"http" not in html and "<script" not in html
    orders = int((ev["type"] == "purchase").sum())
    assert f"<td>Orders</td><td>{orders:,}</td>" in html


def test_report_accepts_the_products_file_with_decimal_text(
        shop: tuple[Market, pd.DataFrame], tmp_path: Path) -> None:
    m, ev = shop
    prods = products_table(m).to_pandas()
    assert write_report(ev, prods, tmp_path).exists()


def test_report_refuses_events_without_required_columns(tmp_path: Path) -> None:
    with pytest.raises(ValidationError):
        write_report(pd.DataFrame({"type": ["view"]}), [], tmp_path)
