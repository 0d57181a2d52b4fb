"""Competitors with their own repricing rules, stepped once per day.

* ``undercut_co``: sells most products at ``our yesterday's price * (1 - 5%)``, never below
  ``max(cost * 1.05, list * 0.85)`` (it watches us and reacts a day late, but stops a price war
  at 85% of list);
* ``costplus_mart``: a fixed markup on cost per product;
* ``promo_shop``: near list price, with random promotions (10-30% off) that run 3-7 days.

Each carries a random subset of the catalogue. ``lowest`` is what true demand compares with.
The cut, its floor, the promotion rate and depth are market settings (:class:`CompetitorRules`,
from :class:`~pricepilot.sim.config.SimConfig`). In the ``"index"`` mode every competitor instead
prices at its base price times one market index (a mean-reverting random walk in logs, e.g. a
commodity or wholesale index), so all rivals move together and nobody watches us.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from pricepilot.sim.config import SimConfig
from pricepilot.sim.products import SimCatalog

COMPETITOR_NAMES = ("undercut_co", "costplus_mart", "promo_shop")
I = npt.NDArray[np.int64]
F = npt.NDArray[np.float64]


@dataclass(frozen=True)
class CompetitorRules:
    """How the competitors reprice (defaults: the original market)."""

    undercut: float = 0.05
    undercut_floor: float = 0.85
    promo_rate: float = 0.04
    promo_depth: tuple[float, float] = (0.1, 0.3)
    mode: str = "rules"
    index_volatility: float = 0.03

    @classmethod
    def from_config(cls, cfg: SimConfig) -> CompetitorRules:
        return cls(cfg.undercut, cfg.undercut_floor, cfg.promo_rate, cfg.promo_depth,
                   cfg.competitor_mode, cfg.index_volatility)


INDEX_REVERSION = 0.9  # log index <- 0.9 * log index + noise: it wanders but comes back


@dataclass
class Competitors:
    """Competitor prices of the current day; ``step`` advances one day."""

    names: list[str]
    carries: npt.NDArray[np.bool_]  # (m, n)
    price: I  # (m, n) minor units, valid where carries
    promo: npt.NDArray[np.bool_]  # (m, n)
    _cost: I
    _list: I
    _markup: F
    _base: I
    _promo_left: I
    _promo_price: I
    _rng: np.random.Generator
    _undercut: float = 0.05
    _started: bool = field(default=False)
    rules: CompetitorRules = field(default_factory=CompetitorRules)
    _log_index: float = 0.0
    _offset: F | None = None  # "index": each competitor's fixed offset from the index

    @classmethod
    def create(cls, count: int, catalog: SimCatalog, rng: np.random.Generator,
               rules: CompetitorRules | None = None) -> Competitors:
        n = catalog.n
        carries = rng.random((3, n)) < np.array([0.7, 0.6, 0.5])[:, None]
        markup = rng.uniform(0.45, 0.9, n)
        base = np.rint(catalog.list_price * rng.uniform(0.97, 1.1, n)).astype(np.int64)
        m = count
        rules = rules or CompetitorRules()
        # drawn only in the index mode, so the rules mode's stream is the original one
        offset = rng.uniform(0.95, 1.05, m) if rules.mode == "index" else None
        return cls(
            names=list(COMPETITOR_NAMES[:m]), carries=carries[:m],
            price=np.zeros((m, n), np.int64), promo=np.zeros((m, n), bool),
            _cost=catalog.cost, _list=catalog.list_price, _markup=markup, _base=base,
            _promo_left=np.zeros(n, np.int64), _promo_price=base.copy(), _rng=rng,
            _undercut=rules.undercut, rules=rules, _offset=offset,
        )

    def step(self, our_price: I) -> npt.NDArray[np.bool_]:
        """Reprice for a new day given our (mean shown) price of the previous day.

        Returns the (m, n) mask of prices or promotion flags that changed (all carried ones on
        the first day): those are the competitor_price events of the day.
        """
        old_price, old_promo = self.price.copy(), self.promo.copy()
        m = len(self.names)
        n = self._cost.size
        # draw promotions every day whatever the count, so the stream never depends on our prices
        start = (self._promo_left == 0) & (self._rng.random(n) < self.rules.promo_rate)
        length = self._rng.integers(3, 8, n)
        depth = self._rng.uniform(*self.rules.promo_depth, n)
        self._promo_left = np.where(start, length, np.maximum(self._promo_left - 1, 0))
        self._promo_price = np.where(start, np.rint(self._base * (1 - depth)).astype(np.int64),
                                     self._promo_price)
        if self._offset is not None:
            self._index_step(self._offset)
        elif m >= 1:
            # it will not follow us into a price war below 85% of list (nor below cost + 5%)
            floor = np.ceil(np.maximum(self._cost * 1.05, self._list * self.rules.undercut_floor)
                            ).astype(np.int64)
            self.price[0] = np.maximum(floor, np.rint(our_price * (1 - self._undercut)).astype(np.int64))
        if self._offset is None and m >= 2:
            self.price[1] = np.rint(self._cost * (1 + self._markup)).astype(np.int64)
        if self._offset is None and m >= 3:
            on = self._promo_left > 0
            self.price[2] = np.where(on, self._promo_price, self._base)
            self.promo[2] = on
        changed = (self.price != old_price) | (self.promo != old_promo)
        if not self._started:
            changed[:] = True
            self._started = True
        carried: npt.NDArray[np.bool_] = changed & self.carries
        return carried

    def _index_step(self, offset: F) -> None:
        """Every competitor at its base price times the market index of today."""
        noise = float(self._rng.normal(0.0, self.rules.index_volatility))
        self._log_index = INDEX_REVERSION * self._log_index + noise
        level = np.exp(self._log_index) * offset[:, None]
        floor = np.ceil(self._cost * 1.05)
        self.price[:] = np.maximum(floor, np.rint(self._base[None, :] * level)).astype(np.int64)

    def lowest(self) -> F:
        """Lowest competitor price per product today (NaN where nobody sells it)."""
        if not self.names:
            return np.full(self._cost.size, np.nan)
        p = np.where(self.carries, self.price.astype(np.float64), np.inf)
        low = p.min(axis=0)
        return np.where(np.isinf(low), np.nan, low)
