"""Prometheus metrics of one app instance (its own registry, so apps and tests never collide)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

# Latency buckets for a service whose quotes should take a few milliseconds.
BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class ServiceMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.latency = Histogram(
            "pricepilot_http_request_duration_seconds",
            "Request latency by route template and method.",
            ["route", "method"],
            buckets=BUCKETS,
            registry=r,
        )
        self.requests = Counter(
            "pricepilot_http_requests",
            "Requests by route template, method and status.",
            ["route", "method", "status"],
            registry=r,
        )
        self.decisions = Counter(
            "pricepilot_price_decisions",
            "Prices quoted, by whether they came from the fallback path.",
            ["fallback"],
            registry=r,
        )
        self.fallbacks = Counter(
            "pricepilot_quote_fallbacks",
            "Quote requests answered by the fallback path, by the failed dependency.",
            ["dependency"],
            registry=r,
        )
        self.redemptions = Counter(
            "pricepilot_promotion_redemptions",
            "Promotion redemptions recorded by confirmed orders (replays not counted).",
            registry=r,
        )
        self.events = Counter(
            "pricepilot_events",
            "Events received, by result.",
            ["result"],
            registry=r,
        )
