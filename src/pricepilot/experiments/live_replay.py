"""Replay simulated shoppers against the running HTTP service and watch the loop learn live.

:class:`ServicePolicy` is a simulator policy (:mod:`pricepilot.sim.policy`) that prices every
product-page view with ``POST /v1/quotes`` and sends every observed event to ``POST /v1/events``,
over HTTP only, so the service's online features and posterior learn as the shop runs.
:func:`replay_live` runs the market for a window of simulated hours with it, and the list-price
baseline on the same seed (the same views and random draws), and reports expected and realised
profit per simulated hour. :func:`running_service` starts the real service process for it.

Simulated ids restart at ``e000000001`` every run, so the policy prefixes event, session and
order ids with a run id (:class:`~pricepilot.experiments.shop_policy.StorefrontEvents`): a replay
never collides with the ingested history. Events must not be
in the future for the service (ingestion's rule), so the window must end before *now*.

>>> from pricepilot.sim import ListPricePolicy, Market, SimConfig
>>> m = Market(SimConfig(days=1, shoppers=100, products=8, seed=1))
>>> r = m.run(ListPricePolicy(m.products()), days=1)
>>> t = hour_table(m, r, to_micros(m.config.start), 24, "list price")
>>> len(t), int(t["views"].sum()) == len(r.decisions)
(24, True)
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import msgspec  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

import pricepilot  # noqa: E402
from pricepilot.clock import to_micros  # noqa: E402
from pricepilot.config import Settings  # noqa: E402
from pricepilot.dashboard.report import Section  # noqa: E402
from pricepilot.errors import Unavailable, ValidationError  # noqa: E402
from pricepilot.events.schemas import Event, Purchase, View  # noqa: E402
from pricepilot.experiments.shop_policy import StorefrontEvents  # noqa: E402
from pricepilot.money import exponent, format_amount  # noqa: E402
from pricepilot.serving.schemas import MAX_EVENTS_PER_BATCH, QuoteRequest, QuoteResponse  # noqa: E402
from pricepilot.sim.baselines import ListPricePolicy  # noqa: E402
from pricepilot.sim.market import Market, RunResult  # noqa: E402
from pricepilot.sim.policy import ViewRequest  # noqa: E402

HOUR_US = 3_600_000_000
DAY_US = 24 * HOUR_US
POLICY, BASELINE = "pricepilot", "list price"
SRC = Path(pricepilot.__file__).resolve().parents[1]
APP_FACTORY = "pricepilot.service.asgi:app_from_env"


@dataclass(frozen=True)
class HourUpdate:
    """One finished simulated hour, as the live display shows it (realised profit, minor units)."""

    hour: int
    policy_profit: int
    baseline_profit: int
    cumulative_difference: int
    quotes: int
    fallbacks: int


class ServicePolicy:
    """Prices views through ``POST /v1/quotes`` and reports events through ``POST /v1/events``.

    Only views with ``start_us <= ts < end_us`` go to the service; outside that window the list
    price is shown and the shopper events are not sent (context events — competitor prices,
    inventory, calendar — before ``end_us`` always are, so the service knows the market).
    """

    def __init__(self, client: httpx.Client, market: Market, *, start_us: int, end_us: int,
                 run_id: str, on_hour: Callable[[int, int], None] | None = None) -> None:
        self.client = client
        self.start_us, self.end_us = start_us, end_us
        self.ids = StorefrontEvents(f"live-{run_id}-")
        self.on_hour = on_hour
        products = market.products()
        self.list_price = {p.product_id: p.list_price for p in products}
        self.cost = {p.product_id: p.unit_cost for p in products}
        self.quotes = 0
        self.fallbacks = 0
        self.events_sent = 0
        self.events_accepted = 0

    def _in_window(self, ts_us: int) -> bool:
        return self.start_us <= ts_us < self.end_us

    def price(self, view: ViewRequest) -> int:
        ts = to_micros(view.ts)
        if not self._in_window(ts):
            return self.list_price[view.product_id]
        # A product page shows one product: one quote request per page view.
        req = QuoteRequest(product_ids=[view.product_id], customer_id=view.customer_id,
                           session_id=self.ids.session(view.session_id), currency=view.currency,
                           channel=view.channel, device=view.device, region=view.region)
        r = self.client.post("/v1/quotes", content=msgspec.json.encode(req),
                             headers={"content-type": "application/json"})
        if r.status_code != 200:
            raise Unavailable("pricepilot service", f"POST /v1/quotes answered {r.status_code}: {r.text}")
        resp = msgspec.json.decode(r.content, type=QuoteResponse)
        quote = resp.quotes[0]
        self.quotes += 1
        self.fallbacks += int(resp.fallback or quote.fallback)
        self.ids.shown(view.customer_id, view.product_id, ts, quote.quote_id)
        return int(quote.price)

    def observe(self, events: Sequence[Event]) -> None:
        send: list[Event] = []
        hour_profit: dict[int, int] = {}
        for ev in events:
            ts = to_micros(ev.ts)
            shopper = hasattr(ev, "user_id")
            if ts >= self.end_us or (shopper and ts < self.start_us):
                continue
            if isinstance(ev, Purchase):
                # a purchase follows its view by 60 s; the hour is the view's
                h = (ts - 60_000_000 - self.start_us) // HOUR_US
                if h >= 0:
                    hour_profit[h] = hour_profit.get(h, 0) + ev.quantity * (ev.price - self.cost[ev.product_id])
            send.append(self.ids.rewrite(ev))
        for i in range(0, len(send), MAX_EVENTS_PER_BATCH):
            batch = send[i:i + MAX_EVENTS_PER_BATCH]
            r = self.client.post("/v1/events", content=msgspec.json.encode(batch),
                                 headers={"content-type": "application/json"})
            if r.status_code != 202:
                raise Unavailable("pricepilot service", f"POST /v1/events answered {r.status_code}: {r.text}")
            self.events_sent += len(batch)
            self.events_accepted += int(r.json()["accepted"])
        views = [to_micros(e.ts) for e in events if isinstance(e, View) and self._in_window(to_micros(e.ts))]
        if views and self.on_hour is not None:
            h = (max(views) - self.start_us) // HOUR_US
            self.on_hour(int(h), hour_profit.get(int(h), 0))


@dataclass
class LiveReplayResult:
    """``hourly``: one row per (hour, policy) with views, orders, revenue, profit (realised, minor
    units) and expected_profit (under the true demand); ``quotes``/``fallbacks``: quotes served
    and how many were fallback list prices; ``events_sent``/``events_accepted`` by the service."""

    hourly: pd.DataFrame
    start: datetime
    hours: int
    currency: str
    quotes: int
    fallbacks: int
    events_sent: int
    events_accepted: int
    seconds: float
    runs: dict[str, RunResult] = field(default_factory=dict, repr=False)

    def totals(self) -> pd.DataFrame:
        return self.hourly.groupby("policy", sort=False)[
            ["views", "orders", "revenue", "profit", "expected_profit"]].sum().reset_index()


def hour_table(market: Market, run: RunResult, start_us: int, hours: int, name: str) -> pd.DataFrame:
    """Per simulated hour of ``[start_us, start_us + hours h)``: KPIs of ``run``'s decisions."""
    d = run.decisions
    h = (d["ts"].to_numpy(np.int64) - start_us) // HOUR_US
    keep = (h >= 0) & (h < hours)
    d = d[keep]
    h = h[keep]
    prod = d["product"].to_numpy(np.int64)
    price = d["price"].to_numpy(np.int64)
    qty = d["quantity"].to_numpy(np.int64)
    cost = market.catalog.cost[prod].astype(np.int64)
    frame = pd.DataFrame({"hour": h, "views": 1, "orders": d["bought"].to_numpy(bool).astype(np.int64),
                          "revenue": qty * price, "profit": qty * (price - cost),
                          "expected_profit": d["expected_profit"].to_numpy(float)})
    out = frame.groupby("hour").sum().reindex(range(hours), fill_value=0).reset_index()
    out.insert(1, "policy", name)
    return out


