"""Namespace, ServiceAccount and least-privilege RBAC for credentials.

Kubernetes RBAC matches ``resourceNames`` exactly (no wildcards), and a name cannot
restrict ``create`` (the object does not exist yet) nor ``list``/``watch`` of a
collection. So the generated Roles are split by what they can be held to:

- ``…-credential-reader`` / ``…-credential-writer``: ``get`` (and ``update``, ``patch``,
  ``delete`` for writers) on the exact Secret names the provider writes for the given ids;
- ``…-credential-creator``: ``create`` on any Secret in the namespace (writers only);
- ``…-credential-lister``: ``list`` and ``watch`` of *every* Secret in the namespace,
  data included — only when asked for.

Each Role carries a ``nebula-credential/grants`` annotation saying what it grants; the CLI
prints it as a comment above the Role.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Final

from ..domain import CredentialId
from ..kubernetes.naming import check_prefix, secret_name
from ._checks import ManifestError, dns_label

# The KubernetesSecretsProvider's default (its module loads lightkube; a test pins both).
DEFAULT_PREFIX: Final = "nebula-credentials"
DEFAULT_NAMESPACE: Final = "nebula-prod"
DEFAULT_SERVICE_ACCOUNT: Final = "nebula-app"
GRANTS_ANNOTATION: Final = "nebula-credential/grants"
RBAC_API: Final = "rbac.authorization.k8s.io/v1"
READER_VERBS: Final = ("get",)
WRITER_VERBS: Final = ("get", "update", "patch", "delete")
CREATE_VERBS: Final = ("create",)
LIST_VERBS: Final = ("list", "watch")

Manifest = dict[str, Any]


def _labels(app: str | None = None) -> dict[str, str]:
    labels = {"app.kubernetes.io/managed-by": "nebula-credential"}
    if app is not None:
        labels["app.kubernetes.io/part-of"] = app
    return labels


def namespace(
    name: str = DEFAULT_NAMESPACE, *, service_account: str = DEFAULT_SERVICE_ACCOUNT
) -> list[Manifest]:
    """A Namespace and the ServiceAccount the application runs as (seed step 1.1)."""
    dns_label(name, "namespace")
    dns_label(service_account, "service account")
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": _labels()}},
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": service_account, "namespace": name, "labels": _labels()},
        },
    ]


def credential_secret_names(ids: Iterable[str], prefix: str = DEFAULT_PREFIX) -> list[str]:
    """The Secret names the provider writes for ``ids``, sorted and without duplicates."""
    check_prefix(prefix)
    return sorted({secret_name(prefix, str(CredentialId(i))) for i in ids})


def _role(
    ns: str, name: str, verbs: Sequence[str], names: list[str] | None, grants: str
) -> Manifest:
    rule: dict[str, Any] = {"apiGroups": [""], "resources": ["secrets"], "verbs": list(verbs)}
    if names is not None:
        rule["resourceNames"] = names
    return {
        "apiVersion": RBAC_API,
        "kind": "Role",
        "metadata": {
            "name": name,
            "namespace": ns,
            "labels": _labels(),
            "annotations": {GRANTS_ANNOTATION: grants},
        },
        "rules": [rule],
    }


def _binding(ns: str, role: str, service_account: str, sa_namespace: str) -> Manifest:
    return {
        "apiVersion": RBAC_API,
        "kind": "RoleBinding",
        "metadata": {"name": role, "namespace": ns, "labels": _labels()},
        "subjects": [
            {"kind": "ServiceAccount", "name": service_account, "namespace": sa_namespace}
        ],
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role},
    }


def rbac(
    credential_ids: Sequence[str] = (),
    *,
    namespace: str = DEFAULT_NAMESPACE,
    service_account: str = DEFAULT_SERVICE_ACCOUNT,
    service_account_namespace: str | None = None,
    writer: bool = False,
    list_watch: bool = False,
    prefix: str = DEFAULT_PREFIX,
) -> list[Manifest]:
    """Roles and RoleBindings granting ``service_account`` exactly the access it needs.

    A reader gets ``get`` on the named credentials; a writer ``get``/``update``/``patch``/
    ``delete`` on them plus ``create`` in a separate Role. ``list_watch`` adds a Role
    for listing and watching, which exposes every Secret in the namespace.
    """
    dns_label(namespace, "namespace")
    dns_label(service_account, "service account")
    sa_ns = dns_label(service_account_namespace or namespace, "service account namespace")
    names = credential_secret_names(credential_ids, prefix)
    if not names and not writer and not list_watch:
        raise ManifestError(
            "a reader needs at least one credential id (--credential ID) or --list-watch; "
            "resourceNames cannot name Secrets by prefix"
        )
    base = f"{service_account}-credential"
    out: list[Manifest] = []

    def add(role: Manifest) -> None:
        dns_label(role["metadata"]["name"], "Role name")
        out.append(role)
        out.append(_binding(namespace, role["metadata"]["name"], service_account, sa_ns))

    if names:
        verbs = WRITER_VERBS if writer else READER_VERBS
        shown = ", ".join(names)
        add(
            _role(
                namespace,
                f"{base}-{'writer' if writer else 'reader'}",
                verbs,
                names,
                f"{'/'.join(verbs)} on exactly these Secrets in {namespace}: {shown}",
            )
        )
    if writer:
        add(
            _role(
                namespace,
                f"{base}-creator",
                CREATE_VERBS,
                None,
                f"create of ANY Secret name in {namespace}: Kubernetes cannot restrict create "
                "by resourceNames (the object does not exist yet)",
            )
        )
    if list_watch:
        add(
            _role(
                namespace,
                f"{base}-lister",
                LIST_VERBS,
                None,
                f"list/watch of EVERY Secret in {namespace}, values included, not only "
                "credentials: resourceNames cannot restrict list or watch of a collection",
            )
        )
    return out
