"""One structured log line per action, and the controller's Prometheus series.

Each line is a JSON object (``action`` plus its fields) on the
``nebula_credential.controller`` logger: ids, names and reasons only, never a value or
a digest of one. The series live in a registry of their own, served by
:mod:`.health`.
"""

from __future__ import annotations

import json
from typing import Any, Final

from prometheus_client import CollectorRegistry, Counter, Gauge

from .._log import get_logger

LOGGER: Final = "nebula_credential.controller"
_WARNINGS: Final = frozenset(
    {
        "bad-annotation",
        "corrupt-credential",
        "rotate-failed",
        "missing-credential",
        "refused",
        "watch-lost",
    }
)


def act(action: str, **fields: Any) -> None:
    """Log one line for ``action`` (warning level for problems, info otherwise); fields
    that are None are left out."""
    given = {name: value for name, value in fields.items() if value is not None}
    line = json.dumps({"action": action, **given}, sort_keys=True, default=str)
    logger = get_logger(LOGGER)
    if action in _WARNINGS:
        logger.warning("%s", line)
    else:
        logger.info("%s", line)


class ControllerMetrics:
    """Restarts triggered, rotations, watch restarts and leader status."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.restarts = Counter(
            "nebula_credential_controller_restarts",
            "Pod-template patches that restart a workload, by workload kind.",
            ["kind"],
            registry=self.registry,
        )
        self.rotations = Counter(
            "nebula_credential_controller_rotations",
            "Rotations the controller ran when due, by outcome (rotated, skipped, failed).",
            ["outcome"],
            registry=self.registry,
        )
        self.watch_restarts = Counter(
            "nebula_credential_controller_watch_restarts",
            "Watches started again after they were lost or expired, by resource.",
            ["resource"],
            registry=self.registry,
        )
        self.leader = Gauge(
            "nebula_credential_controller_leader",
            "1 while this replica is the leader, 0 while it stands by.",
            registry=self.registry,
        )
