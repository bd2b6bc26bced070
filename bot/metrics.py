"""Prometheus metrics: HTTP requests, latencies, and every Jira and Slack call."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

from services.notifications.failed_work import WorkCounts

log = logging.getLogger(__name__)

CONTENT_TYPE = CONTENT_TYPE_LATEST

# Label values come from closed sets (SPEC §11): a stranger's request can add no new series.
HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
OTHER = "other"


def method_label(method: str) -> str:
    """The request's method, or "other" for a made-up one."""
    return method if method in HTTP_METHODS else OTHER


def status_label(status: int) -> str:
    """An HTTP status code (100-599), or "other"."""
    return str(status) if 100 <= status <= 599 else OTHER


class Metrics:
    """One registry per process (not the global default), so tests can build several apps."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.http_requests = Counter(
            "connect_http_requests",
            "HTTP requests answered, by route and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.http_latency = Histogram(
            "connect_http_request_seconds",
            "Time to answer an HTTP request",
            ["route"],
            registry=self.registry,
        )
        self.external_calls = Counter(
            "connect_external_calls",
            "Calls to Jira and Slack, by operation and outcome",
            ["service", "operation", "outcome"],
            registry=self.registry,
        )
        self.external_errors = Counter(
            "connect_external_call_errors",
            "Failed calls to Jira and Slack",
            ["service", "operation"],
            registry=self.registry,
        )
        self.external_latency = Histogram(
            "connect_external_call_seconds",
            "Time spent in Jira and Slack calls",
            ["service"],
            registry=self.registry,
        )

        self.work_waiting = Gauge(
            "connect_work_waiting",
            "Tasks handed over after an ack that wait for a work thread",
            registry=self.registry,
        )
        self.work_turned_away = Counter(
            "connect_work_turned_away",
            "Requests answered 'try again' because the work after acks was backed up, by the "
            "listener that would have run",
            ["listener"],
            registry=self.registry,
        )

    def watch_work(self, waiting: Callable[[], float]) -> None:
        """The work queue's length, read when the metrics are."""
        self.work_waiting.set_function(waiting)

    def watch_failed_work(self, counts: Callable[[], WorkCounts]) -> None:
        """`connect_failed_work` and `connect_held_work`, counted when the metrics are read."""
        self.registry.register(_WorkCollector(counts))

    def turned_away(self, listener: str) -> None:
        self.work_turned_away.labels(listener).inc()

    def record(self, service: str, operation: str, outcome: str, seconds: float) -> None:
        """clients.call_observer.CallObserver: one outbound call."""
        self.external_calls.labels(service, operation, outcome).inc()
        if outcome != "ok":
            self.external_errors.labels(service, operation).inc()
        self.external_latency.labels(service).observe(seconds)

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        """`route` is a route's pattern (or "unmatched"), never the path a client sent."""
        self.http_requests.labels(method_label(method), route, status_label(status)).inc()
        self.http_latency.labels(route).observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _WorkCollector(Collector):
    """Failed and held work by kind (delivery, notification), read from the database."""

    def __init__(self, counts: Callable[[], WorkCounts]) -> None:
        self._counts = counts

    def collect(self) -> Iterator[Metric]:
        try:
            counts = self._counts()
        except Exception as exc:  # the database is away: /metrics still answers
            log.warning("could not count failed work: %s", type(exc).__name__)
            return
        failed = GaugeMetricFamily(
            "connect_failed_work",
            "Work that failed for good, by kind (python -m bot failed lists it)",
            labels=["kind"],
        )
        held = GaugeMetricFamily(
            "connect_held_work",
            "Work waiting for Jira or Slack to come back (an outage), by kind",
            labels=["kind"],
        )
        for kind, number in sorted(counts.failed.items()):
            failed.add_metric([kind], number)
        for kind, number in sorted(counts.held.items()):
            held.add_metric([kind], number)
        yield failed
        yield held

    def describe(self) -> Iterator[Metric]:
        return iter(())
