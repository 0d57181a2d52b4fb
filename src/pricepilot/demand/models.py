"""Demand estimators: P(purchase | shopper, product, context, price), calibrated and fast to serve.

Three families share one interface (settings in ``__init__``, validation at :meth:`fit`, learned
state ending in ``_``) and implement :class:`pricepilot.demand.base.DemandModel`:

* :class:`LogisticDemand` - scaled numerics, missing indicators, one-hot categoricals, L2 logit;
* :class:`ForestDemand` - a random forest, constrained non-increasing in the price features;
* :class:`LGBMDemand` - the workhorse: LightGBM with a monotone non-increasing constraint on
  every price feature.

``fit`` sorts the frame by ``ts``, fits the model on the earlier rows and a calibrator on the
latest ``calibration_fraction`` of rows (out of time, as the model will be used).
:meth:`predict_proba` is the reference path on a frame (pandas + scikit-learn);
:meth:`predict_curve` / :meth:`predict_curves` are the serving path on numpy, and agree with it.

>>> from pricepilot.demand.synthetic import synthetic_frame
>>> import numpy as np
>>> m = LGBMDemand(n_estimators=20).fit(synthetic_frame(3_000, seed=2))
>>> curve = m.predict_curve({"u_tier": "gold", "p_category": "books"},
...                         np.array([800, 1000, 1200]), list_price=1000)
>>> bool(np.all(np.diff(curve) <= 0))
True
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt
import pandas as pd

from pricepilot.compliance.attributes import ShopperAttributes
from pricepilot.config import ComplianceSettings
from pricepilot.demand.base import FEATURES, PRICE_FEATURES
from pricepilot.demand.calibration import METHODS, Calibrator, Method
from pricepilot.demand.encoding import (
    CompiledTransform,
    Encoding,
    build_preprocessor,
    normalise_inputs,
)
from pricepilot.demand.price_information import price_information
from pricepilot.demand.thin import (
    MIN_FIT_ROWS,
    boosting_rounds,
    calibration_shortfall,
    leaf_count,
    leaf_size,
)
from pricepilot.demand.treecurves import CompiledForest, compile_forest
from pricepilot.errors import ValidationError
from pricepilot.money import exponent as currency_exponent

F64 = npt.NDArray[np.float64]
REQUIRED_COLUMNS: tuple[str, ...] = ("ts", "y")
UNREGISTERED = "unregistered"
LGBM_MIN_DATA_PER_GROUP = 100  # LightGBM's default, kept from 2,000 rows on (demand/thin.py)


def default_protected() -> list[str]:
    return list(ComplianceSettings().protected_attributes)


def price_feature_arrays(
    price: F64, list_price: F64, competitor_price: F64, exponent: npt.NDArray[np.int64] | int = 2
) -> dict[str, F64]:
    """Row-wise :func:`pricepilot.demand.base.price_features` (every argument may vary per row).

    A competitor price that is NaN or 0 gives NaN, as ``price_features`` does for ``None``.
    """
    comp = np.where(np.asarray(competitor_price) > 0, competitor_price, np.nan)  # NaN > 0 is False
    scale = np.power(10.0, np.asarray(exponent, dtype=np.float64))
    return {
        "x_price_ratio_list": price / list_price,
        "x_price_ratio_comp": price / comp,
        "x_log_price": np.log(np.maximum(price, 1.0) / scale),
    }


class DemandEstimator:
    """Common machinery of the demand families; subclasses supply the core classifier."""

    family: ClassVar[str] = ""
    encoding: ClassVar[Encoding] = "onehot"
    scale: ClassVar[bool] = True
    version_: str  # set by ModelRegistry.register; absent (not None) until then

    def __init__(
        self,
        *,
        features: Sequence[str] | None = None,
        calibration: Method = "auto",
        calibration_fraction: float = 0.2,
        select_k: int | None = None,
        protected_attributes: Sequence[str] | None = None,
        random_state: int = 0,
    ) -> None:
        self.features = features
        self.calibration = calibration
        self.calibration_fraction = calibration_fraction
        self.select_k = select_k
        self.protected_attributes = protected_attributes
        self.random_state = random_state

    # ----------------------------------------------------------------- settings
    def get_params(self) -> dict[str, Any]:
        """The constructor settings (what the registry records and the grid search varies)."""
        import inspect

        names = [name for c in type(self).__mro__ if c is not object
                 for name, p in inspect.signature(c.__init__).parameters.items()  # type: ignore[misc]
                 if name != "self" and p.kind is not p.VAR_KEYWORD]
        return {n: getattr(self, n) for n in dict.fromkeys(names)}

    @property
    def version(self) -> str:
        """Registry version (``"unregistered"`` until :class:`ModelRegistry` registers it)."""
        return getattr(self, "version_", UNREGISTERED)

    # ----------------------------------------------------------------- fitting
    def _feature_kinds(self, frame: pd.DataFrame) -> tuple[list[str], list[str]]:
        names = list(self.features) if self.features is not None else list(FEATURES)
        if not names:
            raise ValidationError("demand model", "features", "needs at least one feature")
        protected = (self.protected_attributes if self.protected_attributes is not None
                     else default_protected())
        ShopperAttributes(protected).check_feature_names(names)
        if len(set(names)) != len(names):
            raise ValidationError("demand model", "features", "lists a feature twice")
        if not any(n in PRICE_FEATURES for n in names):
            raise ValidationError(
                "demand model", "features", f"needs at least one price feature of {PRICE_FEATURES}"
            )
        missing = [n for n in names if n not in frame.columns]
        if missing:
            raise ValidationError("training frame", None, f"missing feature columns {missing}")
        numeric: list[str] = []
        categorical: list[str] = []
        for n in names:
            kind = FEATURES.get(n)
            if kind is None:  # a shop's own extra feature: its dtype decides
                kind = "numeric" if pd.api.types.is_numeric_dtype(frame[n]) else "categorical"
            (numeric if kind == "numeric" else categorical).append(n)
        bad_price = [n for n in names if n in PRICE_FEATURES and n in categorical]
        if bad_price:
            raise ValidationError("demand model", "features", f"price features must be numeric: {bad_price}")
        return numeric, categorical

    def _validate_frame(self, frame: pd.DataFrame) -> None:
        if not isinstance(frame, pd.DataFrame):
            raise ValidationError("training frame", None, "must be a pandas DataFrame")
        for col in REQUIRED_COLUMNS:
            if col not in frame.columns:
                raise ValidationError("training frame", col, "column is missing")
        y = frame["y"]
        if y.isna().any() or not y.isin([0, 1]).all():
            raise ValidationError("training frame", "y", "labels must be 0 or 1")
        if y.nunique() < 2:
            what = "purchase" if int(y.sum()) == 0 else "non-purchase"
            raise ValidationError("training frame", "y", f"the {len(frame)} views hold no {what}: "
                                  "a model needs both purchases and non-purchases")
        if not 0.0 < self.calibration_fraction < 1.0:
            raise ValidationError("demand model", "calibration_fraction", "must be in (0, 1)")
        if self.calibration not in METHODS:
            raise ValidationError("demand model", "calibration", f"must be one of {METHODS}")
        if self.select_k is not None and self.select_k < 1:
            raise ValidationError("demand model", "select_k", "must be a positive number of columns")
        if len(frame) < MIN_FIT_ROWS:
            raise ValidationError("training frame", None, f"{len(frame)} rows are too few to "
                                  f"learn from (a model needs at least {MIN_FIT_ROWS})")

    def fit(self, frame: pd.DataFrame) -> DemandEstimator:
        """Fit on a training frame (see :mod:`pricepilot.demand.base`); returns ``self``."""
        self._validate_frame(frame)
        for stale in [k for k in vars(self) if k.startswith("_serving")]:
            delattr(self, stale)  # a refit invalidates the serving caches
        numeric, categorical = self._feature_kinds(frame)
        self._check_params()
        order = np.argsort(frame["ts"].to_numpy(), kind="stable")
        frame = frame.iloc[order]
        X = normalise_inputs(frame, numeric, categorical)
        y = frame["y"].to_numpy().astype(np.int64)
        n_cal = int(round(len(frame) * self.calibration_fraction)) if self.calibration != "none" else 0
        self.fit_notes_: list[str] = []  # what thin data changed (pricepilot.demand.thin)
        skip = None
        if n_cal:  # thin data: fit every row rather than hold out rows a calibration cannot use
            skip = calibration_shortfall(y[len(frame) - n_cal:])
            if skip is None and len(np.unique(y[:len(frame) - n_cal])) < 2:
                skip = "the rows before the latest ones hold one class only"
            if skip is not None:
                n_cal = 0
                self.fit_notes_.append(f"calibration skipped: {skip}")
        n_fit = len(frame) - n_cal
        self.numeric_ = numeric
        self.categorical_ = categorical
        self.feature_names_ = numeric + categorical
        self.preprocessor_ = build_preprocessor(
            numeric, categorical, encoding=self.encoding, scale=self.scale, select_k=self.select_k
        )
        Xt = self.preprocessor_.named_steps["columns"].fit_transform(X.iloc[:n_fit], y[:n_fit])
        if self.select_k is not None:
            if self.select_k > Xt.shape[1]:
                raise ValidationError(
                    "demand model", "select_k", f"{self.select_k} is more than the {Xt.shape[1]} encoded columns"
                )
            Xt = self.preprocessor_.named_steps["select"].fit(Xt, y[:n_fit]).transform(Xt)
        self.compiled_ = CompiledTransform(self.preprocessor_, numeric, categorical)
        self.price_columns_ = self._price_columns()
        if not self.price_columns_:
            raise ValidationError(
                "demand model", "select_k", "feature selection dropped every price feature; raise select_k"
            )
        self._fit_core(np.asarray(Xt, dtype=np.float64), y[:n_fit])
        self.calibrator_ = Calibrator(self.calibration)
        if n_cal:
            Xc = np.asarray(self.preprocessor_.transform(X.iloc[n_fit:]), dtype=np.float64)
            self.calibrator_.fit(self._core_proba(Xc), y[n_fit:])
        elif skip is not None:
            self.calibrator_.skip(skip)
        else:
            self.calibrator_.fit(np.zeros(0), np.zeros(0, np.int64))
        currencies = frame["currency"].dropna().unique() if "currency" in frame.columns else []
        # x_log_price is in major units; serving gets minor units and must scale the same way.
        self.exponent_ = currency_exponent(str(currencies[0])) if len(currencies) == 1 else 2
        self.n_rows_ = len(frame)
        # how much the rows say about each product's price slope (pricing/price_response.py)
        self.price_information_ = price_information(frame)
        return self

    def _price_columns(self) -> list[int]:
        """Output columns (after selection) that carry a price feature, for monotone constraints."""
        c = self.compiled_
        # numeric values come first in feature order; missing indicators are not "the price"
        cols = list(c.price_idx)
        if c.support is None:
            return cols
        kept = np.flatnonzero(c.support)
        return [int(np.searchsorted(kept, col)) for col in cols if c.support[col]]

    # subclass hooks ------------------------------------------------------------
    def _curve_proba(self, rows: F64, counts: Sequence[int], price_values: Mapping[str, F64]) -> F64:
        """Uncalibrated P(purchase) of ``counts[i]`` candidates per context row ``rows[i]``.

        The generic path builds the full model matrix; families override it with a cheaper
        computation that gives the same numbers.
        """
        return self._core_proba(self.compiled_.matrix(rows, counts, price_values))

    def __getstate__(self) -> dict[str, Any]:
        # serving caches are rebuilt from the fitted state on first use, never pickled
        return {k: v for k, v in self.__dict__.items() if not k.startswith("_serving")}

    def _check_params(self) -> None:
        """Validate family settings (raise ValidationError naming the setting)."""

    def _fit_core(self, X: F64, y: npt.NDArray[np.int64]) -> None:
        raise NotImplementedError

    def _core_proba(self, X: F64) -> F64:
        raise NotImplementedError

    # ----------------------------------------------------------------- predicting
    def _check_fitted(self) -> None:
        if not hasattr(self, "calibrator_"):
            raise ValidationError("demand model", None, "is not fitted; call fit(frame) first")

    def predict_proba(self, frame: pd.DataFrame) -> F64:
        """Calibrated P(purchase) for each row of a frame with the feature columns (reference path)."""
        self._check_fitted()
        missing = [n for n in self.feature_names_ if n not in frame.columns]
        if missing:
            raise ValidationError("prediction frame", None, f"missing feature columns {missing}")
        X = normalise_inputs(frame, self.numeric_, self.categorical_)
        Xt = np.asarray(self.preprocessor_.transform(X), dtype=np.float64)
        return self.calibrator_.apply(self._core_proba(Xt))

    def predict_curve(
        self,
        features: Mapping[str, object],
        prices: npt.NDArray[np.int64],
        list_price: int,
        competitor_price: int | None = None,
    ) -> F64:
        """P(purchase) at each candidate price (minor units); see :class:`DemandModel`."""
        return self.predict_curves([features], [prices], [list_price], [competitor_price])[0]

    def predict_curves(
        self,
        features: Sequence[Mapping[str, object]],
        prices: Sequence[npt.NDArray[np.int64]],
        list_prices: Sequence[int],
        competitor_prices: Sequence[int | None],
    ) -> list[F64]:
        """Batched :meth:`predict_curve` for a page of products: one model call."""
        self._check_fitted()
        n = len(features)
        if not (len(prices) == len(list_prices) == len(competitor_prices) == n):
            raise ValidationError("demand query", None, "features, prices, list and competitor prices differ in length")
        c = self.compiled_
        counts = [len(p) for p in prices]
        rows = c.context_rows(features)
        if n == 1:
            price = np.asarray(prices[0], dtype=np.float64)
        else:
            price = np.concatenate([np.asarray(p, dtype=np.float64) for p in prices])
        lp = np.repeat(np.asarray(list_prices, dtype=np.float64), counts)
        comp = np.repeat(np.array([np.nan if cp is None else cp for cp in competitor_prices],
                                  dtype=np.float64), counts)
        if np.any(lp <= 0):
            raise ValidationError("demand query", "list_price", "must be positive")
        p = self.calibrator_.apply(
            self._curve_proba(rows, counts, price_feature_arrays(price, lp, comp, self.exponent_)))
        if n == 1:
            return [p]
        ends = np.cumsum(counts).tolist()  # slices, not np.split (~4 µs of overhead per piece)
        return [p[a:b] for a, b in zip([0, *ends[:-1]], ends, strict=True)]


class LogisticDemand(DemandEstimator):
    """L2-regularised logistic regression on scaled, imputed, one-hot encoded features.

    Serving is a dot product; the reference path is scikit-learn's ``predict_proba``.
    """

    family = "logistic"
    encoding = "onehot"
    scale = True

    def __init__(self, *, C: float = 1.0, max_iter: int = 1000, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.C = C
        self.max_iter = max_iter

    def _check_params(self) -> None:
        if not self.C > 0:
            raise ValidationError("demand model", "C", "must be positive")

    def _fit_core(self, X: F64, y: npt.NDArray[np.int64]) -> None:
        from sklearn.linear_model import LogisticRegression

        self.model_ = LogisticRegression(C=self.C, max_iter=self.max_iter).fit(X, y)
        self.coef_ = np.asarray(self.model_.coef_[0], dtype=np.float64)
        self.intercept_ = float(self.model_.intercept_[0])

    def _core_proba(self, X: F64) -> F64:
        z = X @ self.coef_ + self.intercept_
        return 1.0 / (1.0 + np.exp(-z))

    def _serving_terms(self) -> tuple[F64, list[tuple[str, int, int | None, F64]]] | None:
        """(context coefficients with the price columns zeroed, per price feature: its name,
        numeric index, missing-indicator column and the coefficients of both), or None when the
        encoding is not the scaled one (then the generic matrix path runs)."""
        cached = self.__dict__.get("_serving_terms_")
        if cached is not None:
            return cached  # type: ignore[no-any-return]
        c = self.compiled_
        if c.fill is None:
            return None
        coef = np.zeros(c.n_out)
        if c.support is None:
            coef[:] = self.coef_
        else:
            coef[np.flatnonzero(c.support)] = self.coef_  # dropped columns weigh nothing
        ctx = coef.copy()
        terms: list[tuple[str, int, int | None, F64]] = []
        n_num = len(c.numeric)
        for i, name in zip(c.price_idx, c.price_names, strict=True):
            ind = [n_num + k for k, feat in enumerate(c.indicator_of.tolist()) if feat == i]
            col = ind[0] if ind else None
            terms.append((name, i, col, np.array([coef[i], coef[col] if col is not None else 0.0])))
            ctx[i] = 0.0
            if col is not None:
                ctx[col] = 0.0
        out = (ctx, terms)
        self.__dict__["_serving_terms_"] = out
        return out

    def _curve_proba(self, rows: F64, counts: Sequence[int], price_values: Mapping[str, F64]) -> F64:
        """The logit is linear: context part once per product, plus the price terms per
        candidate (scaled and imputed exactly as the pipeline does), no (rows x columns) matrix."""
        serving = self._serving_terms()
        if serving is None:
            return super()._curve_proba(rows, counts, price_values)
        ctx_coef, terms = serving
        c = self.compiled_
        base = rows @ ctx_coef + self.intercept_
        z = np.repeat(base, counts) if len(counts) > 1 else np.full(counts[0], base[0])
        fill, mean, scale = c.fill, c.mean, c.scale
        assert fill is not None
        for name, i, col, w in terms:
            v = price_values[name]
            isnan = np.isnan(v)
            n_nan = int(np.count_nonzero(isnan))
            if n_nan == 0:  # the same arithmetic, the indicator a constant (0 everywhere)
                z += w[0] * ((v - mean[i]) / scale[i])
                if col is not None:
                    z += w[1] * ((0.0 - mean[col]) / scale[col])
            elif n_nan == v.shape[0]:  # e.g. no competitor price: imputed everywhere
                z += w[0] * ((fill[i] - mean[i]) / scale[i])
                if col is not None:
                    z += w[1] * ((1.0 - mean[col]) / scale[col])
            else:
                z += w[0] * ((np.where(isnan, fill[i], v) - mean[i]) / scale[i])
                if col is not None:
                    z += w[1] * ((isnan.astype(np.float64) - mean[col]) / scale[col])
        return 1.0 / (1.0 + np.exp(-z))


class ForestDemand(DemandEstimator):
    """A random forest, constrained to be non-increasing in every price column.

    scikit-learn supports monotonic constraints for forests on data without missing values;
    the shared pipeline imputes first, so the constraint applies.
    """

    family = "forest"
    encoding = "onehot"
    scale = True

    def __init__(
        self, *, n_estimators: int = 100, max_depth: int | None = 12, min_samples_leaf: int = 50,
        n_jobs: int | None = None, **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.n_estimators = n_estimators
        self.max_depth = max_depth
        self.min_samples_leaf = min_samples_leaf
        self.n_jobs = n_jobs

    def _check_params(self) -> None:
        if self.n_estimators < 1:
            raise ValidationError("demand model", "n_estimators", "must be at least 1")
        if self.min_samples_leaf < 1:
            raise ValidationError("demand model", "min_samples_leaf", "must be at least 1")

    def _fit_core(self, X: F64, y: npt.NDArray[np.int64]) -> None:
        from sklearn.ensemble import RandomForestClassifier

        cst = np.zeros(X.shape[1], dtype=np.int64)
        cst[self.price_columns_] = -1
        self.min_samples_leaf_ = leaf_size(len(y), self.min_samples_leaf)
        if self.min_samples_leaf_ != self.min_samples_leaf:
            self.fit_notes_.append(f"leaves scaled to {len(y)} rows: min_samples_leaf "
                                   f"{self.min_samples_leaf} -> {self.min_samples_leaf_}")
        self.model_ = RandomForestClassifier(
            n_estimators=self.n_estimators, max_depth=self.max_depth,
            min_samples_leaf=self.min_samples_leaf_, monotonic_cst=cst,
            n_jobs=self.n_jobs, random_state=self.random_state,
        ).fit(X, y)
        # serving predicts a few rows at a time: thread start-up would cost more than it saves
        self.model_.set_params(n_jobs=1)

    def _core_proba(self, X: F64) -> F64:
        return np.asarray(self.model_.predict_proba(X)[:, 1], dtype=np.float64)


class LGBMDemand(DemandEstimator):
    """LightGBM, monotone non-increasing in every price feature; the workhorse.

    Categoricals are ordinal codes handed to LightGBM as categorical features; numerics keep
    their NaN (LightGBM learns a direction for missing values). Serving calls the booster directly
    on a numpy matrix with one thread.

    ``n_jobs`` defaults to 1: on a shared machine OpenMP threads that spin-wait for busy cores
    made a 2-thread fit 10x slower than 1 thread (measured, see docs/benchmarks/demand.md); raise
    it on a dedicated host. ``monotone_constraints_method="intermediate"`` was the fastest of
    LightGBM's three methods here, and is less conservative than "basic". The default size
    (100 trees of 15 leaves) is set by serving cost: a page of 100 products x 20 prices costs
    about 6 ms of booster time, against 9 ms for 200 x 31, with equal held-out log loss on the
    synthetic benchmark.
    """

    family = "lgbm"
    encoding = "ordinal"
    scale = False

    def __init__(
        self, *, n_estimators: int = 100, learning_rate: float = 0.1, num_leaves: int = 15,
        min_child_samples: int = 50, feature_fraction: float = 0.9, reg_lambda: float = 1.0,
        n_jobs: int = 1, **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.feature_fraction = feature_fraction
        self.reg_lambda = reg_lambda
        self.n_jobs = n_jobs

    def _check_params(self) -> None:
        if self.n_estimators < 1:
            raise ValidationError("demand model", "n_estimators", "must be at least 1")
        if not self.learning_rate > 0:
            raise ValidationError("demand model", "learning_rate", "must be positive")
        if self.num_leaves < 2:
            raise ValidationError("demand model", "num_leaves", "must be at least 2")
        if not 0.0 < self.feature_fraction <= 1.0:
            raise ValidationError("demand model", "feature_fraction", "must be in (0, 1]")

    def lgb_params(self, n_columns: int) -> dict[str, Any]:
        """LightGBM's parameters for the fitted leaf sizes (:meth:`_fit_core` sets them)."""
        cst = [0] * n_columns
        for col in self.price_columns_:
            cst[col] = -1
        return {
            "objective": "binary", "learning_rate": self.learning_rate, "num_leaves": self.num_leaves_,
            "min_data_in_leaf": self.min_child_samples_, "feature_fraction": self.feature_fraction,
            "lambda_l2": self.reg_lambda, "monotone_constraints": cst,
            "min_data_per_group": self.min_data_per_group_,
            "monotone_constraints_method": "intermediate", "num_threads": self.n_jobs,
            "seed": self.random_state, "deterministic": True, "force_row_wise": True, "verbosity": -1,
        }

    def _fit_core(self, X: F64, y: npt.NDArray[np.int64]) -> None:
        import lightgbm as lgb

        c = self.compiled_
        cat_cols = list(range(c.n_num_out, c.n_num_out + len(self.categorical_)))
        if c.support is not None:
            kept = np.flatnonzero(c.support)
            cat_cols = [int(np.searchsorted(kept, col)) for col in cat_cols if c.support[col]]
        # thin data: leaves of the configured size would leave a constant model
        self.min_child_samples_ = leaf_size(len(y), self.min_child_samples)
        self.num_leaves_ = leaf_count(len(y), self.num_leaves, self.min_child_samples_)
        self.n_estimators_ = boosting_rounds(len(y), self.n_estimators)
        # a categorical level needs this many rows to be split on (LightGBM's default: 100)
        self.min_data_per_group_ = leaf_size(len(y), LGBM_MIN_DATA_PER_GROUP)
        fitted = (self.min_child_samples_, self.num_leaves_, self.n_estimators_)
        if fitted != (self.min_child_samples, self.num_leaves, self.n_estimators):
            self.fit_notes_.append(
                f"trees scaled to {len(y)} rows: min_data_in_leaf {self.min_child_samples} -> "
                f"{self.min_child_samples_}, num_leaves {self.num_leaves} -> {self.num_leaves_}, "
                f"rounds {self.n_estimators} -> {self.n_estimators_}")
        data = lgb.Dataset(X, label=y, categorical_feature=cat_cols, free_raw_data=True,
                           params={"verbosity": -1})
        self.booster_ = lgb.train(self.lgb_params(X.shape[1]), data, num_boost_round=self.n_estimators_)

    def _core_proba(self, X: F64) -> F64:
        return np.asarray(self.booster_.predict(X, num_threads=1), dtype=np.float64)

    def _serving_forest(self) -> tuple[CompiledForest, list[tuple[int, str]]] | None:
        """The booster compiled for curves (:mod:`pricepilot.demand.treecurves`) and the input
        column of each price feature; None if the booster uses something not compiled."""
        if "_serving_forest_" in self.__dict__:
            return self.__dict__["_serving_forest_"]  # type: ignore[no-any-return]
        c = self.compiled_
        cols: list[tuple[int, str]] = []
        kept = np.flatnonzero(c.support) if c.support is not None else None
        for i, name in zip(c.price_idx, c.price_names, strict=True):
            if kept is None:
                cols.append((i, name))
            elif c.support is not None and c.support[i]:
                cols.append((int(np.searchsorted(kept, i)), name))
        forest = compile_forest(self.booster_, [col for col, _ in cols])
        n_in = c.n_out if kept is None else len(kept)
        out = (forest, cols) if forest is not None and forest.n_columns == n_in else None
        self.__dict__["_serving_forest_"] = out
        return out

    def _curve_proba(self, rows: F64, counts: Sequence[int], price_values: Mapping[str, F64]) -> F64:
        """Context splits once per product, price splits by table lookup (same scores as the
        booster; see :mod:`pricepilot.demand.treecurves`)."""
        serving = self._serving_forest()
        if serving is None:
            return super()._curve_proba(rows, counts, price_values)
        forest, cols = serving
        c = self.compiled_
        ctx = rows if c.support is None else rows[:, c.support]
        return forest.proba(ctx, counts, {col: price_values[name] for col, name in cols})


FAMILIES: dict[str, type[DemandEstimator]] = {
    "logistic": LogisticDemand,
    "forest": ForestDemand,
    "lgbm": LGBMDemand,
}


def make_model(family: str, **params: Any) -> DemandEstimator:
    """A new, unfitted estimator of ``family`` (``lgbm``, ``logistic`` or ``forest``)."""
    try:
        cls = FAMILIES[family]
    except KeyError:
        raise ValidationError("demand model", "family", f"{family!r} is not one of {sorted(FAMILIES)}") from None
    try:
        return cls(**params)
    except TypeError as e:
        raise ValidationError("demand model", "params", f"{family}: {e}") from e
