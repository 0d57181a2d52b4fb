"""One typed settings object, built once at start-up and passed explicitly.

Sources, later wins: built-in defaults, a ``pricepilot.toml`` file, ``PRICEPILOT_*`` environment
variables. Nested settings use a double underscore: ``PRICEPILOT_STORE__URL`` sets
``store.url``. Unknown settings and wrong types fail at start-up with a :class:`ConfigError`
naming the setting.

>>> s = load_settings(env={"PRICEPILOT_SHOP__CURRENCY": "USD"}, path=None)
>>> s.shop.currency
'USD'
"""

from __future__ import annotations

import math
import os
import re
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import msgspec

from pricepilot.errors import ConfigError
from pricepilot.money import CURRENCY_EXPONENTS

ENV_PREFIX = "PRICEPILOT_"
DEFAULT_FILE = "pricepilot.toml"
# Used only when no key is configured; `pricepilot` warns on it and production config must set one.
DEV_KEY = "pricepilot-development-key-change-me"


class _Section(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    pass


class ShopSettings(_Section):
    name: str = "demo shop"
    currency: str = "EUR"
    timezone: str = "UTC"


class StoreSettings(_Section):
    type: Literal["sqlite", "postgresql"] = "sqlite"
    # SQLAlchemy URL; for sqlite a relative path is relative to `paths.data_dir`.
    url: str = ""


class OnlineSettings(_Section):
    """Online feature state and the event bus."""

    type: Literal["memory", "redis"] = "memory"
    # Client timeouts bound a quote when Redis hangs (it then falls back instead of waiting).
    url: str = "redis://127.0.0.1:6379/0?socket_timeout=0.5&socket_connect_timeout=0.5"
    key_prefix: str = "pp:"
    # idempotency by event_id: memory keeps this many recent ids, Redis keeps each for this long
    seen_capacity: int = 1_000_000
    seen_ttl_seconds: int = 7 * 86_400
    # Redis: a shopper's per-session view counts expire this long after their last view
    session_ttl_seconds: int = 86_400


class PathSettings(_Section):
    data_dir: str = "pricepilot-data"
    models_dir: str = ""  # default: <data_dir>/models
    reports_dir: str = ""  # default: <data_dir>/reports


class SecuritySettings(_Section):
    # Key of the HMAC that turns a shop's customer id into a pseudonymous shopper id.
    pseudonym_key: str = DEV_KEY
    # Quote-signing keys by key id; the first listed in `quote_key_order` signs, all verify.
    quote_keys: dict[str, str] = msgspec.field(default_factory=lambda: {"k1": DEV_KEY})
    quote_key_order: list[str] = msgspec.field(default_factory=lambda: ["k1"])
    quote_ttl_seconds: int = 900


class PlausibilitySettings(_Section):
    """``[ingest.plausibility]``: values an event can carry but cannot truly have, refused with
    the rule named by file ingestion and ``POST /v1/events`` alike (events/plausibility.py).
    The future bound is ``ingest.future_tolerance_seconds``."""

    min_price: int = 1  # minor units: a price of 0 is refused (0 here accepts free items)
    max_price: int = 1_000_000_000  # minor units, any currency
    # A known product's event in the product's currency: price within these factors of its list
    # price (a markdown of 95 % or a price 20 times the list price is a data error, not a price).
    min_list_price_factor: float = 0.05
    max_list_price_factor: float = 20.0
    max_age_days: int = 1826  # a ts more than ~5 years before the clock's now is refused
    max_quantity: int = 1000  # units on one cart or purchase line


class IngestSettings(_Section):
    future_tolerance_seconds: int = 300
    plausibility: PlausibilitySettings = msgspec.field(default_factory=PlausibilitySettings)
    on_error: Literal["fail", "skip"] = "fail"
    # What to do with a missing optional value: drop the row, or fill with the declared default.
    missing: Literal["drop", "fill"] = "fill"
    # "rolling": each price against the prices around it in time, per product (events/clean.py),
    # so a markdown that persists is a price change; "iqr"/"zscore": one distribution per product
    outlier_method: Literal["rolling", "zscore", "iqr"] = "rolling"
    outlier_threshold: float = 3.0
    batch_size: int = 50_000
    # Insert batch k on a worker thread while batch k+1 is read and validated. On by default:
    # with a second core free it was faster in every side-by-side pair (1 M events into SQLite,
    # median 107.5 k vs 87.4 k events/s at load 1.8); on a saturated machine it costs 0-8 % more
    # CPU (GIL hand-offs) for no gain, so a host without a spare core may turn it off. See
    # docs/benchmarks/ingest.md.
    pipeline: bool = True


class ComplianceSettings(_Section):
    # Patterns of protected attribute names, refused in shopper files, HTTP requests and model
    # features. Matched on words, not substrings (compliance/attributes.py): a name is split on
    # non-alphanumerics and camelCase, and is protected when a pattern's words occur in it in a
    # row: "age" matches "customerAge" and "attr_age" but not "page" or "average_order".
    protected_attributes: list[str] = msgspec.field(
        default_factory=lambda: [
            "gender", "sex", "age", "date_of_birth", "birth_date", "birthday", "dob",
            "ethnicity", "ethnic", "race", "religion", "religious", "disability",
            "sexual_orientation", "pregnancy", "pregnant", "marital_status", "nationality",
        ]
    )
    # Protected attributes that may be stored for fairness audits only (never used in prices),
    # matched the same way.
    audit_only: list[str] = msgspec.field(default_factory=list)
    prior_price_days: int = 30


class PricingSettings(_Section):
    objective: Literal["profit", "revenue", "mix"] = "profit"
    revenue_weight: float = 0.0  # with objective "mix": weight of revenue vs profit in [0, 1]
    smoothing_alpha: float = 0.5
    max_change_per_day: float = 0.10  # fraction of the current price
    # Stay within +-30% of the lowest competitor regular price, if known: a rail against a
    # model wandering off the market, as wide as the default candidate grid (0.7-1.3 x list),
    # not a pricing policy (the demand model prices competitors in). Measured across the
    # robustness variants, +-15% bound most decisions on stocked markets and pinned prices to an
    # undercutter's floor (docs/benchmarks/robustness.md, "Guardrail defaults"); a shop with a
    # price-image policy declares its own band.
    competitor_band: float = 0.30
    grid_size: int = 20
    exploration: bool = True
    # Thompson sampling explores only among candidates whose posterior-mean expected profit is
    # within this fraction of the posterior-mean optimum's (pricing/explore.py: safe_set), so a
    # decision gives up at most this share of expected profit to learn; 1: unrestricted
    exploration_max_loss: float = 0.05
    personal_discount_max: float = 0.10  # personal layer: at most 10% below the base price
    allow_surcharge: bool = False
    # "logit_linear": optimise over a smooth logit-linear fit of the model's curve instead of the
    # step-shaped curve a tree model gives (pricing/curve_fit.py); "none": the curve as it is
    curve_fit: Literal["none", "logit_linear"] = "logit_linear"
    # finite stock with no season end still to come is planned to last this many days (the
    # inventory LP over a rolling horizon, e.g. the restock lead time); 0: sell it unconstrained
    stock_horizon_days: float = 28.0
    # Expected shoppers per hour who see a product before its first view; after it, the served
    # arrival rate is (views in the last 7 days + this x 24) / (hours observed + 24) per hour,
    # the hours observed being those since the product's first view, at most 7 x 24 (a
    # Gamma-Poisson estimate with the prior worth one day of traffic). So the inventory LP
    # engages for stocked and seasonal products from the first quote and follows live traffic.
    # Low on purpose: too low only delays rationing scarce stock until views arrive, too high
    # raises the price of every stocked product on a new install (the LP rations stock it
    # believes too many shoppers want).
    prior_arrivals_per_hour: float = 0.1
    # Before any model is promoted: "prior" prices, explores and learns from the first view on
    # the day-0 demand curve (demand/prior.py: the list price as the prior optimum, the posterior
    # correcting level and slope from every outcome); "list_price" serves guarded list prices.
    cold_start: Literal["prior", "list_price"] = "prior"
    # How far a trained model's price slope is trusted: the prior (the Lerner slope, under which
    # the list price is the profit optimum) has this standard deviation in logit per unit of
    # price / list; a model's slope outweighs it as its training prices varied
    # (pricing/price_response.py). Smaller: slower to leave the list price on thin evidence.
    prior_slope_sd: float = 1.5


class PromotionSettings(_Section):
    compounding: Literal["running_net", "original"] = "running_net"
    threshold_base: Literal["running_net", "original"] = "running_net"
    rounding: Literal["half_up", "half_even", "down", "up", "floor", "ceiling"] = "half_up"
    rounding_point: Literal["unit", "line", "promotion"] = "line"
    allocation: Literal["largest_remainder", "remainder_to_first", "remainder_to_last"] = (
        "largest_remainder"
    )
    consumption: Literal["deals", "all"] = "deals"
    best_deal: bool = True


class ServiceSettings(_Section):
    host: str = "127.0.0.1"
    port: int = 8000
    max_body_bytes: int = 1_048_576
    # API keys are stored hashed: sha256 hex digest -> list of scopes.
    api_keys: dict[str, list[str]] = msgspec.field(default_factory=dict)
    workers: int = 1
    server: Literal["granian", "uvicorn"] = "granian"
    # Seconds a client is told to wait (Retry-After) when a dependency is unavailable.
    retry_after_seconds: int = 5
    # A quote not decided within this many milliseconds is served as the guarded fallback, so a
    # hanging dependency cannot hold the storefront (or freeze the worker). 0: no deadline.
    quote_deadline_ms: int = 500
    # Where quotes are decided: "on" = on a quote thread, within quote_deadline_ms; "off" = on the
    # event loop, no deadline; "auto" = on when a quote waits on the network (PostgreSQL store or
    # Redis features: a peer that hangs must not hold the worker), off on the embedded default
    # (SQLite WAL reads and in-process features cannot hang on a peer; the thread hop costs
    # ~0.25 ms of CPU per quote, docs/benchmarks/serve.md).
    quote_thread: Literal["auto", "on", "off"] = "auto"
    # Events, carts, orders, erasure, consent and admin calls do their store / ledger I/O on a pool
    # of `write_threads` threads; past `write_deadline_ms` the request is answered 503 with
    # Retry-After (the write may still finish; every write is idempotent, so the retry is safe).
    # 0: run inline on the event loop, no deadline. Queueing for a thread counts: on an overloaded
    # host a deadline too tight turns slow writes into 503s (the client resends; idempotent).
    write_deadline_ms: int = 5000
    write_threads: int = 4
    # Live outcome attribution feeding the pricing engine's demand posterior (Thompson sampling):
    # "auto" = on with in-process online features (one worker), off with Redis (several workers
    # would each keep their own posterior and miss purchases sent to another worker).
    learn_outcomes: Literal["auto", "on", "off"] = "auto"
    # a quote unanswered this long after it expired counts as "not bought"
    outcome_grace_seconds: int = 60
    # quotes remembered for attribution at most (the oldest are dropped, not learnt, beyond it)
    max_pending_outcomes: int = 100_000
    # what live learning learnt is written to <data_dir>/posteriors/<model version>.json at most
    # this often (and at shutdown) and read back at start-up; 0: kept in memory only
    posterior_save_seconds: float = 30.0
    # Every process (workers, replicas, the CLI) sees a catalogue, guardrail or base-price change
    # made by another within this many seconds (one small read of the store's change counter).
    sync_seconds: float = 1.0
    # "module:factory" building the ServiceBackend; empty: pricepilot.service.wiring's default.
    backend: str = ""


class CheckoutSettings(_Section):
    """Cart pricing and order confirmation (serving/checkout.py)."""

    # A quoted line may carry at most this many units: a quote is one shopper's offer, not a
    # wholesale price (a leaked or replayed quote cannot buy out the stock at its price).
    max_quoted_quantity: int = 100


class TrainingSettings(_Section):
    # Scheduled retraining (serving/retraining.py): every this many hours on the application's
    # clock a new demand model is trained on the store's data and promoted only if it beats the
    # current one on views the current one never saw (docs/demand.md). 0: off.
    retrain_every_hours: float = 24.0


class DemoSettings(_Section):
    """``pricepilot demo`` (cli/demo_cmd.py)."""

    # How long the live step waits for the service it starts to answer /readyz, in seconds: it
    # loads the model and replays the store's events first, which on a loaded machine took
    # over a minute. Generous: a slow machine must not fail the demo; `--ready-timeout` overrides.
    ready_timeout_s: float = 300.0


class Settings(_Section):
    shop: ShopSettings = msgspec.field(default_factory=ShopSettings)
    store: StoreSettings = msgspec.field(default_factory=StoreSettings)
    online: OnlineSettings = msgspec.field(default_factory=OnlineSettings)
    paths: PathSettings = msgspec.field(default_factory=PathSettings)
    security: SecuritySettings = msgspec.field(default_factory=SecuritySettings)
    ingest: IngestSettings = msgspec.field(default_factory=IngestSettings)
    compliance: ComplianceSettings = msgspec.field(default_factory=ComplianceSettings)
    pricing: PricingSettings = msgspec.field(default_factory=PricingSettings)
    promotions: PromotionSettings = msgspec.field(default_factory=PromotionSettings)
    service: ServiceSettings = msgspec.field(default_factory=ServiceSettings)
    checkout: CheckoutSettings = msgspec.field(default_factory=CheckoutSettings)
    training: TrainingSettings = msgspec.field(default_factory=TrainingSettings)
    demo: DemoSettings = msgspec.field(default_factory=DemoSettings)

    @property
    def data_dir(self) -> Path:
        return Path(self.paths.data_dir)

    @property
    def models_dir(self) -> Path:
        return Path(self.paths.models_dir) if self.paths.models_dir else self.data_dir / "models"

    @property
    def reports_dir(self) -> Path:
        return Path(self.paths.reports_dir) if self.paths.reports_dir else self.data_dir / "reports"

    @property
    def database_url(self) -> str:
        """The SQLAlchemy URL of the store (the embedded SQLite file by default)."""
        if self.store.url:
            return self.store.url
        return f"sqlite:///{self.data_dir / 'pricepilot.sqlite'}"


def _parse_env_value(raw: str) -> Any:
    """Env values are TOML literals when they parse as one (numbers, booleans, lists), else text."""
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw


def _set_path(data: dict[str, Any], path: list[str], value: Any, name: str) -> None:
    node = data
    for part in path[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConfigError(name, f"{part!r} is not a section")
        node = child
    node[path[-1]] = value


_MSGSPEC_PATH = re.compile(r"at `\$((?:\.[A-Za-z_0-9]+|\[[^\]]*\])*)`")


def _setting_name(msg: str) -> str:
    m = _MSGSPEC_PATH.search(msg)
    if not m:
        return "<settings>"
    return m.group(1).lstrip(".") or "<settings>"


def _validate(s: Settings) -> None:
    if not (s.demo.ready_timeout_s > 0.0 and math.isfinite(s.demo.ready_timeout_s)):
        raise ConfigError("demo.ready_timeout_s", "must be a positive number of seconds")
    if s.shop.currency not in CURRENCY_EXPONENTS:
        raise ConfigError("shop.currency", f"unknown currency {s.shop.currency!r}")
    try:
        from zoneinfo import ZoneInfo

        ZoneInfo(s.shop.timezone)
    except Exception as e:  # ZoneInfoNotFoundError, ValueError for malformed keys
        raise ConfigError("shop.timezone", f"unknown time zone {s.shop.timezone!r}") from e
    if s.store.type == "postgresql" and not s.store.url.startswith("postgresql"):
        raise ConfigError("store.url", "store.type 'postgresql' needs a postgresql:// URL")
    if not 0.0 < s.pricing.smoothing_alpha <= 1.0:
        raise ConfigError("pricing.smoothing_alpha", "must be in (0, 1]")
    if not 0.0 <= s.pricing.revenue_weight <= 1.0:
        raise ConfigError("pricing.revenue_weight", "must be in [0, 1]")
    if not 0.0 <= s.pricing.personal_discount_max < 1.0:
        raise ConfigError("pricing.personal_discount_max", "must be in [0, 1)")
    if s.pricing.grid_size < 2:
        raise ConfigError("pricing.grid_size", "must be at least 2")
    if not (s.pricing.stock_horizon_days >= 0.0 and math.isfinite(s.pricing.stock_horizon_days)):
        raise ConfigError("pricing.stock_horizon_days", "must be a finite number of days, 0 or more")
    if not 0.0 <= s.pricing.exploration_max_loss <= 1.0:
        raise ConfigError("pricing.exploration_max_loss", "must be in [0, 1]")
    if not (s.pricing.prior_slope_sd > 0.0 and math.isfinite(s.pricing.prior_slope_sd)):
        raise ConfigError("pricing.prior_slope_sd", "must be a finite number above 0")
    if not (s.pricing.prior_arrivals_per_hour > 0.0 and math.isfinite(s.pricing.prior_arrivals_per_hour)):
        raise ConfigError("pricing.prior_arrivals_per_hour", "must be a finite number above 0")
    if not (s.service.sync_seconds >= 0.0 and math.isfinite(s.service.sync_seconds)):
        raise ConfigError("service.sync_seconds", "must be a finite number of seconds, 0 or more")
    every = s.training.retrain_every_hours
    if not (every >= 0.0 and math.isfinite(every)):
        raise ConfigError("training.retrain_every_hours",
                          "must be a finite number of hours, 0 (off) or more")
    if not s.security.quote_key_order:
        raise ConfigError("security.quote_key_order", "needs at least one key id")
    for kid in s.security.quote_key_order:
        if kid not in s.security.quote_keys:
            raise ConfigError("security.quote_key_order", f"key id {kid!r} has no key in quote_keys")
    if len(s.security.pseudonym_key) < 16:
        raise ConfigError("security.pseudonym_key", "must be at least 16 characters")
    for name in ("seen_capacity", "seen_ttl_seconds", "session_ttl_seconds"):
        if getattr(s.online, name) < 1:
            raise ConfigError(f"online.{name}", "must be positive")
    if s.ingest.batch_size < 1:
        raise ConfigError("ingest.batch_size", "must be positive")
    _validate_plausibility(s.ingest.plausibility)
    if s.service.max_body_bytes < 1024:
        raise ConfigError("service.max_body_bytes", "must be at least 1024")
    if not 0 < s.service.port < 65536:
        raise ConfigError("service.port", "must be in 1-65535")
    if s.service.workers < 1:
        raise ConfigError("service.workers", "must be at least 1")
    if s.service.workers > 1 and s.online.type == "memory":
        # each process would keep its own online features: an event sent to one worker would
        # be invisible to quotes answered by the others
        raise ConfigError("service.workers", "more than one worker needs online.type = 'redis'")
    if s.service.quote_deadline_ms < 0:
        raise ConfigError("service.quote_deadline_ms", "must not be negative")
    if s.service.write_deadline_ms < 0:
        raise ConfigError("service.write_deadline_ms", "must not be negative")
    if not 1 <= s.service.write_threads <= 256:
        raise ConfigError("service.write_threads", "must be in 1-256")
    if s.service.outcome_grace_seconds < 0:
        raise ConfigError("service.outcome_grace_seconds", "must not be negative")
    if s.service.max_pending_outcomes < 1:
        raise ConfigError("service.max_pending_outcomes", "must be positive")
    if not s.service.posterior_save_seconds >= 0:  # NaN fails too
        raise ConfigError("service.posterior_save_seconds", "must not be negative")
    if s.service.learn_outcomes == "on" and s.service.workers > 1:
        # each worker would learn only the outcomes it sees: a purchase sent to another worker
        # would be counted as "not bought" by the worker that quoted
        raise ConfigError("service.learn_outcomes",
                          "'on' needs a single worker (each worker keeps its own posterior)")
    if s.service.retry_after_seconds < 1:
        raise ConfigError("service.retry_after_seconds", "must be at least 1")
    validate_api_keys(s.service.api_keys)
    if s.checkout.max_quoted_quantity < 1:
        raise ConfigError("checkout.max_quoted_quantity", "must be at least 1")
    overlap = set(s.compliance.audit_only) - set(s.compliance.protected_attributes)
    if overlap:
        raise ConfigError(
            "compliance.audit_only", f"{sorted(overlap)} are not listed as protected attributes"
        )


def _validate_plausibility(p: PlausibilitySettings) -> None:
    name = "ingest.plausibility."
    if not 0 <= p.min_price <= p.max_price:
        raise ConfigError(name + "min_price", "must be 0 or more and at most max_price")
    if not (0.0 <= p.min_list_price_factor < p.max_list_price_factor):  # NaN fails too
        raise ConfigError(name + "min_list_price_factor",
                          "must be 0 or more and below max_list_price_factor")
    if p.max_age_days < 1:
        raise ConfigError(name + "max_age_days", "must be at least 1")
    if p.max_quantity < 1:
        raise ConfigError(name + "max_quantity", "must be at least 1")


def settings_from_dict(data: Mapping[str, Any]) -> Settings:
    """Build and validate settings from a plain mapping (as read from TOML)."""
    try:
        s = msgspec.convert(dict(data), Settings, strict=False)
    except msgspec.ValidationError as e:
        msg = str(e)
        raise ConfigError(_setting_name(msg), msg.split(" - at ")[0]) from e
    _validate(s)
    return s


# API key scopes (the service's auth checks them; settings validate the key table)
STOREFRONT = "storefront"
ADMIN = "admin"
SCOPES = (STOREFRONT, ADMIN)
_DIGEST = re.compile(r"^[0-9a-f]{64}$")


def validate_api_keys(api_keys: Mapping[str, Sequence[str]]) -> None:
    """``service.api_keys``: sha256 hex digests, each with known scopes."""
    for digest, scopes in api_keys.items():
        if not _DIGEST.match(digest):
            raise ConfigError(
                "service.api_keys", f"{digest[:12]!r}... is not a lower-case sha256 hex digest"
            )
        if not scopes:
            raise ConfigError("service.api_keys", f"key {digest[:12]}... has no scope")
        unknown = set(scopes) - set(SCOPES)
        if unknown:
            raise ConfigError(
                "service.api_keys", f"unknown scopes {sorted(unknown)}; known: {list(SCOPES)}"
            )



def load_settings(
    path: str | Path | None = DEFAULT_FILE,
    env: Mapping[str, str] | None = None,
    *,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Defaults, then the TOML file at ``path`` (if it exists), then ``PRICEPILOT_*`` variables.

    An explicitly named file that does not exist is an error; the default file is optional.
    ``overrides`` maps dotted names (``"store.url"``) to values and wins over everything.
    """
    data: dict[str, Any] = {}
    if path is not None:
        p = Path(path)
        if p.exists():
            try:
                data = tomllib.loads(p.read_text(encoding="utf-8"))
            except tomllib.TOMLDecodeError as e:
                raise ConfigError(str(p), f"not valid TOML: {e}") from e
        elif str(path) != DEFAULT_FILE:
            raise ConfigError(str(p), "settings file does not exist")
    env = os.environ if env is None else env
    for name, raw in env.items():
        if not name.startswith(ENV_PREFIX):
            continue
        keys = [k.lower() for k in name[len(ENV_PREFIX):].split("__") if k]
        if not keys:
            continue
        _set_path(data, keys, _parse_env_value(raw), name)
    for dotted, value in (overrides or {}).items():
        _set_path(data, dotted.split("."), value, dotted)
    return settings_from_dict(data)
