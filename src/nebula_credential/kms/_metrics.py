"""Prometheus collectors of the KMS plugin: calls, latency and errors by operation.

Series (labels are API versions, operation names and gRPC code names only, never a
key, a KEK id or request bytes):

- ``nebula_kms_calls_total{api,operation,code}``: every call, ``code`` ``OK`` or the
  gRPC status it failed with;
- ``nebula_kms_errors_total{api,operation,code}``: the failed calls alone;
- ``nebula_kms_call_duration_seconds{api,operation}``: how long each call took.

The collectors are made once per registry (as in :mod:`nebula_credential.metrics`), so a
second server in the same process reports into the same series.
"""

from __future__ import annotations

import threading
import weakref
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

_made: weakref.WeakKeyDictionary[CollectorRegistry, KmsMetrics] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


class KmsMetrics:
    """The plugin's collectors in one registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        from prometheus_client import Counter, Histogram

        labels = ["api", "operation"]
        self.calls = Counter(
            "nebula_kms_calls", "KMS plugin calls by outcome.", [*labels, "code"], registry=registry
        )
        self.errors = Counter(
            "nebula_kms_errors",
            "KMS plugin calls that failed.",
            [*labels, "code"],
            registry=registry,
        )
        self.duration = Histogram(
            "nebula_kms_call_duration_seconds",
            "Duration of KMS plugin calls.",
            labels,
            buckets=(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.25, 1.0),
            registry=registry,
        )

    def observe(self, api: str, operation: str, code: str, seconds: float) -> None:
        """Count one call and its duration."""
        self.calls.labels(api, operation, code).inc()
        if code != "OK":
            self.errors.labels(api, operation, code).inc()
        self.duration.labels(api, operation).observe(seconds)


def metrics_for(registry: CollectorRegistry | None = None) -> KmsMetrics:
    """The collectors in ``registry`` (prometheus_client's default one when None)."""
    from prometheus_client import REGISTRY

    target = registry if registry is not None else REGISTRY
    with _lock:
        made = _made.get(target)
        if made is None:
            made = _made[target] = KmsMetrics(target)
        return made
