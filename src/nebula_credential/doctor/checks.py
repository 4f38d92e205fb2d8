"""What ``doctor`` checks, in order, each finding with the fix to apply.

Configuration → API server → namespace → access to Secrets → External Secrets and
Sealed Secrets status. A later check is skipped when an earlier one makes it moot
(no configuration, no server).
"""

from __future__ import annotations

from collections.abc import Callable

from ..domain import ConfigurationError
from ..kubernetes.config.cluster import ClusterConfig
from .access import Wanted, check_access
from .identity import who_am_i
from .operators import check_operators
from .probe import ClusterProbe, Unreachable
from .report import Report, Status


async def diagnose(
    load: Callable[[], ClusterConfig],
    connect: Callable[[ClusterConfig], ClusterProbe] = ClusterProbe,
    *,
    wanted: Wanted | None = None,
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
        await _against(probe, report, wanted or Wanted())
    finally:
        await probe.close()
    return report


async def _against(probe: ClusterProbe, report: Report, wanted: Wanted) -> None:
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
        found = await who_am_i(probe)
        if found is None:
            report.add("identity", Status.INFO, "the API server and kubeconfig do not say")
        else:
            report.add("identity", Status.INFO, f"{found[0]} (from {found[1]})")
        await check_access(probe, report, wanted, found[0] if found else None)
        await check_operators(probe, report)
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
