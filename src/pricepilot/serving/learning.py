"""Learning: the promoted model with hot reload, the demand posterior per model version (kept
across restarts in posterior files), and outcome learning from served quotes.

:meth:`Learning.pricing` is what a decision reads: the loaded model and the pricing engine
built on it, swapped together when the registry's pointer changes (another process's promotion
included). The outcome tracker pairs served quotes with purchases and expiries and feeds the
model version's posterior, under ``lock`` so no decision reads a half-learnt posterior;
:meth:`Learning.warm` teaches a version's posterior its training history before it prices live.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Mapping, Sequence

import msgspec

from pricepilot.catalog.models import Guardrails, Product
from pricepilot.clock import Clock
from pricepilot.config import Settings
from pricepilot.demand.prior import PRIOR_VERSION, PriorDemand
from pricepilot.demand.registry import ModelRegistry
from pricepilot.pricing.decision import Decision
from pricepilot.pricing.engine import Context, PricingEngine
from pricepilot.pricing.history import PriceHistory
from pricepilot.pricing.posterior import DemandPosterior, Outcome
from pricepilot.serving.models import Loaded, ModelHolder
from pricepilot.serving.outcomes import LEARN_CHUNK, OutcomeTracker, PendingQuote
from pricepilot.serving.posterior_files import PosteriorFiles

log = logging.getLogger("pricepilot.serving.learning")


class PricingState(msgspec.Struct, frozen=True):
    """The model and the engine built on it: swapped together, read once per request."""

    loaded: Loaded
    engine: PricingEngine


Item = tuple[Product, Mapping[str, object], Context]


class Learning:
    def __init__(self, settings: Settings, registry: ModelRegistry, history: PriceHistory,
                 clock: Clock, categories: dict[str, Guardrails], *, seed: int | None = None,
                 outcome_flush_seconds: float = 0.5,
                 products: Mapping[str, Product] | None = None) -> None:
        self.settings = settings
        # before any model is promoted, the day-0 curve of every product (a live mapping)
        self.prior = (PriorDemand(products) if products is not None
                      and settings.pricing.cold_start == "prior" else None)
        self.registry = registry
        self.history = history
        self.clock = clock
        self.categories = categories
        self._seed = seed
        learn = settings.service.learn_outcomes
        self.enabled = learn == "on" or (learn == "auto" and settings.online.type == "memory")
        self._posteriors: dict[str, DemandPosterior] = {}
        self.lock = threading.Lock()  # a decision never reads a half-learnt posterior
        save_s = settings.service.posterior_save_seconds
        self.posterior_files = (PosteriorFiles(settings.data_dir / "posteriors", save_s)
                                if self.enabled and save_s > 0 else None)
        self.models = ModelHolder(registry, on_swap=self._on_model_swap)
        self._pricing = self._build(self.models.current())
        self.fallback_engine = PricingEngine(settings, None, None, None, clock,
                                             categories=categories)
        self.outcomes: OutcomeTracker | None = None
        if self.enabled:
            self.outcomes = OutcomeTracker(
                clock, self._outcome_source,
                grace_seconds=settings.service.outcome_grace_seconds,
                max_pending=settings.service.max_pending_outcomes,
                interval=outcome_flush_seconds, learn_lock=self.lock,
                after_learning=None if self.posterior_files is None else self._posterior_learnt)

    # ------------------------------------------------------------------ model, hot reload
    def _build(self, loaded: Loaded) -> PricingState:
        # only before any promotion: a promoted model that fails to load is an alarm (fallback)
        if loaded.model is None and loaded.version is None and self.prior is not None:
            why = loaded.reason or "no demand model"
            loaded = Loaded(self.prior, PRIOR_VERSION, f"{why}: priced on the day-0 prior curve",
                            loaded.stamp)
        posterior = None
        if self.enabled and loaded.model is not None and loaded.version is not None:
            posterior = self._posterior(loaded.version)
        engine = PricingEngine(self.settings, loaded.model, posterior, self.history, self.clock,
                               categories=self.categories, seed=self._seed)
        return PricingState(loaded, engine)

    def _posterior(self, version: str) -> DemandPosterior:
        # what was learnt is a correction of this model's curve: kept per version, so a
        # rollback finds its own posterior again
        posterior = self._posteriors.get(version)
        if posterior is None:
            posterior = (DemandPosterior() if self.posterior_files is None
                         else self.posterior_files.load(version))
            self._posteriors[version] = posterior
        return posterior

    def _on_model_swap(self, loaded: Loaded) -> None:
        if hasattr(self, "_pricing"):
            self._pricing = self._build(loaded)

    def pricing(self) -> PricingState:
        """The current model and engine (reloaded first if the registry's pointer changed)."""
        self.models.current()  # a changed pointer swaps ``_pricing`` (``_on_model_swap``)
        return self._pricing

    def reload(self) -> None:
        self.models.reload(force=True)

    # ------------------------------------------------------------------ outcomes
    def warm(self, version: str, outcomes: Sequence[Outcome]) -> int:
        """Teach model ``version``'s demand posterior ``outcomes`` before its first live
        decision (its training history's views:
        :func:`~pricepilot.pricing.warm_start.history_outcomes`), promoted yet or not. Saved
        with the posterior files as live learning is, so every process serving the version
        starts from it. Returns the outcomes learnt: 0 with live learning off, where decisions
        use the model's curve without a posterior."""
        if not self.enabled or not outcomes:
            return 0
        posterior = self._posterior(version)
        for i in range(0, len(outcomes), LEARN_CHUNK):
            with self.lock:  # in chunks: a quote waits for at most one chunk
                posterior.learn_many(outcomes[i:i + LEARN_CHUNK])
        if self.posterior_files is not None:
            self._posterior_learnt(version, posterior, len(outcomes))
        return len(outcomes)

    def _posterior_learnt(self, version: str, posterior: DemandPosterior, n: int) -> None:
        assert self.posterior_files is not None
        try:
            self.posterior_files.learnt(version, posterior, n)
        except OSError:  # a full or read-only disk must not stop learning; the next pass retries
            log.exception("posterior of model %s could not be saved", version)

    def _outcome_source(self) -> tuple[str | None, PricingEngine, DemandPosterior | None]:
        state = self.pricing()
        return state.loaded.version, state.engine, state.engine.posterior

    def remember(self, state: PricingState, items: list[Item], decisions: list[Decision],
                 quote_ids: list[str], user_id: str) -> None:
        """Model-priced quotes wait for their outcome (bought / expired) in the tracker."""
        if self.outcomes is None:
            return
        version = state.loaded.version or ""
        self.outcomes.remember([
            # the engine's public P(buy) at the price when it knows it exactly; else the tracker
            # scores the quote from its features later (off the request path)
            PendingQuote(quote_id=qid, user_id=user_id, product=p, price=d.price,
                         decided_at=d.decided_at, expires_at=d.expires_at, model_version=version,
                         features=None if d.public_probability is not None else dict(f),
                         context=None if d.public_probability is not None else c,
                         model_prob=math.nan if d.public_probability is None else d.public_probability)
            for (p, f, c), d, qid in zip(items, decisions, quote_ids, strict=True)
            if not d.fallback])

    def status(self) -> dict[str, tuple[bool, str]]:
        """Informational readiness lines (learning never makes the service unready)."""
        out: dict[str, tuple[bool, str]] = {}
        if self.outcomes is not None:
            o = self.outcomes
            out["outcome_learning"] = (True, f"{o.bought} bought, {o.not_bought} not bought, "
                                             f"{o.pending} pending, {o.dropped} dropped")
        if self.posterior_files is not None:
            out["posterior_files"] = self.posterior_files.status()
        return out

    def close(self) -> None:
        if self.outcomes is not None:
            self.outcomes.close()  # its last pass runs first
        if self.posterior_files is not None:
            try:
                self.posterior_files.save_pending()
            except OSError:
                log.exception("posteriors could not be saved at shutdown")

