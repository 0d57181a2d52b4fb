"""What one price decision is about, worked out once before any model call: the
:class:`Context` of the moment, the product's candidates and guardrail spec, and the features
split into the public (base) and the shopper's (``u_*``) ones (:class:`Prep`, built by
:class:`Preparer`, which refuses protected attributes among the features).

Also the small pieces every part of :class:`~pricepilot.pricing.engine.PricingEngine` shares:
:class:`EngineState` (the engine's public state, as its parts read it), the public-curve cache
entry :class:`PublicCurve`, and the curve and cache-key helpers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple, Protocol

import msgspec
import numpy as np
import numpy.typing as npt

from pricepilot.catalog.models import Guardrails, Product, effective_guardrails
from pricepilot.clock import Clock
from pricepilot.compliance.attributes import ShopperAttributes
from pricepilot.config import PricingSettings, Settings
from pricepilot.demand.base import DemandModel
from pricepilot.pricing.candidates import candidates
from pricepilot.pricing.guardrails import GuardrailSpec
from pricepilot.pricing.history import PriceHistory
from pricepilot.pricing.posterior import DemandPosterior
from pricepilot.pricing.smoothing import smooth

I64 = npt.NDArray[np.int64]
F = npt.NDArray[np.float64]

SHOPPER_PREFIX = "u_"  # shopper features; the public base price is decided without them


class Context(msgspec.Struct, frozen=True, kw_only=True):
    """What the engine needs to know about the moment, beyond the product and features."""

    competitor_price: int | None = None  # lowest known competitor price, minor units
    # the lowest competitor price off promotion: the competitor band is measured against it, so
    # a competitor's temporary promotion does not drag the band down (None: competitor_price)
    competitor_regular_price: int | None = None
    current_price: int | None = None  # today's public price (smoothing, daily change limit)
    arrivals_per_hour: float | None = None  # expected shoppers seeing the product until season end
    # mean units a purchase takes (the inventory LP's stock use per sale); 1: one unit a sale
    units_per_purchase: float = 1.0


class EngineState(Protocol):
    """The engine's public state its parts read at call time (a caller may replace any of it,
    e.g. ``engine.rng``; the parts hold a weak proxy of the engine, never a copy)."""

    @property
    def settings(self) -> Settings: ...
    @property
    def model(self) -> DemandModel | None: ...
    @property
    def posterior(self) -> DemandPosterior | None: ...
    @property
    def history(self) -> PriceHistory | None: ...
    @property
    def clock(self) -> Clock: ...
    @property
    def categories(self) -> dict[str, Guardrails] | None: ...
    @property
    def rng(self) -> np.random.Generator: ...
    @property
    def draws(self) -> int: ...
    @property
    def lp_draws(self) -> int: ...


class PublicCurve(NamedTuple):
    """One grid product's public curve as the optimiser sees it (the model's over the candidates,
    after ``pricing.curve_fit``) and its logits: a pure function of the model, the base features,
    the candidates and the competitor price, so it is kept per engine (one per model version)
    and a product quoted again with the same features skips the model call and the fit."""

    curve: F  # (K,) over the candidates
    a: float  # the fit's intercept and slope (NaN: not fitted)
    b: float
    logits: F | None  # curve_logits(curve), with the engine's own posterior class (else None)


class Prep(msgspec.Struct):
    product: Product
    g: Guardrails
    ctx: Context
    cands: I64
    base_features: dict[str, object]
    features: Mapping[str, object]
    spec: GuardrailSpec
    cand_key: tuple[object, ...]
    # the public curve the optimiser saw over ``cands`` and, when fitted, its logit-linear
    # parameters (logit P = pub_a + pub_b (price/list - 1)): the public P(buy) at any price
    pub_curve: F | None = None
    pub_a: float = float("nan")
    pub_b: float = float("nan")
    # the key of the public-curve cache (None: not cacheable) and the cached value, if any
    pub_key: tuple[object, ...] | None = None
    public: PublicCurve | None = None
    shopper_keys: tuple[str, ...] = ()  # the shopper features' names, in ``features`` order


class Preparer:
    """Builds :class:`Prep`; the feature-name check and the candidates are cached."""

    def __init__(self, engine: EngineState) -> None:
        self._engine = engine
        self._attrs = ShopperAttributes(engine.settings.compliance.protected_attributes)
        # feature-name sets already checked for protected attributes -> their non-shopper names
        self._checked_keys: dict[frozenset[str], tuple[tuple[str, ...], tuple[str, ...]]] = {}
        self._cand_cache: dict[tuple[object, ...], I64] = {}

    def prepare(self, product: Product, features: Mapping[str, object], context: Context | None) -> Prep:
        keys = frozenset(features)
        split = self._checked_keys.get(keys)
        if split is None:
            self._attrs.check_feature_names(keys)  # raises ValidationError naming them
            # the public base price is decided without the shopper's features
            split = (tuple(k for k in features if not k.startswith(SHOPPER_PREFIX)),
                     tuple(k for k in features if k.startswith(SHOPPER_PREFIX)))
            if len(self._checked_keys) >= 10_000:
                self._checked_keys.clear()
            self._checked_keys[keys] = split
        base_keys, shopper_keys = split
        ctx = context or Context()
        engine = self._engine
        g = effective_guardrails(product, engine.categories)
        ps = engine.settings.pricing
        spec = GuardrailSpec.build(
            g, cost=product.unit_cost, currency=product.currency,
            competitor_price=(ctx.competitor_regular_price if ctx.competitor_regular_price
                              is not None else ctx.competitor_price),
            current_price=ctx.current_price,
            competitor_band=ps.competitor_band, max_change=ps.max_change_per_day,
        )
        key = (product.list_price, product.unit_cost, product.currency, g.floor, g.ceiling,
               g.price_ending, g.ending_modulus, tuple(g.ladder) if g.ladder else None)
        cands = self._cand_cache.get(key)
        if cands is None:
            cands = candidates(product, g, ps.grid_size)
            cands.flags.writeable = False  # shared between decisions
            if len(self._cand_cache) >= 100_000:
                self._cand_cache.clear()
            self._cand_cache[key] = cands
        base_features = {k: features[k] for k in base_keys}
        pub_key = None
        if not g.ladder:  # ladder products take the Beta path, which has no public-curve cache
            pub_key = (key, ctx.competitor_price, base_keys, key_values(base_features.values()))
        return Prep(product, g, ctx, cands, base_features, features, spec, key, pub_key=pub_key,
                    shopper_keys=shopper_keys)


_NAN_KEY = object()  # NaN feature values in cache keys (NaN != NaN would never hit)


def key_values(values: Iterable[object]) -> tuple[object, ...]:
    """Feature values as part of a cache key: NaN as one marker, everything else as is."""
    return tuple(_NAN_KEY if v.__class__ is float and v != v else v for v in values)


def rows(arrays: Sequence[npt.NDArray[Any]]) -> npt.NDArray[Any]:
    """Equal-length 1-D arrays as the rows of a 2-D array (one array: a view, no copy)."""
    return arrays[0][None, :] if len(arrays) == 1 else np.stack(arrays)


def smoothed(prep: Prep, alpha: float) -> I64:
    """``prep``'s candidates after smoothing towards today's price."""
    spec = prep.spec
    return smooth(prep.cands, prep.ctx.current_price, alpha, ending=spec.ending,
                  modulus=spec.modulus, ladder=spec.ladder)


def horizon_hours(ps: PricingSettings) -> float | None:
    """How long finite stock with no season end still to come is planned to last (None: not)."""
    days = ps.stock_horizon_days
    return days * 24.0 if days > 0 else None


def checked(curve: object, k: int) -> F | str:
    """The curve as a float array, or the reason it cannot be used."""
    try:
        arr = np.asarray(curve, dtype=np.float64)
    except (TypeError, ValueError) as e:
        return f"demand model returned a non-numeric curve: {e}"
    if arr.shape != (k,):
        return f"demand model returned shape {arr.shape} for {k} candidate prices"
    if ((arr >= 0.0) & (arr <= 1.0)).all():  # one pass; NaN fails both comparisons
        return arr
    if not np.all(np.isfinite(arr)):
        return "demand model returned NaN or infinite probabilities"
    return "demand model returned probabilities outside [0, 1]"
