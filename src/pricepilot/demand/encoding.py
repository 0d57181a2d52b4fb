"""Shared preprocessing: one scikit-learn ColumnTransformer for training, and its numpy twin.

Training goes through :func:`build_preprocessor` (imputation, scaling, one-hot or ordinal
encoding, optional feature selection), the field's standard tools. Serving cannot afford pandas
and scikit-learn's per-call validation (hundreds of microseconds), so :class:`CompiledTransform`
reads the *fitted* transformer's learned state (imputer statistics, scaler means and scales,
encoder categories, selector support) into numpy arrays and category -> column maps, and applies
the same arithmetic to a feature dict. A test checks that both give the same matrix.

Categorical values are normalised before either path sees them: text, with a missing value as
the level ``"__missing__"`` (so "unknown tier" is learned like any other tier); an unseen level
encodes as all-zeros (one-hot) or NaN (ordinal, LightGBM's missing).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.feature_selection import SelectKBest, f_classif
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

from pricepilot.demand.base import PRICE_FEATURES

MISSING = "__missing__"
Encoding = Literal["onehot", "ordinal"]
F64 = npt.NDArray[np.float64]


def category_text(value: object) -> str:
    """The normalised level of a categorical value (None/NaN -> ``"__missing__"``)."""
    if value is None:
        return MISSING
    if isinstance(value, float) and math.isnan(value):
        return MISSING
    return str(value)


def numeric_value(value: object) -> float:
    """A numeric feature value as float; None and non-numbers become NaN."""
    if value is None:
        return math.nan
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return math.nan


def normalise_inputs(frame: pd.DataFrame, numeric: Sequence[str], categorical: Sequence[str]) -> pd.DataFrame:
    """The model-input columns of ``frame``: numerics as float64, categoricals as text levels."""
    out: dict[str, object] = {}
    for name in numeric:
        out[name] = pd.to_numeric(frame[name], errors="coerce").astype(np.float64).to_numpy()
    for name in categorical:
        col = frame[name].astype(object)
        out[name] = np.where(col.isna().to_numpy(), MISSING, col.astype(str).to_numpy()).astype(object)
    return pd.DataFrame(out, index=frame.index)[list(numeric) + list(categorical)]


def f_score_nonconstant(X: F64, y: npt.NDArray[np.int64]) -> tuple[F64, F64]:
    """ANOVA F scores (``f_classif``), with constant columns scored 0 instead of warned about.

    Constant columns are normal here (a feature no row has, imputed to one value).
    """
    X = np.asarray(X, dtype=np.float64)
    varying = X.var(axis=0) > 0
    scores = np.zeros(X.shape[1])
    pvalues = np.ones(X.shape[1])
    if varying.any():
        f, p = f_classif(X[:, varying], y)
        scores[varying] = np.nan_to_num(f)
        pvalues[varying] = np.nan_to_num(p, nan=1.0)
    return scores, pvalues


def build_preprocessor(
    numeric: Sequence[str],
    categorical: Sequence[str],
    *,
    encoding: Encoding,
    scale: bool,
    select_k: int | None = None,
) -> Pipeline:
    """The training-time pipeline: numeric and categorical branches, then optional selection.

    ``encoding="onehot"`` with ``scale=True`` suits linear models (median imputation with
    missing-indicator columns, standard scaling); ``encoding="ordinal"`` with ``scale=False``
    suits LightGBM, which handles NaN and categories natively.
    """
    if scale:
        num: object = Pipeline([
            ("impute", SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True)),
            ("scale", StandardScaler()),
        ])
    else:
        num = "passthrough"
    if encoding == "onehot":
        cat: object = OneHotEncoder(handle_unknown="ignore", sparse_output=False, dtype=np.float64)
    else:
        cat = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=np.nan, dtype=np.float64)
    columns = ColumnTransformer(
        [("num", num, list(numeric)), ("cat", cat, list(categorical))],
        remainder="drop", sparse_threshold=0.0, verbose_feature_names_out=False,
    )
    steps: list[tuple[str, object]] = [("columns", columns)]
    if select_k is not None:
        steps.append(("select", SelectKBest(f_score_nonconstant, k=select_k)))
    return Pipeline(steps)


class CompiledTransform:
    """The numpy twin of a fitted :func:`build_preprocessor` pipeline, for serving.

    ``context_row(features)`` encodes every non-price feature of one feature dict once;
    ``matrix(contexts, price_values)`` tiles those rows per candidate price and fills the price
    columns for all candidates at once.
    """

    def __init__(self, pipeline: Pipeline, numeric: Sequence[str], categorical: Sequence[str]) -> None:
        columns: ColumnTransformer = pipeline.named_steps["columns"]
        self.numeric = list(numeric)
        self.categorical = list(categorical)
        num = columns.named_transformers_["num"]
        cat = columns.named_transformers_["cat"]
        n_num = len(self.numeric)
        if isinstance(num, Pipeline):
            imputer: SimpleImputer = num.named_steps["impute"]
            scaler: StandardScaler = num.named_steps["scale"]
            self.fill: F64 | None = np.asarray(imputer.statistics_, dtype=np.float64)
            ind = imputer.indicator_
            self.indicator_of: npt.NDArray[np.int64] = (
                np.asarray(ind.features_, dtype=np.int64) if ind is not None else np.zeros(0, np.int64)
            )
            self.mean: F64 = np.asarray(scaler.mean_, dtype=np.float64)
            self.scale: F64 = np.asarray(scaler.scale_, dtype=np.float64)
        else:  # passthrough: values stay raw (NaN included), for LightGBM
            self.fill = None
            self.indicator_of = np.zeros(0, np.int64)
            self.mean = np.zeros(n_num)
            self.scale = np.ones(n_num)
        self.n_num_out = n_num + len(self.indicator_of)
        self.onehot = isinstance(cat, OneHotEncoder)
        # per categorical feature: level -> output column (one-hot) or level -> code (ordinal)
        self.levels: list[dict[str, int]] = []
        offset = self.n_num_out
        for cats in (cat.categories_ if self.categorical else []):
            levels = [str(c) for c in cats]
            if self.onehot:
                self.levels.append({lv: offset + i for i, lv in enumerate(levels)})
                offset += len(levels)
            else:
                self.levels.append({lv: i for i, lv in enumerate(levels)})
        self.n_out = offset if self.onehot else self.n_num_out + len(self.categorical)
        select = pipeline.named_steps.get("select")
        self.support: npt.NDArray[np.bool_] | None = (
            np.asarray(select.get_support(), dtype=bool) if select is not None else None
        )
        self.price_idx = [i for i, n in enumerate(self.numeric) if n in PRICE_FEATURES]
        self.price_names = [self.numeric[i] for i in self.price_idx]
        self.context_num_idx = [i for i, n in enumerate(self.numeric) if n not in PRICE_FEATURES]
        self.context_num_names = [self.numeric[i] for i in self.context_num_idx]

    def _numeric_block(self, raw: F64) -> F64:
        """Numeric branch on raw values (rows x every numeric feature)."""
        if self.fill is None:
            return raw
        filled = np.where(np.isnan(raw), self.fill, raw)
        if len(self.indicator_of):
            filled = np.concatenate([filled, np.isnan(raw[:, self.indicator_of]).astype(np.float64)], axis=1)
        return (filled - self.mean) / self.scale

    def context_row(self, features: Mapping[str, object]) -> F64:
        """The full output row for ``features`` with price columns still unset (NaN raw)."""
        return self.context_rows([features])[0, :]

    def context_rows(self, features: Sequence[Mapping[str, object]]) -> F64:
        """:meth:`context_row` for many feature dicts, with one numpy pass over the numerics."""
        n = len(features)
        num_names = self.context_num_names
        cat_names = self.categorical
        levels = self.levels
        values: list[list[object]] = []
        hits: list[list[int | None]] = []
        for f in features:
            get = f.get
            values.append([get(name) for name in num_names])
            hits.append([lv.get(v if type(v) is str else category_text(v))
                         for lv, v in zip(levels, [get(name) for name in cat_names], strict=True)])
        raw = np.full((n, len(self.numeric)), np.nan)
        if num_names:
            try:  # numbers and None (-> NaN) convert in one pass
                block = np.array(values, dtype=np.float64)
            except (TypeError, ValueError):  # something that is not a number: NaN, as numeric_value
                block = np.array([[numeric_value(v) for v in row] for row in values], dtype=np.float64)
            raw[:, self.context_num_idx] = block
        rows = np.zeros((n, self.n_out))
        if cat_names:
            if self.onehot:
                r_idx = [r for r, row in enumerate(hits) for h in row if h is not None]
                c_idx = [h for row in hits for h in row if h is not None]
                rows[r_idx, c_idx] = 1.0
            else:
                rows[:, self.n_num_out:self.n_num_out + len(cat_names)] = np.array(hits, dtype=np.float64)
        rows[:, : self.n_num_out] = self._numeric_block(raw)
        return rows

    def matrix(self, rows: F64, counts: Sequence[int], price_values: Mapping[str, F64]) -> F64:
        """Stack ``rows[i]`` ``counts[i]`` times, set the price columns, apply selection.

        ``price_values`` maps each price feature to one value per output row (sum of counts).
        """
        X = np.repeat(rows, counts, axis=0)
        total = X.shape[0]
        if self.price_idx:
            raw = np.full((total, len(self.numeric)), np.nan)
            for i, name in zip(self.price_idx, self.price_names):
                raw[:, i] = price_values[name]
            if self.fill is None:
                X[:, self.price_idx] = raw[:, self.price_idx]
            else:
                # Only the price columns (and their indicators) change per candidate; compute them
                # from a raw block whose context columns are copied back from the output row.
                block = self._numeric_block(raw)
                X[:, self.price_idx] = block[:, self.price_idx]
                for k, feat in enumerate(self.indicator_of):
                    if feat in self.price_idx:
                        X[:, len(self.numeric) + k] = block[:, len(self.numeric) + k]
        if self.support is not None:
            X = X[:, self.support]
        return X