def replay_live(settings: Settings, market: Market, *, start: datetime, hours: int, base_url: str,
                api_key: str, progress: Callable[[HourUpdate], None] | None = None,
                seed: int | None = None, timeout: float = 30.0) -> LiveReplayResult:
    """Run ``market`` for ``hours`` simulated hours from ``start`` against the service at
    ``base_url`` (storefront ``api_key``), and the list-price baseline on the same views.

    The market runs whole days from ``start``'s midnight (UTC); only views in the window are
    priced by the service. ``start + hours`` must not be later than now (the service refuses
    future events). ``progress`` gets an :class:`HourUpdate` after every simulated hour.
    """
    if hours < 1:
        raise ValidationError("live replay", "hours", f"must be at least 1, got {hours}")
    if start.tzinfo is None:
        raise ValidationError("live replay", "start", "must carry a time zone")
    end = start + timedelta(hours=hours)
    now = datetime.now(timezone.utc)
    if end > now + timedelta(seconds=settings.ingest.future_tolerance_seconds):
        raise ValidationError("live replay", "start",
                              f"the window ends at {end.isoformat()}, after now ({now.isoformat()}); "
                              "the service refuses future events")
    t0 = time.perf_counter()
    start_us, end_us = to_micros(start), to_micros(end)
    day0 = start.astimezone(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    days = math.ceil((end_us - to_micros(day0)) / DAY_US)
    seed = market.config.seed + 1 if seed is None else seed

    base_run = market.run(ListPricePolicy(market.products()), days=days, start=day0, seed=seed)
    base_hours = hour_table(market, base_run, start_us, hours, BASELINE)
    base_profit = base_hours["profit"].to_numpy(np.int64)
    cum = [0]

    def on_hour(h: int, profit: int) -> None:
        if progress is None or h >= hours:
            return
        cum[0] += profit - int(base_profit[h])
        progress(HourUpdate(h, profit, int(base_profit[h]), cum[0], policy.quotes, policy.fallbacks))

    headers = {"authorization": f"Bearer {api_key}"}
    with httpx.Client(base_url=base_url, headers=headers, timeout=timeout) as client:
        policy = ServicePolicy(client, market, start_us=start_us, end_us=end_us,
                               run_id=uuid.uuid4().hex[:8], on_hour=on_hour)
        live_run = market.run(policy, days=days, start=day0, seed=seed)
    live_hours = hour_table(market, live_run, start_us, hours, POLICY)
    hourly = pd.concat([live_hours, base_hours], ignore_index=True)
    return LiveReplayResult(hourly, start, hours, market.config.currency, policy.quotes,
                            policy.fallbacks, policy.events_sent, policy.events_accepted,
                            time.perf_counter() - t0, {POLICY: live_run, BASELINE: base_run})


# ------------------------------------------------------------------------------------ report


def live_sections(result: LiveReplayResult) -> list[Section]:
    """The report section: profit per simulated hour, pricepilot (live service) vs list price."""
    cur = result.currency
    scale = float(10 ** exponent(cur))
    piv = result.hourly.pivot(index="hour", columns="policy", values="expected_profit")
    real = result.hourly.pivot(index="hour", columns="policy", values="profit")
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 3.6))
    for name, colour in ((POLICY, "#1f77b4"), (BASELINE, "#7f7f7f")):
        ax1.plot(piv.index, piv[name] / scale, marker="o", label=name, color=colour)
        ax1.plot(real.index, real[name] / scale, ls=":", color=colour, alpha=0.7)
    ax1.set_xlabel("simulated hour")
    ax1.set_ylabel(f"profit per hour ({cur})")
    ax1.set_title("expected (line) and realised (dotted)")
    ax1.legend()
    ax1.grid(alpha=0.3)
    diff = (piv[POLICY] - piv[BASELINE]).cumsum() / scale
    ax2.plot(diff.index, diff.to_numpy(), marker="o", color="#2ca02c")
    ax2.axhline(0, color="black", lw=0.8)
    ax2.set_xlabel("simulated hour")
    ax2.set_title(f"cumulative expected profit vs list price ({cur})")
    ax2.grid(alpha=0.3)
    fig.tight_layout()
    rows = []
    for h in piv.index:
        rows.append(f"<tr><td>{h}</td>"
                    f"<td>{format_amount(int(round(piv.at[h, POLICY])), cur)}</td>"
                    f"<td>{format_amount(int(round(piv.at[h, BASELINE])), cur)}</td>"
                    f"<td>{format_amount(int(real.at[h, POLICY]), cur)}</td>"
                    f"<td>{format_amount(int(real.at[h, BASELINE]), cur)}</td></tr>")
    tot = result.totals().set_index("policy")
    rows.append(f"<tr><th>total</th>"
                f"<th>{format_amount(int(round(tot.at[POLICY, 'expected_profit'])), cur)}</th>"
                f"<th>{format_amount(int(round(tot.at[BASELINE, 'expected_profit'])), cur)}</th>"
                f"<th>{format_amount(int(tot.at[POLICY, 'profit']), cur)}</th>"
                f"<th>{format_amount(int(tot.at[BASELINE, 'profit']), cur)}</th></tr>")
    html = (f"<p class='note'>The running service priced {result.quotes:,} product-page views over "
            f"{result.hours} simulated hours from {result.start.isoformat()} "
            f"({result.fallbacks:,} fallback list prices) and learned from {result.events_accepted:,} "
            "events sent to it as they happened; the list-price baseline saw the very same views and "
            "random draws. Expected profit is under the true demand (no purchase noise).</p>"
            "<table><tr><th>hour</th><th>expected, pricepilot</th><th>expected, list price</th>"
            f"<th>realised, pricepilot</th><th>realised, list price</th></tr>{''.join(rows)}</table>")
    return [Section("Live loop: the service against simulated shoppers", html, [fig])]


