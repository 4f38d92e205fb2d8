"""The controller's least-privilege RBAC: one Role and RoleBinding per watched namespace.

Each rule is what ``nebula-credential controller`` calls there, and nothing more:

- Secrets: ``list`` and ``watch`` (one list of our Secrets by label, then one watch
  from it). Rotating adds ``get``, ``update`` and ``patch``: the rotation reads the
  credential and writes it back with a guarded JSON Patch, or a replace naming the
  resourceVersion it read. It never creates or deletes a Secret. ``list``/``watch``
  of a collection cannot be held to names, so the controller can read every Secret of
  a namespace it watches: watch only the namespaces that need it.
- ``apps`` Deployments, StatefulSets and DaemonSets: ``list``, ``watch`` and ``patch``
  (a merge patch of the pod template's digest annotation). Never ``get``: the watch
  brings them.
- Events: ``create`` (a Warning Event on a workload with a malformed annotation, a
  missing credential or a refused patch). Never ``patch``: each Event is new.
- ``coordination.k8s.io`` Leases. In the first namespace only, the leader Lease
  ``nebula-credential-controller``: ``get`` and ``update`` (a replace naming the
  resourceVersion it read; giving it up is an update too) of exactly that name, and
  ``create``, which Kubernetes cannot restrict by ``resourceNames`` (the object does not
  exist yet), so it covers any Lease name. Rotating adds, in every watched namespace,
  ``get``, ``create`` and ``delete`` of any Lease: each credential's rotation lease,
  named like its Secret, and which credential comes due is known only at run time.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from ._checks import ManifestError, dns_label, dns_subdomain
from .access import CREATE_VERBS, LEASE_VERBS, Manifest, Rule, binding, lease_rule, role, rule

# Also the controller's default leader Lease (controller/leader.py): the layers keep
# manifests from importing it, and a test pins both. A generated controller elects on a
# Lease named like its Deployment, so two installations never share one election.
DEFAULT_CONTROLLER: Final = "nebula-credential-controller"
WATCH_SECRET_VERBS: Final = ("list", "watch")
ROTATE_SECRET_VERBS: Final = ("get", "list", "watch", "update", "patch")
WORKLOAD_VERBS: Final = ("list", "watch", "patch")
WORKLOADS: Final = ("deployments", "statefulsets", "daemonsets")
LEADER_VERBS: Final = ("get", "update")


def _rules(first: bool, rotation: bool, lease: str) -> list[Rule]:
    rules = [
        rule(ROTATE_SECRET_VERBS if rotation else WATCH_SECRET_VERBS),
        {"apiGroups": ["apps"], "resources": list(WORKLOADS), "verbs": list(WORKLOAD_VERBS)},
        rule(CREATE_VERBS, resource="events"),
    ]
    if first:
        rules.append(lease_rule(LEADER_VERBS, [lease]))
    if rotation:
        rules.append(lease_rule(LEASE_VERBS))
    elif first:
        rules.append(lease_rule(CREATE_VERBS))
    return rules


def _grants(ns: str, first: bool, rotation: bool, lease: str) -> str:
    secrets = (
        f"get/list/watch/update/patch of EVERY Secret in {ns} (the watch lists them all; a "
        "rotation rewrites whichever credential is due)"
        if rotation
        else f"list/watch of EVERY Secret in {ns}, values included (resourceNames cannot "
        "restrict list or watch)"
    )
    parts = [
        secrets + "; no create or delete of Secrets",
        f"list/watch/patch of deployments, statefulsets and daemonsets (apps) in {ns}",
        f"create of Events in {ns}",
    ]
    if first:
        parts.append(
            f"get/update of exactly the leader Lease {lease} (coordination.k8s.io) in "
            f"{ns}, and create of ANY Lease name in {ns}: Kubernetes cannot restrict create "
            "by resourceNames (the object does not exist yet)"
        )
    if rotation:
        parts.append(
            f"get/create/delete of EVERY Lease in {ns} (each credential's rotation lease, "
            "named like its Secret; which is due is known only at run time)"
        )
    return "; ".join(parts)


def controller_rbac(
    namespaces: Sequence[str],
    *,
    service_account: str = DEFAULT_CONTROLLER,
    service_account_namespace: str,
    name: str = DEFAULT_CONTROLLER,
    rotation: bool = True,
) -> list[Manifest]:
    """A Role ``name`` and its RoleBinding to ``service_account`` in each of ``namespaces``,
    granting what the controller calls there (see the module docstring); the rules of the
    leader Lease (named ``name``, like the Deployment) only in the first, where the
    controller keeps it. Without
    ``rotation`` no Secret is written and no rotation lease taken."""
    watched = list(dict.fromkeys(dns_label(ns, "watched namespace") for ns in namespaces))
    if not watched:
        raise ManifestError("the controller watches at least one namespace")
    dns_subdomain(service_account, "service account")
    sa_ns = dns_label(service_account_namespace, "service account namespace")
    dns_subdomain(name, "controller name")
    out: list[Manifest] = []
    for index, ns in enumerate(watched):
        first = index == 0
        rules, grants = _rules(first, rotation, name), _grants(ns, first, rotation, name)
        out.append(role(ns, name, rules, grants))
        out.append(binding(ns, name, service_account, sa_ns))
    return out
