"""The demand posterior's warm start: a training set's in-stock views as posterior outcomes."""

from __future__ import annotations

import pandas as pd
import pytest

from pricepilot.demand.models import make_model
from pricepilot.demand.synthetic import synthetic_frame
from pricepilot.pricing.warm_start import history_outcomes


def test_history_outcomes_use_the_public_probability_at_the_shown_price() -> None:
    frame = synthetic_frame(1500, seed=41)
    model = make_model("logistic").fit(frame)
    head = frame.head(50).copy()
    head["p_stock"] = 10.0
    got = history_outcomes(head, model)
    assert len(got) == 50
    row = head.iloc[0]
    assert (got[0].product_id, got[0].category, got[0].price, got[0].list_price,
            got[0].purchased) == (str(row["product_id"]), str(row["p_category"]),
                                  int(row["price"]), int(row["list_price"]), bool(row["y"]))
    # shopper features do not enter: the engine corrects its public (non-personal) curve
    other = head.copy()
    for col in other.columns:
        if col.startswith("u_") and pd.api.types.is_numeric_dtype(other[col]):
            other[col] = other[col] * 3 + 1
    again = history_outcomes(other, model)
    assert [o.model_prob for o in again] == pytest.approx([o.model_prob for o in got])
    assert all(0.0 < o.model_prob < 1.0 for o in got)
    assert history_outcomes(frame.head(0), model) == []


def test_views_of_a_sold_out_product_teach_nothing() -> None:
    frame = synthetic_frame(200, seed=42)
    model = make_model("logistic").fit(synthetic_frame(1500, seed=41))
    frame["p_stock"] = [0.0 if i % 4 == 0 else 5.0 for i in range(len(frame))]
    got = history_outcomes(frame, model)
    assert len(got) == 150
