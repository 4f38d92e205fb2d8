"""Warning Events (``v1``) on a workload, so ``kubectl describe`` shows what went wrong."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

_REASONS = {
    "bad-annotation": "BadReloadAnnotation",
    "missing-credential": "CredentialNotFound",
    "refused": "PatchRefused",
    "corrupt-credential": "CredentialCorrupt",
}


def warning_event(workload: dict[str, Any], kind: str, action: str, why: str) -> dict[str, Any]:
    """An Event about ``workload`` saying ``why`` (no secret value is ever in ``why``)."""
    meta = workload.get("metadata") or {}
    name = str(meta.get("name") or "")
    namespace = str(meta.get("namespace") or "")
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": f"{name[:200]}.{secrets.token_hex(8)}", "namespace": namespace},
        "involvedObject": {
            "apiVersion": "apps/v1",
            "kind": kind,
            "name": name,
            "namespace": namespace,
            "uid": meta.get("uid"),
            "resourceVersion": meta.get("resourceVersion"),
        },
        "reason": _REASONS.get(action, "ControllerProblem"),
        "message": why[:1024],
        "type": "Warning",
        "source": {"component": "nebula-credential-controller"},
        "firstTimestamp": now,
        "lastTimestamp": now,
        "count": 1,
    }
