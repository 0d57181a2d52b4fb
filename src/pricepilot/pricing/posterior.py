"""The Bayesian demand posterior Thompson sampling draws from, updated one outcome at a time.

Two posteriors share one outcome stream (an :class:`Outcome` per shown price: bought or not):

* **ladder** products (a fixed menu of prices): a Beta posterior per (product, price). Its prior
  mean is the demand model's curve corrected by the product's Gaussian posterior below (which
  every rung's outcomes update, pooled towards the category), so one rung's outcomes inform its
  neighbours; where the category's other products have outcomes at that price ratio, their
  pooled rate shrunk towards that curve (hierarchical pooling); without either, 1/2. Its prior strength is ``prior_strength`` pseudo-observations (Beta(1, 1) when there is
  nothing to borrow from, as in Ferreira et al.): a rung's own outcomes soon outweigh the
  curve, so a menu whose demand is not logit-linear is still learnt rung by rung.
* **grid** products (continuous prices): a Bayesian correction of the model's curve,
  ``logit p = logit p_model + θ0 + θ1 (price/list − 1)``, with a Gaussian posterior on θ updated
  online (a Laplace / assumed-density step per outcome). The product's prior mean is its
  category's posterior mean, so new products start from what the category has learnt.

``learn_one`` and ``learn_many`` give the same state (tested); prices react to the very next
decision after an outcome is learnt.

>>> import numpy as np
>>> post = DemandPosterior()
>>> post.learn_one(Outcome(product_id="A", category="c", price=999, list_price=999,
...                        model_prob=0.3, purchased=True))
>>> a, b = post.beta_params("A", "c", np.array([999]), 999, np.array([0.3]))
>>> round(float(a[0]), 2), round(float(b[0]), 2)  # prior mean 0.3 corrected up by the sale
(1.67, 1.33)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import msgspec
import numpy as np
import numpy.typing as npt
from scipy.special import expit

from pricepilot.errors import ValidationError

F = npt.NDArray[np.float64]
_EPS = 1e-6


class Outcome(msgspec.Struct, frozen=True, kw_only=True):
    """One shown price and what the shopper did."""

    product_id: str
    category: str
    price: int  # minor units
    list_price: int
    model_prob: float  # the model's P(buy) at that price when it was shown (NaN: no model)
    purchased: bool


def _logit(p: F) -> F:
    q = np.clip(p, _EPS, 1.0 - _EPS)
    return np.asarray(np.log(q / (1.0 - q)), dtype=np.float64)


def _sigmoid(z: F) -> F:
    return np.asarray(expit(z), dtype=np.float64)


def ratio_bucket(price: int, list_price: int, width: float = 0.05) -> int:
    """Category pooling key: the price/list ratio rounded to ``width``."""
    return int(round(price / list_price / width))


@dataclass
class _Gauss:
    """Gaussian posterior on θ = (θ0, θ1), kept as mean and precision."""

    mean: F
    prec: F
    n: int = 0


class _Gaussians(msgspec.Struct, frozen=True):
    """Gaussians by key, column by column (JSON arrays encode and decode at C speed)."""

    keys: list[str]
    mean: list[float]  # 2 per key
    prec: list[float]  # 4 per key: the 2 x 2 precision, row-major
    n: list[int]


class _Counts(msgspec.Struct, frozen=True):
    """Beta counts by (key, price), column by column."""

    keys: list[str]
    price: list[int]  # the price (products) or the price/list ratio bucket (categories)
    bought: list[float]
    shown: list[float]


class PosteriorState(msgspec.Struct, frozen=True, kw_only=True):
    """The learned state of a :class:`DemandPosterior`, as stored (JSON, ``format`` 1)."""

    format: int = 1
    prior_strength: float
    prior_sd: float
    category_sd: float
    counts: _Counts
    category_counts: _Counts
    products: _Gaussians
    categories: _Gaussians
    product_category: dict[str, str]


def _gaussians_state(d: dict[str, _Gauss]) -> _Gaussians:
    gs = list(d.values())
    if not gs:
        return _Gaussians([], [], [], [])
    return _Gaussians(list(d), np.concatenate([g.mean for g in gs]).tolist(),
                      np.array([g.prec for g in gs]).ravel().tolist(), [g.n for g in gs])


def _counts_state(d: dict[tuple[str, int], list[float]]) -> _Counts:
    return _Counts([k for k, _ in d], [p for _, p in d], [c[0] for c in d.values()],
                   [c[1] for c in d.values()])


def _gaussians_of(st: _Gaussians, what: str) -> dict[str, _Gauss]:
    k = len(st.keys)
    if (len(st.mean), len(st.prec), len(st.n)) != (2 * k, 4 * k, k):
        raise ValidationError("posterior state", what, "keys, means, precisions and counts "
                              "differ in length")
    mean = np.array(st.mean, dtype=np.float64).reshape(k, 2)
    prec = np.array(st.prec, dtype=np.float64).reshape(k, 2, 2)
    n = np.array(st.n, dtype=np.int64)
    finite = np.isfinite(mean).all(axis=1) & np.isfinite(prec).all(axis=(1, 2)) & (n >= 0)
    det = prec[:, 0, 0] * prec[:, 1, 1] - prec[:, 0, 1] * prec[:, 1, 0]
    for bad, reason in ((~finite, "mean, precision or count invalid"),
                        ((prec[:, 0, 0] <= 0) | (det <= 0), "precision not positive definite")):
        if bad.any():
            raise ValidationError("posterior state", f"{what} {st.keys[int(np.argmax(bad))]}",
                                  reason)
    return {key: _Gauss(mean[i].copy(), prec[i].copy(), int(n[i]))
            for i, key in enumerate(st.keys)}


def _counts_of(st: _Counts, what: str) -> dict[tuple[str, int], list[float]]:
    k = len(st.keys)
    if (len(st.price), len(st.bought), len(st.shown)) != (k, k, k):
        raise ValidationError("posterior state", what, "keys, prices and counts differ in length")
    bought = np.array(st.bought, dtype=np.float64)
    shown = np.array(st.shown, dtype=np.float64)
    bad = ~(np.isfinite(shown) & (bought >= 0) & (bought <= shown))
    if bad.any():
        i = int(np.argmax(bad))
        raise ValidationError("posterior state", f"{what} {st.keys[i]}@{st.price[i]}",
                              f"bought {bought[i]} of {shown[i]} shown")
    return {(key, price): [b, n] for key, price, b, n
            in zip(st.keys, st.price, st.bought, st.shown, strict=True)}


@dataclass
class DemandPosterior:
    """Posterior over purchase probabilities, per product, pooled towards its category.

    ``prior_strength``: pseudo-observations of the Beta prior when a prior mean is borrowed.
    ``prior_sd``: prior standard deviation of the correction θ around the category mean.
    ``category_sd``: prior standard deviation of the category's θ around 0 (the model is right).
    """

    prior_strength: float = 2.0
    prior_sd: float = 0.5
    category_sd: float = 1.0
    # learned state
    counts_: dict[tuple[str, int], list[float]] = field(default_factory=dict)  # (s, n)
    category_counts_: dict[tuple[str, int], list[float]] = field(default_factory=dict)
    products_: dict[str, _Gauss] = field(default_factory=dict)
    categories_: dict[str, _Gauss] = field(default_factory=dict)
    product_category_: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.prior_strength <= 0:
            raise ValidationError("posterior", "prior_strength", "must be positive")
        if self.prior_sd <= 0 or self.category_sd <= 0:
            raise ValidationError("posterior", "prior_sd", "standard deviations must be positive")

    # ---- persistence -------------------------------------------------------------------------
    def to_bytes(self) -> bytes:
        """The learned state as JSON (:class:`PosteriorState`); :meth:`from_bytes` restores it."""
        return msgspec.json.encode(PosteriorState(
            prior_strength=self.prior_strength, prior_sd=self.prior_sd,
            category_sd=self.category_sd,
            counts=_counts_state(self.counts_),
            category_counts=_counts_state(self.category_counts_),
            products=_gaussians_state(self.products_),
            categories=_gaussians_state(self.categories_),
            product_category=dict(self.product_category_),
        ))

    @classmethod
    def from_bytes(cls, data: bytes) -> DemandPosterior:
        """A posterior with the state :meth:`to_bytes` wrote; bad data raises
        :class:`~pricepilot.errors.ValidationError` naming what is wrong."""
        try:
            st = msgspec.json.decode(data, type=PosteriorState)
        except msgspec.ValidationError as e:
            raise ValidationError("posterior state", None, str(e)) from e
        except msgspec.DecodeError as e:
            raise ValidationError("posterior state", None, f"not valid JSON: {e}") from e
        if st.format != 1:
            raise ValidationError("posterior state", "format", f"unknown format {st.format}")
        post = cls(prior_strength=st.prior_strength, prior_sd=st.prior_sd,
                   category_sd=st.category_sd)
        post.counts_ = _counts_of(st.counts, "counts")
        post.category_counts_ = _counts_of(st.category_counts, "category_counts")
        post.products_ = _gaussians_of(st.products, "products")
        post.categories_ = _gaussians_of(st.categories, "categories")
        post.product_category_ = dict(st.product_category)
        return post

    # ---- learning -------------------------------------------------------------------------
    def learn_one(self, o: Outcome) -> None:
        """Update every posterior the outcome informs."""
        if o.list_price <= 0 or o.price <= 0:
            raise ValidationError("outcome", "price", "prices must be positive")
        y = 1.0 if o.purchased else 0.0
        c = self.counts_.setdefault((o.product_id, o.price), [0.0, 0.0])
        c[0] += y
        c[1] += 1.0
        cc = self.category_counts_.setdefault(
            (o.category, ratio_bucket(o.price, o.list_price)), [0.0, 0.0]
        )
        cc[0] += y
        cc[1] += 1.0
        self.product_category_[o.product_id] = o.category
        if np.isfinite(o.model_prob):
            z = np.array([1.0, o.price / o.list_price - 1.0])
            base = float(_logit(np.array([o.model_prob]))[0])
            cat = self._category(o.category)
            prod = self._product(o.product_id, o.category)
            _gauss_step(cat, z, base, y)
            _gauss_step(prod, z, base, y)

    def learn_many(self, outcomes: Sequence[Outcome]) -> None:
        """Batched twin of :meth:`learn_one`: the same state as learning them in order.

        Beta counts are summed in one pass; the Gaussian steps depend on the running mean, so
        they are applied in order (arrays, no per-outcome allocation beyond the step itself).
        """
        for o in outcomes:
            self.learn_one(o)

    def _category(self, category: str) -> _Gauss:
        g = self.categories_.get(category)
        if g is None:
            g = _Gauss(np.zeros(2), np.eye(2) / self.category_sd**2)
            self.categories_[category] = g
        return g

    def _product(self, product_id: str, category: str) -> _Gauss:
        g = self.products_.get(product_id)
        if g is None:
            # start from the category's current mean: hierarchical shrinkage
            cat = self._category(category)
            g = _Gauss(cat.mean.copy(), np.eye(2) / self.prior_sd**2)
            self.products_[product_id] = g
        return g

    # ---- ladder: Beta per (product, price) ------------------------------------------------
    def beta_params(
        self, product_id: str, category: str, prices: npt.NDArray[np.int64], list_price: int,
        model_probs: F | None,
    ) -> tuple[F, F]:
        """Beta(a, b) per ladder price: borrowed prior + the product's own counts."""
        k = prices.shape[0]
        s = np.zeros(k)
        n = np.zeros(k)
        # the curve: the model's, corrected by the product's posterior (level and slope, learnt
        # from every rung's outcomes and pooled towards its category), so one rung's outcomes
        # move its neighbours' prior means; 1/2 without a model
        curve = np.full(k, 0.5)
        if model_probs is not None:
            mu, _ = self.correction(product_id, category)
            curve = self.corrected(np.asarray(model_probs, dtype=np.float64),
                                   prices / float(list_price), mu)
        m = np.clip(curve, _EPS, 1 - _EPS) if model_probs is not None else np.full(k, np.nan)
        for i, p in enumerate(prices.tolist()):
            c = self.counts_.get((product_id, p))
            if c is not None:
                s[i], n[i] = c
            cc = self.category_counts_.get((category, ratio_bucket(p, list_price)))
            if cc is not None and cc[1] > n[i]:
                # the category's other products at this ratio (own data removed), shrunk towards
                # the curve worth 2 of their observations ((s + 1) / (n + 2) without a model)
                other_s, other_n = cc[0] - s[i], cc[1] - n[i]
                m[i] = (other_s + 2.0 * curve[i]) / (other_n + 2.0)
        borrowed = ~np.isnan(m)
        a0 = np.where(borrowed, m * self.prior_strength, 1.0)
        b0 = np.where(borrowed, (1.0 - m) * self.prior_strength, 1.0)
        return a0 + s, b0 + (n - s)

    # ---- grid: Gaussian correction on the model's logit ---------------------------------------
    def correction(self, product_id: str, category: str) -> tuple[F, F]:
        """(mean, covariance) of θ for a product (its category's prior if it has no data)."""
        g = self.products_.get(product_id)
        if g is None:
            cat = self.categories_.get(category)
            mean = cat.mean.copy() if cat is not None else np.zeros(2)
            cov = np.eye(2) * self.prior_sd**2
            if cat is not None:
                cov = cov + np.linalg.inv(cat.prec)
            return mean, cov
        return g.mean.copy(), np.asarray(np.linalg.inv(g.prec), dtype=np.float64)

    def corrected(
        self, model_probs: F, ratios: F, theta: F
    ) -> F:
        """P(buy) under correction(s) ``theta`` (2,) or (M, 2) -> (K,) or (M, K)."""
        base = _logit(model_probs)
        z1 = ratios - 1.0
        if theta.ndim == 1:
            return _sigmoid(base + theta[0] + theta[1] * z1)
        return _sigmoid(base[None, :] + theta[:, :1] + theta[:, 1:2] * z1[None, :])


    def corrected_batch(self, model_probs: F, ratios: F, theta: F) -> F:
        """Many products at once: curves (P, K), ratios (P, K), θ (P, M, 2) -> (P, M, K)."""
        return self.corrected_logits(_logit(model_probs), ratios, theta)

    @staticmethod
    def corrected_logits(base_logits: F, ratios: F, theta: F) -> F:
        """:meth:`corrected_batch` from the curves' logits (``logit(curves)``, (P, K)), which a
        caller deciding the same curve many times can keep."""
        z1 = (ratios - 1.0)[:, None, :]
        return _sigmoid(base_logits[:, None, :] + theta[:, :, :1] + theta[:, :, 1:2] * z1)


