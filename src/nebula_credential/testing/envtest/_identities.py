"""Limited users: a pool of static tokens, bound by RBAC to resources in one namespace."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from ._api import Requester, apply
from ._errors import ControlPlaneError

POOL_NAMESPACE: Final = "nebula-identities"
DEFAULT_VERBS: Final[tuple[str, ...]] = (
    "get",
    "list",
    "watch",
    "create",
    "update",
    "patch",
    "delete",
)
_RBAC: Final = "/apis/rbac.authorization.k8s.io/v1/namespaces"


@dataclass(frozen=True)
class Identity:
    """A limited user bound by a Role to Secrets in one namespace."""

    namespace: str
    username: str
    token: str
    groups: tuple[str, ...]
    verbs: tuple[str, ...]
    kubeconfig: Path
    name: str
    role: str | None = None


@dataclass(frozen=True)
class PoolUser:
    """One pre-provisioned token user, named like a ServiceAccount."""

    name: str
    token: str

    @property
    def username(self) -> str:
        return f"system:serviceaccount:{POOL_NAMESPACE}:{self.name}"

    @property
    def groups(self) -> tuple[str, ...]:
        return (
            "system:serviceaccounts",
            f"system:serviceaccounts:{POOL_NAMESPACE}",
            "system:authenticated",
        )


def grant(
    send: Requester,
    user: PoolUser,
    namespace: str,
    verbs: Sequence[str],
    *,
    resources: Sequence[str] = ("secrets",),
    api_group: str = "",
    wait: float = 15.0,
) -> str:
    """Bind ``user`` to a Role allowing ``verbs`` on ``resources``; return the Role name.

    Returns only once the authorizer honours the binding.
    """
    role = f"nebula-{user.name}"
    apply(
        send,
        f"{_RBAC}/{namespace}/roles",
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": {"name": role, "namespace": namespace},
            "rules": [
                {"apiGroups": [api_group], "resources": list(resources), "verbs": list(verbs)}
            ],
        },
    )
    apply(
        send,
        f"{_RBAC}/{namespace}/rolebindings",
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": role, "namespace": namespace},
            "subjects": [
                {"kind": "ServiceAccount", "name": user.name, "namespace": POOL_NAMESPACE}
            ],
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role},
        },
    )
    _wait_allowed(send, user, namespace, verbs[0], resources[0], api_group, wait)
    return role


def _wait_allowed(
    send: Requester,
    user: PoolUser,
    namespace: str,
    verb: str,
    resource: str,
    group: str,
    wait: float,
) -> None:
    review = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SubjectAccessReview",
        "spec": {
            "user": user.username,
            "groups": list(user.groups),
            "resourceAttributes": {
                "namespace": namespace,
                "verb": verb,
                "resource": resource,
                "group": group,
            },
        },
    }
    deadline = time.monotonic() + wait
    for _ in range(int(wait / 0.02) + 1):
        resp = send(
            "POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", review
        ).raise_for_status("subject access review")
        if resp.json()["status"].get("allowed"):
            return
        if time.monotonic() > deadline:
            break
        time.sleep(0.02)
    raise ControlPlaneError(
        f"RBAC binding for {user.username} in {namespace} not effective after {wait}s"
    )