LIVE_TITLE = "Live loop: the service against simulated shoppers"


def live_pending_section(hours: int) -> Section:
    """The live section of a report written before the live step: it has not run (yet)."""
    return Section(LIVE_TITLE, f"<p class='note'>The live step ({hours} simulated hours against "
                   "the running service) had not finished when this report was written: the "
                   "results above are the offline ones. The demo rewrites this report when the "
                   "live step ends.</p>")


def live_failure_section(error: BaseException, log_path: Path | None = None) -> Section:
    """The live section of a report whose live step failed: the error and the service log's
    last lines (the offline results above stand)."""
    from html import escape

    tail = log_tail(log_path) if log_path is not None else ""
    if tail and tail in str(error):  # the readiness error already carries it
        tail = ""
    log = (f"<p>The end of the service log (<code>{escape(str(log_path))}</code>):</p>"
           f"<pre>{escape(tail)}</pre>") if tail else ""
    return Section("Live loop: failed",
                   "<p class='live-failed'><strong>The live step failed</strong>; the offline "
                   "results above are complete and unaffected.</p>"
                   f"<pre>{escape(f'{type(error).__name__}: {error}')}</pre>{log}")


# ---------------------------------------------------------------------------- the service process


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class RunningService:
    base_url: str
    api_key: str
    settings: Settings
    log_path: Path


