from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pricepilot.demand.base import FEATURES, PRICE_FEATURES, price_features
from pricepilot.demand.encoding import (
    MISSING,
    CompiledTransform,
    build_preprocessor,
    category_text,
    normalise_inputs,
    numeric_value,
)
from pricepilot.demand.synthetic import synthetic_frame

NUMERIC = [n for n, k in FEATURES.items() if k == "numeric"]
CATEGORICAL = [n for n, k in FEATURES.items() if k == "categorical"]


@pytest.mark.parametrize(
    ("encoding", "scale", "select_k"),
    [("onehot", True, None), ("onehot", True, 15), ("ordinal", False, None)],
)
def test_the_numpy_twin_gives_the_same_matrix_as_the_fitted_pipeline(encoding, scale, select_k):
    frame = synthetic_frame(800, seed=4)
    X = normalise_inputs(frame, NUMERIC, CATEGORICAL)
    pipe = build_preprocessor(NUMERIC, CATEGORICAL, encoding=encoding, scale=scale, select_k=select_k)
    pipe.fit(X, frame["y"].to_numpy())
    compiled = CompiledTransform(pipe, NUMERIC, CATEGORICAL)
    # later rows, with an unseen level and missing values the training rows never had
    later = synthetic_frame(30, seed=9)
    later.loc[later.index[:3], "u_region"] = "atlantis"
    later.loc[later.index[3:6], "u_device"] = None
    later.loc[later.index[6:9], "c_hour"] = np.nan
    expected = pipe.transform(normalise_inputs(later, NUMERIC, CATEGORICAL))
    for i, (_, row) in enumerate(later.iterrows()):
        ctx = compiled.context_row({k: row[k] for k in FEATURES})
        prices = np.array([row["price"]], dtype=np.int64)
        comp = None if np.isnan(row["competitor_price"]) else int(row["competitor_price"])
        got = compiled.matrix(ctx[None, :], [1], price_features(prices, int(row["list_price"]), comp))
        np.testing.assert_allclose(got[0], expected[i], rtol=1e-10, atol=1e-12, equal_nan=True)


def test_price_columns_of_the_twin_are_the_price_features():
    pipe = build_preprocessor(NUMERIC, CATEGORICAL, encoding="ordinal", scale=False)
    frame = synthetic_frame(200, seed=1)
    pipe.fit(normalise_inputs(frame, NUMERIC, CATEGORICAL), frame["y"])
    compiled = CompiledTransform(pipe, NUMERIC, CATEGORICAL)
    assert compiled.price_names == [n for n in NUMERIC if n in PRICE_FEATURES]


def test_missing_and_odd_values_are_normalised_the_same_way_on_both_paths():
    assert category_text(None) == MISSING
    assert category_text(float("nan")) == MISSING
    assert category_text(3) == "3"
    assert np.isnan(numeric_value(None)) and np.isnan(numeric_value("abc"))
    assert numeric_value("2.5") == 2.5
    frame = pd.DataFrame({"a": ["1", None, "x"], "b": [None, "gold", np.nan]})
    out = normalise_inputs(frame, ["a"], ["b"])
    assert out["a"].tolist()[0] == 1.0 and np.isnan(out["a"].tolist()[1:]).all()
    assert out["b"].tolist() == [MISSING, "gold", MISSING]
