"""Prometheus metrics for nebula-credential, opt-in.

    from nebula_credential import metrics
    metrics.enable()                 # report into prometheus_client's default registry
    server = metrics.serve(9464)     # and serve /metrics on 127.0.0.1:9464

Series (label values are operation names and status words only: never a credential id,
a Secret name or a value):

- ``nebula_k8s_secret_operations_total{operation,status}``: every Kubernetes API request,
  retries included; ``operation`` is get, create, replace (an update, whether a PUT or
  a guarded patch), delete, list or watch, and
  ``status`` is ``success`` or what went wrong (``throttled``, ``server_error``,
  ``connection_error``, ``permission_denied``, ...);
- ``nebula_k8s_secret_duration_seconds{operation}``: how long each request took;
- ``nebula_cache_{hits,misses,evictions,invalidations,watch_lost}_total``;
- ``nebula_reader_{reloads,reload_errors}_total`` for the mounted-Secret reader.
- ``nebula_k8s_watches_open``: watches running now (each change feed, each cache's);
  ``nebula_k8s_watch_events_total{type}`` by event type (``added``, ``modified``,
  ``deleted``, ...); ``nebula_k8s_watch_restarts_total{reason}``: streams reopened, because
  the server ended one (``ended``), the resume point expired (``gone``), after a failure
  (``retry``) or a new authentication (``reauth``). Each watch stream counts once in
  ``nebula_k8s_secret_operations_total{operation="watch"}`` and never in the duration
  histogram: it lasts as long as the server keeps it open, not as long as a request.
- ``nebula_hand_edits_total{source,namespace}``: reads that found per-field keys
  disagreeing with ``credential.json`` (a hand edit) and returned the keys' values;
  ``source`` is ``secret`` (through the API) or ``volume`` (a mounted Secret, whose
  ``namespace`` is empty).
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from . import observe

if TYPE_CHECKING:
    from collections.abc import Iterator

    from prometheus_client import CollectorRegistry, Counter
    from prometheus_client.metrics_core import Metric

# Our verbs for requests, as the seed's metric names them.
_OPERATIONS: Final = {"update": "replace", "patch": "replace"}
_CACHE_EVENTS: Final = ("hit", "miss", "eviction", "invalidation", "watch_lost")
_READER_EVENTS: Final = ("reload", "reload_error")
# By the registry itself (not its id(), which a new registry may reuse): the collectors
# made for it, kept after disable() so that enable() can report into them again.
_made: weakref.WeakKeyDictionary[CollectorRegistry, Metrics] = weakref.WeakKeyDictionary()
_enabled: weakref.WeakKeyDictionary[CollectorRegistry, Metrics] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


class Metrics:
    """The collectors in one registry, fed through the observer boundary."""

    def __init__(self, registry: CollectorRegistry) -> None:
        from prometheus_client import Counter, Histogram

        self.registry = registry
        self.operations = Counter(
            "nebula_k8s_secret_operations",
            "Kubernetes API requests on Secrets, retries included, by outcome.",
            ["operation", "status"],
            registry=registry,
        )
        self.duration = Histogram(
            "nebula_k8s_secret_duration_seconds",
            "Duration of Kubernetes API requests on Secrets.",
            ["operation"],
            registry=registry,
        )
        self._cache = {
            event: Counter(
                f"nebula_cache_{_plural(event)}",
                f"CachingProvider {event.replace('_', ' ')} events.",
                registry=registry,
            )
            for event in _CACHE_EVENTS
        }
        self._watches = _WatchMetrics(registry, self.operations)
        self._reader = {
            event: Counter(
                f"nebula_reader_{_plural(event)}",
                f"Mounted-Secret reader {event.replace('_', ' ')} events.",
                registry=registry,
            )
            for event in _READER_EVENTS
        }

        self.hand_edits = Counter(
            "nebula_hand_edits",
            "Reads that found per-field Secret keys disagreeing with credential.json.",
            ["source", "namespace"],
            registry=registry,
        )

    def api_call(self, operation: str, status: str, seconds: float) -> None:
        operation = _OPERATIONS.get(operation, operation)
        self.operations.labels(operation, status).inc()
        self.duration.labels(operation).observe(seconds)

    def watch_event(self, event: str, detail: str) -> None:
        self._watches.event(event, detail)

    def cache_event(self, event: str) -> None:
        counter = self._cache.get(event)
        if counter is not None:
            counter.inc()

    def reader_event(self, event: str) -> None:
        counter = self._reader.get(event)
        if counter is not None:
            counter.inc()

    def hand_edit(self, source: str, namespace: str) -> None:
        self.hand_edits.labels(source, namespace).inc()


class _WatchMetrics:
    """The watch series: open watches (read from :func:`observe.open_watches` when
    scraped, so watches opened before :func:`enable` count too), events by type,
    streams reopened by reason."""

    def __init__(self, registry: CollectorRegistry, operations: Counter) -> None:
        from prometheus_client import Counter, Gauge

        self.operations = operations  # a stream is one request: counted, not timed
        self.open = Gauge(
            "nebula_k8s_watches_open",
            "Kubernetes watches on Secrets running now.",
            registry=registry,
        )
        self.open.set_function(observe.open_watches)
        self.events = Counter(
            "nebula_k8s_watch_events",
            "Kubernetes watch events received, by type.",
            ["type"],
            registry=registry,
        )
        self.restarts = Counter(
            "nebula_k8s_watch_restarts",
            "Kubernetes watch streams reopened, by reason.",
            ["reason"],
            registry=registry,
        )

    def event(self, event: str, detail: str) -> None:
        if event == "received":
            self.events.labels(detail).inc()
        elif event == "restart":
            self.restarts.labels(detail).inc()
        elif event == "stream":
            self.operations.labels("watch", detail).inc()


def _plural(event: str) -> str:
    if event == "watch_lost":
        return event
    return {"hit": "hits", "miss": "misses"}.get(event, f"{event}s")


def enable(registry: CollectorRegistry | None = None) -> Metrics:
    """Report into ``registry`` (prometheus_client's default one when None); idempotent."""
    if registry is None:
        from prometheus_client import REGISTRY

        registry = REGISTRY
    with _lock:
        metrics = _enabled.get(registry)
        if metrics is None:
            metrics = _made.get(registry)
            if metrics is None:
                metrics = _made[registry] = Metrics(registry)
            _enabled[registry] = metrics
            observe.add_observer(metrics)
    return metrics


def disable(registry: CollectorRegistry | None = None) -> None:
    """Stop reporting into ``registry`` (the collectors stay registered)."""
    if registry is None:
        from prometheus_client import REGISTRY

        registry = REGISTRY
    with _lock:
        metrics = _enabled.pop(registry, None)
    if metrics is not None:
        observe.remove_observer(metrics)


@dataclass
class MetricsServer:
    """A running ``/metrics`` endpoint; ``close()`` stops it."""

    address: str
    port: int
    _server: Any
    _thread: threading.Thread

    @property
    def url(self) -> str:
        host = f"[{self.address}]" if ":" in self.address else self.address
        return f"http://{host}:{self.port}/metrics"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def serve(
    port: int,
    addr: str = "127.0.0.1",
    registry: CollectorRegistry | None = None,
    *,
    only: tuple[str, ...] | None = None,
) -> MetricsServer:
    """Enable metrics and serve them on ``addr:port`` (0 picks a free port).

    ``only``: of our own ``nebula_`` series, serve just those whose names start with one
    of these prefixes (a process that only reads a volume does not publish API or cache
    series that stay at zero); the registry's other collectors are served as they are.
    """
    from prometheus_client import REGISTRY, CollectorRegistry, start_http_server

    enable(registry)
    source = registry or REGISTRY
    shown = source
    if only is not None:
        shown = CollectorRegistry(auto_describe=False)
        shown.register(_Only(source, only))
    server, thread = start_http_server(port, addr=addr, registry=shown)
    return MetricsServer(addr, int(server.server_port), server, thread)


class _Only:
    """Another registry's families, with ours narrowed to some name prefixes."""

    def __init__(self, source: CollectorRegistry, prefixes: tuple[str, ...]) -> None:
        self._source = source
        self._prefixes = prefixes

    def collect(self) -> Iterator[Metric]:
        for family in self._source.collect():
            if not family.name.startswith("nebula_") or family.name.startswith(self._prefixes):
                yield family