# (seconds waited, the last answer of /readyz): what the readiness wait reports as it goes
WaitProgress = Callable[[float, str], None]


@contextlib.contextmanager
def running_service(settings: Settings, log_path: Path, *, ready_timeout: float | None = None,
                    on_wait: WaitProgress | None = None,
                    command: Sequence[str] | None = None) -> Iterator[RunningService]:
    """Start the service (uvicorn, one worker, on a free 127.0.0.1 port) on ``settings`` with a
    fresh storefront API key (only its hash goes into the settings), wait for ``/readyz``, and
    stop it (SIGTERM, then SIGKILL) on exit, error or not.

    The store and models are the settings' (``store.url`` / ``paths.data_dir``,
    ``paths.models_dir``). Output goes to ``log_path``. The wait lasts at most ``ready_timeout``
    seconds (default ``demo.ready_timeout_s``), calling ``on_wait`` about every half second; a
    process that exits first, or a timeout, is :class:`Unavailable` with the log's last lines.
    ``command`` replaces the server's command line (its arguments; tests).
    """
    timeout = settings.demo.ready_timeout_s if ready_timeout is None else ready_timeout
    from pricepilot.service.asgi import SETTINGS_ENV, settings_to_env
    from pricepilot.service.auth import new_key

    key, digest = new_key()
    port = _free_port()
    svc = msgspec.structs.replace(settings.service, host="127.0.0.1", port=port, workers=1,
                                  server="uvicorn", api_keys={**settings.service.api_keys,
                                                              digest: ["storefront"]})
    settings = msgspec.structs.replace(settings, service=svc)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PRICEPILOT_")}
    env[SETTINGS_ENV] = settings_to_env(settings)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SRC), env.get("PYTHONPATH")]))
    log_path.parent.mkdir(parents=True, exist_ok=True)
    base_url = f"http://127.0.0.1:{port}"
    with log_path.open("ab") as log:
        argv = list(command) if command is not None else [
            sys.executable, "-m", "uvicorn", APP_FACTORY, "--factory", "--host", "127.0.0.1",
            "--port", str(port), "--workers", "1", "--log-level", "warning", "--no-access-log",
            "--timeout-graceful-shutdown", "5"]
        proc = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            _wait_ready(proc, base_url, log_path, timeout, on_wait)
            yield RunningService(base_url, key, settings, log_path)
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(5)


