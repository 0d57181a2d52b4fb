"""Simulated shoppers: latent price sensitivity and category affinity, partly revealed.

Observable attributes (tier, device, region, channel) are drawn *correlated* with the latent
sensitivity, so a model can learn something from them but never recover it exactly. A market
may scale every sensitivity (``sensitivity_scale``: a price-sensitive mix) and make a share of
shoppers loyal (``loyal_share``: less sensitive, more frequent visitors, more often gold tier). ``gender``
is drawn independently of everything and never enters demand: it exists only so fairness
audits have a protected attribute to check.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from pricepilot.sim.config import SimConfig

TIERS = ("basic", "silver", "gold")
DEVICES = ("mobile", "desktop", "tablet")
REGIONS = ("north", "south", "east", "west")
CHANNELS = ("organic", "paid_search", "email", "social")
GENDERS = ("f", "m", "x")

F = npt.NDArray[np.float64]
I = npt.NDArray[np.int64]


@dataclass(frozen=True)
class SimShoppers:
    customer_ids: list[str]
    sensitivity: F  # latent multiplier of price sensitivity, mean ~1
    affinity: F  # (n, categories) rows sum to 1
    activity: F  # relative visit frequency
    tier: I
    device: I  # primary device
    region: I
    channel: I  # primary acquisition channel
    gender: I  # audit-only, independent of everything
    loyal: npt.NDArray[np.bool_] | None = None  # the loyal ones (None: no loyal mix)

    @property
    def n(self) -> int:
        return len(self.customer_ids)


def _choose_by_score(rng: np.random.Generator, score: F, k: int, strength: float) -> I:
    """Pick one of k levels with probabilities tilted by ``score`` (softmax over level*score)."""
    levels = np.arange(k) - (k - 1) / 2
    logits = strength * score[:, None] * levels[None, :] + rng.gumbel(size=(score.size, k))
    choice: I = np.argmax(logits, axis=1).astype(np.int64)
    return choice


def make_shoppers(cfg: SimConfig, rng: np.random.Generator) -> SimShoppers:
    n = cfg.shoppers
    z = rng.normal(0.0, 1.0, n)  # latent price-sensitivity factor
    sd = cfg.sensitivity_spread
    sensitivity = np.exp(sd * z - sd**2 / 2)
    # observables tilt with z: sensitive shoppers lean basic tier, mobile, paid search/social
    tier = _choose_by_score(rng, -z, len(TIERS), 0.9)
    device = _choose_by_score(rng, z, 2, 0.8)  # 0 mobile-ish ... 1 desktop-ish
    device = np.where(rng.random(n) < 0.1, 2, np.where(device == 1, 0, 1)).astype(np.int64)
    region = _choose_by_score(rng, z, len(REGIONS), 0.3)
    channel = _choose_by_score(rng, z, len(CHANNELS), 0.5)
    affinity = rng.dirichlet(np.full(cfg.categories, 0.6), size=n)
    activity = rng.gamma(2.0, 0.5, n)
    gender = rng.integers(0, len(GENDERS), n).astype(np.int64)
    ids = [f"c{i:05d}" for i in range(n)]
    sensitivity = sensitivity * cfg.sensitivity_scale
    loyal = None
    if cfg.loyal_share > 0:
        # drawn last, so every other attribute is the same as without a loyal mix; loyal
        # shoppers lean to the higher tiers (weights 0.6 / 1 / 1.4 around the share)
        w = np.array([0.6, 1.0, 1.4])[tier]
        loyal = rng.random(n) < np.minimum(1.0, cfg.loyal_share * w / w.mean())
        sensitivity = np.where(loyal, sensitivity * cfg.loyal_sensitivity, sensitivity)
        activity = np.where(loyal, activity * cfg.loyal_activity, activity)
    return SimShoppers(ids, sensitivity, affinity, activity, tier, device, region, channel, gender,
                       loyal)