def curve_logits(curves: F) -> F:
    """``logit`` of purchase probabilities, clipped as the corrections clip them."""
    return _logit(curves)


def _gauss_step(g: _Gauss, z: F, base: float, y: float) -> None:
    """One Laplace / assumed-density update of a Gaussian posterior for a logistic outcome."""
    p = float(_sigmoid(np.array([base + float(g.mean @ z)]))[0])
    w = max(p * (1.0 - p), 1e-4)
    g.prec = g.prec + w * np.outer(z, z)
    g.mean = g.mean + np.linalg.solve(g.prec, z) * (y - p)
    g.n += 1


def sample_beta(a: F, b: F, n: int, rng: np.random.Generator) -> F:
    """``n`` Thompson draws of every Beta(a, b): shape (n, K)."""
    return rng.beta(np.broadcast_to(a, (n, a.shape[-1])), np.broadcast_to(b, (n, b.shape[-1])))


def beta_update(a: F, b: F, arm: npt.NDArray[np.int64], bought: npt.NDArray[np.bool_],
                shown: npt.NDArray[np.bool_]) -> None:
    """Vectorised conjugate update of many independent Beta posteriors (rows) in place."""
    rows = np.nonzero(shown)[0]
    np.add.at(a, (rows, arm[rows]), bought[rows].astype(np.float64))
    np.add.at(b, (rows, arm[rows]), 1.0 - bought[rows].astype(np.float64))