def log_tail(path: Path, lines: int = 20) -> str:
    """The last ``lines`` lines of a log file ("" when there is none)."""
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return ""
    return "\n".join(text.rstrip().splitlines()[-lines:])


def _wait_ready(proc: subprocess.Popen[bytes], base_url: str, log_path: Path, timeout: float,
                on_wait: WaitProgress | None = None) -> None:
    started = time.monotonic()
    deadline = started + timeout
    last, told = "no answer yet", -1.0
    with httpx.Client(base_url=base_url, timeout=2.0) as c:
        while True:
            if proc.poll() is not None:
                tail = log_tail(log_path)
                raise Unavailable("pricepilot service", f"exited with {proc.returncode} before it "
                                  f"was ready; the end of {log_path}:\n{tail or '(empty)'}")
            try:
                r = c.get("/readyz")
                if r.status_code == 200:
                    return
                last = f"{r.status_code} {r.text}"
            except httpx.TransportError as e:
                last = f"no answer ({type(e).__name__})"
            waited = time.monotonic() - started
            if on_wait is not None and waited - told >= 0.5:
                told = waited
                on_wait(waited, last)
            if time.monotonic() >= deadline:
                break
            time.sleep(0.1)
    tail = log_tail(log_path)
    raise Unavailable("pricepilot service",
                      f"not ready after {timeout:g} s (last answer: {last}); a slow machine may "
                      f"need more: demo.ready_timeout_s or --ready-timeout; the end of {log_path}:"
                      f"\n{tail or '(empty)'}")


# ----------------------------------------------------------------------------- live display


@contextlib.contextmanager
def live_display(currency: str, hours: int, console: object | None = None) -> Iterator[Callable[[HourUpdate], None]]:
    """A Rich live table of each simulated hour's realised profit; yields the progress callback."""
    from rich.console import Console
    from rich.live import Live
    from rich.table import Table

    rows: list[HourUpdate] = []

    def render() -> Table:
        t = Table(title=f"live loop: realised profit per simulated hour ({len(rows)}/{hours})")
        for col in ("hour", "pricepilot", "list price", "cumulative difference", "quotes (fallback)"):
            t.add_column(col, justify="right")
        for u in rows:
            colour = "green" if u.cumulative_difference >= 0 else "red"
            t.add_row(str(u.hour), format_amount(u.policy_profit, currency),
                      format_amount(u.baseline_profit, currency),
                      f"[{colour}]{format_amount(u.cumulative_difference, currency)}[/]",
                      f"{u.quotes:,} ({u.fallbacks:,})")
        return t

    con = console if isinstance(console, Console) else Console()
    with Live(render(), console=con, refresh_per_second=4) as live:
        def update(u: HourUpdate) -> None:
            rows.append(u)
            live.update(render())
        yield update


__all__ = ["HourUpdate", "LiveReplayResult", "RunningService", "ServicePolicy", "WaitProgress",
           "hour_table", "live_display", "live_failure_section", "live_pending_section",
           "live_sections", "log_tail", "replay_live", "running_service"]
