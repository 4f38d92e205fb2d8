"""External Secrets Operator and Sealed Secrets: is each object in the namespace healthy?

Condition messages come from controllers (and, through them, from whoever wrote the
object): they are kept exact here and shown escaped by whoever prints them.
"""

from __future__ import annotations

from typing import Final

from .probe import ClusterProbe
from .report import Report, Status

# (API group, resource, the condition that means healthy, what it is)
OPERATORS: Final = (
    ("external-secrets.io", "externalsecrets", "Ready", "ExternalSecret"),
    ("bitnami.com", "sealedsecrets", "Synced", "SealedSecret"),
)
MAX_MESSAGE: Final = 200


async def check_operators(probe: ClusterProbe, report: Report) -> None:
    ns = probe.target.namespace
    for group, plural, condition, kind in OPERATORS:
        status, body = await probe.get(f"/apis/{group}")
        if status == 404:
            report.add(kind, Status.INFO, f"not installed ({group} is not served)")
            continue
        version = (
            (body or {}).get("preferredVersion", {}).get("groupVersion") if status == 200 else None
        )
        if version is None:
            report.add(
                kind, Status.INFO, f"cannot tell whether {group} is installed (HTTP {status})"
            )
            continue
        status, body = await probe.get(f"/apis/{version}/namespaces/{ns}/{plural}")
        if status != 200 or not isinstance(body, dict):
            report.add(kind, Status.INFO, f"cannot list {plural} in {ns} (HTTP {status})")
            continue
        items = body.get("items") or []
        if not items:
            report.add(kind, Status.INFO, f"none in {ns}")
        for item in items:
            _item(report, item, kind, condition, ns)


def _item(report: Report, item: dict[str, object], kind: str, condition: str, ns: str) -> None:
    metadata = item.get("metadata")
    name = str(metadata.get("name", "?")) if isinstance(metadata, dict) else "?"
    status = item.get("status")
    listed = status.get("conditions") if isinstance(status, dict) else None
    conditions = {
        c.get("type"): c
        for c in (listed if isinstance(listed, list) else [])
        if isinstance(c, dict)
    }
    state = conditions.get(condition, {})
    if state.get("status") == "True":
        report.add(f"{kind} {name}", Status.OK, f"{condition}")
        return
    why = state.get("message") or state.get("reason") or f"no {condition} condition yet"
    report.add(
        f"{kind} {name}",
        Status.FAIL,
        f"not {condition}: {str(why)[:MAX_MESSAGE]}",
        f"kubectl describe {kind.lower()} {name} -n {ns}; check the controller's logs"
        + (f" and kubectl get secretstore -n {ns}" if kind == "ExternalSecret" else ""),
    )
