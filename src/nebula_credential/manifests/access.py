"""Namespace, ServiceAccount and least-privilege RBAC for credentials.

Kubernetes RBAC matches ``resourceNames`` exactly (no wildcards), and a name cannot
restrict ``create`` (the object does not exist yet) nor ``list``/``watch`` of a
collection. So the generated Roles are split by what they can be held to:

- ``…-credential-reader`` / ``…-credential-writer``: ``get`` (and ``update``, ``patch``,
  ``delete`` for writers) on the exact Secret names the provider uses for the given ids:
  for an id that is not DNS-safe both its name and the shorter-hashed name earlier
  releases gave it, which the provider still reads, updates in place and deletes;
- ``…-credential-creator``: ``create`` on any Secret in the namespace (writers only);
- ``…-credential-lease`` (writers only): the rotation leases ``rotate`` takes, one
  ``coordination.k8s.io`` Lease per credential named exactly like its Secret: ``get``
  and ``delete`` of exactly those names, ``create`` of any Lease name in a rule of its
  own; without ids, all three on every Lease in the namespace;
- ``…-credential-lister``: ``list`` and ``watch`` of *every* Secret in the namespace,
  data included — only when asked for.

Readers get nothing on Leases.

Each Role carries a ``nebula-credential/grants`` annotation saying what it grants; the CLI
prints it as a comment above the Role.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Final

from ..domain import CredentialId
from ..kubernetes.model.naming import candidate_names, check_prefix, secret_name
from ._checks import ManifestError, dns_label, dns_subdomain

# The KubernetesSecretsProvider's default (its module loads the HTTP core; a test pins both).
DEFAULT_PREFIX: Final = "nebula-credentials"
DEFAULT_NAMESPACE: Final = "nebula-prod"
DEFAULT_SERVICE_ACCOUNT: Final = "nebula-app"
GRANTS_ANNOTATION: Final = "nebula-credential/grants"
RBAC_API: Final = "rbac.authorization.k8s.io/v1"
READER_VERBS: Final = ("get",)
WRITER_VERBS: Final = ("get", "update", "patch", "delete")
CREATE_VERBS: Final = ("create",)
LIST_VERBS: Final = ("list", "watch")
# What rotation does to a credential's Lease: read it, create it, and delete it with uid
# and resourceVersion preconditions; never update, patch, list or watch.
LEASE_GROUP: Final = "coordination.k8s.io"
LEASE_NAMED_VERBS: Final = ("get", "delete")
LEASE_VERBS: Final = ("get", "create", "delete")

Manifest = dict[str, Any]
Rule = dict[str, Any]


def _labels(app: str | None = None) -> dict[str, str]:
    labels = {"app.kubernetes.io/managed-by": "nebula-credential"}
    if app is not None:
        labels["app.kubernetes.io/part-of"] = app
    return labels


def _account(name: str, ns: str) -> Manifest:
    dns_label(ns, "namespace")
    dns_subdomain(name, "service account")
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": name, "namespace": ns, "labels": _labels()},
    }


def service_account(name: str, *, namespace: str = DEFAULT_NAMESPACE) -> Manifest:
    """A ServiceAccount for a workload to run as."""
    return _account(name, namespace)


def namespace(
    name: str = DEFAULT_NAMESPACE, *, service_account: str = DEFAULT_SERVICE_ACCOUNT
) -> list[Manifest]:
    """A Namespace and the ServiceAccount the application runs as (seed step 1.1)."""
    dns_label(name, "namespace")
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": _labels()}},
        _account(service_account, name),
    ]


def credential_secret_names(ids: Iterable[str], prefix: str = DEFAULT_PREFIX) -> list[str]:
    """Every Secret name the provider reads or writes for ``ids`` (an id that is not
    DNS-safe has two: see :func:`~..kubernetes.model.naming.candidate_names`), sorted and
    without duplicates."""
    check_prefix(prefix)
    return sorted({n for i in ids for n in candidate_names(prefix, str(CredentialId(i)))})


def lease_names(ids: Iterable[str], prefix: str = DEFAULT_PREFIX) -> list[str]:
    """The rotation Leases of ``ids``: one per credential, named like its current Secret
    name (never the legacy one), sorted and without duplicates."""
    check_prefix(prefix)
    return sorted({secret_name(prefix, str(CredentialId(i))) for i in ids})


def rule(
    verbs: Sequence[str],
    names: list[str] | None = None,
    *,
    group: str = "",
    resource: str = "secrets",
) -> Rule:
    """One RBAC rule: ``verbs`` on ``resource`` (Secrets), on exactly ``names`` if given."""
    out: Rule = {"apiGroups": [group], "resources": [resource], "verbs": list(verbs)}
    if names is not None:
        out["resourceNames"] = list(names)
    return out


def lease_rule(verbs: Sequence[str], names: list[str] | None = None) -> Rule:
    """A rule on ``coordination.k8s.io`` Leases, the rotation leases."""
    return rule(verbs, names, group=LEASE_GROUP, resource="leases")


def role(ns: str, name: str, rules: Sequence[Rule], grants: str) -> Manifest:
    """A Role whose ``grants`` annotation says, in words, what ``rules`` allow."""
    return {
        "apiVersion": RBAC_API,
        "kind": "Role",
        "metadata": {
            "name": name,
            "namespace": ns,
            "labels": _labels(),
            "annotations": {GRANTS_ANNOTATION: grants},
        },
        "rules": list(rules),
    }


def _role(
    ns: str, name: str, verbs: Sequence[str], names: list[str] | None, grants: str
) -> Manifest:
    return role(ns, name, [rule(verbs, names)], grants)


def binding(ns: str, role: str, service_account: str, sa_namespace: str) -> Manifest:
    """A RoleBinding of ``role`` (same name) to a ServiceAccount, maybe from elsewhere."""
    return {
        "apiVersion": RBAC_API,
        "kind": "RoleBinding",
        "metadata": {"name": role, "namespace": ns, "labels": _labels()},
        "subjects": [
            {"kind": "ServiceAccount", "name": service_account, "namespace": sa_namespace}
        ],
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role},
    }


def _lease_role(ns: str, name: str, names: list[str]) -> Manifest:
    if not names:
        return role(
            ns,
            name,
            [lease_rule(LEASE_VERBS)],
            f"get/create/delete of EVERY Lease in {ns}, not only rotation "
            "leases: without credential ids the names are not known",
        )
    return role(
        ns,
        name,
        [lease_rule(LEASE_NAMED_VERBS, names), lease_rule(CREATE_VERBS)],
        f"get/delete on exactly these rotation Leases (coordination.k8s.io) in {ns}: "
        f"{', '.join(names)}; and create of ANY Lease name in {ns}: Kubernetes cannot "
        "restrict create by resourceNames (the object does not exist yet)",
    )


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
    ``delete`` on them plus ``create`` in a separate Role, and a Role on their rotation
    Leases (``get``/``delete`` by name, ``create``). ``list_watch`` adds a Role for
    listing and watching, which exposes every Secret in the namespace.
    """
    dns_label(namespace, "namespace")
    dns_subdomain(service_account, "service account")
    sa_ns = dns_label(service_account_namespace or namespace, "service account namespace")
    names = credential_secret_names(credential_ids, prefix)
    if not names and not writer and not list_watch:
        raise ManifestError(
            "a reader needs at least one credential id (--credential ID) or --list-watch; "
            "resourceNames cannot name Secrets by prefix"
        )
    base = f"{service_account}-credential"
    out: list[Manifest] = []

    def add(made: Manifest) -> None:
        # Role names are path segments: a valid ServiceAccount name plus a suffix is one.
        out.append(made)
        out.append(binding(namespace, made["metadata"]["name"], service_account, sa_ns))

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
        add(_lease_role(namespace, f"{base}-lease", lease_names(credential_ids, prefix)))
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
