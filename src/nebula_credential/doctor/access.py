"""Access to Secrets, checked the way RBAC grants it.

RBAC can hold ``get``, ``update``, ``patch`` and ``delete`` to exact Secret names
(``resourceNames``) but not ``create``, ``list`` or ``watch``; the least-privilege Roles
of ``manifests rbac`` do exactly that. So a namespace-wide review that says "no" to
``get`` is not the end: with credential ids, each Secret name the provider touches for
them (its name and, for ids that are not DNS-safe, the name earlier releases gave it) is
reviewed on its own; without ids, a SelfSubjectRulesReview tells whether ``get`` is
granted on named Secrets. Named access needs neither ``list`` nor ``watch``: only listing
credentials and watching for changes do.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from ..kubernetes.model.naming import candidate_names
from .fixes import grant_fix
from .probe import ClusterProbe
from .report import Report, Status

ALL_VERBS: Final = ("get", "list", "watch", "create", "update", "patch", "delete")
READ_VERBS: Final = ("get", "list", "watch")
NAMED_READ: Final = ("get",)
NAMED_WRITE: Final = ("get", "update", "patch", "delete")
_SSAR: Final = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"
_RULES: Final = "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews"
_SHOWN_NAMES: Final = 5


@dataclass(frozen=True)
class Wanted:
    """What the caller means to do: write or only read, which credentials, which prefix."""

    write: bool = True
    credentials: tuple[str, ...] = ()
    prefix: str = "nebula-credentials"

    @property
    def named_verbs(self) -> tuple[str, ...]:
        return NAMED_WRITE if self.write else NAMED_READ


@dataclass
class _Gaps:
    wide: list[str]
    named: dict[str, list[str]]  # verb -> Secret names not granted

    def __bool__(self) -> bool:
        return bool(self.wide or self.named)


async def review(probe: ClusterProbe, verb: str, name: str | None = None) -> bool | int:
    """Whether the caller may ``verb`` Secrets (or the one ``name``d); the HTTP status
    when the review itself failed."""
    attributes = {
        "namespace": probe.target.namespace,
        "verb": verb,
        "group": "",
        "resource": "secrets",
    }
    if name is not None:
        attributes["name"] = name
    review = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SelfSubjectAccessReview",
        "spec": {"resourceAttributes": attributes},
    }
    status, body = await probe.post(_SSAR, review)
    if status != 201 or not isinstance(body, dict):
        return status
    return bool((body.get("status") or {}).get("allowed"))


async def named_grants(probe: ClusterProbe) -> dict[str, list[str]]:
    """Secret names granted per verb by name only (empty when the rules cannot tell)."""
    spec = {"namespace": probe.target.namespace}
    status, body = await probe.post(
        _RULES,
        {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectRulesReview", "spec": spec},
    )
    if status != 201 or not isinstance(body, dict):
        return {}
    grants: dict[str, set[str]] = {}
    for rule in (body.get("status") or {}).get("resourceRules") or []:
        if not isinstance(rule, dict) or not rule.get("resourceNames"):
            continue
        groups, resources = rule.get("apiGroups") or [], rule.get("resources") or []
        if not ({"", "*"} & set(groups) and {"secrets", "*"} & set(resources)):
            continue
        for verb in rule.get("verbs") or []:
            for target in ALL_VERBS if verb == "*" else [verb]:
                grants.setdefault(target, set()).update(map(str, rule["resourceNames"]))
    return {verb: sorted(names) for verb, names in grants.items()}


async def check_access(
    probe: ClusterProbe, report: Report, wanted: Wanted, user: str | None
) -> None:
    """A finding per verb, then one ``access`` finding with the fix when any is missing;
    ``user`` is who doctor runs as (the fix binds it), when known."""
    wide: dict[str, bool | int] = {verb: await review(probe, verb) for verb in ALL_VERBS}
    rules: dict[str, list[str]] = {}
    if not wanted.credentials and wide["get"] is False:
        rules = await named_grants(probe)
    if wanted.credentials or rules.get("get"):
        gaps = await _named(probe, report, wanted, wide, rules)
    else:
        gaps = _namespace_wide(probe, report, wanted, wide)
    if not gaps:
        return
    by_names: dict[tuple[str, ...], list[str]] = {}
    for verb, names in gaps.named.items():  # verbs missing on the same names, said once
        by_names.setdefault(tuple(names), []).append(verb)
    missing = [", ".join(gaps.wide)] if gaps.wide else []
    missing += [f"{', '.join(verbs)} on {', '.join(names)}" for names, verbs in by_names.items()]
    report.add(
        "access",
        Status.FAIL,
        f"missing: {'; '.join(missing)}",
        grant_fix(probe.target.namespace, user, gaps.wide, gaps.named, wanted),
    )


def _namespace_wide(
    probe: ClusterProbe, report: Report, wanted: Wanted, wide: dict[str, bool | int]
) -> _Gaps:
    ns = probe.target.namespace
    needed = ALL_VERBS if wanted.write else READ_VERBS
    gaps = _Gaps([], {})
    for verb, allowed in wide.items():
        if allowed is True:
            report.add(f"access {verb}", Status.OK, f"may {verb} Secrets in {ns}")
        elif allowed is not False:
            report.add(f"access {verb}", Status.FAIL, f"access review answered HTTP {allowed}")
        elif verb in needed:
            gaps.wide.append(verb)
            report.add(f"access {verb}", Status.FAIL, f"may not {verb} Secrets in {ns}")
        else:
            report.add(
                f"access {verb}", Status.INFO, f"may not {verb} Secrets in {ns} (not needed)"
            )
    return gaps


async def _named(
    probe: ClusterProbe,
    report: Report,
    wanted: Wanted,
    wide: dict[str, bool | int],
    rules: dict[str, list[str]],
) -> _Gaps:
    ns = probe.target.namespace
    names = sorted({n for cid in wanted.credentials for n in candidate_names(wanted.prefix, cid)})
    gaps = _Gaps([], {})
    for verb, allowed in wide.items():
        check = f"access {verb}"
        if allowed is True:
            report.add(check, Status.OK, f"may {verb} Secrets in {ns}")
        elif allowed is not False:
            report.add(check, Status.FAIL, f"access review answered HTTP {allowed}")
        elif verb in wanted.named_verbs and names:
            denied = [n for n in names if await review(probe, verb, n) is not True]
            if denied:
                gaps.named[verb] = denied
                report.add(check, Status.FAIL, f"may not {verb} {', '.join(denied)} in {ns}")
            else:
                report.add(check, Status.OK, _named_ok(verb, len(wanted.credentials), ns))
        elif verb in wanted.named_verbs:
            granted = rules.get(verb, [])
            if granted:
                report.add(check, Status.OK, _rules_ok(verb, granted, ns))
            else:
                gaps.named[verb] = ["the credentials' Secrets"]
                report.add(check, Status.FAIL, f"may not {verb} Secrets in {ns}, not even named")
        elif verb == "create" and wanted.write:
            gaps.wide.append(verb)
            report.add(
                check,
                Status.FAIL,
                f"may not create Secrets in {ns} (a new credential needs it; Kubernetes "
                "cannot limit create to names)",
            )
        else:
            why = _NOT_NEEDED.get(verb, "not needed")
            report.add(check, Status.INFO, f"may not {verb} Secrets in {ns} ({why})")
    return gaps


_NOT_NEEDED: Final = {
    "list": "not needed for named credentials; `list` and watching for changes need it",
    "watch": "not needed for named credentials; watching for changes needs it",
}


def _named_ok(verb: str, count: int, ns: str) -> str:
    return f"ok (named Secrets only): may {verb} the Secrets of the {count} credential(s) in {ns}"


def _rules_ok(verb: str, granted: Sequence[str], ns: str) -> str:
    shown = ", ".join(granted[:_SHOWN_NAMES]) + (", ..." if len(granted) > _SHOWN_NAMES else "")
    return (
        f"ok (named Secrets only): may {verb} {len(granted)} named Secret(s) in {ns}: {shown}; "
        "check a credential with --credential ID"
    )
