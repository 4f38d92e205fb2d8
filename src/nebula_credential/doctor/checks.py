"""What ``doctor`` checks, in order, each finding with the fix to apply.

Configuration → API server → namespace → access to Secrets → External Secrets and
Sealed Secrets status. A later check is skipped when an earlier one makes it moot
(no configuration, no server).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Final

from ..domain import ConfigurationError
from ..kubernetes.config.cluster import ClusterConfig
from .probe import ClusterProbe, Unreachable

ALL_VERBS: Final = ("get", "list", "watch", "create", "update", "patch", "delete")
READ_VERBS: Final = ("get", "list", "watch")
_SSAR: Final = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"
# (API group, resource, the condition that means healthy, what it is)
_OPERATORS: Final = (
    ("external-secrets.io", "externalsecrets", "Ready", "ExternalSecret"),
    ("bitnami.com", "sealedsecrets", "Synced", "SealedSecret"),
)


class Status(StrEnum):
    OK = "ok"
    FAIL = "fail"
    INFO = "info"  # not applicable or cannot be told; never fails the run


@dataclass(frozen=True)
class Finding:
    check: str
    status: Status
    detail: str
    fix: str | None = None


@dataclass
class Report:
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(f.status is not Status.FAIL for f in self.findings)

    def add(self, check: str, status: Status, detail: str, fix: str | None = None) -> None:
        self.findings.append(Finding(check, status, detail, fix))

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "findings": [asdict(f) for f in self.findings]}


def _service_account(target: ClusterConfig) -> str | None:
    """``ns:name`` when the token is a ServiceAccount JWT (claims read, not verified)."""
    token, token_file = target.user.token, target.user.token_file
    if token is None and token_file:
        try:
            token = Path(token_file).read_text().strip()
        except OSError:
            return None
    if not isinstance(token, str) or token.count(".") != 2:
        return None
    try:
        part = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
        subject = claims.get("sub", "")
    except (ValueError, AttributeError):
        return None
    prefix = "system:serviceaccount:"
    return subject[len(prefix) :] if subject.startswith(prefix) else None


def _grant_fix(target: ClusterConfig, missing: Sequence[str]) -> str:
    ns = target.namespace
    account = _service_account(target)
    who = f"--serviceaccount={account}" if account else "--user=<your user name>"
    return (
        f"kubectl create role nebula-credential --verb={','.join(missing)} --resource=secrets "
        f"-n {ns} && kubectl create rolebinding nebula-credential --role=nebula-credential "
        f"{who} -n {ns}  (or, limited to named credentials: nebula-credential manifests rbac "
        f"-n {ns} --credential ID --writer | kubectl apply -f -)"
    )


async def _access(probe: ClusterProbe, report: Report, needed: Sequence[str]) -> None:
    ns = probe.target.namespace
    denied: list[str] = []
    for verb in ALL_VERBS:
        review = {
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SelfSubjectAccessReview",
            "spec": {
                "resourceAttributes": {
                    "namespace": ns,
                    "verb": verb,
                    "group": "",
                    "resource": "secrets",
                }
            },
        }
        status, body = await probe.post(_SSAR, review)
        if status != 201 or not isinstance(body, dict):
            report.add(f"access {verb}", Status.FAIL, f"access review answered HTTP {status}")
            continue
        allowed = bool(body.get("status", {}).get("allowed"))
        if allowed:
            report.add(f"access {verb}", Status.OK, f"may {verb} Secrets in {ns}")
        elif verb in needed:
            denied.append(verb)
            report.add(f"access {verb}", Status.FAIL, f"may not {verb} Secrets in {ns}")
        else:
            report.add(
                f"access {verb}", Status.INFO, f"may not {verb} Secrets in {ns} (not needed)"
            )
    if denied:
        report.add(
            "access", Status.FAIL, f"missing: {', '.join(denied)}", _grant_fix(probe.target, denied)
        )


async def _operators(probe: ClusterProbe, report: Report) -> None:
    ns = probe.target.namespace
    for group, plural, condition, kind in _OPERATORS:
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
            name = item.get("metadata", {}).get("name", "?")
            conditions = {c.get("type"): c for c in item.get("status", {}).get("conditions") or []}
            state = conditions.get(condition, {})
            if state.get("status") == "True":
                report.add(f"{kind} {name}", Status.OK, f"{condition}")
                continue
            why = state.get("message") or state.get("reason") or f"no {condition} condition yet"
            report.add(
                f"{kind} {name}",
                Status.FAIL,
                f"not {condition}: {str(why)[:200]}",
                f"kubectl describe {kind.lower()} {name} -n {ns}; check the controller's logs"
                + (f" and kubectl get secretstore -n {ns}" if kind == "ExternalSecret" else ""),
            )


async def diagnose(
    load: Callable[[], ClusterConfig],
    connect: Callable[[ClusterConfig], ClusterProbe] = ClusterProbe,
    *,
    needed: Sequence[str] = ALL_VERBS,
) -> Report:
    """Run every check; ``load`` resolves the configuration (it may raise)."""
    report = Report()
    try:
        target = load()
    except ConfigurationError as exc:
        report.add(
            "configuration",
            Status.FAIL,
            str(exc),
            "set KUBECONFIG or pass --kubeconfig / --context",
        )
        return report
    where = target.source + (f", context {target.context}" if target.context else "")
    report.add("configuration", Status.OK, f"{where}, namespace {target.namespace}")
    try:
        probe = connect(target)
    except ConfigurationError as exc:
        report.add("client", Status.FAIL, str(exc))
        return report
    try:
        await _against(probe, report, needed)
    finally:
        await probe.close()
    return report


async def _against(probe: ClusterProbe, report: Report, needed: Sequence[str]) -> None:
    ns = probe.target.namespace
    try:
        status, body = await probe.get("/version")
        if status == 401:
            report.add(
                "API server",
                Status.FAIL,
                f"{probe.server} refused the credentials (HTTP 401)",
                "refresh the kubeconfig's token or certificate (e.g. log in again)",
            )
            return
        version = (body or {}).get("gitVersion", "unknown version") if status == 200 else None
        report.add(
            "API server",
            Status.OK,
            f"{probe.server} answers, Kubernetes {version or 'version hidden'}",
        )
        status, _ = await probe.get(f"/api/v1/namespaces/{ns}")
        if status == 200:
            report.add("namespace", Status.OK, f"{ns} exists")
        elif status == 404:
            report.add(
                "namespace",
                Status.FAIL,
                f"{ns} does not exist",
                f"kubectl create namespace {ns}  (or: nebula-credential manifests namespace "
                f"-n {ns} | kubectl apply -f -), or pick another with --namespace",
            )
        else:
            report.add("namespace", Status.INFO, f"cannot tell whether {ns} exists (HTTP {status})")
        await _access(probe, report, needed)
        await _operators(probe, report)
    except Unreachable as exc:
        fix = (
            f"check that the server in {probe.target.source} is up and reachable "
            f"(kubectl --context {probe.target.context or '<context>'} version)"
        )
        if exc.proxy is not None:
            fix = (
                f"check the proxy {exc.proxy} (the cluster's proxy-url, or HTTPS_PROXY / "
                "HTTP_PROXY and NO_PROXY)"
            )
        report.add("API server", Status.FAIL, f"cannot reach {probe.server}: {exc}", fix)
