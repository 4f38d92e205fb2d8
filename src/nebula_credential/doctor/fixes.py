"""The commands that grant what is missing, to the identity doctor runs as.

Named Secrets get a Role with ``resourceNames`` (what ``manifests rbac`` writes); only
what RBAC cannot hold to names (``create``, ``list``, ``watch``, or everything when no
credential was named) gets a namespace-wide Role. ``manifests rbac`` binds
ServiceAccounts, so it is offered when doctor runs as one (or cannot tell who it is).
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Final

from .identity import service_account_of, subject_flag

if TYPE_CHECKING:
    from .access import Wanted

_VERB_ORDER: Final = ("get", "list", "watch", "create", "update", "patch", "delete")
_DEFAULT_PREFIX: Final = "nebula-credentials"


def grant_fix(
    ns: str,
    user: str | None,
    wide: Sequence[str],
    named: Mapping[str, Sequence[str]],
    wanted: Wanted,
) -> str:
    """One line: ``kubectl create role … && kubectl create rolebinding …`` per Role needed,
    and the ``manifests rbac`` alternative when it can bind this identity."""
    who = subject_flag(user)
    steps: list[str] = []
    if named and wanted.credentials:
        verbs = [v for v in _VERB_ORDER if v in named]
        names = sorted({name for missing in named.values() for name in missing})
        steps.append(_role("nebula-credential-named", verbs, names, who, ns))
    if wide:
        steps.append(_role("nebula-credential", wide, (), who, ns))
    rbac = _manifests_rbac(ns, user, wanted)
    if not steps:
        return rbac or (
            "name the credentials (doctor --credential ID) for the exact Secret names to grant"
        )
    if rbac is None:
        return " && ".join(steps)
    return f"{' && '.join(steps)}  (or, limited to named credentials: {rbac})"


def _role(name: str, verbs: Sequence[str], names: Sequence[str], who: str, ns: str) -> str:
    limited = "".join(f" --resource-name={shlex.quote(n)}" for n in names)
    return (
        f"kubectl create role {name} --verb={','.join(verbs)} --resource=secrets{limited} "
        f"-n {ns} && kubectl create rolebinding {name} --role={name} {who} -n {ns}"
    )


def _manifests_rbac(ns: str, user: str | None, wanted: Wanted) -> str | None:
    account = service_account_of(user)
    if user is not None and account is None:
        return None  # a user, not a ServiceAccount: manifests rbac cannot bind it
    prefix = "" if wanted.prefix == _DEFAULT_PREFIX else f"--prefix {wanted.prefix} "
    ids = wanted.credentials or ("ID",)
    line = f"nebula-credential {prefix}manifests rbac -n {ns}"
    line += "".join(f" --credential {shlex.quote(cid)}" for cid in ids)
    if wanted.write:
        line += " --writer"
    if account is not None:
        sa_ns, sa_name = account
        line += f" --service-account {shlex.quote(sa_name)}"
        if sa_ns != ns:
            line += f" --service-account-namespace {shlex.quote(sa_ns)}"
    return line + " | kubectl apply -f -"
