"""Prometheus metrics (one registry per app, so tests and several apps never collide)."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST


class Metrics:
    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self.requests = Counter(
            "llmatlas_requests", "Requests by route and status", ["route", "status"], registry=r
        )
        self.prompt_tokens = Counter(
            "llmatlas_prompt_tokens", "Prompt tokens processed", ["model"], registry=r
        )
        self.completion_tokens = Counter(
            "llmatlas_completion_tokens", "Tokens generated", ["model"], registry=r
        )
        self.ttft = Histogram(
            "llmatlas_time_to_first_token_seconds",
            "Time to first token",
            ["model"],
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30),
            registry=r,
        )
        self.latency = Histogram(
            "llmatlas_request_latency_seconds",
            "Request latency",
            ["route"],
            buckets=(0.1, 0.5, 1, 2, 5, 10, 30, 60, 120),
            registry=r,
        )
        self.queue_depth = Gauge(
            "llmatlas_queue_depth", "Requests waiting for a slot", ["model"], registry=r
        )
        self.active = Gauge(
            "llmatlas_active_sequences", "Sequences generating", ["model"], registry=r
        )
        self.batch = Gauge(
            "llmatlas_batch_size", "Sequences in the last decode step", ["model"], registry=r
        )
        self.loaded = Gauge("llmatlas_loaded_models", "Models in memory", registry=r)
        self.loaded_bytes = Gauge(
            "llmatlas_loaded_bytes", "Memory the loaded models hold (by sizing)", registry=r
        )
        self.inflight = Gauge(
            "llmatlas_inflight_requests", "Requests holding a model", ["model"], registry=r
        )

    def render(self, manager: Any) -> tuple[bytes, str]:
        self.loaded.set(len(manager.loaded))
        self.loaded_bytes.set(manager.used_bytes)
        for g in (self.queue_depth, self.active, self.batch, self.inflight):
            g.clear()  # no stale series for models unloaded since
        for name, lm in list(manager.loaded.items()):
            self.inflight.labels(name).set(lm.inflight)
            self.queue_depth.labels(name).set(lm.sched.queue_depth)
            self.active.labels(name).set(lm.sched.active_count)
            self.batch.labels(name).set(lm.sched.stats.last_batch)
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
