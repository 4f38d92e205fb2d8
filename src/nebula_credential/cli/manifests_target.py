"""Which Kubernetes version ``manifests`` generates for, and why.

``--kube-version`` when given; otherwise the version of the cluster the kubeconfig (or the
pod's ServiceAccount) names, asked with one ``GET /version`` that waits a few seconds at
most; otherwise the newest version supported. Manifests made for a newer version than
the cluster runs use API versions it does not serve (a 1.20 server has no ``batch/v1``
CronJob), so the cluster's own answer wins over a fixed default. The output says which
version was used and why (:func:`note`).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
from typing import Any, Final, NamedTuple

from .. import manifests as m
from ..domain import ConfigurationError

PROBE_TIMEOUT: Final = 3.0
MAX_ANSWER: Final = 64 * 1024
_MINOR: Final = re.compile(r"([0-9]{1,3})\+?")  # EKS and GKE say "27+"


class Target(NamedTuple):
    """The version manifests are generated for, and in words why that one."""

    version: m.KubeVersion
    why: str

    def note(self) -> str:
        return f"generated for Kubernetes {self.version} ({self.why})"


def resolve(
    given: str | None, *, context: str | None, kubeconfig: str | os.PathLike[str] | None
) -> Target:
    """``given`` (checked), else the reachable cluster's version, else the newest."""
    if given is not None:
        return Target(m.kube_version(given), "as --kube-version asked")
    asked = _cluster_version(context, kubeconfig)
    newest = m.kube_version(m.DEFAULT_KUBE_VERSION)
    if isinstance(asked, str):
        return Target(newest, f"the newest supported: {asked}; pass --kube-version to choose")
    server, minor = asked
    try:
        return Target(m.kube_version(f"1.{minor}"), f"the version of the cluster at {server}")
    except m.ManifestError:
        pass
    closest = m.kube_version(f"1.{min(max(minor, m.OLDEST_MINOR), m.NEWEST_MINOR)}")
    return Target(closest, f"the closest supported: the cluster at {server} runs 1.{minor}")


def _cluster_version(
    context: str | None, kubeconfig: str | os.PathLike[str] | None
) -> tuple[str, int] | str:
    """``(server, minor)`` of the configured cluster, or why there is none."""
    from ..kubernetes.config.cluster import load_cluster_config, shown_server

    try:
        target = load_cluster_config(context=context, kubeconfig=kubeconfig)
    except ConfigurationError:
        return "no cluster is configured"
    server = shown_server(target.cluster.server or "")
    try:
        status, body = asyncio.run(_get_version(target))
    except ConfigurationError:
        return f"the cluster at {server} could not be authenticated to"
    except OSError:
        return f"the cluster at {server} did not answer"
    minor = _minor(body) if status == 200 else None
    if minor is None:
        return f"the cluster at {server} did not say its version (HTTP {status})"
    return server, minor


async def _get_version(target: Any) -> tuple[int, Any]:
    from ..http.message import NoReply
    from ..kubernetes.api.clients import client_on
    from ..kubernetes.api.errors import Operation
    from ..kubernetes.api.requests import ApiRequest
    from ..kubernetes.api.retry import RetryPolicy

    client = client_on("blocking", target, policy=RetryPolicy(attempts=1), timeout=PROBE_TIMEOUT)
    try:
        op = Operation("get", target.namespace, "/version", "paths")
        request = ApiRequest(op, "GET", client.base + "/version", max_body=MAX_ANSWER)
        answer = await asyncio.wait_for(client.fetch(request), PROBE_TIMEOUT * 2)
    except (NoReply, TimeoutError) as exc:
        raise OSError(str(exc)) from None
    finally:
        await client.close()
    try:
        return answer.status, json.loads(answer.body)
    except ValueError:
        return answer.status, None


def _minor(body: Any) -> int | None:
    if not isinstance(body, dict) or body.get("major") != "1":
        return None
    match = _MINOR.fullmatch(str(body.get("minor", "")))
    return int(match[1]) if match else None
